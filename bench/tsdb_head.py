"""Head append throughput, head memory per series, WAL replay speed.

Usage: ``python -m bench.tsdb_head [--series 100000] [--scrapes 240] [--dir DIR]``

Simulates scrapes: every batch appends one sample to each of ``--series``
series at one timestamp (15 s apart), through the public Appender
(``append_batch`` + ``commit``, WAL on, fsync per commit unless
``--wal-sync``). Reports:

* append throughput (samples/s, one thread, WAL included and excluded),
* head memory per series beyond the samples: RSS growth minus the bytes the
  samples themselves occupy (compressed chunks + raw open buffers),
* WAL replay: time to reopen the DB and samples/s replayed.

A measuring tool, never part of the unit suite; no assertions.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time

import numpy as np

import tsdb


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def first_use() -> None:
    """Open, append to and query a scratch DB once, so that memory measured afterwards is the head's.

    Nothing is compiled (the kernels are built ahead of time); this only takes
    the lazy imports and one-time allocations of a first use out of the
    per-series figures.
    """
    d = tempfile.mkdtemp(prefix="promlite-warm-")
    try:
        with tsdb.open(d, block_range_ms=1000) as db:
            app = db.appender()
            app.append_series({"__name__": "warm"}, np.arange(0, 5000, 10), np.arange(500.0))
            app.commit()
            with db.querier() as q:
                list(q.select(tsdb.Matcher.eq("__name__", "warm")))
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _wal_bytes(path: str) -> int:
    wal = os.path.join(path, "wal")
    return sum(os.path.getsize(os.path.join(wal, f)) for f in os.listdir(wal) if f.isdigit())


def measure(series: int, scrapes: int, wal_sync: str = "always", path: str | None = None,
            head_only: bool = True, replay: bool = True, progress=None) -> dict[str, float]:
    """Append ``scrapes`` batches of one sample per series; return the figures (see module doc).

    ``progress(k)``, if given, is called after each batch. Times are wall seconds
    plus process CPU seconds (``*_cpu_s``) of the append loop alone.
    """
    first_use()
    own = path is None
    path = path or tempfile.mkdtemp(prefix="promlite-bench-")
    rng = np.random.default_rng(1)
    try:
        rss0 = rss_bytes()
        t0 = time.perf_counter()
        db = tsdb.open(path, wal_sync=wal_sync, auto_compact=False)
        app = db.appender()
        refs = np.array(
            [app.append({"__name__": f"metric_{i % 500}", "instance": f"host-{i // 500}:9100", "job": "node",
                         "i": str(i)}, 0, 0.0) for i in range(series)],
            dtype=np.int64,
        )
        app.commit()
        t_create = time.perf_counter() - t0
        rss_series = rss_bytes()
        base = rng.integers(0, 10_000, series).astype(np.float64)
        t_append = cpu_append = 0.0
        for k in range(1, scrapes):
            vals = base + k * rng.integers(0, 3, series)
            t1, c1 = time.perf_counter(), time.process_time()
            app = db.appender()
            app.append_batch(refs, k * 15_000, vals)
            app.commit()
            t_append += time.perf_counter() - t1
            cpu_append += time.process_time() - c1
            if progress is not None:
                progress(k)
        nsamples = series * (scrapes - 1)
        head = db.head
        sample_bytes = head.chunks.nbytes + int(head._open_chunk_bytes(np.arange(head._nslots)).sum())
        rss_after = rss_bytes()
        db.close()
        out = {
            "series": series, "samples": nsamples, "create_s": t_create,
            "append_s": t_append, "append_cpu_s": cpu_append,
            "append_msps": nsamples / t_append / 1e6,
            "rss_after_create_per_series": (rss_series - rss0) / series,
            "head_bytes_per_series": (rss_after - rss0 - sample_bytes) / series,
            "rss_growth_per_series": (rss_after - rss0) / series,
            "sample_bytes_per_sample": sample_bytes / nsamples,
            "wal_bytes_per_sample": _wal_bytes(path) / nsamples,
        }
        if head_only:
            h = tsdb.head.Head()
            hrefs = np.array([h.create((("i", str(i)),)) for i in range(series)], dtype=np.int64)
            t_head = 0.0
            for k in range(1, scrapes):
                vals = base + k
                ts = np.full(series, k * 15_000, dtype=np.int64)
                t1 = time.perf_counter()
                h.append(hrefs, ts, vals)
                t_head += time.perf_counter() - t1
            out["head_only_msps"] = nsamples / t_head / 1e6
            del h
        if replay:
            t2 = time.perf_counter()
            db = tsdb.open(path, auto_compact=False)
            out["replay_s"] = time.perf_counter() - t2
            db.close()
            out["replay_msps"] = nsamples / out["replay_s"] / 1e6
        return out
    finally:
        if own:
            shutil.rmtree(path, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--series", type=int, default=100_000)
    ap.add_argument("--scrapes", type=int, default=240, help="batches (15 s apart)")
    ap.add_argument("--wal-sync", default="always", choices=["always", "batch", "never"])
    ap.add_argument("--dir", default=None, help="data dir (default: a temp dir, removed after)")
    args = ap.parse_args(argv)
    r = measure(args.series, args.scrapes, args.wal_sync, args.dir)
    print(f"{'figure':<48}{'value':>16}")
    rows = [
        ("series", f"{args.series:,}"),
        ("samples appended", f"{r['samples']:,}"),
        ("series creation (s)", f"{r['create_s']:.2f}"),
        (f"append via Appender+WAL (wal_sync={args.wal_sync}), M samples/s", f"{r['append_msps']:.2f}"),
        ("append into Head only, M samples/s", f"{r['head_only_msps']:.2f}"),
        ("RSS after series creation, bytes/series", f"{r['rss_after_create_per_series']:.0f}"),
        ("head bytes/series beyond the samples", f"{r['head_bytes_per_series']:.0f}"),
        ("sample bytes in head (sealed + open chunks)/sample", f"{r['sample_bytes_per_sample']:.2f}"),
        ("WAL size, bytes/sample", f"{r['wal_bytes_per_sample']:.2f}"),
        ("WAL replay (open) seconds", f"{r['replay_s']:.2f}"),
        ("WAL replay, M samples/s", f"{r['replay_msps']:.2f}"),
    ]
    for name, v in rows:
        print(f"{name:<48}{v:>16}")


if __name__ == "__main__":
    main()
