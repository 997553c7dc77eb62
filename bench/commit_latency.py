"""Commit latency while head blocks are cut by the background compactor.

Usage: ``python -m bench.commit_latency [--series 100000] [--targets 1] [--block-range-ms 600000]
[--blocks 3] [--wal-sync always] [--scrape-every-ms 0] [--dir DIR]``

Appends scrapes 15 s apart (in sample time) of ``--series`` series with a
small block range, so that the head is cut into ``--blocks`` blocks while
commits go on. Each scrape is ``--targets`` commits (``append_batch`` +
``commit``), one per target, as many scrape loops would make them. By
default commits are issued back to back: the worst case, in which the
committing thread never leaves the CPU, the memory bus or the GIL to the
compactor. ``--scrape-every-ms`` paces the scrapes in wall time instead (the
targets' commits spread evenly over it, as Prometheus spreads scrape loops).
Reports commit latency p50 / p99 / p99.9 / max over all commits and over the
commits that overlapped a compaction, and what each block cut cost (cut and
swap under the DB lock, write without it). There is no warm-up: the kernels
are compiled ahead of time, so the first commit and the first block cut of a
fresh process count as they come.

A measuring tool, never part of the unit suite; no assertions.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import tempfile
import time

import numpy as np

import tsdb

SCRAPE_MS = 15_000


class _BlockLog(logging.Handler):
    """Collects the compactor's "wrote block" records: (cut, write, swap) seconds per block."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.blocks: list[tuple[float, float, float]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg.startswith("wrote block"):
            self.blocks.append(tuple(float(x) for x in record.args[-3:]))  # type: ignore[index]


def _labels(i: int) -> dict[str, str]:
    return {"__name__": f"bench_metric_{i % 50}_total", "instance": f"host-{i // 50:05d}:9100", "job": "bench"}


def _pct(x: np.ndarray, q: float) -> float:
    return float(np.percentile(x, q)) if len(x) else float("nan")


def _summary(lat_ms: np.ndarray) -> dict[str, float]:
    return {
        "n": len(lat_ms), "p50": _pct(lat_ms, 50), "p99": _pct(lat_ms, 99), "p99.9": _pct(lat_ms, 99.9),
        "max": float(lat_ms.max()) if len(lat_ms) else float("nan"),
    }


def measure(series: int, block_range_ms: int = 600_000, blocks: int = 3, wal_sync: str = "always",
            scrape_every_ms: float = 0.0, path: str | None = None, targets: int = 1) -> dict:
    """Run the workload (see module doc); returns latencies (ms) and per-block costs (s)."""
    own = path is None
    path = path or tempfile.mkdtemp(prefix="promlite-commit-latency-")
    handler = _BlockLog()
    logger = logging.getLogger("tsdb.compact")
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    per_block = block_range_ms // SCRAPE_MS
    scrapes = per_block * 3 // 2 + blocks * per_block + 2
    rng = np.random.default_rng(1)
    rates = rng.integers(1, 100, series).astype(np.float64)
    lat: list[float] = []
    busy: list[bool] = []
    try:
        db = tsdb.open(path, block_range_ms=block_range_ms, wal_sync=wal_sync)
        try:
            app = db.appender()
            refs = np.array([app.append(_labels(i), 0, 0.0) for i in range(series)], dtype=np.int64)
            app.commit()
            compactor = db._compactor
            bounds = np.linspace(0, series, targets + 1).astype(int)
            slot = scrape_every_ms / 1000 / targets
            t_start = time.perf_counter()
            for k in range(1, scrapes):
                vs = rates * k
                for j in range(targets):
                    if slot:
                        wait = t_start + ((k - 1) * targets + j) * slot - time.perf_counter()
                        if wait > 0:
                            time.sleep(wait)
                    a, b = bounds[j], bounds[j + 1]
                    b0 = compactor.mutex.locked()
                    t0 = time.perf_counter()
                    app = db.appender()
                    app.append_batch(refs[a:b], k * SCRAPE_MS, vs[a:b])
                    app.commit()
                    lat.append((time.perf_counter() - t0) * 1000)
                    busy.append(b0 or compactor.mutex.locked())
            elapsed = time.perf_counter() - t_start
            t0 = time.perf_counter()
            db.compact()  # wait for the last background cut
            drain = time.perf_counter() - t0
            nblocks = len(db.blocks)
        finally:
            db.close()
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
        if own:
            shutil.rmtree(path, ignore_errors=True)
    lat_ms = np.array(lat)
    during = lat_ms[np.array(busy, dtype=bool)]
    return {
        "series": series, "targets": targets, "commits": len(lat), "blocks": nblocks, "elapsed_s": elapsed,
        "drain_s": drain, "samples_per_s": series * (scrapes - 1) / elapsed,
        "all": _summary(lat_ms), "during_compaction": _summary(during), "block_costs": handler.blocks,
    }


def _fmt(name: str, s: dict[str, float]) -> str:
    return (
        f"{name:<22} n={s['n']:<5} p50 {s['p50']:7.1f} ms   p99 {s['p99']:7.1f} ms   "
        f"p99.9 {s['p99.9']:7.1f} ms   max {s['max']:7.1f} ms"
    )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--series", type=int, default=100_000)
    ap.add_argument("--targets", type=int, default=1, help="commits per scrape (scrape loops), series split evenly")
    ap.add_argument("--block-range-ms", type=int, default=600_000, help="small, so that several blocks are cut")
    ap.add_argument("--blocks", type=int, default=3, help="head blocks to cut during the run")
    ap.add_argument("--wal-sync", default="always", choices=("always", "batch", "never"))
    ap.add_argument("--scrape-every-ms", type=float, default=0.0, help="pace scrapes in wall time (0: back to back)")
    ap.add_argument("--dir", default=None, help="data directory (default: a temporary one, removed after)")
    args = ap.parse_args(argv)
    r = measure(
        args.series, args.block_range_ms, args.blocks, args.wal_sync, args.scrape_every_ms, args.dir, args.targets
    )
    pace = f"a scrape every {args.scrape_every_ms:.0f} ms" if args.scrape_every_ms else "back to back"
    print(
        f"{r['series']} series in {r['targets']} target(s), {r['commits']} commits ({pace}), "
        f"{len(r['block_costs'])} head blocks cut ({r['blocks']} blocks after merging), "
        f"{r['samples_per_s'] / 1e6:.2f} M samples/s, wal_sync={args.wal_sync}"
    )
    print(_fmt("commit latency, all", r["all"]))
    print(_fmt("  during compaction", r["during_compaction"]))
    for i, (cut, write, swap) in enumerate(r["block_costs"]):
        print(f"block {i}: cut {cut * 1000:6.1f} ms (lock)   write {write:6.2f} s (no lock)   swap {swap * 1000:6.1f} ms (lock)")
    print(f"waiting for the last compaction after the run: {r['drain_s']:.2f} s")


if __name__ == "__main__":
    main()
