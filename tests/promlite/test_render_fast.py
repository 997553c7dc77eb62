"""The compiled renderer of query results against a per-point reference built from ``format_value``.

``format_value`` itself is checked against a table of Go's outputs, derived by
hand from ``jsonutil.MarshalFloat``'s rule ('e' when ``v != 0`` and
``|v| < 1e-6`` or ``|v| >= 1e21``, else 'f'; shortest round-trip digits).
"""

from __future__ import annotations

import json
import math
import re
import struct

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promlite.server import render_kernels as rk
from promlite.server.envelope import format_timestamp, format_value
from promlite.server.render import metric_json, render_result
from query.values import InstantVector, Matrix, RangeVector

STALE_NAN = struct.unpack("<d", struct.pack("<Q", 0x7FF0000000000002))[0]

# (value, what Prometheus writes), each derived from the rule in the module docstring
GO = [
    (0.0, "0"), (-0.0, "-0"), (1.0, "1"), (-2.5, "-2.5"), (0.1, "0.1"), (1 / 3, "0.3333333333333333"),
    (123.45, "123.45"), (123456789.125, "123456789.125"), (2.0**53, "9007199254740992"),
    (1e-6, "0.000001"), (1e-5, "0.00001"), (1.5e-5, "0.000015"), (9.99e-6, "0.00000999"),
    (1e-7, "1e-07"), (1.5e-7, "1.5e-07"), (-2.5e-300, "-2.5e-300"), (5e-324, "5e-324"),
    (9.999999999999997e-07, "9.999999999999997e-07"), (2.2250738585072014e-308, "2.2250738585072014e-308"),
    (1e16, "10000000000000000"), (1e20, "100000000000000000000"),
    (1.2345678901234568e20, "123456789012345680000"), (9.999999999999999e20, "999999999999999900000"),
    (2.0**63, "9223372036854776000"),  # 9223372036854775808: shortest digits 9223372036854776, padded
    (1e21, "1e+21"), (1.5e21, "1.5e+21"), (-1e100, "-1e+100"), (1.7976931348623157e308, "1.7976931348623157e+308"),
    (1974014629615873.75, "1974014629615873.8"),  # a tie between two shortest candidates goes to the even digit
    (float("nan"), "NaN"), (STALE_NAN, "NaN"), (float("inf"), "+Inf"), (float("-inf"), "-Inf"),
]


@pytest.mark.parametrize("v,want", GO, ids=[w[:24] for _, w in GO])
def test_format_value_is_go(v, want):
    assert format_value(v) == want
    assert format_value(np.float64(v)) == want  # numpy scalars too


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_format_value_layout(v):
    s = format_value(v)
    assert float(s) == v and math.copysign(1, float(s)) == math.copysign(1, v)
    a = abs(v)
    if a != 0 and (a < 1e-6 or a >= 1e21):
        assert re.fullmatch(r"-?\d(\.\d*[1-9])?e[+-]\d{2,3}", s), s
    else:
        assert re.fullmatch(r"-?\d+(\.\d*[1-9])?", s), s


# -- the reference: one Python call per point ------------------------------------------------


def _ref_points(ts, vs) -> str:
    return ",".join(f'[{format_timestamp(int(t))},"{format_value(float(v))}"]' for t, v in zip(ts, vs, strict=True))


def ref_matrix(m: Matrix) -> bytes:
    items = []
    for i, lab in enumerate(m.labels):
        keep = np.asarray(m.present[i], dtype=bool)
        if keep.any():
            pts = _ref_points(np.asarray(m.times)[keep], np.asarray(m.values[i])[keep])
            items.append('{"metric":' + metric_json(lab).decode() + ',"values":[' + pts + "]}")
    return ('{"resultType":"matrix","result":[' + ",".join(items) + "]}").encode()


def ref_vector(iv: InstantVector) -> bytes:
    items = ['{"metric":' + metric_json(lab).decode() + ',"value":' + _ref_points([t], [v]) + "}"
             for lab, t, v in zip(iv.labels, iv.timestamps, iv.values, strict=True)]
    return ('{"resultType":"vector","result":[' + ",".join(items) + "]}").encode()


def ref_range(rv: RangeVector) -> bytes:
    items = ['{"metric":' + metric_json(lab).decode() + ',"values":[' + _ref_points(t, v) + "]}"
             for lab, t, v in zip(rv.labels, rv.timestamps, rv.values, strict=True) if len(t)]
    return ('{"resultType":"matrix","result":[' + ",".join(items) + "]}").encode()


def _check(got: bytes, want: bytes) -> None:
    assert json.loads(got) == json.loads(want)  # same structure (NaN-free: values are strings) ...
    assert got == want  # ... and the same bytes


# -- strategies -------------------------------------------------------------------------------

