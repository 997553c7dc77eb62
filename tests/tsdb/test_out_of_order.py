"""Out-of-order ingestion (``out_of_order_time_window_ms``): acceptance, wbl/, restart, compaction, queries."""

import hashlib
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import tsdb
from tsdb import Matcher
from tsdb.wal import decode_record
from tsdb.wal.records import SamplesRecord, SeriesRecord
from tsdb.wal.segments import WAL

H = 3600 * 1000
M = 60 * 1000
T0 = 100 * H  # a block-aligned start
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NAME = Matcher.eq("__name__", "m")


def open_db(path, window=H, **kw):
    kw.setdefault("wal_sync", "never")
    kw.setdefault("auto_compact", False)
    return tsdb.open(str(path), out_of_order_time_window_ms=window, **kw)


def put(db, samples):
    """Commit ``[(series id, t, v), ...]`` in one appender; returns the stats."""
    app = db.appender()
    for i, t, v in samples:
        app.append({"__name__": "m", "i": str(i)}, t, v)
    return app.commit()


def read(db, mint=-(2**62), maxt=2**62):
    with db.querier(mint, maxt) as q:
        return {dict(s.labels)["i"]: list(zip(s.timestamps.tolist(), s.values.tolist(), strict=True))
                for s in q.select(NAME)}


def wal_samples(d):
    """(ref, t, v) of every samples record of a log directory, and the series refs it names."""
    out, series = [], set()
    with WAL.open(d, read_only=True) as w:
        for _, payload in w.replay():
            rec = decode_record(payload)
            if isinstance(rec, SamplesRecord):
                out += list(zip(rec.refs.tolist(), rec.ts.tolist(), rec.vs.tolist(), strict=True))
            elif isinstance(rec, SeriesRecord):
                series.update(rec.refs.tolist())
    return out, series


def tree_hash(root):
    h = hashlib.sha256()
    for dirpath, dirs, files in sorted(os.walk(root)):
        dirs.sort()
        for f in sorted(files):
            p = os.path.join(dirpath, f)
            h.update(p[len(root):].encode())
            with open(p, "rb") as fh:
                h.update(fh.read())
    return h.hexdigest()


IN_ORDER = [(1, T0 + k * 15_000, float(k)) for k in range(41)]  # T0 .. T0+10m


def test_without_a_window_nothing_changes(tmp_path):
    with open_db(tmp_path / "d", window=0) as db:
        put(db, IN_ORDER)
        st = put(db, [(1, T0 + 1000, -1.0)])
        assert (st.appended, st.out_of_order, st.out_of_order_appended, st.too_old) == (0, 1, 0, 0)
        assert [v for _, v in read(db)["1"]] == [float(k) for k in range(41)]
    assert not os.path.exists(tmp_path / "d" / "wbl")


def test_window_accepts_late_samples_and_rejects_too_old(tmp_path):
    with open_db(tmp_path / "d") as db:
        put(db, IN_ORDER)
        st = put(db, [
            (1, T0 + 1000, -1.0),           # between two in-order samples
            (1, T0 - 30 * M, -2.0),         # before the series' first sample, inside the window
            (1, T0 + 10 * M - H - 1, -3.0),  # one ms older than the window allows
            (2, T0 + 5 * M, 7.0),           # a new series: in order (its first sample)
            (2, T0 + 4 * M, 6.0),           # ... then out of order within the same batch
        ])
        assert (st.appended, st.out_of_order_appended, st.too_old, st.out_of_order) == (4, 3, 1, 0)
        got = read(db)
        assert got["1"][:3] == [(T0 - 30 * M, -2.0), (T0, 0.0), (T0 + 1000, -1.0)]
        assert len(got["1"]) == 43
        assert got["2"] == [(T0 + 4 * M, 6.0), (T0 + 5 * M, 7.0)]
        # a range that only holds out-of-order samples, and label lookups there
        assert read(db, T0 - H, T0 - 1) == {"1": [(T0 - 30 * M, -2.0)]}
        with db.querier(T0 - H, T0 - 1) as q:
            assert q.label_values("i") == ["1", "2"]
        stats = db.stats()
        assert stats["out_of_order_head_samples"] == 3 and stats["too_old_samples"] == 1


