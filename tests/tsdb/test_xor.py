"""Tests of the Gorilla XOR chunk codec (tsdb.codec.xor).

Four independent checks of the same format:

* hand-written bit tables, straight from the format spec (docs/format/chunks.md),
  for every delta-of-delta bucket boundary and every value-window case;
* the slow pure-Python reference codec as an oracle: hypothesis generates
  samples (any int64 timestamps, any float64 bit patterns) and the fast
  encoder must produce the same bytes, the fast decoder the same bits;
* golden fixture files (tests/golden/xor/<case>/), including hand-built
  chunks with window reuse, a 64-bit dod and the initial-window quirk of a
  reopened Prometheus appender, and chunks captured from promtool 2.42;
  ``PROMLITE_REGEN_GOLDEN=1`` rewrites the ones this file can build;
* an error table and a mutation fuzzer: corrupt input raises
  CorruptChunkError (never IndexError), exactly when the oracle does.
"""

from __future__ import annotations

import doctest
import json
import os
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tsdb.codec import xor
from tsdb.codec import xor_reference as ref
from tsdb.codec.xor import (
    ENCODING_XOR,
    chunk_num_samples,
    decode_xor,
    decode_xor_many,
    encode_xor,
    encode_xor_many,
)
from tsdb.errors import CorruptChunkError

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
STALE_NAN = 0x7FF0000000000002
GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "xor"
REGEN = os.environ.get("PROMLITE_REGEN_GOLDEN") == "1"

# Budgets sized so the whole file runs in ~15 s on a busy 2-core machine.
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SMALL = settings(SETTINGS, max_examples=60)


# --------------------------------------------------------------------------- helpers


def f2b(v: float) -> int:
    return struct.unpack(">Q", struct.pack(">d", v))[0]


def field(value: int, width: int) -> str:
    """``width`` low bits of ``value`` in two's complement, MSB first."""
    return format(value & ((1 << width) - 1), f"0{width}b")


def bits_to_bytes(bits: str) -> bytes:
    bits += "0" * (-len(bits) % 8)
    return int(bits, 2).to_bytes(len(bits) // 8, "big") if bits else b""


def arrays(ts, vbits) -> tuple[np.ndarray, np.ndarray]:
    return np.array(ts, dtype=np.int64), np.array(vbits, dtype=np.uint64).view(np.float64)


def assert_same(ts_a, vs_a, ts_b, vs_b) -> None:
    """Equal timestamps and equal float *bits* (NaN payloads and -0.0 count)."""
    np.testing.assert_array_equal(
        np.asarray(ts_a, dtype=np.int64), np.asarray(ts_b, dtype=np.int64)
    )
    np.testing.assert_array_equal(
        np.asarray(vs_a, dtype=np.float64).view(np.uint64),
        np.asarray(vs_b, dtype=np.float64).view(np.uint64),
    )


# --------------------------------------------------------------------------- strategies

SPECIAL_BITS = [
    0x0000000000000000,  # +0.0
    0x8000000000000000,  # -0.0
    0x7FF0000000000000,  # +Inf
    0xFFF0000000000000,  # -Inf
    0x7FF8000000000000,  # the usual NaN
    STALE_NAN,  # Prometheus's staleness marker
    0xFFF8000000000001,  # negative NaN with payload
    0x7FF0000000000001,  # signalling NaN
    0x0000000000000001,  # smallest subnormal
    0x000FFFFFFFFFFFFF,  # largest subnormal
    0x8000000000000001,
    0x7FEFFFFFFFFFFFFF,  # largest finite
    0xFFFFFFFFFFFFFFFF,
    0x3FF0000000000000,  # 1.0
]
DOD_EDGES = [
    0,
    1,
    -1,
    8192,
    -8191,
    8193,
    -8192,
    65536,
    -65535,
    65537,
    -65536,
    2**19,
    -(2**19 - 1),
    2**19 + 1,
    -(2**19),
    2**40,
    -(2**40),
    INT64_MAX,
    INT64_MIN,
]

any_bits = st.one_of(
    st.sampled_from(SPECIAL_BITS),
    st.integers(0, 2**64 - 1),
    st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True).map(f2b),
    st.integers(-(10**8), 10**8).map(lambda c: f2b(c / 100)),  # 2-decimal gauges
)


