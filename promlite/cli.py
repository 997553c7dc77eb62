"""The ``promlite`` command line: one entry point, one subcommand per job."""

from __future__ import annotations

import argparse
import logging
import signal
import sys

from . import __version__


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="promlite",
        description="A lightweight, embeddable Prometheus: scrape, store, query.",
    )
    p.add_argument("--version", action="version", version=f"promlite {__version__}")
    p.add_argument("--log.level", dest="log_level", default="info",
                   choices=["debug", "info", "warn", "error"], help="log level (default: info)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    from .bench_cli import add_bench_command
    from .promqltest_cli import add_promqltest_command
    from .serve_cli import add_server_commands
    from .tsdb_cli import add_tsdb_commands

    add_server_commands(sub)
    add_tsdb_commands(sub)
    add_promqltest_command(sub)
    add_bench_command(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `promlite tsdb dump | head` ends quietly
    parser = build_parser()
    args = parser.parse_args(argv)
    level = {"warn": "WARNING"}.get(args.log_level, args.log_level.upper())
    logging.basicConfig(level=level, format="ts=%(asctime)s level=%(levelname)s logger=%(name)s msg=%(message)r")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