EDGES = [0.0, -0.0, STALE_NAN, float("nan"), float("inf"), float("-inf"), 5e-324, -5e-324,
         2.2250738585072014e-308, 1e-7, 1e-6, 9.999999999999997e-07, 1e-5, 9.99e-6, 2.0**-16,
         np.nextafter(2.0**-16, 0), 1e16, 1e16 + 2, 2.0**50 + 0.5, 2.0**52 - 0.5, 2.0**53, 2.0**53 + 2,
         2.0**63, 9.999999999999999e20, 1e21, 1.2345678901234568e20, 1974014629615873.75, 0.1, 1 / 3,
         123.45, 12345.67, 1e300, -1e-300, 1.5e-6, -9.87654321e-6, 2.5e-7, -1.2345e17, 1e16 * 3, 4.56e20,
         -7e-100, 1.25e105, 1.0000000000000002e-7]
decimals = st.builds(lambda m, k: m / 10.0**k, st.integers(-(10**17), 10**17), st.integers(0, 22))
from_bits = st.integers(0, 2**64 - 1).map(lambda b: struct.unpack("<d", struct.pack("<Q", b))[0])
values = st.one_of(st.floats(), st.sampled_from(EDGES), from_bits, decimals,
                   st.integers(-(2**63), 2**63).map(float),
                   st.builds(math.ldexp, st.integers(2**52, 2**53 - 1), st.integers(-80, 0)))
timestamps = st.one_of(st.integers(-(10**13), 10**13), st.integers(-(2**63), 2**63 - 1),
                       st.sampled_from([0, -1, 1, 999, 1000, -1000, 1500, -1500, 1435781451781]))
label_values = st.text(alphabet=st.sampled_from("ab<>&\"\\\n\u2028\u2029é😀 "), max_size=5)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_matrix_matches_reference(data):
    n = data.draw(st.integers(0, 5))
    t = data.draw(st.integers(0, 7))
    vs = np.array(data.draw(st.lists(values, min_size=n * t, max_size=n * t)), dtype=np.float64).reshape(n, t)
    mask = np.array(data.draw(st.lists(st.booleans(), min_size=n * t, max_size=n * t)), dtype=bool).reshape(n, t)
    times = np.array(data.draw(st.lists(timestamps, min_size=t, max_size=t)), dtype=np.int64)
    labels = [(("__name__", "m"), ("i", str(i)), ("x", data.draw(label_values))) for i in range(n)]
    m = Matrix(labels, times, vs, mask)
    _check(render_result(m), ref_matrix(m))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(values, timestamps), max_size=8))
def test_instant_vector_matches_reference(points):
    iv = InstantVector([(("k", str(i)),) for i in range(len(points))],
                       np.array([v for v, _ in points], dtype=np.float64), np.array([t for _, t in points], dtype=np.int64))
    _check(render_result(iv), ref_vector(iv))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.tuples(values, timestamps), max_size=5), max_size=4))
def test_range_vector_matches_reference(series):
    rv = RangeVector([(("k", str(i)),) for i in range(len(series))],
                     [np.array([t for _, t in s], dtype=np.int64) for s in series],
                     [np.array([v for v, _ in s], dtype=np.float64) for s in series])
    _check(render_result(rv), ref_range(rv))


def test_every_value_path_in_bulk():
    """Many values at once, through all four paths (integer, short decimal, exact 17-digit, orjson)."""
    rng = np.random.default_rng(7)
    n = 20000
    vs = np.concatenate([
        rng.integers(0, 2**64 - 1, n, dtype=np.uint64, endpoint=True).view(np.float64),
        rng.random(n) * 10.0 ** rng.integers(-8, 23, n),
        np.round(rng.random(n) * 1e6, 2), np.cumsum(rng.random(n)) / 60,
        rng.integers(0, 2**53, n).astype(np.float64) * 2.0 ** rng.integers(-70, 12, n),
        np.nextafter(np.ldexp(1.0, rng.integers(-30, 60, n)), rng.choice([-np.inf, np.inf], n)),
    ])
    codes, _, _ = rk.classify(vs, vs.view(np.uint64), np.ones(1, dtype=bool), False)
    assert {0, 1, 2, 15, int(rk.SLOW), int(rk.SPECIAL)} <= set(codes.tolist())  # every path is exercised
    iv = InstantVector([(("a", "b"),)] * len(vs), vs, np.arange(len(vs), dtype=np.int64) * 7 - 10**6)
    _check(render_result(iv), ref_vector(iv))


def test_absent_rows_and_empty_results():
    lab = (("__name__", "up"),)
    m = Matrix([lab, lab], np.array([0, 1000]), np.array([[1.0, 2.0], [3.0, 4.0]]),
               np.array([[False, False], [False, True]]))
    assert render_result(m) == b'{"resultType":"matrix","result":[{"metric":{"__name__":"up"},"values":[[1,"4"]]}]}'
    assert render_result(InstantVector([], np.zeros(0), np.zeros(0, dtype=np.int64))) == \
        b'{"resultType":"vector","result":[]}'
    assert render_result(RangeVector([], [], [])) == b'{"resultType":"matrix","result":[]}'
    assert render_result(Matrix([], np.zeros(0, dtype=np.int64), np.zeros((0, 0)), np.zeros((0, 0), dtype=bool))) \
        == b'{"resultType":"matrix","result":[]}'


