"""WAL record codec in Prometheus's layout: golden bytes written by hand, round trips, bad input.

The golden bytes below are spelled out from Prometheus's documented record
layout (``tsdb/docs/format/wal.md``, the type numbers of ``tsdb/record``), not
produced by the code under test: a big-endian 64-bit word is written as 16 hex
digits, a varint is zig-zag then LEB128 (Go's ``binary.PutVarint``), a
uvarint is LEB128, a string is its uvarint length then its UTF-8 bytes.
"""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tsdb.errors import CorruptError, InvalidSampleError
from tsdb.wal.records import (
    ExemplarsRecord,
    MetadataRecord,
    OpaqueRecord,
    RecordType,
    SamplesRecord,
    SeriesRecord,
    TombstonesRecord,
    decode_record,
    encode_exemplars,
    encode_metadata,
    encode_samples,
    encode_series,
    encode_tombstones,
    record_type,
)

STALE_BITS = 0x7FF0000000000002
STALE_NAN = np.array([STALE_BITS], dtype=np.uint64).view(np.float64)[0]


def bits(a) -> list[int]:
    return np.asarray(a, dtype=np.float64).view(np.uint64).tolist()


def h(text: str) -> bytes:
    """Hex with spaces, ``|`` separators and ``"quoted"`` ASCII runs, for readable golden bytes."""
    out = bytearray()
    for i, part in enumerate(text.split('"')):
        if i % 2:
            out += part.encode()
        else:
            out += bytes.fromhex(part.replace("|", " "))
    return bytes(out)


# Spec-level helpers for the larger hand-computed cases (independent of tsdb.wal).
def be64(x: int) -> bytes:
    return struct.pack(">Q", x & 0xFFFFFFFFFFFFFFFF)


def uvarint(n: int) -> bytes:
    assert n >= 0
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def varint(x: int) -> bytes:
    return uvarint((x << 1) if x >= 0 else ((-x) << 1) - 1)


def ustr(s: str) -> bytes:
    b = s.encode()
    return uvarint(len(b)) + b


def test_spec_helpers():
    # Go's encoding/binary examples: PutVarint(-1) = 01, PutVarint(1) = 02, PutUvarint(300) = ac 02.
    assert varint(0) == b"\x00" and varint(-1) == b"\x01" and varint(1) == b"\x02"
    assert varint(-64) == b"\x7f" and varint(64) == b"\x80\x01"
    assert uvarint(300) == b"\xac\x02"
    assert varint(-(2**63)) == b"\xff" * 9 + b"\x01"


# ----------------------------------------------------------------- golden bytes


