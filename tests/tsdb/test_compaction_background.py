"""Compaction off the write path: commits only signal, the tsdb-compactor thread cuts blocks.

Timing assertions are relative to the machine (a commit against the block
write it overlapped), never absolute wall-clock limits.
"""

import errno
import itertools
import logging
import os
import threading
import time

import numpy as np
import pytest

import tsdb
from tsdb import Matcher
from tsdb import compact as compaction
from tsdb import compactor as compactor_mod

STEP = 1000  # ms between scrapes
RANGE = 60 * STEP  # block range: 60 scrapes per window
ALL = Matcher.eq("__name__", "m")


def make_series(db, n):
    app = db.appender()
    refs = np.array([app.append({"__name__": "m", "i": str(i)}, 0, 0.0) for i in range(n)], dtype=np.int64)
    app.commit()
    return refs


def scrape(db, refs, k):
    """Commit scrape ``k``: every series gets value ``k`` at ``k * STEP``; returns the commit latency (s)."""
    t0 = time.perf_counter()
    app = db.appender()
    app.append_batch(refs, k * STEP, np.full(len(refs), float(k)))
    app.commit()
    return time.perf_counter() - t0


def check_all(db, n, upto, exact=False):
    """Every series holds scrapes 0..upto (each once, in order); more only if not ``exact``."""
    with db.querier() as q:
        got = list(q.select(ALL))
    assert len(got) == n
    want_t = np.arange(upto + 1, dtype=np.int64) * STEP
    for s in got:
        t, v = s.timestamps, s.values
        assert (np.diff(t) > 0).all(), f"{s.labels}: duplicated or unordered samples"
        if exact:
            assert len(t) == upto + 1, (s.labels, len(t), upto)
        np.testing.assert_array_equal(t[: upto + 1], want_t, err_msg=str(s.labels))
        np.testing.assert_array_equal(v[: upto + 1], want_t / STEP)


def wait_idle(db, timeout=120.0):
    """Wait until the background compactor has nothing left to do (or fail)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not db._compactor.mutex.locked() and not db._head_compactable():
            return
        time.sleep(0.01)
    raise AssertionError("the background compactor did not finish")


def no_tmp_dirs(path):
    return [n for n in os.listdir(path) if ".tmp" in n]


@pytest.fixture(params=["thread", "worker"])
def where(request, monkeypatch):
    """Write blocks in the compactor thread, or in the block worker process (even for small jobs)."""
    monkeypatch.setattr(compactor_mod, "WORKER_MIN_SERIES", 0 if request.param == "worker" else 10**9)
    return request.param


class BlockLog(logging.Handler):
    """The compactor's "wrote block" records: (start, end, cut_s, write_s, swap_s)."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.blocks = []
        self.errors = []

    def emit(self, record):
        if record.msg.startswith("wrote block"):
            self.blocks.append((record.args[1], record.args[2], *record.args[-3:]))
        elif record.levelno >= logging.ERROR:
            self.errors.append(record.getMessage())


@pytest.fixture
def block_log():
    h = BlockLog()
    logger = logging.getLogger("tsdb.compact")
    old = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(h)
    yield h
    logger.removeHandler(h)
    logger.setLevel(old)


# -- (a) commits are not held up by a block write ----------------------------------------------


def test_commits_continue_while_a_block_is_written(tmp_path, block_log):
    n = 20_000
    with tsdb.open(str(tmp_path / "d"), block_range_ms=RANGE) as db:
        refs = make_series(db, n)
        k = 0
        while not db._head_compactable():  # up to the commit that signals the first cut
            k += 1
            scrape(db, refs, k)
        lat, overlapped = [], []
        while not block_log.blocks and len(lat) < 5000:  # commit back to back until the block is in
            busy = db._compactor.mutex.locked()
            k += 1
            lat.append(scrape(db, refs, k))
            overlapped.append(busy or db._compactor.mutex.locked())
        assert block_log.blocks, "no block was cut"
        _, _, cut_s, write_s, swap_s = block_log.blocks[0]
        during = np.array(lat)[np.array(overlapped)]
        assert len(during) >= 5, "too few commits overlapped the block write to say anything"
        print(
            f"\n{n} series: block write {write_s * 1000:.0f} ms (cut {cut_s * 1000:.1f} ms, "
            f"swap {swap_s * 1000:.1f} ms under the lock); {len(during)} commits during it: "
            f"median {np.median(during) * 1000:.1f} ms, max {during.max() * 1000:.1f} ms"
        )
        # Relative to the write it overlapped, both wall time. A commit that waited for the write would
        # take about write_s, and few would overlap it (the count above). On a quiet machine the median
        # is 1.2-2.7 ms against writes of 620-1060 ms (1/250-1/400); the max, 9-87 ms, is one preempted
        # commit on a busy machine and is only printed.
        assert np.median(during) < 0.1 * write_s
        check_all(db, n, k, exact=True)


