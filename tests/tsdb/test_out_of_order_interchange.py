"""Out-of-order samples and ``wbl/`` both ways, against the real ``prometheus`` (2.42 has the same window).

* promlite logs late samples to ``wbl/`` and is closed or killed; Prometheus,
  started on a copy with the same ``out_of_order_time_window``, answers them
  and repairs nothing.
* Prometheus scrapes a target whose timestamps go back in time (its late
  samples go to its ``wbl/``; a clean stop also writes memory-map markers
  there) and is stopped or killed; promlite opens a copy read-only, changes
  nothing, and answers every sample Prometheus answered.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from prometheus import Prometheus, StaticTarget, as_floats, assert_no_repair, tree_hashes

import tsdb
from tsdb import Matcher

MIN = 60_000
OOO_CONFIG = "storage:\n  tsdb:\n    out_of_order_time_window: 1h\n"

WRITER = textwrap.dedent(
    """
    import sys, tsdb
    path, now, how = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    db = tsdb.open(path, out_of_order_time_window_ms=3_600_000)
    MIN = 60_000
    # in order: 30 minutes of 15 s samples of three series
    for k in range(120):
        app = db.appender()
        for i in range(3):
            app.append({"__name__": "ooo_metric", "job": "lib", "i": str(i)}, now - 30 * MIN + k * 15_000, k + i)
        app.commit()
    # late: between the in-order samples, before them, and a series that only has late samples after one
    for k in range(40):
        app = db.appender()
        app.append({"__name__": "ooo_metric", "job": "lib", "i": "0"}, now - 30 * MIN + k * 15_000 + 7_000, -k)
        app.append({"__name__": "ooo_metric", "job": "lib", "i": "1"}, now - 31 * MIN - k * 1_000, -k)
        app.commit()
        print(k, flush=True)
    if how == "close":
        db.close()
        print("closed", flush=True)
    else:
        sys.stdin.read()  # wait to be killed
    """
)


@pytest.mark.parametrize("how", ["close", "kill"])
def test_prometheus_reads_promlite_out_of_order_samples(tmp_path, how):
    src = str(tmp_path / "src")
    now = int(time.time() * 1000) // 1000 * 1000
    proc = subprocess.Popen([sys.executable, "-c", WRITER, src, str(now), how], stdout=subprocess.PIPE,
                            stdin=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline().strip() for _ in range(40 + (how == "close"))]
    finally:
        if how == "kill":
            proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
    assert lines[39] == "39"
    assert os.listdir(os.path.join(src, "wbl"))
    want = promlite_samples(src, read_only=True)
    late_0 = [t for t, v in want[(("__name__", "ooo_metric"), ("i", "0"), ("job", "lib"))] if v < 0 or t % 15_000]
    assert len(late_0) >= 40
    copy = str(tmp_path / "copy")
    shutil.copytree(src, copy)
    with Prometheus(copy, extra_config=OOO_CONFIG, extra_flags=("--storage.tsdb.retention.time=10y",)) as prom:
        got = as_floats(prom.raw_samples('{__name__="ooo_metric"}', window="2h", time_s=now / 1000 + 60))
        log = prom.log()
    assert_no_repair(log)
    assert got == want


def promlite_samples(path: str, **opts) -> dict[tuple, list[tuple[int, float]]]:
    with tsdb.open(path, **opts) as db, db.querier() as q:
        return {s.labels: list(zip(s.timestamps.tolist(), s.values.tolist(), strict=True))
                for s in q.select(Matcher.re("__name__", ".+"))}


def late_body(n: int, base_ms: int) -> str:
    """Scrape ``n``: a series moving forward in time and one moving backwards (late after its first)."""
    return (f"fwd_metric 1{n} {base_ms + n * 1000}\n"
            f"back_metric {n} {base_ms - n * 1000}\n")


@pytest.fixture(scope="module")
def prometheus_ooo_dirs(tmp_path_factory):
    base = tmp_path_factory.mktemp("prom-ooo")
    out = {}
    for how in ("stop", "kill"):
        base_ms = int(time.time() * 1000) // 1000 * 1000
        with StaticTarget(body_fn=lambda n, b=base_ms: late_body(n, b)) as target:
            data = str(base / how)
            prom = Prometheus(data, targets=[target.address], scrape_interval="100ms", extra_config=OOO_CONFIG)
            try:
                target.wait_scrapes(target.scrapes + 60, timeout_s=120)
                answered = as_floats(prom.raw_samples('{__name__=~"fwd_metric|back_metric"}', window="2h",
                                                      time_s=base_ms / 1000 + 600))
            finally:
                if how == "stop":
                    prom.stop()
                else:
                    prom.kill()
            out[how] = (data, answered)
    return out


@pytest.mark.parametrize("how", ["stop", "kill"])
def test_promlite_reads_prometheus_out_of_order_samples(tmp_path, prometheus_ooo_dirs, how):
    data, answered = prometheus_ooo_dirs[how]
    back = [k for k in answered if ("__name__", "back_metric") in k]
    assert back and len(answered[back[0]]) >= 30, "Prometheus did not take the late samples"
    assert os.listdir(os.path.join(data, "wbl"))
    copy = str(tmp_path / "copy")
    shutil.copytree(data, copy)
    before = tree_hashes(copy)
    got = promlite_samples(copy, read_only=True)
    assert tree_hashes(copy) == before
    for k, samples in answered.items():
        have = dict(got.get(k, []))
        missing = [(t, v) for t, v in samples if have.get(t) != v]
        assert not missing, (k, missing[:3])
    # and read-write, with the same window, it keeps them and can add more
    with tsdb.open(copy, out_of_order_time_window_ms=3_600_000) as db, db.querier() as q:
        n = sum(len(s) for s in q.select(Matcher.eq("__name__", "back_metric")))
        assert n >= len(answered[back[0]])
