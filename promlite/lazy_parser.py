"""Subcommand parsers whose arguments are defined only when that subcommand runs.

Each command's argument definitions live beside its implementation, and
importing them can cost a lot: ``serve``'s come from ``promlite.server.serve``,
which imports aiohttp, the PromQL engine and the storage. Registering every
command eagerly made ``promlite --version`` import all of it (2 s of CPU when
the kernels were numba's). Here a command is registered with its name and
one-line help only -- all ``promlite --help`` shows -- and its ``configure``
function, which adds the arguments and may import what they need, runs the
first time that command is parsed or its help is printed.

Usage: ``sub = parser.add_subparsers(parser_class=LazyParser)``, then
``sub.add_parser(name, help=..., configure=fn)``. Nested subparsers of a
``LazyParser`` are ``LazyParser`` too (argparse uses the parent's class), and
``configure`` is optional, so a plain ``add_parser`` still works.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any

Configure = Callable[[argparse.ArgumentParser], None]


class LazyParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` that calls ``configure(self)`` once, before it first parses or prints help."""

    def __init__(self, *args: Any, configure: Configure | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._configure = configure

    def _ensure_configured(self) -> None:
        configure, self._configure = self._configure, None
        if configure is not None:
            configure(self)

    # argparse's subparsers action hands the rest of the command line to parse_known_args
    def parse_known_args(self, args: Sequence[str] | None = None,
                         namespace: argparse.Namespace | None = None) -> tuple[argparse.Namespace, list[str]]:
        self._ensure_configured()
        return super().parse_known_args(args, namespace)

    def format_help(self) -> str:
        self._ensure_configured()
        return super().format_help()

    def format_usage(self) -> str:
        self._ensure_configured()
        return super().format_usage()