def test_duplicates_in_order_wins_then_first_written(tmp_path):
    with open_db(tmp_path / "d") as db:
        put(db, IN_ORDER)
        put(db, [(1, T0 + 15_000, 99.0)])  # same time as an in-order sample: it does not replace it
        put(db, [(1, T0 + 1, 1.0)])
        put(db, [(1, T0 + 1, 2.0), (1, T0 + 2, 3.0)])  # first written wins
        got = dict(read(db)["1"])
        assert got[T0 + 15_000] == 1.0 and got[T0 + 1] == 1.0 and got[T0 + 2] == 3.0
        assert len(got) == 43


def test_wbl_holds_exactly_the_out_of_order_samples_in_prometheus_format(tmp_path):
    d = tmp_path / "d"
    with open_db(d) as db:
        put(db, IN_ORDER)
        put(db, [(1, T0 + 1000, -1.0), (1, T0 + 11 * M, 5.0), (3, T0 + 2000, 1.0), (3, T0 + 1000, 2.0)])
        ref1 = db.series_ref({"__name__": "m", "i": "1"})
        ref3 = db.series_ref({"__name__": "m", "i": "3"})
    wal, wal_series = wal_samples(str(d / "wal"))
    wbl, wbl_series = wal_samples(str(d / "wbl"))
    assert sorted(wbl) == sorted([(ref1, T0 + 1000, -1.0), (ref3, T0 + 1000, 2.0)])
    assert not wbl_series  # series records live in the WAL only
    assert {ref1, ref3} <= wal_series
    assert (ref1, T0 + 11 * M, 5.0) in wal and (ref3, T0 + 2000, 1.0) in wal
    assert not any(t in (T0 + 1000,) and r in (ref1, ref3) for r, t, _ in wal)


def test_restart_replays_the_wbl(tmp_path):
    d = tmp_path / "d"
    with open_db(d) as db:
        put(db, IN_ORDER)
        put(db, [(1, T0 - 10 * M, -1.0), (2, T0 + 3 * M, 3.0)])
        put(db, [(2, T0 + 2 * M, 2.0)])
        before = read(db)
    with open_db(d) as db:
        assert read(db) == before
        assert db.stats()["out_of_order_head_samples"] == 2
    # a window of 0 later still reads what was logged, and does not remove wbl/
    with open_db(d, window=0) as db:
        assert read(db) == before
    assert os.listdir(d / "wbl")


def test_read_only_open_reads_the_wbl_and_changes_nothing(tmp_path):
    d = tmp_path / "d"
    with open_db(d) as db:
        put(db, IN_ORDER)
        put(db, [(1, T0 - 10 * M, -1.0)])
        want = read(db)
    h = tree_hash(str(d))
    with tsdb.open(str(d), read_only=True) as db:
        assert read(db) == want
    assert tree_hash(str(d)) == h


KILL_CHILD = """
    import sys
    import tsdb
    H = 3600 * 1000
    T0 = 100 * H
    db = tsdb.open(sys.argv[1], out_of_order_time_window_ms=H, wal_sync="always")
    app = db.appender()
    app.append({"__name__": "m", "i": "0"}, T0 + 30 * 60_000, 0.0)
    app.commit()
    k = 0
    while True:
        app = db.appender()
        # one in-order sample of series 0 and two late ones of a series of its own
        app.append({"__name__": "m", "i": "0"}, T0 + 30 * 60_000 + k + 1, float(k))
        app.append({"__name__": "m", "i": str(k % 7 + 1)}, T0 + 30 * 60_000 - 2 * k - 1, float(k))
        app.append({"__name__": "m", "i": str(k % 7 + 1)}, T0 + 30 * 60_000 - 2 * k - 2, -float(k))
        app.commit()
        print(k, flush=True)
        k += 1
"""