@st.composite
def value_series(draw, n: int) -> list[int]:
    """Bit patterns whose XORs hit every case: zero, reuse, new window, 64 bits."""
    out = [draw(any_bits)]
    for _ in range(n - 1):
        step = draw(st.integers(0, 4))
        prev = out[-1]
        if step == 0:
            out.append(prev)
        elif step == 1:  # flip a narrow run of bits: often fits the window
            shift = draw(st.integers(0, 60))
            out.append(prev ^ (draw(st.integers(1, 15)) << shift))
        else:
            out.append(draw(any_bits))
    return out


@st.composite
def timestamp_series(draw, n: int) -> list[int]:
    mode = draw(st.sampled_from(["any", "scrape", "edges"]))
    if mode == "any":  # unsorted, huge, anything
        return draw(st.lists(st.integers(INT64_MIN, INT64_MAX), min_size=n, max_size=n))
    start = draw(st.integers(INT64_MIN, INT64_MAX))
    if mode == "scrape":
        deltas = [15_000 + draw(st.integers(-50, 50)) for _ in range(n)]
    else:
        deltas = [draw(st.sampled_from(DOD_EDGES)) for _ in range(n)]
    deltas[0] = 0
    # int64 arithmetic wraps, exactly what the codec must survive
    return (np.int64(start) + np.cumsum(np.array(deltas, dtype=np.int64))).tolist()


@st.composite
def samples(draw, max_size: int = 150) -> tuple[list[int], list[int]]:
    n = draw(st.integers(1, max_size))
    return draw(timestamp_series(n)), draw(value_series(n))


# --------------------------------------------------------------------------- round trip / oracle


@SETTINGS
@given(samples())
def test_round_trip_and_reference(s):
    """Fast encoder == reference byte for byte; both decoders give back the exact bits."""
    ts, vbits = s
    t, v = arrays(ts, vbits)
    encoded = encode_xor(t, v)
    assert encoded == ref.encode(ts, vbits)
    assert_same(*decode_xor(encoded), t, v)
    assert ref.decode(encoded) == (ts, vbits)  # the oracle is consistent, or this proves nothing


@SMALL
@given(st.lists(samples(max_size=40), min_size=1, max_size=12), st.randoms(use_true_random=False))
def test_many_equals_one_at_a_time(chunks, rnd):
    ts = [t for c in chunks for t in c[0]]
    vbits = [v for c in chunks for v in c[1]]
    counts = np.array([len(c[0]) for c in chunks])
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    order = list(range(len(chunks)))
    rnd.shuffle(order)  # chunks in any order over the sample arrays
    t, v = arrays(ts, vbits)
    data, offsets = encode_xor_many(t, v, starts[order], counts[order])
    singles = [encode_xor(*arrays(*chunks[i])) for i in order]
    assert offsets[0] == 0 and len(offsets) == len(chunks) + 1
    assert [data[offsets[i] : offsets[i + 1]].tobytes() for i in range(len(chunks))] == singles
    assert data.tobytes() == b"".join(singles)

    # Decode from a buffer where chunks sit apart, with junk between them.
    buf, offs = bytearray(), []
    for b in singles:
        buf += bytes(rnd.randrange(256) for _ in range(rnd.randrange(3)))
        offs.append(len(buf))
        buf += b
    got_t, got_v, bounds = decode_xor_many(
        np.frombuffer(bytes(buf), np.uint8), np.array(offs), np.array([len(b) for b in singles])
    )
    assert bounds.tolist() == [0, *np.cumsum(counts[order]).tolist()]
    for k, i in enumerate(order):
        assert_same(
            got_t[bounds[k] : bounds[k + 1]], got_v[bounds[k] : bounds[k + 1]], *arrays(*chunks[i])
        )


