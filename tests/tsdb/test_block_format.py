"""Byte-level pieces of the block format: varints, ULIDs, meta.json, tombstones, chunk segments.

Expected bytes are written out by hand from the format docs (Go's varint
rules, Prometheus's chunks.md / tombstones.md), not produced by our encoders.
"""

from __future__ import annotations

import json
import os
import random

import crc32c
import pytest

from tsdb.block.chunkfile import (
    SEGMENT_HEADER,
    ChunkReader,
    ChunkWriter,
    make_ref,
    split_ref,
)
from tsdb.block.encoding import Decbuf, put_uvarint, put_varint
from tsdb.block.meta import (
    BlockDesc,
    BlockMeta,
    BlockStats,
    Compaction,
    encode_meta,
    read_meta,
    write_meta,
)
from tsdb.block.tombstones import (
    add_interval,
    decode_tombstones,
    encode_tombstones,
    read_tombstones,
    write_tombstones,
)
from tsdb.block.ulid import is_ulid, new_ulid, parse_ulid, ulid_time_ms
from tsdb.errors import CorruptError

# --------------------------------------------------------------------------- varints

UVARINTS = [
    (0, "00"),
    (1, "01"),
    (127, "7f"),
    (128, "8001"),
    (300, "ac02"),
    (16384, "808001"),
    ((1 << 32) | 8, "8880808010"),
    ((1 << 64) - 1, "ffffffffffffffffff01"),
]
VARINTS = [
    (0, "00"),
    (-1, "01"),
    (1, "02"),
    (-64, "7f"),
    (64, "8001"),
    (-(1 << 63), "ffffffffffffffffff01"),
    ((1 << 63) - 1, "feffffffffffffffff01"),
]


@pytest.mark.parametrize(("x", "hexed"), UVARINTS, ids=[str(x) for x, _ in UVARINTS])
def test_uvarint_table(x, hexed):
    b = bytearray()
    put_uvarint(b, x)
    assert b.hex() == hexed
    d = Decbuf(bytes.fromhex(hexed), 0, len(hexed) // 2)
    assert d.uvarint() == x and d.remaining() == 0


@pytest.mark.parametrize(("x", "hexed"), VARINTS, ids=[str(x) for x, _ in VARINTS])
def test_varint_table(x, hexed):
    b = bytearray()
    put_varint(b, x)
    assert b.hex() == hexed
    assert Decbuf(bytes.fromhex(hexed), 0, len(hexed) // 2).varint() == x


@pytest.mark.parametrize(
    ("hexed", "why"),
    [
        ("", "truncated"),
        ("80", "truncated"),
        ("ffffffffffffffffff02", "overflows"),
        ("ff" * 11, "overflows"),
    ],
)
def test_uvarint_errors_name_offset(hexed, why):
    buf = b"\x00\x00" + bytes.fromhex(hexed)
    with pytest.raises(CorruptError, match=why) as e:
        Decbuf(buf, 2, len(buf), "somefile").uvarint()
    assert e.value.path == "somefile" and e.value.offset == 2


# --------------------------------------------------------------------------- ULIDs


def test_ulid_layout_matches_spec_example():
    # The ULID spec's example 01ARYZ6S41TSV4RRFFQ69G5FAV starts with time 1469918176385.
    u = new_ulid(1469918176385, bytes(10))
    assert u == "01ARYZ6S41" + "0" * 16
    assert ulid_time_ms("01ARYZ6S41TSV4RRFFQ69G5FAV") == 1469918176385
    assert parse_ulid(new_ulid(0, b"\xff" * 10)) == (1 << 80) - 1


def test_ulids_are_unique_and_sort_by_time():
    us = [new_ulid(ms) for ms in (5, 1, 1_700_000_000_000, 3)]
    assert sorted(us) == [us[1], us[3], us[0], us[2]]
    fresh = {new_ulid() for _ in range(1000)}
    assert len(fresh) == 1000 and all(len(u) == 26 and is_ulid(u) for u in fresh)
    assert not is_ulid("01ARYZ6S41TSV4RRFFQ69G5FAU!") and not is_ulid("01ARYZ6S41TSV4RRFFQ69G5FAI")


# --------------------------------------------------------------------------- meta.json


def test_meta_json_field_names_and_omitempty(tmp_path):
    m = BlockMeta(
        ulid="01ARYZ6S41TSV4RRFFQ69G5FAV",
        min_time=-5,
        max_time=7_200_000,
        stats=BlockStats(num_samples=10, num_series=2, num_chunks=0),
        compaction=Compaction(
            level=2,
            sources=("01ARYZ6S41TSV4RRFFQ69G5FAV",),
            parents=(BlockDesc("01ARYZ6S41TSV4RRFFQ69G5FAW", -5, 3),),
        ),
        extra={"thanos": {"labels": {"a": "b"}}},
    )
    write_meta(str(tmp_path), m)
    doc = json.loads((tmp_path / "meta.json").read_text())
    assert doc == {
        "ulid": "01ARYZ6S41TSV4RRFFQ69G5FAV",
        "minTime": -5,
        "maxTime": 7_200_000,
        "stats": {"numSamples": 10, "numSeries": 2},
        "compaction": {
            "level": 2,
            "sources": ["01ARYZ6S41TSV4RRFFQ69G5FAV"],
            "parents": [{"ulid": "01ARYZ6S41TSV4RRFFQ69G5FAW", "minTime": -5, "maxTime": 3}],
        },
        "version": 1,
        "thanos": {"labels": {"a": "b"}},
    }
    back = read_meta(str(tmp_path))
    assert back == m and back.extra == m.extra
    assert back.parents == ("01ARYZ6S41TSV4RRFFQ69G5FAW",) and back.num_series == 2
    assert not os.path.exists(tmp_path / "meta.json.tmp")
    assert encode_meta(back).startswith(b'{\n\t"ulid": ')


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (None, "missing"),
        (b"{not json", "not valid JSON"),
        (
            b'{"ulid": "01ARYZ6S41TSV4RRFFQ69G5FAV", "minTime": 0, "maxTime": 1, "version": 2}',
            "version 2",
        ),
        (b'{"ulid": "nope", "minTime": 0, "maxTime": 1, "version": 1}', "bad ulid"),
        (b'{"ulid": "01ARYZ6S41TSV4RRFFQ69G5FAV", "maxTime": 1, "version": 1}', "minTime"),
        (
            b'{"ulid": "01ARYZ6S41TSV4RRFFQ69G5FAV", "minTime": "0", "maxTime": 1, "version": 1}',
            "integer",
        ),
    ],
    ids=["missing", "garbage", "version", "ulid", "no-mintime", "string-time"],
)
def test_bad_meta_is_corrupt_error(tmp_path, content, match):
    if content is not None:
        (tmp_path / "meta.json").write_bytes(content)
    with pytest.raises(CorruptError, match=match) as e:
        read_meta(str(tmp_path))
    assert e.value.path == str(tmp_path / "meta.json")


