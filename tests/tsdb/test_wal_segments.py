"""WAL segments: framing, replay, torn tails, corruption, rollover, sync policy, lifecycle."""

from __future__ import annotations

import logging
import os

import pytest

from tsdb.errors import ClosedError, CorruptError
from tsdb.wal import segments
from tsdb.wal.frames import FRAME_HEADER_SIZE, frame, segment_name
from tsdb.wal.segments import WAL


def rec(i: int, size: int = 40) -> bytes:
    """A distinct, recognizable opaque record."""
    head = b"rec-%06d:" % i
    return head + bytes([i % 251]) * max(1, size - len(head))


def replayed(wal: WAL, **kw) -> list[bytes]:
    return [p for _, p in wal.replay(**kw)]


def seg_path(d, i: int) -> str:
    return os.path.join(str(d), segment_name(i))


def wal_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "tsdb.wal" and r.levelno >= logging.WARNING]


# ----------------------------------------------------------------- framing


def test_frame_layout_is_len_crc32c_payload():
    # CRC32C("123456789") = 0xE3069283 is the Castagnoli check value.
    assert frame([b"123456789"]) == bytes.fromhex("09000000" "839206e3") + b"123456789"
    assert frame([b"\x02abc"]).hex() == "040000008bf42fa102616263"


def test_empty_record_is_rejected():
    with pytest.raises(ValueError):
        frame([b"x", b""])


# ----------------------------------------------------------------- round trip


def test_replay_after_close_and_reopen(tmp_path):
    d = tmp_path / "wal"
    with WAL.open(str(d)) as w:
        w.log(rec(0))
        w.log(rec(1), rec(2), rec(3))
        w.log()  # no records: nothing written
    assert os.listdir(d) == ["00000000"]
    w = WAL.open(str(d))
    assert replayed(w) == [rec(i) for i in range(4)]
    w.log(rec(4))  # appends to the same segment after reopen
    w.close()
    w = WAL.open(str(d))
    assert replayed(w) == [rec(i) for i in range(5)]
    assert w.segments() == [0]
    assert w.size_bytes() == sum(FRAME_HEADER_SIZE + len(rec(i)) for i in range(5))
    w.close()


@pytest.mark.parametrize("mode", ["always", "batch", "never"])
def test_every_sync_mode_replays(tmp_path, mode):
    with WAL.open(str(tmp_path), sync=mode, segment_size=300) as w:
        for i in range(20):
            w.log(rec(i))
            w.sync()
    w = WAL.open(str(tmp_path))
    assert replayed(w) == [rec(i) for i in range(20)]
    w.close()


def test_replay_while_writer_open_reads_acknowledged_records(tmp_path):
    w = WAL.open(str(tmp_path))
    w.log(rec(0), rec(1))
    assert replayed(w) == [rec(0), rec(1)]
    w.log(rec(2))
    assert replayed(w) == [rec(0), rec(1), rec(2)]
    w.close()


# ----------------------------------------------------------------- torn tails


def write_three(d, sizes=(30, 50, 60)) -> tuple[list[bytes], list[int]]:
    records = [rec(i, s) for i, s in enumerate(sizes)]
    with WAL.open(str(d)) as w:
        for r in records:
            w.log(r)
    starts = [0]
    for r in records:
        starts.append(starts[-1] + FRAME_HEADER_SIZE + len(r))
    return records, starts


def test_torn_tail_at_every_offset_of_last_record(tmp_path, caplog):
    d = tmp_path / "wal"
    records, starts = write_three(d)
    original = open(seg_path(d, 0), "rb").read()
    assert len(original) == starts[-1]
    for cut in range(starts[2] + 1, starts[3]):
        with open(seg_path(d, 0), "wb") as f:
            f.write(original[:cut])
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="tsdb.wal"):
            w = WAL.open(str(d))
            assert replayed(w) == records[:2], cut
            w.close()
        assert os.path.getsize(seg_path(d, 0)) == starts[2], cut
        msgs = wal_warnings(caplog)
        assert len(msgs) == 1, (cut, msgs)
        assert seg_path(d, 0) in msgs[0]
        assert f"offset {starts[2]}" in msgs[0]
        assert f"dropped {cut - starts[2]} bytes" in msgs[0]


def test_cut_at_record_boundary_is_clean(tmp_path, caplog):
    d = tmp_path / "wal"
    records, starts = write_three(d)
    os.truncate(seg_path(d, 0), starts[2])
    with caplog.at_level(logging.WARNING, logger="tsdb.wal"):
        w = WAL.open(str(d))
        assert replayed(w) == records[:2]
        w.close()
    assert wal_warnings(caplog) == []


