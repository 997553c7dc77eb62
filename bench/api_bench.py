"""HTTP API benchmark: promlite's ``/api/v1`` side by side with Prometheus on the same data.

What is measured (issue 5, "Performance"), for each system in turn:

* ``query_range`` of a selector matching every series of the dataset (1,000
  in the full run) over 240 steps: latency (median and p90 of several runs
  after a warm-up) from sending the request to having read the whole JSON
  body, and the body size;
* requests/s and latency (median, p90) under bounded concurrent load (N
  aiohttp clients on one event loop for D seconds) for ``/api/v1/labels``,
  ``/api/v1/label/__name__/values``, a single-series instant query and a
  ``sum by (job) (rate(...[5m]))`` at one instant;
* each of these twice: with ``Accept-Encoding: identity`` (the API's own
  cost) and ``Accept-Encoding: gzip`` (what Grafana's Go HTTP client sends;
  both servers then compress, Prometheus even a 150-byte label list, and
  the client's gunzip is inside the timing);
* CPU seconds of the server process over each phase (utime + stime from
  ``/proc/PID/stat``) and its peak RSS (``VmHWM`` from ``/proc/PID/status``).

Strategy: one OpenMetrics file from the shared generator
(``shared/datasets/gen_openmetrics.py``, called, never copied) is backfilled
twice, with ``promlite tsdb create-blocks-from openmetrics`` and ``promtool
tsdb create-blocks-from openmetrics``; then each server is started on its own
blocks with a config that has no scrape targets (the data does not move
during the run) and a 100 y retention (the data is from 2024), measured, and
stopped before the other one starts -- the machine has 2 cores, and the
client runs on them too. The client's own CPU time is recorded with each
load run: when it is close to the wall time, the figure is the client's
limit, not the server's.

Invariants: loopback only; every load run is bounded in time and in request
count, every request and every wait has a timeout; servers are stopped by the
PID this module started (SIGTERM, then SIGKILL after a grace period), in a
``finally``, and get SIGTERM if this process dies (``PR_SET_PDEATHSIG``);
nothing here touches a process it did not start. Figures are noisy on a
shared machine, so ``/proc/loadavg`` is written with them.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
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
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import numpy as np

PROMLITE = "promlite"
PROMETHEUS = "prometheus"
SYSTEMS = (PROMLITE, PROMETHEUS)
JSON_NAME = "api_bench.json"
_GENERATOR = "gen_openmetrics.py"
_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_CONFIG = "global:\n  scrape_interval: 15s\nscrape_configs: []\n"
# "identity": the API's own cost; "gzip": what Grafana's Go client asks for (both servers then compress)
ENCODINGS = ("identity", "gzip")
_MAX_REQUESTS_PER_LOAD = 200_000  # a bound independent of time, far above what 2 cores serve
CLIENT_BOUND_SHARE = 0.6  # client CPU s per wall s above which a load run's req/s is flagged


class BenchError(Exception):
    """A system could not be prepared or measured; the message goes into its column."""


@dataclass(frozen=True)
class Params:
    """Sizes of one run; ``quick`` is the smoke-test size (well under a minute)."""

    series: int
    hours: float
    steps: int
    step_s: int
    warmup: int
    runs: int
    clients: int
    load_seconds: float
    idle_seconds: float

    @classmethod
    def for_mode(cls, quick: bool) -> Params:
        if quick:
            return cls(series=200, hours=2, steps=240, step_s=15, warmup=1, runs=3,
                       clients=8, load_seconds=1.0, idle_seconds=0.5)
        return cls(series=1000, hours=2, steps=240, step_s=15, warmup=2, runs=10,
                   clients=8, load_seconds=10.0, idle_seconds=3.0)


# --------------------------------------------------------------------------- pure helpers

def cpu_seconds_from_stat(stat: str, clk_tck: int) -> float:
    """utime + stime of a ``/proc/PID/stat`` line, in seconds.

    The command name (field 2) may contain spaces and parentheses, so the
    fields are counted from the last ``)``: utime and stime are fields 14
    and 15 of proc(5), i.e. the 12th and 13th after the name.
    """
    rest = stat[stat.rindex(")") + 2:].split()
    return (int(rest[11]) + int(rest[12])) / clk_tck


def status_kib(status: str, key: str) -> int | None:
    """A ``kB`` field (``VmHWM``, ``VmRSS``) of ``/proc/PID/status``, in KiB."""
    for line in status.splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return None


def summarize(latencies_s: list[float]) -> dict[str, float | None]:
    """Median and p90 in milliseconds (None when nothing was measured)."""
    if not latencies_s:
        return {"median_ms": None, "p90_ms": None}
    a = np.asarray(latencies_s, dtype=np.float64) * 1e3
    return {"median_ms": round(float(np.median(a)), 3),
            "p90_ms": round(float(np.percentile(a, 90)), 3)}


def ratio(a: Any, b: Any) -> float | None:
    """a / b when both are positive numbers, else None."""
    if isinstance(a, int | float) and isinstance(b, int | float) and a > 0 and b > 0:
        return round(a / b, 3)
    return None


def format_table(rows: list[dict[str, Any]]) -> str:
    """Rows of ``{test, promlite, prometheus, ratio}`` as an aligned text table."""
    def cell(v: Any) -> str:
        if v is None:
            return "-"
        if isinstance(v, float):
            return f"{v:,.3f}" if abs(v) < 100 else f"{v:,.1f}"
        if isinstance(v, int):
            return f"{v:,}"
        return str(v)

    header = ["test", PROMLITE, PROMETHEUS, "ratio promlite/prometheus"]
    body = [[cell(r["test"]), cell(r[PROMLITE]), cell(r[PROMETHEUS]), cell(r["ratio"])] for r in rows]
    widths = [max(len(x[i]) for x in [header, *body]) for i in range(4)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for b in body:
        lines.append("  ".join([b[0].ljust(widths[0])] + [x.rjust(w) for x, w in zip(b[1:], widths[1:], strict=True)]))
    return "\n".join(lines)


def git_revision() -> str | None:
    """HEAD of the checkout being measured, ``+dirty`` with uncommitted changes to tracked files (read-only)."""
    try:
        head = subprocess.run(["git", "-C", _REPO, "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", _REPO, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return (head + ("+dirty" if dirty else "")) or None


def loadavg() -> list[float] | None:
    try:
        with open("/proc/loadavg") as f:
            return [float(x) for x in f.read().split()[:3]]
    except OSError:
        return None


# --------------------------------------------------------------------------- processes

def find_shared_datasets() -> str | None:
    """``shared/datasets`` (with the generator): ``$PROMLITE_BENCH_SHARED``, beside the repo, /work/shared."""
    candidates = []
    if os.environ.get("PROMLITE_BENCH_SHARED"):
        candidates.append(os.path.join(os.environ["PROMLITE_BENCH_SHARED"], "datasets"))
    candidates += [os.path.join(_REPO, "..", "shared", "datasets"), "/work/shared/datasets"]
    for c in candidates:
        if os.path.isfile(os.path.join(c, _GENERATOR)):
            return os.path.abspath(c)
    return None


def promlite_command() -> list[str]:
    """The ``promlite`` entry point of this interpreter's environment (else the one on PATH)."""
    sibling = os.path.join(os.path.dirname(sys.executable), "promlite")
    if os.path.isfile(sibling) and os.access(sibling, os.X_OK):
        return [sibling]
    found = shutil.which("promlite")
    if found:
        return [found]
    return [sys.executable, "-c", "import sys; from promlite.cli import main; sys.exit(main())"]


