"""Faults at the DB level: kill -9 during ingestion, a full disk."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np

import tsdb
from tsdb import Matcher

WRITER = textwrap.dedent(
    """
    import sys, numpy as np, tsdb
    path, mode = sys.argv[1], sys.argv[2]
    db = tsdb.open(path, wal_sync=mode, block_range_ms=60_000)
    app = db.appender()
    refs = np.array([app.append({"__name__": "m", "i": str(i)}, 0, 0.0) for i in range(200)])
    app.commit()
    print("ack 0", flush=True)
    k = 1
    while True:
        app = db.appender()
        app.append_batch(refs, k * 1000, np.full(200, float(k)))
        app.commit()
        print(f"ack {k}", flush=True)   # acknowledged: commit() returned
        k += 1
    """
)


def test_kill_9_during_ingestion_loses_no_committed_sample(tmp_path):
    path = str(tmp_path / "d")
    proc = subprocess.Popen([sys.executable, "-c", WRITER, path, "always"], stdout=subprocess.PIPE, text=True)
    acked = -1
    deadline = time.monotonic() + 60
    # let it run through a few block cuts (60 s blocks, 1 s steps) before the kill
    while acked < 400 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith("ack "):
            acked = int(line.split()[1])
    os.kill(proc.pid, signal.SIGKILL)
    rest = proc.stdout.read()  # anything printed before the kill was acknowledged too
    acked = max([acked] + [int(ln.split()[1]) for ln in rest.splitlines() if ln.startswith("ack ")])
    proc.wait()
    assert acked >= 400
    with tsdb.open(path, block_range_ms=60_000) as db:
        with db.querier() as q:
            got = list(q.select(Matcher.eq("__name__", "m")))
        assert len(got) == 200
        for s in got:
            n = len(s.timestamps)
            assert n >= acked + 1, (s.labels, n, acked)
            np.testing.assert_array_equal(s.timestamps, np.arange(n) * 1000)
            np.testing.assert_array_equal(s.values, np.arange(n, dtype=float))
        assert db.blocks, "the writer should have cut blocks before it was killed"


FULL_DISK = textwrap.dedent(
    """
    import json, resource, signal, sys, numpy as np, tsdb
    path, limit = sys.argv[1], int(sys.argv[2])
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    db = tsdb.open(path, wal_segment_bytes=1 << 30)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    app = db.appender()
    refs = np.array([app.append({"__name__": "m", "i": str(i)}, 0, 0.0) for i in range(100)])
    app.commit()
    acked, error = 0, None
    for k in range(1, 100000):
        app = db.appender()
        app.append_batch(refs, k * 1000, np.full(100, float(k)))
        try:
            app.commit()
            acked = k
        except tsdb.StorageFullError as e:
            error = str(e)
            break
    # the DB stays usable for reads after the failed commit
    with db.querier() as q:
        visible = min(len(s) for s in q.select(tsdb.Matcher.eq("__name__", "m")))
    print(json.dumps({"acked": acked, "error": error, "visible": visible}))
    """
)


def test_full_disk_fails_the_commit_and_keeps_what_was_acknowledged(tmp_path):
    path = str(tmp_path / "d")
    out = subprocess.run(
        [sys.executable, "-c", FULL_DISK, path, str(256 * 1024)], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["error"] and "00000000" in res["error"], res
    assert res["acked"] > 10
    assert res["visible"] == res["acked"] + 1  # the failed batch was not applied
    with tsdb.open(path) as db:
        with db.querier() as q:
            for s in q.select(Matcher.eq("__name__", "m")):
                assert len(s) == res["acked"] + 1
                assert s.values[-1] == res["acked"]
