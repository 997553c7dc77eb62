"""End-to-end scrape benchmark: promlite vs Prometheus scraping the same local targets.

Usage: ``python -m bench.scrape_e2e [--quick] [--out DIR]`` (or ``run(quick=..., out_dir=...)``).

Strategy. One *run* = fresh targets + one server, for a fixed wall time:

1. start ``shared/datasets/target_server.py`` (N loopback ports serving
   pre-rendered bodies whose values change every scrape; started fresh for
   every run so each system sees the same value sequence);
2. start the server (``promlite serve`` or ``prometheus``) with a generated
   ``prometheus.yml`` scraping those targets, a temp data dir and a free port;
   wait (bounded) for ``/-/ready`` and for every target to be up in
   ``/api/v1/targets`` (Prometheus applies discovered targets only after ~5 s);
3. let it warm up, then measure a fixed window ``[t0, t1]``: the server's
   CPU (``/proc/PID/stat`` utime+stime, all threads) and samples appended
   (``prometheus_tsdb_head_samples_appended_total`` from its ``/metrics``,
   which both expose) at ``t0`` and ``t1``; peak RSS is ``VmHWM`` at ``t1``.
   The targets' CPU is read the same way and reported apart, never counted;
4. at ``t1`` ask the server's query API for the raw ``up`` and
   ``scrape_duration_seconds`` samples of the window and compute lateness;
5. stop the server (SIGTERM, a clean shutdown) and measure its data
   directory: total bytes, ``wal/`` bytes (checkpoints included), the
   samples in the WAL (decoded by promlite's reader, which reads Prometheus's
   WAL too) and WAL bytes per sample -- every sample logged since start-up,
   warm-up included, so the run's length does not skew it. Both servers run
   with their default WAL compression (snappy, on).

Runs are sequential (the machine has 2 cores): promlite, Prometheus, then
promlite again with query load -- a separate process running a bounded loop
of range queries against its API during the window.

Lateness. Both systems schedule a target's scrapes on a drift-free grid of
one interval, never early, skipping ticks after an overrun; and both stamp a
scrape with its scheduled time when it starts within a small tolerance of it
(Prometheus 2 ms, promlite 5 ms; below that, lateness reads as 0) and with the
wall clock otherwise. So per target the residuals ``(t - t_first) mod I``
are ``phase + lateness`` with lateness >= 0. The phase is taken as the
observed residual that minimises the total lateness ``sum((r - phase) mod I)``
(a phase later than the true one wraps the scrapes before it to almost a
whole interval; one earlier adds to every scrape); each scrape's lateness is
then ``(r - phase) mod I``, in ``[0, I)`` -- no aliasing at half an interval.
(The most frequent residual is no estimate: a target that is always a few ms
late gets wall-clock stamps that cluster by chance.) Skipped ticks are
counted as ``missed``. Lateness below a system's alignment tolerance reads 0.

Invariants: loopback only; every load is bounded in count and time and stops
by itself; every wait and request has a timeout; only processes started here
are stopped, by PID (SIGTERM, then SIGKILL), in ``finally`` blocks.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
JOB = "e2e"
RESULT_FILE = "scrape_e2e.json"
TIMESTAMPS_FILE = "scrape_e2e_up_timestamps.json"  # per run, per target: the raw `up` timestamps
_CLK_TCK = os.sysconf("SC_CLK_TCK")
_APPENDED = "prometheus_tsdb_head_samples_appended_total"
_CHECK_METRIC = "http_requests_total"  # a family of the target_server catalogue
# Range queries for the query-load run, over the target_server catalogue.
_LOAD_QUERIES = (
    "sum by (instance) (rate(http_requests_total[10s]))",
    "histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[10s])))",
    "avg_over_time(node_load1[10s])",
    "rate(node_network_receive_bytes_total[10s])",
    'count by (instance) ({__name__=~"node_.+"})',
)


class E2EError(RuntimeError):
    """A run could not be measured (a process failed to start or died)."""


@dataclass(frozen=True)
class Workload:
    targets: int
    series: int
    interval_s: float
    warmup_s: float
    measure_s: float
    query_clients: int = 1

    @property
    def samples_per_s(self) -> float:
        return self.targets * self.series / self.interval_s


QUICK = Workload(targets=4, series=2500, interval_s=1.0, warmup_s=1.0, measure_s=4.0)
FULL = Workload(targets=10, series=10000, interval_s=1.0, warmup_s=10.0, measure_s=60.0)


def find_target_server() -> str | None:
    """``shared/datasets/target_server.py`` beside the checkout (or $PROMLITE_SHARED), or None."""
    roots = [os.environ.get("PROMLITE_SHARED", ""), os.path.join(_REPO, "..", "shared"), "/work/shared"]
    for root in roots:
        path = os.path.join(root, "datasets", "target_server.py")
        if root and os.path.isfile(path):
            return os.path.abspath(path)
    return None


# ---------------------------------------------------------------- processes and /proc

def _cpu_seconds(pid: int) -> float:
    """utime + stime of all threads of ``pid``, plus its waited-for children's (cutime, cstime).

    Fields 14-17 of /proc/PID/stat; neither server forks, the children's
    share is there so that one that does is not under-counted.
    """
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / _CLK_TCK


def _peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise E2EError(f"no VmHWM in /proc/{pid}/status")


class _Proc:
    """A child process we started, logged to files, stopped by its PID only."""

    def __init__(self, name: str, argv: list[str], log_dir: str, cwd: str | None = None) -> None:
        self.name = name
        self.log_path = os.path.join(log_dir, f"{name}.log")
        self._log = open(self.log_path, "wb")
        self.popen = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT, cwd=cwd,
                                      stdin=subprocess.DEVNULL, start_new_session=True)
        self.pid = self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, n: int = 1500) -> str:
        self._log.flush()
        with open(self.log_path, "rb") as f:
            return f.read()[-n:].decode(errors="replace")

    def check(self) -> None:
        if not self.alive():
            raise E2EError(f"{self.name} exited with {self.popen.returncode}: {self.log_tail()}")

    def wait(self, timeout: float) -> bool:
        try:
            self.popen.wait(timeout)
            return True
        except subprocess.TimeoutExpired:
            return False

    def stop(self, grace: float = 15.0) -> None:
        """SIGTERM, then SIGKILL after ``grace`` seconds; to this PID only."""
        try:
            if self.alive():
                self.popen.send_signal(signal.SIGTERM)
                if not self.wait(grace):
                    self.popen.kill()
                    self.wait(5.0)
        finally:
            self._log.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _free_port_block(n: int, tries: int = 50) -> int:
    """A base port such that ``base .. base+n-1`` are all free on 127.0.0.1 right now."""
    rnd = np.random.default_rng()
    for _ in range(tries):
        base = int(rnd.integers(20000, 60000 - n))
        socks = []
        try:
            for p in range(base, base + n):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", p))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise E2EError(f"no block of {n} free ports found")


# ---------------------------------------------------------------- HTTP

def _get(url: str, timeout: float = 10.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read()


def _wait_ready(base: str, proc: _Proc, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        proc.check()
        try:
            _get(base + "/-/ready", timeout=2.0)
            return
        except OSError:
            time.sleep(0.2)
    raise E2EError(f"{proc.name} not ready after {timeout:.0f} s: {proc.log_tail()}")


def _wait_scraping(base: str, proc: _Proc, n_targets: int, timeout: float) -> None:
    """Until all ``n_targets`` are active and healthy (Prometheus applies discovered targets after ~5 s)."""
    deadline = time.monotonic() + timeout
    health: list[str] = []
    while time.monotonic() < deadline:
        proc.check()
        try:
            active = json.loads(_get(base + "/api/v1/targets", timeout=5.0))["data"]["activeTargets"]
            health = [t.get("health", "") for t in active if t.get("labels", {}).get("job") == JOB]
            if len(health) == n_targets and all(h == "up" for h in health):
                return
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.25)
    raise E2EError(f"{proc.name}: targets not all up after {timeout:.0f} s (health {health}): {proc.log_tail()}")


def _appended(base: str) -> float:
    """Sum of ``prometheus_tsdb_head_samples_appended_total`` over its label sets."""
    total, found = 0.0, False
    for line in _get(base + "/metrics").decode().splitlines():
        if line.startswith(_APPENDED) and line[len(_APPENDED)] in " {":
            total += float(line.rsplit(None, 1)[1])
            found = True
    if not found:
        raise E2EError(f"{base}/metrics has no {_APPENDED}")
    return total


def _query(base: str, expr: str, at: float, timeout: float = 30.0) -> list[dict[str, Any]]:
    qs = urllib.parse.urlencode({"query": expr, "time": f"{at:.3f}"})
    body = json.loads(_get(f"{base}/api/v1/query?{qs}", timeout=timeout))
    if body.get("status") != "success":
        raise E2EError(f"query {expr!r} failed: {body}")
    return body["data"]["result"]


# ---------------------------------------------------------------- lateness

def lateness(ts_ms: np.ndarray, interval_ms: float) -> tuple[np.ndarray, int]:
    """Per-scrape lateness (ms, in ``[0, interval)``) of one target's sorted timestamps, and ticks skipped.

    See the module docstring for the phase estimate.
    """
    ts = np.round(np.asarray(ts_ms, dtype=np.float64))
    if ts.size < 2:
        return np.zeros(ts.size), 0
    resid = np.mod(ts - ts[0], interval_ms)
    cand = np.unique(resid)  # O(n * distinct residuals): fine for the minutes of scrapes measured here
    total = np.mod(resid[None, :] - cand[:, None], interval_ms).sum(axis=1)
    phase = cand[np.argmin(total)]
    late = np.mod(resid - phase, interval_ms)
    ticks = np.round((ts - late - ts[0] - phase) / interval_ms)  # integers, up to float error
    missed = int(np.clip(np.diff(ticks) - 1, 0, None).sum())
    return late, missed


def _scrape_stats(base: str, t0: float, t1: float, interval_s: float) -> dict[str, Any]:
    """Lateness, durations and failures from the stored ``up`` / ``scrape_duration_seconds``."""
    window = f"{max(1, int(t1 - t0))}s"
    ups = _query(base, f'up{{job="{JOB}"}}[{window}]', t1)
    durs = _query(base, f'scrape_duration_seconds{{job="{JOB}"}}[{window}]', t1)
    interval_ms = interval_s * 1000
    lates, missed, scrapes, failed = [], 0, 0, 0
    raw: dict[str, list[int]] = {}
    for s in ups:
        vals = np.array([[float(t) * 1000, float(v)] for t, v in s["values"]]).reshape(-1, 2)
        raw[s["metric"].get("instance", "?")] = [int(round(t)) for t in vals[:, 0]]
        late, miss = lateness(np.sort(vals[:, 0]), interval_ms)
        lates.append(late)
        missed += miss
        scrapes += len(vals)
        failed += int((vals[:, 1] == 0).sum())
    late_all = np.concatenate(lates) if lates else np.zeros(0)
    dur = np.array([float(v) for s in durs for _, v in s["values"]])
    # cross-check that the samples were stored and are queryable: one metric's sample count
    # (one name only: count_over_time drops __name__, and Prometheus rejects colliding label sets)
    check = _query(base, f'sum(count_over_time({_CHECK_METRIC}{{job="{JOB}"}}[{window}]))', t1)
    pct = 100.0 / interval_ms

    def q(a: np.ndarray, p: float) -> float | None:
        return float(np.percentile(a, p)) if a.size else None

    return {
        "targets_seen": len(ups), "scrapes": scrapes, "failed_scrapes": failed, "missed_ticks": missed,
        "lateness_max_pct": None if not late_all.size else float(late_all.max()) * pct,
        "lateness_p50_pct": None if not late_all.size else q(late_all, 50) * pct,
        "lateness_p99_pct": None if not late_all.size else q(late_all, 99) * pct,
        "scrapes_late_over_10pct": int((late_all > 0.1 * interval_ms).sum()),
        "duration_p50_ms": None if not dur.size else q(dur, 50) * 1000,
        "duration_p99_ms": None if not dur.size else q(dur, 99) * 1000,
        "duration_max_ms": None if not dur.size else float(dur.max()) * 1000,
        "stored_check_samples": float(check[0]["value"][1]) if check else 0.0,
        "up_timestamps_ms": raw,
    }


# ---------------------------------------------------------------- one run

def _config_text(ports: list[int], interval_s: float, rule_file: str | None = None) -> str:
    targets = ", ".join(f'"127.0.0.1:{p}"' for p in ports)
    iv = f"{int(interval_s * 1000)}ms"
    rules = f"rule_files:\n  - {json.dumps(os.path.abspath(rule_file))}\n" if rule_file else ""
    return (f"global:\n  scrape_interval: {iv}\n  scrape_timeout: {iv}\n{rules}"
            f"scrape_configs:\n  - job_name: {JOB}\n    static_configs:\n      - targets: [{targets}]\n")


RULE_METRICS = ("prometheus_rule_group_iterations_total", "prometheus_rule_group_iterations_missed_total",
                "prometheus_rule_evaluations_total", "prometheus_rule_evaluation_failures_total",
                "prometheus_rule_group_last_duration_seconds", "prometheus_rule_group_last_evaluation_samples",
                "prometheus_rule_group_duration_seconds_sum", "prometheus_rule_group_duration_seconds_count",
                "prometheus_rule_group_rules")
"""The rule manager's metrics (both servers expose them) read at ``t0`` and ``t1`` of a run with rules."""


