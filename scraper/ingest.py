"""One target's ingestion: a scraped body in, one committed TSDB batch out.

Synchronous and free of I/O other than the TSDB, so it can be tested without
a network and run on a worker thread (``scrape_loop`` does that, so that a
slow commit or a compaction triggered by it never delays another scrape).
One :class:`TargetIngester` per target, used by one thread at a time.

Per scrape (Prometheus ``scrapeLoop.append`` + ``report``):

1. parse with :func:`parse_lines_cached` and the target's series cache
   (raw series text -> series ref, or ``DROPPED`` for series that metric
   relabeling drops). Hits cost a dict lookup and a float parse;
2. misses: exposed labels + target labels (``honor_labels`` false: target
   labels win and conflicting exposed ones become ``exported_<name>``,
   repeatedly prefixed until free; true: exposed labels win), then
   ``metric_relabel_configs``. Then, *before any series is created*:
   ``sample_limit`` against the post-relabeling count (every sample that
   relabeling keeps, duplicates and out-of-bounds ones included, as
   Prometheus's ``limitAppender`` counts; without relabel rules this is
   decided right after parsing), then each new series must have
   ``__name__``, legal names and respect ``label_limit`` /
   ``label_*_length_limit``; any failure fails the scrape with no series
   created. Only then does the TSDB create the new series (``series_ref``;
   the sample goes in the batch below);
3. vectorised over the scrape: drop relabel-dropped samples, keep the first
   of a repeated series (without explicit timestamp; the rest are counted as
   duplicates, like ``ErrDuplicateSampleForTimestamp``), apply
   ``honor_timestamps``;
4. staleness: refs scraped last time and not now get the staleness marker
   (NaN ``0x7ff0000000000002``) at this scrape's timestamp. Series with an
   explicit timestamp are not tracked unless ``track_timestamps_staleness``;
5. report series ``up``, ``scrape_duration_seconds``,
   ``scrape_samples_scraped``, ``scrape_samples_post_metric_relabeling``,
   ``scrape_series_added`` with the target's labels;
6. data + stale markers + report in one ``append_batch`` and one ``commit``.

A failed scrape (transport error, parse error, limit exceeded, bad labels)
is an empty scrape, as in Prometheus: nothing of its body is stored, every
series of the previous scrape gets a staleness marker, and ``up`` is 0.
If the TSDB no longer knows a cached ref (its series was garbage-collected),
the caches are dropped and the scrape is redone once from the same body.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from tsdb import STALE_NAN_BITS, Appender, AppendStats, InvalidSampleError, TSDBError

from .exposition import ExpositionError, Metadata, parse_lines_cached
from .exposition.parse import OPENMETRICS_MEDIA_TYPE
from .relabel import RelabelConfig, is_label_name, process

log = logging.getLogger("scraper")

STALE_NAN: float = float(np.array([STALE_NAN_BITS], dtype=np.uint64).view(np.float64)[0])
DROPPED = -1
_PENDING = -2  # a new series that survived relabeling, before its ref exists
MAX_AHEAD_MS = 10 * 60 * 1000  # Prometheus's maxAheadTime: later explicit timestamps are out of bounds
REPORT_NAMES = ("up", "scrape_duration_seconds", "scrape_samples_scraped",
                "scrape_samples_post_metric_relabeling", "scrape_series_added")
_METRIC_NAME_OK = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")

Labels = tuple[tuple[str, str], ...]


class Appendable(Protocol):
    """Where batches go: ``tsdb.DB`` or anything with the same ``appender()`` and ``series_ref()``."""

    def appender(self) -> Appender: ...

    def series_ref(self, labels: Labels) -> int: ...


@dataclass(frozen=True)
class IngestOptions:
    """The scrape-config settings that shape ingestion (see ``ScrapeConfig``)."""

    honor_labels: bool = False
    honor_timestamps: bool = True
    track_timestamps_staleness: bool = False
    sample_limit: int = 0
    label_limit: int = 0
    label_name_length_limit: int = 0
    label_value_length_limit: int = 0
    metric_relabel_configs: tuple[RelabelConfig, ...] = ()
    fallback_format: str = ""  # "text" / "openmetrics" for a missing or unknown Content-Type


@dataclass
class ScrapeResult:
    """What one scrape did; ``error`` None means healthy (``up`` 1)."""

    error: str | None = None
    samples_scraped: int = 0
    samples_post_relabel: int = 0
    series_added: int = 0
    stale_markers: int = 0
    duplicates: int = 0
    duration_s: float = 0.0
    stats: AppendStats | None = None
    metadata: dict[str, Metadata] = field(default_factory=dict)


class _Failed(Exception):
    """The body cannot be ingested: the scrape becomes an empty one with this error."""

    def __init__(self, message: str, post: int = 0):
        super().__init__(message)
        self.post = post


def choose_format(content_type: str | None, fallback: str = "") -> str:
    """``text`` or ``openmetrics`` for a Content-Type; unknown ones use ``fallback``, else text."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media == OPENMETRICS_MEDIA_TYPE:
        return "openmetrics"
    if media == "text/plain":
        return "text"
    return fallback or "text"


