"""Per-query limits: the sample budget, the deadline and cooperative cancellation.

Prometheus bounds a query by the samples it holds in memory
(``--query.max-samples``: samples loaded from storage *and* the cells of the
intermediate results the engine builds) and by time (``--query.timeout``, or
the client going away). Here:

* :class:`SampleBudget` counts the samples loaded from storage (cumulatively,
  as before) and checks each intermediate result *before* it is allocated:
  ``would_hold(n)`` fails when the samples loaded so far plus the ``n`` cells
  about to be allocated pass the limit. Evaluators call :func:`would_hold`
  before every allocation whose size a query can blow up (``count_values``,
  many-to-many matching, ``label_replace``/``label_join`` merges, subquery
  grids, range queries with many steps).
* :class:`QueryContext` holds a query's deadline, its budget and a cancel
  event (set by the server when it stops waiting: timeout or client gone). It
  is installed for the evaluating thread by :func:`active`;
  :func:`checkpoint` (cheap: a thread-local read and a clock read) raises
  ``QueryTimeoutError`` once the deadline passed or the query was cancelled.
  The engine calls it per AST node, and long per-series Python loops call
  it every few thousand iterations, so an abandoned query stops within about
  one numpy operation of its deadline instead of keeping a worker busy.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

from .eval_errors import QueryTimeoutError

TOO_MANY_SAMPLES = "query processing would load too many samples into memory in query execution"

CHECK_EVERY = 4096
"""Per-series Python loops call :func:`checkpoint` once every this many iterations."""


class SampleLimitError(RuntimeError):
    """The query would hold more samples than ``max_samples`` allows."""


class SampleBudget:
    """Counts the samples a query loads; raises ``SampleLimitError`` past the limit."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def charge(self, n: int) -> None:
        """Samples loaded from storage (kept for the whole query)."""
        self.used += n
        if self.used > self.limit:
            raise SampleLimitError(TOO_MANY_SAMPLES)

    def would_hold(self, n: int) -> None:
        """An intermediate result of ``n`` cells is about to be allocated: fail first if it does not fit."""
        if self.used + n > self.limit:
            raise SampleLimitError(TOO_MANY_SAMPLES)


class QueryContext:
    """The deadline, budget and cancel event of one evaluation (see module docstring)."""

    __slots__ = ("budget", "cancel", "deadline")

    def __init__(self, budget: SampleBudget, deadline: float, cancel: threading.Event | None = None) -> None:
        self.budget = budget
        self.deadline = deadline
        self.cancel = cancel

    def check(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise QueryTimeoutError("query was cancelled in expression evaluation")
        if time.monotonic() > self.deadline:
            raise QueryTimeoutError("query timed out in expression evaluation")


_local = threading.local()


def current_cancel() -> threading.Event | None:
    """The cancel event the caller installed with :func:`cancellation` for this thread, if any."""
    return getattr(_local, "cancel", None)


@contextlib.contextmanager
def cancellation(event: threading.Event) -> Iterator[None]:
    """Evaluations started by this thread inside the block stop once ``event`` is set (the server's hook)."""
    prev = getattr(_local, "cancel", None)
    _local.cancel = event
    try:
        yield
    finally:
        _local.cancel = prev


@contextlib.contextmanager
def active(ctx: QueryContext) -> Iterator[QueryContext]:
    """Make ``ctx`` the current query of this thread for :func:`checkpoint` and :func:`would_hold`."""
    prev = getattr(_local, "ctx", None)
    _local.ctx = ctx
    try:
        yield ctx
    finally:
        _local.ctx = prev


def checkpoint() -> None:
    """Raise ``QueryTimeoutError`` if the current query's deadline passed or it was cancelled."""
    ctx = getattr(_local, "ctx", None)
    if ctx is not None:
        ctx.check()


def would_hold(n: int) -> None:
    """Check an allocation of ``n`` cells against the current query's budget (no-op outside a query)."""
    ctx = getattr(_local, "ctx", None)
    if ctx is not None:
        ctx.budget.would_hold(int(n))


def every(i: int) -> None:
    """:func:`checkpoint` on every ``CHECK_EVERY``-th iteration ``i`` of a loop."""
    if i % CHECK_EVERY == 0:
        checkpoint()
