"""The worst request of each endpoint, with default limits, while ``/-/healthy`` is probed (issue 12).

For every endpoint a client can reach without flags, the most expensive
request we know of is sent to one ``promlite serve`` over seeded data, and
three things are measured: the latency of ``/-/healthy`` asked every 20 ms
meanwhile (nothing CPU-heavy may run on the event loop), the server's peak
RSS during the request (``/proc/<pid>/clear_refs`` resets the high-water mark
before each one), and the answer (a result, or a 4xx/503 in Prometheus's
JSON shape; never a 5xx other than 503, never a dead server).

The figures of ``docs/reliability.md`` come from ``PROMLITE_SOAK=1`` (more
series); CI runs a smaller data set. Bounds: peak RSS <= 1 GiB (memory does
not depend on how busy the machine is), and a generous wall-clock bound on the
health probe that only a frozen event loop fails; the p99 is printed and
recorded, not asserted tightly.
"""

from __future__ import annotations

import json
import os
import time
import urllib.parse

import pytest
from health_probe import HealthProbe
from serve_proc import ServeProc, seed
from soak import SOAK, scaled

GIB = 2**30
RANGE_SERIES = 1500  # x 11,000 steps: the largest range answer the default --query.max-samples lets through
WIDE_SERIES = scaled(40_000, 100_000)
STEP_MS = 15_000
N_SAMPLES = 2000
RESULTS: dict[str, dict] = {}


def _seed(data: str) -> tuple[int, int]:
    """``seed``'s big_series for the range queries, plus WIDE_SERIES one-sample series with long label values."""
    import tsdb

    first, last = seed(data, RANGE_SERIES, N_SAMPLES, STEP_MS)
    pad = "x" * 80
    with tsdb.open(data) as db:
        for lo in range(0, WIDE_SERIES, 20_000):
            app = db.appender()
            for i in range(lo, min(lo + 20_000, WIDE_SERIES)):
                app.append_series({"__name__": f"wide_{i % 500}", "id": f"{i:07d}-{pad}", "job": "wide"},
                                  [last], [1.0])
            app.commit()
    return first, last


def _status_bytes(pid: int, field: str) -> int:
    """``VmRSS``/``VmHWM`` (now / peak resident memory) of ``/proc/<pid>/status``, in bytes."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field}")


def _reset_hwm(pid: int) -> None:
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    if not os.path.exists("/proc/self/clear_refs"):
        pytest.skip("needs Linux /proc/<pid>/clear_refs to measure peak RSS per request")
    d = tmp_path_factory.mktemp("worst")
    first, last = _seed(str(d / "data"))
    p = ServeProc(str(d), f"--storage.tsdb.path={d / 'data'}")
    p.first_ms, p.last_ms = first, last
    yield p
    p.stop()
    if RESULTS:
        print("\nworst request per endpoint (peak RSS, /-/healthy p99 / max during it):")
        for name, r in RESULTS.items():
            print(f"  {name:<28} {r['status']} {r['bytes'] / 2**20:8.1f} MiB in {r['seconds']:6.2f} s, "
                  f"peak RSS {r['peak_rss'] / 2**20:6.0f} MiB (from {r['rss_before'] / 2**20:4.0f}), health p99 {r['health_p99_ms']:6.1f} ms "
                  f"max {r['health_max_ms']:6.1f} ms over {r['probes']} probes")
        out = os.environ.get("PROMLITE_WORST_REQUESTS_JSON")
        if out:
            with open(out, "w") as f:
                json.dump({"soak": SOAK, "wide_series": WIDE_SERIES, "results": RESULTS}, f, indent=1)


def _q(**params) -> str:
    return urllib.parse.urlencode(params)


def _cases(p: ServeProc) -> dict[str, tuple[str, str, bytes | None]]:
    f, last = p.first_ms / 1000, p.last_ms / 1000
    step = f"{(p.last_ms - p.first_ms) / 1000 / 10_999:.3f}"  # 11,000 points per series, Prometheus's most
    huge_sum = "+".join(["1"] * 20_000)
    return {
        "query_range matrix": ("GET", "/api/v1/query_range?" + _q(query="big_series", start=f, end=last, step=step),
                               None),
        "query_range rate": ("GET", "/api/v1/query_range?" + _q(query="rate(big_series[5m])", start=f, end=last,
                             step=step), None),
        "query_range join": ("GET", "/api/v1/query_range?" + _q(query="big_series * on(instance) group_left "
                             "big_series", start=f, end=last, step=step), None),
        "query subquery": ("GET", "/api/v1/query?" + _q(query="max_over_time(big_series[8h:1s])", time=last), None),
        "query count_values": ("GET", "/api/v1/query?" + _q(query='count_values("v", {__name__=~".+"})',
                               time=last), None),
        "query regex all": ("GET", "/api/v1/query?" + _q(query='{__name__=~".+", id=~".*9.*"}', time=last), None),
        "series all": ("GET", "/api/v1/series?" + urllib.parse.urlencode({"match[]": '{__name__=~".+"}'}), None),
        "labels all": ("GET", "/api/v1/labels", None),
        "label values id": ("GET", "/api/v1/label/id/values", None),
        "status tsdb": ("GET", "/api/v1/status/tsdb?limit=10000", None),
        "format_query 20k terms": ("POST", "/api/v1/format_query", _q(query=huge_sum).encode()),
        "metrics": ("GET", "/metrics", None),
    }


@pytest.mark.parametrize("name", ["query_range matrix", "query_range rate", "query_range join", "query subquery",
                                  "query count_values", "query regex all", "series all", "labels all",
                                  "label values id", "status tsdb", "format_query 20k terms", "metrics"])
def test_worst_request_keeps_health_fast_and_memory_bounded(served, name):
    p = served
    method, path, body = _cases(p)[name]
    headers = {"Content-Type": "application/x-www-form-urlencoded"} if body else {}
    before = _status_bytes(p.p.pid, "VmRSS")
    _reset_hwm(p.p.pid)
    with HealthProbe(p) as probe:
        time.sleep(0.1)
        t0 = time.perf_counter()
        status, answer = p.request(method, path, body, headers, timeout=300)
        seconds = time.perf_counter() - t0
        time.sleep(0.1)
    peak = _status_bytes(p.p.pid, "VmHWM")
    RESULTS[name] = {"status": status, "bytes": len(answer), "seconds": round(seconds, 3), "peak_rss": peak,
                     "rss_before": before,
                     "health_p99_ms": round(probe.p99() * 1000, 1),
                     "health_max_ms": round(max(probe.latencies) * 1000, 1), "probes": len(probe.latencies)}
    assert p.alive()
    assert status in (200, 400, 422, 503), answer[:300]
    if status != 200:
        assert json.loads(answer)["status"] == "error"
    assert not probe.failures, probe.failures
    assert peak <= GIB, f"peak RSS {peak / 2**20:.0f} MiB"
    # wall time, so generous: a frozen loop held /-/healthy for the whole request (tens of seconds)
    assert max(probe.latencies) < 5.0, sorted(probe.latencies)[-5:]
