"""The rule manager: loads ``rule_files``, runs every group on its schedule, reloads, reports.

Scheduling (Prometheus ``Group.run``): a group's evaluations fall on slots
``k * interval + offset`` of the wall clock (the offset a stable hash of file
and name, so that groups spread over the interval and keep their phase across
restarts). The first evaluation is at the first slot after the start; a slot
missed because the previous evaluation overran is skipped and counted in
``prometheus_rule_group_iterations_missed_total``.

Threads: the schedule lives on the event loop; every evaluation runs on the
manager's own small pool of rule workers (``RULE_WORKERS``), never on the loop
and never on the scrape pool, so a slow group delays other groups at worst,
never a scrape. Queries of rules go through the server's engine like any
query, bounded by ``--query.timeout`` and ``--query.max-samples``.

Reload (SIGHUP, ``/-/reload``): rule files are parsed first; any error keeps
every running group as it is and is raised (one message per problem). An
unchanged group keeps running untouched; a changed one takes over the alert
state of its rules (matched by name and labels) and starts at its next slot;
the series of rules that are gone are marked stale at the new group's first
evaluation.

After a start, alerting rules do not write ``ALERTS`` until their state is
restored from ``ALERTS_FOR_STATE`` (at the second evaluation, as Prometheus
does, so that recording rules they read have caught up), honouring
``--rules.alert.for-outage-tolerance`` and ``--rules.alert.for-grace-period``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from .group import EvalEnv, Group, group_key
from .rulefile import GroupSpec, RuleFileError, load_rule_files
from .rules import Alert, AlertingRule, ExpandFunc, Labels, QueryFunc, RuleError

log = logging.getLogger("rules")

RULE_WORKERS = 2


def _wall_ms() -> int:
    return int(time.time() * 1000)


def engine_query(engine) -> QueryFunc:
    """A rule's query through ``query.engine.Engine``: an instant vector, or a scalar as one unlabelled sample."""

    def query(expr: str, t_ms: int) -> list[tuple[Labels, float]]:
        res = engine.instant(expr, t_ms)
        kind = type(res).__name__
        if kind == "InstantVector":
            return list(zip(res.labels, res.values.tolist(), strict=True))
        if kind == "Scalar":
            return [((), float(res.value))]
        raise RuleError("rule result is not a vector or scalar")

    return query


@dataclass
class ManagerOptions:
    """Prometheus's ``--rules.*`` flags and what the groups need from the server."""

    evaluation_interval_ms: int = 60_000
    rule_query_offset_ms: int = 0
    outage_tolerance_ms: int = 3_600_000
    grace_period_ms: int = 600_000
    resend_delay_ms: int = 60_000
    external_labels: Labels = ()
    external_url: str = ""


@dataclass
class _GroupStats:
    evaluations: int = 0
    failures: int = 0
    iterations: int = 0
    missed: int = 0
    restore_seconds: float = 0.0


