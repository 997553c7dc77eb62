"""Bytes per sample of blocks, promlite vs Prometheus, on the shared dataset.

Usage: ``python -m bench.tsdb_blocks [--series 1000] [--hours 24] [--shared ../shared]``

Generates the dataset with ``shared/datasets/gen_openmetrics.py`` (fixed
seed), backfills the same OpenMetrics file with ``promtool tsdb
create-blocks-from openmetrics`` and with ``promlite``'s backfill, and
compares the blocks: chunk bytes, index bytes and total bytes per sample,
plus the wall time of each backfill. Where promtool is missing the
Prometheus column says so. A measuring tool, no assertions.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from promlite.backfill import backfill_openmetrics
from tsdb.rechunk import BLOCK_CHUNK_SAMPLES

HERE = os.path.dirname(os.path.abspath(__file__))


def block_sizes(data_dir: str) -> dict[str, int]:
    """Chunk, index and total bytes over every block of a data dir, and the sample count."""
    out = {"chunks": 0, "index": 0, "total": 0, "samples": 0, "blocks": 0}
    for name in os.listdir(data_dir):
        b = os.path.join(data_dir, name)
        meta_path = os.path.join(b, "meta.json")
        if not os.path.exists(meta_path):
            continue
        out["blocks"] += 1
        with open(meta_path) as f:
            out["samples"] += json.load(f)["stats"]["numSamples"]
        for root, _dirs, files in os.walk(b):
            for fn in files:
                size = os.path.getsize(os.path.join(root, fn))
                out["total"] += size
                if os.path.basename(root) == "chunks":
                    out["chunks"] += size
                elif fn == "index":
                    out["index"] += size
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--series", type=int, default=1000)
    ap.add_argument("--hours", type=int, default=24)
    ap.add_argument("--seed", type=int, default=None, help="generator seed (default: the generator's)")
    ap.add_argument("--shared", default=os.path.join(HERE, "..", "..", "shared"), help="path of shared/")
    ap.add_argument("--chunk-samples", type=int, default=BLOCK_CHUNK_SAMPLES, help="promlite's samples per block chunk")
    ap.add_argument("--json", help="write the figures here too")
    args = ap.parse_args(argv)

    gen = os.path.join(args.shared, "datasets", "gen_openmetrics.py")
    if not os.path.exists(gen):
        sys.exit(f"error: dataset generator not found at {gen} (pass --shared)")
    work = tempfile.mkdtemp(prefix="promlite-bench-blocks-")
    try:
        om = os.path.join(work, "data.om")
        cmd = [sys.executable, gen, "--series", str(args.series), "--hours", str(args.hours), "--out-openmetrics", om]
        if args.seed is not None:
            cmd += ["--seed", str(args.seed)]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        rows = {}
        t0 = time.perf_counter()
        ours = os.path.join(work, "promlite")
        backfill_openmetrics(om, ours, chunk_samples=args.chunk_samples, progress=True)
        rows["promlite"] = dict(block_sizes(ours), seconds=time.perf_counter() - t0)
        promtool = shutil.which("promtool")
        if promtool:
            theirs = os.path.join(work, "prometheus")
            t0 = time.perf_counter()
            subprocess.run([promtool, "tsdb", "create-blocks-from", "openmetrics", om, theirs],
                           check=True, stdout=subprocess.DEVNULL)
            rows["prometheus"] = dict(block_sizes(theirs), seconds=time.perf_counter() - t0)
        print(f"\ndataset: {args.series} series x {args.hours} h ({rows['promlite']['samples']:,} samples)")
        print(f"{'system':<12}{'blocks':>8}{'chunk B/sample':>16}{'index B/sample':>16}{'total B/sample':>16}{'backfill s':>12}")
        for name in ("promlite", "prometheus"):
            r = rows.get(name)
            if r is None:
                print(f"{name:<12}  (promtool not on PATH: apt-get install prometheus)")
                continue
            n = max(r["samples"], 1)
            print(f"{name:<12}{r['blocks']:>8}{r['chunks'] / n:>16.3f}{r['index'] / n:>16.3f}{r['total'] / n:>16.3f}{r['seconds']:>12.2f}")
        if "prometheus" in rows:
            a, b = rows["promlite"], rows["prometheus"]
            print(f"ratio promlite/prometheus: total bytes {a['total'] / b['total']:.3f}, "
                  f"chunk bytes {a['chunks'] / b['chunks']:.3f}, backfill time {a['seconds'] / b['seconds']:.2f}")
        if args.json:
            with open(args.json, "w") as f:
                json.dump(rows, f, indent=2)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
