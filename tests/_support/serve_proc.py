"""``promlite serve`` as a subprocess over seeded data, for tests of what clients can do to it.

``seed`` writes series with the tsdb library before the server starts, so a
test has large answers to ask for without waiting for scrapes; ``ServeProc``
starts the server on ``127.0.0.1:<free port>`` with no scrape targets (the
log then holds only what the requests cause), waits for readiness, and keeps
stdout and stderr in one file for assertions on log lines.
"""

from __future__ import annotations

import http.client
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
from timing import cpu_seconds

READY = re.compile(r"Server is ready to receive web requests\. address=[\d.]+:(\d+)")
NO_TARGETS = "global:\n  scrape_interval: 1h\nscrape_configs: []\n"


def seed(data_dir: str, n_series: int, n_samples: int, step_ms: int = 15_000) -> tuple[int, int]:
    """Write ``n_series`` series of ``n_samples`` samples ending now; return ``(first_ms, last_ms)``."""
    import tsdb

    end = (int(time.time() * 1000) // step_ms) * step_ms
    ts = np.arange(end - (n_samples - 1) * step_ms, end + 1, step_ms, dtype=np.int64)
    with tsdb.open(data_dir) as db:
        app = db.appender()
        for i in range(n_series):
            app.append_series({"__name__": "big_series", "instance": f"host-{i:05d}:9100", "job": "seeded"},
                              ts, np.arange(n_samples, dtype=np.float64) * (i + 1) / 7)
        app.commit()
    return int(ts[0]), int(ts[-1])


class ServeProc:
    """One ``promlite serve`` subprocess; ``request`` makes one HTTP request on a fresh connection."""

    def __init__(self, cwd: str, *args: str, config: str = NO_TARGETS) -> None:
        with open(os.path.join(cwd, "prometheus.yml"), "w") as f:
            f.write(config)
        self.log_path = os.path.join(cwd, "serve.log")
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.p = subprocess.Popen(
            [sys.executable, "-m", "promlite.cli", "serve", "--web.listen-address=127.0.0.1:0",
             "--config.file=prometheus.yml", *args],
            cwd=cwd, stdout=self._log, stderr=subprocess.STDOUT, env=env)
        self.port = 0
        deadline = time.monotonic() + 60
        while not self.port:
            m = READY.search(self.text())
            if m:
                self.port = int(m.group(1))
                break
            assert self.p.poll() is None, self.text()
            assert time.monotonic() < deadline, self.text()
            time.sleep(0.1)

    def text(self) -> str:
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def lines(self) -> list[str]:
        return self.text().splitlines()

    def cpu_seconds(self) -> float | None:
        """User + system CPU time of the server so far (Linux ``/proc``), or None elsewhere."""
        return cpu_seconds(self.p.pid)

    def alive(self) -> bool:
        return self.p.poll() is None

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None, timeout: float = 60) -> tuple[int, bytes]:
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            return r.status, r.read()
        finally:
            c.close()

    def stop(self) -> int:
        """SIGTERM, then the exit status (a server already dead gives its status, e.g. -13 for SIGPIPE)."""
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
        try:
            return self.p.wait(30)
        finally:
            if self.p.poll() is None:
                self.p.kill()
            self._log.close()
