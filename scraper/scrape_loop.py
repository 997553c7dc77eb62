"""The per-target scrape loop: when to scrape, and what to record about it.

Scheduling (Prometheus ``scrapeLoop.run``):

* the first scrape waits for the target's *offset*: a stable hash of the
  target's labels and URL, xor a per-server seed, modulo the interval, pinned
  to absolute time (``Target.offset``). Targets of one job spread over the
  interval, and a restart keeps each target's phase;
* then one scrape per interval on a drift-free schedule (tick ``k`` is at
  ``first + k * interval`` on the monotonic clock). A scrape that overruns
  skips the ticks it missed, like Go's ticker;
* the sample timestamp is the scheduled time when the scrape starts within
  ``min(interval / 100, 5 ms)`` of it (Prometheus's timestamp alignment,
  whose 2 ms is too tight for asyncio timers),
  which keeps delta-of-delta timestamps at zero in the chunks; otherwise the
  wall clock.

Each scrape: GET through :class:`~scraper.transport.ScrapeClient` (bounded by
``scrape_timeout``), then :meth:`TargetIngester.ingest` on a worker thread
(parse, relabel, one batch, commit), so that CPU-heavy ingestion and slow
commits never hold up the event loop and the other targets' schedules.

Stopping: :meth:`ScrapeLoop.stop` lets the scrape in flight finish, then
(unless disabled) writes *end-of-run staleness markers* in the background as
Prometheus does for a target that went away: it waits until the next scrape
would have been (the markers' timestamp), one more interval and 10 %, and
then marks every series of the last scrape and the report series stale;
if the target came back meanwhile, the markers are out of order and the TSDB
ignores them. :meth:`ScrapeLoop.cancel` (server shutdown) writes nothing.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from concurrent.futures import Executor
from dataclasses import dataclass, field
from functools import partial

from .config import ScrapeConfig
from .exposition import Metadata
from .ingest import Appendable, IngestOptions, ScrapeResult, TargetIngester
from .targets import Target
from .transport import ScrapeClient, ScrapeError, accept_header

log = logging.getLogger("scraper")

# Prometheus aligns within 2 ms (ScrapeTimestampTolerance). asyncio wakes timers up
# to 1 ms late (epoll rounds up to ms) and an ingest thread can hold the GIL for a
# few ms, so Python loops need more slack; still clamped to 1 % of the interval.
TIMESTAMP_TOLERANCE_S = 0.005


def scrape_offset(target_hash: int, interval_s: float, seed: int = 0, now_s: float | None = None) -> float:
    """Seconds until a target's first scrape, in ``(0, interval]`` (Prometheus ``Target.offset``)."""
    interval_ns = max(1, int(round(interval_s * 1e9)))
    now_ns = time.time_ns() if now_s is None else int(now_s * 1e9)
    base = interval_ns - now_ns % interval_ns
    nxt = base + (target_hash ^ seed) % interval_ns
    if nxt > interval_ns:
        nxt -= interval_ns
    return nxt / 1e9


def ingest_options(cfg: ScrapeConfig) -> IngestOptions:
    fallback = ""
    if cfg.fallback_scrape_protocol:
        fallback = "openmetrics" if cfg.fallback_scrape_protocol.startswith("OpenMetrics") else "text"
    return IngestOptions(
        honor_labels=cfg.honor_labels, honor_timestamps=cfg.honor_timestamps,
        track_timestamps_staleness=cfg.track_timestamps_staleness, sample_limit=cfg.sample_limit,
        label_limit=cfg.label_limit, label_name_length_limit=cfg.label_name_length_limit,
        label_value_length_limit=cfg.label_value_length_limit,
        metric_relabel_configs=cfg.metric_relabel_configs, fallback_format=fallback,
    )


@dataclass
class TargetStatus:
    """What ``/api/v1/targets`` shows about the last scrape of a target."""

    health: str = "unknown"  # "up", "down" or "unknown" (not scraped yet)
    last_error: str = ""
    last_scrape: float | None = None  # the scrape's timestamp, seconds since the epoch
    last_scrape_duration: float = 0.0  # seconds
    samples_scraped: int = 0
    series_added: int = 0
    metadata: dict[str, Metadata] = field(default_factory=dict)
    scrapes: int = 0
    #: actual seconds between consecutive scrapes (the last 128), their sum and count: the source of
    #: ``prometheus_target_interval_length_seconds``, which shows a loop falling behind its schedule
    intervals: deque = field(default_factory=lambda: deque(maxlen=128))
    interval_sum: float = 0.0
    interval_count: int = 0