def metric_sums(base: str, names: tuple[str, ...]) -> dict[str, float]:
    """Each of ``names`` in the server's ``/metrics``, summed over its label sets (absent: not in the dict)."""
    out: dict[str, float] = {}
    for line in _get(base + "/metrics").decode().splitlines():
        name = line.split("{", 1)[0].split(" ", 1)[0]
        if name in names:
            out[name] = out.get(name, 0.0) + float(line.rsplit(None, 1)[1])
    return out


def _server_argv(system: str, config: str, data: str, port: int) -> list[str]:
    addr = f"127.0.0.1:{port}"
    if system == "prometheus":
        return [shutil.which("prometheus") or "prometheus", f"--config.file={config}",
                f"--storage.tsdb.path={data}", f"--web.listen-address={addr}", "--log.level=warn"]
    exe = os.path.join(os.path.dirname(sys.executable), "promlite")
    argv = [exe] if os.path.exists(exe) else [sys.executable, "-m", "promlite.cli"]
    return argv + ["serve", "--config.file", config, "--storage.tsdb.path", data,
                   "--web.listen-address", addr, "--log.level", "warn"]


def _start_targets(w: Workload, work: str, log) -> tuple[_Proc, list[int], dict[str, Any]]:
    script = find_target_server()
    if script is None:
        raise E2EError("shared/datasets/target_server.py not found (set PROMLITE_SHARED)")
    variants = int(min(400, math.ceil((w.warmup_s + w.measure_s + 30) / w.interval_s)))
    bound = w.warmup_s + w.measure_s + 180  # render + server start + stop, generously
    for attempt in range(3):  # a port of the block may be taken between probe and bind
        base = _free_port_block(w.targets)
        ready = os.path.join(work, f"targets-ready-{attempt}.json")
        proc = _Proc("targets", [sys.executable, script, "--base-port", str(base), "--targets", str(w.targets),
                                 "--series", str(w.series), "--variants", str(variants),
                                 "--interval", str(w.interval_s), "--max-seconds", str(int(bound)),
                                 "--ready-file", ready], work)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.alive() and not os.path.exists(ready):
            time.sleep(0.1)
        if os.path.exists(ready):
            with open(ready) as f:
                status = json.load(f)
            return proc, status["ports"], status
        proc.stop()
        log(f"  targets failed to start (attempt {attempt + 1}): {proc.log_tail(300)}")
    raise E2EError("target_server did not start")