def test_bad_meta_json_names_offset(tmp_path):
    (tmp_path / "meta.json").write_bytes(b'{"ulid": x}')
    with pytest.raises(CorruptError) as e:
        read_meta(str(tmp_path))
    assert e.value.offset == 9


# --------------------------------------------------------------------------- tombstones


def test_empty_tombstones_file_bytes():
    # magic, version 1, no stones, CRC32C of nothing (0).
    assert encode_tombstones({}).hex() == "0130ba300100000000"
    assert decode_tombstones(bytes.fromhex("0130ba300100000000")) == {}


def test_tombstones_bytes_and_round_trip(tmp_path):
    body = bytes.fromhex("051314") + bytes.fromhex("05283c")  # ref 5: [-10,10], [20,30]
    want = bytes.fromhex("0130ba3001") + body + crc32c.crc32c(body).to_bytes(4, "big")
    assert encode_tombstones({5: [(20, 30), (-10, 10)]}) == want
    stones = {1: [(0, 5)], 7: [(-(1 << 63), 3), (10, (1 << 63) - 1)]}
    write_tombstones(str(tmp_path), stones)
    assert read_tombstones(str(tmp_path)) == stones
    assert sorted(os.listdir(tmp_path)) == ["tombstones"]
    write_tombstones(str(tmp_path), {})
    assert read_tombstones(str(tmp_path)) == {}
    assert read_tombstones(str(tmp_path / "nothing-here")) == {}


