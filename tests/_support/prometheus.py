"""Run the real ``prometheus`` binary in a test: the referee for on-disk formats.

What it gives
-------------
* :class:`Prometheus` starts Debian's ``prometheus`` on ``127.0.0.1`` over a
  data dir the test chooses, with a generated ``prometheus.yml`` (static scrape
  targets, a scrape interval), a free port and optional extra flags (the hidden
  ``--storage.tsdb.min-block-duration`` / ``max-block-duration``,
  ``--[no-]storage.tsdb.wal-compression``, ...). It waits for ``/-/ready``,
  answers ``query`` / ``query_range`` / ``series`` through ``urllib``, stops
  the server cleanly (SIGTERM, wait) or kills it (SIGKILL), and returns its log.
* :class:`StaticTarget` is a scrape target: a threaded HTTP server on
  ``127.0.0.1`` serving a Prometheus text exposition body that the test can
  change between scrapes (a fixed body, or a function of the scrape number).
* :func:`exposition` writes such a body for a few hundred counters and gauges.

Why a separate work dir
-----------------------
The config file and the log live in ``work_dir``, never in the data dir, so the
data dir holds only what Prometheus wrote (tests hash, copy and parse it).

Safety
------
Loopback only. Every wait and every HTTP request has a timeout. A server is
bounded in time: a watchdog SIGKILLs it after ``max_lifetime_s``; on Linux it
also gets SIGTERM if the test process dies (``PR_SET_PDEATHSIG``), and
:func:`atexit` stops what is left. A server is only ever signalled through the
PID this module started.

A missing binary skips the test via :func:`_requirements.require_tool` (and
fails it under CI, where ``.ci/run`` installs the ``prometheus`` package).
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from _requirements import require_tool

__all__ = [
    "Prometheus",
    "PrometheusError",
    "StaticTarget",
    "exposition",
    "free_port",
    "require_prometheus",
]

_LIVE: set[Prometheus] = set()


class PrometheusError(AssertionError):
    """Prometheus did not start, answered an error, or would not stop; the message has its log tail.

    An ``AssertionError`` so that pytest reports it as a test failure, not an error in the helper.
    """


def require_prometheus() -> str:
    """Path of the ``prometheus`` binary; skips the test (fails under CI) when it is missing."""
    return require_tool("prometheus")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the kernel's pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the test process dies, even by SIGKILL (Linux)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: the watchdog and atexit still stop the server


def _config_yaml(targets: Sequence[str], scrape_interval: str, scrape_timeout: str | None,
                 job: str) -> str:
    """A minimal prometheus.yml: one static job over ``targets`` (none: no scrape config)."""
    lines = ["global:", f"  scrape_interval: {scrape_interval}"]
    if scrape_timeout is not None:
        lines.append(f"  scrape_timeout: {scrape_timeout}")
    if not targets:
        lines.append("scrape_configs: []")
    else:
        lines += ["scrape_configs:", f"  - job_name: {json.dumps(job)}",
                  "    static_configs:", "      - targets:"]
        lines += [f"          - {json.dumps(t)}" for t in targets]
    return "\n".join(lines) + "\n"


class Prometheus:
    """One real Prometheus server over ``data_dir``; a context manager (``stop()`` on exit).

    Parameters
    ----------
    data_dir
        ``--storage.tsdb.path``; created if missing. Nothing else is written there.
    targets
        ``host:port`` of the static scrape targets (job ``job``); empty for no scraping.
    scrape_interval, scrape_timeout
        Prometheus durations (``"1s"``, ``"100ms"``); the timeout must not exceed the interval.
    extra_flags
        More command-line flags, e.g. ``("--storage.tsdb.min-block-duration=1m",)``.
    extra_config
        YAML appended to ``prometheus.yml``, e.g. ``"storage:\n  tsdb:\n    out_of_order_time_window: 1h\n"``.
    work_dir
        Where ``prometheus.yml`` and ``prometheus.log`` go (a fresh temp dir by default).
    max_lifetime_s
        The watchdog SIGKILLs the server this long after start, whatever the test does.
    """

    def __init__(self, data_dir: str | os.PathLike[str], *, targets: Sequence[str] = (),
                 scrape_interval: str = "1s", scrape_timeout: str | None = None,
                 extra_flags: Iterable[str] = (), work_dir: str | os.PathLike[str] | None = None,
                 binary: str | None = None, job: str = "static", log_level: str = "info",
                 ready_timeout_s: float = 60.0, max_lifetime_s: float = 600.0,
                 start: bool = True, extra_config: str = "") -> None:
        self.binary = binary or require_prometheus()
        self.data_dir = os.fspath(data_dir)
        self.work_dir = os.fspath(work_dir) if work_dir is not None else tempfile.mkdtemp(
            prefix="promlite-test-prometheus-")
        self.config_path = os.path.join(self.work_dir, "prometheus.yml")
        self.log_path = os.path.join(self.work_dir, "prometheus.log")
        self.config_yaml = _config_yaml(list(targets), scrape_interval, scrape_timeout, job) + extra_config
        self.extra_flags = tuple(extra_flags)
        self.log_level = log_level
        self.ready_timeout_s = ready_timeout_s
        self.max_lifetime_s = max_lifetime_s
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.returncode: int | None = None
        self._watchdog: threading.Timer | None = None
        if start:
            self.start()

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise PrometheusError("prometheus was not started")
        return self.proc.pid

    def command(self) -> list[str]:
        """The full command line (for messages and for the curious)."""
        return [self.binary, f"--config.file={self.config_path}",
                f"--storage.tsdb.path={self.data_dir}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                f"--log.level={self.log_level}", *self.extra_flags]

    def start(self) -> Prometheus:
        """Start the server and wait (bounded) for ``/-/ready``; retries once per port clash."""
        if self.proc is not None:
            raise PrometheusError("prometheus already started; one Prometheus object runs once")
        os.makedirs(self.data_dir, exist_ok=True)
        os.makedirs(self.work_dir, exist_ok=True)
        with open(self.config_path, "w") as f:
            f.write(self.config_yaml)
        for attempt in range(3):
            self.port = free_port()
            self._spawn()
            try:
                self._wait_ready()
                return self
            except PrometheusError:
                if attempt < 2 and "address already in use" in self.log():
                    self.proc = None  # it exited on its own: another process took the port
                    continue
                raise
        raise RuntimeError("BUG: unreachable")

    def _spawn(self) -> None:
        log = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, cwd=self.work_dir,
                                         preexec_fn=_die_with_parent)
        finally:
            log.close()  # the child holds its own descriptor
        self.returncode = None
        _LIVE.add(self)
        proc = self.proc
        self._watchdog = threading.Timer(self.max_lifetime_s, self._expire, args=(proc,))
        self._watchdog.daemon = True
        self._watchdog.start()

    def _expire(self, proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            proc.kill()

    def _wait_ready(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + self.ready_timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self._reap()
                raise PrometheusError(f"prometheus exited with {self.proc.returncode} at start-up; "
                                      f"log tail:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url + "/-/ready", timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.05)
        self.kill()
        raise PrometheusError(f"prometheus not ready after {self.ready_timeout_s:.0f} s; "
                              f"log tail:\n{self.log_tail()}")

    def _reap(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
        _LIVE.discard(self)
        if self.proc is not None:
            self.returncode = self.proc.returncode

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout_s: float = 60.0) -> int:
        """SIGTERM and wait: a clean shutdown (Prometheus closes the head and flushes its files).

        Returns the exit code. If the server does not exit within ``timeout_s`` it is
        SIGKILLed and :class:`PrometheusError` is raised: a clean stop that hangs is a finding.
        """
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
                self._reap()
                raise PrometheusError(f"prometheus ignored SIGTERM for {timeout_s:.0f} s; killed. "
                                      f"log tail:\n{self.log_tail()}") from None
        self._reap()
        return int(self.proc.returncode)

    def kill(self) -> int:
        """SIGKILL and reap: a crash (nothing flushed that was not already written)."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
        self._reap()
        return int(self.proc.returncode)

    def __enter__(self) -> Prometheus:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.running():
            return
        if exc[0] is not None:
            self.kill()  # the test failed already: no need to wait for a clean shutdown
        else:
            self.stop()

    # ------------------------------------------------------------------ log

    def log(self) -> str:
        """Everything the server logged so far (all runs of this object)."""
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def log_tail(self, n: int = 20) -> str:
        return "\n".join(self.log().splitlines()[-n:])

    # ------------------------------------------------------------------ HTTP API

    def api(self, path: str, params: dict[str, Any] | Sequence[tuple[str, Any]] | None = None,
            timeout_s: float = 30.0) -> Any:
        """GET ``/api/v1/<path>`` and return ``data``; an error status raises PrometheusError."""
        query = "?" + urllib.parse.urlencode(params, doseq=True) if params else ""
        url = f"{self.url}/api/v1/{path.lstrip('/')}{query}"
        try:
            with urllib.request.urlopen(url, timeout=timeout_s) as r:
                body = json.loads(r.read())
        except urllib.error.HTTPError as e:
            raise PrometheusError(f"GET {url}: HTTP {e.code}: "
                                  f"{e.read()[:500].decode(errors='replace')}") from None
        if body.get("status") != "success":
            raise PrometheusError(f"GET {url}: {body}")
        return body["data"]

    def query(self, expr: str, time_s: float | None = None) -> Any:
        """An instant query; returns ``data`` (``resultType`` and ``result``)."""
        params: dict[str, Any] = {"query": expr}
        if time_s is not None:
            params["time"] = repr(float(time_s))
        return self.api("query", params)

    def query_range(self, expr: str, start_s: float, end_s: float, step_s: float) -> Any:
        """A range query; returns ``data``."""
        return self.api("query_range", {"query": expr, "start": repr(float(start_s)),
                                        "end": repr(float(end_s)), "step": repr(float(step_s))})

    def series(self, *matchers: str, start_s: float | None = None,
               end_s: float | None = None) -> list[dict[str, str]]:
        """Label sets of the series matching any of ``matchers``."""
        params: list[tuple[str, Any]] = [("match[]", m) for m in matchers]
        if start_s is not None:
            params.append(("start", repr(float(start_s))))
        if end_s is not None:
            params.append(("end", repr(float(end_s))))
        return list(self.api("series", params))

    def raw_samples(self, selector: str, window: str = "1d",
                    time_s: float | None = None) -> dict[tuple[tuple[str, str], ...],
                                                         list[tuple[int, str]]]:
        """Every stored sample of the matching series in the last ``window``, as Prometheus has them.

        An instant query of a range selector (``sel[window]``) returns raw samples, not
        step-aligned ones. Keys are sorted label pairs; values are ``(t_ms, value_text)``
        with the value as Prometheus formats it (``"NaN"``, ``"+Inf"``, ...).
        """
        data = self.query(f"{selector}[{window}]", time_s)
        if data["resultType"] != "matrix":
            raise PrometheusError(f"{selector}[{window}] gave a {data['resultType']}, not a matrix")
        out = {}
        for s in data["result"]:
            key = tuple(sorted(s["metric"].items()))
            out[key] = [(round(float(t) * 1000), v) for t, v in s["values"]]
        return out