GOLDEN = [
    (
        "series",
        lambda: encode_series([1, 2], [(("__name__", "up"), ("job", "a")), (("__name__", "up"), ("job", "b"))]),
        h('01 | 0000000000000001 02 08"__name__" 02"up" 03"job" 01"a"'
          '   | 0000000000000002 02 08"__name__" 02"up" 03"job" 01"b"'),
    ),
    (
        "series-unicode-and-empty-set",
        lambda: encode_series([300, 1], [(("a", "ü"),), ()]),
        h('01 | 000000000000012c 01 01"a" 02 c3bc | 0000000000000001 00'),
    ),
    (
        "samples-scrape-batch-stale",
        lambda: encode_samples([1, 2], [1000, 1000], np.array([1.5, STALE_NAN])),
        # ref0=1, t0=1000; (dref, dt, value bits) per sample
        h("02 | 0000000000000001 00000000000003e8"
          "   | 00 00 3ff8000000000000"
          "   | 02 00 7ff0000000000002"),
    ),
    (
        "samples-negative-and-multibyte-deltas",
        lambda: encode_samples([5, 3, 5], [1000, 990, 16000], np.array([-0.0, np.inf, -np.inf])),
        # dref -2 -> zig-zag 3; dt -10 -> 19 (0x13); dt 15000 -> 30000 -> b0 ea 01
        h("02 | 0000000000000005 00000000000003e8"
          "   | 00 00    8000000000000000"
          "   | 03 13    7ff0000000000000"
          "   | 00 b0ea01 fff0000000000000"),
    ),
    ("samples-empty", lambda: encode_samples([], [], []), h("02")),
    (
        "tombstones",
        lambda: encode_tombstones([7, 8], [0, -1], [100, 1]),
        # mint/maxt are varints: 0 -> 00, 100 -> 200 -> c8 01, -1 -> 01, 1 -> 02
        h("03 | 0000000000000007 00 c801 | 0000000000000008 01 02"),
    ),
    (
        "exemplars",
        lambda: encode_exemplars([3, 4], [2000, 2001], np.array([0.5, 1.0]), [(("trace_id", "ab"),), ()]),
        h('04 | 0000000000000003 00000000000007d0'
          '   | 00 00 3fe0000000000000 01 08"trace_id" 02"ab"'
          '   | 02 02 3ff0000000000000 00'),
    ),
    ("exemplars-empty", lambda: encode_exemplars([], [], [], []), h("04")),
    # Deltas are int64 differences and wrap as in Go: (2**63 - 1) - (-1) is -2**63 -> 2**64 - 1
    (
        "samples-wrapping-delta",
        lambda: encode_samples([0, 0], [-1, 2**63 - 1], np.zeros(2)),
        h("02 | 0000000000000000 ffffffffffffffff | 00 00 0000000000000000"
          "   | 00 ffffffffffffffffff01 0000000000000000"),
    ),
    (
        "exemplars-wrapping-delta",
        lambda: encode_exemplars([0, 0], [-1, 2**63 - 1], np.zeros(2), [(), ()]),
        h("04 | 0000000000000000 ffffffffffffffff | 00 00 0000000000000000 00"
          "   | 00 ffffffffffffffffff01 0000000000000000 00"),
    ),
    (
        "metadata",
        lambda: encode_metadata([5, 300], [1, 2], ["seconds", ""], ["Total time.", ""]),
        # ref is a uvarint, then the metric type byte, then #fields and (name, value) strings
        h('06 | 05 01 02 04"UNIT" 07"seconds" 04"HELP" 0b"Total time."'
          '   | ac02 02 02 04"UNIT" 00 04"HELP" 00'),
    ),
]


@pytest.mark.parametrize("name, make, golden", GOLDEN, ids=[g[0] for g in GOLDEN])
def test_golden(name, make, golden):
    assert make() == golden
    assert encode_from(decode_record(golden)) == golden


def encode_from(rec) -> bytes:
    if isinstance(rec, SeriesRecord):
        return encode_series(rec.refs, rec.labels)
    if isinstance(rec, SamplesRecord):
        return encode_samples(rec.refs, rec.ts, rec.vs)
    if isinstance(rec, TombstonesRecord):
        return encode_tombstones(rec.refs, rec.mints, rec.maxts)
    if isinstance(rec, ExemplarsRecord):
        return encode_exemplars(rec.refs, rec.ts, rec.vs, rec.labels)
    assert isinstance(rec, MetadataRecord)
    return encode_metadata(rec.refs, rec.types, rec.units, rec.helps)


def test_golden_samples_from_spec_helpers():
    """A longer record, built from the layout with the spec helpers above."""
    refs = [10, 11, 9, 10_000, 10]
    ts = [1_700_000_000_000, 1_700_000_000_000, 1_699_999_999_999, 1_700_000_015_000, -5]
    vs = [0.0, STALE_NAN, 5e-324, -1.0, float.fromhex("0x1.fffffffffffffp+1023")]
    want = b"\x02" + be64(refs[0]) + be64(ts[0])
    for r, t, b in zip(refs, ts, bits(vs), strict=True):
        want += varint(r - refs[0]) + varint(t - ts[0]) + be64(b)
    assert encode_samples(refs, ts, np.array(vs)) == want


