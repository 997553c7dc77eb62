"""kill -9 cycles during ingestion and compaction: every acknowledged sample survives.

Two paths, each killed with SIGKILL over and over at seeded random moments and
restarted on the same data directory, with blocks of one second so that head
cuts, WAL checkpoints and block merges run all the time (a kill lands in one
of them often; the figures count the kills that left a compaction's ``.tmp``
directory behind, i.e. that interrupted one).

* ``test_serve_kill9_cycles_keep_every_acknowledged_sample``: the real
  ``promlite serve`` scraping a loopback target every 100 ms. **A scraped
  sample is acknowledged once the HTTP API has returned it**: the server
  applies a scrape to the head only after ``commit()`` has logged it to the
  WAL and fsynced it (``wal_sync="always"``, the server's policy), so a sample
  a client has seen is one the storage promised to keep. The test queries the
  raw samples right before each kill, and after each restart checks that every
  sample ever returned is returned again, with the same value.
* ``test_library_kill9_cycles_keep_every_committed_batch``: a child process
  appending with the ``tsdb`` library, printing each batch after
  ``commit()`` returned (**acknowledged = commit returned**), killed, then
  the directory is opened read-only and every printed batch checked
  sample by sample (the next child's writable open repairs the torn tail).

Client aborts (clients killed mid-answer) are covered by
``tests/promlite/test_server_clients.py::test_clients_closing_mid_answer_do_not_kill_the_server``.

CI runs ~10 cycles of each; ``PROMLITE_SOAK=1`` runs >= 50.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import counter_target
import numpy as np
import pytest
from counter_target import CounterTarget
from serve_proc import ServeProc
from soak import scaled
from timing import wait_until

import tsdb
from tsdb import Matcher

N_SERIES = 20


def interrupted_compactions(data: str) -> list[str]:
    """What a kill left of a compaction in progress: ``.tmp`` block or checkpoint directories."""
    left = []
    for d in (data, os.path.join(data, "wal")):
        if os.path.isdir(d):
            left += [os.path.join(os.path.basename(d), n) for n in os.listdir(d) if ".tmp" in n]
    return left


def raw_samples(srv: ServeProc) -> dict[tuple[str, int], float]:
    return counter_target.raw_samples(srv, "fault_counter")


def test_serve_kill9_cycles_keep_every_acknowledged_sample(tmp_path):
    cycles = scaled(10, 50)
    rng = random.Random(12)
    target = CounterTarget("fault_counter", N_SERIES, 100)
    config = textwrap.dedent(f"""\
        global:
          scrape_interval: 100ms
        scrape_configs:
          - job_name: faults
            static_configs:
              - targets: ["127.0.0.1:{target.port}"]
        """)
    data = str(tmp_path / "data")
    acked: dict[tuple[str, int], float] = {}
    lost: set[tuple[str, int]] = set()
    compaction_kills = aimed = 0
    blocks_seen = 0
    try:
        for cycle in range(cycles):
            cwd = tmp_path / f"cycle-{cycle:03d}"
            cwd.mkdir()
            srv = ServeProc(str(cwd), f"--storage.tsdb.path={data}", "--storage.tsdb.min-block-duration=1s",
                            config=config)
            try:
                # Restarted cleanly: everything acknowledged before is still there, unchanged.
                now = raw_samples(srv)
                missing = {k for k in acked if k not in now}
                changed = {k for k in acked if k in now and now[k] != acked[k]}
                lost |= missing
                assert not changed, sorted(changed)[:10]
                before = len(now)
                # Ingest for a while: at least one new scrape must become visible each cycle.
                wait_until(lambda: len(raw_samples(srv)) > before, 60, srv.text)  # noqa: B023
                if cycle % 2:
                    # aim at a compaction: with 1 s blocks the head is cut right after the head spans
                    # 1.5 s, i.e. ~0.5-0.7 s past a wall-clock second
                    aimed += 1
                    t = time.time()
                    time.sleep((int(t) + 1 - t) + rng.uniform(0.45, 0.75) + rng.randrange(3))
                else:
                    time.sleep(rng.uniform(0.0, 2.5))
                acked.update(raw_samples(srv))
            finally:
                os.kill(srv.p.pid, signal.SIGKILL)
                srv.p.wait(30)
                srv._log.close()
            assert srv.p.returncode == -signal.SIGKILL, srv.text()
            left = interrupted_compactions(data)
            compaction_kills += bool(left)
            blocks_seen = max(blocks_seen, sum(len(n) == 26 for n in os.listdir(data)))
        # last restart: every sample ever acknowledged is there
        (tmp_path / "final").mkdir()
        srv = ServeProc(str(tmp_path / "final"), f"--storage.tsdb.path={data}",
                        "--storage.tsdb.min-block-duration=1s", config=config)
        try:
            now = raw_samples(srv)
        finally:
            assert srv.stop() == 0, srv.text()
        lost |= {k for k in acked if k not in now}
        assert not [k for k in acked if k in now and now[k] != acked[k]]
        assert not [ln for ln in srv.lines() if "level=ERROR" in ln], srv.text()
    finally:
        target.close()
    print(f"\nFIGURES serve kill -9: cycles={cycles} acknowledged_samples={len(acked)} "
          f"samples_lost={len(lost)} kills_aimed_at_compaction={aimed} "
          f"kills_that_interrupted_a_compaction={compaction_kills} most_blocks_on_disk={blocks_seen}")
    assert not lost, f"{len(lost)} acknowledged samples lost, e.g. {sorted(lost)[:10]}"
    assert blocks_seen, "1 s blocks: the server should have cut blocks"
    assert len(acked) >= cycles * N_SERIES


LIB_WRITER = textwrap.dedent(
    """
    import sys, numpy as np, tsdb
    path, n_series = sys.argv[1], int(sys.argv[2])
    db = tsdb.open(path, block_range_ms=1_000, wal_segment_bytes=64 * 1024)
    with db.querier() as q:
        last = max((int(s.timestamps[-1]) for s in q.select(tsdb.Matcher.eq("__name__", "lib"))), default=-100)
    app = db.appender()
    refs = np.array([app.append({"__name__": "lib", "i": str(i)}, 0, 0.0) for i in range(n_series)] if last < 0
                    else [app.append({"__name__": "lib", "i": str(i)}, last, float(last)) for i in range(n_series)])
    app.rollback()
    k = last // 100 + 1
    print("start", k, flush=True)
    while True:
        app = db.appender()
        # batch k: every series at k * 100 ms, value k (+ i / 1000 so that series differ)
        app.append_batch(refs, k * 100, float(k) + np.arange(n_series) / 1000)
        app.commit()
        print("ack", k, flush=True)   # acknowledged: commit() returned
        k += 1
    """
)


def test_library_kill9_cycles_keep_every_committed_batch(tmp_path):
    cycles = scaled(10, 60)
    n_series = 50
    rng = random.Random(1212)
    path = str(tmp_path / "d")
    acked = -1
    compaction_kills = 0
    batches_checked = 0
    for _cycle in range(cycles):
        proc = subprocess.Popen([sys.executable, "-c", LIB_WRITER, path, str(n_series)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            line = proc.stdout.readline()
            assert line.startswith("start "), proc.stderr.read()
            assert int(line.split()[1]) >= acked + 1, (line, acked)  # nothing acknowledged went missing
            # a seeded number of acknowledged batches (0 to ~4 block ranges), then the kill
            for _ in range(rng.randrange(0, 40)):
                line = proc.stdout.readline()
                assert line.startswith("ack "), line + proc.stderr.read()
                acked = int(line.split()[1])
            time.sleep(rng.uniform(0, 0.05))
        finally:
            proc.send_signal(signal.SIGKILL)
            rest, err = proc.communicate(timeout=60)
        assert proc.returncode == -signal.SIGKILL, err
        for ln in rest.splitlines()[:-1] if not rest.endswith("\n") else rest.splitlines():
            if ln.startswith("ack "):
                acked = int(ln.split()[1])  # printed before the kill: acknowledged too
        compaction_kills += bool(interrupted_compactions(path))
        # read-only: changes nothing, sees every acknowledged batch (the torn tail, if any, is not one)
        with tsdb.open(path, read_only=True, block_range_ms=1_000) as db, db.querier() as q:
            got = sorted(q.select(Matcher.eq("__name__", "lib")), key=lambda s: int(dict(s.labels)["i"]))
        assert len(got) == n_series
        for s in got:
            i = int(dict(s.labels)["i"])
            ks = s.timestamps // 100
            n = acked + 1
            assert len(ks) >= n, (i, len(ks), acked)
            np.testing.assert_array_equal(ks[:n], np.arange(n))
            np.testing.assert_array_equal(s.values[:n], np.arange(n) + i / 1000)
        batches_checked = acked + 1
    print(f"\nFIGURES library kill -9: cycles={cycles} batches_acknowledged={batches_checked} "
          f"samples_acknowledged={batches_checked * n_series} samples_lost=0 "
          f"kills_that_interrupted_a_compaction={compaction_kills}")
    assert batches_checked > cycles


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-s"]))
