"""startup: what a user meets first -- command latency, time to ready, the first query, install size, idle RSS.

* ``--version``: a fresh process printing its version (promlite's console
  script; ``prometheus --version``; ``victoria-metrics -version``), wall time.
* start to ready on an empty data directory: process spawn until
  ``/-/ready`` (VictoriaMetrics: ``/health``) answers 200.
* the first query after ready, ``rate(<a self-monitoring counter>[5m])``:
  the latency of the very first request, which is where run-time
  compilation used to show (seconds) -- with kernels compiled ahead of time
  it must cost what any later query costs.
* the README's library example in a fresh interpreter, first run (promlite only).
* the size of a fresh venv after ``pip install`` of this checkout's wheel
  (promlite only; full runs: it builds and installs, about a minute).
* RSS of the server scraping a loopback target of 1,500 series every second
  for a while (promlite and Prometheus; VictoriaMetrics does not scrape
  without vmagent: n/a).

Every wait is bounded; servers stop with the suite.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from ..harness import MeasureError, Stat, proc_stats
from ..peers import PROMETHEUS, PROMLITE, VICTORIAMETRICS, Server, dir_bytes
from . import NA, Context, Row, SuiteResult

NAME = "startup"
TITLE = "start-up, first query, install size, idle memory"
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
#: a counter every system exposes about itself, for the first-query figure
FIRST_QUERY = {
    PROMLITE: "rate(prometheus_http_requests_total[5m])",
    PROMETHEUS: "rate(prometheus_http_requests_total[5m])",
    VICTORIAMETRICS: "rate(vm_http_requests_total[5m])",
}
SCRAPE_SERIES = 1500


def _promlite_cmd() -> list[str]:
    """The installed console script when it is beside this interpreter, else ``-m promlite.cli``."""
    script = os.path.join(os.path.dirname(sys.executable), "promlite")
    return [script] if os.access(script, os.X_OK) else [sys.executable, "-m", "promlite.cli"]


def _wall(cmd: list[str], runs: int, cwd: str | None = None) -> Stat:
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, timeout=120, cwd=cwd)
        out.append(time.perf_counter() - t0)
        if r.returncode != 0:
            raise MeasureError(f"{' '.join(cmd)} exited {r.returncode}: {r.stderr[-300:].decode(errors='replace')}")
    return Stat(out, "s")


def _ready_and_first_query(name: str, binary: str, runs: int) -> tuple[Stat, Stat]:
    """Seconds from spawn to ready, and ms of the first query after ready, over fresh data directories."""
    ready, first = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        with Server(name, binary) as srv:
            ready.append(time.perf_counter() - t0)
            t1 = time.perf_counter()
            srv.get_json("/api/v1/query", {"query": FIRST_QUERY[name]})
            first.append((time.perf_counter() - t1) * 1000)
    return Stat(ready, "s"), Stat(first, "ms")


def _readme_example(runs: int) -> Stat:
    with open(os.path.join(REPO, "README.md")) as f:
        blocks = re.findall(r"```python\n(.*?)```", f.read(), flags=re.S)
    if not blocks:
        raise MeasureError("README.md has no python example")
    out = []
    for _ in range(runs):
        d = tempfile.mkdtemp(prefix="promlite-readme-")
        try:
            t0 = time.perf_counter()
            r = subprocess.run([sys.executable, "-c", blocks[0]], cwd=d, capture_output=True, timeout=300)
            out.append(time.perf_counter() - t0)
            if r.returncode != 0:
                raise MeasureError(f"README example failed: {r.stderr[-300:].decode(errors='replace')}")
        finally:
            shutil.rmtree(d, ignore_errors=True)
    return Stat(out, "s")


def _venv_mb(work: str) -> float:
    """MB of a fresh venv after installing this checkout's wheel (and its dependencies)."""
    wheels = os.path.join(work, "wheels")
    venv = os.path.join(work, "venv")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", wheels, REPO],
                   check=True, capture_output=True, timeout=900)
    subprocess.run([sys.executable, "-m", "venv", venv], check=True, capture_output=True, timeout=300)
    (wheel,) = glob.glob(os.path.join(wheels, "promlite-*.whl"))
    r = subprocess.run([os.path.join(venv, "bin", "pip"), "install", "-q", wheel], capture_output=True,
                       timeout=900)
    if r.returncode != 0:
        raise MeasureError(f"pip install failed: {r.stderr[-300:].decode(errors='replace')}")
    return dir_bytes(venv) / 1e6