def test_golden_series_from_spec_helpers():
    labels = [(("__name__", "http_requests_total"), ("code", "200"), ("path", "/" + "x" * 200)), (("a", ""),)]
    want = b"\x01"
    for ref, ls in zip([1, 2**40], labels, strict=True):
        want += be64(ref) + uvarint(len(ls)) + b"".join(ustr(n) + ustr(v) for n, v in ls)
    assert encode_series([1, 2**40], labels) == want


def test_metadata_decoder_reads_fields_in_any_order_and_skips_unknown_ones():
    buf = h('06 | 07 05 03 04"HELP" 02"hi" 03"FOO" 03"bar" 04"UNIT" 01"s" | 08 00 00')
    rec = decode_record(buf)
    assert isinstance(rec, MetadataRecord)
    assert rec.refs.tolist() == [7, 8] and rec.types == [5, 0]
    assert rec.units == ["s", ""] and rec.helps == ["hi", ""]


def test_record_type_byte():
    assert record_type(encode_series([1], [(("a", "b"),)])) is RecordType.SERIES
    assert record_type(encode_samples([1], [1], [1.0])) is RecordType.SAMPLES
    assert record_type(encode_tombstones([1], [1], [2])) is RecordType.TOMBSTONES
    assert record_type(encode_exemplars([1], [1], [1.0], [()])) is RecordType.EXEMPLARS
    assert record_type(encode_metadata([1], [1], [""], [""])) is RecordType.METADATA
    assert [int(t) for t in RecordType] == list(range(1, 11))


# ----------------------------------------------------------------- round trips


def check_samples(refs, ts, vs) -> SamplesRecord:
    rec = decode_record(encode_samples(refs, ts, vs))
    assert isinstance(rec, SamplesRecord)
    assert rec.refs.dtype == np.int64 and rec.ts.dtype == np.int64 and rec.vs.dtype == np.float64
    assert rec.refs.tolist() == np.asarray(refs, dtype=np.int64).tolist()
    assert rec.ts.tolist() == np.asarray(ts, dtype=np.int64).tolist()
    assert bits(rec.vs) == bits(vs)
    return rec


@pytest.mark.parametrize(
    "refs, ts, vs",
    [
        ([], [], []),
        ([1], [0], [0.0]),
        ([1, 2, 3], [1000, 1000, 1000], [1.5, STALE_NAN, -0.0]),
        ([5, 5], [-(2**63), 2**63 - 1], [np.inf, -np.inf]),
        ([2**63 - 1, -1], [7, 6], [5e-324, np.nan]),
        ([-(2**63), 2**63 - 1], [2**63 - 1, -(2**63)], [1.0, 2.0]),  # deltas wrap around int64
    ],
    ids=["empty", "one", "scrape-batch-stale", "extreme-ts-inf", "extreme-ref-subnormal", "wrapping-deltas"],
)
def test_samples_table(refs, ts, vs):
    check_samples(refs, ts, np.array(vs, dtype=np.float64))


@settings(max_examples=200, deadline=None)
@given(
    data=st.integers(0, 64).flatmap(
        lambda n: st.tuples(
            hnp.arrays(np.int64, n),
            hnp.arrays(np.int64, n) | hnp.arrays(np.int64, n, elements=st.just(1_700_000_000_000)),
            hnp.arrays(np.uint64, n),
        )
    )
)
def test_samples_roundtrip_bits(data):
    refs, ts, vbits = data
    check_samples(refs, ts, vbits.view(np.float64))


def test_samples_nan_payloads_survive():
    patterns = [STALE_BITS, 0x7FF8000000000001, 0xFFF0000000000001, 0x7FFFFFFFFFFFFFFF,
                0x8000000000000000, 0x0000000000000001, 0x7FF0000000000000, 0xFFF0000000000000]
    vs = np.array(patterns, dtype=np.uint64).view(np.float64)
    rec = check_samples(np.arange(1, 9), np.full(8, 42), vs)
    assert rec.vs.view(np.uint64).tolist() == patterns


