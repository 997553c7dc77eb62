"""WAL pages and fragments (Prometheus's ``wlog`` layout): what the bytes are, written and read back.

Expected bytes are built here from the documented layout (``tsdb/docs/format/wal.md``):
32 KiB pages; a fragment is ``type <1b> len <2b BE> CRC32C <4b BE> data``; type
1 full, 2 first, 3 middle, 4 last, bit 3 = snappy; fewer than 7 bytes left in
a page are zeros.
"""

from __future__ import annotations

import os
import random
import struct

import cramjam
import crc32c
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tsdb.wal.frames import (
    PAGE_SIZE,
    SegmentReader,
    compress_record,
    pack_records,
    packed_size,
)

PAGE = 32 * 1024
MAX_DATA = PAGE - 7  # data bytes of a fragment that fills a page
FULL, FIRST, MIDDLE, LAST, SNAPPY = 1, 2, 3, 4, 8


def frag(typ: int, data: bytes) -> bytes:
    return struct.pack(">BHI", typ, len(data), crc32c.crc32c(data)) + data


def payload(n: int, seed: int = 0) -> bytes:
    """``n`` distinct, incompressible bytes."""
    return random.Random(seed).randbytes(n)


def read_file(path: str) -> tuple[list[tuple[int, bytes]], SegmentReader]:
    reader = SegmentReader(path)
    return list(reader), reader


def test_page_size_and_castagnoli():
    assert PAGE_SIZE == PAGE
    assert crc32c.crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value


# ----------------------------------------------------------------- writing


def test_one_small_record_is_one_full_fragment():
    assert pack_records([(b"123456789", False)], 0) == bytes.fromhex("01 0009 e3069283") + b"123456789"


def test_empty_record_is_an_empty_full_fragment():
    assert pack_records([(b"", False)], 0) == bytes.fromhex("01 0000 00000000")
    assert pack_records([(b"", False), (b"x", False)], 0) == frag(FULL, b"") + frag(FULL, b"x")


def test_records_follow_each_other_in_a_page():
    a, b = payload(100, 1), payload(3000, 2)
    assert pack_records([(a, False), (b, False)], 0) == frag(FULL, a) + frag(FULL, b)
    # appended later at the offset where the first one ended: the same bytes
    assert pack_records([(a, False)], 0) + pack_records([(b, False)], 107) == frag(FULL, a) + frag(FULL, b)


def test_record_bigger_than_a_page_is_first_and_last():
    rec = payload(40_000)
    want = frag(FIRST, rec[:MAX_DATA]) + frag(LAST, rec[MAX_DATA:])
    assert len(want) == PAGE + 7 + 40_000 - MAX_DATA
    assert pack_records([(rec, False)], 0) == want


def test_record_over_several_pages_has_middle_fragments():
    rec = payload(3 * MAX_DATA + 5)
    want = (frag(FIRST, rec[:MAX_DATA]) + frag(MIDDLE, rec[MAX_DATA:2 * MAX_DATA])
            + frag(MIDDLE, rec[2 * MAX_DATA:3 * MAX_DATA]) + frag(LAST, rec[3 * MAX_DATA:]))
    assert pack_records([(rec, False)], 0) == want


def test_record_that_fills_a_page_exactly_is_one_full_fragment():
    rec = payload(MAX_DATA)
    assert pack_records([(rec, False)], 0) == frag(FULL, rec)
    assert pack_records([(rec, False), (b"z", False)], 0) == frag(FULL, rec) + frag(FULL, b"z")


def test_split_starts_mid_page():
    first = payload(1000, 1)
    rec = payload(PAGE, 2)
    room = PAGE - (7 + 1000) - 7  # data that fits after the first record's fragment
    want = frag(FULL, first) + frag(FIRST, rec[:room]) + frag(LAST, rec[room:])
    assert pack_records([(first, False), (rec, False)], 0) == want


