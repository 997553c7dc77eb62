"""WAL segment files: replay, page padding, torn tails vs corruption, repair, read-only, rollover, fsync policy.

The byte layout itself is pinned in test_wal_frames.py; here the expected file
contents are built with ``pack_records`` (what the writer appends at an offset)
so that a test can say exactly which bytes a segment holds.
"""

from __future__ import annotations

import glob
import hashlib
import logging
import os
import random
import struct

import crc32c
import pytest

from tsdb.errors import ClosedError, CorruptError
from tsdb.wal import segments
from tsdb.wal.frames import PAGE_SIZE, SegmentReader, compress_record, pack_records, segment_name
from tsdb.wal.segments import WAL

PAGE = PAGE_SIZE


def rec(i: int, size: int = 40) -> bytes:
    """A distinct, recognizable, incompressible opaque record."""
    head = b"rec-%06d:" % i
    return (head + random.Random(i).randbytes(max(0, size - len(head))))[:max(size, 1)]


def replayed(wal: WAL, **kw) -> list[bytes]:
    return [p for _, p in wal.replay(**kw)]


def seg_path(d, i: int) -> str:
    return os.path.join(str(d), segment_name(i))


def read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def write(path: str, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)


def wal_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "tsdb.wal" and r.levelno >= logging.WARNING]


def tree_hash(root) -> dict[str, str]:
    """Every directory and file under ``root`` (relative path -> sha256, "dir" for directories)."""
    out = {}
    for dirpath, dirs, files in os.walk(str(root)):
        for name in dirs:
            out[os.path.relpath(os.path.join(dirpath, name), str(root))] = "dir"
        for name in files:
            p = os.path.join(dirpath, name)
            out[os.path.relpath(p, str(root))] = hashlib.sha256(read(p)).hexdigest()
    return out


def padded(data: bytes) -> bytes:
    return data + bytes(-len(data) % PAGE)


def record_starts(path: str) -> list[int]:
    reader = SegmentReader(path)
    starts = [off for off, _ in reader]
    assert reader.bad_offset is None, reader.reason
    return starts


# ----------------------------------------------------------------- round trip and bytes on disk


def test_replay_after_close_and_reopen(tmp_path):
    d = tmp_path / "wal"
    with WAL.open(str(d)) as w:
        w.log(rec(0))
        w.log(rec(1), rec(2), rec(3))
        w.log()  # no records: nothing written
    assert os.listdir(d) == ["00000000"]
    first = [(rec(i), False) for i in range(4)]
    # close() zero-pads the last page, as Prometheus does
    assert read(seg_path(d, 0)) == padded(pack_records(first, 0))
    w = WAL.open(str(d))
    assert replayed(w) == [rec(i) for i in range(4)]
    w.log(rec(4))  # appends to the same segment after reopen, on the next page
    w.close()
    assert read(seg_path(d, 0)) == padded(pack_records(first, 0)) + padded(pack_records([(rec(4), False)], PAGE))
    w = WAL.open(str(d))
    assert replayed(w) == [rec(i) for i in range(5)]
    assert w.segments() == [0] and w.size_bytes() == 2 * PAGE
    w.close()


def test_nothing_is_written_before_the_first_log(tmp_path):
    d = tmp_path / "wal"
    WAL.open(str(d)).close()
    assert os.listdir(d) == []


@pytest.mark.parametrize("compress", [True, False])
def test_snappy_only_when_it_shrinks(tmp_path, compress):
    d = tmp_path / "wal"
    text = b"http_requests_total{code=\"200\"} " * 200
    noise = rec(1, 500)
    with WAL.open(str(d), compress=compress) as w:
        w.log(text, noise)
    data = read(seg_path(d, 0))
    recs = [compress_record(text) if compress else (text, False), (noise, False)]
    assert data == padded(pack_records(recs, 0))
    assert data[0] == (0x09 if compress else 0x01)  # full fragment, bit 3 = snappy
    assert data[7 + len(recs[0][0])] == 0x01  # the noise did not shrink: stored as it is
    for reopen_compress in (True, False):  # either kind is read whatever the setting
        with WAL.open(str(d), compress=reopen_compress) as w:
            assert replayed(w) == [text, noise]