@atexit.register
def _stop_all() -> None:
    for p in list(_LIVE):
        try:
            p.kill()
        except Exception:  # best effort at interpreter exit
            pass


# ---------------------------------------------------------------------- static target


class StaticTarget:
    """A scrape target on 127.0.0.1 serving a text exposition body the test controls.

    Either a fixed body (:meth:`set_body`) or ``body_fn(n)``, called for the ``n``-th scrape
    (0-based), which lets counters grow scrape after scrape. :attr:`scrapes` counts answered
    scrapes; :meth:`wait_scrapes` waits (bounded) for a number of them. A context manager.
    """

    def __init__(self, body: bytes | str = b"", *,
                 body_fn: Callable[[int], bytes | str] | None = None, path: str = "/metrics") -> None:
        self._lock = threading.Condition()
        self._body = body.encode() if isinstance(body, str) else body
        self._body_fn = body_fn
        self.path = path
        self.scrapes = 0
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # http.server's method name
                if self.path.split("?", 1)[0] != target.path:
                    self.send_error(404)
                    return
                payload = target._next_body()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: object) -> None:
                pass  # quiet: one line per scrape would flood the test output

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.1}, daemon=True,
                                        name=f"static-target-{self.port}")
        self._thread.start()

    @property
    def address(self) -> str:
        """``host:port``, as a scrape config's ``targets`` entry."""
        return f"127.0.0.1:{self.port}"

    def set_body(self, body: bytes | str) -> None:
        """Serve ``body`` from the next scrape on (and stop calling ``body_fn``)."""
        with self._lock:
            self._body = body.encode() if isinstance(body, str) else body
            self._body_fn = None

    def _next_body(self) -> bytes:
        with self._lock:
            n = self.scrapes
            if self._body_fn is not None:
                b = self._body_fn(n)
                body = b.encode() if isinstance(b, str) else b
            else:
                body = self._body
            self.scrapes = n + 1
            self._lock.notify_all()
            return body

    def wait_scrapes(self, n: int, timeout_s: float) -> int:
        """Wait until at least ``n`` scrapes were answered; returns the count (may be < n on timeout)."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while self.scrapes < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._lock.wait(left)
            return self.scrapes

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> StaticTarget:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def exposition(scrape: int, counters: int = 100, gauges: int = 100, prefix: str = "demo") -> bytes:
    """A text exposition body for scrape number ``scrape``: counters that grow, gauges that move.

    Counter ``i`` is ``(i + 1) * scrape`` (a different slope per series); gauge ``i`` is
    ``i + (scrape % 7) * 0.25`` -- values are distinct across series at most scrapes, so a
    sample identifies its series, and exactly representable, so text round trips are exact.
    """
    lines = [f"# HELP {prefix}_requests_total A counter per series.",
             f"# TYPE {prefix}_requests_total counter"]
    lines += [f'{prefix}_requests_total{{series="{i}"}} {(i + 1) * scrape}' for i in range(counters)]
    lines += [f"# HELP {prefix}_level A gauge per series.", f"# TYPE {prefix}_level gauge"]
    lines += [f'{prefix}_level{{series="{i}"}} {i + (scrape % 7) * 0.25}' for i in range(gauges)]
    return ("\n".join(lines) + "\n").encode()


# ---------------------------------------------------------------------- checks

REPAIR_WORDS = ("repair", "corrupt", "deleting", "error")


def tree_hashes(path: str) -> dict[str, str]:
    """SHA-256 of every file under ``path``, by relative name (to show that nothing changed)."""
    out = {}
    for root, _dirs, files in os.walk(path):
        for f in files:
            p = os.path.join(root, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, path)] = hashlib.sha256(fh.read()).hexdigest()
    return out


def as_floats(raw: dict) -> dict[tuple, list[tuple[int, float]]]:
    """:meth:`Prometheus.raw_samples` with float values."""
    return {k: [(t, float(v)) for t, v in vals] for k, vals in raw.items()}


def assert_no_repair(log: str) -> None:
    """No line of Prometheus's log repairs, deletes or complains (its messages, not its file names)."""
    bad = [line for line in log.splitlines()
           if "level=error" in line or any(w in line.split("msg=", 1)[-1].lower() for w in REPAIR_WORDS)]
    assert not bad, "Prometheus repaired or deleted something:\n" + "\n".join(bad)