def test_one_sample_chunk_layout():
    # header 1 | varint zig-zag(1000)=2000 -> D0 0F | 1.0 | the empty byte Prometheus's
    # writer leaves after whole bytes written from a byte boundary (promtool 2.42 writes
    # 000180a0abfef9623ff000000000000000 for `a 1.0 1700000000.000`)
    want = "0001" + "d00f" + "3ff0000000000000" + "00"
    assert encode_xor(np.array([1000]), np.array([1.0])).hex() == want
    assert_same(*decode_xor(bytes.fromhex(want)), [1000], [1.0])
    assert_same(*decode_xor(bytes.fromhex(want[:-2])), [1000], [1.0])  # without it too
    promtool = bytes.fromhex("000180a0abfef9623ff000000000000000")
    assert encode_xor(np.array([1_700_000_000_000]), np.array([1.0])) == promtool


def test_largest_chunk_and_size_limits():
    n = 65535
    ts = np.arange(n, dtype=np.int64) * 15_000
    vs = np.full(n, 1.5)
    buf = encode_xor(ts, vs)
    assert chunk_num_samples(buf) == n
    assert_same(*decode_xor(buf), ts, vs)
    with pytest.raises(ValueError, match="1 to 65535"):
        encode_xor(np.zeros(n + 1, np.int64), np.zeros(n + 1))
    with pytest.raises(ValueError, match="1 to 65535"):
        encode_xor(np.zeros(0, np.int64), np.zeros(0))


# ------------------------------------------------------------------- bit tables from the spec

# Stream after a 3-sample chunk's byte-aligned prefix (ts 0, 0, dod; values all 0.0):
# v_1 '0' (same value), then ts_2's dod, then v_2 '0'.
DOD_TABLE = [
    (0, "0"),
    (1, "10" + "00000000000001"),
    (-1, "10" + "11111111111111"),
    (8192, "10" + "10000000000000"),  # +2^13 still fits 14 bits (asymmetric bitRange)
    (-8191, "10" + "10000000000001"),
    (-8192, "110" + "11110000000000000"),
    (8193, "110" + "00010000000000001"),
    (65536, "110" + "10000000000000000"),
    (-65535, "110" + "10000000000000001"),
    (65537, "1110" + "00010000000000000001"),
    (-65536, "1110" + "11110000000000000000"),
    (524288, "1110" + "10000000000000000000"),
    (-524287, "1110" + "10000000000000000001"),
    (524289, "1111" + "0" * 44 + "10000000000000000001"),
    (-524288, "1111" + "1" * 45 + "0000000000000000000"),
    (INT64_MAX, "1111" + "0" + "1" * 63),
    (INT64_MIN, "1111" + "1" + "0" * 63),
]


@pytest.mark.parametrize(("dod", "bits"), DOD_TABLE, ids=[str(d) for d, _ in DOD_TABLE])
def test_dod_bucket(dod, bits):
    ts = np.array([0, 0, dod], dtype=np.int64)
    vs = np.zeros(3)
    prefix = "0003" + "00" + "0000000000000000" + "00"  # header, varint 0, 0.0, uvarint 0
    expected = bytes.fromhex(prefix) + bits_to_bytes("0" + bits + "0")
    assert encode_xor(ts, vs) == expected
    assert_same(*decode_xor(expected), ts, vs)


# (value bits..., expected varbit_xor of each value after the first[, trailing bytes])
VALUE_TABLE = {
    "first-xor-opens-window": (
        [f2b(1.0), f2b(3.0)],
        ["11" + field(1, 5) + field(12, 6) + "1" * 12],
    ),
    "reuse-window": (
        [f2b(1.0), f2b(3.0), f2b(2.0)],
        ["11" + field(1, 5) + field(12, 6) + "1" * 12, "10" + field(1, 12)],
    ),
    "same-value": ([7, 7], ["0"]),
    "leading-clamped-to-31": (  # XOR 1<<23 has 40 leading zeros
        [0, 1 << 23],
        ["11" + field(31, 5) + field(10, 6) + field(1, 10)],
    ),
    "sigbits-64-written-as-0": (
        [0, 0x8000000000000001],
        ["11" + field(0, 5) + field(0, 6) + "1" + "0" * 62 + "1"],
    ),
    "fewer-trailing-zeros-opens-window": (
        [0, 1 << 10, (1 << 10) ^ (1 << 9)],
        [
            "11" + field(31, 5) + field(23, 6) + field(1, 23),
            "11" + field(31, 5) + field(24, 6) + field(1, 24),
        ],
    ),
    "narrower-xor-reuses-wider-window": (
        [0, 1 << 10, (1 << 10) ^ (1 << 11)],
        ["11" + field(31, 5) + field(23, 6) + field(1, 23), "10" + field(2, 23)],
    ),
    # v_2's 8 payload bits start at bit 120: whole bytes from a byte boundary, and
    # last, so Prometheus's writer leaves an empty byte behind them.
    "last-payload-whole-bytes-aligned": (
        [0, 0xFF << 25, (0xFF ^ 0x81) << 25],
        ["11" + field(31, 5) + field(8, 6) + field(0xFF, 8), "10" + field(0x81, 8)],
        b"\x00",
    ),
}


