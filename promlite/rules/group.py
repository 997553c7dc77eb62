"""A rule group: its slotted schedule, one evaluation (rules in order), staleness, restore after a start.

One evaluation at slot ``ts`` (Prometheus ``Group.Eval``): each rule is
evaluated in file order; its samples are appended at ``ts - query_offset``;
series a rule returned last time but not now get a staleness marker; alerting
rules hand the instances due for a notification to ``notify``. A failing rule
is marked unhealthy with its error and the others go on.

Writes are batched: samples wait in one appender until a later rule of the
group reads a metric an earlier one wrote (or a selector whose metric name is
not fixed), and are committed then, so that a chain of rules sees its inputs
exactly as Prometheus's per-rule commits let it, with one WAL fsync per batch
rather than per rule (1,000 independent recording rules: one commit).

Synchronous on purpose: the manager runs it on a rule worker thread, the
promtool-style test runner calls it directly with a fake clock.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from tsdb import STALE_NAN_BITS
from tsdb.matchers import Matcher

from .rulefile import GroupSpec
from .rules import (
    ALERTS_FOR_STATE,
    Alert,
    AlertingRule,
    ExpandFunc,
    GroupResult,
    Labels,
    QueryFunc,
    RecordingRule,
    Rule,
    RuleError,
    rules_of,
)

log = logging.getLogger("rules")

STALE_NAN: float = float(np.array([STALE_NAN_BITS], dtype=np.uint64).view(np.float64)[0])
NotifyFunc = Callable[[AlertingRule, list[Alert]], None]


@dataclass
class EvalEnv:
    """What an evaluation needs from the outside world."""

    db: object  # tsdb.DB (appender(), querier()) -- duck-typed for tests
    query: QueryFunc
    expand: ExpandFunc | None = None
    notify: NotifyFunc | None = None
    external_labels: Labels = ()
    external_url: str = ""
    resend_delay_ms: int = 60_000
    wall_ms: Callable[[], int] = field(default=lambda: int(time.time() * 1000))


def group_key(file: str, name: str) -> str:
    """The ``rule_group`` label of Prometheus's rule metrics."""
    return f"{file};{name}"


