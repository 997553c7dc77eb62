"""Fuzz the storage decoders with mutated files: decode or CorruptError, nothing else.

Each target starts from valid files written by promlite's own writers and
feeds the reader mutants (bit flips, byte changes, truncations, insertions,
splices: ``fuzzkit.mutants``). Where a checksum would stop every mutant at
the first check, a second variant recomputes the checksums after mutating
(``*_recrc``), so the parsers behind the check see the garbage too.

Oracle: a valid file reads back what was written; any other file reads to
some result or raises :class:`~tsdb.errors.CorruptError` (naming the file,
and the offset where the reader has one), never IndexError, ValueError,
struct.error, KeyError, RecursionError, a hang or a huge allocation.

Targets: WAL records (every type, Python and kernel paths through
``decode_record``), WAL segment pages/fragments (``SegmentReader``,
``read_segment``), WAL replay with a checkpoint (``WAL.replay``), the block
index (TOC, symbols, postings offset table, postings, series, label
indices, ``verify``), block chunk segments (``ChunkReader``), ``meta.json``,
block tombstones, whole blocks through the query path (``read_block``), and
head chunk files (``read_head_chunks`` + ``decode_all``).
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import tempfile

import crc32c
import numpy as np
import pytest
from fuzzkit import any_bytes, bounded, fuzz_settings, memory_cap, mutants, tried
from hypothesis import example, given
from hypothesis import strategies as st

from tsdb.block import Block, ChunkMeta, write_block
from tsdb.block.chunkfile import ChunkReader
from tsdb.block.index_reader import IndexReader
from tsdb.block.meta import BlockMeta, read_meta
from tsdb.block.tombstones import decode_tombstones, encode_tombstones
from tsdb.block_query import read_block
from tsdb.codec.xor import encode_xor
from tsdb.errors import CorruptError
from tsdb.head_chunks_file import HEAD_CHUNKS_MAGIC, decode_all, read_head_chunks
from tsdb.matchers import Matcher
from tsdb.wal import records as R
from tsdb.wal.frames import SegmentReader, compress_record, pack_records, read_segment
from tsdb.wal.segments import WAL

STALE = struct.unpack("<d", struct.pack("<Q", 0x7FF0000000000002))[0]
_TMP = tempfile.mkdtemp(prefix="promlite-fuzz-")


@pytest.fixture(scope="module", autouse=True)
def _cleanup():
    yield
    shutil.rmtree(_TMP, ignore_errors=True)


def _scratch(name: str) -> str:
    d = os.path.join(_TMP, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def _write(path: str, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)


# --------------------------------------------------------------------------- WAL records

RECORDS = [
    R.encode_samples([1, 2, 3], [1000, 2000, 1500], [1.0, STALE, -0.0]),
    R.encode_samples(np.arange(20), np.arange(20) * 15_000, np.arange(20) / 3),
    R.encode_series([1, 2], [(("__name__", "up"), ("job", "a")), (("a", "é\n"),)]),
    R.encode_tombstones([1, 9], [0, -100], [10, 2**62]),
    R.encode_exemplars([1, 5], [1000, 999], [1.5, np.nan], [(("trace_id", "abc"),), ()]),
    R.encode_metadata([1, 2], [1, 3], ["seconds", ""], ["help text", "h"]),
    bytes([7]) + b"opaque histogram body",
]


@fuzz_settings(600, 60_000)
@given(any_bytes(RECORDS, max_size=120))
@example(b"")
@example(b"\x04" + bytes(16) + b"\xff" * 11)
@example(b"\x06\x01\x01\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01")
@bounded()
def test_wal_decode_record(buf):
    tried("wal decode_record")
    try:
        rec = R.decode_record(buf)
    except CorruptError:
        return
    if buf in RECORDS:
        assert R.decode_record(bytes(buf)) == rec or repr(R.decode_record(buf)) == repr(rec)


# --------------------------------------------------------------------------- WAL segments

_BIG = R.encode_samples(np.arange(4000), np.arange(4000) * 1000, np.random.default_rng(1).normal(size=4000))
SEGMENTS = [
    pack_records([compress_record(r) for r in RECORDS], 0),
    pack_records([(r, False) for r in RECORDS], 0),
    pack_records([(RECORDS[0], False), compress_record(_BIG), (RECORDS[2], False)], 0),  # multi-page
]


def _read_all(path: str) -> tuple[list[bytes], SegmentReader]:
    reader = SegmentReader(path)
    return [r for _, r in reader], reader


def _recrc_wal(seg: bytes) -> bytes:
    """Recompute the CRC of every fragment found walking the pages as the reader does."""
    b = bytearray(seg)
    pos = 0
    while pos + 7 <= len(b):
        if b[pos] == 0:
            pos = (pos // 32768 + 1) * 32768
            continue
        n = int.from_bytes(b[pos + 1:pos + 3], "big")
        if pos + 7 + n > len(b):
            break
        b[pos + 3:pos + 7] = crc32c.crc32c(bytes(b[pos + 7:pos + 7 + n])).to_bytes(4, "big")
        pos += 7 + n
    return bytes(b)


def _snappy_fragment(body: bytes) -> bytes:
    return struct.pack(">BHI", 1 | 8, len(body), crc32c.crc32c(body)) + body


@fuzz_settings(200, 20_000)
@given(mutants(SEGMENTS), st.booleans())
@example(_snappy_fragment(b"\xff\xff\xff\xff\x0f\x00abc"), False)  # was: a 4 GiB allocation (or an abort)
@example(struct.pack("<II", 1, crc32c.crc32c(b"\x01")) + b"\x01" + bytes(3), False)  # was: IndexError
@bounded()
def test_wal_segment_reader(seg, recrc):
    tried("wal segment reader")
    if recrc:
        seg = _recrc_wal(seg)
    path = os.path.join(_scratch("seg"), "00000000")
    _write(path, seg)
    got, reader = _read_all(path)
    if reader.bad_offset is not None:
        assert 0 <= reader.bad_offset <= len(seg) and reader.reason
        with pytest.raises(CorruptError) as e:
            list(read_segment(path))
        assert e.value.path == path and e.value.offset == reader.bad_offset
    elif seg in SEGMENTS and not recrc:
        want = RECORDS if seg != SEGMENTS[2] else [RECORDS[0], _BIG, RECORDS[2]]
        assert got == want
    for rec in got:  # what the frames let through must decode or be CorruptError
        try:
            R.decode_record(rec)
        except CorruptError:
            pass


@fuzz_settings(150, 15_000)
@given(st.lists(mutants(RECORDS, max_ops=3), min_size=1, max_size=6), st.booleans(),
       st.sampled_from(["checkpoint", "segment"]), st.data())
@bounded()
def test_wal_replay_with_checkpoint(recs, compress, where, data):
    """Records mutated *before* framing (valid CRCs: they reach the decoders), plus raw damage."""
    tried("wal replay + checkpoint")
    d = _scratch("wal")
    os.makedirs(os.path.join(d, "checkpoint.00000001"))
    framed = pack_records([compress_record(r) if compress else (r, False) for r in recs], 0)
    clean = pack_records([(r, False) for r in RECORDS], 0)
    ck, s2 = (framed, clean) if where == "checkpoint" else (clean, framed)
    if data.draw(st.booleans()):
        s2 = data.draw(mutants([s2], max_ops=2))
    _write(os.path.join(d, "checkpoint.00000001", "00000000"), ck)
    _write(os.path.join(d, "00000002"), s2)
    wal = WAL.open(d, read_only=True)
    try:
        for seg, payload in wal.replay():
            assert seg in (1, 2)
            try:
                R.decode_record(payload)
            except CorruptError:
                pass
    except CorruptError as e:
        assert e.path and e.offset is not None, e
    finally:
        wal.close()


# --------------------------------------------------------------------------- blocks


def _build_block() -> str:
    rng = np.random.default_rng(3)
    series = []
    for i in range(6):
        labels = (("__name__", "m" if i % 2 else "up"), ("i", str(i)), ("job", ["a", "é", 'q"'][i % 3]))
        ts = 1_700_000_000_000 + np.cumsum(rng.integers(1, 30_000, 150))
        vs = rng.normal(size=150)
        vs[3] = STALE
        chunks = [ChunkMeta(int(ts[a]), int(ts[min(a + 60, 150) - 1]), 1, encode_xor(ts[a:a + 60], vs[a:a + 60]))
                  for a in range(0, 150, 60)]
        series.append((labels, chunks))
    series.sort()
    mint = min(c.mint for _, cs in series for c in cs)
    maxt = max(c.maxt for _, cs in series for c in cs)
    path = write_block(_scratch("seedblock"), iter(series), mint, maxt, segment_size=4096)
    from tsdb.block import write_tombstones
    write_tombstones(path, {16: [(0, 1_700_000_100_000)]})
    return path


SEED_BLOCK = _build_block()


def _file(rel: str) -> bytes:
    with open(os.path.join(SEED_BLOCK, rel), "rb") as f:
        return f.read()


INDEX = _file("index")
CHUNK_SEGMENTS = sorted(os.listdir(os.path.join(SEED_BLOCK, "chunks")))
META = _file("meta.json")
TOMBSTONES = _file("tombstones")
_TOC = struct.Struct(">6Q")


def _recrc_index(buf: bytes) -> bytes:
    """Fix the TOC CRC and the CRCs of the sections the TOC points at (as far as they are in bounds)."""
    b = bytearray(buf)
    if len(b) < 5 + 52:
        return bytes(b)
    toc_at = len(b) - 52
    for off in _TOC.unpack_from(b, toc_at):
        if 5 <= off and off + 4 <= toc_at:
            n = int.from_bytes(b[off:off + 4], "big")
            end = off + 4 + n
            if end + 4 <= toc_at:
                b[end:end + 4] = crc32c.crc32c(bytes(b[off + 4:end])).to_bytes(4, "big")
    b[-4:] = crc32c.crc32c(bytes(b[toc_at:-4])).to_bytes(4, "big")
    return bytes(b)


def _read_index_fully(path: str, check_crc: bool) -> None:
    r = IndexReader(path, check_crc=check_crc)
    try:
        r.symbols()
        for name in r.label_names():
            for value in r.label_values(name):
                for ref in r.postings(name, value).tolist():
                    r.series(ref)
        for ref in r.all_postings().tolist():
            r.series(ref)
        r.verify()
    finally:
        r.close()


@fuzz_settings(250, 25_000)
@given(mutants([INDEX]), st.booleans(), st.booleans())
@bounded()
def test_index_reader(buf, recrc, check_crc):
    tried("block index reader")
    if recrc:
        buf = _recrc_index(buf)
    path = os.path.join(_scratch("index"), "index")
    _write(path, buf)
    try:
        _read_index_fully(path, check_crc)
    except CorruptError as e:
        assert e.path == path, e
        return
    if buf == INDEX:
        pass  # read everything back without error: the round trip is test_block_roundtrip's


def _chunk_refs() -> list[int]:
    r = IndexReader(os.path.join(SEED_BLOCK, "index"))
    try:
        return [c.ref for ref in r.all_postings().tolist() for c in r.series(ref)[1]]
    finally:
        r.close()


CHUNK_REFS = _chunk_refs()


def _recrc_segment(seg: bytes, offsets: list[int]) -> bytes:
    """Recompute the CRC of every chunk whose frame at ``offsets`` is still in bounds."""
    b = bytearray(seg)
    for off in offsets:
        pos, n, shift = off, 0, 0
        while pos < len(b) and shift < 64:
            x = b[pos]
            pos += 1
            n |= (x & 0x7F) << shift
            shift += 7
            if x < 0x80:
                break
        end = pos + 1 + n
        if pos < len(b) and end + 4 <= len(b):
            b[end:end + 4] = crc32c.crc32c(bytes(b[pos:end])).to_bytes(4, "big")
    return bytes(b)


@fuzz_settings(200, 20_000)
@given(st.sampled_from(CHUNK_SEGMENTS), st.data(), st.booleans())
@bounded()
def test_chunk_segment_reader(name, data, recrc):
    tried("block chunk segment reader")
    seed = _file(os.path.join("chunks", name))
    seg = data.draw(mutants([seed]))
    index = int(name) - 1
    mine = [r & 0xFFFFFFFF for r in CHUNK_REFS if r >> 32 == index]
    if recrc:
        seg = _recrc_segment(seg, mine)
    d = _scratch("chunks")
    shutil.copytree(os.path.join(SEED_BLOCK, "chunks"), d, dirs_exist_ok=True)
    path = os.path.join(d, name)
    _write(path, seg)
    refs = CHUNK_REFS + data.draw(st.lists(st.integers(0, 2**40), max_size=3))
    try:
        reader = ChunkReader(d)
    except CorruptError as e:
        assert e.path == path
        return
    try:
        for ref in refs:
            for verify in (False, True):
                try:
                    enc, view = reader.chunk(ref, verify=verify)
                    view.release()
                except CorruptError as e:
                    assert e.path is not None
        try:
            reader.verify()
        except CorruptError as e:
            assert e.path == path
    finally:
        reader.close()


def _json_containers(kids):
    return st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=8), kids, max_size=3)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8), _json_containers, max_leaves=8,
)
META_KEYS = ["ulid", "minTime", "maxTime", "stats", "compaction", "version", "numSamples", "level",
             "sources", "parents", "deletable", "hints"]


@st.composite
def meta_docs(draw):
    """meta.json documents with every field replaced by arbitrary JSON now and then."""
    doc = json.loads(META)

    def walk(node):
        if isinstance(node, dict):
            for k in list(node):
                if draw(st.integers(0, 5)) == 0:
                    node[k] = draw(JSON_VALUES)
                else:
                    walk(node[k])
            if draw(st.integers(0, 5)) == 0:
                node[draw(st.sampled_from(META_KEYS))] = draw(JSON_VALUES)
        elif isinstance(node, list):
            for i in range(len(node)):
                walk(node[i])

    walk(doc)
    return json.dumps(doc).encode()


@fuzz_settings(400, 40_000)
@given(st.one_of(mutants([META]), meta_docs(), st.binary(max_size=64)))
@example(b"[" * 100_000)  # RecursionError in json.loads
@example(b'{"version": 1, "minTime": ' + b"9" * 5000 + b"}")  # ValueError: more than 4300 digits
@example(b'{"version": 1, "ulid": "01ARZ3NDEKTSV4RRFFQ69G5FAV", "minTime": 0, "maxTime": 1e400}')
@example(b'{"version": 1, "ulid": "01ARZ3NDEKTSV4RRFFQ69G5FAV", "minTime": 0, "maxTime": 99999999999999999999}')
@example(b'{"version": 1, "ulid": "01ARZ3NDEKTSV4RRFFQ69G5FAV", "minTime": 0, "maxTime": 1, "stats": []}')
@example(b'{"version": 1, "ulid": "01ARZ3NDEKTSV4RRFFQ69G5FAV", "minTime": 0, "maxTime": 1, "compaction": "x"}')
@example(b'{"version": 1, "ulid": "01ARZ3NDEKTSV4RRFFQ69G5FAV", "minTime": 0, "maxTime": 1, '
         b'"compaction": {"parents": [1]}}')
@bounded()
def test_meta_json(raw):
    tried("block meta.json")
    d = _scratch("meta")
    _write(os.path.join(d, "meta.json"), raw)
    try:
        meta = read_meta(d)
    except CorruptError as e:
        assert e.path == os.path.join(d, "meta.json")
        return
    assert isinstance(meta, BlockMeta)
    if raw == META:
        assert meta == read_meta(SEED_BLOCK)


@fuzz_settings(300, 30_000)
@given(any_bytes([TOMBSTONES, encode_tombstones({}), encode_tombstones({1: [(5, 3**30)], 2**40: [(-9, -1)]})]),
       st.booleans())
@bounded()
def test_tombstones(buf, recrc):
    tried("block tombstones")
    if recrc and len(buf) >= 9:
        buf = buf[:-4] + crc32c.crc32c(buf[5:-4]).to_bytes(4, "big")
    try:
        stones = decode_tombstones(buf, "tombstones")
    except CorruptError as e:
        assert e.path == "tombstones"
        return
    assert all(a <= b for ivs in stones.values() for a, b in ivs)


@fuzz_settings(120, 12_000)
@given(st.sampled_from(["index", "meta.json", "tombstones", *(os.path.join("chunks", n) for n in CHUNK_SEGMENTS)]),
       st.data(), st.booleans())
@bounded()
def test_whole_block_query(rel, data, recrc):
    """A block with one damaged file, opened and read through the query path."""
    tried("whole block (open + read_block)")
    d = _scratch("block")
    shutil.copytree(SEED_BLOCK, d, dirs_exist_ok=True)
    raw = data.draw(mutants([_file(rel)], max_ops=3))
    if recrc and rel == "index":
        raw = _recrc_index(raw)
    elif recrc and rel.startswith("chunks"):
        index = int(os.path.basename(rel)) - 1
        raw = _recrc_segment(raw, [r & 0xFFFFFFFF for r in CHUNK_REFS if r >> 32 == index])
    _write(os.path.join(d, rel), raw)
    try:
        b = Block.open(d, check_crc=data.draw(st.booleans()))
    except CorruptError as e:
        assert e.path, e
        return
    try:
        matchers = data.draw(st.sampled_from([[Matcher.re("__name__", ".+")], [Matcher.eq("job", "a")],
                                               [Matcher.neq("i", "3")]]))
        labels, samples = read_block(b, matchers, b.min_time, b.max_time)
        assert len(labels) == len(samples.bounds) - 1 if hasattr(samples, "bounds") else True
    except CorruptError as e:
        assert e.path, e
    finally:
        b.close()


# --------------------------------------------------------------------------- head chunk files


def _head_chunk(ref: int, ts, vs, encoding: int = 1, data: bytes | None = None) -> bytes:
    data = encode_xor(np.asarray(ts, dtype=np.int64), np.asarray(vs, dtype=np.float64)) if data is None else data
    n, ln = len(data), bytearray()
    while n >= 0x80:
        ln.append((n & 0x7F) | 0x80)
        n >>= 7
    ln.append(n)
    body = struct.pack(">Qqq", ref, int(ts[0]), int(ts[-1])) + bytes([encoding]) + bytes(ln) + data
    return body + crc32c.crc32c(body).to_bytes(4, "big")


def _head_file(chunks: list[bytes], prealloc: int = 0) -> bytes:
    b = struct.pack(">IB3x", HEAD_CHUNKS_MAGIC, 1) + b"".join(chunks)
    return b + bytes(max(0, prealloc - len(b)))


HEAD_FILES = [
    _head_file([_head_chunk(1, np.arange(120) * 15_000, np.arange(120.0)),
                _head_chunk(2, np.array([5, 9]), np.array([STALE, 1.0])),
                _head_chunk(3, np.array([1, 2, 3]), np.array([1.0, 2.0, 3.0]), encoding=0x81)], 2048),
    _head_file([_head_chunk(2**40, np.array([-5]), np.array([np.nan]))]),
]


def _recrc_head(buf: bytes) -> bytes:
    """Recompute every chunk CRC walking the file as the reader does."""
    b = bytearray(buf)
    idx = 8
    while idx + 34 <= len(b):
        pos, n, shift = idx + 25, 0, 0
        for _ in range(5):
            if pos >= len(b):
                return bytes(b)
            x = b[pos]
            pos += 1
            n |= (x & 0x7F) << shift
            shift += 7
            if x < 0x80:
                break
        end = pos + n
        if end + 4 > len(b):
            break
        b[end:end + 4] = crc32c.crc32c(bytes(b[idx:end])).to_bytes(4, "big")
        idx = end + 4
    return bytes(b)


@fuzz_settings(300, 30_000)
@given(st.lists(mutants(HEAD_FILES), min_size=1, max_size=2), st.booleans())
@example([_head_file([_head_chunk(1, np.array([1]), np.array([1.0]), encoding=40)])], False)  # was ValueError
@bounded()
def test_head_chunks_file(files, recrc):
    tried("head chunks file")
    d = _scratch("chunks_head")
    for i, raw in enumerate(files, start=1):
        _write(os.path.join(d, f"{i:06d}"), _recrc_head(raw) if recrc else raw)
    try:
        hcf = read_head_chunks(d)
        decode_all(hcf)
    except ValueError as e:  # documented: histogram chunks (encodings 2 and 3) are not decoded here
        assert "encoding 2 " in str(e) or "encoding 3 " in str(e), e
    except CorruptError as e:
        assert e.path and e.path.startswith(d), e
        assert e.offset is not None or "consecutive" in str(e), e


def test_undecodable_chunk_in_a_block_names_its_segment_file():
    """Found by test_whole_block_query: the query path raised CorruptChunkError without a file."""
    d = _scratch("block-regression")
    shutil.copytree(SEED_BLOCK, d, dirs_exist_ok=True)
    ref = CHUNK_REFS[0]
    seg_path = os.path.join(d, "chunks", CHUNK_SEGMENTS[ref >> 32])
    raw = bytearray(_file(os.path.join("chunks", CHUNK_SEGMENTS[ref >> 32])))
    off = ref & 0xFFFFFFFF
    data_at = off + 2 if raw[off] < 0x80 else off + 3  # length varint (1 or 2 bytes), encoding byte
    raw[data_at:data_at + 2] = b"\xff\xff"  # claims 65535 samples: the bit stream ends early
    _write(seg_path, _recrc_segment(bytes(raw), [off]))
    with Block.open(d, check_crc=False) as b:
        with pytest.raises(CorruptError) as e:
            read_block(b, [Matcher.re("__name__", ".+")], b.min_time, b.max_time)
    assert e.value.path == seg_path and e.value.offset is not None and e.value.offset > off


def test_snappy_record_claiming_more_than_its_bytes_can_hold_is_corrupt():
    """Found by fuzzing: cramjam allocates the decoded length a snappy header claims (up to 4 GiB)
    before decoding, and aborts the process when the allocation fails."""
    path = os.path.join(_scratch("snappy"), "00000000")
    good = pack_records([(RECORDS[0], False)], 0)
    _write(path, good + _snappy_fragment(b"\xff\xff\xff\xff\x0f\x00abc"))
    got, reader = _read_all(path)
    assert got == [RECORDS[0]] and reader.bad_offset == len(good)
    assert "decoded length 4294967295" in reader.reason
    with pytest.raises(CorruptError, match="snappy"):
        list(read_segment(path))


# --------------------------------------------------------------------------- WAL replay into a database

LABEL_NAMES = st.sampled_from(["__name__", "job", "a", "", "1bad", "é", "__name__", "le"])
LABEL_VALUES = st.sampled_from(["up", "x", "", "é", "\n", "a" * 300])


@st.composite
def wal_records(draw) -> bytes:
    refs = st.one_of(st.integers(0, 40), st.sampled_from([-1, -(2**63), 2**31, 2**40, 2**62]))
    kind = draw(st.sampled_from(["series", "samples", "samples", "tombstones"]))
    n = draw(st.integers(0, 4))
    rs = [draw(refs) for _ in range(n)]
    if kind == "series":
        labels = [tuple(draw(st.lists(st.tuples(LABEL_NAMES, LABEL_VALUES), max_size=3))) for _ in range(n)]
        return R.encode_series(rs, labels)
    ts = [draw(st.one_of(st.integers(0, 10**6), st.sampled_from([-(2**63), 2**63 - 1]))) for _ in range(n)]
    if kind == "samples":
        vs = [draw(st.one_of(st.floats(), st.just(STALE))) for _ in range(n)]
        return R.encode_samples(rs, ts, vs)
    return R.encode_tombstones(rs, ts, [max(-(2**63), min(2**63 - 1, t + draw(st.integers(-5, 10**6)))) for t in ts])


@fuzz_settings(100, 10_000)
@given(st.lists(wal_records(), min_size=1, max_size=8))
@example([R.encode_series([2**31], [(("__name__", "up"),)])])  # was: ~70 GiB of per-ref arrays (OOM kill)
@example([R.encode_series([-1], [(("__name__", "up"),)])])  # was: ref -1 overwrote the index's last entry
@bounded()
def test_wal_replay_into_a_database(recs):
    """Well-framed records with arbitrary content (bad labels, unknown or huge refs, extreme times)."""
    tried("db open (WAL replay of arbitrary records)")
    import tsdb
    from tsdb.errors import TSDBError

    d = _scratch("db")
    os.makedirs(os.path.join(d, "wal"))
    _write(os.path.join(d, "wal", "00000000"), pack_records([(r, False) for r in recs], 0))
    with memory_cap():  # a ref that asks for gigabytes fails here (MemoryError), not the machine
        try:
            db = tsdb.open(d, read_only=True)
        except TSDBError:
            return
        try:
            with db.querier(-(2**62), 2**62) as q:
                for s in q.select(Matcher.re("__name__", ".*")):
                    assert len(s.timestamps) == len(s.values)
                q.label_names()
        finally:
            db.close()
