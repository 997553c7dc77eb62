"""promlite's own metrics, under Prometheus's names, exposed at ``/metrics``.

Names are Prometheus's where a twin exists, so existing Prometheus
dashboards work on promlite: ``prometheus_tsdb_head_series``,
``prometheus_tsdb_head_samples_appended_total{type="float"}``,
``prometheus_http_request_duration_seconds{handler}``,
``prometheus_engine_query_duration_seconds{slice}``, ``process_*``,
``prometheus_build_info`` ...

Strategy: one private ``prometheus_client`` registry per server (never the
global one, so several servers in one process, as in tests, do not clash).
Request and query figures are instruments updated as things happen; storage
and scrape figures are read at collection time by a custom collector from
``DB.stats()`` and the scrape manager, so nothing is updated on the append
hot path.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    Summary,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, SummaryMetricFamily
from prometheus_client.exposition import choose_encoder

from promlite import __version__

# Prometheus's buckets for prometheus_http_request_duration_seconds
HTTP_BUCKETS = (0.1, 0.2, 0.4, 1, 3, 8, 20, 60, 120)


def _interval_summary(targets) -> SummaryMetricFamily:
    """``prometheus_target_interval_length_seconds{interval=...}``: actual scrape intervals, as Prometheus."""
    by_interval: dict[str, list] = {}
    for a in targets:
        st = a.status
        key = _duration_label(a.target.interval_ms)
        acc = by_interval.setdefault(key, [[], 0.0, 0])
        acc[0].extend(st.intervals)
        acc[1] += st.interval_sum
        acc[2] += st.interval_count
    fam = SummaryMetricFamily("prometheus_target_interval_length_seconds",
                              "Actual intervals between scrapes.", labels=["interval"])
    for key, (recent, total, count) in sorted(by_interval.items()):
        fam.add_metric([key], count_value=count, sum_value=total)
        if recent:
            qs = np.quantile(np.asarray(recent, dtype=float), QUANTILES)
            for q, v in zip(QUANTILES, qs.tolist(), strict=True):
                fam.add_sample("prometheus_target_interval_length_seconds", {"interval": key, "quantile": str(q)}, v)
    return fam


QUANTILES = (0.01, 0.05, 0.5, 0.9, 0.99)


def _duration_label(ms: int) -> str:
    """Go's ``time.Duration.String()`` (``15s``, ``1m0s``, ``1h0m0s``, ``500ms``), as Prometheus labels the metric."""
    ms = int(ms)
    if ms < 1000:
        return f"{ms}ms"
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    sec = f"{rest / 1000:g}s"
    if h:
        return f"{h}h{m}m{sec}"
    if m:
        return f"{m}m{sec}"
    return sec


class _StorageCollector:
    """Reads the DB and the scrape manager when ``/metrics`` is scraped."""

    def __init__(self, db: Callable[[], Any], manager: Callable[[], Any]) -> None:
        self.db = db
        self.manager = manager

    def collect(self):
        db = self.db()
        if db is not None:  # None while the server starts (WAL replay)
            yield from self._storage(db)
        mgr = self.manager()
        if mgr is not None:
            pools: dict[str, int] = {}
            for a in mgr.active_targets():
                pools[a.job] = pools.get(a.job, 0) + 1
            g = GaugeMetricFamily("prometheus_target_scrape_pool_targets",
                                  "Current number of targets in this scrape pool.", labels=["scrape_job"])
            for job, n in sorted(pools.items()):
                g.add_metric([job], n)
            yield g
            yield _interval_summary(mgr.active_targets())

    def _storage(self, db):
        st = db.stats()
        totals = db.head.totals
        yield GaugeMetricFamily("prometheus_tsdb_head_series", "Total number of series in the head block.",
                                value=st["head_series"])
        yield GaugeMetricFamily("prometheus_tsdb_head_chunks", "Total number of chunks in the head block.",
                                value=st["head_chunks"])
        for key, name in (("head_min_time", "prometheus_tsdb_head_min_time"),
                          ("head_max_time", "prometheus_tsdb_head_max_time")):
            if st[key] is not None:
                yield GaugeMetricFamily(name, f"{key.replace('_', ' ').capitalize()} (ms).", value=st[key])
        appended = CounterMetricFamily("prometheus_tsdb_head_samples_appended",
                                       "Total number of appended samples.", labels=["type"])
        appended.add_metric(["float"], totals.appended)
        yield appended
        for attr, name in (("out_of_order", "prometheus_tsdb_out_of_order_samples"),
                           ("duplicate", "prometheus_tsdb_duplicate_samples"),
                           ("out_of_bounds", "prometheus_tsdb_out_of_bounds_samples"),
                           ("too_old", "prometheus_tsdb_too_old_samples")):
            c = CounterMetricFamily(name, f"Total number of {attr.replace('_', ' ')} samples rejected.",
                                    labels=["type"])
            c.add_metric(["float"], getattr(totals, attr))
            yield c
        ooo = CounterMetricFamily("prometheus_tsdb_head_out_of_order_samples_appended",
                                  "Total number of appended out of order samples.", labels=["type"])
        ooo.add_metric(["float"], totals.out_of_order_appended)
        yield ooo
        yield GaugeMetricFamily("prometheus_tsdb_blocks_loaded", "Number of currently loaded data blocks.",
                                value=st["blocks"])
        yield CounterMetricFamily("prometheus_tsdb_reloads_failures",
                                  "Number of times the database failed to reloadBlocks block data from disk.",
                                  value=st["reloads_failures"])
        yield GaugeMetricFamily("promlite_tsdb_blocks_skipped",
                                "Block directories that could not be read and are not served (see the log).",
                                value=st["blocks_skipped"])
        yield GaugeMetricFamily("prometheus_tsdb_storage_blocks_bytes",
                                "The number of bytes that are currently used for local storage by all blocks.",
                                value=st["block_bytes"])
        yield GaugeMetricFamily("prometheus_tsdb_wal_storage_size_bytes", "Size of the write log directory.",
                                value=st["wal_bytes"])
        yield GaugeMetricFamily("promlite_tsdb_head_memory_bytes", "Bytes held by the head's arrays.",
                                value=st["head_memory_bytes"])


