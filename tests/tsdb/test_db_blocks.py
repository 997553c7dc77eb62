"""Head → blocks, compaction, retention, deletion, and Prometheus's tools reading our directory."""

import json
import os
import subprocess

import numpy as np
import pytest

import tsdb
from tsdb import Matcher

H = 3600 * 1000
STEP = 60_000


def fill(db, nseries, start, end, step=STEP, name="m"):
    """Append ``nseries`` series from start to end (exclusive) at ``step``, one batch per timestamp.

    Then ``db.compact()``: commits only signal the background compactor, so
    the block layout the tests check is settled once compact() returned.
    """
    app = db.appender()
    refs = np.array([app.append({"__name__": name, "i": str(i)}, start, 0.0) for i in range(nseries)])
    app.commit()
    idx = np.arange(nseries) * 1000.0  # series i's values (refs are not 0..n-1)
    for t in range(start + step, end, step):
        app = db.appender()
        app.append_batch(refs, t, idx + t / step)
        app.commit()
    db.compact()
    return refs


def all_samples(db, mint=-(2**62), maxt=2**62):
    with db.querier(mint, maxt) as q:
        return {s.labels: (s.timestamps.copy(), s.values.copy()) for s in q.select(Matcher.re("__name__", ".+"))}


def expected(nseries, start, end, step=STEP, name="m"):
    out = {}
    for i in range(nseries):
        t = np.arange(start, end, step)
        v = i * 1000.0 + t / step
        v[0] = 0.0
        out[(("__name__", name), ("i", str(i)))] = (t, v)
    return out


def assert_same(got, want):
    assert set(got) == set(want)
    for k in want:
        np.testing.assert_array_equal(got[k][0], want[k][0])
        np.testing.assert_array_equal(got[k][1].view(np.uint64), want[k][1].view(np.uint64))


def test_head_is_persisted_in_blocks_and_reads_merge(tmp_path):
    path = str(tmp_path / "d")
    with tsdb.open(path) as db:
        fill(db, 20, 0, 7 * H)
        assert [(b.meta.min_time, b.meta.max_time) for b in db.blocks] == [(0, 2 * H), (2 * H, 4 * H), (4 * H, 6 * H)][: len(db.blocks)]
        assert len(db.blocks) >= 2
        assert db.head.min_time >= db.blocks[-1].meta.max_time
        assert_same(all_samples(db), expected(20, 0, 7 * H))
        # a range crossing block and head boundaries
        got = all_samples(db, 2 * H - STEP, 6 * H + STEP)
        assert all(t[0] == 2 * H - STEP and t[-1] == 6 * H + STEP for t, _ in got.values())
    with tsdb.open(path) as db:  # blocks + WAL checkpoint + segments after restart
        assert_same(all_samples(db), expected(20, 0, 7 * H))


def test_block_chunks_are_evenly_cut(tmp_path):
    with tsdb.open(str(tmp_path / "d"), block_range_ms=2 * H, block_chunk_samples=120) as db:
        fill(db, 3, 0, 4 * H, step=15_000)
        b = db.blocks[0]
        counts = [len(c.data) and int.from_bytes(bytes(c.data[:2]), "big")
                  for s in b.select([Matcher.re("__name__", ".+")], 0, 2 * H) for c in s.chunks]
        assert counts and all(c == 120 for c in counts)  # 480 samples per 2h window -> 4 x 120


def test_out_of_bounds_after_block_cut(tmp_path):
    with tsdb.open(str(tmp_path / "d")) as db:
        refs = fill(db, 2, 0, 4 * H)
        app = db.appender()
        app.append_batch(refs, 10, [1.0, 1.0])
        assert app.commit().out_of_bounds == 2


def test_compaction_merges_blocks(tmp_path):
    path = str(tmp_path / "d")
    with tsdb.open(path, block_range_ms=H, max_block_ms=3 * H) as db:
        fill(db, 5, 0, 9 * H)
        spans = [(b.meta.min_time, b.meta.max_time) for b in db.blocks]
        assert (0, 3 * H) in spans and (3 * H, 6 * H) in spans, spans
        merged = next(b for b in db.blocks if b.meta.min_time == 0)
        assert merged.meta.compaction.level == 2
        assert len(merged.meta.compaction.parents) == 3
        assert_same(all_samples(db), expected(5, 0, 9 * H))
    with tsdb.open(path, block_range_ms=H, max_block_ms=3 * H) as db:
        assert_same(all_samples(db), expected(5, 0, 9 * H))