def mutate_sample_labels(exposed: Labels, target: Labels, honor: bool,
                         rules: tuple[RelabelConfig, ...]) -> dict[str, str] | None:
    """Prometheus ``mutateSampleLabels``: attach target labels, resolve conflicts, relabel."""
    lb = dict(exposed)
    if honor:
        for n, v in target:
            if n not in lb:
                lb[n] = v
    else:
        conflicts = [(n, lb[n]) for n, _ in target if lb.get(n)]
        lb.update(target)
        for n, v in sorted(conflicts, key=lambda c: len(c[0])):
            new = n
            while True:
                new = "exported_" + new
                if not lb.get(new):
                    lb[new] = v
                    break
    return process(lb, rules) if rules else {k: v for k, v in lb.items() if v}


class TargetIngester:
    """Caches and staleness state of one target, and the scrape -> batch pipeline."""

    def __init__(self, appendable: Appendable, target_labels: Labels, opts: IngestOptions | None = None) -> None:
        self.db = appendable
        self.target_labels = tuple(target_labels)
        self.opts = opts or IngestOptions()
        self.cache: dict[bytes, int] = {}
        self._cache_fmt = "text"
        self.prev_refs = np.zeros(0, dtype=np.int64)  # sorted, unique
        self._report_refs: np.ndarray | None = None

    # -- state handover (config reload keeps staleness tracking) ------------------------
    def adopt(self, old: TargetIngester, *, keep_cache: bool) -> None:
        """Continue where ``old`` stopped: its last series get stale markers here if they vanish."""
        self.prev_refs = old.prev_refs
        if keep_cache:
            self.cache, self._cache_fmt = old.cache, old._cache_fmt
            self._report_refs = old._report_refs

    def reset(self) -> None:
        self.cache = {}
        self.prev_refs = np.zeros(0, dtype=np.int64)
        self._report_refs = None

    # -- the pipeline ---------------------------------------------------------------------
    def ingest(self, body: bytes | None, content_type: str | None, ts_ms: int, *,
               scrape_error: str | None = None, started: float | None = None) -> ScrapeResult:
        """Ingest one scrape at ``ts_ms``; ``body`` None or ``scrape_error`` = a failed scrape.

        ``started`` is the ``time.perf_counter()`` of the scrape's start, for
        ``scrape_duration_seconds`` (measured up to the append, as Prometheus).
        """
        started = time.perf_counter() if started is None else started
        try:
            return self._ingest_once(body, content_type, ts_ms, scrape_error, started)
        except InvalidSampleError as e:  # a cached ref died (head GC): start over, once
            log.info("scrape cache of %s invalidated (%s); re-ingesting", self._who(), e)
            self.reset()
            return self._ingest_once(body, content_type, ts_ms, scrape_error, started)

    def _ingest_once(self, body, content_type, ts_ms, scrape_error, started) -> ScrapeResult:
        res = ScrapeResult(error=scrape_error)
        parts = None
        if scrape_error is None and body:
            try:
                parts = self._samples(body, content_type, ts_ms, res)
            except _Failed as f:
                res.error = str(f)
                res.samples_post_relabel, res.series_added = f.post, 0
        if parts is None:  # empty or failed scrape
            refs = np.zeros(0, dtype=np.int64)
            ts = refs
            vs = np.zeros(0, dtype=np.float64)
            cur = refs
        else:
            refs, ts, vs, cur = parts
        stale = np.setdiff1d(self.prev_refs, cur, assume_unique=True)
        res.stale_markers = len(stale)
        res.duration_s = time.perf_counter() - started
        report_refs = self._report_ref_array()
        report_vs = np.array([0.0 if res.error else 1.0, res.duration_s, res.samples_scraped,
                              res.samples_post_relabel, res.series_added], dtype=np.float64)
        all_refs = np.concatenate((refs, stale, report_refs))
        all_ts = np.concatenate((ts, np.full(len(stale) + len(report_refs), ts_ms, dtype=np.int64)))
        all_vs = np.concatenate((vs, np.full(len(stale), STALE_NAN), report_vs))
        app = self.db.appender()
        try:
            app.append_batch(all_refs, all_ts, all_vs)
        except BaseException:
            app.rollback()
            raise
        try:
            res.stats = app.commit()
        except InvalidSampleError:  # a ref died between append and commit: ingest() retries
            raise
        except (TSDBError, OSError) as e:  # nothing was stored: keep the staleness state as it was
            res.error = f"commit failed: {e}"
            log.error("scrape commit of %s failed: %s", self._who(), e)
            return res
        self.prev_refs = cur
        if parts is not None:
            self.gc_cache(res.samples_scraped)
        if res.stats.out_of_order or res.stats.duplicate or res.stats.out_of_bounds:
            log.debug("%s: rejected samples: %s", self._who(), res.stats)
        return res

    def _samples(self, body: bytes, content_type: str | None, ts_ms: int, res: ScrapeResult):
        fmt = choose_format(content_type, self.opts.fallback_format)
        if fmt != self._cache_fmt:
            self.cache, self._cache_fmt = {}, fmt
        try:
            parsed = parse_lines_cached(body, self.cache, fmt=fmt)
        except ExpositionError as e:
            raise _Failed(str(e)) from None
        res.metadata = parsed.metadata
        n = len(parsed.refs)
        res.samples_scraped = n
        refs_list = parsed.refs
        o = self.opts
        if parsed.misses:
            res.series_added = self._resolve(parsed.misses, refs_list, res)
        else:
            res.samples_post_relabel = _check_sample_limit(refs_list, o.sample_limit)
        refs = np.array(refs_list, dtype=np.int64)
        vs = parsed.values
        explicit = parsed.has_timestamp if (o.honor_timestamps and parsed.has_timestamp is not None) else None
        ts: Any = np.int64(ts_ms)
        keep = refs >= 0
        if explicit is not None:
            ts = np.where(explicit, parsed.timestamps, ts_ms)
            future = explicit & (parsed.timestamps > int(time.time() * 1000) + MAX_AHEAD_MS)
            if future.any():  # Prometheus's timeLimitAppender: out of bounds, not stored
                keep &= ~future
        if not keep.all():
            refs, vs = refs[keep], vs[keep]
            if explicit is not None:
                ts, explicit = ts[keep], explicit[keep]
        untimed = refs if explicit is None else refs[~explicit]
        cur, first = np.unique(untimed, return_index=True)
        if len(cur) < len(untimed):  # a series repeated in one scrape: first kept
            res.duplicates = len(untimed) - len(cur)
            dup = np.ones(len(untimed), dtype=bool)
            dup[first] = False
            drop = np.zeros(len(refs), dtype=bool)
            if explicit is None:
                drop = dup
            else:
                drop[np.flatnonzero(~explicit)[dup]] = True
            refs, vs = refs[~drop], vs[~drop]
            if explicit is not None:
                ts, explicit = ts[~drop], explicit[~drop]
        if explicit is not None and o.track_timestamps_staleness:
            cur = np.unique(refs)
        if explicit is None:
            ts = np.full(len(refs), ts_ms, dtype=np.int64)
        return refs, ts, vs, cur

    def _resolve(self, misses, refs_list: list, res: ScrapeResult) -> int:
        """Give each missed series its ref (or DROPPED) and cache it; returns series added.

        In three passes, so that a scrape that fails creates no series at all:
        metric relabeling of every miss (no series created), then
        ``sample_limit`` over the post-relabeling count, then the label checks
        (``label_limit`` and friends, names), and only then the series.
        ``res.samples_post_relabel`` is set on the way.
        """
        o = self.opts
        rules = o.metric_relabel_configs
        if o.sample_limit and not rules:  # nothing can be dropped: decide before relabeling anything
            for m in misses:  # only to count: dropped hits cannot exist without rules
                refs_list[m.index] = _PENDING
            _check_sample_limit(refs_list, o.sample_limit)
        local: dict[bytes, object] = {}  # key -> labels dict, or DROPPED
        kept: list = []  # (miss, labels) per new series, in order
        for m in misses:
            got = local.get(m.key) if m.key is not None else None
            if got is None:
                got = mutate_sample_labels(m.labels, self.target_labels, o.honor_labels, rules)
                if got is None:
                    got = DROPPED
                else:
                    kept.append((m, got))
                if m.key is not None:
                    local[m.key] = got
            refs_list[m.index] = DROPPED if got is DROPPED else _PENDING
        dropped = {k: DROPPED for k, v in local.items() if v is DROPPED}
        self.cache.update(dropped)  # remembered even if this scrape fails: the rules decide, not the scrape
        res.samples_post_relabel = _check_sample_limit(refs_list, o.sample_limit)
        for m, lbls in kept:
            try:
                _check_labels(lbls, m.series, o)
            except _Failed as f:  # Prometheus stops at this sample: count the ones before it
                f.post = m.index - refs_list[:m.index].count(DROPPED)
                raise
        new: dict[int, int] = {}  # id(labels) -> ref
        for _m, lbls in kept:
            new[id(lbls)] = self.db.series_ref(tuple(sorted(lbls.items())))
        for m in misses:
            got = local.get(m.key) if m.key is not None else None
            if got is None:  # key None: its own entry in ``kept``
                continue
            refs_list[m.index] = DROPPED if got is DROPPED else new[id(got)]
        for m, lbls in kept:
            refs_list[m.index] = new[id(lbls)]
        self.cache.update((k, DROPPED if v is DROPPED else new[id(v)]) for k, v in local.items())
        return len(kept)

    def _report_ref_array(self) -> np.ndarray:
        if self._report_refs is None:
            refs = [self.db.series_ref(report_labels(name, self.target_labels)) for name in REPORT_NAMES]
            self._report_refs = np.array(refs, dtype=np.int64)
        return self._report_refs

    def gc_cache(self, live_samples: int) -> None:
        """Forget cache entries not seen lately when the cache outgrew the target (Prometheus heuristic)."""
        if len(self.cache) > 2 * live_samples + 1000:
            live = set(self.prev_refs.tolist())
            self.cache = {k: r for k, r in self.cache.items() if r in live}

    def stale_all(self, ts_ms: int) -> AppendStats | None:
        """Write staleness markers for every series of the last scrape and the report series.

        Used when the target went away. Markers that arrive out of order
        (the target came back meanwhile) are rejected by the TSDB, as intended.
        """
        refs = np.concatenate((self.prev_refs, self._report_ref_array()))
        app = self.db.appender()
        app.append_batch(refs, ts_ms, np.full(len(refs), STALE_NAN))
        try:
            stats = app.commit()
        except (TSDBError, OSError) as e:
            log.warning("stale markers for %s not written: %s", self._who(), e)
            return None
        self.prev_refs = np.zeros(0, dtype=np.int64)
        return stats

    def _who(self) -> str:
        d = dict(self.target_labels)
        return f"{d.get('job', '?')}/{d.get('instance', '?')}"


