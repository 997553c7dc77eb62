"""``python -m promlite.server serve|check|query ...``: the server's subcommands without ``promlite.cli``."""

from __future__ import annotations

import argparse
import sys

from promlite.lazy_parser import LazyParser
from promlite.serve_cli import add_server_commands


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="promlite")
    p.add_argument("--log.level", dest="log_level", default="info", choices=["debug", "info", "warn", "error"])
    add_server_commands(p.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=LazyParser))
    args = p.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