@pytest.mark.parametrize("case", list(VALUE_TABLE))
def test_value_encoding(case):
    vbits, xors, *tail = VALUE_TABLE[case]
    n = len(vbits)
    ts = np.zeros(n, dtype=np.int64)
    stream = field(n, 16) + "00000000" + field(vbits[0], 64) + "00000000"  # ts_0 = 0, delta 0
    stream += xors[0] + "".join("0" + x for x in xors[1:])  # dod 0 before each later value
    expected = bits_to_bytes(stream) + b"".join(tail)
    assert encode_xor(*arrays(ts, vbits)) == expected
    assert_same(*decode_xor(expected), *arrays(ts, vbits))


# --------------------------------------------------------------------------- golden fixtures


def _handmade_reuse_dod64() -> tuple[list[int], list[int], str]:
    """8 samples built field by field from the spec: window reuse (incl. a
    64-bit reuse), new windows, sigbits 64, 64-bit dods, both 14-bit limits."""
    t3 = 4000 + 2**40
    ts = [1000, 2000, 3000, t3, t3 + 1000, t3 + 2000, t3 + 2000 + 9192, t3 + 2000 + 9192 + 1001]
    vs = [f2b(1.0), f2b(3.0), f2b(2.0), f2b(2.0), f2b(-0.0), 0x1, STALE_NAN, STALE_NAN]
    fields = [
        field(8, 16),  # num_samples
        "11010000" + "00001111",  # ts_0 = 1000: varint of zig-zag 2000 -> D0 0F
        field(f2b(1.0), 64),  # v_0
        "11101000" + "00000111",  # ts_1 - ts_0 = 1000: uvarint -> E8 07
        "11" + field(1, 5) + field(12, 6) + "1" * 12,  # v_1 3.0: xor 7FF8.., new window (1, 51)
        "0",  # ts_2: dod 0
        "10" + field(1, 12),  # v_2 2.0: xor 0008.. fits (1, 51): reuse
        "1111" + field(2**40, 64),  # ts_3: dod +2^40
        "0",  # v_3: same
        "1111" + field(-(2**40), 64),  # ts_4: dod -2^40
        "11"
        + field(0, 5)
        + field(2, 6)
        + "11",  # v_4 -0.0: xor C000.., lead 0 < 1: new window (0, 62)
        "0",  # ts_5: dod 0
        "11" + field(0, 5) + field(0, 6) + field(0x8000000000000001, 64),  # v_5: sigbits 64 as 0
        "10" + field(8192, 14),  # ts_6: dod +8192, the largest 14-bit dod
        "10" + field(0x7FF0000000000003, 64),  # v_6 stale NaN: fits window (0, 0): 64-bit reuse
        "10" + field(-8191, 14),  # ts_7: dod -8191, the smallest 14-bit dod
        "0",  # v_7: same
    ]
    return ts, vs, "".join(fields)


def _handmade_reopened_appender() -> tuple[list[int], list[int], str]:
    """What Prometheus writes after reopening an appender on a 1-sample chunk:
    its window starts at (0, 0), not 0xff, so the first XOR is a '10' with 64
    payload bits. Our encoder never writes this; our decoder must read it."""
    ts = [0, 15000, 30000]
    vs = [f2b(1.0), f2b(2.0), f2b(3.0)]
    fields = [
        field(3, 16),
        "00000000",  # ts_0 = 0
        field(f2b(1.0), 64),
        "10011000" + "01110101",  # delta 15000: uvarint -> 98 75
        "10" + field(f2b(1.0) ^ f2b(2.0), 64),  # reuse of the (0, 0) window
        "0",  # dod 0
        "10" + field(f2b(2.0) ^ f2b(3.0), 64),
    ]
    return ts, vs, "".join(fields)