def test_retention_by_time(tmp_path):
    with tsdb.open(str(tmp_path / "d"), retention_ms=4 * H, max_block_ms=2 * H) as db:
        fill(db, 2, 0, 13 * H)
        # newest block ends at 10h: blocks ending at or before 10h - 4h are gone
        assert db.blocks[-1].meta.max_time == 10 * H
        assert min(b.meta.min_time for b in db.blocks) == 6 * H
        got = all_samples(db)
        assert min(int(t[0]) for t, _ in got.values()) >= 6 * H


def test_retention_by_size(tmp_path):
    with tsdb.open(str(tmp_path / "d"), max_block_ms=2 * H) as db:
        fill(db, 50, 0, 13 * H)
        sizes = [b.size_bytes() for b in db.blocks]
        assert len(sizes) >= 4
    # measured once closed: close() zero-pads the WAL's last page, as Prometheus does
    wal = sum(f.stat().st_size for f in (tmp_path / "d" / "wal").rglob("*") if f.is_file())
    limit = sum(sizes[-2:]) + wal  # room for exactly the two newest blocks and the WAL
    with tsdb.open(str(tmp_path / "d"), max_block_ms=2 * H, retention_bytes=limit) as db:
        db.compact()
        assert len(db.blocks) == 2
        assert db.blocks[-1].meta.max_time == 10 * H


def test_delete_series_and_clean_tombstones(tmp_path):
    path = str(tmp_path / "d")
    with tsdb.open(path) as db:
        fill(db, 4, 0, 5 * H)
        n = db.delete([Matcher.eq("i", "1")], H, 3 * H + STEP)  # spans a block and the head
        assert n >= 2
        db.delete([Matcher.eq("i", "2")])  # everything
        want = expected(4, 0, 5 * H)
        del want[(("__name__", "m"), ("i", "2"))]
        t, v = want[(("__name__", "m"), ("i", "1"))]
        keep = (t < H) | (t > 3 * H + STEP)
        want[(("__name__", "m"), ("i", "1"))] = (t[keep], v[keep])
        assert_same(all_samples(db), want)
        old = {b.meta.ulid for b in db.blocks}
        db.clean_tombstones()
        assert not old & {b.meta.ulid for b in db.blocks}
        assert all(not b.tombstones() for b in db.blocks)
        assert_same(all_samples(db), want)
    with tsdb.open(path) as db:  # tombstones in the WAL survive a restart
        assert_same(all_samples(db), want)
    with pytest.raises(ValueError):
        with tsdb.open(path) as db:
            db.delete([])


def test_flush_persists_everything(tmp_path):
    with tsdb.open(str(tmp_path / "d")) as db:
        fill(db, 3, 0, H)
        db.flush()
        assert db.head.chunks.n == 0 and len(db.blocks) == 1
        assert_same(all_samples(db), expected(3, 0, H))


def test_corrupt_block_names_the_file(tmp_path):
    path = str(tmp_path / "d")
    with tsdb.open(path) as db:
        fill(db, 3, 0, 6 * H)
        assert len(db.blocks) == 2
        bdir = db.blocks[0].path
    with open(os.path.join(bdir, "meta.json"), "w") as f:
        f.write("{not json")
    with tsdb.open(path) as db:  # skipped and reported, as Prometheus does
        assert len(db.blocks) == 1
        assert db.skipped_blocks[0][0] == bdir and "meta.json" in db.skipped_blocks[0][1]
    os.remove(os.path.join(bdir, "meta.json"))  # a dir without meta.json is not a block
    with tsdb.open(path) as db:
        assert len(db.blocks) == 1 and not db.skipped_blocks


def _flip(path, off):
    with open(path, "r+b") as f:
        f.seek(off)
        b = f.read(1)
        f.seek(off)
        f.write(bytes([b[0] ^ 0x01]))