class _NotifierCollector:
    """``prometheus_notifications_*`` from the alert notifier, when there is one (it owns the figures)."""

    def __init__(self, notifier: Callable[[], Any]) -> None:
        self.notifier = notifier

    def collect(self):
        n = self.notifier()
        if n is not None:
            yield from n.collect()


class SelfMetrics:
    """The registry and the instruments the server updates."""

    def __init__(self, db: Callable[[], Any], manager: Callable[[], Any] = lambda: None,
                 notifier: Callable[[], Any] = lambda: None) -> None:
        """``db``, ``manager`` and ``notifier`` are getters: each may change (startup, reload) or be None."""
        r = self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        GCCollector(registry=r)
        r.register(_StorageCollector(db, manager))
        r.register(_NotifierCollector(notifier))
        self.http_duration = Histogram(
            "prometheus_http_request_duration_seconds", "Histogram of latencies for HTTP requests.",
            ["handler"], buckets=HTTP_BUCKETS, registry=r)
        self.http_requests = Counter(
            "prometheus_http_requests", "Counter of HTTP requests.", ["code", "handler"], registry=r)
        self.query_duration = Summary(
            "prometheus_engine_query_duration_seconds", "Query timings", ["slice"], registry=r)
        self.queries_concurrent = Gauge(
            "prometheus_engine_queries", "The current number of queries being executed or waiting.",
            registry=r)
        self.queries_concurrent_max = Gauge(
            "prometheus_engine_queries_concurrent_max", "The max number of concurrent queries.", registry=r)
        self.build_info = Gauge(
            "prometheus_build_info", "A metric with a constant '1' value labeled by version, revision, "
            "and branch from which Prometheus was built.", ["version", "revision", "branch", "goversion"],
            registry=r)
        self.build_info.labels(__version__, "promlite", "HEAD", "python").set(1)
        self.reload_success = Gauge(
            "prometheus_config_last_reload_successful", "Whether the last configuration reload attempt was "
            "successful.", registry=r)
        self.reload_time = Gauge(
            "prometheus_config_last_reload_success_timestamp_seconds",
            "Timestamp of the last successful configuration reload.", registry=r)
        self.ready = Gauge("prometheus_ready", "Whether Prometheus startup was fully completed and the "
                           "server is ready for normal operation.", registry=r)
        self.start_time = time.time()
        self.last_reload_ok = True
        self.last_reload_at: float | None = None

    def mark_reload(self, ok: bool) -> None:
        """The outcome of a (re)load of the configuration: the gauges and ``/api/v1/status/runtimeinfo`` agree."""
        self.last_reload_ok = ok
        self.reload_success.set(1 if ok else 0)
        if ok:
            self.last_reload_at = time.time()
            self.reload_time.set(self.last_reload_at)

    def expose(self, accept: str | None) -> tuple[bytes, str]:
        """Body and Content-Type for ``/metrics`` (OpenMetrics when the scraper asks for it)."""
        encoder, content_type = choose_encoder(accept or "")
        return encoder(self.registry), content_type
