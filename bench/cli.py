"""``promlite bench``: run the benchmark suites and write the report.

    promlite bench [SUITE...] [--quick] [--out DIR] [--series N] [--hours H] [--node-scrapes N]

Runs the chosen suites (all by default) in one process, with Prometheus and
VictoriaMetrics side by side where they are installed, prints one table per
suite, and writes ``results.json``, ``results.md`` and PNG plots into
``--out``. ``--quick`` shrinks every size (CI smoke test, under 2 minutes on
2 cores); the full run is sized to finish in under 30 minutes there. A
suite that fails is reported as an error with its message, and the others
still run; the exit status is 1 if any suite failed, 0 otherwise.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import signal
import sys
import tempfile
import time
import traceback
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from . import report
from .datasets import DatasetUnavailable, Workspace
from .peers import PEER_NAMES, find_peers
from .suites import SUITE_NAMES, Context, SuiteResult, load_suite

FULL = {"series": 1000, "hours": 24.0, "memory_series": (10_000, 100_000, 1_000_000), "runs": 5, "budget_s": 1500,
        "node_scrapes": 240}
QUICK = {"series": 100, "hours": 2.0, "memory_series": (10_000,), "runs": 3, "budget_s": 90, "node_scrapes": 40}


def configure_parser(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("suites", nargs="*", metavar="SUITE",
                   help=f"suites to run (default: all): {', '.join(SUITE_NAMES)}")
    p.add_argument("--quick", action="store_true", help="small sizes, for CI (< 2 min on 2 cores)")
    p.add_argument("--out", default="bench-results", help="output directory (default: ./bench-results)")
    p.add_argument("--series", type=int, help="dataset series (default 1000; --quick 100)")
    p.add_argument("--hours", type=float, help="dataset hours (default 24; --quick 2)")
    p.add_argument("--node-scrapes", type=int, help="scrapes of prometheus-node-exporter for the real dataset, "
                   "stored 15 s apart, taken 0.2 s apart (default 240 = 1 h; --quick 40)")
    p.add_argument("--memory-series", help="comma-separated series counts for the memory suite "
                   "(default 10000,100000,1000000 within the time budget; --quick 10000)")
    p.add_argument("--runs", type=int, help="timed runs per measurement (default 5; --quick 3)")
    p.add_argument("--no-peer", action="append", default=[], choices=PEER_NAMES,
                   help="leave a peer out even if installed (repeatable)")
    p.add_argument("--keep-work", action="store_true", help="keep the generated data (printed path)")
    return p


def _meta(args: argparse.Namespace, sizes: dict[str, Any], peers: dict, started: str) -> dict[str, Any]:
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            mem = f.readline().split(":", 1)[1].strip()
    except OSError:
        pass
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "")
    except OSError:
        pass
    return {
        "command": "promlite bench " + " ".join(sys.argv[2:] if sys.argv[1:2] == ["bench"] else sys.argv[1:]),
        "started": started,
        "machine": {"nproc": os.cpu_count(), "mem_total": mem, "cpu": cpu, "platform": platform.platform(),
                    "python": platform.python_version()},
        "quick": args.quick, "sizes": sizes, "peers": {k: v.to_json() for k, v in peers.items()},
    }


def _raise_exit(signum, _frame) -> None:
    raise SystemExit(128 + signum)


def run(args: argparse.Namespace) -> int:
    names = args.suites or list(SUITE_NAMES)
    for n in names:
        if n not in SUITE_NAMES:
            print(f"promlite bench: unknown suite {n!r} (choose from {', '.join(SUITE_NAMES)})", file=sys.stderr)
            return 2
    base = QUICK if args.quick else FULL
    mem_series = (tuple(int(x) for x in args.memory_series.split(",")) if args.memory_series
                  else base["memory_series"])
    sizes = {"series": args.series or base["series"], "hours": args.hours or base["hours"],
             "memory_series": list(mem_series), "runs": args.runs or base["runs"],
             "node_scrapes": args.node_scrapes or base["node_scrapes"]}
    os.makedirs(args.out, exist_ok=True)
    console = Console()
    if not console.is_terminal:
        console = Console(width=140)  # logs and CI: do not squeeze the tables into 80 columns
    peers = find_peers(frozenset(args.no_peer))
    for p in peers.values():
        console.print(f"[bold]{p.name}[/]: " + (f"{p.version} ({p.binary})" if p.available
                                                 else p.to_json()["status"]))
    # SIGTERM unwinds like Ctrl-C, so peers are stopped and the work dir removed.
    signal.signal(signal.SIGTERM, _raise_exit)
    work = tempfile.mkdtemp(prefix="promlite-bench-")
    t_start = time.monotonic()
    started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    results: list[SuiteResult] = []
    try:
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                      TextColumn("{task.completed:.0f}/{task.total:.0f}"), TimeElapsedColumn(),
                      console=console, transient=True) as progress:
            ctx = Context(quick=args.quick, series=sizes["series"], hours=sizes["hours"], peers=peers,
                          workspace=Workspace(work, sizes["node_scrapes"]), progress=progress, memory_series=mem_series,
                          runs=sizes["runs"], deadline=t_start + base["budget_s"])
            overall = progress.add_task("[bold]suites", total=len(names))
            for name in names:
                mod = load_suite(name)
                progress.update(overall, description=f"[bold]suite {name}")
                t0 = time.monotonic()
                console.print(f"[bold]suite {name}[/]: {mod.TITLE} ...")
                try:
                    res = mod.run(ctx)
                except DatasetUnavailable as e:
                    res = SuiteResult(name, mod.TITLE, status="skipped", note=str(e))
                except Exception as e:  # noqa: BLE001 - one failed suite must not lose the others
                    res = SuiteResult(name, mod.TITLE, status="error", note=f"{type(e).__name__}: {e}")
                    console.print(f"[red]suite {name} failed[/]\n{traceback.format_exc()}")
                res.seconds = time.monotonic() - t0
                console.print(f"[bold]suite {name}[/]: {res.status} in {res.seconds:.0f} s")
                results.append(res)
                progress.advance(overall)
        report.print_tables(console, results)
        meta = _meta(args, sizes, peers, started)
        meta["seconds"] = time.monotonic() - t_start
        report.write_json(os.path.join(args.out, "results.json"), meta, results)
        with open(os.path.join(args.out, "results.md"), "w") as f:
            f.write(report.to_markdown(results))
        pngs = report.write_plots(args.out, results)
        console.print(f"wrote {os.path.join(args.out, 'results.json')}, results.md and {len(pngs)} plot(s) "
                      f"in {meta['seconds']:.0f} s")
    finally:
        if args.keep_work:
            console.print(f"work dir kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 1 if any(r.status == "error" for r in results) else 0


def main(argv: list[str] | None = None) -> int:
    p = configure_parser(argparse.ArgumentParser(prog="promlite bench", description=__doc__.split("\n\n")[0]))
    return run(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
