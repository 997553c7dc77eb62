"""The ``promlite`` command line: one entry point, one subcommand per job.

Every command imports only what it needs: commands are registered lazily
(:mod:`.lazy_parser`), so ``promlite --version``, ``promlite --help`` and
``promlite check ...`` never load the server, the PromQL engine or the
storage (``tests/promlite/test_cli_imports.py`` checks it).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from . import __version__
from .lazy_parser import LazyParser


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="promlite",
        description="A lightweight, embeddable Prometheus: scrape, store, query.",
    )
    p.add_argument("--version", action="version", version=f"promlite {__version__}")
    p.add_argument("--log.level", dest="log_level", default="info",
                   choices=["debug", "info", "warn", "error"], help="log level (default: info)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=LazyParser)

    from .bench_cli import add_bench_command
    from .promqltest_cli import add_promqltest_command
    from .promtool_cli import add_test_command
    from .serve_cli import add_server_commands
    from .tsdb_cli import add_tsdb_commands

    add_server_commands(sub)
    add_tsdb_commands(sub)
    add_promqltest_command(sub)
    add_test_command(sub)
    add_bench_command(sub)
    return p


EXIT_BROKEN_PIPE = 141
"""Exit status when stdout's reader went away (128 + SIGPIPE, what a shell reports for a killed writer)."""


def _quiet_broken_pipe() -> int:
    """End a command whose stdout reader left (``promlite tsdb dump | head``) without a traceback.

    SIGPIPE stays ignored (Python's default) in every subcommand: resetting it
    to SIG_DFL, as this CLI once did for all of them, let any client that
    closed its socket mid-answer kill ``promlite serve`` (exit 141). Writers
    get ``BrokenPipeError`` instead; stdout is pointed at /dev/null so that
    the interpreter's final flush does not report the same error again.
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout closed or not a real file: nothing left to flush
        pass
    return EXIT_BROKEN_PIPE


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = {"warn": "WARNING"}.get(args.log_level, args.log_level.upper())
    logging.basicConfig(level=level, format="ts=%(asctime)s level=%(levelname)s logger=%(name)s msg=%(message)r")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:
        return _quiet_broken_pipe()


if __name__ == "__main__":
    sys.exit(main())
