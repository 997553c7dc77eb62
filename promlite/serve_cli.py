"""Subcommands of the server: ``serve``, ``check config``, ``check metrics``, ``query``.

``cli.py`` calls :func:`add_server_commands` with its subparsers (of
:class:`~promlite.lazy_parser.LazyParser`); the implementations live in
``promlite.server``. ``serve`` and ``query`` take their arguments from the
heavy modules that run them, so those are imported only when that command is
used; ``check`` imports only the config loader and the exposition linter.
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


def _serve_arguments(p: argparse.ArgumentParser) -> None:
    from .server.serve import add_serve_arguments

    add_serve_arguments(p)


def _query_arguments(p: argparse.ArgumentParser) -> None:
    from .server.query_cli import add_query_arguments

    add_query_arguments(p)


def add_server_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``serve``, ``check config``, ``check metrics`` and ``query`` on ``sub`` (lazily, see above)."""
    serve = sub.add_parser("serve", help="run the server (scrape, store, serve the API)", configure=_serve_arguments)
    serve.set_defaults(func=_cmd_serve)

    check = sub.add_parser("check", help="check a configuration file or a metrics exposition")
    csub = check.add_subparsers(dest="check_command", metavar="WHAT", required=True)
    cc = csub.add_parser("config", help="check prometheus.yml files (like promtool check config)")
    cc.add_argument("files", nargs="+", metavar="FILE")
    cc.set_defaults(func=_cmd_check_config)
    cm = csub.add_parser("metrics", help="lint an exposition read from stdin (like promtool check metrics)")
    cm.add_argument("--openmetrics", action="store_true", help="the input is OpenMetrics text")
    cm.set_defaults(func=_cmd_check_metrics)
    from .promtool_cli import add_check_rules_command

    add_check_rules_command(csub)

    q = sub.add_parser("query", help="run a PromQL query against a server or a data directory",
                       configure=_query_arguments)
    q.set_defaults(func=_cmd_query)
