"""memory: resident memory per active series, at several series counts.

Every system holds N active series of the same label shape
(``metric_{i % 500}{instance="host-{i // 500}:9100", job="node", i="<i>"}``)
with a few recent samples each, and the OS says how much memory that took:

* promlite: a fresh interpreter appends ``SCRAPES`` batches through the
  Appender (WAL on, no fsync); figure = (peak RSS of that child - peak RSS of
  a child that only imports and warms the same code) / N. The child also
  reports its own RSS growth over the appends.
* Prometheus: scrapes a loopback target (a thread here serving the N series,
  ``honor_labels``) until its head holds N series and has taken ``SCRAPES``
  scrapes; figure = (RSS then - RSS when ready) / N, from /proc.
* VictoriaMetrics: ``/api/v1/import/prometheus`` of the same series, 4
  samples each; figure = (RSS once every series is searchable - RSS when
  ready) / N.

Loads are bounded: every wait has a deadline, the target stops with the
suite. The largest count (1 M) runs only in the full run and only if the
run's time budget still allows it.
"""

from __future__ import annotations

import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from ..harness import MeasureError, run_isolated
from ..peers import PROMETHEUS, VICTORIAMETRICS, Server, free_port
from . import SYSTEMS, Context, Row, SuiteResult

NAME = "memory"
TITLE = "memory per active series"
SCRAPES = 4


def baseline_child() -> dict[str, int]:
    """Run in a child: what promlite costs before any series (imports and a first use, see ``first_use``)."""
    from ..tsdb_head import first_use

    first_use()
    return {}


def _series_lines(n: int, t_ms: int | None, values_seed: int) -> bytes:
    ts = f" {t_ms}" if t_ms is not None else ""
    return "".join(f'metric_{i % 500}{{instance="host-{i // 500}:9100",job="node",i="{i}"}} '
                   f"{(i * 7 + values_seed) % 1000}{ts}\n" for i in range(n)).encode()


def _promlite(n: int, base_peak: int, timeout_s: float) -> tuple[float, float]:
    r, st = run_isolated("bench.tsdb_head:measure",
                         {"series": n, "scrapes": SCRAPES + 1, "wal_sync": "never", "head_only": False,
                          "replay": False}, timeout_s=timeout_s)
    return (st.peak_rss_bytes - base_peak) / n, r["rss_growth_per_series"]


def _vm(binary: str, n: int, work: str) -> float:
    with Server(VICTORIAMETRICS, binary) as srv:
        _, rss0, _ = srv.stats()
        t0 = 1_700_000_000_000
        for k in range(SCRAPES):
            body = os.path.join(work, "vm-mem.prom")
            with open(body, "wb") as f:
                f.write(_series_lines(n, t0 + 15_000 * k, k))
            srv.post_file("/api/v1/import/prometheus", body)
            os.unlink(body)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if int(srv.get_json("/api/v1/series/count")["data"][0]) >= n:
                break
            time.sleep(0.2)
        else:
            raise MeasureError(f"VictoriaMetrics did not show {n} series in time")
        time.sleep(1.0)
        _, rss, _ = srv.stats()
    return (rss - rss0) / n


class _Target:
    """A loopback /metrics endpoint serving ``n`` series; values change per scrape."""

    def __init__(self, n: int, port: int):
        bodies = [_series_lines(n, None, k) for k in range(2)]
        count = [0]

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's naming
                body = bodies[count[0] % 2]
                count[0] += 1
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def _prometheus(binary: str, n: int, _work: str) -> float:
    port = free_port()
    interval = "1s" if n <= 20_000 else ("3s" if n <= 200_000 else "10s")
    cfg = (f"global:\n  scrape_interval: {interval}\n  scrape_timeout: {interval}\n"
           f"scrape_configs:\n- job_name: bench\n  honor_labels: true\n"
           f"  static_configs:\n  - targets: ['127.0.0.1:{port}']\n")
    with Server(PROMETHEUS, binary, config_yaml=cfg) as srv:
        _, rss0, _ = srv.stats()
        with _Target(n, port):
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline:
                m = srv.get_text("/metrics")
                if (_metric(m, "prometheus_tsdb_head_series") >= n
                        and _metric(m, "prometheus_tsdb_head_samples_appended_total") >= SCRAPES * n):
                    break
                time.sleep(0.2)
            else:
                raise MeasureError(f"Prometheus did not take {SCRAPES} scrapes of {n} series in time")
            _, rss, _ = srv.stats()
    return (rss - rss0) / n


def run(ctx: Context) -> SuiteResult:
    res = SuiteResult(NAME, TITLE)
    counts = list(ctx.memory_series)
    task = ctx.task("memory per series", len(counts) * len(SYSTEMS))
    _, base = run_isolated("bench.suites.memory:baseline_child", {}, timeout_s=300)
    res.note = (f"promlite baseline (interpreter + numpy + compiled kernels): {base.peak_rss_bytes / 2**20:.0f} MiB "
                f"peak RSS, subtracted; {SCRAPES} samples per series")
    work = os.path.join(ctx.workspace.root, "memory")
    os.makedirs(work, exist_ok=True)
    done_counts: list[int] = []
    plot: dict[str, list[float | None]] = {s: [] for s in SYSTEMS}
    skipped = []
    for n in counts:
        # About 0.25 ms per series for the three systems together, measured here.
        if n >= 1_000_000 and time.monotonic() + n * 0.25e-3 > ctx.deadline:
            skipped.append(n)
            continue
        vals: dict[str, object] = {}
        growth = None
        try:
            vals["promlite"], growth = _promlite(n, base.peak_rss_bytes, timeout_s=900)
        except MeasureError as e:
            vals["promlite"] = f"error: {e}"[:60]
        ctx.advance(task)
        for system, fn in ((PROMETHEUS, _prometheus), (VICTORIAMETRICS, _vm)):
            missing = ctx.peer_value(system)
            if missing:
                vals[system] = missing
            else:
                try:
                    vals[system] = fn(ctx.peers[system].binary, n, work)
                except MeasureError as e:
                    vals[system] = f"error: {e}"[:60]
            ctx.advance(task)
        res.rows.append(Row(f"RSS per active series, {n:,} series", "bytes/series", vals))
        if growth is not None:
            res.rows.append(Row(f"promlite RSS growth over the appends, {n:,} series", "bytes/series",
                                {"promlite": growth, PROMETHEUS: "n/a", VICTORIAMETRICS: "n/a"}))
        done_counts.append(n)
        for s in SYSTEMS:
            v = vals.get(s)
            plot[s].append(v if isinstance(v, float) else None)
    ctx.done(task)
    if skipped:
        res.note += f"; skipped {', '.join(f'{n:,}' for n in skipped)} series (time budget)"
    if done_counts:
        res.plots["per_series"] = {
            "kind": "lines", "title": "Memory per active series (RSS from the OS)", "x": done_counts,
            "xlabel": "active series", "ylabel": "bytes / series", "logx": True, "series": plot}
    return res
