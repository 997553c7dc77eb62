"""``promlite serve`` scrapes, stops (SIGTERM) or is killed (SIGKILL); the real Prometheus, started on a copy
of its data directory, answers the same PromQL over the whole range and repairs nothing."""

from __future__ import annotations

import json
import shutil
import signal
import time
import urllib.parse
import urllib.request

import pytest
from prometheus import Prometheus, StaticTarget, as_floats, assert_no_repair, exposition
from serve_proc import ServeProc
from timing import wait_until

CONFIG = """
global:
  scrape_interval: 100ms
  scrape_timeout: 100ms
scrape_configs:
  - job_name: demo
    static_configs:
      - targets: ["{addr}"]
"""
QUERIES = ("sum(rate(demo_requests_total[10s]))", "max by (series) (demo_level)", "count(demo_level)")


def api(base: str, path: str, **params) -> dict:
    with urllib.request.urlopen(f"{base}/api/v1/{path}?{urllib.parse.urlencode(params)}", timeout=60) as r:
        body = json.loads(r.read())
    assert body["status"] == "success", body
    return body["data"]


def raw(base: str, at: float) -> dict:
    data = api(base, "query", query='{job="demo"}[1h]', time=f"{at:.3f}")
    return as_floats({tuple(sorted(s["metric"].items())): [(round(float(t) * 1000), v) for t, v in s["values"]]
                      for s in data["result"]})


def ranges(base: str, start: float, end: float) -> dict:
    """Range query results per query: {labels: [(t, value)]}."""
    out = {}
    for q in QUERIES:
        res = api(base, "query_range", query=q, start=f"{start:.0f}", end=f"{end:.0f}", step="1")["result"]
        out[q] = {json.dumps(s["metric"], sort_keys=True): [(t, float(v)) for t, v in s["values"]] for s in res}
    return out


def assert_same_ranges(got: dict, want: dict) -> None:
    """Same series and steps; values equal up to float summation order (two engines)."""
    for q in QUERIES:
        assert got[q].keys() == want[q].keys(), q
        for k, pts in want[q].items():
            assert [t for t, _ in got[q][k]] == [t for t, _ in pts], (q, k)
            assert [v for _, v in got[q][k]] == pytest.approx([v for _, v in pts], rel=1e-9), (q, k)


def _fewest_demo_samples(answered: dict) -> int:
    return min((len(v) for k, v in answered.items() if dict(k)["__name__"].startswith("demo_")), default=0)


@pytest.mark.parametrize("how", ["stop", "kill"])
def test_prometheus_answers_what_promlite_serve_scraped(tmp_path, how):
    data = tmp_path / "data"
    with StaticTarget(body_fn=lambda n: exposition(n, counters=30, gauges=30)) as target:
        config = CONFIG.replace("{addr}", target.address)
        p = ServeProc(str(tmp_path), "--storage.tsdb.path", str(data), config=config)
        try:
            base = f"http://127.0.0.1:{p.port}"
            start = time.time()
            target.wait_scrapes(target.scrapes + 100, timeout_s=120)  # 10 s on a quiet machine
            # a scrape that timed out (100 ms) on a busy machine was answered but not stored: wait for
            # 90 stored samples a series too
            wait_until(lambda: _fewest_demo_samples(raw(base, time.time() + 1)) >= 90, 120, p.text)
            end = time.time()
            if how == "kill":
                # what promlite answers now was acknowledged: it must all be there after the kill
                answered, answered_ranges = raw(base, end + 1), ranges(base, start, end)
                p.p.send_signal(signal.SIGKILL)
        finally:
            rc = p.stop()
        stopped = time.time()  # the restarted server below scrapes again, after this
    if how == "stop":
        assert rc == 0, p.text()
        assert not (data / "lock").exists()
    copy = tmp_path / "copy"
    shutil.copytree(data, copy)
    if how == "stop":  # promlite's own answer after the restart is the reference
        p2 = ServeProc(str(tmp_path), "--storage.tsdb.path", str(data), config=config)
        try:
            base = f"http://127.0.0.1:{p2.port}"
            answered, answered_ranges = raw(base, stopped), ranges(base, start, end)
        finally:
            p2.stop()
    demo = {k: v for k, v in answered.items() if dict(k)["__name__"].startswith("demo_")}
    assert len(demo) == 60 and all(len(v) >= 90 for v in demo.values())
    with Prometheus(str(copy), extra_flags=("--storage.tsdb.retention.time=10y",)) as prom:
        got = raw(prom.url, stopped if how == "stop" else end + 1)
        got_ranges = ranges(prom.url, start, end)
        log = prom.log()
    assert_no_repair(log)
    for k, samples in answered.items():
        assert got.get(k, [])[: len(samples)] == samples, k
    assert_same_ranges(got_ranges, answered_ranges)