def _generated(name: str) -> tuple[list[int], list[int]]:
    rng = np.random.default_rng(20240501)
    n = 120
    if name == "counter_15s_jitter":
        ts = 1_700_000_000_000 + np.arange(n) * 15_000 + rng.integers(-3, 4, n)
        vs = np.cumsum(rng.poisson(40, n)).astype(np.float64)
    elif name == "gauge_2_decimals":
        ts = 1_700_000_000_000 + np.arange(n) * 15_000 + rng.integers(-3, 4, n)
        vs = np.round(50 + np.cumsum(rng.normal(0, 0.3, n)), 2)
    elif name == "special_values":
        ts = 1_700_000_000_000 + np.arange(len(SPECIAL_BITS) * 2) * 15_000
        vs = np.array(SPECIAL_BITS + SPECIAL_BITS[::-1], dtype=np.uint64).view(np.float64)
    elif name == "extreme_timestamps":
        ts = np.array(
            [INT64_MIN, INT64_MAX, 0, -1, INT64_MIN, 2**40, 2**40 - 7, INT64_MAX], dtype=np.int64
        )
        vs = np.arange(len(ts), dtype=np.float64)
    elif name == "single_sample":
        ts, vs = (
            np.array([-1_700_000_000_000]),
            np.array([STALE_NAN], dtype=np.uint64).view(np.float64),
        )
    else:
        raise KeyError(name)
    return np.asarray(ts, np.int64).tolist(), np.asarray(vs, np.float64).view(np.uint64).tolist()


GENERATED = [
    "counter_15s_jitter",
    "gauge_2_decimals",
    "special_values",
    "extreme_timestamps",
    "single_sample",
]
HANDMADE = {
    "handmade_reuse_dod64": _handmade_reuse_dod64,
    "handmade_reopened_appender": _handmade_reopened_appender,
}


def _expected_case(name: str) -> tuple[list[int], list[int], bytes, dict]:
    if name in HANDMADE:
        ts, vs, bits = HANDMADE[name]()
        decode_only = name == "handmade_reopened_appender"
        config = {
            "source": "built bit by bit in tests/tsdb/test_xor.py from the format spec",
            "decode_only": decode_only,
        }
        return ts, vs, bits_to_bytes(bits), config
    ts, vs = _generated(name)
    return (
        ts,
        vs,
        ref.encode(ts, vs),
        {"source": "reference encoder, fixed seed", "decode_only": False},
    )


# Chunks written by promtool 2.42 (`tsdb create-blocks-from openmetrics`), captured
# once with their input (input.om); they cannot be regenerated from this file.
CAPTURED = [
    "promtool_counter_15s",
    "promtool_empty_last_byte",
    "promtool_one_sample_nan",
    "promtool_special_values",
    "promtool_wild_values",
]


@pytest.mark.parametrize("name", GENERATED + list(HANDMADE) + CAPTURED)
def test_golden(name):
    case = GOLDEN / name
    if REGEN and name not in CAPTURED:
        ts, vs, encoded, config = _expected_case(name)
        case.mkdir(parents=True, exist_ok=True)
        t, v = arrays(ts, vs)
        np.save(case / "ts.npy", t)
        np.save(case / "vs.npy", v)
        (case / "encoded.bin").write_bytes(encoded)
        (case / "config.json").write_text(
            json.dumps({"encoding": ENCODING_XOR, **config}, indent=2) + "\n"
        )
    t = np.load(case / "ts.npy")
    v = np.load(case / "vs.npy")
    encoded = (case / "encoded.bin").read_bytes()
    config = json.loads((case / "config.json").read_text())
    assert config["encoding"] == ENCODING_XOR
    assert_same(*decode_xor(encoded), t, v)
    assert ref.decode(encoded) == (t.tolist(), v.view(np.uint64).tolist())
    if not config["decode_only"]:
        assert encode_xor(t, v) == encoded
        assert ref.encode(t.tolist(), v.view(np.uint64).tolist()) == encoded


