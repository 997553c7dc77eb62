"""What the HTTP handlers share: the DB, the engine, the scrape manager, flags.

One :class:`ServerState` per server, stored in the aiohttp application as
``app[STATE]``. Handlers read it; only ``serve.py`` (reload, readiness)
writes it. Blocking work (PromQL evaluation, index lookups, deletes) runs on
``executor``, a thread pool separate from the scrape manager's ingest pool,
so a slow query never holds the event loop and never queues ahead of a
scrape's append.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .selfmetrics import SelfMetrics

STATE: web.AppKey[ServerState] = web.AppKey("promlite_state")

# Grafana's data source gives up after 60 s by default; stay below it.
DEFAULT_QUERY_TIMEOUT_S = 60.0
# Prometheus's --query.max-concurrency default
DEFAULT_MAX_CONCURRENCY = 20


@dataclass
class ServerState:
    """Shared objects of one server (see module docstring)."""

    db: Any  # None until storage is open (the server answers 503 meanwhile)
    engine: Any
    scrape_manager: Any = None
    config_text: str = ""
    config_file: str = ""
    flags: dict[str, str] = field(default_factory=dict)
    enable_admin_api: bool = False
    enable_lifecycle: bool = False
    query_timeout_s: float = DEFAULT_QUERY_TIMEOUT_S
    lookback_delta_ms: int = 300_000
    max_samples: int = 50_000_000
    retention: str = "15d"
    reload: Callable[[], Awaitable[None]] | None = None
    ready: bool = True
    start_time: float = field(default_factory=time.time)
    cwd: str = field(default_factory=os.getcwd)
    query_workers: int = 2
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    executor: ThreadPoolExecutor | None = None
    metrics: SelfMetrics | None = None
    #: the alert notifier (``promlite.rules.notifier.Notifier``), when one runs: /api/v1/alertmanagers, /metrics
    notifier: Any = None
    #: the rule manager (``promlite.rules.manager.RuleManager``): /api/v1/rules, /api/v1/alerts, /metrics
    rule_manager: Any = None

    def __post_init__(self) -> None:
        if self.executor is None:
            self.executor = ThreadPoolExecutor(max_workers=self.query_workers, thread_name_prefix="query")
        if self.metrics is None:
            self.metrics = SelfMetrics(lambda: self.db, lambda: self.scrape_manager, lambda: self.notifier)
        self.metrics.queries_concurrent_max.set(self.max_concurrency)
        self._gate: asyncio.Semaphore | None = None

    def query_gate(self) -> asyncio.Semaphore:
        """The ``--query.max-concurrency`` semaphore (created on first use, on the server's loop; FIFO)."""
        if self._gate is None:
            self._gate = asyncio.Semaphore(max(1, self.max_concurrency))
        return self._gate

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run blocking ``fn(*args)`` on the query pool."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    def prime_workers(self, fn: Callable[[], Any], timeout_s: float = 60.0) -> None:
        """Run ``fn()`` once on every query worker thread, creating them all; blocks until done.

        For per-thread state that a first query would otherwise build while a
        client waits (the PromQL parser's tables). Each task holds its thread
        at a barrier until all have run, so no two land on the same thread.
        """
        n = self.query_workers
        barrier = threading.Barrier(n)

        def once() -> None:
            fn()
            barrier.wait(timeout_s)

        for f in [self.executor.submit(once) for _ in range(n)]:  # type: ignore[union-attr]
            f.result(timeout_s)

    def close(self) -> None:
        if self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=True)