@pytest.mark.parametrize("read_only", [False, True])
@pytest.mark.parametrize("what", ["meta.json", "index"])
def test_unreadable_block_is_skipped_reported_and_kept(tmp_path, caplog, read_only, what):
    """Issue 12: a flipped byte in one block's meta.json stopped the whole database from starting."""
    path = str(tmp_path / "d")
    with tsdb.open(path, block_range_ms=H) as db:
        fill(db, 3, 0, 6 * H)
        db.flush()
        assert len(db.blocks) >= 3
        bad = db.blocks[1]
        bdir, bmin, bmax = bad.path, bad.meta.min_time, bad.meta.max_time
    target = os.path.join(bdir, what)
    before = {n: open(os.path.join(bdir, n), "rb").read() for n in ("meta.json", "index")}
    _flip(target, 0 if what == "meta.json" else 2)  # '{' -> 'z'; the index magic number
    want = {}
    for lab, (t, v) in expected(3, 0, 6 * H).items():
        keep = (t < bmin) | (t >= bmax)
        want[lab] = (t[keep], v[keep])
    with caplog.at_level("ERROR", logger="tsdb"):
        with tsdb.open(path, block_range_ms=H, read_only=read_only) as db:
            assert [p for p, _ in db.skipped_blocks] == [bdir]
            st = db.stats()
            assert st["blocks_skipped"] == 1 and st["reloads_failures"] == 1
            assert_same(all_samples(db), want)  # every other block is served
            if not read_only:
                # in-order appends into the skipped block's range stay closed
                assert db.head.min_valid_t >= bmax
                db.compact()  # retention and compaction never touch it
    msgs = [r.getMessage() for r in caplog.records if "skipping block" in r.getMessage()]
    assert len(msgs) == 1 and bdir in msgs[0] and what in msgs[0]
    assert os.path.isdir(bdir)
    _flip(target, 0 if what == "meta.json" else 2)  # repaired by hand: everything is back
    assert {n: open(os.path.join(bdir, n), "rb").read() for n in ("meta.json", "index")} == before
    with tsdb.open(path, block_range_ms=H) as db:
        assert not db.skipped_blocks
        assert_same(all_samples(db), expected(3, 0, 6 * H))


def test_promtool_reads_our_data_dir(tmp_path, promtool):
    path = str(tmp_path / "d")
    with tsdb.open(path) as db:
        fill(db, 7, 0, 5 * H)
        db.flush()
        nblocks = len(db.blocks)
    out = subprocess.run([promtool, "tsdb", "list", path], capture_output=True, text=True, check=True).stdout
    assert out.count("\n") == nblocks + 1, out
    for b in os.listdir(path):
        if os.path.exists(os.path.join(path, b, "meta.json")):
            r = subprocess.run([promtool, "tsdb", "analyze", path, b], capture_output=True, text=True)
            assert r.returncode == 0, r.stderr
            assert "\nSeries: 7\n" in r.stdout, r.stdout
            meta = json.load(open(os.path.join(path, b, "meta.json")))
            assert meta["stats"]["numSeries"] == 7
    dump = subprocess.run([promtool, "tsdb", "dump", path], capture_output=True, text=True, check=True).stdout
    lines = [ln for ln in dump.splitlines() if ln.strip()]
    assert len(lines) == 7 * (5 * H // STEP)


def test_open_querier_survives_compaction_and_retention(tmp_path):
    with tsdb.open(str(tmp_path / "d"), block_range_ms=H, max_block_ms=3 * H, retention_ms=4 * H) as db:
        fill(db, 3, 0, 5 * H)
        q = db.querier()
        before = {k: v[0].tolist() for k, v in
                  ((s.labels, (s.timestamps, s.values)) for s in q.select(Matcher.eq("__name__", "m")))}
        first_blocks = list(q._blocks)
        fill_more = db.appender()
        refs = np.arange(1, 4)  # the first three series (refs start at 1, as Prometheus's)
        for t in range(5 * H, 12 * H, STEP):  # moves retention and compaction past the querier's blocks
            fill_more.append_batch(refs, t, np.ones(3))
        fill_more.commit()
        db.compact()
        assert not {b.meta.ulid for b in first_blocks} & {b.meta.ulid for b in db.blocks}
        again = {s.labels: s.timestamps.tolist() for s in q.select(Matcher.eq("__name__", "m"))}
        # the old blocks are still readable through the querier that holds them
        for k, ts in before.items():
            assert again[k][: len(ts)][:10] == ts[:10]
        q.close()
        assert not db._retired


@pytest.mark.parametrize("what", ["chunks/000001", "index"])
def test_flipped_byte_in_a_block_is_an_error_not_a_wrong_value(tmp_path, what):
    path = str(tmp_path / "d")
    with tsdb.open(path) as db:
        fill(db, 5, 0, 3 * H)
        db.flush()
        bdir = db.blocks[0].path
    target = os.path.join(bdir, what)
    size = os.path.getsize(target)
    want = expected(5, 0, 3 * H)
    for off in range(0, size, max(1, size // 25)):
        with open(target, "r+b") as f:
            f.seek(off)
            b = f.read(1)
            f.seek(off)
            f.write(bytes([b[0] ^ 0x10]))
        try:
            with tsdb.open(path) as db:
                got = all_samples(db)
                skipped = db.skipped_blocks
        except tsdb.CorruptError as e:
            assert what.split("/")[-1] in str(e)
        else:
            if skipped:  # a bad file header: the block is skipped and reported, not read wrong
                assert what in skipped[0][1], skipped
            else:
                assert_same(got, want)  # e.g. a flip in padding: the data must still be exact
        with open(target, "r+b") as f:
            f.seek(off)
            f.write(b)