def report_labels(name: str, target: Labels) -> Labels:
    """Labels of a report series: the target's labels and ``__name__`` (``mutateReportSampleLabels``)."""
    lb: dict[str, str] = {"__name__": name}
    lb.update(target)
    return tuple(sorted((k, v) for k, v in lb.items() if v))


def _check_sample_limit(refs_list: list, limit: int) -> int:
    """The post-relabeling sample count of a scrape; ``_Failed`` if it exceeds ``limit`` (0: none).

    Prometheus's ``limitAppender`` counts every sample that survives metric
    relabeling (duplicates and out-of-bounds ones too) and fails the scrape
    past ``sample_limit``.
    """
    post = len(refs_list) - refs_list.count(DROPPED)
    if limit and post > limit:
        raise _Failed("sample limit exceeded", post)
    return post


def _check_labels(lbls: Mapping[str, str], series: bytes, o: IngestOptions) -> None:
    name = lbls.get("__name__")
    if not name:
        raise _Failed("missing metric name (__name__ label)")
    if not _METRIC_NAME_OK.match(name) or not all(is_label_name(n) for n in lbls):
        shown = ", ".join(f'{k}="{v}"' for k, v in sorted(lbls.items()))
        raise _Failed(f"invalid metric name or label names: {{{shown}}}")
    met = series.decode("utf-8", "replace")[:50]
    if o.label_limit and len(lbls) > o.label_limit:
        raise _Failed(f"label_limit exceeded (metric: {met}, number of labels: {len(lbls)}, "
                      f"limit: {o.label_limit})")
    for n, v in lbls.items():
        if o.label_name_length_limit and len(n) > o.label_name_length_limit:
            raise _Failed(f"label_name_length_limit exceeded (metric: {met}, label name: {n[:50]}, "
                          f"length: {len(n)}, limit: {o.label_name_length_limit})")
        if o.label_value_length_limit and len(v) > o.label_value_length_limit:
            raise _Failed(f"label_value_length_limit exceeded (metric: {met}, label name: {n[:50]}, "
                          f'value: "{v[:50]}", length: {len(v)}, limit: {o.label_value_length_limit})')