def test_scalar_and_string_are_bytes_too():
    from query.values import Scalar, String

    assert render_result(Scalar(-1500, 1e-7)) == b'{"resultType":"scalar","result":[-1.500,"1e-07"]}'
    assert render_result(String(4000, "é")) == '{"resultType":"string","result":[4,"é"]}'.encode()


@pytest.mark.parametrize("labels,want", [
    ((("a", "x<y>&z"),), b'{"a":"x\\u003cy\\u003e\\u0026z"}'),
    ((("a", "\u2028\u2029"),), b'{"a":"\\u2028\\u2029"}'),
    ((("a", 'q"\\\n\t\x01'),), b'{"a":"q\\"\\\\\\n\\t\\u0001"}'),
    ((("__name__", "up"), ("é", "😀")), '{"__name__":"up","é":"😀"}'.encode()),
    ((), b"{}"),
])
def test_metric_json_is_go_encoding_json(labels, want):
    assert metric_json(labels) == want


def test_buffer_guard():
    """The kernel refuses to write past a buffer sized too small (the compiled code has no bounds checks)."""
    vs = np.ones(4)
    codes, mant, _ = rk.classify(vs, vs.view(np.uint64), np.ones(1, dtype=bool), False)
    ts_text, ts_off = rk.timestamp_table(np.zeros(4, dtype=np.int64))
    heads = np.frombuffer(b"{", dtype=np.uint8)
    with pytest.raises(RuntimeError, match="BUG: render buffer too small"):
        rk.render_points(np.empty(20, dtype=np.uint8), 0, heads, np.array([0, 1]), heads, np.array([0, 4]),
                         ts_text, ts_off, False, vs, codes, mant, np.frombuffer(b"[]", dtype=np.uint8))


def test_kernel_inputs_read_only_empty_and_checked():
    """Read-only inputs (``np.frombuffer``) and empty arrays are accepted; inconsistent shapes are refused."""
    vs = np.frombuffer(np.array([1.5, -0.0, 1e-9]).tobytes())
    assert not vs.flags.writeable
    codes, mant, n_slow = rk.classify(vs, vs.view(np.uint64), np.ones(1, dtype=bool), False)
    assert codes.tolist() == [1, 0, int(rk.SLOW)] and mant[:2].tolist() == [15, 0] and n_slow == 1
    codes, _, n_slow = rk.classify(vs, vs.view(np.uint64), np.array([True, False, False]), True)
    assert codes.tolist() == [1, int(rk.ABSENT), int(rk.ABSENT)] and n_slow == 0
    empty = np.zeros(0)
    assert [len(a) for a in rk.classify(empty, empty.view(np.uint64), np.ones(1, dtype=bool), False)[:2]] == [0, 0]
    text, off = rk.timestamp_table(np.zeros(0, dtype=np.int64))
    assert off.tolist() == [0]
    with pytest.raises(ValueError):
        rk.classify(vs, vs[:2].view(np.uint64), np.ones(1, dtype=bool), False)
    with pytest.raises(ValueError):
        rk.classify(vs, vs.view(np.uint64), np.ones(2, dtype=bool), True)


def test_tables_are_exact():
    """The C tables hold what their definitions in the module docstring say, from exact rational math."""
    from fractions import Fraction

    from promlite.server import _render_kernels

    t = _render_kernels.tables()
    assert t["POW10"] == [float(10**k) for k in range(23)]
    for e, kmax in zip(range(-19, 51), t["KMAX"], strict=True):  # largest k <= 22: 10**k * 2**e <= 2**50
        ok = [k for k in range(23) if Fraction(10) ** k * Fraction(2) ** e <= 2**50]
        assert kmax == (max(ok) if ok else -1), e
    for e, k in zip(range(-15, 53), t["K_OF_E"], strict=True):  # 16 - q, q largest with 10**q <= 2**(e-1)
        q = max(q for q in range(-10, 20) if Fraction(10) ** q <= Fraction(2) ** (e - 1))
        assert k == 16 - q, e


# -- what the slow path takes from orjson --------------------------------------------------


def _digits(number: str) -> str:
    """The significant digits of a number's text."""
    return number.split("e")[0].replace("-", "").replace(".", "").strip("0")


@given(st.lists(st.floats(allow_nan=False, allow_infinity=False) | from_bits.filter(math.isfinite), min_size=1,
                max_size=20))
def test_orjson_digits_are_shortest_and_positional_in_its_range(vs):
    """orjson (Ryu) gives repr's shortest digits; in [1e-5, 1e16) it is positional, '.0' for integers.

    The kernel takes only digits and exponent from orjson's text, and copies it
    verbatim only in [1e-5, 1e16) when no exponent shows up, so this test
    documents the assumptions rather than guarding the output (the reference
    tests above do that).
    """
    texts = orjson.dumps(np.array(vs), option=orjson.OPT_SERIALIZE_NUMPY).decode()[1:-1].split(",")
    for v, s in zip(vs, texts, strict=True):
        assert float(s) == v
        assert _digits(s) == _digits(repr(v))
        if 1e-5 <= abs(v) < 1e16:
            assert re.fullmatch(r"-?\d+\.\d+", s), s
