"""Subcommands of the server: ``serve``, ``check config``, ``check metrics``, ``query``.

``cli.py`` calls :func:`add_server_commands` with its subparsers; the
implementations live in ``promlite.server``.
"""

from __future__ import annotations

import argparse
import sys


def _cmd_serve(args: argparse.Namespace) -> int:
    from .server.serve import serve_main

    return serve_main(args)


def _cmd_check_config(args: argparse.Namespace) -> int:
    from .server.check_config import check_config_files

    return check_config_files(args.files)


def _cmd_check_metrics(args: argparse.Namespace) -> int:
    from .server.check_config import check_metrics_stream

    return check_metrics_stream(sys.stdin.buffer.read(), "openmetrics" if args.openmetrics else "text")


def _cmd_query(args: argparse.Namespace) -> int:
    from .server.query_cli import query_main

    return query_main(args)


def add_server_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``serve``, ``check config``, ``check metrics`` and ``query`` on ``sub``."""
    from .server.query_cli import add_query_arguments
    from .server.serve import add_serve_arguments

    serve = sub.add_parser("serve", help="run the server (scrape, store, serve the API)")
    add_serve_arguments(serve)
    serve.set_defaults(func=_cmd_serve)

    check = sub.add_parser("check", help="check a configuration file or a metrics exposition")
    csub = check.add_subparsers(dest="check_command", metavar="WHAT", required=True)
    cc = csub.add_parser("config", help="check prometheus.yml files (like promtool check config)")
    cc.add_argument("files", nargs="+", metavar="FILE")
    cc.set_defaults(func=_cmd_check_config)
    cm = csub.add_parser("metrics", help="lint an exposition read from stdin (like promtool check metrics)")
    cm.add_argument("--openmetrics", action="store_true", help="the input is OpenMetrics text")
    cm.set_defaults(func=_cmd_check_metrics)

    q = sub.add_parser("query", help="run a PromQL query against a server or a data directory")
    add_query_arguments(q)
    q.set_defaults(func=_cmd_query)
