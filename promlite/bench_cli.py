"""``promlite bench``: the benchmark suite, as a subcommand of the promlite CLI.

The work lives in the ``bench`` package (suites, peers, report); this module
only wires its argument parser into ``promlite``'s, so that importing the
CLI does not import rich or matplotlib until ``bench`` actually runs.
"""

from __future__ import annotations

import argparse


def _cmd_bench(args: argparse.Namespace) -> int:
    from bench.cli import run

    return run(args)


def add_bench_command(subparsers) -> argparse.ArgumentParser:
    """Add ``bench`` to the ``promlite`` subcommands; returns its parser."""
    from bench.cli import configure_parser

    p = subparsers.add_parser("bench", help="run the benchmark suite (side by side with Prometheus "
                              "and VictoriaMetrics where installed)",
                              description="Run benchmark suites and write results.json, results.md and PNG plots.")
    configure_parser(p)
    p.set_defaults(func=_cmd_bench)
    return p