def test_kill9_keeps_every_acknowledged_out_of_order_sample(tmp_path):
    d = str(tmp_path / "d")
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(KILL_CHILD), d],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO)
    try:
        for k in range(300):
            line = proc.stdout.readline()
            assert line == b"%d\n" % k, proc.stderr.read() if not line else line
    finally:
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate(timeout=60)
    acked = 300 + len(out.split(b"\n")[:-1])
    with open_db(d) as db:
        got = read(db)
    assert sum(len(v) for k, v in got.items() if k != "0") >= 2 * acked
    base = T0 + 30 * M
    for k in range(acked):
        s = dict(got[str(k % 7 + 1)])
        assert s[base - 2 * k - 1] == float(k) and s[base - 2 * k - 2] == -float(k)
        assert dict(got["0"])[base + k + 1] == float(k)


def blocks_of(db):
    return sorted((b.meta.min_time, b.meta.max_time, b.meta.compaction.hints) for b in db.blocks)


def test_compaction_writes_out_of_order_blocks_then_merges_overlaps(tmp_path):
    d = tmp_path / "d"
    rng = 2 * H
    with open_db(d, window=3 * H) as db:
        # in-order data over three windows, then late samples into the first two
        put(db, [(1, T0 + k * M, float(k)) for k in range(0, 5 * 60, 5)])
        late = [(1, T0 + k * M + 1, -float(k)) for k in range(120, 5 * 60, 30)] + [(2, T0 + 3 * H, 9.0)]
        assert put(db, late).out_of_order_appended == len(late) - 1  # series 2 is new: its first sample is in order
        want = read(db)
        wbl_before = sorted(os.listdir(d / "wbl"))
        db.flush()
        hints = [h for *_, h in blocks_of(db)]
        assert ("from-out-of-order",) in hints
        assert db.stats()["out_of_order_head_samples"] == 0
        assert read(db) == want
        assert sorted(os.listdir(d / "wbl")) != wbl_before  # segments before the cut are gone
        assert not wal_samples(str(d / "wbl"))[0]
        db.compact()  # overlapping blocks are merged: one block per window again
        bl = blocks_of(db)
        assert all(b[1] <= a[0] for a, b in zip(bl[1:], bl[:-1], strict=True)), bl  # no overlaps left
        assert all(a % rng == 0 for a, _, _ in bl)
        assert read(db) == want
    with open_db(d, window=3 * H) as db:
        assert read(db) == want
        # an out-of-order block does not close its window to in-order appends after a restart
        last = max(t for t, _ in want["1"])
        assert put(db, [(1, last + 1, 1.0)]).appended == 1


def test_out_of_order_only_series_survive_head_gc_and_checkpoint(tmp_path):
    d = tmp_path / "d"
    with open_db(d, window=4 * H) as db:
        put(db, [(1, T0 + 3 * H, 1.0)])
        put(db, [(2, T0 + H, 2.0), (2, T0 + 3 * H, 3.0)])  # series 2: one in-order sample later
        put(db, [(2, T0 + H + 1, 4.0)])  # late
        put(db, [(1, T0 + k * M + 3 * H, 1.0) for k in range(1, 200)])  # the head grows past 1.5 windows
        want = read(db)
        # persist the in-order windows only (as the background compactor would before its OOO step)
        db._compactor._persist(T0, T0 + 2 * H)
        db._compactor._persist(T0 + 2 * H, T0 + 4 * H)
        db._truncate_wal()
        assert read(db) == want
    with open_db(d, window=4 * H) as db:
        assert read(db) == want


def test_deletion_applies_to_out_of_order_samples(tmp_path):
    d = tmp_path / "d"
    with open_db(d) as db:
        put(db, IN_ORDER)
        put(db, [(1, T0 - 10 * M, -1.0), (1, T0 - 5 * M, -2.0)])
        db.delete([NAME], T0 - 6 * M, T0 - 4 * M)
        assert read(db)["1"][0] == (T0 - 10 * M, -1.0) and read(db)["1"][1] == (T0, 0.0)
        db.flush()
        assert read(db)["1"][:2] == [(T0 - 10 * M, -1.0), (T0, 0.0)]


def test_a_querier_made_before_compaction_sees_the_samples_after(tmp_path):
    with open_db(tmp_path / "d") as db:
        put(db, IN_ORDER)
        put(db, [(1, T0 - 10 * M, -1.0)])
        q = db.querier(T0 - H, T0 + H)
        db.flush()
        labels, arrs = q.select_arrays(NAME)
        assert T0 - 10 * M in arrs.ts.tolist()
        q.close()