def _start_query_load(base: str, seconds: float, work: str, w: Workload) -> _Proc:
    out = os.path.join(work, "query-load.json")
    argv = [sys.executable, "-m", "bench.scrape_e2e", "--query-load", base, "--seconds", str(seconds),
            "--window", str(int(max(10.0, w.warmup_s))), "--clients", str(w.query_clients), "--load-out", out]
    return _Proc("query-load", argv, work, cwd=_REPO)


def _disk_after_stop(server: _Proc, data: str, log) -> dict[str, Any]:
    """Stop ``server`` (SIGTERM: a clean shutdown) and measure its data directory.

    Bytes are file sizes (``data_dir_bytes``: total, ``wal/`` with its
    checkpoints, ...). The samples are those the WAL holds, counted by
    decoding it with promlite's reader (the WAL has Prometheus's format on
    both sides), so bytes per sample covers everything the server logged,
    warm-up included. A failure here becomes the figure's text, not the run's.
    """
    # imported here: tsdb and its compiled kernels are not for the query-load child
    from .wal import data_dir_bytes, wal_contents

    server.stop()
    out: dict[str, Any] = {"server_exit": server.popen.returncode}
    try:
        parts = data_dir_bytes(data)
        wal = wal_contents(os.path.join(data, "wal"))
    except Exception as e:  # noqa: BLE001 - reported in the cells, the run's other figures stand
        log(f"  data dir not measured: {type(e).__name__}: {e}")
        msg = f"error: {type(e).__name__}"
        return {**out, "data_dir_bytes": msg, "wal_bytes": msg, "wal_bytes_per_sample": msg,
                "disk_error": f"{type(e).__name__}: {e}"[:500]}
    n = wal["samples"]
    return {**out, "data_dir_bytes": parts["total"], "wal_bytes": parts["wal"], "wal_samples": n,
            "wal_series": wal["series_records_rows"],
            "wal_bytes_per_sample": parts["wal"] / n if n else None,
            "wal_snappy_records_pct": 100.0 * wal["snappy_records"] / wal["records"] if wal["records"] else None,
            "data_dir_parts": parts, "wal_records": wal["records"]}


