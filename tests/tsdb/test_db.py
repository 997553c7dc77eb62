"""The DB as a library user sees it: append, commit/rollback, query, restart, errors."""

import hashlib
import math
import os

import numpy as np
import pytest

import tsdb
from tsdb import Matcher
from tsdb.wal.frames import SegmentReader

STALE = np.array([0x7FF0000000000002], dtype=np.uint64).view(np.float64)[0]
H = 3600 * 1000


@pytest.fixture
def db(tmp_path):
    d = tsdb.open(str(tmp_path / "data"))
    yield d
    d.close()


def series_dict(db, *matchers, mint=-(2**62), maxt=2**62):
    with db.querier(mint, maxt) as q:
        return {dict(s.labels)["i"] if "i" in dict(s.labels) else s.labels: (s.timestamps, s.values)
                for s in q.select(*matchers)}


def test_append_commit_query(db):
    app = db.appender()
    r1 = app.append({"__name__": "up", "job": "a", "i": "1"}, 1000, 1.0)
    r2 = app.append([("__name__", "up"), ("job", "a"), ("i", "2")], 1000, 0.0)
    assert r1 != r2
    assert app.append({"__name__": "up", "job": "a", "i": "1"}, 2000, 1.5) == r1
    # not visible before commit
    assert series_dict(db, Matcher.eq("job", "a")) == {}
    stats = app.commit()
    assert stats.appended == 3
    got = series_dict(db, Matcher.eq("job", "a"))
    assert got["1"][0].tolist() == [1000, 2000] and got["1"][1].tolist() == [1.0, 1.5]
    assert got["2"][1].tolist() == [0.0]


def test_rollback_discards(db):
    app = db.appender()
    app.append({"__name__": "x"}, 1, 1.0)
    app.rollback()
    assert series_dict(db, Matcher.eq("__name__", "x")) == {}
    with pytest.raises(tsdb.ClosedError):
        app.append({"__name__": "x"}, 1, 1.0)


def test_context_manager_commits_or_rolls_back(db):
    with db.appender() as app:
        app.append({"__name__": "x", "i": "1"}, 1, 1.0)
    with pytest.raises(RuntimeError), db.appender() as app:
        app.append({"__name__": "x", "i": "2"}, 1, 1.0)
        raise RuntimeError("boom")
    assert set(series_dict(db, Matcher.eq("__name__", "x"))) == {"1"}


def test_batch_forms_and_bit_exact_values(db):
    values = np.array([1.5, -0.0, math.inf, -math.inf, STALE, float.fromhex("0x1p-1074")])
    app = db.appender()
    refs = np.array([app.append({"__name__": "m", "i": str(i)}, 0, 0.0) for i in range(len(values))])
    app.commit()
    app = db.appender()
    app.append_batch(refs, 15_000, values)
    app.append_series({"__name__": "m", "i": "long"}, np.arange(0, 1000 * 15_000, 15_000), np.arange(1000.0))
    app.commit()
    got = series_dict(db, Matcher.eq("__name__", "m"))
    for i, v in enumerate(values):
        t, vs = got[str(i)]
        assert t.tolist() == [0, 15_000]
        assert vs.view(np.uint64)[1] == np.float64(v).view(np.uint64)
    t, v = got["long"]
    assert t.tolist() == list(range(0, 1000 * 15_000, 15_000)) and v.tolist() == list(np.arange(1000.0))


def test_out_of_order_and_duplicates_are_counted_not_raised(db):
    app = db.appender()
    ref = app.append({"__name__": "m"}, 1000, 1.0)
    app.commit()
    app = db.appender()
    app.append(ref, 500, 2.0)    # out of order
    app.append(ref, 1000, 1.0)   # identical duplicate: no-op
    app.append(ref, 1000, 3.0)   # duplicate timestamp, other value
    app.append(ref, 2000, 4.0)   # fine
    app.append(ref, 1500, 5.0)   # out of order within the batch
    stats = app.commit()
    assert (stats.appended, stats.out_of_order, stats.duplicate) == (1, 2, 1)
    assert series_dict(db, Matcher.eq("__name__", "m"))[(("__name__", "m"),)][0].tolist() == [1000, 2000]
    assert db.stats()["out_of_order_samples"] == 2