class _Target:
    """A loopback exposition of ``n`` gauges whose values move every scrape."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.scrapes = 0
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # http.server's method name
                k = target.scrapes
                target.scrapes += 1
                body = "".join(f'idle_metric_{i % 50}{{i="{i}"}} {(i * 7 + k) % 1000}\n'
                               for i in range(target.n)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.address = f"127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _scrape_rss(name: str, binary: str, seconds: float) -> float:
    """MiB of RSS of a server that scraped 1,500 series every second for ``seconds``."""
    target = _Target(SCRAPE_SERIES)
    cfg = ("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n"
           f"  - job_name: idle\n    static_configs:\n      - targets: ['{target.address}']\n")
    try:
        with Server(name, binary, config_yaml=cfg) as srv:
            deadline = time.monotonic() + seconds + 60
            while target.scrapes < seconds and time.monotonic() < deadline:
                time.sleep(0.2)
            if target.scrapes < seconds:
                raise MeasureError(f"{name} scraped {target.scrapes} times in time, wanted {seconds:.0f}")
            _, rss, _ = proc_stats(srv.pid)
    finally:
        target.close()
    return rss / 2**20


def run(ctx: Context) -> SuiteResult:
    res = SuiteResult(NAME, TITLE)
    runs = 3 if ctx.quick else max(3, ctx.runs)
    binaries = {PROMLITE: sys.executable}
    for peer in (PROMETHEUS, VICTORIAMETRICS):
        info = ctx.peers[peer]
        if info.available:
            binaries[peer] = info.binary
    task = ctx.task("start-up and first query", 5)

    version_cmd = {PROMLITE: [*_promlite_cmd(), "--version"], PROMETHEUS: [binaries.get(PROMETHEUS, ""), "--version"],
                   VICTORIAMETRICS: [binaries.get(VICTORIAMETRICS, ""), "-version"]}
    version: dict[str, Stat | str] = {}
    for name in binaries:
        try:
            version[name] = _wall(version_cmd[name], runs)
        except MeasureError as e:
            version[name] = f"error: {e}"[:200]
    ctx.advance(task)

    ready, first = {}, {}
    for name, binary in binaries.items():
        try:
            ready[name], first[name] = _ready_and_first_query(name, binary, runs)
        except MeasureError as e:
            ready[name] = first[name] = f"error: {e}"[:200]
    ctx.advance(task)

    def values(d: dict) -> dict:
        """One value per system: what was measured, else why not (not installed / n/a)."""
        return {s: d[s] if s in d else (ctx.peer_value(s) if s != PROMLITE else None) or NA
                for s in (PROMLITE, PROMETHEUS, VICTORIAMETRICS)}

    res.rows.append(Row("`--version`, fresh process", "s", values(version)))
    res.rows.append(Row("start to ready, empty data directory", "s", values(ready)))
    res.rows.append(Row("first query after ready, rate(<own counter>[5m])", "ms", values(first)))

    try:
        readme = _readme_example(1 if ctx.quick else runs)
    except MeasureError as e:
        readme = f"error: {e}"[:200]
    res.rows.append(Row("README library example, fresh interpreter", "s",
                        {PROMLITE: readme, PROMETHEUS: NA, VICTORIAMETRICS: NA}))
    ctx.advance(task)

    if ctx.quick:
        venv = "skipped in --quick (builds and installs a wheel)"
    else:
        work = tempfile.mkdtemp(prefix="promlite-venv-size-", dir=ctx.workspace.root)
        try:
            venv = _venv_mb(work)
        except (MeasureError, subprocess.SubprocessError) as e:
            venv = f"error: {e}"[:200]
        finally:
            shutil.rmtree(work, ignore_errors=True)
    res.rows.append(Row("venv after pip install of the wheel", "MB",
                        {PROMLITE: venv, PROMETHEUS: NA, VICTORIAMETRICS: NA}))
    ctx.advance(task)

    seconds = 10 if ctx.quick else 60
    rss = {}
    for name in (PROMLITE, PROMETHEUS):
        if name in binaries:
            try:
                rss[name] = _scrape_rss(name, binaries[name], seconds)
            except MeasureError as e:
                rss[name] = f"error: {e}"[:200]
    rss[VICTORIAMETRICS] = NA
    res.rows.append(Row(f"server RSS after {seconds} s scraping {SCRAPE_SERIES:,} series every 1 s", "MiB",
                        values(rss)))
    ctx.done(task)
    res.note = f"{runs} runs per timing; data directories empty and fresh for each start"
    return res
