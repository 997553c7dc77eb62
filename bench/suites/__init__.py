"""Suites: what each measures, and the one shape every result takes.

A suite is a module with ``NAME``, ``TITLE`` and ``run(ctx) -> SuiteResult``.
A result is a list of ``Row``s; a row is one figure (``figure``, ``unit``,
whether lower or higher is better) with one value per system. The systems
are always the same three columns -- promlite, prometheus, victoriametrics --
and a value is a ``Stat`` (several runs), a number (measured once), or a
string saying why there is none: "not installed" when the peer is missing,
"n/a" when the figure has no twin in that system. A column is never dropped.

``plots`` carries extra series for the figures that read better as a picture
(memory vs series count, latency per query); ``report`` draws them.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

from rich.progress import Progress

from ..datasets import Workspace
from ..harness import Stat
from ..peers import PEER_NAMES, PeerInfo

SYSTEMS = ("promlite", *PEER_NAMES)
NOT_INSTALLED = "not installed"
NA = "n/a"
SUITE_NAMES = ("codec", "compression", "ingest", "query", "scrape", "api", "replay", "memory", "startup",
               "rules")

Value = Stat | float | int | str | None


@dataclass
class Row:
    figure: str
    unit: str
    values: dict[str, Value]
    better: str = "lower"  # or "higher"
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"figure": self.figure, "unit": self.unit, "better": self.better, "note": self.note,
                "values": {k: (v.to_json() if isinstance(v, Stat) else v) for k, v in self.values.items()}}


@dataclass
class SuiteResult:
    name: str
    title: str
    rows: list[Row] = field(default_factory=list)
    status: str = "ok"  # "ok", "skipped", "error"
    note: str = ""
    plots: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # more figures for results.json only
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "status": self.status, "note": self.note,
                "seconds": self.seconds, "rows": [r.to_json() for r in self.rows], "plots": self.plots,
                "extra": self.extra}


@dataclass
class Context:
    """What every suite gets: sizes, peers, the shared workspace, the progress display."""

    quick: bool
    series: int
    hours: float
    peers: dict[str, PeerInfo]
    workspace: Workspace
    progress: Progress
    memory_series: tuple[int, ...]
    runs: int
    deadline: float  # time.monotonic() after which long optional steps are skipped

    def peer_value(self, name: str) -> str | None:
        """``NOT_INSTALLED`` when peer ``name`` is missing, else None (go and measure)."""
        return None if self.peers[name].available else NOT_INSTALLED

    def task(self, description: str, total: float | None):
        """A progress bar (rich task id) for a long step; finish with ``done``."""
        return self.progress.add_task(description, total=total)

    def advance(self, task, n: float = 1) -> None:
        self.progress.advance(task, n)

    def done(self, task) -> None:
        t = next(t for t in self.progress.tasks if t.id == task)
        self.progress.update(task, completed=t.total if t.total is not None else 1, total=t.total or 1,
                             visible=False)


def load_suite(name: str):
    if name not in SUITE_NAMES:
        raise ValueError(f"unknown suite {name!r} (choose from {', '.join(SUITE_NAMES)})")
    return importlib.import_module(f"{__name__}.{name}")