class Group:
    """One group of a rule file, with the state its rules carry between evaluations."""

    def __init__(self, spec: GroupSpec, *, interval_ms: int, query_offset_ms: int, restored: bool = True) -> None:
        self.spec = spec
        self.name = spec.name
        self.file = spec.file
        self.key = group_key(spec.file, spec.name)
        self.interval_ms = max(int(interval_ms), 1)
        self.query_offset_ms = query_offset_ms
        self.limit = spec.limit
        self.rules: list[Rule] = rules_of(spec.rules, spec.labels, restored=restored)
        self.should_restore = not restored and any(isinstance(r, AlertingRule) for r in self.rules)
        self.series_prev: list[set[Labels]] = [set() for _ in self.rules]
        self.stale_series: list[Labels] = []  # of rules removed by a reload, marked stale at the next evaluation
        self.last_evaluation_ms = 0  # wall clock
        self.last_eval_ts = 0  # slot
        self.evaluation_seconds = 0.0
        self.last_samples = 0

    # -- schedule ------------------------------------------------------------------------------
    def offset_ms(self) -> int:
        """Where in the interval this group's slots fall: a stable hash of file and name."""
        h = int.from_bytes(hashlib.blake2b(f"{self.file}\xff{self.name}".encode(), digest_size=8).digest(), "big")
        return h % self.interval_ms

    def eval_timestamp(self, now_ms: int) -> int:
        """The slot at or before ``now_ms`` (Prometheus's ``EvalTimestamp``)."""
        off = self.offset_ms()
        adj = now_ms - off
        return adj - adj % self.interval_ms + off

    def same_as(self, other: Group) -> bool:
        """Prometheus's ``Group.Equals``: a reload keeps an unchanged group running untouched."""
        return (self.name, self.file, self.interval_ms, self.limit, self.query_offset_ms, self.spec.rules,
                self.spec.labels) == (other.name, other.file, other.interval_ms, other.limit,
                                      other.query_offset_ms, other.spec.rules, other.spec.labels)

    def copy_state(self, old: Group) -> None:
        """Carry alert instances and staleness bookkeeping over a reload (``CopyState``)."""
        self.evaluation_seconds = old.evaluation_seconds
        self.last_evaluation_ms = old.last_evaluation_ms
        by_id: dict[tuple, list[int]] = {}
        for i, r in enumerate(old.rules):
            by_id.setdefault(r.identity(), []).append(i)
        for i, r in enumerate(self.rules):
            idx = by_id.get(r.identity())
            if not idx:
                continue
            j = idx.pop(0)
            self.series_prev[i] = old.series_prev[j]
            if isinstance(r, AlertingRule) and isinstance(old.rules[j], AlertingRule):
                r.copy_state_from(old.rules[j])  # type: ignore[arg-type]
        # the series of old rules nothing took over go stale at the next evaluation
        self.stale_series = list(old.stale_series)
        for idx in by_id.values():
            for j in idx:
                self.stale_series.extend(old.series_prev[j])

    # -- one evaluation ------------------------------------------------------------------------
    def evaluate(self, ts: int, env: EvalEnv) -> GroupResult:
        """Evaluate every rule at slot ``ts`` (see the module docstring)."""
        res = GroupResult()
        t0 = time.perf_counter()
        t_write = ts - self.query_offset_ms
        app = env.db.appender()
        pending_names: set[str] = set()
        pending_any = False
        for i, rule in enumerate(self.rules):
            deps = rule.dependencies
            if pending_any and (deps is None or deps & pending_names):
                self._commit(app)
                app = env.db.appender()
                pending_names.clear()
                pending_any = False
            r0 = time.perf_counter()
            try:
                if isinstance(rule, AlertingRule):
                    samples = rule.eval(env.query, ts, self.query_offset_ms, self.limit, expand=env.expand,
                                        external_labels=env.external_labels, external_url=env.external_url)
                    if env.notify is not None:
                        due = rule.to_send(ts, env.resend_delay_ms, self.interval_ms)
                        if due:
                            env.notify(rule, due)
                else:
                    assert isinstance(rule, RecordingRule)
                    samples = rule.eval(env.query, ts, self.query_offset_ms, self.limit)
            except Exception as e:  # noqa: BLE001 - any failure is the rule's error; the group goes on
                msg = str(e) if isinstance(e, RuleError) else f"{e}" or type(e).__name__
                rule.set_result(msg, env.wall_ms(), time.perf_counter() - r0)
                res.failures += 1
                res.errors.append(f"{rule.name}: {msg}")
                log.warning("Evaluating rule failed: group=%s rule=%s err=%s", self.key, rule.name, msg)
                continue
            returned: set[Labels] = set()
            for labels, value in samples:
                app.append(labels, t_write, value)
                returned.add(labels)
            for labels in self.series_prev[i] - returned:
                app.append(labels, t_write, STALE_NAN)  # no longer produced: stale
            self.series_prev[i] = returned
            res.samples += len(samples)
            if samples or self.series_prev[i]:
                pending_any = True
            pending_names.add(rule.spec.record or "ALERTS")
            if isinstance(rule, AlertingRule):
                pending_names.add(ALERTS_FOR_STATE)
            rule.set_result("", env.wall_ms(), time.perf_counter() - r0)
        for labels in self.stale_series:
            app.append(labels, t_write, STALE_NAN)
        self.stale_series = []
        self._commit(app)
        res.seconds = time.perf_counter() - t0
        self.evaluation_seconds = res.seconds
        self.last_evaluation_ms = env.wall_ms()
        self.last_eval_ts = ts
        self.last_samples = res.samples
        return res

    def _commit(self, app) -> None:
        try:
            stats = app.commit()
        except Exception as e:  # noqa: BLE001 - a full disk fails the batch, not the server
            log.warning("Rule sample appending failed: group=%s err=%s", self.key, e)
            return
        if stats.out_of_order or stats.duplicate or stats.out_of_bounds or stats.too_old:
            # expected when another rule or a restart wrote the same series at this slot
            log.debug("rule results discarded: group=%s out_of_order=%d duplicate=%d too_old=%d", self.key,
                      stats.out_of_order, stats.duplicate, stats.out_of_bounds + stats.too_old)

    # -- restore after a start -----------------------------------------------------------------
    def restore(self, db, now_ms: int, outage_tolerance_ms: int, grace_ms: int) -> None:
        """Give pending alerts back the time they were active before the restart (``RestoreForState``)."""
        for rule in self.rules:
            if not isinstance(rule, AlertingRule):
                continue
            if rule.hold_ms < grace_ms:
                rule.restored = True  # it would fire within the grace period anyway
                continue
            matchers = [Matcher.eq("__name__", ALERTS_FOR_STATE), Matcher.eq("alertname", rule.name)]
            matchers += [Matcher.eq(k, v) for k, v in rule.labels if "{{" not in v]
            found: dict[Labels, tuple[int, float]] = {}
            try:
                with db.querier(now_ms - outage_tolerance_ms, now_ms) as q:
                    labels, arrs = q.select_arrays(*matchers)
                for i, lab in enumerate(labels):
                    t, v = arrs.series(i)
                    if len(t) == 0 or math.isnan(v[-1]):  # a stale marker: the alert was not active
                        continue
                    key = tuple((k, val) for k, val in lab if k != "__name__")
                    found[key] = (int(t[-1]), float(v[-1]))
            except Exception as e:  # noqa: BLE001 - restoring is best effort, as in Prometheus
                log.error("Failed to restore 'for' state: alertname=%s err=%s", rule.name, e)
            rule.restore(found, now_ms, grace_ms)
        self.should_restore = False
