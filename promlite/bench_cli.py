"""``promlite bench``: the benchmark suite, as a subcommand of the promlite CLI.

The work lives in the ``bench`` package (suites, peers, report); this module
only wires its argument parser into ``promlite``'s, lazily (see
:mod:`.lazy_parser`), so that no other command imports rich or matplotlib.
Those two are an optional extra (``pip install 'promlite[bench]'``): a
default install runs the server without them, and ``promlite bench`` says in
one line how to get them instead of failing with an ImportError.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys

BENCH_DEPENDENCIES = ("rich", "matplotlib")
"""Modules of the ``bench`` extra (pyproject.toml) that only the benchmark suite imports."""

EXIT_MISSING_DEPENDENCY = 1


def missing_bench_dependencies() -> list[str]:
    """The modules of :data:`BENCH_DEPENDENCIES` that cannot be imported (found without importing them)."""
    return [m for m in BENCH_DEPENDENCIES if importlib.util.find_spec(m) is None]


def missing_message(missing: list[str]) -> str:
    """One line: what is missing and the command that installs it."""
    what = " and ".join(missing)
    verb = "is" if len(missing) == 1 else "are"
    return (f"promlite bench: {what} {verb} missing: pip install 'promlite[bench]' "
            "(in a source checkout: pip install '.[bench]')")


def _cmd_bench(args: argparse.Namespace) -> int:
    from bench.cli import run

    return run(args)


def _configure(p: argparse.ArgumentParser) -> None:
    missing = missing_bench_dependencies()
    if missing:  # before bench.cli, which imports rich: a message, not a traceback
        print(missing_message(missing), file=sys.stderr)
        raise SystemExit(EXIT_MISSING_DEPENDENCY)
    from bench.cli import configure_parser

    configure_parser(p)


def add_bench_command(subparsers) -> argparse.ArgumentParser:
    """Add ``bench`` to the ``promlite`` subcommands; returns its parser."""
    p = subparsers.add_parser("bench", help="run the benchmark suite (side by side with Prometheus "
                              "and VictoriaMetrics where installed)",
                              description="Run benchmark suites and write results.json, results.md and PNG plots.",
                              configure=_configure)
    p.set_defaults(func=_cmd_bench)
    return p
