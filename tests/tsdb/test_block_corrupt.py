"""Corrupt blocks: flipped bytes, truncated files, bad magics, missing parts.

The contract: reading a damaged block either raises CorruptError naming the
file (and the offset where it can) or returns exactly what was written
(a flip in zero padding that no checksum covers changes nothing we return).
It never returns different data and never raises anything else.
"""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

from tsdb.block import Block, ChunkMeta, write_block
from tsdb.codec.xor import encode_xor
from tsdb.errors import CorruptError
from tsdb.matchers import Matcher

SERIES = [
    ((("__name__", "up"), ("job", "a")), [(0, 9), (10, 19)]),
    ((("__name__", "up"), ("job", 'b"\n')), [(5, 14)]),
    ((("__name__", "zz"), ("ü", "v")), [(0, 3)]),
]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    series = []
    for lbls, ranges in SERIES:
        chunks = []
        for a, b in ranges:
            ts = np.arange(a, b + 1, dtype=np.int64)
            chunks.append(ChunkMeta(a, b, 1, encode_xor(ts, ts * 1.5)))
        series.append((lbls, chunks))
    return write_block(str(tmp_path_factory.mktemp("c")), series, 0, 99)


def read_all(path: str, verify: bool = True):
    """Everything a reader can see, as plain values."""
    with Block.open(path) as b:
        if verify:
            b.verify()
        out = {"names": b.label_names(), "meta": b.meta, "stones": b.tombstones()}
        out["values"] = {n: b.label_values(n) for n in out["names"]}
        out["all"] = b.all_postings().tolist()
        out["series"] = []
        for ref in out["all"]:
            lbls, crefs = b.series(ref)
            chunks = []
            for c in crefs:
                enc, data = b.chunk(c.ref, verify=True)
                chunks.append((c.mint, c.maxt, enc, bytes(data)))
                data.release()
            out["series"].append((lbls, chunks))
        out["select"] = [
            (s.labels, [bytes(c.data) for c in s.chunks])
            for s in b.select([Matcher.re("job", ".+")], 0, 99)
        ]
        return out


@pytest.fixture
def damaged(tmp_path, pristine):
    path = str(tmp_path / "blk")
    shutil.copytree(pristine, path)
    return path


def test_every_index_byte_flip_is_caught_or_harmless(tmp_path, pristine):
    want = read_all(pristine)
    raw = open(os.path.join(pristine, "index"), "rb").read()
    path = str(tmp_path / "blk")
    shutil.copytree(pristine, path)
    caught = 0
    for i in range(len(raw)):
        bad = bytearray(raw)
        bad[i] ^= 0x5A
        with open(os.path.join(path, "index"), "wb") as f:
            f.write(bad)
        try:
            got = read_all(path)
        except CorruptError as e:
            assert e.path == os.path.join(path, "index")
            caught += 1
            continue
        assert got == want, f"flip at {i} changed the data silently"
    assert caught > len(raw) * 0.8


def test_every_chunk_byte_flip_is_caught_or_harmless(tmp_path, pristine):
    want = read_all(pristine)
    seg = os.path.join("chunks", "000001")
    raw = open(os.path.join(pristine, seg), "rb").read()
    path = str(tmp_path / "blk")
    shutil.copytree(pristine, path)
    for i in range(len(raw)):
        bad = bytearray(raw)
        bad[i] ^= 0x01
        with open(os.path.join(path, seg), "wb") as f:
            f.write(bad)
        try:
            got = read_all(path)
        except CorruptError as e:
            assert e.path == os.path.join(path, seg) and e.offset is not None
            continue
        assert i in (5, 6, 7), f"flip at {i} was not caught"  # header padding only
        assert got == want