def run_one(system: str, w: Workload, work: str, *, query_load: bool = False, log=print,
            disk_figures: bool = True, rule_file: str | None = None) -> dict[str, Any]:
    """Targets + one server for ``warmup + measure`` seconds; the figures of the window.

    With ``disk_figures`` the server is then stopped cleanly and its data
    directory measured (``_disk_after_stop``) before it is removed. With
    ``rule_file`` the server also evaluates that rule file (``rule_files:``
    in its config) and the result has ``rules``: the ``RULE_METRICS`` at
    ``t0`` (``"t0"``) and ``t1`` (``"t1"``).
    """
    run_dir = tempfile.mkdtemp(prefix=f"{system}-", dir=work)
    procs: list[_Proc] = []
    try:
        targets, ports, status = _start_targets(w, run_dir, log)
        procs.append(targets)
        config = os.path.join(run_dir, "prometheus.yml")
        with open(config, "w") as f:
            f.write(_config_text(ports, w.interval_s, rule_file))
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        server = _Proc(system, _server_argv(system, config, os.path.join(run_dir, "data"), port), run_dir)
        procs.append(server)
        _wait_ready(base, server, timeout=90)
        _wait_scraping(base, server, len(ports), timeout=60)
        time.sleep(w.warmup_s)
        server.check()
        loader = _start_query_load(base, w.measure_s, run_dir, w) if query_load else None
        if loader:
            procs.append(loader)
        rules0 = metric_sums(base, RULE_METRICS) if rule_file else None  # outside the CPU window
        t0, cpu0, tcpu0, app0 = time.time(), _cpu_seconds(server.pid), _cpu_seconds(targets.pid), _appended(base)
        time.sleep(w.measure_s)
        server.check()
        t1, cpu1, tcpu1, app1 = time.time(), _cpu_seconds(server.pid), _cpu_seconds(targets.pid), _appended(base)
        rules = {"t0": rules0, "t1": metric_sums(base, RULE_METRICS)} if rule_file else None
        rss = _peak_rss_mb(server.pid)
        load: dict[str, Any] | None = None
        if loader:
            loader.wait(30.0)
            load_out = os.path.join(run_dir, "query-load.json")
            load = {"error": loader.log_tail(500)}
            if os.path.exists(load_out):
                with open(load_out) as f:
                    load = json.load(f)
        stats = _scrape_stats(base, t0, t1, w.interval_s)
        samples = app1 - app0
        cpu = cpu1 - cpu0
        disk = _disk_after_stop(server, os.path.join(run_dir, "data"), log) if disk_figures else {}
        return {
            "system": system, "window_s": t1 - t0, "samples": samples, "samples_per_s": samples / (t1 - t0),
            "cpu_s": cpu, "cpu_s_per_1m_samples": cpu / samples * 1e6 if samples else None,
            "cpu_pct_of_core": 100 * cpu / (t1 - t0), "peak_rss_mb": rss,
            "targets_cpu_s": tcpu1 - tcpu0, "body_bytes": status.get("body_bytes"),
            "series_per_target": status.get("series_per_target"), "query_load": load, **stats, **disk,
            **({"rules": rules} if rules else {}),
        }
    finally:
        for p in reversed(procs):
            p.stop()
        shutil.rmtree(os.path.join(run_dir, "data"), ignore_errors=True)