def test_window_can_be_turned_on_later(tmp_path):
    d = tmp_path / "d"
    with open_db(d, window=0) as db:
        put(db, IN_ORDER)
        assert put(db, [(1, T0 - M, 1.0)]).out_of_order == 1
        db.set_out_of_order_window(H)
        assert put(db, [(1, T0 - M, 1.0)]).out_of_order_appended == 1
    with open_db(d, window=H) as db:
        assert read(db)["1"][0] == (T0 - M, 1.0)


def test_bad_window_is_refused(tmp_path):
    with pytest.raises(ValueError, match="out_of_order_time_window_ms"):
        open_db(tmp_path / "d", window=-1)


def test_a_large_mixed_batch_is_classified_and_kept(tmp_path):
    """A large batch with late samples scattered in it: counts add up and nothing is lost."""
    rng = np.random.default_rng(1)
    with open_db(tmp_path / "d") as db:
        refs = np.array([db.series_ref({"__name__": "m", "i": str(i)}) for i in range(1000)])
        app = db.appender()
        app.append_batch(refs, T0 + 10 * M, np.ones(1000))
        app.commit()
        ts = T0 + 10 * M - rng.integers(1, 2 * H, size=1000)
        app = db.appender()
        app.append_batch(refs, ts, np.arange(1000.0))
        st = app.commit()
        late = int((ts >= T0 + 10 * M - H).sum())
        assert st.out_of_order_appended == late and st.too_old == 1000 - late
        got = read(db)
        assert sum(len(v) for v in got.values()) == 1000 + late


def _wbl_with_segments(d, n_segments=3):
    """A DB whose wbl/ has several segments (small segments, many late samples)."""
    rng = np.random.default_rng(2)
    with open_db(d, wal_segment_bytes=32 * 1024, wal_compression=False) as db:
        refs = np.array([db.series_ref({"__name__": "m", "i": str(i)}) for i in range(200)])
        app = db.appender()
        app.append_batch(refs, T0 + 10 * M, np.zeros(200))
        app.commit()
        k = 0
        while len([n for n in os.listdir(d / "wbl") if n.isdigit()]) < n_segments:
            app = db.appender()
            app.append_batch(refs, T0 + 10 * M - 1 - k, rng.normal(size=200))
            app.commit()
            k += 1
        return read(db)


def test_a_bit_flip_in_an_older_wbl_segment_is_refused_and_changes_nothing(tmp_path):
    d = tmp_path / "d"
    _wbl_with_segments(d)
    segs = sorted(n for n in os.listdir(d / "wbl") if n.isdigit())
    first = d / "wbl" / segs[0]
    data = bytearray(first.read_bytes())
    data[100] ^= 0xFF
    first.write_bytes(bytes(data))
    before = tree_hash(str(d))
    with pytest.raises(tsdb.CorruptError, match=segs[0]):
        open_db(d)
    with pytest.raises(tsdb.CorruptError, match=segs[0]):
        tsdb.open(str(d), read_only=True)
    assert tree_hash(str(d)) == before


def test_a_missing_wbl_segment_is_refused_and_changes_nothing(tmp_path):
    d = tmp_path / "d"
    _wbl_with_segments(d)
    segs = sorted(n for n in os.listdir(d / "wbl") if n.isdigit())
    os.remove(d / "wbl" / segs[1])
    before = tree_hash(str(d))
    with pytest.raises(tsdb.CorruptError):
        open_db(d)
    assert tree_hash(str(d)) == before


def test_a_torn_wbl_tail_is_cut_and_the_rest_kept(tmp_path):
    d = tmp_path / "d"
    want = _wbl_with_segments(d, n_segments=1)
    seg = d / "wbl" / "00000000"
    size = seg.stat().st_size
    with open(seg, "r+b") as f:
        f.seek(0, 2)
        f.write(b"\x01\x00\x40\x12\x34\x56\x78")  # a first-fragment header of a record that never came
    with open_db(d) as db:
        assert read(db) == want
    assert seg.stat().st_size >= size
