"""WAL throughput and write CPU: log (per sync mode, compression on/off) and replay, in samples/s.

Writes N commits of one scrape-like batch each (``--series`` samples at one
timestamp, a 15 s step, random-walk gauge values rounded to 2 decimals), like
the head does after a scrape, then replays and decodes everything. A commit is
``encode_samples`` + ``WAL.log`` + ``WAL.sync`` (the first also logs the series
record). Wall time and process CPU time (``time.process_time``: user + system
of all threads, so snappy, the encode kernels, ``pwrite`` and ``fdatasync``
all count) are taken around the whole loop. Prints one row per measurement.

    python -m bench.wal --records 200 --series 10000 --compression on,off

Also here: what a WAL directory holds (``wal_contents``: samples, series,
records and how many are snappy-compressed, decoded by promlite's reader, so
it works on Prometheus's WAL too) and a data directory's bytes by part
(``data_dir_bytes``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from dataclasses import dataclass

import numpy as np

from tsdb.wal import WAL, RecordType, decode_record, encode_samples, encode_series
from tsdb.wal.frames import HEADER_SIZE, PAGE_SIZE, SNAPPY_FLAG
from tsdb.wal.records import SamplesRecord, record_type

SYNC_MODES = ("always", "batch", "never")


def make_batches(n_records: int, n_series: int, seed: int) -> list[tuple[np.ndarray, int, np.ndarray]]:
    rng = np.random.default_rng(seed)
    refs = np.arange(1, n_series + 1, dtype=np.int64)  # refs start at 1, as the head's do
    t0 = 1_700_000_000_000
    values = np.round(rng.uniform(0, 100, n_series), 2)
    out = []
    for i in range(n_records):
        values = np.round(values + rng.normal(0, 1, n_series), 2)
        out.append((refs, t0 + 15_000 * i, values.copy()))
    return out


@dataclass
class LogRun:
    """One timed ``bench_log``: wall and process-CPU seconds of the whole loop, WAL bytes on disk."""

    wall_s: float
    cpu_s: float
    size_bytes: int


def bench_log(path: str, mode: str, batches, n_series: int, segment_size: int,
              compress: bool = True) -> LogRun:
    """Encode+log every batch (first commit also logs the series); wall and CPU seconds, WAL bytes."""
    shutil.rmtree(path, ignore_errors=True)
    labels = [(("__name__", "bench_metric"), ("instance", f"host-{i}")) for i in range(n_series)]
    w = WAL.open(path, segment_size=segment_size, sync=mode, sync_interval_ms=100, compress=compress)
    c0 = time.process_time()
    start = time.perf_counter()
    w.log(encode_series(batches[0][0], labels))
    for refs, t, vs in batches:
        w.log(encode_samples(refs, np.full(len(refs), t, dtype=np.int64), vs))
        w.sync()
    w.close()
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - c0
    with WAL.open(path) as w:
        size = w.size_bytes()
    return LogRun(elapsed, cpu, size)


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


def _fragment_flags(path: str) -> tuple[int, int]:
    """Records in one segment file and how many are snappy-compressed, from the fragment headers.

    Reads the 7-byte headers only (type, length; the CRC is the reader's job):
    a record starts with a ``full`` (1) or ``first`` (2) fragment, whose bit
    ``0x08`` says snappy. Padding (a zero type byte) runs to the page's end.
    """
    with open(path, "rb") as f:
        data = f.read()
    records = compressed = 0
    pos, size = 0, len(data)
    while pos + HEADER_SIZE <= size:
        typ = data[pos]
        if typ == 0:
            pos = (pos // PAGE_SIZE + 1) * PAGE_SIZE
            continue
        length = int.from_bytes(data[pos + 1 : pos + 3], "big")
        if (typ & 0x07) in (1, 2):  # full or first: a record starts
            records += 1
            compressed += bool(typ & SNAPPY_FLAG)
        pos += HEADER_SIZE + length
    return records, compressed


def wal_contents(wal_dir: str) -> dict[str, int]:
    """What a WAL directory holds (checkpoint included): samples, series, records, snappy records, bytes.

    Decoded by promlite's reader (read-only: nothing on disk changes), so the
    same count is taken of promlite's and of Prometheus's WAL.
    """
    samples = series = 0
    with WAL.open(wal_dir, read_only=True) as w:
        for _seg, payload in w.replay():
            kind = record_type(payload)
            if kind == RecordType.SAMPLES:
                samples += len(decode_record(payload).refs)
            elif kind == RecordType.SERIES:
                series += len(decode_record(payload).refs)
    records = compressed = 0
    for root, _dirs, files in os.walk(wal_dir):
        for fn in files:
            if fn.isdigit():
                r, c = _fragment_flags(os.path.join(root, fn))
                records += r
                compressed += c
    return {"samples": samples, "series_records_rows": series, "records": records,
            "snappy_records": compressed, "bytes": _tree_bytes(wal_dir)}


def _tree_bytes(path: str) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for fn in files:
            try:
                total += os.path.getsize(os.path.join(root, fn))
            except OSError:  # removed meanwhile
                pass
    return total


def data_dir_bytes(path: str) -> dict[str, int]:
    """Bytes (file sizes) of a data directory: ``total``, ``wal`` (with checkpoints), ``chunks_head``,
    ``blocks`` (ULID directories), ``other`` (lock, queries.active, ...)."""
    out = {"total": _tree_bytes(path), "wal": 0, "chunks_head": 0, "blocks": 0}
    for name in os.listdir(path):
        full = os.path.join(path, name)
        if name in ("wal", "chunks_head"):
            out[name] = _tree_bytes(full)
        elif os.path.isdir(full) and os.path.exists(os.path.join(full, "meta.json")):
            out["blocks"] += _tree_bytes(full)
    out["other"] = out["total"] - out["wal"] - out["chunks_head"] - out["blocks"]
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--records", type=int, default=200, help="commits (one samples record each)")
    p.add_argument("--series", type=int, default=10_000, help="samples per commit")
    p.add_argument("--segment-size", type=int, default=128 * 2**20)
    p.add_argument("--dir", default=None, help="where to write (default: a temp dir, removed after)")
    p.add_argument("--modes", default=",".join(SYNC_MODES), help="sync modes to measure")
    p.add_argument("--compression", default="on,off", help="WAL compression settings to measure (on, off)")
    p.add_argument("--always-records", type=int, default=None,
                   help="commits for sync=always (default: --records; fsync per commit is slow)")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    compressions = [c.strip() for c in args.compression.split(",") if c.strip()]
    if not compressions or set(compressions) - {"on", "off"}:
        p.error("--compression takes on, off or on,off")

    base = args.dir or tempfile.mkdtemp(prefix="bench-wal-")
    os.makedirs(base, exist_ok=True)
    batches = make_batches(args.records, args.series, args.seed)
    try:
        for comp in compressions:  # untimed: page cache and first-use allocations, snappy warms up
            bench_log(os.path.join(base, "warm-up"), "never", batches[:2], args.series, args.segment_size,
                      compress=comp == "on")
        shutil.rmtree(os.path.join(base, "warm-up"), ignore_errors=True)
        print(f"{args.records} commits x {args.series} samples, dir {base}")
        print(f"{'measure':<30} {'samples':>10} {'seconds':>9} {'samples/s':>12} {'CPU s/1M':>9} "
              f"{'bytes/sample':>13}")

        def row(name: str, n: int, secs: float, cpu: float | None = None, size: int | None = None) -> None:
            c = f"{cpu / n * 1e6:9.3f}" if cpu is not None and n else f"{'':9}"
            bps = f"{size / n:13.2f}" if size is not None and n else f"{'':13}"
            print(f"{name:<30} {n:>10} {secs:>9.3f} {n / secs:>12,.0f} {c} {bps}")

        last_path = None
        for mode in args.modes.split(","):
            use = batches
            if mode == "always" and args.always_records is not None:
                use = batches[: args.always_records]
            for comp in compressions:
                path = os.path.join(base, f"wal-{mode}-{comp}")
                r = bench_log(path, mode, use, args.series, args.segment_size, compress=comp == "on")
                row(f"log sync={mode} compression={comp}", len(use) * args.series, r.wall_s, r.cpu_s, r.size_bytes)
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