@pytest.mark.parametrize("left", [1, 2, 3, 4, 5, 6])
def test_page_with_less_than_7_bytes_left_is_zero_padded(left):
    rec = payload(PAGE - 7 - left)
    assert pack_records([(rec, False)], 0) == frag(FULL, rec) + bytes(left)
    # the next record starts on the next page
    assert pack_records([(rec, False), (b"n", False)], 0) == frag(FULL, rec) + bytes(left) + frag(FULL, b"n")
    # and appending at such an offset pads first
    assert pack_records([(b"n", False)], PAGE - left) == bytes(left) + frag(FULL, b"n")
    assert pack_records([(b"n", False)], 5 * PAGE - left) == bytes(left) + frag(FULL, b"n")


def test_seven_bytes_left_make_a_zero_length_first_fragment():
    rec = payload(PAGE - 14)  # leaves exactly one header's worth of room
    nxt = b"next record"
    want = frag(FULL, rec) + frag(FIRST, b"") + frag(LAST, nxt)
    assert len(frag(FULL, rec) + frag(FIRST, b"")) == PAGE
    assert pack_records([(rec, False), (nxt, False)], 0) == want
    assert pack_records([(nxt, False)], PAGE - 7) == frag(FIRST, b"") + frag(LAST, nxt)
    # an empty record there is one empty full fragment, as anywhere
    assert pack_records([(b"", False)], PAGE - 7) == frag(FULL, b"")


def test_compressed_flag_is_on_every_fragment():
    small = pack_records([(b"abc", True)], 0)
    assert small == frag(FULL | SNAPPY, b"abc")
    big = payload(2 * MAX_DATA + 1)
    got = pack_records([(big, True)], 0)
    assert got == (frag(FIRST | SNAPPY, big[:MAX_DATA]) + frag(MIDDLE | SNAPPY, big[MAX_DATA:2 * MAX_DATA])
                   + frag(LAST | SNAPPY, big[2 * MAX_DATA:]))


def test_compress_record_only_when_it_shrinks():
    text = b"up{job=\"node\"} " * 500
    c, yes = compress_record(text)
    assert yes and len(c) < len(text)
    assert bytes(cramjam.snappy.decompress_raw(c)) == text  # snappy block format, no framing
    noise = payload(1000)
    assert compress_record(noise) == (noise, False)
    assert compress_record(b"") == (b"", False)
    assert compress_record(b"a") == (b"a", False)  # snappy of one byte is longer


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.integers(0, 200),
            st.integers(MAX_DATA - 20, MAX_DATA + 20),
            st.integers(PAGE - 20, PAGE + 20),
            st.integers(0, 3 * PAGE),
        ),
        max_size=8,
    ),
    st.one_of(st.integers(0, 3 * PAGE), st.integers(PAGE - 20, PAGE + 8)),
)
def test_packed_size_agrees_with_pack_records(lengths, offset):
    packed = pack_records([(bytes(n), False) for n in lengths], offset)
    assert packed_size(lengths, offset) == len(packed)
    # every record ends at least 7 bytes before the end of its page, or the page is padded
    assert (PAGE - (offset + len(packed)) % PAGE) >= 7 or not lengths


# ----------------------------------------------------------------- reading back


def prefix_ending_at(off: int) -> bytes:
    """Well-formed segment bytes of exactly ``off`` bytes (fillers that fill whole pages, then one more)."""
    q, r = divmod(off, PAGE)
    assert r == 0 or r >= 7, "a writer never ends a record 1-6 bytes into a page"
    fillers = [(b"f" * MAX_DATA, False)] * q + ([(b"f" * (r - 7), False)] if r else [])
    out = pack_records(fillers, 0)[:off]  # drop the zero padding of a page with < 7 bytes left
    assert len(out) == off
    return out


