"""The ScrapeManager: every job's targets and scrape loops, reloads, and target state.

Lifecycle (all coroutines run on the server's event loop; uvloop or not)::

    mgr = ScrapeManager(db, load_config_file("prometheus.yml"))
    await mgr.start()                      # discover targets, start loops
    await mgr.reload(load_config_file(p))  # SIGHUP / POST /-/reload
    mgr.api_targets()                      # data of GET /api/v1/targets
    await mgr.stop()                       # shutdown: no staleness markers

``db`` is anything with ``appender()`` (``tsdb.DB``). Ingestion runs on a
small thread pool owned by the manager (``ingest_workers``); the event loop
only does HTTP and scheduling.

Reload is two-phase: first everything that can fail is prepared (HTTP
clients with their TLS files, target lists); if anything fails a
:class:`ReloadError` is raised and the running configuration is untouched.
Then, per job: an unchanged job keeps its loops; a removed job's loops stop
with end-of-run staleness markers; a changed job gets new loops, and a
target present before and after hands its state to its new loop (after the
old loop's scrape in flight finished), so series it no longer produces get
staleness markers at the next scrape and the series cache survives when the
labelling settings did not change.

Discovery: ``static_configs`` once per (re)load; ``file_sd_configs`` files
are polled every ``file_sd_poll_interval`` seconds (and at least every
``refresh_interval``); a change resyncs the job's loops: new targets start,
vanished ones stop with end-of-run staleness, others continue.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ._yaml import ConfigError
from .config import Config, ScrapeConfig, load_config_file
from .durations import format_duration
from .file_sd import FileSD
from .ingest import Appendable
from .scrape_loop import ScrapeLoop, TargetStatus
from .targets import Labels, Target, offset_seed, static_groups, targets_from_group
from .transport import USER_AGENT, ScrapeClient

log = logging.getLogger("scraper")


class ReloadError(Exception):
    """A configuration could not be applied; the previous one keeps running."""


@dataclass(frozen=True)
class ActiveTarget:
    """A target being scraped, with its live status (the object the loop updates)."""

    job: str
    target: Target
    status: TargetStatus


@dataclass
class _Job:
    cfg: ScrapeConfig
    client: ScrapeClient
    file_sds: list[FileSD]
    loops: dict[int, ScrapeLoop] = field(default_factory=dict)
    dropped: list[Labels] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    poll_task: asyncio.Task | None = None

    def discover(self) -> list[Target]:
        """Current targets (deduplicated by identity) and, as side effects, dropped ones and errors."""
        groups = static_groups(self.cfg.job_name, self.cfg.static_configs)
        for fsd in self.file_sds:
            groups.extend(fsd.groups())
        seen: dict[int, Target] = {}
        self.dropped, self.errors = [], []
        for g in groups:
            res = targets_from_group(g, self.cfg)
            for t in res.active:
                seen.setdefault(t.hash, t)
            self.dropped.extend(res.dropped)
            self.errors.extend(res.errors)
        for e in self.errors:
            log.warning("job %s: %s", self.cfg.job_name, e)
        return list(seen.values())


def _same_labelling(a: ScrapeConfig, b: ScrapeConfig) -> bool:
    """Whether a target's series cache stays valid from config ``a`` to ``b``."""
    keys = ("honor_labels", "metric_relabel_configs", "label_limit", "label_name_length_limit",
            "label_value_length_limit", "fallback_scrape_protocol")
    return all(getattr(a, k) == getattr(b, k) for k in keys)


