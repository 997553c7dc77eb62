"""Peers: find, start and stop Prometheus and VictoriaMetrics for side-by-side runs.

Strategy: a peer is a binary on PATH (Debian packages ``prometheus`` and
``victoria-metrics``). ``find_peers`` says which are present and their
versions; a missing peer is reported as such ("not installed"), never
dropped. ``Server`` starts one on 127.0.0.1 on a free port with its own
temporary data dir, waits (bounded) until it answers its health endpoint,
and stops it by the PID it started (SIGTERM, then SIGKILL after a grace
period). Servers are also stopped at interpreter exit, and on Linux they
get SIGTERM when the benchmark process dies however it dies
(``PR_SET_PDEATHSIG``), so a crashed or killed run leaves nothing running.

``Server`` also starts promlite's own HTTP server the same way, so that
HTTP latencies can be compared HTTP to HTTP.

Invariants: loopback only; every wait and every request has a timeout;
nothing here kills a process it did not start.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from .harness import MeasureError, proc_stats

PROMLITE = "promlite"
PROMETHEUS = "prometheus"
VICTORIAMETRICS = "victoriametrics"
PEER_NAMES = (PROMETHEUS, VICTORIAMETRICS)
_BINARIES = {PROMETHEUS: "prometheus", VICTORIAMETRICS: "victoria-metrics"}
_INSTALL_HINT = {PROMETHEUS: "apt-get install prometheus", VICTORIAMETRICS: "apt-get install victoria-metrics"}


@dataclass
class PeerInfo:
    name: str
    binary: str | None
    version: str | None

    @property
    def available(self) -> bool:
        return self.binary is not None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "binary": self.binary, "version": self.version,
                "status": "ok" if self.available else f"not installed ({_INSTALL_HINT[self.name]})"}


def _version(name: str, binary: str) -> str | None:
    try:
        if name == PROMETHEUS:
            out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10)
            first = (out.stdout or out.stderr).splitlines()[0]
            return first.split("version", 1)[1].split()[0]
        out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "victoria-metrics"],
                             capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or None
    except (OSError, IndexError, subprocess.SubprocessError):
        return None


def find_peers(disabled: frozenset[str] = frozenset()) -> dict[str, PeerInfo]:
    """Which peers are on PATH (``disabled`` ones are reported as missing)."""
    out = {}
    for name in PEER_NAMES:
        binary = None if name in disabled else shutil.which(_BINARIES[name])
        out[name] = PeerInfo(name, binary, _version(name, binary) if binary else None)
    return out


def promtool() -> str | None:
    return shutil.which("promtool")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_LIVE: set[Server] = set()
_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# ``promlite serve`` without going through promlite/cli.py (the server's own entry point).
_PROMLITE_LAUNCHER = (
    "import argparse, sys\n"
    "from promlite.server.serve import add_serve_arguments, serve_main\n"
    "p = argparse.ArgumentParser()\n"
    "add_serve_arguments(p)\n"
    "sys.exit(serve_main(p.parse_args()))\n"
)


class Server:
    """One running peer. Use as a context manager; ``stop()`` is idempotent.

    ``log_level`` is Prometheus's ``--log.level`` (e.g. "info" to get its
    start-up lines, read with ``log_text()`` before ``stop()``); the others log
    at their fixed levels.
    """

    def __init__(self, name: str, binary: str, data_dir: str | None = None, *,
                 ready_timeout_s: float = 90, extra_args: tuple[str, ...] = (), config_yaml: str | None = None,
                 log_level: str = "warn"):
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._own_dir = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix=f"promlite-bench-{name}-")
        os.makedirs(self.data_dir, exist_ok=True)
        self._log = open(os.path.join(tempfile.gettempdir(), f"promlite-bench-{name}-{self.port}.log"), "wb")
        if name == PROMETHEUS:
            cfg = os.path.join(self.data_dir, "bench-prometheus.yml")
            with open(cfg, "w") as f:
                f.write(config_yaml or "global:\n  scrape_interval: 15s\nscrape_configs: []\n")
            # Equal min/max block duration: no background compaction of the
            # backfilled blocks while queries are being timed.
            cmd = [binary, f"--config.file={cfg}", f"--storage.tsdb.path={self.data_dir}",
                   f"--web.listen-address=127.0.0.1:{self.port}", "--storage.tsdb.retention.time=100y",
                   "--storage.tsdb.min-block-duration=2h", "--storage.tsdb.max-block-duration=2h",
                   f"--log.level={log_level}", *extra_args]
            self._health = "/-/ready"
        elif name == VICTORIAMETRICS:
            # Cache off: repeated identical queries would otherwise be answered from
            # the rollup cache. latencyOffset 0: recent (here: all) data is visible.
            cmd = [binary, f"-storageDataPath={self.data_dir}", f"-httpListenAddr=127.0.0.1:{self.port}",
                   "-retentionPeriod=100y", "-search.latencyOffset=0s", "-search.disableCache",
                   "-loggerLevel=ERROR", *extra_args]
            self._health = "/health"
        elif name == PROMLITE:
            # promlite's own server, started like the peers, for HTTP-to-HTTP comparisons.
            cfg = os.path.join(self.data_dir, "bench-promlite.yml")
            with open(cfg, "w") as f:
                f.write(config_yaml or "global:\n  scrape_interval: 15s\nscrape_configs: []\n")
            cmd = [sys.executable, "-c", _PROMLITE_LAUNCHER, f"--config.file={cfg}",
                   f"--storage.tsdb.path={self.data_dir}", f"--web.listen-address=127.0.0.1:{self.port}",
                   "--storage.tsdb.retention.time=0", "--log.level=warn", *extra_args]
            self._health = "/-/ready"
        else:
            raise RuntimeError(f"BUG: unknown peer {name!r}")
        try:
            self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         cwd=_REPO if name == PROMLITE else self.data_dir,
                                         preexec_fn=_die_with_parent)
        except OSError as e:
            self._log.close()
            os.unlink(self._log.name)
            raise MeasureError(f"cannot start {name}: {e}") from None
        _LIVE.add(self)
        self._wait_ready(ready_timeout_s)

    def log_text(self) -> str:
        """Everything the server has logged so far (gone after ``stop``)."""
        self._log.flush()
        with open(self._log.name, "rb") as f:
            return f.read().decode(errors="replace")

    def _log_tail(self) -> str:
        try:
            with open(self._log.name, "rb") as f:
                return f.read()[-400:].decode(errors="replace").strip().replace("\n", " | ")
        except OSError:
            return ""

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = self._log_tail()
                self.stop()
                raise MeasureError(f"{self.name} exited with {self.proc.returncode} at start-up: {tail}")
            try:
                with urllib.request.urlopen(self.url + self._health, timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.02)
        tail = self._log_tail()
        self.stop()
        raise MeasureError(f"{self.name} not ready after {timeout_s:.0f} s: {tail}")

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stats(self) -> tuple[float, int, int]:
        """CPU seconds, RSS and peak RSS of the server process so far."""
        return proc_stats(self.pid)

    def get_json(self, path: str, params: dict[str, str] | None = None, timeout_s: float = 120) -> Any:
        url = self.url + path + ("?" + urllib.parse.urlencode(params) if params else "")
        try:
            with urllib.request.urlopen(url, timeout=timeout_s) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            body = e.read()[:300].decode(errors="replace")
            raise MeasureError(f"{self.name} {path}: HTTP {e.code}: {body}") from None

    def post_file(self, path: str, file_path: str, timeout_s: float = 600) -> None:
        size = os.path.getsize(file_path)
        with open(file_path, "rb") as body:
            req = urllib.request.Request(self.url + path, data=body, method="POST",
                                         headers={"Content-Length": str(size),
                                                  "Content-Type": "text/plain"})
            try:
                with urllib.request.urlopen(req, timeout=timeout_s) as r:
                    r.read()
            except urllib.error.HTTPError as e:
                raise MeasureError(f"{self.name} POST {path}: HTTP {e.code}: "
                                   f"{e.read()[:300].decode(errors='replace')}") from None

    def get_text(self, path: str, timeout_s: float = 60) -> str:
        with urllib.request.urlopen(self.url + path, timeout=timeout_s) as r:
            return r.read().decode(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        _LIVE.discard(self)
        if not self._log.closed:
            self._log.close()
            try:
                os.unlink(self._log.name)
            except OSError:
                pass
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def vm_import(server: Server, promtext_path: str) -> None:
    """Import a Prometheus-text file (ms timestamps) and make it searchable and on disk."""
    server.post_file("/api/v1/import/prometheus", promtext_path)
    server.get_text("/internal/force_flush")


def dir_bytes(path: str) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for fn in files:
            try:
                total += os.path.getsize(os.path.join(root, fn))
            except OSError:
                pass
    return total


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM when the benchmark process dies, even by SIGKILL."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):
        pass  # not Linux: atexit still stops the servers on a normal exit


@atexit.register
def _stop_all() -> None:
    for s in list(_LIVE):
        s.stop()