def test_golden_handmade_matches_its_spec():
    """The hand-built fixtures on disk are still the bits written in this file."""
    for name, build in HANDMADE.items():
        _, _, bits = build()
        assert (GOLDEN / name / "encoded.bin").read_bytes() == bits_to_bytes(bits)


# --------------------------------------------------------------------------- errors

VALID = encode_xor(
    np.arange(120, dtype=np.int64) * 15_000 + (np.arange(120) % 3), np.sqrt(np.arange(120.0))
)

ERROR_TABLE = [
    ("empty", b"", "chunk 0: 0 bytes is too short for the 2-byte sample count"),
    ("one-byte", b"\x00", "chunk 0: 1 bytes is too short"),
    ("header-only", b"\x00\x01", "chunk 0: bit stream ends at byte 2 while reading sample 0 of 1"),
    (
        "value-cut",
        bytes.fromhex("0001d00f3ff00000000000"),
        "ends at byte 11 while reading sample 0 of 1",
    ),
    # Padding bits may decode as one more sample ('0' dod, '0' value): like Prometheus.
    ("more-samples-than-bits", b"\x00\xc8" + VALID[2:], r"while reading sample 12\d of 200"),
    ("header-says-65535", b"\xff\xff" + VALID[2:], r"while reading sample 12\d of 65535"),
    ("varint-11-bytes", b"\x00\x01" + b"\xff" * 10 + b"\x00" * 8, "varint overflows 64 bits"),
    (
        "varint-10th-byte-2",
        b"\x00\x01" + b"\x80" * 9 + b"\x02" + b"\x00" * 8,
        "varint overflows 64 bits",
    ),
    (
        "uvarint-overflow",
        bytes.fromhex("000200") + bytes(8) + b"\xff" * 10 + b"\x00",
        "sample 1 of 2",
    ),
    (
        "window-over-64-bits",
        bits_to_bytes(
            field(2, 16)
            + "0" * 8
            + "0" * 64
            + "0" * 8
            + "11"
            + field(31, 5)
            + field(40, 6)
            + "1" * 40
        ),
        "XOR window of 31 leading zeros and 40 significant bits exceeds 64 bits",
    ),
    (
        "cut-in-dod-64",
        bits_to_bytes(field(3, 16) + "0" * 80 + "0" + "1111" + "0" * 30),
        "sample 2 of 3",
    ),
]


@pytest.mark.parametrize(
    ("buf", "message"), [(b, m) for _, b, m in ERROR_TABLE], ids=[i for i, _, _ in ERROR_TABLE]
)
def test_corrupt_chunk_raises(buf, message):
    with pytest.raises(CorruptChunkError, match=message):
        decode_xor(buf)
    with pytest.raises(CorruptChunkError):
        ref.decode(buf)


def test_every_truncation_raises():
    for cut in range(len(VALID)):
        with pytest.raises(CorruptChunkError):
            decode_xor(VALID[:cut])


def test_error_names_chunk_and_offset_and_never_borrows_neighbour_bits():
    chunks = [
        encode_xor(np.array([i, i + 15_000, i + 30_000]), np.array([1.0, 2.5, 2.5]))
        for i in range(5)
    ]
    data = np.frombuffer(b"".join(chunks), np.uint8)
    lengths = np.array([len(c) for c in chunks])
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    lengths[3] -= 1  # chunk 3 loses its last byte; chunk 4's bytes follow it
    msg = rf"chunk 3: bit stream ends at byte {lengths[3]} while reading sample \d of 3"
    with pytest.raises(CorruptChunkError, match=msg) as e:
        decode_xor_many(data, offsets, lengths)
    assert e.value.offset == offsets[3] + lengths[3]