@pytest.mark.parametrize(
    "labels, message",
    [
        ({}, "empty label set"),
        ({"": "x"}, "empty label name"),
        ({"a": b"\xff"}, "not valid UTF-8"),
        ({"a": "\ud800"}, "lone surrogate"),
        ({"a": 1}, "must be a string"),
        ([("a", "1"), ("a", "2")], "duplicate label name 'a'"),
    ],
    ids=["empty", "empty-name", "bad-utf8", "surrogate", "not-str", "dup-name"],
)
def test_invalid_labels(db, labels, message):
    app = db.appender()
    with pytest.raises(tsdb.InvalidLabelsError, match=message):
        app.append(labels, 1, 1.0)


@pytest.mark.parametrize(
    "t, message",
    [(float("nan"), "NaN"), (float("inf"), "NaN or infinite"), (1.5, "whole milliseconds"), ("x", "integers")],
)
def test_invalid_timestamps(db, t, message):
    app = db.appender()
    with pytest.raises(tsdb.InvalidSampleError, match=message):
        app.append({"__name__": "x"}, t, 1.0)
    with pytest.raises(tsdb.InvalidSampleError, match=message):
        app.append_series({"__name__": "x"}, np.array([t]), np.array([1.0]))


def test_unknown_ref_and_use_after_close(tmp_path):
    db = tsdb.open(str(tmp_path / "d"))
    app = db.appender()
    with pytest.raises(tsdb.InvalidSampleError, match="unknown series ref 99"):
        app.append_batch([99], 1, [1.0])
    db.close()
    with pytest.raises(tsdb.ClosedError):
        db.appender()
    with pytest.raises(tsdb.ClosedError):
        app.append({"__name__": "x"}, 1, 1.0)
    with pytest.raises(tsdb.ClosedError):
        db.querier()
    db.close()  # idempotent


def test_directory_lock(tmp_path):
    with tsdb.open(str(tmp_path / "d")):
        with pytest.raises(tsdb.TSDBError, match="already open"):
            tsdb.open(str(tmp_path / "d"))


