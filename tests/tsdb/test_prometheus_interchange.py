"""The data directory is Prometheus's both ways, checked against the real ``prometheus`` and ``promtool``.

* promlite writes (blocks, checkpoint, WAL segments and the head), is closed
  cleanly or killed with SIGKILL; Prometheus started on a copy answers every
  acknowledged sample, logs no repair, and ``promtool tsdb dump`` lists them all.
* Prometheus scrapes, is stopped or killed; promlite opens a copy (WAL,
  checkpoint, ``chunks_head/``, blocks) read-only without changing a byte and
  read-write, and answers what Prometheus answered.

Prometheus 2.42 is what Debian ships; nothing here depends on a 2.x/3.x difference.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from _requirements import require_tool
from prometheus import (
    Prometheus,
    StaticTarget,
    as_floats,
    assert_no_repair,
    exposition,
    tree_hashes,
)

import tsdb
from tsdb import Matcher
from tsdb.head_chunks_file import max_series_ref

MIN = 60_000
H = 60 * MIN


def promlite_samples(path: str, **opts) -> dict[tuple, list[tuple[int, float]]]:
    with tsdb.open(path, **opts) as db, db.querier() as q:
        return {
            s.labels: list(zip(s.timestamps.tolist(), s.values.tolist(), strict=True))
            for s in q.select(Matcher.re("__name__", ".+"))
        }


# --------------------------------------------------------------- promlite -> Prometheus


def write_library_dir(path: str, now_ms: int, n_series: int = 50) -> dict[tuple, list[tuple[int, float]]]:
    """Three hours of 15 s samples: 1 h blocks, a checkpoint, several WAL segments and a head."""
    start = now_ms - 3 * H
    want: dict[tuple, list[tuple[int, float]]] = {}
    with tsdb.open(path, block_range_ms=H, wal_segment_bytes=64 * 1024) as db:
        app = db.appender()
        labels = [(("__name__", "lib_metric"), ("i", str(i)), ("job", "lib")) for i in range(n_series)]
        refs = np.array([db.series_ref(dict(ls)) for ls in labels])
        app.commit()
        for k, t in enumerate(range(start, now_ms, 15_000)):
            vs = np.arange(n_series) * 1.5 + k
            app = db.appender()
            app.append_batch(refs, t, vs)
            app.commit()
            for ls, v in zip(labels, vs.tolist(), strict=True):
                want.setdefault(ls, []).append((t, v))
        db.compact()
    return want


def check_prometheus_reads(copy: str, want: dict, now_ms: int) -> None:
    with Prometheus(copy, extra_flags=("--storage.tsdb.retention.time=10y",)) as prom:
        got = as_floats(prom.raw_samples('{__name__=~".+", job="lib"}', window="4h", time_s=now_ms / 1000))
        log = prom.log()
    assert set(got) == set(want)
    for k in want:
        assert got[k] == want[k], k
    assert_no_repair(log)


def promtool_dump(path: str) -> dict[tuple, list[tuple[int, float]]]:
    out = subprocess.run([require_tool("promtool"), "tsdb", "dump", path], capture_output=True, text=True,
                         timeout=300, check=True).stdout
    got: dict[tuple, list[tuple[int, float]]] = {}
    for line in out.splitlines():
        lab, v, t = line.rsplit(" ", 2)
        pairs = tuple(
            (p.split("=", 1)[0], p.split("=", 1)[1].strip('"')) for p in lab.strip("{}").split(", ")
        )
        got.setdefault(tuple(sorted(pairs)), []).append((int(t), float(v)))
    return got


def test_prometheus_reads_a_cleanly_closed_library_dir(tmp_path):
    src = str(tmp_path / "src")
    now_ms = int(time.time() * 1000) // 1000 * 1000
    want = write_library_dir(src, now_ms)
    names = os.listdir(src)
    assert any(len(n) == 26 for n in names), "expected blocks"
    assert any(n.startswith("checkpoint.") for n in os.listdir(os.path.join(src, "wal")))
    assert "lock" not in names  # removed on a clean shutdown, as Prometheus does
    assert promtool_dump(src) == want  # head included
    copy = str(tmp_path / "copy")
    shutil.copytree(src, copy)
    check_prometheus_reads(copy, want, now_ms)


KILL_CHILD = textwrap.dedent(
    """
    import sys, numpy as np, tsdb
    path, start = sys.argv[1], int(sys.argv[2])
    db = tsdb.open(path, block_range_ms=3_600_000, wal_segment_bytes=64 * 1024)
    refs = np.array([db.series_ref({"__name__": "lib_metric", "job": "lib", "i": str(i)}) for i in range(20)])
    k = 0
    while True:
        app = db.appender()
        app.append_batch(refs, start + k * 15_000, np.arange(20) * 1.5 + k)
        app.commit()
        print(k, flush=True)  # acknowledged
        k += 1
    """
)


def test_prometheus_reads_a_killed_library_dir(tmp_path):
    src = str(tmp_path / "src")
    now_ms = int(time.time() * 1000) // 1000 * 1000
    start = now_ms - 3 * H
    proc = subprocess.Popen([sys.executable, "-c", KILL_CHILD, src, str(start)], stdout=subprocess.PIPE, text=True)
    acked = -1
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            acked = int(line)
            if acked >= 500:  # past a 1 h block boundary
                break
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    assert acked >= 500
    copy = str(tmp_path / "copy")
    shutil.copytree(src, copy)
    with Prometheus(copy, extra_flags=("--storage.tsdb.retention.time=10y",)) as prom:
        got = as_floats(prom.raw_samples('{__name__="lib_metric"}', window="4h", time_s=now_ms / 1000))
        log = prom.log()
    assert_no_repair(log)
    assert len(got) == 20
    for (_, (_, i), _), samples in ((k, v) for k, v in got.items()):
        ts = [t for t, _ in samples]
        want_ts = [start + k * 15_000 for k in range(acked + 1)]
        # every acknowledged sample is there (an unacknowledged last one may be too)
        assert ts[: len(want_ts)] == want_ts, i
        assert [v for _, v in samples[: len(want_ts)]] == [int(i) * 1.5 + k for k in range(acked + 1)]


# --------------------------------------------------------------- Prometheus -> promlite


@pytest.fixture(scope="module")
def prometheus_dirs(tmp_path_factory):
    """A Prometheus data dir stopped cleanly and one killed with SIGKILL, with what Prometheus answered."""
    base = tmp_path_factory.mktemp("prom")
    out = {}
    with StaticTarget(lambda n: exposition(n, counters=100, gauges=100)) as target:
        for how in ("stop", "kill"):
            data = str(base / how)
            # 100 ms scrapes fill a 120-sample head chunk in ~12 s, so a clean stop leaves chunks_head/ files
            prom = Prometheus(data, targets=[target.address], scrape_interval="100ms")
            try:
                target.wait_scrapes(target.scrapes + 160, timeout_s=300)  # ~21 s on a quiet machine
                now = time.time()
                answered = as_floats(prom.raw_samples('{__name__=~".+"}', window="1h", time_s=now))
            finally:
                if how == "stop":
                    prom.stop()
                else:
                    prom.kill()
            out[how] = (data, answered, now)
    return out


@pytest.mark.parametrize("how", ["stop", "kill"])
def test_promlite_reads_a_prometheus_dir_read_only_without_changing_it(tmp_path, prometheus_dirs, how):
    data, answered, _now = prometheus_dirs[how]
    copy = str(tmp_path / "copy")
    shutil.copytree(data, copy)
    before = tree_hashes(copy)
    got = promlite_samples(copy, read_only=True)
    assert tree_hashes(copy) == before  # not a byte changed
    if how == "stop":  # Prometheus flushes its memory-mapped chunks on a clean stop
        assert max_series_ref(os.path.join(copy, "chunks_head")) > 0
    # everything Prometheus answered at that moment is in the directory (later scrapes may add more)
    for k, samples in answered.items():
        have = dict(got.get(k, []))
        missing = [(t, v) for t, v in samples if t not in have]
        assert not missing, (k, missing[:3])
        assert all(have[t] == v or (np.isnan(v) and np.isnan(have[t])) for t, v in samples), k


@pytest.mark.parametrize("how", ["stop", "kill"])
def test_promlite_writes_into_a_prometheus_dir_and_prometheus_reads_it_back(tmp_path, prometheus_dirs, how):
    data, answered, now = prometheus_dirs[how]
    copy = str(tmp_path / "copy")
    shutil.copytree(data, copy)
    t_new = int(now * 1000) + 60_000
    chunks_head = {k: v for k, v in tree_hashes(copy).items() if k.startswith("chunks_head")}
    with tsdb.open(copy) as db:
        # a new series never takes a ref that Prometheus's memory-mapped chunks carry
        assert db.head.index.next_ref > max_series_ref(os.path.join(copy, "chunks_head"))
        app = db.appender()
        app.append({"__name__": "from_promlite", "job": "lib"}, t_new, 42.0)
        app.commit()
        before = {k: v for k, v in promlite_samples_db(db).items()}
    assert {k: v for k, v in tree_hashes(copy).items() if k.startswith("chunks_head")} == chunks_head
    with Prometheus(copy, extra_flags=("--storage.tsdb.retention.time=10y",)) as prom:
        got = as_floats(prom.raw_samples('{__name__=~".+"}', window="2h", time_s=now + 120))
        log = prom.log()
    assert_no_repair(log)
    assert got[(("__name__", "from_promlite"), ("job", "lib"))] == [(t_new, 42.0)]
    for k, samples in before.items():
        assert got.get(k, [])[: len(samples)] == samples, k


def promlite_samples_db(db) -> dict[tuple, list[tuple[int, float]]]:
    with db.querier() as q:
        return {
            s.labels: [(t, v) for t, v in zip(s.timestamps.tolist(), s.values.tolist(), strict=True)
                       if not np.isnan(v)]
            for s in q.select(Matcher.re("__name__", ".+"))
        }
