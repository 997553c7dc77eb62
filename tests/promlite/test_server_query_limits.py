"""A query past its ``timeout`` answers then and stops; sample and concurrency limits at the API (issue 12).

Before: ``timeout=1s`` answered after 6 s (a 5 s backstop grace) and the
abandoned evaluation ran to its end on one of the two query workers;
``count_values`` over a range answered 422 with numpy's "Unable to allocate
75.6 GiB" (or took the server past 4.5 GiB). Work is bounded in CPU time of
the server process, never in wall time; wall-time waits are safety nets.
"""

from __future__ import annotations

import json
import time
import urllib.parse

import pytest
from serve_proc import ServeProc, seed
from timing import wait_until

N_TERMS = 3000  # ~18 ms of CPU a term over 2,000 series x 480 steps: about a minute uncancelled


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    d = tmp_path_factory.mktemp("limits")
    first, last = seed(str(d / "data"), 2000, 480)
    s = ServeProc(str(d), "--storage.tsdb.path=data", "--query.max-concurrency=7")
    s.range = (first, last)
    yield s
    s.stop()


def _post(s: ServeProc, path: str, form: dict, timeout: float = 120) -> tuple[int, dict]:
    status, body = s.request("POST", path, urllib.parse.urlencode(form).encode(),
                             {"Content-Type": "application/x-www-form-urlencoded"}, timeout=timeout)
    return status, json.loads(body)


def _idle(s: ServeProc) -> float:
    """Wait until the server's CPU time stops growing (no evaluation left running); return it."""
    last = [s.cpu_seconds()]

    def settled():
        time.sleep(0.5)
        now = s.cpu_seconds()
        done = now - last[0] < 0.1
        last[0] = now
        return done
    wait_until(settled, 120, "server CPU settling")
    return last[0]


def test_timeout_answers_and_stops_the_evaluation(server):
    first, last = server.range
    heavy = " + ".join(["sum(rate(big_series[5m]))"] * N_TERMS)
    cpu0 = _idle(server)
    import threading

    answers: list = []
    threads = [threading.Thread(target=lambda: answers.append(_post(server, "/api/v1/query_range", {
        "query": heavy, "start": first / 1000, "end": last / 1000, "step": "15", "timeout": "1s"})))
        for _ in range(2)]  # as many as the query workers: both would stay busy if evaluation ran on
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(answers) == 2
    for status, body in answers:
        assert status == 503, body
        assert body["errorType"] == "timeout" and "query timed out" in body["error"], body
    # the workers are free: a small query answers (safety net only) ...
    status, body = _post(server, "/api/v1/query", {"query": "1+1"}, timeout=60)
    assert status == 200, body
    # ... and the two evaluations stopped: a few seconds of CPU, not two minutes
    used = _idle(server) - cpu0
    assert used < 15, f"server used {used:.1f} s of CPU after a 1 s timeout"


def test_count_values_over_a_range_is_a_sample_limit_error(server):
    first, last = server.range
    status, body = _post(server, "/api/v1/query_range", {
        "query": 'count_values("v", big_series)', "start": first / 1000, "end": last / 1000, "step": "15"})
    assert status == 422, body
    assert body["errorType"] == "execution"
    assert body["error"] == "query processing would load too many samples into memory in query execution"


def test_concurrency_gauges(server):
    status, body = server.request("GET", "/metrics")
    text = body.decode()
    assert "prometheus_engine_queries_concurrent_max 7.0" in text
    assert "prometheus_engine_queries 0.0" in text
