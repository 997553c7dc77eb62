"""Throughput and size of the XOR chunk codec on realistic, fixed-seed data.

Usage: ``python -m bench.codec [--chunks 10000] [--samples-per-chunk 120] ...``

Generates series scraped every 15 s with a few milliseconds of jitter, in
three shapes -- counters (integer increments), 2-decimal gauges (a rounded
random walk) and a constant -- encodes them as chunks through
``encode_xor_many``, decodes them through ``decode_xor_many`` and prints
samples/s (best of ``--repeat`` runs, one thread) and bytes/sample as a table.
No assertions: this is a measuring tool, never part of the unit suite.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

from tsdb.codec.xor import decode_xor_many, encode_xor_many

_START_MS = 1_700_000_000_000
_INTERVAL_MS = 15_000


def _timestamps(
    rng: np.random.Generator, chunks: int, per_chunk: int, jitter_ms: int
) -> np.ndarray:
    """One chunk's worth of scrape times per row, each series at its own phase."""
    phase = rng.integers(0, _INTERVAL_MS, size=(chunks, 1))
    grid = np.arange(per_chunk, dtype=np.int64) * _INTERVAL_MS
    jitter = rng.integers(-jitter_ms, jitter_ms + 1, size=(chunks, per_chunk))
    return (_START_MS + phase + grid + jitter).astype(np.int64)


def _values(kind: str, rng: np.random.Generator, chunks: int, per_chunk: int) -> np.ndarray:
    shape = (chunks, per_chunk)
    if kind == "counter":
        rate = rng.lognormal(mean=0.0, sigma=2.0, size=(chunks, 1))
        base = rng.integers(0, 1_000_000, size=(chunks, 1))
        return (base + np.cumsum(rng.poisson(rate * 15, size=shape), axis=1)).astype(np.float64)
    if kind == "gauge":
        level = rng.uniform(0, 1000, size=(chunks, 1))
        walk = np.cumsum(rng.normal(0, 0.5, size=shape), axis=1)
        return np.round(level + walk, 2)
    if kind == "constant":
        return np.repeat(
            rng.integers(0, 100, size=(chunks, 1)).astype(np.float64), per_chunk, axis=1
        )
    raise ValueError(f"unknown dataset {kind!r}")


def _best(fn: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def prepare(
    kind: str, chunks: int, per_chunk: int, jitter_ms: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Flat timestamps and values of ``chunks`` chunks, with each chunk's start and count."""
    rng = np.random.default_rng(seed)
    ts = _timestamps(rng, chunks, per_chunk, jitter_ms).ravel()
    vs = _values(kind, rng, chunks, per_chunk).ravel()
    starts = np.arange(chunks, dtype=np.int64) * per_chunk
    counts = np.full(chunks, per_chunk, dtype=np.int64)
    return ts, vs, starts, counts


def run(
    kind: str, chunks: int, per_chunk: int, jitter_ms: int, repeat: int, seed: int
) -> dict[str, float]:
    ts, vs, starts, counts = prepare(kind, chunks, per_chunk, jitter_ms, seed)
    data, offsets = encode_xor_many(ts, vs, starts, counts)
    lengths = np.diff(offsets)
    enc_s = _best(lambda: encode_xor_many(ts, vs, starts, counts), repeat)
    dec_s = _best(lambda: decode_xor_many(data, offsets[:-1], lengths), repeat)
    n = ts.shape[0]
    return {
        "samples": n,
        "bytes_per_sample": data.shape[0] / n,
        "encode_msps": n / enc_s / 1e6,
        "decode_msps": n / dec_s / 1e6,
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.codec", description=__doc__.split("\n\n")[0])
    p.add_argument("--chunks", type=int, default=10_000, help="chunks per dataset (default 10000)")
    p.add_argument("--samples-per-chunk", type=int, default=120, help="default 120, as Prometheus")
    p.add_argument(
        "--jitter-ms", type=int, default=2, help="scrape time jitter, +/- ms (default 2)"
    )
    p.add_argument("--repeat", type=int, default=5, help="runs per measurement, best is kept")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument(
        "--datasets",
        default="counter,gauge,constant",
        help="comma-separated: counter,gauge,constant",
    )
    args = p.parse_args(argv)

    header = (
        f"{'dataset':<10} {'samples':>10} {'bytes/sample':>13} "
        f"{'encode Msamples/s':>18} {'decode Msamples/s':>18}"
    )
    print(header)
    print("-" * len(header))
    for kind in args.datasets.split(","):
        r = run(kind, args.chunks, args.samples_per_chunk, args.jitter_ms, args.repeat, args.seed)
        print(
            f"{kind:<10} {r['samples']:>10} {r['bytes_per_sample']:>13.3f} "
            f"{r['encode_msps']:>18.1f} {r['decode_msps']:>18.1f}"
        )


if __name__ == "__main__":
    main()
