"""WAL record codec: round trips (bit-exact floats), golden bytes, corrupt input table."""

from __future__ import annotations

import msgpack
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tsdb.errors import CorruptError, InvalidSampleError
from tsdb.wal.records import (
    RecordType,
    SamplesRecord,
    SeriesRecord,
    TombstonesRecord,
    decode_record,
    encode_samples,
    encode_series,
    encode_tombstones,
    record_type,
)

STALE_NAN = np.array([0x7FF0000000000002], dtype=np.uint64).view(np.float64)[0]


def bits(a: np.ndarray) -> list[int]:
    return np.asarray(a, dtype=np.float64).view(np.uint64).tolist()


def check_samples(refs, ts, vs) -> SamplesRecord:
    rec = decode_record(encode_samples(refs, ts, vs))
    assert isinstance(rec, SamplesRecord)
    assert rec.refs.dtype == np.int64 and rec.ts.dtype == np.int64 and rec.vs.dtype == np.float64
    assert rec.refs.tolist() == np.asarray(refs, dtype=np.int64).tolist()
    assert rec.ts.tolist() == np.asarray(ts, dtype=np.int64).tolist()
    assert bits(rec.vs) == bits(vs)
    return rec


# ----------------------------------------------------------------- round trips


@pytest.mark.parametrize(
    "refs, ts, vs",
    [
        ([], [], []),
        ([0], [0], [0.0]),
        ([1, 2, 3], [1000, 1000, 1000], [1.5, STALE_NAN, -0.0]),
        ([5, 5], [-(2**63), 2**63 - 1], [np.inf, -np.inf]),
        ([2**63 - 1, -1], [7, 6], [5e-324, np.nan]),
    ],
    ids=["empty", "one", "scrape-batch-stale", "extreme-ts-inf", "extreme-ref-subnormal"],
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
    patterns = [0x7FF0000000000002, 0x7FF8000000000001, 0xFFF0000000000001, 0x7FFFFFFFFFFFFFFF,
                0x8000000000000000, 0x0000000000000001]
    vs = np.array(patterns, dtype=np.uint64).view(np.float64)
    rec = check_samples(np.arange(6), np.full(6, 42), vs)
    assert rec.vs.view(np.uint64).tolist() == patterns


def test_samples_constant_ts_is_stored_once():
    n = 1000
    const = encode_samples(np.arange(n), np.full(n, 123), np.zeros(n))
    varying = encode_samples(np.arange(n), np.arange(n), np.zeros(n))
    assert len(varying) - len(const) >= 8 * n - 16


label_text = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12)
label_set = st.lists(st.tuples(label_text, label_text), min_size=1, max_size=5).map(
    lambda pairs: tuple(sorted(dict(pairs).items()))
)


@settings(max_examples=100, deadline=None)
@given(st.lists(label_set, max_size=20), st.data())
def test_series_roundtrip(labels, data):
    refs = data.draw(hnp.arrays(np.int64, len(labels)))
    rec = decode_record(encode_series(refs, labels))
    assert isinstance(rec, SeriesRecord)
    assert rec.refs.tolist() == refs.tolist()
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


def test_decoded_arrays_are_read_only():
    rec = decode_record(encode_samples([1, 2], [3, 3], [4.0, 5.0]))
    for a in (rec.refs, rec.ts, rec.vs):
        with pytest.raises(ValueError):
            a[0] = 0


def test_record_type_byte():
    assert record_type(encode_series([1], [(("a", "b"),)])) is RecordType.SERIES_V1
    assert record_type(encode_samples([1], [1], [1.0])) is RecordType.SAMPLES_V1
    assert record_type(encode_tombstones([1], [1], [2])) is RecordType.TOMBSTONES_V1


# ----------------------------------------------------------------- golden bytes
# Format changes must show up here: today's code must decode yesterday's bytes and
# encode the same input to the same bytes (docs/format/wal.md#records).

GOLDEN = [
    (
        "series",
        lambda: encode_series([1, 2], [(("__name__", "up"), ("job", "a")), (("__name__", "up"), ("job", "b"))]),
        "0192c41001000000000000000200000000000000929292a85f5f6e616d655f5fa2757092a36a6f62"
        "a1619292a85f5f6e616d655f5fa2757092a36a6f62a162",
    ),
    (
        "samples-const-ts",
        lambda: encode_samples([1, 2], [1000, 1000], np.array([1.5, STALE_NAN])),
        "0293c41001000000000000000200000000000000cd03e8c410000000000000f83f020000000000f07f",
    ),
    (
        "samples-ts-column",
        lambda: encode_samples([1, 1], [5, 6], np.array([-0.0, np.inf])),
        "0293c41001000000000000000100000000000000c41005000000000000000600000000000000c410"
        "0000000000000080000000000000f07f",
    ),
    ("tombstones", lambda: encode_tombstones([7], [0], [100]),
     "0393c4080700000000000000c4080000000000000000c4086400000000000000"),
]


@pytest.mark.parametrize("name, make, hexbytes", GOLDEN, ids=[g[0] for g in GOLDEN])
def test_golden(name, make, hexbytes):
    golden = bytes.fromhex(hexbytes)
    assert make() == golden
    assert encode_from(decode_record(golden)) == golden


def encode_from(rec) -> bytes:
    if isinstance(rec, SeriesRecord):
        return encode_series(rec.refs, rec.labels)
    if isinstance(rec, SamplesRecord):
        return encode_samples(rec.refs, rec.ts, rec.vs)
    return encode_tombstones(rec.refs, rec.mints, rec.maxts)


# ----------------------------------------------------------------- bad input


def body(rtype: int, obj) -> bytes:
    return bytes([rtype]) + msgpack.packb(obj, use_bin_type=True)


CORRUPT = [
    ("empty", b"", "empty"),
    ("unknown-type", b"\x09" + msgpack.packb([]), "unknown WAL record type 9"),
    ("type-zero", b"\x00", "unknown WAL record type 0"),
    ("bad-msgpack", b"\x02\xc1", "bad msgpack"),
    ("truncated-msgpack", encode_samples([1, 2], [3, 3], [1.0, 2.0])[:-3], "bad msgpack"),
    ("trailing-bytes", encode_samples([1], [3], [1.0]) + b"\x00", "bad msgpack"),
    ("not-array", body(2, {"a": 1}), "array of 3"),
    ("wrong-arity", body(2, [b"", b""]), "array of 3"),
    ("refs-not-bin", body(2, [[1, 2], 5, b""]), "refs must be bin"),
    ("ragged-bin", body(2, [b"\x00" * 9, 5, b"\x00" * 9]), "not a multiple of 8"),
    ("length-mismatch", body(2, [b"\x00" * 16, 5, b"\x00" * 8]), "lengths differ"),
    ("ts-out-of-range", body(2, [b"\x00" * 8, 2**64 - 1, b"\x00" * 8]), "out of int64 range"),
    ("series-count", body(1, [b"\x00" * 16, [[["a", "b"]]]]), "label sets"),
    ("tombstone-mismatch", body(3, [b"\x00" * 8, b"", b"\x00" * 8]), "lengths differ"),
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
    ],
    ids=["ragged", "complex", "uint64-refs", "float-refs", "2d", "series-count", "tomb-ragged"],
)
def test_encode_rejects_bad_columns(call):
    with pytest.raises(InvalidSampleError):
        call()