def _die_with_parent() -> None:
    """Child side of Popen: SIGTERM when the benchmark process dies (Linux only)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(cmd: list[str], timeout: float, what: str) -> float:
    """Run a preparation command to completion; its wall time in seconds."""
    t0 = time.perf_counter()
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise BenchError(f"{what} took more than {timeout:.0f} s") from e
    except OSError as e:
        raise BenchError(f"{what}: {e}") from e
    if out.returncode != 0:
        tail = (out.stderr or out.stdout).strip().splitlines()[-3:]
        raise BenchError(f"{what} exited {out.returncode}: {' | '.join(tail)}")
    return time.perf_counter() - t0


class Server:
    """One server process we started: its PID, base URL, CPU and memory readings, and stop()."""

    def __init__(self, name: str, cmd: list[str], port: int, log_path: str):
        self.name = name
        self.base = f"http://127.0.0.1:{port}"
        self._log = open(log_path, "wb")  # noqa: SIM115 -- closed in stop()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        self.pid = self.proc.pid
        self._clk = os.sysconf("SC_CLK_TCK")

    def wait_ready(self, timeout: float) -> float:
        """Poll ``/-/ready`` until 200 (bounded); seconds it took."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                raise BenchError(f"{self.name} exited {self.proc.returncode} at startup (log: {self._log.name})")
            try:
                with urllib.request.urlopen(self.base + "/-/ready", timeout=2) as r:
                    if r.status == 200:
                        return time.monotonic() - t0
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        raise BenchError(f"{self.name} not ready after {timeout:.0f} s")

    def get_json(self, path: str, timeout: float = 10) -> Any:
        with urllib.request.urlopen(self.base + path, timeout=timeout) as r:
            return json.loads(r.read())

    def cpu_seconds(self) -> float:
        with open(f"/proc/{self.pid}/stat") as f:
            return cpu_seconds_from_stat(f.read(), self._clk)

    def memory_kib(self) -> dict[str, int | None]:
        with open(f"/proc/{self.pid}/status") as f:
            s = f.read()
        return {"rss_kib": status_kib(s, "VmRSS"), "peak_rss_kib": status_kib(s, "VmHWM")}

    def stop(self, grace: float = 15.0) -> None:
        """SIGTERM our own PID, SIGKILL after ``grace`` seconds; idempotent."""
        try:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout=grace)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(timeout=grace)
        finally:
            self._log.close()