def test_bad_offsets_and_lengths():
    data = np.frombuffer(VALID, np.uint8)
    with pytest.raises(CorruptChunkError, match="chunk 1: offset 10 \\+ length"):
        decode_xor_many(data, np.array([0, 10]), np.array([len(VALID), len(VALID)]))
    with pytest.raises(CorruptChunkError, match="chunk 0: offset -1"):
        decode_xor_many(data, np.array([-1]), np.array([3]))
    with pytest.raises(CorruptChunkError, match="chunk 1: 1 bytes is too short"):
        decode_xor_many(data, np.array([0, 0]), np.array([len(VALID), 1]))
    with pytest.raises(ValueError, match="differ in length"):
        decode_xor_many(data, np.array([0]), np.array([1, 2]))


@settings(SETTINGS, max_examples=100)
@given(
    samples(max_size=30),
    st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=4),
    st.integers(0, 8),
    st.binary(max_size=3),
)
def test_mutated_chunks_fail_exactly_like_the_oracle(s, flips, cut, tail):
    """Random damage: the fast decoder raises iff the reference does, else agrees with it."""
    buf = bytearray(encode_xor(*arrays(*s)))
    for pos, byte in flips:
        buf[pos % len(buf)] ^= byte
    buf = bytes(buf[: max(0, len(buf) - cut)]) + tail
    try:
        expected = ref.decode(buf)
    except CorruptChunkError:
        with pytest.raises(CorruptChunkError):
            decode_xor(buf)
        return
    assert_same(*decode_xor(buf), *arrays(*expected))


def test_lenient_like_prometheus():
    """Non-zero padding bits, trailing bytes, non-minimal varints and empty chunks decode."""
    t, v = np.array([5, 20, 36]), np.array([1.0, 2.0, 2.0])
    buf = bytearray(encode_xor(t, v))
    buf[-1] |= 0x01  # the last bit of this chunk is padding
    assert_same(*decode_xor(bytes(buf) + b"\xde\xad"), t, v)
    # ts_0 = 0 as a 2-byte varint 80 00
    assert_same(*decode_xor(bytes.fromhex("000180003ff0000000000000")), [0], [1.0])
    got_t, got_v = decode_xor(b"\x00\x00")  # Prometheus's freshly created chunk
    assert got_t.shape == (0,) and got_v.shape == (0,)


# --------------------------------------------------------------------------- API surface


def test_input_kinds():
    t = np.arange(0, 400, 2, dtype=np.int64)[::2]  # non-contiguous
    v = np.linspace(0, 1, 100)
    v.flags.writeable = False
    buf = encode_xor(t, v)
    for form in (
        buf,
        bytearray(buf),
        memoryview(buf),
        np.frombuffer(buf, np.uint8),
        np.frombuffer(buf, np.uint8).copy(),
    ):
        assert_same(*decode_xor(form), t, v)
    assert chunk_num_samples(memoryview(buf)) == 100
    assert encode_xor(t.astype(np.int32), v) == buf


def test_invalid_encode_arguments():
    with pytest.raises(ValueError, match="differ in length"):
        encode_xor(np.arange(3), np.zeros(2))
    with pytest.raises(ValueError, match="integer dtype"):
        encode_xor(np.array([1.5]), np.zeros(1))
    with pytest.raises(ValueError, match="1-dimensional"):
        encode_xor(np.zeros((2, 2), np.int64), np.zeros((2, 2)))
    ts, vs = np.arange(10), np.zeros(10)
    with pytest.raises(ValueError, match="chunk 1: 0 samples"):
        encode_xor_many(ts, vs, np.array([0, 5]), np.array([5, 0]))
    with pytest.raises(ValueError, match="chunk 0: samples 8..13 are outside"):
        encode_xor_many(ts, vs, np.array([8]), np.array([5]))
    data, offsets = encode_xor_many(ts, vs, np.zeros(0, np.int64), np.zeros(0, np.int64))
    assert data.shape == (0,) and offsets.tolist() == [0]
    got_t, got_v, bounds = decode_xor_many(data, offsets[:-1], np.diff(offsets))
    assert got_t.shape == (0,) and bounds.tolist() == [0]


def test_chunk_num_samples_errors():
    with pytest.raises(CorruptChunkError, match="too short"):
        chunk_num_samples(b"\x01")


def test_docstring_examples_and_warmup():
    xor.warmup()
    assert doctest.testmod(xor).failed == 0