def test_scrape_batch_costs_ten_bytes_a_sample():
    """Same timestamp, consecutive refs: 1-byte deltas + 8 value bytes, after the 17-byte head."""
    n = 60
    rec = encode_samples(np.arange(1, n + 1), np.full(n, 1_700_000_000_000), np.zeros(n))
    assert len(rec) == 1 + 16 + 10 * n


label_text = st.text(st.characters(blacklist_categories=("Cs",)), min_size=0, max_size=12)
label_set = st.lists(st.tuples(label_text.filter(bool), label_text), min_size=0, max_size=5).map(
    lambda pairs: tuple(sorted(dict(pairs).items()))
)


@settings(max_examples=100, deadline=None)
@given(st.lists(label_set, max_size=20), st.data())
def test_series_roundtrip(labels, data):
    refs = data.draw(hnp.arrays(np.int64, len(labels)))
    rec = decode_record(encode_series(refs, labels))
    assert isinstance(rec, SeriesRecord)
    assert rec.refs.dtype == np.int64 and rec.refs.tolist() == refs.tolist()
    assert rec.labels == labels
    assert all(type(ls) is tuple and all(type(p) is tuple for p in ls) for ls in rec.labels)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 32).flatmap(lambda n: st.tuples(*[hnp.arrays(np.int64, n)] * 3)))
def test_tombstones_roundtrip(cols):
    refs, mints, maxts = cols
    rec = decode_record(encode_tombstones(refs, mints, maxts))
    assert isinstance(rec, TombstonesRecord)
    assert [rec.refs.tolist(), rec.mints.tolist(), rec.maxts.tolist()] == [
        refs.tolist(), mints.tolist(), maxts.tolist()]


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 16).flatmap(lambda n: st.tuples(
    hnp.arrays(np.int64, n), hnp.arrays(np.int64, n), hnp.arrays(np.uint64, n), st.lists(label_set, min_size=n, max_size=n))))
def test_exemplars_roundtrip(cols):
    refs, ts, vbits, labels = cols
    rec = decode_record(encode_exemplars(refs, ts, vbits.view(np.float64), labels))
    assert isinstance(rec, ExemplarsRecord)
    assert rec.refs.tolist() == refs.tolist() and rec.ts.tolist() == ts.tolist()
    assert rec.vs.view(np.uint64).tolist() == vbits.tolist()
    assert rec.labels == labels


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 16).flatmap(lambda n: st.tuples(
    hnp.arrays(np.int64, n),
    st.lists(st.integers(0, 255), min_size=n, max_size=n),
    st.lists(label_text, min_size=n, max_size=n),
    st.lists(label_text, min_size=n, max_size=n))))
def test_metadata_roundtrip(cols):
    refs, types, units, helps = cols
    rec = decode_record(encode_metadata(refs, types, units, helps))
    assert isinstance(rec, MetadataRecord)
    assert rec.refs.tolist() == refs.tolist()
    assert (rec.types, rec.units, rec.helps) == (types, units, helps)


def test_decoded_arrays_do_not_alias_the_input_buffer():
    """The reader hands out slices of a segment buffer: a record must own its arrays."""
    buf = bytearray(encode_samples([1, 2], [3, 3], [4.0, 5.0]))
    rec = decode_record(memoryview(buf))
    buf[:] = bytes(len(buf))
    assert rec.refs.tolist() == [1, 2] and rec.ts.tolist() == [3, 3] and rec.vs.tolist() == [4.0, 5.0]
    tomb_buf = bytearray(encode_tombstones([9], [1], [2]))
    tomb = decode_record(memoryview(tomb_buf))
    tomb_buf[:] = bytes(len(tomb_buf))
    assert (tomb.refs.tolist(), tomb.mints.tolist(), tomb.maxts.tolist()) == ([9], [1], [2])


# ----------------------------------------------------------------- types promlite keeps opaque


@pytest.mark.parametrize("rtype", [5, 7, 8, 9, 10])
def test_types_promlite_cannot_store_decode_opaque(rtype):
    buf = bytes([rtype]) + b"\x00\x01\x02anything"
    rec = decode_record(buf)
    assert isinstance(rec, OpaqueRecord)
    assert rec.type == rtype and rec.data == buf and len(rec.refs) == 0