# ---------------------------------------------------------------- query load (child process)

def query_load(base: str, seconds: float, window_s: int, clients: int, out: str) -> None:
    """Range queries against ``base`` until ``seconds`` pass (at most 10k), from ``clients`` threads."""
    import threading

    deadline = time.monotonic() + seconds
    lat: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def client(k: int) -> None:
        i = k
        while time.monotonic() < deadline and len(lat) + len(errors) < 10_000:
            end = time.time()
            qs = urllib.parse.urlencode({"query": _LOAD_QUERIES[i % len(_LOAD_QUERIES)],
                                         "start": f"{end - window_s:.3f}", "end": f"{end:.3f}", "step": "1"})
            t = time.perf_counter()
            try:
                _get(f"{base}/api/v1/query_range?{qs}", timeout=max(1.0, deadline - time.monotonic() + 5))
                with lock:
                    lat.append(time.perf_counter() - t)
            except OSError as e:
                with lock:
                    errors.append(str(e))
            i += 1

    threads = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 60)
    a = np.array(lat)
    res = {"queries": len(lat), "errors": len(errors), "first_error": errors[0] if errors else None,
           "latency_p50_ms": float(np.median(a)) * 1000 if a.size else None,
           "latency_max_ms": float(a.max()) * 1000 if a.size else None}
    with open(out, "w") as f:
        json.dump(res, f)


