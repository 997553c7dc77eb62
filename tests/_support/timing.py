"""Time in tests that must not race the machine.

CI runs the whole suite on two shared cores while other jobs run: wall time
there is several times what it is on a quiet machine. Two kinds of limits:

* a bound on *work* (a performance claim) is measured in CPU time:
  ``time.process_time()`` for work done in this process, :func:`cpu_seconds`
  for a child process, :func:`children_cpu_seconds` around ``subprocess.run``;
* a *safety net* (do not hang forever) stays in wall time but is at least ten
  times what the wait takes on a quiet machine: :func:`wait_until` and
  :func:`async_wait_until` poll a condition until it holds.
"""

from __future__ import annotations

import asyncio
import os
import resource
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of process ``pid`` so far (Linux ``/proc``), or None if unreadable."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds() -> float:
    """User + system CPU time of this process's waited-for children so far."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def wait_until(pred: Callable[[], T], timeout_s: float, what: str = "condition",
               interval_s: float = 0.05) -> T:
    """Poll ``pred`` until it returns something truthy and return that; AssertionError after ``timeout_s``.

    ``what`` is a string or a callable giving one (e.g. a server log), for the failure message.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        got = pred()
        if got:
            return got
        if time.monotonic() >= deadline:
            raise AssertionError(f"not reached in {timeout_s:g} s: {what() if callable(what) else what}")
        time.sleep(interval_s)


async def async_wait_until(pred: Callable[[], T | Awaitable[T]], timeout_s: float,
                           what: str = "condition", interval_s: float = 0.02) -> T:
    """:func:`wait_until` for a coroutine: ``pred`` may be a plain or an async function."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        got = pred()
        if asyncio.iscoroutine(got):
            got = await got
        if got:
            return got  # type: ignore[return-value]
        if loop.time() >= deadline:
            raise AssertionError(f"not reached in {timeout_s:g} s: {what() if callable(what) else what}")
        await asyncio.sleep(interval_s)
