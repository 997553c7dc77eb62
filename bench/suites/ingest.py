"""ingest: samples/s and CPU per million samples, bulk and scrape-like.

Two shapes of ingest:

* bulk import of the shared dataset's text file, end to end (parse, sort,
  compress, write): promlite's backfill vs ``promtool tsdb
  create-blocks-from openmetrics`` vs VictoriaMetrics' import API. CPU and
  peak RSS are the whole process's, from the OS (promlite's backfill runs in
  a child; promtool is reaped with ``wait4``; VictoriaMetrics is read from
  /proc). The loads are those of the ``compression`` suite, done once.
* scrape-like batches into promlite's head (``Appender.append_batch`` +
  ``commit``, WAL on, ``wal_sync="batch"`` as Prometheus does not fsync per
  commit): one batch = one sample for each of S series at one timestamp,
  for several S ("ingest CPU vs load"). Peers need a scrape target for
  this; that comparison belongs to the ``scrape`` suite.
* commit latency while head blocks are cut (``bench.commit_latency``, when
  that module is there): back-to-back scrape commits with ``wal_sync="always"``
  and a 10 min block range, so the background compactor cuts and writes
  head blocks during the commits; p50 / p99 / p99.9 / max over all commits.
  Run in a child interpreter, bounded in time.
"""

from __future__ import annotations

import importlib.util

from ..datasets import DatasetUnavailable
from ..harness import MeasureError, Stat, run_isolated
from ..tsdb_head import measure
from . import NA, SYSTEMS, Context, Row, SuiteResult
from .compression import load_all

NAME = "ingest"
TITLE = "ingest throughput and CPU"
COMMIT_LATENCY_SERIES = {True: 10_000, False: 100_000}  # quick, full


def run(ctx: Context) -> SuiteResult:
    res = SuiteResult(NAME, TITLE)
    try:
        _bulk(ctx, res)
    except DatasetUnavailable as e:  # the head-append figures below stand on their own
        res.note = f"bulk import not measured: {e}"

    loads_s = (1_000, 10_000) if ctx.quick else (1_000, 10_000, 100_000)
    batches = 10 if ctx.quick else 40
    runs = 2 if ctx.quick else ctx.runs
    task = ctx.task("head appends (series per batch)", len(loads_s) * runs)
    xs, msps, cpu_per_m = [], [], []
    for n in loads_s:
        runs_w, runs_c = [], []
        for _ in range(runs):
            r = measure(n, batches + 1, wal_sync="batch", head_only=False, replay=False)
            runs_w.append(r["append_msps"])
            runs_c.append(r["append_cpu_s"] / (r["samples"] / 1e6))
            ctx.advance(task)
        w, c = Stat(runs_w, "M samples/s"), Stat(runs_c, "CPU s / 1M samples")
        res.rows.append(Row(f"append_batch+commit, {n:,} series/batch", "M samples/s",
                            {"promlite": w, "prometheus": NA, "victoriametrics": NA}, "higher"))
        res.rows.append(Row(f"append_batch+commit CPU, {n:,} series/batch", "CPU s / 1M samples",
                            {"promlite": c, "prometheus": NA, "victoriametrics": NA}))
        xs.append(n)
        msps.append(w.median)
        cpu_per_m.append(c.median)
    ctx.done(task)
    res.plots["head_append"] = {
        "kind": "lines", "title": "promlite head ingest: CPU per million samples vs batch size (WAL on)",
        "x": xs, "xlabel": "series per batch (one scrape)", "ylabel": "CPU s / 1M samples", "logx": True,
        "series": {"promlite": cpu_per_m}}
    _commit_latency(ctx, res)
    return res


def _commit_latency(ctx: Context, res: SuiteResult) -> None:
    """p50/p99/p99.9/max commit latency while head blocks are cut (``bench.commit_latency``, if present)."""
    if importlib.util.find_spec("bench.commit_latency") is None:
        res.note = "; ".join(x for x in (res.note, "commit latency not measured: no bench/commit_latency.py") if x)
        return
    series = COMMIT_LATENCY_SERIES[ctx.quick]
    label = f"commit latency while head blocks are cut ({series:,} series/commit, wal_sync=always)"
    task = ctx.task(label, 1)
    try:
        r, _st = run_isolated("bench.commit_latency:measure", {"series": series},
                              timeout_s=180 if ctx.quick else 900)
        cells = {q: r["all"][q] for q in ("p50", "p99", "p99.9", "max")}
        d = r["during_compaction"]
        note = (f"commit latency: {r['commits']} commits, {r['blocks']} blocks cut, {d['n']} commits overlapped "
                f"a compaction (their p99.9 {d['p99.9']:.1f} ms, max {d['max']:.1f} ms)")
        res.extra["commit_latency"] = r
    except (MeasureError, KeyError, TypeError) as e:
        cells = dict.fromkeys(("p50", "p99", "p99.9", "max"), f"error: {e}"[:60])
        note = f"commit latency: {type(e).__name__}: {e}"[:300]
    finally:
        ctx.done(task)
    for q, v in cells.items():
        res.rows.append(Row(f"{label}: {q}", "ms", {"promlite": v, "prometheus": NA, "victoriametrics": NA}))
    res.note = "; ".join(x for x in (res.note, note) if x)


def _bulk(ctx: Context, res: SuiteResult) -> None:
    ds, loads = load_all(ctx, res)
    rate, cpu, rss = {}, {}, {}
    for s, ld in loads.items():
        if isinstance(ld, str):
            rate[s] = cpu[s] = rss[s] = ld
            continue
        rate[s] = ld.samples / ld.stats.wall_s / 1e6
        cpu[s] = ld.stats.cpu_s / (ld.samples / 1e6)
        rss[s] = ld.stats.peak_rss_bytes / 2**20
    res.rows += [
        Row("bulk import of the text file", "M samples/s", rate, "higher"),
        Row("bulk import CPU", "CPU s / 1M samples", cpu),
        Row("bulk import peak RSS", "MiB", rss),
    ]
    res.plots["bulk_import"] = {
        "kind": "bars", "split": True, "title": f"Bulk import of {ds.samples / 1e6:.2f} M samples (text file -> storage)",
        "ylabel": "", "groups": ["M samples/s (wall) ↑", "CPU s per 1M samples ↓"],
        "series": {s: [rate[s] if not isinstance(rate[s], str) else None,
                       cpu[s] if not isinstance(cpu[s], str) else None] for s in SYSTEMS}}