@pytest.mark.parametrize("mode", ["always", "batch", "never"])
def test_every_sync_mode_replays(tmp_path, mode):
    with WAL.open(str(tmp_path), sync=mode, segment_size=PAGE) as w:
        for i in range(20):
            w.log(rec(i, 5000))
            w.sync()
        assert len(w.segments()) >= 3
    w = WAL.open(str(tmp_path))
    assert replayed(w) == [rec(i, 5000) for i in range(20)]
    w.close()


def test_replay_while_writer_open_reads_acknowledged_records(tmp_path):
    w = WAL.open(str(tmp_path))
    w.log(rec(0), rec(1))
    assert replayed(w) == [rec(0), rec(1)]
    w.log(rec(2, 3 * PAGE))
    assert replayed(w) == [rec(0), rec(1), rec(2, 3 * PAGE)]
    w.close()


def test_empty_records_survive(tmp_path):
    with WAL.open(str(tmp_path)) as w:
        w.log(b"", rec(1), b"")
    with WAL.open(str(tmp_path)) as w:
        assert replayed(w) == [b"", rec(1), b""]


@pytest.mark.parametrize("extra", [1, 100, PAGE - 200, "page"])
def test_file_ending_inside_page_padding_is_clean(tmp_path, caplog, extra):
    """A crash while padding (or a zero page after the records) is not damage; the next write starts a page."""
    d = tmp_path / "wal"
    with WAL.open(str(d)) as w:
        w.log(rec(0, 100))
    end = 7 + 100
    if extra == "page":
        write(seg_path(d, 0), read(seg_path(d, 0)) + bytes(PAGE))  # a whole page of zeros
    else:
        os.truncate(seg_path(d, 0), end + extra)
    with caplog.at_level(logging.WARNING, logger="tsdb.wal"):
        w = WAL.open(str(d))
        assert replayed(w) == [rec(0, 100)]
        w.log(rec(1, 100))
        w.close()
    assert wal_warnings(caplog) == []
    size = 2 * PAGE if extra == "page" else PAGE
    assert record_starts(seg_path(d, 0)) == [0, size]
    assert replayed(WAL.open(str(d))) == [rec(0, 100), rec(1, 100)]


def test_write_without_replay_also_pads_an_unfinished_page(tmp_path):
    d = tmp_path / "wal"
    with WAL.open(str(d)) as w:
        w.log(rec(0, 100))
    os.truncate(seg_path(d, 0), 200)
    with WAL.open(str(d)) as w:
        w.log(rec(1, 100))  # no replay first
    assert record_starts(seg_path(d, 0)) == [0, PAGE]


# ----------------------------------------------------------------- torn tails of the last segment


def write_three(d, sizes=(30, 50, 60)) -> tuple[list[bytes], list[int], int]:
    """Three records, one commit each; returns them, where each starts, and where the last ends."""
    records = [rec(i, s) for i, s in enumerate(sizes)]
    with WAL.open(str(d), compress=False) as w:
        for r in records:
            w.log(r)
    starts = record_starts(seg_path(d, 0))
    assert len(starts) == 3
    return records, starts, record_end(read(seg_path(d, 0)), starts[2])


def record_end(data: bytes, pos: int) -> int:
    """End of the last fragment of the record whose first fragment is at ``pos``."""
    while True:
        typ, length = data[pos], int.from_bytes(data[pos + 1 : pos + 3], "big")
        pos += 7 + length
        if typ & 7 in (1, 4):  # full or last
            return pos
        if PAGE - pos % PAGE < 7:
            pos += PAGE - pos % PAGE


def multi_page_cuts(start: int, end: int) -> list[int]:
    """Cuts inside a record spanning pages: its head, every page boundary, a stride, its end."""
    cuts = set(range(start + 1, start + 20)) | set(range(end - 8, end)) | set(range(start + 1, end, 4099))
    for page in range(PAGE, end, PAGE):
        cuts |= set(range(page - 2, page + 10))
    return sorted(c for c in cuts if start < c < end)


SHAPES = {"small": (30, 50, 60), "multi-page": (30, 50, 2 * PAGE + 1000)}