INTERVAL_CASES = [
    ([], (1, 2), [(1, 2)]),
    ([(1, 2)], (1, 2), [(1, 2)]),
    ([(1, 4), (6, 6)], (5, 6), [(1, 6)]),
    ([(1, 10), (12, 20), (25, 30)], (21, 25), [(1, 10), (12, 30)]),
    ([(1, 10), (12, 20), (25, 30)], (21, 23), [(1, 10), (12, 23), (25, 30)]),
    ([(1, 10), (12, 20), (26, 30)], (22, 23), [(1, 10), (12, 20), (22, 23), (26, 30)]),
    ([(1, 2), (3, 5), (7, 7)], (6, 7), [(1, 2), (3, 7)]),
    ([(1, 10), (12, 20), (25, 30)], (9, 230), [(1, 230)]),
    ([(5, 10), (12, 20)], (1, 3), [(1, 3), (5, 10), (12, 20)]),
    ([(5, 10), (12, 20)], (40, 50), [(5, 10), (12, 20), (40, 50)]),
    ([(5, 10)], (-(1 << 63), (1 << 63) - 1), [(-(1 << 63), (1 << 63) - 1)]),
]


@pytest.mark.parametrize(("have", "new", "want"), INTERVAL_CASES)
def test_add_interval(have, new, want):
    assert add_interval(have, *new) == want


def test_add_interval_matches_point_sets():
    rng = random.Random(7)
    for _ in range(300):
        ivs, points = [], set()
        for _ in range(rng.randint(1, 6)):
            a = rng.randint(0, 40)
            b = a + rng.randint(0, 6)
            ivs = add_interval(ivs, a, b)
            points |= set(range(a, b + 1))
        assert {p for a, b in ivs for p in range(a, b + 1)} == points
        assert all(ivs[i][1] + 1 < ivs[i + 1][0] for i in range(len(ivs) - 1))


@pytest.mark.parametrize(
    ("raw", "match", "offset"),
    [
        (bytes.fromhex("0130ba30"), "too short", 0),
        (bytes.fromhex("0130ba310100000000"), "magic", 0),
        (bytes.fromhex("0130ba300200000000"), "version", 4),
        (bytes.fromhex("0130ba300100000001"), "checksum", 5),
        (bytes.fromhex("0130ba300105") + crc32c.crc32c(b"\x05").to_bytes(4, "big"), "truncated", 6),
    ],
    ids=["short", "magic", "version", "crc", "truncated"],
)
def test_bad_tombstones(tmp_path, raw, match, offset):
    (tmp_path / "tombstones").write_bytes(raw)
    with pytest.raises(CorruptError, match=match) as e:
        read_tombstones(str(tmp_path))
    assert e.value.path == str(tmp_path / "tombstones") and e.value.offset == offset


# --------------------------------------------------------------------------- chunk segments


def test_segment_and_chunk_framing(tmp_path):
    assert SEGMENT_HEADER.hex() == "85bd40dd01000000"
    w = ChunkWriter(str(tmp_path))
    r1 = w.write(1, b"\x00\x01abc")
    r2 = w.write(2, bytes(200))
    w.close()
    raw = (tmp_path / "000001").read_bytes()
    c1 = (
        bytes.fromhex("0501")
        + b"\x00\x01abc"
        + crc32c.crc32c(b"\x01\x00\x01abc").to_bytes(4, "big")
    )
    assert raw[:8] == SEGMENT_HEADER and raw[8 : 8 + len(c1)] == c1
    assert r1 == 8 and r2 == 8 + len(c1)
    assert raw[r2 : r2 + 3] == bytes.fromhex("c80102")  # uvarint 200, encoding 2
    rd = ChunkReader(str(tmp_path))
    enc, data = rd.chunk(r2, verify=True)
    assert enc == 2 and bytes(data) == bytes(200)
    data.release()
    assert rd.verify().tolist() == [r1, r2]
    rd.close()


def test_segments_are_cut_before_overflowing(tmp_path):
    w = ChunkWriter(str(tmp_path), segment_size=64)
    payloads = [bytes([i]) * (10 + i % 7) for i in range(20)]
    refs = [w.write(1, p) for p in payloads]
    w.close()
    files = sorted(os.listdir(tmp_path))
    assert files[0] == "000001" and len(files) > 3
    assert all(os.path.getsize(tmp_path / f) <= 64 for f in files)
    assert [split_ref(r)[0] for r in refs] == sorted(split_ref(r)[0] for r in refs)
    assert make_ref(*split_ref(refs[-1])) == refs[-1]
    rd = ChunkReader(str(tmp_path))
    assert [bytes(rd.chunk(r, verify=True)[1]) for r in refs] == payloads
    assert rd.verify().tolist() == refs
    assert rd.size_bytes() == sum(os.path.getsize(tmp_path / f) for f in files)
    rd.close()