# --------------------------------------------------------------------------- client side

@dataclass
class Workload:
    """The requests of one run, derived from the dataset's time range and one of its series."""

    range_query: dict[str, str]
    load: dict[str, tuple[str, dict[str, str]]] = field(default_factory=dict)


def make_workload(meta: dict[str, Any], one_series: str, p: Params) -> Workload:
    end_s = (meta["end_ms"] // 1000 // p.step_s) * p.step_s  # aligned down, as Grafana does
    start_s = end_s - (p.steps - 1) * p.step_s
    at = str(end_s)
    return Workload(
        range_query={"query": '{job=~".+"}', "start": str(start_s), "end": str(end_s), "step": str(p.step_s)},
        load={
            "labels": ("/api/v1/labels", {}),
            "label___name___values": ("/api/v1/label/__name__/values", {}),
            "instant_one_series": ("/api/v1/query", {"query": one_series, "time": at}),
            "instant_sum_rate": ("/api/v1/query",
                                 {"query": "sum by (job) (rate(http_requests_total[5m]))", "time": at}),
        })


def _decode(raw: bytes, content_encoding: str | None) -> bytes:
    """The JSON bytes of a body, gunzipped when the server compressed it (as a client must)."""
    if content_encoding == "gzip":
        return zlib.decompress(raw, 16 + zlib.MAX_WBITS)
    if content_encoding not in (None, "", "identity"):
        raise BenchError(f"unexpected Content-Encoding {content_encoding!r}")
    return raw


async def _range_latency(base: str, q: dict[str, str], warmup: int, runs: int,
                         cpu: Callable[[], float], encoding: str) -> dict[str, Any]:
    """Sequential POSTs; latency and server CPU of the timed runs only (the warm-up JITs and faults pages in).

    Latency runs from sending the request to holding the decoded JSON bytes
    (whole body read, gunzipped when compressed); the JSON is parsed once,
    outside the timing, to check the shape.
    """
    url = base + "/api/v1/query_range"
    timeout = aiohttp.ClientTimeout(total=120)
    lat: list[float] = []
    wire = size = 0
    cenc = None
    shape: dict[str, int] = {}
    cpu0 = w0 = 0.0
    async with aiohttp.ClientSession(timeout=timeout, auto_decompress=False,
                                     headers={"Accept-Encoding": encoding}) as s:
        for i in range(warmup + runs):
            if i == warmup:
                cpu0, w0 = cpu(), time.perf_counter()
            t0 = time.perf_counter()
            async with s.post(url, data=q) as r:  # form-encoded POST, as Grafana sends it
                raw = await r.read()
                status, cenc = r.status, r.headers.get("Content-Encoding")
            body = _decode(raw, cenc)
            dt = time.perf_counter() - t0
            if status != 200:
                raise BenchError(f"query_range answered {status}: {body[:200]!r}")
            if i == 0:
                data = json.loads(body)["data"]["result"]
                shape = {"series": len(data),
                         "points_per_series_max": max((len(x["values"]) for x in data), default=0)}
            if i >= warmup:
                lat.append(dt)
            wire, size = len(raw), len(body)
        cpu_s, wall = cpu() - cpu0, time.perf_counter() - w0
    return {**summarize(lat), "runs": len(lat), "accept_encoding": encoding, "content_encoding": cenc,
            "wire_bytes": wire, "response_bytes": size, **shape,
            "server_cpu_s": round(cpu_s, 3), "server_cpu_ms_per_query": round(cpu_s * 1e3 / max(1, len(lat)), 1),
            "wall_s": round(wall, 3)}


async def _load(base: str, path: str, params: dict[str, str], clients: int, seconds: float,
                encoding: str) -> dict[str, Any]:
    """``clients`` loops, each sending its next request when the last answer is read, until the deadline."""
    url = base + path
    lat: list[float] = []
    errors: list[str] = []
    encodings: set[str] = set()
    deadline = time.perf_counter() + seconds
    timeout = aiohttp.ClientTimeout(total=min(30.0, seconds + 10))

    async def client(s: aiohttp.ClientSession) -> None:
        while time.perf_counter() < deadline and len(lat) + len(errors) < _MAX_REQUESTS_PER_LOAD:
            t0 = time.perf_counter()
            try:
                async with s.get(url, params=params) as r:
                    raw = await r.read()
                    st, cenc = r.status, r.headers.get("Content-Encoding")
                _decode(raw, cenc)
                encodings.add(cenc or "identity")
            except (TimeoutError, aiohttp.ClientError, BenchError, zlib.error) as e:
                st = type(e).__name__
            if st == 200:
                lat.append(time.perf_counter() - t0)
            else:
                errors.append(str(st))

    conn = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(timeout=timeout, connector=conn, auto_decompress=False,
                                     headers={"Accept-Encoding": encoding}) as s:
        t0 = time.perf_counter()
        await asyncio.gather(*(client(s) for _ in range(clients)))
        wall = time.perf_counter() - t0
    return {"requests": len(lat), "errors": len(errors), "error_kinds": sorted(set(errors))[:5],
            "accept_encoding": encoding, "content_encodings": sorted(encodings),
            "wall_s": round(wall, 3), "req_per_s": round(len(lat) / wall, 1) if wall > 0 else None,
            **summarize(lat)}


def _measure_server(srv: Server, wl: Workload, p: Params, say: Callable[[str], None]) -> dict[str, Any]:
    """All phases against one running server; CPU per phase from /proc."""
    out: dict[str, Any] = {"loadavg_before": loadavg()}
    try:
        out["buildinfo"] = srv.get_json("/api/v1/status/buildinfo").get("data")
    except (urllib.error.URLError, OSError, ValueError) as e:
        out["buildinfo"] = f"error: {e}"
    out["rss_after_start_kib"] = srv.memory_kib()["rss_kib"]
    # background work (compaction, GC, housekeeping) would be billed to the requests: measure it idle
    c0 = srv.cpu_seconds()
    time.sleep(p.idle_seconds)
    out["idle_cpu_per_s"] = round((srv.cpu_seconds() - c0) / p.idle_seconds, 4)

    out["query_range"] = {}
    for enc in ENCODINGS:
        say(f"  {srv.name}: query_range ({enc}) x{p.warmup}+{p.runs}")
        out["query_range"][enc] = asyncio.run(
            _range_latency(srv.base, wl.range_query, p.warmup, p.runs, srv.cpu_seconds, enc))

    out["load"] = {}
    for name, (path, params) in wl.load.items():
        # one untimed request first: caches, JIT, connection set-up
        try:
            srv.get_json(path + ("?" + urllib.parse.urlencode(params) if params else ""), timeout=60)
        except (urllib.error.URLError, OSError, ValueError) as e:
            out["load"][name] = {"error": f"warm-up failed: {e}"}
            continue
        out["load"][name] = {}
        for enc in ENCODINGS:
            say(f"  {srv.name}: {name} ({enc}), {p.clients} clients x {p.load_seconds:g} s")
            c0, cc0 = srv.cpu_seconds(), time.process_time()
            res = asyncio.run(_load(srv.base, path, params, p.clients, p.load_seconds, enc))
            res["server_cpu_s"] = round(srv.cpu_seconds() - c0, 3)
            res["client_cpu_s"] = round(time.process_time() - cc0, 3)
            if res["requests"]:
                res["server_cpu_ms_per_request"] = round(res["server_cpu_s"] * 1e3 / res["requests"], 4)
            # the client needing most of a core means req/s is (partly) the client's limit
            res["client_bound"] = res["client_cpu_s"] > CLIENT_BOUND_SHARE * res["wall_s"]
            out["load"][name][enc] = res
    out.update(srv.memory_kib())
    out["loadavg_after"] = loadavg()
    return out


# --------------------------------------------------------------------------- one system

def _start_and_measure(name: str, data_dir: str, work: str, wl: Workload, p: Params,
                       say: Callable[[str], None]) -> dict[str, Any]:
    port = free_port()
    cfg = os.path.join(work, "config.yml")
    addr = f"127.0.0.1:{port}"
    common = ["--storage.tsdb.path", data_dir, "--web.listen-address", addr, "--config.file", cfg,
              "--storage.tsdb.retention.time=100y"]
    if name == PROMLITE:
        cmd = promlite_command() + ["serve", *common]
    else:
        cmd = [shutil.which("prometheus") or "prometheus", *common]
    srv = Server(name, cmd, port, os.path.join(work, f"{name}.log"))
    try:
        ready_s = srv.wait_ready(timeout=120)
        say(f"  {name}: ready in {ready_s:.2f} s (pid {srv.pid})")
        res = _measure_server(srv, wl, p, say)
        res["ready_s"] = round(ready_s, 3)
        return res
    finally:
        srv.stop()


def _backfill(name: str, om: str, data_dir: str) -> float:
    if name == PROMLITE:
        cmd = promlite_command() + ["tsdb", "create-blocks-from", "openmetrics", om, data_dir]
    else:
        promtool = shutil.which("promtool")
        if promtool is None:
            raise BenchError("promtool not installed (apt-get install prometheus)")
        cmd = [promtool, "tsdb", "create-blocks-from", "openmetrics", om, data_dir]
    return _run(cmd, timeout=600, what=f"{name} backfill")


def _first_series(om: str) -> str:
    """The first sample line's series of the OpenMetrics file, as a PromQL selector."""
    with open(om) as f:
        for line in f:
            if line and not line.startswith("#"):
                return line.rsplit("}", 1)[0] + "}" if "}" in line else line.split()[0]
    raise BenchError(f"{om}: no samples")


# --------------------------------------------------------------------------- rows, run, CLI

def _rows(systems: dict[str, dict[str, Any]], wl: Workload) -> list[dict[str, Any]]:
    def val(sysname: str, get: Callable[[dict[str, Any]], Any]) -> Any:
        s = systems[sysname]
        if "error" in s:
            return s["error"]
        try:
            return get(s)
        except (KeyError, TypeError):
            return None

    specs: list[tuple[str, Callable[[dict[str, Any]], Any]]] = [
        ("query_range series x points", lambda s: f'{s["query_range"]["identity"]["series"]} x '
                                                  f'{s["query_range"]["identity"]["points_per_series_max"]}'),
    ]
    for e in ENCODINGS:
        specs += [
            (f"query_range {e} median ms", lambda s, e=e: s["query_range"][e]["median_ms"]),
            (f"query_range {e} p90 ms", lambda s, e=e: s["query_range"][e]["p90_ms"]),
            (f"query_range {e} wire bytes", lambda s, e=e: s["query_range"][e]["wire_bytes"]),
            (f"query_range {e} server CPU ms/query", lambda s, e=e: s["query_range"][e]["server_cpu_ms_per_query"]),
        ]
    for name in wl.load:
        for e in ENCODINGS:
            specs += [
                (f"{name} {e} req/s", lambda s, n=name, e=e: s["load"][n][e]["req_per_s"]),
                (f"{name} {e} median ms", lambda s, n=name, e=e: s["load"][n][e]["median_ms"]),
                (f"{name} {e} p90 ms", lambda s, n=name, e=e: s["load"][n][e]["p90_ms"]),
                (f"{name} {e} server CPU ms/req",
                 lambda s, n=name, e=e: s["load"][n][e].get("server_cpu_ms_per_request")),
            ]
    specs += [("load errors (all runs)", lambda s: sum(r.get("errors", 0) for d in s["load"].values()
                                                      for r in d.values() if isinstance(r, dict))),
              ("idle server CPU s/s", lambda s: s["idle_cpu_per_s"])]
    specs += [("backfill wall s", lambda s: s["backfill_s"]),
              ("peak RSS MiB", lambda s: round(s["peak_rss_kib"] / 1024, 1))]
    rows = []
    for test, get in specs:
        a, b = val(PROMLITE, get), val(PROMETHEUS, get)
        rows.append({"test": test, PROMLITE: a, PROMETHEUS: b,
                     "ratio": None if "errors" in test else ratio(a, b)})
    return rows


def run(*, quick: bool, out_dir: str, progress: bool = True, params: Params | None = None,
        systems: tuple[str, ...] = SYSTEMS) -> dict[str, Any]:
    """Run the benchmark; write ``out_dir/api_bench.json``, print the table when ``progress``.

    Returns the JSON document. A system that cannot run (Prometheus not
    installed, a failed start) gets an ``error`` string instead of figures;
    the run itself fails only when the dataset generator is missing.
    """
    p = params or Params.for_mode(quick)

    def say(msg: str) -> None:
        if progress:
            print(msg, file=sys.stderr, flush=True)

    shared = find_shared_datasets()
    if shared is None:
        raise BenchError("shared/datasets/gen_openmetrics.py not found (set PROMLITE_BENCH_SHARED)")
    os.makedirs(out_dir, exist_ok=True)
    doc: dict[str, Any] = {"benchmark": "api", "quick": quick, "params": p.__dict__,
                           "started_unix": round(time.time(), 3), "loadavg_start": loadavg(),
                           "cpu_count": os.cpu_count(), "promlite_revision": git_revision()}
    with tempfile.TemporaryDirectory(prefix="promlite-api-bench-") as work:
        om, meta_path = os.path.join(work, "data.om"), os.path.join(work, "data.meta.json")
        say(f"api bench: generating {p.series} series x {p.hours:g} h")
        _run([sys.executable, os.path.join(shared, _GENERATOR), "--series", str(p.series),
              "--hours", str(p.hours), "--out-openmetrics", om, "--meta", meta_path],
             timeout=600, what="dataset generator")
        with open(meta_path) as f:
            meta = json.load(f)
        doc["dataset"] = {k: meta.get(k) for k in ("series", "samples", "start_ms", "end_ms", "step_ms", "seed")}
        with open(os.path.join(work, "config.yml"), "w") as f:
            f.write(_CONFIG)
        wl = make_workload(meta, _first_series(om), p)
        doc["workload"] = {"query_range": wl.range_query,
                           "load": {k: {"path": v[0], "params": v[1]} for k, v in wl.load.items()}}
        results: dict[str, dict[str, Any]] = {}
        for name in systems:
            if name == PROMETHEUS and shutil.which("prometheus") is None:
                results[name] = {"error": "not installed"}
                say("  prometheus: not installed")
                continue
            data_dir = os.path.join(work, f"{name}-data")
            try:
                say(f"  {name}: backfilling")
                bf = _backfill(name, om, data_dir)
                results[name] = _start_and_measure(name, data_dir, work, wl, p, say)
                results[name]["backfill_s"] = round(bf, 3)
            except (TimeoutError, BenchError, OSError, aiohttp.ClientError) as e:
                results[name] = {"error": f"error: {e}"}
                say(f"  {name}: {e}")
            finally:
                shutil.rmtree(data_dir, ignore_errors=True)
        for name in SYSTEMS:
            results.setdefault(name, {"error": "not run"})
    doc["systems"] = results
    doc["rows"] = _rows(results, wl)
    doc["loadavg_end"] = loadavg()
    doc["elapsed_s"] = round(time.time() - doc["started_unix"], 3)
    path = os.path.join(out_dir, JSON_NAME)
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
    if progress:
        print(format_table(doc["rows"]))
        bound = [f"{n}:{t} {e}" for n, r in results.items() for t, d in r.get("load", {}).items()
                 for e, x in d.items() if isinstance(x, dict) and x.get("client_bound")]
        if bound:
            print("client-bound load runs (req/s is the Python client's limit; compare server CPU ms/req): "
                  + ", ".join(bound))
        print(f"loadavg start {doc['loadavg_start']} end {doc['loadavg_end']}; "
              f"ratio < 1 is promlite faster for ms/CPU, slower for req/s; JSON: {path}")
    return doc


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m bench.api_bench",
        description="HTTP API benchmark of promlite side by side with Prometheus on the same backfilled "
                    "data: query_range latency for N series x 240 points, requests/s under bounded "
                    "concurrent load for labels / label values / small instant queries, server CPU and "
                    "peak RSS. Loopback only; servers run one at a time.")
    ap.add_argument("--quick", action="store_true", help="smoke-test size (200 series, 1 s loads)")
    ap.add_argument("--out-dir", default="bench-results", help="where api_bench.json goes (default: %(default)s)")
    ap.add_argument("--no-progress", action="store_true", help="print nothing but errors")
    ap.add_argument("--series", type=int, help="series in the dataset (the range query selects all)")
    ap.add_argument("--clients", type=int, help="concurrent clients of each load run")
    ap.add_argument("--seconds", type=float, help="duration of each load run")
    ap.add_argument("--runs", type=int, help="timed query_range runs (after the warm-up)")
    ap.add_argument("--only", choices=SYSTEMS, help="measure one system only")
    a = ap.parse_args(argv)
    p = Params.for_mode(a.quick)
    over = {k: v for k, v in {"series": a.series, "clients": a.clients, "load_seconds": a.seconds,
                              "runs": a.runs}.items() if v is not None}
    if any(v <= 0 for v in over.values()):
        ap.error("--series, --clients, --seconds and --runs must be positive")
    p = Params(**{**p.__dict__, **over})
    try:
        run(quick=a.quick, out_dir=a.out_dir, progress=not a.no_progress, params=p,
            systems=(a.only,) if a.only else SYSTEMS)
    except BenchError as e:
        print(f"api bench: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
