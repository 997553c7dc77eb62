"""Fuzz the compiled (Cython) decoders with guard pages, in a child process.

The kernels are compiled with bounds checks off, so a decoder that reads one
byte too far would not raise: it would read stale memory, or crash the whole
process. Every input here is placed right before a ``PROT_NONE`` page
(``fuzzkit.guarded``), so any read past its end is a SIGSEGV, and the tests
run in a child pytest process (``test_compiled_decoders_in_a_child_process``)
so that such a crash fails one test, with the input that caused it, instead
of killing the test run.

Targets: the XOR chunk decoder (``decode_xor``, ``decode_xor_many`` with
arbitrary offsets and lengths), the WAL record kernels (samples, series,
tombstones) and the block chunk locator (``locate_chunks``). Oracle: a
valid input decodes to what was encoded; anything else decodes to *some*
result of the announced shape or raises :class:`~tsdb.errors.CorruptError`
(``CorruptChunkError`` for chunks), never another exception.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import time

import fuzzkit
import numpy as np
import pytest
from fuzzkit import any_bytes, bounded, fuzz_settings, guarded, mutants, tried
from hypothesis import example, given
from hypothesis import strategies as st
from soak import scaled

from tsdb.block.chunk_locate import CRC32C_TABLE, locate_chunks
from tsdb.block.chunkfile import crc32c_of
from tsdb.codec.xor import decode_xor, decode_xor_many, encode_xor
from tsdb.errors import CorruptChunkError, CorruptError
from tsdb.wal import records as R

CHILD = os.environ.get("PROMLITE_FUZZ_CHILD") == "1"
child_only = pytest.mark.skipif(not CHILD, reason="runs in the child process of "
                                "test_compiled_decoders_in_a_child_process")
LAST = fuzzkit.LastInput(os.environ.get("PROMLITE_FUZZ_LAST") if CHILD else None)

STALE = struct.unpack("<d", struct.pack("<Q", 0x7FF0000000000002))[0]


def _chunk_seeds() -> list[tuple[bytes, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(7)
    out = []
    shapes = [
        (np.array([1000]), np.array([1.0])),
        (np.array([0, 15_000, 30_001]), np.array([0.0, 1.5, 1.5])),
        (1_700_000_000_000 + np.arange(120) * 15_000, np.arange(120, dtype=float)),
        (1_700_000_000_000 + np.cumsum(rng.integers(1, 90_000, 120)), rng.normal(size=120) * 1e6),
        (np.array([-(2**62), 0, 2**62, 2**62 + 1]), np.array([np.nan, STALE, -0.0, np.inf])),
        (np.array([5, 4, 3, 2**40, -7]), np.array([1e-310, -np.inf, 2.0**1000, 1.0, 1.0])),
        (np.arange(300) * 1000, np.repeat([1.0, 2.0, 3.0], 100)),
    ]
    for ts, vs in shapes:
        ts = np.asarray(ts, dtype=np.int64)
        vs = np.asarray(vs, dtype=np.float64)
        out.append((encode_xor(ts, vs), ts, vs))
    return out


CHUNKS = _chunk_seeds()
CHUNK_BYTES = [c for c, _, _ in CHUNKS]
CHUNK_BY_BYTES = {c: (ts, vs) for c, ts, vs in CHUNKS}


@child_only
@fuzz_settings(400, 40_000)
@given(any_bytes(CHUNK_BYTES))
@example(b"")
@example(b"\x00")
@example(b"\xff\xff")
@example(b"\xff\xff" + b"\xff" * 40)
@bounded()
def test_xor_decode(buf):
    tried("xor decode_xor")
    LAST("xor", buf)
    try:
        ts, vs = decode_xor(guarded(buf))
    except CorruptChunkError as e:
        assert e.offset is not None and 0 <= e.offset <= len(buf), e
        return
    assert len(ts) == len(vs) == (buf[0] << 8 | buf[1])
    if buf in CHUNK_BY_BYTES:
        want_ts, want_vs = CHUNK_BY_BYTES[buf]
        assert np.array_equal(ts, want_ts)
        assert np.array_equal(vs.view(np.uint64), want_vs.view(np.uint64))


@child_only
@fuzz_settings(250, 25_000)
@given(st.lists(mutants(CHUNK_BYTES, max_ops=2), min_size=1, max_size=5), st.data())
@bounded()
def test_xor_decode_many_arbitrary_offsets(parts, data):
    tried("xor decode_xor_many")
    blob = b"".join(parts)
    starts = np.cumsum([0] + [len(p) for p in parts[:-1]])
    offs = [int(s) for s in starts]
    lens = [len(p) for p in parts]
    if data.draw(st.booleans()):  # arbitrary windows, some outside the blob
        k = data.draw(st.integers(0, 6))
        offs = data.draw(st.lists(st.integers(-3, len(blob) + 3), min_size=k, max_size=k))
        lens = data.draw(st.lists(st.integers(-3, len(blob) + 3), min_size=k, max_size=k))
    LAST("xor many", blob + json.dumps([offs, lens]).encode())
    try:
        ts, vs, bounds = decode_xor_many(guarded(blob), np.array(offs, dtype=np.int64),
                                         np.array(lens, dtype=np.int64))
    except CorruptChunkError as e:
        assert e.offset is not None, e
        return
    assert len(bounds) == len(offs) + 1 and bounds[-1] == len(ts) == len(vs)


# ------------------------------------------------------------------- WAL record kernels


def _record_seeds() -> list[bytes]:
    return [
        R.encode_samples([1, 2, 3], [1000, 2000, 1500], [1.0, STALE, -0.0]),
        R.encode_samples([2**40, -5], [-(2**62), 2**62], [np.nan, np.inf]),
        R.encode_samples(np.arange(50), np.arange(50) * 15_000, np.arange(50) / 3),
        R.encode_series([1, 2], [(("__name__", "up"), ("job", "a")), (("a", "é\n"),)]),
        R.encode_series([7], [()]),
        R.encode_tombstones([1, 9], [0, -100], [10, 2**62]),
        R.encode_tombstones([], [], []),
    ]


RECORDS = _record_seeds()


def _want(buf: bytes):
    return R.decode_record(buf) if buf in RECORDS else None


@child_only
@fuzz_settings(500, 50_000)
@given(any_bytes(RECORDS, max_size=200), st.sampled_from([R.RecordType.SAMPLES, R.RecordType.SERIES,
                                                          R.RecordType.TOMBSTONES, None]))
@example(b"\x02" + bytes(15), R.RecordType.SAMPLES)
@example(b"\x02" + bytes(16), R.RecordType.SAMPLES)
@example(b"\x01" + bytes(8) + b"\x7f", R.RecordType.SERIES)
@bounded()
def test_wal_record_kernels(buf, force):
    """``force`` rewrites the type byte, so every kernel sees every kind of body."""
    if force is not None and buf:
        buf = bytes([force]) + buf[1:]
    if not buf:
        return
    tried("wal record kernels")
    LAST("wal record", buf)
    arr = guarded(buf)
    kind = buf[0]
    try:
        if kind == R.RecordType.SAMPLES:
            rec = R._decode_samples(arr)
            assert len(rec.refs) == len(rec.ts) == len(rec.vs)
        elif kind == R.RecordType.SERIES:
            rec = R._decode_series(buf, arr)
            assert len(rec.refs) == len(rec.labels)
        elif kind == R.RecordType.TOMBSTONES:
            rec = R._decode_tombstones(arr)
            assert len(rec.refs) == len(rec.mints) == len(rec.maxts)
        else:
            return
    except CorruptError:
        return
    want = _want(buf)
    if want is not None:
        assert type(rec) is type(want) and repr(rec) == repr(want)


# ------------------------------------------------------------------- chunk locator


def _segment_seed() -> tuple[bytes, list[int]]:
    seg = bytearray(struct.pack(">IB3x", 0x85BD40DD, 1))
    offs = []
    for c in CHUNK_BYTES:
        offs.append(len(seg))
        n = len(c)
        while n >= 0x80:
            seg.append((n & 0x7F) | 0x80)
            n >>= 7
        seg.append(n)
        seg.append(1)
        seg += c
        seg += crc32c_of(1, c).to_bytes(4, "big")
    return bytes(seg), offs


SEGMENT, SEGMENT_OFFS = _segment_seed()


@child_only
@fuzz_settings(300, 30_000)
@given(mutants([SEGMENT], max_ops=3), st.data())
@bounded()
def test_chunk_locator(seg, data):
    tried("block chunk locator")
    offs = data.draw(st.lists(st.one_of(st.sampled_from(SEGMENT_OFFS), st.integers(0, len(seg) + 8)),
                              max_size=8))
    verify = np.array(data.draw(st.lists(st.booleans(), min_size=len(offs), max_size=len(offs))),
                      dtype=np.bool_)
    LAST("locator", seg + json.dumps(offs).encode())
    k = len(offs)
    data_off = np.full(k, -1, dtype=np.int64)
    data_len = np.full(k, -1, dtype=np.int64)
    err = np.zeros(1, dtype=np.int64)
    arr = guarded(seg)
    bad = locate_chunks(arr, np.array(offs, dtype=np.int64), verify, 1, CRC32C_TABLE, data_off,
                        data_len, err)
    good = k if bad < 0 else bad
    assert bad < 0 or err[0] in (1, 2, 3, 4)
    assert np.all(data_off[:good] >= 0) and np.all(data_off[:good] + data_len[:good] + 4 <= len(seg))
    if bad < 0 and k:
        try:
            decode_xor_many(arr, data_off, data_len)
        except CorruptChunkError:
            pass


# ------------------------------------------------------------------- the parent


@pytest.mark.skipif(CHILD, reason="this is the parent")
def test_compiled_decoders_in_a_child_process(tmp_path):
    last = tmp_path / "last-input"
    counts = tmp_path / "counts.jsonl"
    env = dict(os.environ, PROMLITE_FUZZ_CHILD="1", PROMLITE_FUZZ_LAST=str(last),
               PROMLITE_FUZZ_COUNTS=str(counts))
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-X", "faulthandler", "-m", "pytest", "-q", "-p", "no:cacheprovider",
         os.path.abspath(__file__)],
        cwd=root, env=env, capture_output=True, text=True, timeout=scaled(600, 3600),
    )
    crashed = proc.returncode < 0 or proc.returncode not in (0, 1)
    where = last.read_text() if last.exists() else "(none)"
    assert proc.returncode == 0, (
        f"child {'CRASHED' if crashed else 'failed'} (rc={proc.returncode}) after "
        f"{time.monotonic() - t0:.1f}s; last input (target, hex): {where}\n"
        f"{proc.stdout[-6000:]}\n{proc.stderr[-6000:]}"
    )
    if counts.exists():
        for line in counts.read_text().splitlines():
            for target, n in json.loads(line).items():
                tried(target, n)