# ---------------------------------------------------------------- report

_ROWS = (  # (label, key, format, ratio is meaningful)
    ("samples ingested in window", "samples", "{:,.0f}", True),
    ("ingest rate, samples/s", "samples_per_s", "{:,.0f}", True),
    ("CPU s per 1M samples", "cpu_s_per_1m_samples", "{:.2f}", True),
    ("CPU % of one core", "cpu_pct_of_core", "{:.1f}", True),
    ("peak RSS, MB", "peak_rss_mb", "{:.0f}", True),
    ("scrape lateness max, % of interval", "lateness_max_pct", "{:.1f}", False),
    ("scrape lateness p99, % of interval", "lateness_p99_pct", "{:.1f}", False),
    ("scrapes later than 10% of interval", "scrapes_late_over_10pct", "{:d}", False),
    ("scrapes in window", "scrapes", "{:d}", False),
    ("missed scrape ticks", "missed_ticks", "{:d}", False),
    ("failed scrapes (up=0)", "failed_scrapes", "{:d}", False),
    ("scrape duration p99, ms", "duration_p99_ms", "{:.0f}", True),
    ("scrape duration max, ms", "duration_max_ms", "{:.0f}", True),
    ("targets' CPU s (not counted)", "targets_cpu_s", "{:.1f}", False),
    (f"stored {_CHECK_METRIC} samples (cross-check)", "stored_check_samples", "{:,.0f}", True),
    # after a clean stop; WAL compression on (both defaults); the WAL's samples decoded by promlite's reader
    ("data dir after stop, bytes", "data_dir_bytes", "{:,.0f}", True),
    ("WAL bytes (wal/ incl. checkpoints)", "wal_bytes", "{:,.0f}", True),
    ("samples in the WAL (decoded)", "wal_samples", "{:,.0f}", True),
    ("WAL bytes per sample (target <= 1.1x Prometheus)", "wal_bytes_per_sample", "{:.3f}", True),
    ("WAL records snappy-compressed, %", "wal_snappy_records_pct", "{:.1f}", False),
)
_LOAD_ROWS = (
    ("under query load: lateness max, %", "lateness_max_pct", "{:.1f}"),
    ("under query load: lateness p99, %", "lateness_p99_pct", "{:.1f}"),
    ("under query load: scrapes later than 10%", "scrapes_late_over_10pct", "{:d}"),
    ("under query load: missed ticks", "missed_ticks", "{:d}"),
    ("under query load: scrape duration p99, ms", "duration_p99_ms", "{:.0f}"),
    ("under query load: CPU s per 1M (incl. queries)", "cpu_s_per_1m_samples", "{:.2f}"),
)