def expected_starts(lengths: list[int], offset: int) -> list[int]:
    """Offsets of the records' first fragments when packed at ``offset``."""
    first = offset if PAGE - offset % PAGE >= 7 else (offset // PAGE + 1) * PAGE
    return [first] + [offset + packed_size(lengths[: i + 1], offset) for i in range(len(lengths) - 1)]


def check_read_back(tmp_path, prefix: bytes, records: list[tuple[bytes, bool]], plain: list[bytes]) -> None:
    path = os.path.join(str(tmp_path), "00000000")
    body = pack_records(records, len(prefix))
    with open(path, "wb") as f:
        f.write(prefix + body)
    got, reader = read_file(path)
    assert reader.bad_offset is None, reader.reason
    n_prefix = len(got) - len(records)
    assert [r for _, r in got[n_prefix:]] == plain
    assert [o for o, _ in got[n_prefix:]] == expected_starts([len(r) for r, _ in records], len(prefix))


@pytest.mark.parametrize(
    "off",
    [0, 7, 8, 100, PAGE - 15, PAGE - 14, PAGE - 8, PAGE - 7, PAGE - 6, PAGE - 1, PAGE, PAGE + 7, PAGE + 8,
     2 * PAGE - 7, 2 * PAGE - 3, 3 * PAGE],
)
def test_reader_gives_the_records_back_at_any_starting_offset(tmp_path, off):
    plain = [b"", b"a", payload(50, 1), payload(MAX_DATA, 2), payload(PAGE + 3, 3), payload(3 * PAGE, 4),
             b"up{job=\"x\"} 1\n" * 3000, b"z" * 5]
    recs = [compress_record(r) for r in plain]
    assert any(c for _, c in recs) and not all(c for _, c in recs)
    check_read_back(tmp_path, prefix_ending_at(off), recs, plain)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(0, 2 * PAGE), max_size=4),
    st.lists(st.tuples(st.one_of(st.integers(0, 100), st.integers(MAX_DATA - 10, MAX_DATA + 10),
                                 st.integers(0, 3 * PAGE)), st.booleans()), min_size=1, max_size=6),
)
def test_reader_roundtrip_property(tmp_path_factory, fillers, shapes):
    tmp = tmp_path_factory.mktemp("seg")
    prefix = pack_records([(b"f" * n, False) for n in fillers], 0)
    plain = [(b"%d:" % i + b"ab" * n)[:n] if squeeze else payload(n, i) for i, (n, squeeze) in enumerate(shapes)]
    check_read_back(tmp, prefix, [compress_record(r) for r in plain], plain)


def test_reader_limit_reads_a_prefix_only(tmp_path):
    path = str(tmp_path / "00000000")
    a, b = payload(100, 1), payload(200, 2)
    with open(path, "wb") as f:
        f.write(pack_records([(a, False), (b, False)], 0))
    reader = SegmentReader(path, limit=107)
    assert [r for _, r in reader] == [a] and reader.bad_offset is None


def test_reader_reports_a_cut_multi_page_record(tmp_path):
    path = str(tmp_path / "00000000")
    a, big = payload(100, 1), payload(2 * PAGE, 2)
    data = pack_records([(a, False), (big, False)], 0)
    for cut in (107 + 3, PAGE - 1, PAGE, PAGE + 3, PAGE + 7, 2 * PAGE + 100, len(data) - 1):
        with open(path, "wb") as f:
            f.write(data[:cut])
        got, reader = read_file(path)
        assert [r for _, r in got] == [a], cut
        assert reader.bad_offset == 107 and reader.tail_is_torn(), (cut, reader.reason)


def test_reader_sees_readable_records_after_a_bad_one(tmp_path):
    path = str(tmp_path / "00000000")
    a, b, c = payload(100, 1), payload(100, 2), payload(100, 3)
    data = bytearray(pack_records([(a, False), (b, False), (c, False)], 0))
    data[107 + 50] ^= 0x01  # inside b's data: its CRC no longer matches
    with open(path, "wb") as f:
        f.write(data)
    got, reader = read_file(path)
    assert [r for _, r in got] == [a]
    assert reader.bad_offset == 107 and "checksum" in reader.reason
    assert reader.readable_after and not reader.tail_is_torn()


def test_reader_rejects_zstd_records(tmp_path):
    path = str(tmp_path / "00000000")
    with open(path, "wb") as f:
        f.write(frag(FULL | 16, b"\x28\xb5\x2f\xfd"))
    got, reader = read_file(path)
    assert got == [] and reader.bad_offset == 0 and "zstd" in reader.reason
    assert not reader.tail_is_torn()