class ScrapeManager:
    """Owns the scrape loops of all jobs. Not thread-safe: use it from the event loop."""

    def __init__(self, appendable: Appendable, config: Config | None = None, *, ingest_workers: int = 2,
                 file_sd_poll_interval: float = 5.0, user_agent: str = USER_AGENT) -> None:
        self.db = appendable
        self.config = config or Config()
        self.file_sd_poll_interval = file_sd_poll_interval
        self.user_agent = user_agent
        self.last_reload_success: bool | None = None
        self.last_reload_time: float | None = None
        self._executor = ThreadPoolExecutor(max_workers=ingest_workers, thread_name_prefix="scrape-ingest")
        self._jobs: dict[str, _Job] = {}
        self._lock = asyncio.Lock()
        self._started = False
        self._seed = offset_seed(self.config.global_config.external_labels)
        self._background: set[asyncio.Task] = set()

    # -- lifecycle -----------------------------------------------------------------------
    async def start(self) -> None:
        """Start scraping the current configuration. Raises :class:`ReloadError` if it cannot."""
        self._started = True
        await self.reload(self.config)

    async def reload(self, config: Config) -> None:
        """Apply ``config``; on :class:`ReloadError` the running configuration is unchanged."""
        if not self._started:
            self.config = config
            return
        async with self._lock:
            try:
                prepared = self._prepare(config)
            except ReloadError:
                self._mark_reload(False)
                raise
            await self._apply(config, prepared)
            self._mark_reload(True)

    async def reload_file(self, path: str) -> None:
        """Load ``path`` and apply it; a :class:`ConfigError` or :class:`ReloadError` keeps the old config."""
        try:
            cfg = load_config_file(path)
        except ConfigError:
            self._mark_reload(False)
            raise
        await self.reload(cfg)

    async def stop(self) -> None:
        """Shut down: stop every loop at once (no staleness markers), close clients and workers."""
        async with self._lock:
            jobs, self._jobs = self._jobs, {}
            for job in jobs.values():
                if job.poll_task is not None:
                    job.poll_task.cancel()
            loops = [lp for job in jobs.values() for lp in job.loops.values()]
            await asyncio.gather(*(lp.cancel() for lp in loops))
            for t in list(self._background):
                t.cancel()
            await asyncio.gather(*self._background, return_exceptions=True)
            await asyncio.gather(*(job.client.close() for job in jobs.values()))
            self._started = False
        await asyncio.to_thread(self._executor.shutdown, wait=True)

    def _mark_reload(self, ok: bool) -> None:
        self.last_reload_success = ok
        self.last_reload_time = dt.datetime.now(dt.UTC).timestamp()

    # -- reload --------------------------------------------------------------------------
    def _prepare(self, config: Config) -> dict[str, _Job]:
        """New job objects for added or changed jobs; nothing running is touched."""
        prepared: dict[str, _Job] = {}
        try:
            for cfg in config.scrape_configs:
                old = self._jobs.get(cfg.job_name)
                if old is not None and old.cfg == cfg:
                    continue
                client = ScrapeClient(cfg.http, enable_compression=cfg.enable_compression,
                                      user_agent=self.user_agent)
                prepared[cfg.job_name] = job = _Job(cfg, client, [FileSD(f.files) for f in cfg.file_sd_configs])
                if client.tls_error is not None:
                    raise ReloadError(f'job "{cfg.job_name}": {client.tls_error}')
                for fsd in job.file_sds:
                    fsd.refresh()
        except BaseException:
            for job in prepared.values():
                self._spawn(job.client.close())
            raise
        return prepared

    async def _apply(self, config: Config, prepared: dict[str, _Job]) -> None:
        self.config = config
        self._seed = offset_seed(config.global_config.external_labels)
        names = {c.job_name for c in config.scrape_configs}
        for name in [n for n in self._jobs if n not in names]:
            job = self._jobs.pop(name)
            await self._retire(job, list(job.loops.values()), staleness=True)
        for name, new in prepared.items():
            old = self._jobs.get(name)
            self._jobs[name] = new
            await self._sync(new, old)
            if old is not None:
                await self._retire(old, [], staleness=True)
        for job in self._jobs.values():
            if job.file_sds and job.poll_task is None:
                job.poll_task = asyncio.get_running_loop().create_task(self._poll(job), name=f"file_sd {job.cfg.job_name}")

    async def _retire(self, job: _Job, loops: list[ScrapeLoop], *, staleness: bool) -> None:
        if job.poll_task is not None:
            job.poll_task.cancel()
            job.poll_task = None
        for lp in loops:
            lp.end_of_run_staleness = staleness
        await asyncio.gather(*(lp.stop() for lp in loops))
        for lp in loops:
            if lp.staleness_task is not None:
                self._track(lp.staleness_task)
        self._spawn(job.client.close())

    async def _sync(self, job: _Job, old: _Job | None = None) -> None:
        """Make ``job``'s loops match its discovered targets; take over ``old``'s loops if given."""
        targets = job.discover()
        source = old.loops if old is not None else job.loops
        wanted = {t.hash: t for t in targets}
        gone = [lp for h, lp in source.items() if h not in wanted]
        for lp in gone:
            lp.end_of_run_staleness = True
        stops = [lp.stop() for lp in gone]
        handover: list[tuple[ScrapeLoop, ScrapeLoop]] = []
        loops: dict[int, ScrapeLoop] = {}
        for h, t in wanted.items():
            prev = source.get(h)
            if prev is not None and old is None:
                prev.target = t  # same identity; discovered labels may have changed
                loops[h] = prev  # same target, same config: keep it running
                continue
            lp = ScrapeLoop(t, job.cfg, job.client, self.db, offset_seed=self._seed, executor=self._executor)
            loops[h] = lp
            if prev is not None:
                prev.end_of_run_staleness = False
                handover.append((prev, lp))
            else:
                lp.start()
        job.loops = loops
        await asyncio.gather(*stops, *(self._hand_over(a, b, job.cfg) for a, b in handover))
        for lp in gone:
            if lp.staleness_task is not None:
                self._track(lp.staleness_task)
        if old is not None:
            old.loops = {}

    async def _hand_over(self, old: ScrapeLoop, new: ScrapeLoop, cfg: ScrapeConfig) -> None:
        await old.stop()
        new.ingester.adopt(old.ingester, keep_cache=_same_labelling(old.cfg, cfg))
        new.status = old.status
        new.start()

    async def _poll(self, job: _Job) -> None:
        interval = min([self.file_sd_poll_interval] + [f.refresh_interval / 1000 for f in job.cfg.file_sd_configs])
        while True:
            await asyncio.sleep(interval)
            changed = False
            for fsd in job.file_sds:
                changed |= fsd.refresh()
            if not changed:
                continue
            try:
                async with self._lock:
                    if self._jobs.get(job.cfg.job_name) is job:
                        await self._sync(job)
            except Exception:  # noqa: BLE001 - keep polling; the next change retries
                log.exception("job %s: applying file_sd changes failed", job.cfg.job_name)

    def _spawn(self, coro) -> None:
        self._track(asyncio.get_running_loop().create_task(coro))

    def _track(self, task: asyncio.Task) -> None:
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- state for the API ---------------------------------------------------------------------
    def active_targets(self) -> list[ActiveTarget]:
        """Every target being scraped, ordered by job then URL."""
        out = [ActiveTarget(name, lp.target, lp.status)
               for name, job in self._jobs.items() for lp in job.loops.values()]
        return sorted(out, key=lambda a: (a.job, a.target.url))

    def dropped_targets(self) -> dict[str, list[Labels]]:
        """Per job, the discovered label sets that ``relabel_configs`` dropped."""
        return {name: list(job.dropped) for name, job in self._jobs.items()}

    def target_errors(self) -> dict[str, list[str]]:
        """Per job, unreadable SD files and discovered targets that could not be built."""
        out = {}
        for name, job in self._jobs.items():
            errs = [e for fsd in job.file_sds for e in fsd.errors.values()] + job.errors
            if errs:
                out[name] = errs
        return out

    def api_targets(self, state: str = "any", scrape_pool: str | None = None) -> dict[str, Any]:
        """The ``data`` object of Prometheus's ``GET /api/v1/targets`` (``state``: any/active/dropped)."""
        data: dict[str, Any] = {"activeTargets": [], "droppedTargets": [], "droppedTargetCounts": {}}
        for name, job in self._jobs.items():
            if scrape_pool is not None and name != scrape_pool:
                continue
            data["droppedTargetCounts"][name] = len(job.dropped)
            if state in ("any", "dropped"):
                data["droppedTargets"].extend(
                    {"discoveredLabels": dict(d), "scrapePool": name} for d in job.dropped)
        if state in ("any", "active"):
            for a in self.active_targets():
                if scrape_pool is not None and a.job != scrape_pool:
                    continue
                st = a.status
                data["activeTargets"].append({
                    "discoveredLabels": dict(a.target.discovered_labels),
                    "labels": dict(a.target.public_labels()),
                    "scrapePool": a.job,
                    "scrapeUrl": a.target.url,
                    "globalUrl": a.target.url,
                    "lastError": st.last_error,
                    "lastScrape": _rfc3339(st.last_scrape),
                    "lastScrapeDuration": st.last_scrape_duration,
                    "health": st.health,
                    "scrapeInterval": format_duration(a.target.interval_ms),
                    "scrapeTimeout": format_duration(a.target.timeout_ms),
                })
        return data


def _rfc3339(ts: float | None) -> str:
    if ts is None:
        return "0001-01-01T00:00:00Z"
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat().replace("+00:00", "Z")
