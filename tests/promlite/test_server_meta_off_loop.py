"""Large ``/api/v1/series``, ``labels`` and ``label/<name>/values`` answers leave the event loop free (issue 12).

One ``promlite serve`` over 200,000 seeded series. While it answers
``/api/v1/series?match[]=big_series`` (200,000 label sets, ~17 MB of JSON) and the
values of ``instance`` (200,000 strings), a thread asks ``/-/healthy`` every 20 ms.
Building and encoding those answers used to run on the event loop (one
``json.dumps`` of the whole list), which held ``/-/healthy`` for as long as it ran.

Bounds: the health p99 is a wall-time figure, so the bound is generous (the issue's
target is 50 ms on a quiet machine); the answer's server CPU is the work bound.
"""

from __future__ import annotations

import json
import time

import pytest
from health_probe import HealthProbe
from serve_proc import ServeProc, seed

N_SERIES = 200_000


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    d = tmp_path_factory.mktemp("meta_off_loop")
    seed(str(d / "data"), N_SERIES, 1)
    p = ServeProc(str(d), f"--storage.tsdb.path={d / 'data'}")
    yield p
    p.stop()


@pytest.mark.parametrize("path, count", [
    ("/api/v1/series?match[]=big_series", N_SERIES),
    ("/api/v1/label/instance/values", N_SERIES),
    ("/api/v1/labels?match[]=big_series", 3),
])
def test_health_answers_while_a_large_meta_answer_is_built(served, path, count):
    p = served
    cpu0 = p.cpu_seconds()
    with HealthProbe(p) as probe:
        time.sleep(0.1)
        t0 = time.perf_counter()
        status, body = p.request("GET", path, timeout=120)
        elapsed = time.perf_counter() - t0
        time.sleep(0.1)
    cpu = None if cpu0 is None else p.cpu_seconds() - cpu0
    assert status == 200, body[:300]
    doc = json.loads(body)
    assert doc["status"] == "success" and len(doc["data"]) == count
    assert not probe.failures, probe.failures
    assert len(probe.latencies) >= 3
    print(f"\n{path}: {len(body) / 1e6:.1f} MB in {elapsed:.2f} s wall, {cpu} s server CPU; /-/healthy during it: "
          f"{len(probe.latencies)} requests, p99 {probe.p99() * 1000:.1f} ms, max {max(probe.latencies) * 1000:.1f} ms")
    # wall time on a shared box: generous (the target is 50 ms p99 on a quiet machine); the
    # whole answer on the loop held /-/healthy for its full duration
    assert probe.p99() < 0.5, sorted(probe.latencies)[-5:]
    if cpu is not None:
        assert cpu < 30, cpu
    assert "Traceback" not in p.text()