class ScrapeLoop:
    """Scrapes one target on its schedule until stopped. Start and stop it inside the event loop."""

    def __init__(self, target: Target, cfg: ScrapeConfig, client: ScrapeClient, appendable: Appendable, *,
                 offset_seed: int = 0, executor: Executor | None = None,
                 ingester: TargetIngester | None = None) -> None:
        self.target = target
        self.cfg = cfg
        self.client = client
        self.interval_s = target.interval_ms / 1000
        self.timeout_s = target.timeout_ms / 1000
        self.url = target.url
        self.accept = accept_header(cfg.scrape_protocols)
        self.offset_seed = offset_seed
        self.executor = executor
        self.ingester = ingester or TargetIngester(appendable, target.public_labels(), ingest_options(cfg))
        self.status = TargetStatus()
        self.timestamp_tolerance_s = min(self.interval_s / 100, TIMESTAMP_TOLERANCE_S)
        self.end_of_run_staleness = True
        self.staleness_task: asyncio.Task | None = None
        self._task: asyncio.Task | None = None
        self._stop = asyncio.Event()
        self._next_ts_ms: int | None = None  # timestamp the next scrape would have had
        self._next_mono: float = 0.0

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"scrape {self.url}")

    async def stop(self) -> None:
        """Stop after the scrape in flight; end-of-run staleness then runs in ``staleness_task``."""
        self._stop.set()
        if self._task is not None:
            await asyncio.shield(self._task)

    async def cancel(self) -> None:
        """Stop at once (shutdown): abort the scrape in flight, write no staleness markers."""
        self._stop.set()
        for task in (self._task, self.staleness_task):
            if task is not None and not task.done():
                task.cancel()
        for task in (self._task, self.staleness_task):
            if task is not None:
                try:
                    await task
                except (asyncio.CancelledError, Exception):
                    pass

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    # -- schedule ------------------------------------------------------------------------
    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        if await self._sleep(scrape_offset(self.target.hash, self.interval_s, self.offset_seed)):
            return
        interval = self.interval_s
        interval_ms = self.target.interval_ms
        mono0 = loop.time()
        wall0_ms = int(time.time() * 1000)
        k = 0
        while True:
            now = loop.time()
            k = max(k, math.floor((now - mono0) / interval + 1e-9))
            lag = now - (mono0 + k * interval)
            ts_ms = wall0_ms + k * interval_ms if lag <= self.timestamp_tolerance_s else int(time.time() * 1000)
            await self.scrape_once(ts_ms)
            k += 1
            self._next_ts_ms, self._next_mono = wall0_ms + k * interval_ms, mono0 + k * interval
            if await self._sleep(self._next_mono - loop.time()):
                break
        if self.end_of_run_staleness and self.status.scrapes:
            self.staleness_task = loop.create_task(self._end_of_run(), name=f"staleness {self.url}")

    async def _sleep(self, seconds: float) -> bool:
        """Sleep, waking early if stopped; True if stopped."""
        if self._stop.is_set():
            return True
        if seconds > 0:
            try:
                async with asyncio.timeout(seconds):
                    await self._stop.wait()
            except TimeoutError:
                pass
        return self._stop.is_set()

    async def _end_of_run(self) -> None:
        loop = asyncio.get_running_loop()
        stale_ts = self._next_ts_ms
        # the next scrape time, one more interval (a recreated target has scraped by then), +10 %
        wake = self._next_mono + self.interval_s * 1.1
        await asyncio.sleep(max(0.0, wake - loop.time()))
        if not self.end_of_run_staleness or stale_ts is None:
            return
        try:
            await loop.run_in_executor(self.executor, self.ingester.stale_all, stale_ts)
        except Exception:  # noqa: BLE001 - e.g. the DB was closed meanwhile
            log.exception("writing stale markers for %s failed", self.url)

    # -- one scrape ----------------------------------------------------------------------
    async def scrape_once(self, ts_ms: int | None = None) -> ScrapeResult | None:
        """Scrape now and ingest with timestamp ``ts_ms`` (default: now). Returns None on a bug."""
        if ts_ms is None:
            ts_ms = int(time.time() * 1000)
        started = time.perf_counter()
        body = ctype = err = None
        try:
            body, ctype = await self.client.fetch(self.url, timeout_s=self.timeout_s, accept=self.accept,
                                                  body_size_limit=self.cfg.body_size_limit)
        except ScrapeError as e:
            err = str(e)
        loop = asyncio.get_running_loop()
        try:
            res = await loop.run_in_executor(
                self.executor, partial(self.ingester.ingest, body, ctype, ts_ms, scrape_error=err, started=started))
        except Exception as e:  # noqa: BLE001 - a bug or a closed DB must not kill the loop
            log.exception("ingesting scrape of %s failed", self.url)
            self._report(ts_ms, time.perf_counter() - started, f"internal error: {e}", None)
            return None
        self._report(ts_ms, res.duration_s, res.error, res)
        if res.error:
            log.debug("scrape of %s failed: %s", self.url, res.error)
        return res

    def _report(self, ts_ms: int, duration: float, error: str | None, res: ScrapeResult | None) -> None:
        st = self.status
        st.health = "down" if error else "up"
        st.last_error = error or ""
        if st.last_scrape is not None:
            gap = ts_ms / 1000 - st.last_scrape
            st.intervals.append(gap)
            st.interval_sum += gap
            st.interval_count += 1
        st.last_scrape = ts_ms / 1000
        st.last_scrape_duration = duration
        st.scrapes += 1
        if res is not None:
            st.samples_scraped = res.samples_scraped
            st.series_added = res.series_added
            if res.metadata:
                st.metadata = res.metadata