# ----------------------------------------------------------------- bad input


def samples_head(ref: int = 1, t: int = 0) -> bytes:
    return b"\x02" + be64(ref) + be64(t)


CORRUPT = [
    ("empty", b"", "empty WAL record"),
    ("type-zero", b"\x00", "unknown WAL record type 0"),
    ("type-15", b"\x0f" + bytes(20), "unknown WAL record type 15"),
    ("type-255", b"\xff", "unknown WAL record type 255"),
    ("samples-short-head", b"\x02" + bytes(15), "samples record: truncated"),
    ("samples-cut-value", encode_samples([1, 2], [3, 3], [1.0, 2.0])[:-3], "samples record: truncated"),
    ("samples-trailing-byte", encode_samples([1], [3], [1.0]) + b"\x00", "samples record: truncated"),
    ("samples-cut-varint", samples_head() + b"\x80", "samples record: truncated"),
    ("samples-varint-overflow", samples_head() + b"\xff" * 10 + b"\x01" + bytes(8), "samples record: varint overflows"),
    ("series-short-ref", b"\x01" + bytes(5), "series record: truncated"),
    ("series-no-label-count", b"\x01" + be64(1), "series record: truncated"),
    ("series-label-count-too-big", b"\x01" + be64(1) + b"\x7f", "series record: truncated"),
    ("series-string-past-end", b"\x01" + be64(1) + b"\x01\x05ab", "series record: truncated"),
    ("series-missing-value", b"\x01" + be64(1) + b"\x01\x01a", "series record: truncated"),
    ("series-not-utf8", b"\x01" + be64(1) + b"\x01\x01\xff\x01a", "series record: a label is not UTF-8"),
    ("tombstones-short-ref", b"\x03" + bytes(4), "tombstones record: truncated"),
    ("tombstones-no-maxt", b"\x03" + be64(1) + b"\x00", "tombstones record: truncated"),
    ("tombstones-overflow", b"\x03" + be64(1) + b"\xff" * 11, "tombstones record: varint overflows"),
    ("exemplars-short-head", b"\x04" + bytes(9), "exemplars record: truncated"),
    ("exemplars-cut-labels", encode_exemplars([1], [1], [1.0], [(("a", "b"),)])[:-1], "exemplars record: truncated"),
    ("metadata-cut-field", h('06 05 01 02 04"UNIT" 07"sec'), "metadata record: truncated"),
    ("metadata-no-type", b"\x06\x05", "metadata record: truncated"),
    ("metadata-not-utf8", h('06 05 01 01 04"UNIT" 01 ff'), "metadata record: string is not UTF-8"),
]


@pytest.mark.parametrize("name, buf, msg", CORRUPT, ids=[c[0] for c in CORRUPT])
def test_decode_corrupt(name, buf, msg):
    with pytest.raises(CorruptError, match=msg):
        decode_record(buf)


@pytest.mark.parametrize(
    "call",
    [
        lambda: encode_samples([1, 2], [1], [1.0, 2.0]),
        lambda: encode_samples([1], [1], np.array([1], dtype=np.complex128)),
        lambda: encode_samples(np.array([1], dtype=np.uint64), [1], [1.0]),
        lambda: encode_samples([1.5], [1], [1.0]),
        lambda: encode_samples([[1]], [[1]], [[1.0]]),
        lambda: encode_series([1, 2], [(("a", "b"),)]),
        lambda: encode_tombstones([1], [1, 2], [3]),
        lambda: encode_exemplars([1, 2], [1], [1.0, 2.0], [(), ()]),
    ],
    ids=["ragged", "complex", "uint64-refs", "float-refs", "2d", "series-count", "tomb-ragged", "exemplars-ragged"],
)
def test_encode_rejects_bad_columns(call):
    with pytest.raises(InvalidSampleError):
        call()