# -- (b) nothing lost, nothing duplicated --------------------------------------------------


def test_no_sample_lost_or_duplicated_across_cuts(tmp_path, where, block_log):
    n = 300
    path = str(tmp_path / "d")
    acked = [0]
    stop = threading.Event()
    problems, reads_during = [], [0]

    def reader(db):
        while not stop.is_set():
            upto = acked[0]  # every scrape up to here was acknowledged before the read began
            busy = db._compactor.mutex.locked()
            try:
                check_all(db, n, upto)
            except AssertionError as e:
                problems.append(e)
                return
            reads_during[0] += busy

    with tsdb.open(path, block_range_ms=RANGE, wal_sync="never") as db:
        refs = make_series(db, n)
        t = threading.Thread(target=reader, args=(db,))
        t.start()
        try:
            for k in range(1, 6 * RANGE // STEP):
                scrape(db, refs, k)
                acked[0] = k
        finally:
            stop.set()
            t.join()
        assert not problems, problems[0]
        wait_idle(db)
        last = acked[0]
        assert len(block_log.blocks) >= 3 and not block_log.errors
        assert reads_during[0] > 0, "no read overlapped a compaction"
        check_all(db, n, last, exact=True)
        db.compact()
        check_all(db, n, last, exact=True)
    assert not no_tmp_dirs(path)
    with tsdb.open(path, block_range_ms=RANGE) as db:
        check_all(db, n, last, exact=True)


def test_querier_made_before_a_cut_reads_the_moved_window(tmp_path):
    with tsdb.open(str(tmp_path / "d"), block_range_ms=RANGE, auto_compact=False) as db:
        refs = make_series(db, 10)
        for k in range(1, 2 * RANGE // STEP):
            scrape(db, refs, k)
        with db.querier() as q:
            db.compact()  # the first window moves from the head into a block the querier did not hold
            assert len(db.blocks) == 1
            got = list(q.select(ALL))
            assert {len(s) for s in got} == {2 * RANGE // STEP}
            assert q.label_values("i") == sorted(str(i) for i in range(10))


# -- (c) compact() and flush() stay synchronous ------------------------------------------------


@pytest.mark.parametrize("auto", [True, False])
def test_compact_and_flush_are_synchronous(tmp_path, auto):
    path = str(tmp_path / "d")
    with tsdb.open(path, block_range_ms=RANGE, auto_compact=auto) as db:
        names = {t.name for t in threading.enumerate()}
        assert (compactor_mod.THREAD_NAME in names) == auto
        refs = make_series(db, 50)
        last = 5 * RANGE // STEP
        for k in range(1, last + 1):
            scrape(db, refs, k)
        db.compact()
        assert not db._head_compactable()  # returned only once every full window was persisted
        assert db.blocks and db.blocks[-1].meta.max_time == db.head.min_valid_t
        check_all(db, 50, last, exact=True)
        db.flush()
        assert db.head.chunks.n == 0 and not (db.head.nsamp > 0).any()  # everything is in blocks now
        spans = [(b.meta.min_time, b.meta.max_time) for b in db.blocks]
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans)), spans  # no overlap, no duplicate
        check_all(db, 50, last, exact=True)
    with tsdb.open(path, block_range_ms=RANGE) as db:
        check_all(db, 50, last, exact=True)


def test_compact_waits_for_a_background_compaction(tmp_path, block_log, monkeypatch):
    slow = threading.Event()
    real = compaction.write_cut

    def write_cut(*a, **kw):
        slow.set()
        time.sleep(0.3)  # the background write is in progress when compact() is called
        return real(*a, **kw)

    monkeypatch.setattr(compaction, "write_cut", write_cut)
    with tsdb.open(str(tmp_path / "d"), block_range_ms=RANGE) as db:
        refs = make_series(db, 20)
        last = 4 * RANGE // STEP
        for k in range(1, last + 1):
            scrape(db, refs, k)
        assert slow.wait(10)
        db.compact()
        assert not db._head_compactable()
        ranges = [(s, e) for s, e, *_ in block_log.blocks]
        assert len(ranges) == len(set(ranges)), ranges  # each window written once
        check_all(db, 20, last, exact=True)


# -- (d) close() during a background compaction -----------------------------------------------


def test_close_during_a_background_compaction_reopens_whole(tmp_path, where, monkeypatch):
    n = 2500
    if where == "thread":  # make the in-thread write slow enough to be caught in the middle
        real = compaction._checked

        def slow_checked(items, check):
            for x in real(items, check):
                time.sleep(0.0005)
                yield x

        monkeypatch.setattr(compaction, "_checked", slow_checked)
        monkeypatch.setattr(compaction, "CHECK_EVERY", 1)
    path = str(tmp_path / "d")
    db = tsdb.open(path, block_range_ms=RANGE)
    try:
        refs = make_series(db, n)
        k = 0
        while not db._head_compactable():
            k += 1
            scrape(db, refs, k)
        deadline = time.monotonic() + 60
        while db.head.min_valid_t < RANGE and time.monotonic() < deadline:  # wait for the cut
            time.sleep(0.001)
        assert db.head.min_valid_t == RANGE
    finally:
        t0 = time.perf_counter()
        db.close()
        closing = time.perf_counter() - t0
    print(f"\nclose() during a block write ({where}): {closing * 1000:.0f} ms")
    assert compactor_mod.THREAD_NAME not in {t.name for t in threading.enumerate()}
    assert not no_tmp_dirs(path), os.listdir(path)  # an abandoned write leaves nothing behind
    with tsdb.open(path, block_range_ms=RANGE) as db:
        check_all(db, n, k, exact=True)
        db.compact()
        check_all(db, n, k, exact=True)


# -- failures ---------------------------------------------------------------------------------------


def test_full_disk_during_a_block_write_keeps_the_head_and_retries(tmp_path, block_log, monkeypatch):
    real = compaction.write_block
    fail = [True]

    def write_block(*a, **kw):
        if fail[0]:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(*a, **kw)

    monkeypatch.setattr(compaction, "write_block", write_block)
    monkeypatch.setattr(compactor_mod, "WORKER_MIN_SERIES", 10**9)
    path = str(tmp_path / "d")
    with tsdb.open(path, block_range_ms=RANGE) as db:
        refs = make_series(db, 20)
        k = 0
        deadline = time.monotonic() + 30
        while not block_log.errors and time.monotonic() < deadline:
            k += 1
            scrape(db, refs, k)
            time.sleep(0.001)
        assert block_log.errors, "the background write should have failed"
        assert f"writing the head block [0, {RANGE})" in block_log.errors[0]
        assert "ENOSPC" in block_log.errors[0] or "No space left" in block_log.errors[0]
        assert not db.blocks and not no_tmp_dirs(path)
        check_all(db, 20, k, exact=True)  # the head still has every sample
        fail[0] = False
        deadline = time.monotonic() + 30  # retried on a later commit, after the back-off
        while not db.blocks and time.monotonic() < deadline:
            k += 1
            scrape(db, refs, k)
            time.sleep(0.01)
        assert db.blocks
        wait_idle(db)
        check_all(db, 20, k, exact=True)
    with tsdb.open(path, block_range_ms=RANGE) as db:
        check_all(db, 20, k, exact=True)


def test_a_killed_block_worker_loses_nothing(tmp_path, block_log, monkeypatch):
    monkeypatch.setattr(compactor_mod, "WORKER_MIN_SERIES", 0)
    real = compactor_mod.BlockWorker.write_cut
    killed = []

    def write_cut(self, *a, **kw):
        if not killed:
            killed.append(self.pid)
            os.kill(self.pid, 9)  # the worker this test's DB started
        return real(self, *a, **kw)

    monkeypatch.setattr(compactor_mod.BlockWorker, "write_cut", write_cut)
    path = str(tmp_path / "d")
    with tsdb.open(path, block_range_ms=RANGE) as db:
        refs = make_series(db, 50)
        last = 3 * RANGE // STEP
        for k in range(1, last + 1):
            scrape(db, refs, k)
        deadline = time.monotonic() + 60
        while not killed and time.monotonic() < deadline:
            time.sleep(0.01)
        db.compact()  # waits for the failed background pass, then does the work itself
        assert killed and any("died" in e for e in block_log.errors), block_log.errors
        assert db.blocks and not no_tmp_dirs(path)
        check_all(db, 50, last, exact=True)
    with tsdb.open(path, block_range_ms=RANGE) as db:
        check_all(db, 50, last, exact=True)
