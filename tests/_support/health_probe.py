"""``/-/healthy`` asked every 20 ms from a thread while a test's request runs: is the event loop free?"""

from __future__ import annotations

import threading
import time

from serve_proc import ServeProc


class HealthProbe:
    """Asks ``/-/healthy`` on a fresh connection every 20 ms from a thread and keeps each latency."""

    def __init__(self, p: ServeProc) -> None:
        self.p = p
        self.latencies: list[float] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            t0 = time.perf_counter()
            try:
                status, _ = self.p.request("GET", "/-/healthy", timeout=30)
                if status != 200:
                    self.failures.append(f"status {status}")
            except OSError as e:
                self.failures.append(repr(e))
            self.latencies.append(time.perf_counter() - t0)
            self._stop.wait(0.02)

    def __enter__(self) -> HealthProbe:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(60)

    def p99(self) -> float:
        s = sorted(self.latencies)
        return s[min(len(s) - 1, int(len(s) * 0.99))]