def test_flipped_byte_in_middle_record(tmp_path, caplog):
    d = tmp_path / "wal"
    records, starts = write_three(d)
    original = open(seg_path(d, 0), "rb").read()
    for pos in range(starts[1], starts[2]):  # every byte of the middle frame, header included
        damaged = bytearray(original)
        damaged[pos] ^= 0x5A
        with open(seg_path(d, 0), "wb") as f:
            f.write(damaged)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="tsdb.wal"):
            w = WAL.open(str(d))
            assert replayed(w) == records[:1], pos
            w.close()
        assert os.path.getsize(seg_path(d, 0)) == starts[1], pos
        (msg,) = wal_warnings(caplog)
        assert f"offset {starts[1]}" in msg and f"dropped {starts[3] - starts[1]} bytes" in msg


def test_zero_filled_tail_is_dropped(tmp_path, caplog):
    d = tmp_path / "wal"
    records, starts = write_three(d)
    with open(seg_path(d, 0), "ab") as f:
        f.write(bytes(4096))
    with caplog.at_level(logging.WARNING, logger="tsdb.wal"):
        w = WAL.open(str(d))
        assert replayed(w) == records
    assert "zero record length" in wal_warnings(caplog)[0]
    w.log(rec(9))
    w.close()
    assert replayed(WAL.open(str(d))) == records + [rec(9)]


def test_write_after_torn_tail_without_replay(tmp_path, caplog):
    """log() must not append after garbage: the tail is checked before the first write."""
    d = tmp_path / "wal"
    records, starts = write_three(d)
    os.truncate(seg_path(d, 0), starts[3] - 5)
    with caplog.at_level(logging.WARNING, logger="tsdb.wal"):
        w = WAL.open(str(d))
        w.log(rec(7))
        w.close()
    assert len(wal_warnings(caplog)) == 1
    assert replayed(WAL.open(str(d))) == records[:2] + [rec(7)]


# ----------------------------------------------------------------- non-last segments


def one_record_per_segment(d, n: int = 4) -> list[bytes]:
    records = [rec(i) for i in range(n)]
    with WAL.open(str(d), segment_size=64) as w:
        for r in records:
            w.log(r)
        assert w.segments() == list(range(n))
    return records


def test_corruption_in_non_last_segment_raises(tmp_path):
    d = tmp_path / "wal"
    records = one_record_per_segment(d)
    with open(seg_path(d, 1), "r+b") as f:
        f.seek(20)
        f.write(b"\xff")
    w = WAL.open(str(d))
    got = []
    with pytest.raises(CorruptError) as ei:
        for _, p in w.replay():
            got.append(p)
    assert got == records[:1]
    assert ei.value.path == seg_path(d, 1) and ei.value.offset == 0
    assert seg_path(d, 1) in str(ei.value) and "offset 0" in str(ei.value)
    assert w.segments() == [0, 1, 2, 3]  # nothing deleted without repair
    w.close()


def test_repair_drops_everything_after_corruption(tmp_path, caplog):
    d = tmp_path / "wal"
    records = one_record_per_segment(d)
    os.truncate(seg_path(d, 1), 10)
    w = WAL.open(str(d))
    with caplog.at_level(logging.WARNING, logger="tsdb.wal"):
        assert replayed(w, repair=True) == records[:1]
    (msg,) = wal_warnings(caplog)
    assert seg_path(d, 1) in msg and "00000002" in msg and "00000003" in msg
    assert w.segments() == [0, 1] and os.path.getsize(seg_path(d, 1)) == 0
    w.log(rec(10))
    w.close()
    assert replayed(WAL.open(str(d))) == [records[0], rec(10)]


def test_missing_segment(tmp_path, caplog):
    d = tmp_path / "wal"
    records = one_record_per_segment(d)
    os.remove(seg_path(d, 2))
    w = WAL.open(str(d))
    with pytest.raises(CorruptError) as ei:
        replayed(w)
    assert ei.value.path == seg_path(d, 2)
    with caplog.at_level(logging.WARNING, logger="tsdb.wal"):
        assert replayed(w, repair=True) == records[:2]
    assert w.segments() == [0, 1] and len(wal_warnings(caplog)) == 1
    w.close()


# ----------------------------------------------------------------- segments