@pytest.mark.parametrize("name", ["index", "chunks/000001", "tombstones", "meta.json"])
def test_truncations_are_caught(damaged, pristine, name):
    raw = open(os.path.join(pristine, name), "rb").read()
    for n in range(len(raw)):
        with open(os.path.join(damaged, name), "wb") as f:
            f.write(raw[:n])
        with pytest.raises(CorruptError) as e:
            read_all(damaged)
        assert e.value.path == os.path.join(damaged, name), (n, str(e.value))


def test_chunk_read_path_checks_bounds_without_verify(damaged):
    seg = os.path.join(damaged, "chunks", "000001")
    size = os.path.getsize(seg)
    with open(seg, "r+b") as f:
        f.truncate(size - 3)  # the last chunk loses part of its CRC
    with Block.open(damaged) as b:
        last = b.series(int(b.all_postings()[-1]))[1][-1].ref
        with pytest.raises(CorruptError, match="past the end") as e:
            b.chunk(last)
        assert e.value.path == seg and e.value.offset == last & 0xFFFFFFFF
        with pytest.raises(CorruptError, match="segment 7"):
            b.chunk((7 << 32) | 8)
        with pytest.raises(CorruptError, match="header"):
            b.chunk(3)
        with pytest.raises(CorruptError):
            b.chunk(size + 100)
        with pytest.raises(CorruptError, match="outside the series section"):
            b.series(1 << 30)
        with pytest.raises(CorruptError):
            b.verify()


@pytest.mark.parametrize(
    ("name", "offset", "match"),
    [
        ("index", 0, "index magic"),
        ("chunks/000001", 0, "segment magic"),
        ("tombstones", 0, "tombstones magic"),
        ("index", 4, "index format version"),
        ("chunks/000001", 4, "segment version"),
    ],
)
def test_bad_magic_or_version(damaged, name, offset, match):
    p = os.path.join(damaged, name)
    raw = bytearray(open(p, "rb").read())
    raw[offset] ^= 0xFF
    open(p, "wb").write(raw)
    with pytest.raises(CorruptError, match=match) as e:
        Block.open(damaged)
    assert e.value.path == p and e.value.offset == offset


@pytest.mark.parametrize("name", ["meta.json", "index", "chunks"])
def test_missing_parts(damaged, name):
    p = os.path.join(damaged, name)
    shutil.rmtree(p) if os.path.isdir(p) else os.unlink(p)
    with pytest.raises(CorruptError, match="missing") as e:
        Block.open(damaged)
    assert e.value.path == p


def test_missing_tombstones_means_none(damaged, pristine):
    os.unlink(os.path.join(damaged, "tombstones"))
    assert read_all(damaged)["series"] == read_all(pristine)["series"]


def test_index_pointing_between_chunks_fails_verify(tmp_path):
    # A well-formed index whose chunk ref lands inside another chunk.
    data = encode_xor(np.array([1, 2, 3]), np.array([1.0, 2.0, 3.0]))
    path = write_block(str(tmp_path), [((("a", "1"),), [ChunkMeta(1, 3, 1, data)])], 0, 9)
    seg = os.path.join(path, "chunks", "000001")
    with open(seg, "ab") as f:  # a second, valid chunk after the first
        f.write(open(seg, "rb").read()[8:])
    with Block.open(path) as b:
        b.verify()  # extra chunks the index does not use are fine
        ref = b.series(int(b.all_postings()[0]))[1][0].ref
        with pytest.raises(CorruptError):
            b.chunks.chunk(ref + 1, verify=True)


@pytest.mark.parametrize(("version", "ok"), [(1, False), (2, True), (3, True), (4, False)])
def test_index_versions(damaged, pristine, version, ok):
    # v3 (Prometheus 3) has v2's layout minus label indices; v1 is not supported.
    p = os.path.join(damaged, "index")
    raw = bytearray(open(p, "rb").read())
    raw[4] = version
    open(p, "wb").write(raw)
    if ok:
        assert read_all(damaged) == read_all(pristine)
    else:
        with pytest.raises(CorruptError, match=f"version {version}"):
            Block.open(damaged)