def test_path_is_a_file(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(tsdb.TSDBError, match="not a directory"):
        tsdb.open(str(tmp_path / "f"))


def test_restart_replays_wal_bit_exact(tmp_path):
    path = str(tmp_path / "d")
    vals = np.array([1.0, STALE, -0.0, math.nan])
    with tsdb.open(path) as db:
        app = db.appender()
        for i, v in enumerate(vals):
            app.append({"__name__": "m", "i": str(i)}, 1000 + i, v)
        app.commit()
    with tsdb.open(path) as db:
        got = series_dict(db, Matcher.eq("__name__", "m"))
        for i, v in enumerate(vals):
            assert got[str(i)][0].tolist() == [1000 + i]
            assert got[str(i)][1].view(np.uint64)[0] == np.float64(v).view(np.uint64)
        # appending continues with the replayed refs and order checks
        app = db.appender()
        app.append({"__name__": "m", "i": "0"}, 999, 5.0)
        assert app.commit().out_of_order == 1


def test_matchers(db):
    app = db.appender()
    for i, (job, env) in enumerate([("api", "prod"), ("api", "dev"), ("db", "prod"), ("web", None)]):
        lab = {"__name__": "up", "job": job, "i": str(i)}
        if env:
            lab["env"] = env
        app.append(lab, 0, 1.0)
    app.commit()

    def sel(*ms):
        return sorted(series_dict(db, *ms))

    assert sel(Matcher.eq("job", "api")) == ["0", "1"]
    assert sel(Matcher.neq("job", "api")) == ["2", "3"]
    assert sel(Matcher.re("job", "a.*|w.b")) == ["0", "1", "3"]
    assert sel(Matcher.re("job", "a")) == []  # anchored
    assert sel(Matcher.nre("job", "api|db")) == ["3"]
    assert sel(Matcher.eq("env", "")) == ["3"]  # label absent
    assert sel(Matcher.neq("env", "")) == ["0", "1", "2"]
    assert sel(Matcher.re("env", "prod|")) == ["0", "2", "3"]
    assert sel(Matcher.eq("__name__", "up"), Matcher.neq("env", "prod")) == ["1", "3"]
    assert sel(Matcher.re("__name__", ".*"), Matcher.eq("job", "db")) == ["2"]
    with pytest.raises(tsdb.InvalidMatcherError, match="missing \\)"):
        Matcher.re("job", "(")


def test_label_names_and_values(db):
    app = db.appender()
    app.append({"__name__": "a", "x": "1"}, 0, 1.0)
    app.append({"__name__": "b", "y": "2"}, 0, 1.0)
    app.commit()
    with db.querier(0, 10) as q:
        assert q.label_names() == ["__name__", "x", "y"]
        assert q.label_values("__name__") == ["a", "b"]
        assert q.label_names(Matcher.eq("__name__", "a")) == ["__name__", "x"]
        assert q.label_values("x", Matcher.eq("__name__", "b")) == []


def test_time_range_is_inclusive(db):
    app = db.appender()
    app.append_series({"__name__": "m"}, np.arange(0, 100, 10), np.arange(10.0))
    app.commit()
    with db.querier(20, 50) as q:
        (s,) = list(q.select(Matcher.eq("__name__", "m")))
    assert s.timestamps.tolist() == [20, 30, 40, 50]


def test_wal_fsync_modes(tmp_path):
    for mode in ("always", "batch", "never"):
        with tsdb.open(str(tmp_path / mode), wal_sync=mode) as db:
            with db.appender() as app:
                app.append({"__name__": "m"}, 1, 1.0)
        with tsdb.open(str(tmp_path / mode)) as db:
            assert len(series_dict(db, Matcher.eq("__name__", "m"))) == 1
    with pytest.raises(ValueError, match="wal_sync"):
        tsdb.open(str(tmp_path / "x"), wal_sync="sometimes")


def wal_tree_hash(wal_dir: str) -> dict[str, str]:
    out = {}
    for root, _dirs, files in os.walk(wal_dir):
        for n in files:
            with open(os.path.join(root, n), "rb") as f:
                out[os.path.relpath(os.path.join(root, n), wal_dir)] = hashlib.sha256(f.read()).hexdigest()
    return out


def test_corrupt_wal_tail_is_truncated_and_logged(tmp_path, caplog):
    path = str(tmp_path / "d")
    with tsdb.open(path) as db:
        for k in range(3):
            with db.appender() as app:
                app.append({"__name__": "m"}, k, float(k))
    seg = os.path.join(path, "wal", "00000000")
    starts = [off for off, _ in SegmentReader(seg)]
    assert len(starts) == 4  # series + samples, then samples, samples
    os.truncate(seg, starts[-1] + 10)  # tear the last commit's record: a crash mid-write
    with caplog.at_level("WARNING"), tsdb.open(path) as db:
        t, _ = series_dict(db, Matcher.eq("__name__", "m"))[(("__name__", "m"),)]
        assert t.tolist() == [0, 1]
    (msg,) = [r.getMessage() for r in caplog.records if r.name == "tsdb.wal"]
    assert seg in msg and f"offset {starts[-1]}" in msg and "dropped 10 bytes" in msg
    caplog.clear()
    with caplog.at_level("WARNING"), tsdb.open(path) as db:  # the cut was made once, for good
        t, _ = series_dict(db, Matcher.eq("__name__", "m"))[(("__name__", "m"),)]
        assert t.tolist() == [0, 1]
    assert [r for r in caplog.records if r.name == "tsdb.wal"] == []


def test_corrupt_wal_in_an_older_segment_names_file_and_offset(tmp_path):
    path = str(tmp_path / "d")
    rng = np.random.default_rng(1)
    with tsdb.open(path, wal_segment_bytes=32 * 1024) as db:
        app = db.appender()
        refs = np.array([app.append({"__name__": "m", "i": str(i)}, 0, 0.0) for i in range(200)])
        app.commit()
        for k in range(1, 60):
            with db.appender() as app:
                app.append_batch(refs, k, rng.normal(size=len(refs)))
    wal_dir = os.path.join(path, "wal")
    segs = sorted(n for n in os.listdir(wal_dir) if n.isdigit())
    assert len(segs) >= 3
    first = os.path.join(wal_dir, segs[0])
    with open(first, "r+b") as f:
        f.seek(100)
        b = f.read(1)
        f.seek(100)
        f.write(bytes([b[0] ^ 0xFF]))
    before = wal_tree_hash(wal_dir)
    with pytest.raises(tsdb.CorruptError, match=segs[0]) as ei:
        tsdb.open(path)
    assert ei.value.path == first and ei.value.offset == 0 and "offset 0" in str(ei.value)
    assert wal_tree_hash(wal_dir) == before  # refused, not repaired: nothing changed


def test_series_first_made_by_a_rolled_back_appender_survives_restart(tmp_path):
    # the rolled-back series gets ref 0 but is logged after ref 1: replay must fill the gap
    path = str(tmp_path / "d")
    with tsdb.open(path) as db:
        app = db.appender()
        app.append({"__name__": "m", "i": "late"}, 0, 1.0)
        app.rollback()
        with db.appender() as app:
            app.append({"__name__": "m", "i": "early"}, 0, 2.0)
        with db.appender() as app:
            app.append({"__name__": "m", "i": "late"}, 0, 3.0)
    with tsdb.open(path) as db:
        got = series_dict(db, Matcher.eq("__name__", "m"))
        assert {k: v[1].tolist() for k, v in got.items()} == {"early": [2.0], "late": [3.0]}
        assert sorted(series_dict(db, Matcher.re("i", "l.*"))) == ["late"]  # postings stay sorted


def test_middle_wal_segment_cut_at_a_record_boundary_is_reported(tmp_path, caplog):
    """Issue 12: 200 samples went missing with no log line. Now a warning names the file and the offset.

    Not an error: Prometheus leaves such segments after every crash (it starts a new segment on each
    start) and reads them; refusing would lock promlite out of those directories.
    """
    path = str(tmp_path / "d")
    with tsdb.open(path, wal_segment_bytes=32 * 1024, wal_compression=False) as db:
        app = db.appender()
        refs = np.array([app.append({"__name__": "m", "i": str(i)}, 0, 0.0) for i in range(200)])
        app.commit()
        for k in range(1, 60):
            with db.appender() as app:
                app.append_batch(refs, k, np.full(len(refs), float(k)))
    wal_dir = os.path.join(path, "wal")
    segs = sorted(n for n in os.listdir(wal_dir) if n.isdigit())
    assert len(segs) >= 3
    middle = os.path.join(wal_dir, segs[1])
    starts = [off for off, _ in SegmentReader(middle)]
    assert len(starts) >= 2
    with open(middle, "r+b") as f:
        f.truncate(starts[-1])  # drop the last commit (200 samples), exactly at a record boundary
    before = wal_tree_hash(wal_dir)
    for read_only in (True, False):
        caplog.clear()
        with caplog.at_level("WARNING"), tsdb.open(path, read_only=read_only) as db:
            n = sum(len(s) for s in db.querier().select(Matcher.eq("__name__", "m")))
        assert n == 200 * 60 - 200  # one commit lost, everything else read
        msgs = [r.getMessage() for r in caplog.records if "not the last segment" in r.getMessage()]
        assert msgs and middle in msgs[0] and f"offset {starts[-1]}" in msgs[0]
    after = wal_tree_hash(wal_dir)
    assert after[segs[1]] == before[segs[1]]  # the short segment is left as it is (only repair pads it)