def _cell(res: dict[str, Any] | str | None, key: str, fmt: str) -> str:
    if res is None:
        return "-"
    if isinstance(res, str):
        return res
    if "error" in res:
        return "error (see JSON)"
    v = res.get(key)
    if isinstance(v, str):  # why a figure is missing
        return v
    return "-" if v is None else fmt.format(v)


def table(results: dict[str, Any]) -> list[list[str]]:
    """Rows ``[name, promlite, prometheus, ratio]`` of the figures in ``results``."""
    pl, pr, ql = results["promlite"], results["prometheus"], results["promlite_query_load"]
    rows = [["figure", "promlite", "prometheus", "ratio"]]
    for label, key, fmt, with_ratio in _ROWS:
        a = pl.get(key) if isinstance(pl, dict) else None
        b = pr.get(key) if isinstance(pr, dict) else None
        num = with_ratio and isinstance(a, int | float) and isinstance(b, int | float) and b
        ratio = f"{a / b:.2f}x" if num else "-"
        rows.append([label, _cell(pl, key, fmt), _cell(pr, key, fmt), ratio])
    for label, key, fmt in _LOAD_ROWS:
        rows.append([label, _cell(ql, key, fmt), "-", "-"])
    load = ql.get("query_load") if isinstance(ql, dict) else None
    if isinstance(load, dict):
        rows.append(["under query load: queries done / errors",
                     f"{load.get('queries')} / {load.get('errors')}", "-", "-"])
    return rows


def format_table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
                     for r in rows)