class RuleManager:
    """Runs the groups of the configured rule files (see the module docstring)."""

    def __init__(self, db, query: QueryFunc, *, expand: ExpandFunc | None = None,
                 notify: Callable[[AlertingRule, list[Alert], str], None] | None = None,
                 check_template: Callable[[str, str], str | None] | None = None) -> None:
        self.db = db
        self.query = query
        self.expand = expand
        self.notify = notify
        self.check_template = check_template
        self.options = ManagerOptions()
        self.groups: dict[str, Group] = {}
        self.stats: dict[str, _GroupStats] = {}
        self._tasks: dict[str, asyncio.Task] = {}
        self._executor = ThreadPoolExecutor(RULE_WORKERS, thread_name_prefix="rules")
        self._restored_once = False  # the first load restores 'for' state; later loads do not
        self.last_reload_ok = True
        self.eval_seconds: list[float] = []  # recent rule evaluation durations (for the summary)

    # -- loading -------------------------------------------------------------------------------
    def _build(self, patterns: tuple[str, ...], opts: ManagerOptions) -> dict[str, Group]:
        specs: list[GroupSpec] = load_rule_files(patterns, self.check_template)
        out: dict[str, Group] = {}
        for spec in specs:
            g = Group(spec, interval_ms=spec.interval_ms or opts.evaluation_interval_ms,
                      query_offset_ms=spec.query_offset_ms if spec.query_offset_ms is not None
                      else opts.rule_query_offset_ms, restored=self._restored_once)
            out[g.key] = g
        return out

    async def update(self, patterns: tuple[str, ...], opts: ManagerOptions) -> None:
        """Apply ``rule_files``; on :class:`RuleFileError` the running groups stay and it is raised."""
        try:
            new = await asyncio.get_running_loop().run_in_executor(self._executor, self._build, patterns, opts)
        except RuleFileError:
            self.last_reload_ok = False
            raise
        self.options = opts
        self._restored_once = True
        old = self.groups
        for key, g in list(old.items()):
            ng = new.get(key)
            if ng is not None and ng.same_as(g):
                new[key] = g  # unchanged: keeps running as it is
                continue
            await self._stop_group(key)
            if ng is not None:
                ng.copy_state(g)
            else:
                # a group that is gone: its series go stale 2 intervals later, unless renamed rules took them
                self._stale_later(g)
        self.groups = new
        for key, g in new.items():
            self.stats.setdefault(key, _GroupStats())
            if key not in self._tasks:
                self._tasks[key] = asyncio.get_running_loop().create_task(self._run(g), name=f"rules {key}")
        for key in list(self.stats):
            if key not in new:
                del self.stats[key]
        self.last_reload_ok = True
        log.info("rules loaded: %d groups, %d rules", len(new), sum(len(g.rules) for g in new.values()))

    def _stale_later(self, g: Group) -> None:
        series = [s for prev in g.series_prev for s in prev]
        if not series:
            return

        async def mark() -> None:
            await asyncio.sleep(2 * g.interval_ms / 1000)
            t = _wall_ms() - g.query_offset_ms

            def write() -> None:
                from .group import STALE_NAN

                app = self.db.appender()
                for labels in series:
                    app.append(labels, t, STALE_NAN)
                try:
                    app.commit()
                except Exception as e:  # noqa: BLE001
                    log.warning("stale markers for removed rule group %s failed: %s", g.key, e)

            await asyncio.get_running_loop().run_in_executor(self._executor, write)

        asyncio.get_running_loop().create_task(mark(), name=f"rules stale {g.key}")

    async def _stop_group(self, key: str) -> None:
        task = self._tasks.pop(key, None)
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    async def stop(self) -> None:
        for key in list(self._tasks):
            await self._stop_group(key)
        await asyncio.get_running_loop().run_in_executor(None, self._executor.shutdown, True)

    # -- running -------------------------------------------------------------------------------
    def _env(self) -> EvalEnv:
        o = self.options
        notify = None
        if self.notify is not None:
            n = self.notify

            def notify(rule: AlertingRule, alerts: list[Alert]) -> None:
                n(rule, alerts, o.external_url)

        return EvalEnv(db=self.db, query=self.query, expand=self.expand, notify=notify,
                       external_labels=o.external_labels, external_url=o.external_url,
                       resend_delay_ms=o.resend_delay_ms)

    async def _evaluate(self, g: Group, ts: int) -> None:
        st = self.stats[g.key]
        res = await asyncio.get_running_loop().run_in_executor(self._executor, g.evaluate, ts, self._env())
        st.evaluations += len(g.rules)  # counted once done, as the rules it reports on are
        st.failures += res.failures
        st.iterations += 1
        self.eval_seconds.append(res.seconds)
        del self.eval_seconds[:-1000]

    async def _sleep_until(self, ts: int) -> None:
        delay = (ts - _wall_ms()) / 1000
        if delay > 0:
            await asyncio.sleep(delay)

    async def _next_slot(self, g: Group, ts: int) -> int:
        nxt = ts + g.interval_ms
        await self._sleep_until(nxt)
        missed = (_wall_ms() - nxt) // g.interval_ms
        if missed > 0:
            st = self.stats[g.key]
            st.missed += missed
            st.iterations += missed
            nxt += missed * g.interval_ms
            log.warning("rule group %s missed %d iterations: its evaluation took %.3fs, interval %.3fs",
                        g.key, missed, g.evaluation_seconds, g.interval_ms / 1000)
        return nxt

    async def _run(self, g: Group) -> None:
        try:
            ts = g.eval_timestamp(_wall_ms()) + g.interval_ms
            await self._sleep_until(ts)
            await self._evaluate(g, ts)
            if g.should_restore:
                ts = await self._next_slot(g, ts)
                await self._evaluate(g, ts)
                t0 = time.perf_counter()
                o = self.options
                await asyncio.get_running_loop().run_in_executor(
                    self._executor, g.restore, self.db, _wall_ms(), o.outage_tolerance_ms, o.grace_period_ms)
                self.stats[g.key].restore_seconds = time.perf_counter() - t0
            while True:
                ts = await self._next_slot(g, ts)
                await self._evaluate(g, ts)
        except asyncio.CancelledError:
            raise
        except Exception:  # a bug: log it, the other groups go on
            log.exception("rule group %s stopped", g.key)

    # -- reading -------------------------------------------------------------------------------
    def rule_groups(self) -> list[Group]:
        return sorted(self.groups.values(), key=lambda g: (g.file, g.name))

    def alerting_rules(self) -> list[AlertingRule]:
        return [r for g in self.rule_groups() for r in g.rules if isinstance(r, AlertingRule)]


__all__ = ["ManagerOptions", "RuleManager", "engine_query", "group_key"]