@pytest.mark.parametrize("shape", SHAPES)
def test_torn_tail_is_cut_at_every_offset_of_last_record(tmp_path, caplog, shape):
    d = tmp_path / "wal"
    records, starts, end = write_three(d, SHAPES[shape])
    original = read(seg_path(d, 0))
    cuts = range(starts[2] + 1, end) if shape == "small" else multi_page_cuts(starts[2], end)
    for cut in cuts:
        write(seg_path(d, 0), original[:cut])
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


def fragment_header_starts(start: int, end: int) -> list[int]:
    return [start] + list(range((start // PAGE + 1) * PAGE, end, PAGE))


@pytest.mark.parametrize("shape", SHAPES)
def test_torn_tail_followed_by_zeros_is_cut(tmp_path, caplog, shape):
    """What a filesystem may leave after a crash: the file cut inside a record, then zeros."""
    d = tmp_path / "wal"
    records, starts, end = write_three(d, SHAPES[shape])
    original = read(seg_path(d, 0))
    cuts = range(starts[2] + 1, end) if shape == "small" else multi_page_cuts(starts[2], end)
    # 1 or 2 bytes of a fragment header then zeros read as an empty fragment (a well-formed
    # one: type, length 0, CRC 0), in Prometheus's format as in ours: not a torn tail.
    ambiguous = {h + k for h in fragment_header_starts(starts[2], end) for k in (1, 2)}
    for cut in (c for c in cuts if c not in ambiguous):
        damaged = original[:cut] + bytes(4096)
        write(seg_path(d, 0), damaged)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="tsdb.wal"):
            w = WAL.open(str(d))
            assert replayed(w) == records[:2], cut
            w.close()
        assert os.path.getsize(seg_path(d, 0)) == starts[2], cut
        (msg,) = wal_warnings(caplog)
        assert seg_path(d, 0) in msg and f"offset {starts[2]}" in msg
        assert f"dropped {len(damaged) - starts[2]} bytes" in msg


def test_cut_at_record_boundary_is_clean(tmp_path, caplog):
    d = tmp_path / "wal"
    records, starts, _ = write_three(d)
    os.truncate(seg_path(d, 0), starts[2])
    with caplog.at_level(logging.WARNING, logger="tsdb.wal"):
        w = WAL.open(str(d))
        assert replayed(w) == records[:2]
        w.close()
    assert wal_warnings(caplog) == []


def test_write_after_torn_tail_without_replay(tmp_path, caplog):
    """log() must not append after garbage: the tail is checked before the first write."""
    d = tmp_path / "wal"
    records, starts, end = write_three(d)
    os.truncate(seg_path(d, 0), end - 5)
    with caplog.at_level(logging.WARNING, logger="tsdb.wal"):
        w = WAL.open(str(d))
        w.log(rec(7))
        w.close()
    assert len(wal_warnings(caplog)) == 1
    assert replayed(WAL.open(str(d))) == records[:2] + [rec(7)]
    assert record_starts(seg_path(d, 0)) == starts


# ----------------------------------------------------------------- damage with good records after it


def assert_refused(d, path: str, offset: int | None, expect: list[bytes], *, also_log: bool = True) -> None:
    """Replay raises CorruptError naming ``path`` and ``offset`` after yielding ``expect``; no byte changes."""
    before = tree_hash(os.path.dirname(str(d)))
    w = WAL.open(str(d))
    got = []
    with pytest.raises(CorruptError) as ei:
        for _, p in w.replay():
            got.append(p)
    assert got == expect
    assert ei.value.path == path and ei.value.offset == offset, str(ei.value)
    assert path in str(ei.value)
    if offset is not None:
        assert f"offset {offset}" in str(ei.value)
    if also_log:
        with pytest.raises(CorruptError):
            w.log(rec(99))  # nor is anything appended after the damage
    w.close()
    assert tree_hash(os.path.dirname(str(d))) == before


def test_bit_flip_in_the_middle_of_the_last_segment_is_corruption(tmp_path):
    d = tmp_path / "wal"
    records, starts, _ = write_three(d)
    original = read(seg_path(d, 0))
    for pos in range(starts[1], starts[2]):  # every byte of the middle record, header included
        for bit in (0x01, 0x80):
            damaged = bytearray(original)
            damaged[pos] ^= bit
            write(seg_path(d, 0), damaged)
            assert_refused(d, seg_path(d, 0), starts[1], records[:1])


def test_bit_flip_in_a_multi_page_record_followed_by_records(tmp_path):
    d = tmp_path / "wal"
    records = [rec(0, 100), rec(1, 2 * PAGE), rec(2, 100), rec(3, 100)]
    with WAL.open(str(d)) as w:
        for r in records:
            w.log(r)
    starts = record_starts(seg_path(d, 0))
    original = read(seg_path(d, 0))
    for pos in (starts[1] + 3, starts[1] + 1000, PAGE + 1, PAGE + 500, 2 * PAGE + 20, starts[2] - 1):
        damaged = bytearray(original)
        damaged[pos] ^= 0x10
        write(seg_path(d, 0), damaged)
        assert_refused(d, seg_path(d, 0), starts[1], records[:1])


def one_record_per_segment(d, n: int = 4) -> list[bytes]:
    records = [rec(i, 20_000) for i in range(n)]
    with WAL.open(str(d), segment_size=PAGE) as w:
        for r in records:
            w.log(r)
        assert w.segments() == list(range(n))
    return records


def test_corruption_in_a_middle_segment_raises_and_changes_nothing(tmp_path):
    d = tmp_path / "wal"
    records = one_record_per_segment(d)
    data = bytearray(read(seg_path(d, 1)))
    data[20] ^= 0xFF
    write(seg_path(d, 1), data)
    assert_refused(d, seg_path(d, 1), 0, records[:1], also_log=False)
    # a torn-looking end of a middle segment is not a torn tail either
    original = read(seg_path(d, 1))
    data = bytearray(original)
    write(seg_path(d, 1), bytes(data[:5000]))
    assert_refused(d, seg_path(d, 1), 0, records[:1], also_log=False)
    write(seg_path(d, 1), original)


def test_missing_segment_raises_and_changes_nothing(tmp_path):
    d = tmp_path / "wal"
    records = one_record_per_segment(d)
    os.remove(seg_path(d, 2))
    assert_refused(d, seg_path(d, 2), None, [], also_log=False)
    w = WAL.open(str(d))
    assert replayed(w, from_segment=3) == records[3:]  # what is asked for is contiguous
    w.close()


# ----------------------------------------------------------------- foreign files


def promlite_v01_segment() -> bytes:
    """Frames of promlite 0.1: ``len <u32 LE> crc32c <u32 LE>`` + type byte + msgpack array."""
    payloads = [
        b"\x01\x92\xc4\x08" + struct.pack("<q", 1) + b"\x91\x92\x92\xa8__name__\xa2up",  # series [refs, labels]
        b"\x02\x93\xc4\x08" + struct.pack("<q", 1) + b"\xcd\x03\xe8\xc4\x08" + struct.pack("<d", 1.0),  # samples
        b"\x03\x93" + b"\xc4\x08" + bytes(8) * 3,  # tombstones
    ]
    return b"".join(struct.pack("<II", len(p), crc32c.crc32c(p)) + p for p in payloads)


def random_file(first: int, size: int, length: int | None = None) -> bytes:
    data = bytearray(random.Random(first * 7919 + size).randbytes(size))
    data[0] = first
    if length is not None:
        data[1:3] = length.to_bytes(2, "big")
    return bytes(data)


# Random bytes starting like a fragment header (types 1-4, 9) are only told apart from a torn
# first record when the header's length ends inside the file (bytes that are no fragment follow)
# or cannot be (longer than a page): a header whose data runs past the end of the file is
# exactly what a torn write leaves, and is cut as one.
FOREIGN = {
    "promlite-0.1": promlite_v01_segment(),
    **{f"random-{first:02x}-{size}": random_file(first, size)
       for first in (0x00, 0x01, 0x02, 0x04, 0x09, 0x37, 0x8F, 0xFF) for size in (5000, 3 * PAGE + 11)
       if size > 5000 or first in (0x00, 0x37, 0x8F, 0xFF)},
    **{f"random-{first:02x}-len{length}": random_file(first, 5000, length)
       for first in (0x01, 0x02, 0x04, 0x09) for length in (0, 1000, 4900, 40_000)},
}


@pytest.mark.parametrize("where", ["only", "middle"])
@pytest.mark.parametrize("kind", FOREIGN)
def test_foreign_segment_is_refused_and_left_alone(tmp_path, kind, where):
    d = tmp_path / "wal"
    if where == "only":
        os.makedirs(d)
        write(seg_path(d, 0), FOREIGN[kind])
        expect = []
    else:
        with WAL.open(str(d), segment_size=PAGE) as w:
            w.log(rec(0, 100))
            w.cut()
            w.cut()
            w.log(rec(2, 100))
        write(seg_path(d, 1), FOREIGN[kind])
        expect = [rec(0, 100)]
    path = seg_path(d, 0 if where == "only" else 1)
    before = tree_hash(tmp_path)
    w = WAL.open(str(d))
    got = []
    with pytest.raises(CorruptError) as ei:
        for _, p in w.replay():
            got.append(p)
    assert got == expect and ei.value.path == path and ei.value.offset is not None
    if kind == "promlite-0.1":
        assert "promlite 0.1" in str(ei.value)
    w.close()
    assert tree_hash(tmp_path) == before


# ----------------------------------------------------------------- repair


def repair_dirs(d) -> list[str]:
    return glob.glob(str(d) + ".repair-*")


def test_repair_of_a_middle_segment_copies_then_cuts(tmp_path, caplog):
    d = tmp_path / "wal"
    records = one_record_per_segment(d)
    data = bytearray(read(seg_path(d, 1)))
    data[10_000] ^= 0x01
    write(seg_path(d, 1), data)
    originals = {segment_name(s): read(seg_path(d, s)) for s in (1, 2, 3)}
    w = WAL.open(str(d))
    with caplog.at_level(logging.WARNING, logger="tsdb.wal"):
        assert replayed(w, repair=True) == records[:1]
    (msg,) = wal_warnings(caplog)
    assert seg_path(d, 1) in msg and "00000002" in msg and "00000003" in msg
    assert w.segments() == [0, 1] and os.path.getsize(seg_path(d, 1)) == 0
    (backup,) = repair_dirs(d)
    assert backup in msg
    assert sorted(os.listdir(backup)) == sorted(originals)
    for name, data in originals.items():
        assert read(os.path.join(backup, name)) == data
    w.log(rec(10))
    w.close()
    assert replayed(WAL.open(str(d))) == [records[0], rec(10)]


def test_repair_of_the_last_segment_copies_then_cuts(tmp_path, caplog):
    d = tmp_path / "wal"
    records, starts, _ = write_three(d)
    data = bytearray(read(seg_path(d, 0)))
    data[starts[1] + 20] ^= 0x04
    write(seg_path(d, 0), data)
    w = WAL.open(str(d))
    with caplog.at_level(logging.WARNING, logger="tsdb.wal"):
        assert replayed(w, repair=True) == records[:1]
    w.close()
    assert os.path.getsize(seg_path(d, 0)) == starts[1]
    (backup,) = repair_dirs(d)
    assert os.listdir(backup) == ["00000000"] and read(os.path.join(backup, "00000000")) == bytes(data)
    assert len(wal_warnings(caplog)) == 1


def test_repair_of_a_gap_moves_later_segments_aside(tmp_path, caplog):
    d = tmp_path / "wal"
    records = one_record_per_segment(d, 5)
    os.remove(seg_path(d, 2))
    originals = {segment_name(s): read(seg_path(d, s)) for s in (3, 4)}
    w = WAL.open(str(d))
    with caplog.at_level(logging.WARNING, logger="tsdb.wal"):
        assert replayed(w, repair=True) == records[:2]
    assert w.segments() == [0, 1] and len(wal_warnings(caplog)) == 1
    (backup,) = repair_dirs(d)
    assert {n: read(os.path.join(backup, n)) for n in os.listdir(backup)} == originals
    w.close()


def test_torn_tail_needs_no_repair_copy(tmp_path):
    d = tmp_path / "wal"
    write_three(d)
    os.truncate(seg_path(d, 0), os.path.getsize(seg_path(d, 0)) - PAGE + 120)
    with WAL.open(str(d)) as w:
        replayed(w)
    assert repair_dirs(d) == []


# ----------------------------------------------------------------- read-only


def test_read_only_never_creates_the_directory(tmp_path):
    with pytest.raises(FileNotFoundError):
        WAL.open(str(tmp_path / "nope"), read_only=True)
    assert os.listdir(tmp_path) == []


def test_read_only_changes_nothing(tmp_path, caplog):
    d = tmp_path / "wal"
    records = one_record_per_segment(d, 3)
    os.makedirs(os.path.join(d, "checkpoint.00000009.tmp"))  # a read-write open would delete it
    last = read(seg_path(d, 2))
    write(seg_path(d, 2), last[: 7 + 10_000])  # a torn tail
    before = tree_hash(tmp_path)
    with caplog.at_level(logging.WARNING, logger="tsdb.wal"):
        w = WAL.open(str(d), read_only=True)
        assert w.read_only
        assert replayed(w) == records[:2]  # replay stops at the torn tail
        assert replayed(w) == records[:2]
        for call in (lambda: w.log(rec(5)), w.cut, lambda: w.truncate_before(1)):
            with pytest.raises(PermissionError):
                call()
        w.close()
    msgs = wal_warnings(caplog)
    assert len(msgs) == 2 and all(seg_path(d, 2) in m and "read-only" in m for m in msgs)
    assert tree_hash(tmp_path) == before


@pytest.mark.parametrize("damage", ["middle-segment", "gap", "mid-last-segment"])
def test_read_only_repair_changes_nothing(tmp_path, damage):
    d = tmp_path / "wal"
    if damage == "mid-last-segment":
        _, starts, _ = write_three(d)
        path, pos = seg_path(d, 0), starts[1] + 10
    else:
        one_record_per_segment(d, 3)
        path, pos = seg_path(d, 1), 50
    if damage == "gap":
        os.remove(path)
    else:
        data = bytearray(read(path))
        data[pos] ^= 0x01
        write(path, data)
    before = tree_hash(tmp_path)
    w = WAL.open(str(d), read_only=True)
    with pytest.raises((CorruptError, PermissionError)):
        replayed(w)
    with pytest.raises((CorruptError, PermissionError)):
        replayed(w, repair=True)
    w.close()
    assert tree_hash(tmp_path) == before


# ----------------------------------------------------------------- segments


def test_segment_size_must_be_a_multiple_of_the_page(tmp_path):
    for bad in (0, 8, 1024, PAGE - 1, PAGE + 1, PAGE + PAGE // 2, -PAGE):
        with pytest.raises(ValueError, match="multiple of 32768"):
            WAL.open(str(tmp_path), segment_size=bad)
    WAL.open(str(tmp_path), segment_size=2 * PAGE).close()


def test_segment_rollover(tmp_path):
    d = tmp_path / "wal"
    w = WAL.open(str(d), segment_size=PAGE)
    small = [rec(i, 3000) for i in range(40)]
    big = rec(100, 3 * PAGE)  # larger than a segment: gets one of its own
    for r in small[:20]:
        w.log(r)
    w.log(big)
    for r in small[20:]:
        w.log(r)
    w.close()
    want = small[:20] + [big] + small[20:]
    w = WAL.open(str(d), segment_size=PAGE)
    segs = w.segments()
    assert segs == list(range(len(segs))) and len(segs) >= 5
    sizes = [os.path.getsize(seg_path(d, s)) for s in segs]
    assert all(size % PAGE == 0 for size in sizes)  # every segment ends on a padded page
    assert sum(size > PAGE for size in sizes) == 1
    out = list(w.replay())
    assert [p for _, p in out] == want
    idx = [s for s, _ in out]
    assert idx == sorted(idx) and idx[0] == 0 and idx[-1] == segs[-1]
    # A record never crosses a segment: each file alone holds whole records, and nothing else.
    for s in segs:
        reader = SegmentReader(seg_path(d, s))
        alone = [p for _, p in reader]
        assert reader.bad_offset is None, (s, reader.reason)
        assert alone == [p for i, p in out if i == s]
    w.close()


def test_commit_stays_in_one_segment(tmp_path):
    w = WAL.open(str(tmp_path), segment_size=PAGE)
    w.log(rec(0, 15_000))
    w.log(rec(1, 10_000), rec(2, 10_000))  # would overflow segment 0: the whole commit moves
    w.log(rec(3, 2_000))
    assert [s for s, _ in w.replay()] == [0, 1, 1, 1]
    w.close()
    assert os.path.getsize(seg_path(tmp_path, 0)) == PAGE


def test_cut_truncate_and_from_segment(tmp_path):
    w = WAL.open(str(tmp_path))
    w.log(rec(0))
    assert w.cut() == 1
    w.log(rec(1))
    assert w.cut() == 2
    w.log(rec(2))
    assert w.segments() == [0, 1, 2] and w.current_segment == 2
    assert [os.path.getsize(seg_path(tmp_path, s)) for s in (0, 1)] == [PAGE, PAGE]  # cut pads
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
    assert fsyncs["data"] == 2  # one fdatasync per commit, however many records
    w.close()
    assert fsyncs["data"] == 3  # the last page's padding


def test_sync_always_segment_change(tmp_path, fsyncs):
    w = WAL.open(str(tmp_path), sync="always", segment_size=PAGE)
    w.log(rec(0, 20_000))
    w.log(rec(1, 20_000))  # new segment: the old one's padding is synced, the directory too
    assert fsyncs == {"data": 3, "dir": 2}
    w.close()


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


def test_sync_batch_syncs_on_segment_change(tmp_path, fsyncs):
    w = WAL.open(str(tmp_path), sync="batch", sync_interval_ms=10_000, segment_size=PAGE)
    w.log(rec(0, 20_000))
    assert fsyncs["data"] == 0
    w.log(rec(1, 20_000))
    assert fsyncs["data"] == 1
    w.close()


def test_sync_never(tmp_path, fsyncs):
    w = WAL.open(str(tmp_path), sync="never", segment_size=PAGE)
    for i in range(5):
        w.log(rec(i, 20_000))
        w.sync()
    assert len(w.segments()) == 5
    assert fsyncs == {"data": 0, "dir": 0}
    w.close()
    assert fsyncs["data"] == 1  # close flushes


# ----------------------------------------------------------------- a middle segment cut short (issue 12)


def several_records_per_segment(d, n: int = 60) -> list[bytes]:
    records = [rec(i, 3000) for i in range(n)]
    with WAL.open(str(d), segment_size=2 * PAGE) as w:
        for r in records:
            w.log(r)
        assert len(w.segments()) >= 3
    return records


def assert_reported(d, path: str, offset: int, expect: list[bytes], caplog) -> None:
    """Replay yields ``expect`` and warns naming ``path`` and ``offset``, read-only and not; no byte changes."""
    before = tree_hash(os.path.dirname(str(d)))
    for read_only in (True, False):
        caplog.clear()
        with caplog.at_level("WARNING"):
            w = WAL.open(str(d), read_only=read_only)
            assert replayed(w) == expect
            w.close()
        msgs = [r.getMessage() for r in caplog.records if "not the last segment" in r.getMessage()]
        assert msgs and path in msgs[0] and f"offset {offset}" in msgs[0], msgs
    assert tree_hash(os.path.dirname(str(d))) == before


def test_middle_segment_cut_at_a_record_boundary_is_reported(tmp_path, caplog):
    """Issue 12: no torn record shows, but a non-last segment must end on a page boundary: a warning says so.

    A warning, not an error: Prometheus leaves such segments after every crash and reads them.
    """
    d = tmp_path / "wal"
    records = several_records_per_segment(d)
    starts = record_starts(seg_path(d, 1))
    cut = starts[len(starts) // 2]
    assert cut % PAGE
    with open(seg_path(d, 1), "r+b") as f:
        f.truncate(cut)
    n0 = len(record_starts(seg_path(d, 0)))
    n1 = len(starts)
    expect = records[: n0 + len(starts) // 2] + records[n0 + n1:]
    assert_reported(d, seg_path(d, 1), cut, expect, caplog)


def test_middle_segment_cut_on_a_page_boundary_inside_padding_is_reported(tmp_path, caplog):
    d = tmp_path / "wal"
    records = several_records_per_segment(d)
    data = read(seg_path(d, 0))
    end = len(data.rstrip(b"\0")) + 1  # inside the zero padding of the last page
    assert end % PAGE
    write(seg_path(d, 0), data[:end])
    assert_reported(d, seg_path(d, 0), end, records, caplog)


def test_repair_of_a_short_middle_segment_pads_it_and_keeps_everything(tmp_path, caplog):
    d = tmp_path / "wal"
    records = several_records_per_segment(d)
    starts = record_starts(seg_path(d, 1))
    cut = starts[len(starts) // 2]
    with open(seg_path(d, 1), "r+b") as f:
        f.truncate(cut)
    original = read(seg_path(d, 1))
    lost = set(range(len(record_starts(seg_path(d, 0))) + len(starts) // 2,
                     len(record_starts(seg_path(d, 0))) + len(starts)))
    w = WAL.open(str(d))
    with caplog.at_level(logging.WARNING, logger="tsdb.wal"):
        assert replayed(w, repair=True) == [r for i, r in enumerate(records) if i not in lost]
    (msg,) = wal_warnings(caplog)
    assert seg_path(d, 1) in msg and f"offset {cut}" in msg
    (backup,) = repair_dirs(d)
    assert backup in msg and read(os.path.join(backup, segment_name(1))) == original
    assert os.path.getsize(seg_path(d, 1)) % PAGE == 0
    w.log(rec(1000))
    w.close()
    assert replayed(WAL.open(str(d))) == [r for i, r in enumerate(records) if i not in lost] + [rec(1000)]


@pytest.mark.parametrize("then", ["log", "cut", "nothing"])
def test_a_crashed_segment_that_becomes_a_middle_one_is_clean(tmp_path, then):
    """A writer killed mid-page leaves the last segment short; promlite continues it and pads it on rollover."""
    d = tmp_path / "wal"
    w = WAL.open(str(d), segment_size=2 * PAGE)
    records = [rec(i, 3000) for i in range(5)]
    for r in records:
        w.log(r)
    crashed = tmp_path / "crashed"
    os.makedirs(crashed)
    for n in os.listdir(d):  # the directory as a SIGKILL leaves it: no padding written
        write(os.path.join(crashed, n), read(os.path.join(d, n)))
    w.close()
    assert os.path.getsize(seg_path(crashed, 0)) % PAGE
    for _ in range(2):  # a restart that writes nothing, then another
        w = WAL.open(str(crashed), segment_size=2 * PAGE)
        assert replayed(w) == records
        if then == "log":
            more = [rec(i, 3000) for i in range(100, 140)]
            for r in more:
                w.log(r)
            records += more
        elif then == "cut":
            w.cut()
        w.close()
    w = WAL.open(str(crashed), segment_size=2 * PAGE)
    assert replayed(w) == records
    segs = w.segments()
    if then != "nothing":
        assert len(segs) > 1
    assert all(os.path.getsize(seg_path(crashed, s)) % PAGE == 0 for s in segs[:-1])
    w.close()


def test_padding_falls_back_to_extending_the_file(tmp_path, monkeypatch):
    d = tmp_path / "wal"
    w = WAL.open(str(d), segment_size=PAGE)
    w.log(rec(0, 3000))
    real = os.pwrite

    def pwrite(fd, data, off):
        if data and not any(data):
            raise OSError(28, "No space left on device")
        return real(fd, data, off)

    monkeypatch.setattr(segments.os, "pwrite", pwrite)
    w.cut()
    monkeypatch.setattr(segments.os, "pwrite", real)
    w.log(rec(1, 3000))
    w.close()
    assert os.path.getsize(seg_path(d, 0)) == PAGE
    assert replayed(WAL.open(str(d))) == [rec(0, 3000), rec(1, 3000)]