def _prometheus_version(binary: str) -> str | None:
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10)
        return (out.stdout or out.stderr).splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        return None


def run(*, quick: bool, out_dir: str, progress: bool = True, workload: Workload | None = None) -> dict:
    """Run promlite, Prometheus, promlite under query load; print the table; write ``scrape_e2e.json``.

    A system whose run fails gets ``{"error": ...}`` in its column, so one
    failure does not hide the others; a missing Prometheus is "not installed".
    """
    w = workload or (QUICK if quick else FULL)
    log = print if progress else (lambda *a, **k: None)
    os.makedirs(out_dir, exist_ok=True)
    prom = shutil.which("prometheus")
    results: dict[str, Any] = {
        "meta": {"quick": quick, "workload": asdict(w), "target_samples_per_s": w.samples_per_s,
                 "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "loadavg": os.getloadavg(),
                 "prometheus": _prometheus_version(prom) if prom else "not installed"}}
    work = tempfile.mkdtemp(prefix="scrape-e2e-")
    try:
        plan = [("promlite", "promlite", False), ("prometheus", "prometheus", False),
                ("promlite_query_load", "promlite", True)]
        for key, system, ql in plan:
            if system == "prometheus" and prom is None:
                results[key] = "not installed"
                continue
            started = time.monotonic()
            log(f"scrape_e2e: {key}: {w.targets} targets x {w.series} series every {w.interval_s:g} s, "
                f"{w.warmup_s:g} s warm-up + {w.measure_s:g} s window")
            try:
                results[key] = run_one(system, w, work, query_load=ql, log=log)
                results[key]["run_wall_s"] = round(time.monotonic() - started, 1)
            except (E2EError, OSError, ValueError, KeyError) as e:
                results[key] = {"error": f"{type(e).__name__}: {e}"[:2000]}
                log(f"  {key} failed: {results[key]['error']}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rows = table(results)
    results["table"] = rows
    raw = {k: v.pop("up_timestamps_ms", None) for k, v in results.items() if isinstance(v, dict)}
    with open(os.path.join(out_dir, RESULT_FILE), "w") as f:
        json.dump(results, f, indent=2)
    with open(os.path.join(out_dir, TIMESTAMPS_FILE), "w") as f:
        json.dump({k: v for k, v in raw.items() if v is not None}, f)
    log(format_table(rows))
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.scrape_e2e", description=__doc__.split("\n\n")[0],
                                 epilog="Runs are sequential: promlite, Prometheus, promlite under query load.")
    ap.add_argument("--quick", action="store_true", help=f"small run: {QUICK}")
    ap.add_argument("--out", default="bench-out", help="directory for scrape_e2e.json (default: bench-out)")
    ap.add_argument("--targets", type=int, help="override the number of targets")
    ap.add_argument("--series", type=int, help="override series per target")
    ap.add_argument("--interval", type=float, help="override the scrape interval, seconds")
    ap.add_argument("--seconds", type=float, help="measured window per run, seconds (query-load child: duration)")
    ap.add_argument("--query-load", metavar="URL", help=argparse.SUPPRESS)
    ap.add_argument("--window", type=int, default=10, help=argparse.SUPPRESS)
    ap.add_argument("--clients", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--load-out", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.query_load:
        query_load(a.query_load, min(a.seconds or 10.0, 600.0), a.window, a.clients, a.load_out)
        return 0
    w = QUICK if a.quick else FULL
    over = {k: v for k, v in (("targets", a.targets), ("series", a.series), ("interval_s", a.interval),
                              ("measure_s", a.seconds)) if v is not None}
    w = Workload(**{**asdict(w), **over})
    res = run(quick=a.quick, out_dir=a.out, workload=w)
    ok = all(isinstance(res[k], dict) and "error" not in res[k] or res[k] == "not installed"
             for k in ("promlite", "prometheus", "promlite_query_load"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
