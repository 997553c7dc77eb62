"""WAL throughput: log (per sync mode) and replay, in samples/s.

Writes N commits of one scrape-like batch each (``--series`` samples at one
timestamp, a 15 s step, random-walk gauge values), like the head does after a
scrape, then replays and decodes everything. Prints one row per measurement.

    python bench/wal.py --records 200 --series 10000
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time

import numpy as np

from tsdb.wal import WAL, decode_record, encode_samples, encode_series
from tsdb.wal.records import SamplesRecord

SYNC_MODES = ("always", "batch", "never")


def make_batches(n_records: int, n_series: int, seed: int) -> list[tuple[np.ndarray, int, np.ndarray]]:
    rng = np.random.default_rng(seed)
    refs = np.arange(n_series, dtype=np.int64)
    t0 = 1_700_000_000_000
    values = np.round(rng.uniform(0, 100, n_series), 2)
    out = []
    for i in range(n_records):
        values = np.round(values + rng.normal(0, 1, n_series), 2)
        out.append((refs, t0 + 15_000 * i, values.copy()))
    return out


def bench_log(path: str, mode: str, batches, n_series: int, segment_size: int) -> tuple[float, int]:
    """Seconds to encode+log every batch (first commit also logs the series)."""
    shutil.rmtree(path, ignore_errors=True)
    labels = [(("__name__", "bench_metric"), ("instance", f"host-{i}")) for i in range(n_series)]
    w = WAL.open(path, segment_size=segment_size, sync=mode, sync_interval_ms=100)
    start = time.perf_counter()
    w.log(encode_series(batches[0][0], labels))
    for refs, t, vs in batches:
        w.log(encode_samples(refs, np.full(len(refs), t, dtype=np.int64), vs))
        w.sync()
    w.close()
    elapsed = time.perf_counter() - start
    with WAL.open(path) as w:
        size = w.size_bytes()
    return elapsed, size


def bench_replay(path: str) -> tuple[float, float, int]:
    """Seconds to read+CRC-check all records, and to also decode them; samples seen."""
    with WAL.open(path) as w:
        start = time.perf_counter()
        for _ in w.replay():
            pass
        read_s = time.perf_counter() - start
        start = time.perf_counter()
        n = 0
        for _, payload in w.replay():
            rec = decode_record(payload)
            if isinstance(rec, SamplesRecord):
                n += len(rec.refs)
        decode_s = time.perf_counter() - start
    return read_s, decode_s, n


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--records", type=int, default=200, help="commits (one samples record each)")
    p.add_argument("--series", type=int, default=10_000, help="samples per commit")
    p.add_argument("--segment-size", type=int, default=128 * 2**20)
    p.add_argument("--dir", default=None, help="where to write (default: a temp dir, removed after)")
    p.add_argument("--modes", default=",".join(SYNC_MODES), help="sync modes to measure")
    p.add_argument("--always-records", type=int, default=None,
                   help="commits for sync=always (default: --records; fsync per commit is slow)")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)

    base = args.dir or tempfile.mkdtemp(prefix="bench-wal-")
    os.makedirs(base, exist_ok=True)
    batches = make_batches(args.records, args.series, args.seed)
    try:
        print(f"{args.records} commits x {args.series} samples, dir {base}")
        print(f"{'measure':<22} {'samples':>10} {'seconds':>9} {'samples/s':>12} {'bytes/sample':>13}")

        def row(name: str, n: int, secs: float, size: int | None = None) -> None:
            bps = f"{size / n:13.2f}" if size is not None and n else f"{'':13}"
            print(f"{name:<22} {n:>10} {secs:>9.3f} {n / secs:>12,.0f} {bps}")

        last_path = None
        for mode in args.modes.split(","):
            use = batches
            if mode == "always" and args.always_records is not None:
                use = batches[: args.always_records]
            path = os.path.join(base, f"wal-{mode}")
            secs, size = bench_log(path, mode, use, args.series, args.segment_size)
            row(f"log sync={mode}", len(use) * args.series, secs, size)
            if len(use) == len(batches):
                last_path = path
        if last_path is not None:
            read_s, decode_s, n = bench_replay(last_path)
            row("replay (read+crc)", n, read_s)
            row("replay (+decode)", n, decode_s)
    finally:
        if args.dir is None:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