def test_segment_rollover(tmp_path):
    d = tmp_path / "wal"
    w = WAL.open(str(d), segment_size=1024)
    for i in range(100):
        w.log(rec(i, 100))
    w.log(rec(100, 5000))  # larger than a segment: gets one of its own
    w.log(rec(101, 100))
    w.close()
    w = WAL.open(str(d), segment_size=1024)
    segs = w.segments()
    assert segs == list(range(len(segs))) and len(segs) >= 10
    sizes = [os.path.getsize(seg_path(d, s)) for s in segs]
    assert sorted(sizes)[-1] == FRAME_HEADER_SIZE + 5000
    assert sum(s > 1024 for s in sizes) == 1
    out = list(w.replay())
    assert [p for _, p in out] == [rec(i, 100) for i in range(100)] + [rec(100, 5000), rec(101, 100)]
    idx = [s for s, _ in out]
    assert idx == sorted(idx) and idx[0] == 0 and idx[-1] == segs[-1]
    # Records never span segments: each file holds whole frames only.
    for s in segs:
        assert sum(FRAME_HEADER_SIZE + len(p) for i, p in out if i == s) == os.path.getsize(seg_path(d, s))
    w.close()


def test_commit_stays_in_one_segment(tmp_path):
    w = WAL.open(str(tmp_path), segment_size=200)
    w.log(rec(0, 100))
    w.log(rec(1, 100), rec(2, 100))  # would overflow segment 0: the whole commit moves
    assert [s for s, _ in w.replay()] == [0, 1, 1]
    w.close()


def test_cut_truncate_and_from_segment(tmp_path):
    w = WAL.open(str(tmp_path))
    w.log(rec(0))
    assert w.cut() == 1
    w.log(rec(1))
    assert w.cut() == 2
    w.log(rec(2))
    assert w.segments() == [0, 1, 2] and w.current_segment == 2
    assert replayed(w, from_segment=1) == [rec(1), rec(2)]
    with pytest.raises(ValueError):
        w.truncate_before(3)
    w.truncate_before(2)
    assert w.segments() == [2]
    assert replayed(w) == [rec(2)]
    w.close()


def test_closed_wal_raises(tmp_path):
    w = WAL.open(str(tmp_path))
    w.log(rec(0))
    w.close()
    w.close()  # idempotent
    for call in (lambda: w.log(rec(1)), w.replay, w.segments, w.cut, w.sync, w.size_bytes,
                 lambda: w.truncate_before(0)):
        with pytest.raises(ClosedError):
            call()


def test_bad_open_arguments(tmp_path):
    with pytest.raises(ValueError):
        WAL.open(str(tmp_path), sync="sometimes")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        WAL.open(str(tmp_path), segment_size=8)


# ----------------------------------------------------------------- sync policy


@pytest.fixture
def fsyncs(monkeypatch):
    calls = {"data": 0, "dir": 0}
    real_data, real_dir = segments._fdatasync, segments.fsync_dir

    def data(fd):
        calls["data"] += 1
        real_data(fd)

    def dir_(path):
        calls["dir"] += 1
        real_dir(path)

    monkeypatch.setattr(segments, "_fdatasync", data)
    monkeypatch.setattr(segments, "fsync_dir", dir_)
    return calls


def test_sync_always(tmp_path, fsyncs):
    w = WAL.open(str(tmp_path), sync="always")
    w.log(rec(0))
    assert fsyncs == {"data": 1, "dir": 1}  # new segment: directory fsynced too
    w.log(rec(1), rec(2))
    assert fsyncs["data"] == 2
    w.close()
    assert fsyncs["data"] == 2  # nothing left to flush


def test_sync_batch(tmp_path, fsyncs):
    w = WAL.open(str(tmp_path), sync="batch", sync_interval_ms=10_000)
    w.log(rec(0))
    w.log(rec(1))
    w.sync()  # the interval has not passed since open
    assert fsyncs["data"] == 0
    w.sync(force=True)
    assert fsyncs["data"] == 1
    w.log(rec(2))
    w._sync_interval = 0.0  # interval elapsed
    w.sync()
    w.sync()  # nothing new: no second fsync
    assert fsyncs["data"] == 2
    w.log(rec(3))
    w.close()
    assert fsyncs["data"] == 3


def test_sync_never(tmp_path, fsyncs):
    w = WAL.open(str(tmp_path), sync="never", segment_size=64)
    for i in range(5):
        w.log(rec(i))
        w.sync()
    assert fsyncs == {"data": 0, "dir": 0}
    w.close()
    assert fsyncs["data"] == 1  # close flushes
