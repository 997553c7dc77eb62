"""Number formatting and parameter parsing of the API, against Prometheus's own outputs."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from promlite.server.envelope import APIError, format_timestamp, format_value
from promlite.server.params import (
    MAX_TIME_MS,
    MIN_TIME_MS,
    parse_limit,
    parse_match_sets,
    parse_time_value,
    range_params,
    unescape_label_name,
)
from promlite.server.render import render_result
from query.values import InstantVector, Matrix, RangeVector, Scalar, String

# (value, Prometheus's MarshalValue: FormatFloat(v, 'e' below 1e-6 and from 1e21 on, else 'f', -1, 64),
#  NaN/Inf spelled as Prometheus does)
VALUES = [
    (0.0, "0"), (-0.0, "-0"), (1.0, "1"), (-2.5, "-2.5"), (0.1, "0.1"), (1 / 3, "0.3333333333333333"),
    (1e21, "1e+21"), (1.5e-7, "1.5e-07"), (1e-6, "0.000001"), (9.99e20, "999000000000000000000"), (123456789.125, "123456789.125"),
    (2.0**53, "9007199254740992"), (5e-324, "5e-324"), (1e16, "10000000000000000"),
    (float("nan"), "NaN"), (float("inf"), "+Inf"), (float("-inf"), "-Inf"),
    (struct.unpack("<d", struct.pack("<Q", 0x7FF0000000000002))[0], "NaN"),
]


@pytest.mark.parametrize("v,want", VALUES, ids=[w[:20] for _, w in VALUES])
def test_format_value(v, want):
    assert format_value(v) == want


@pytest.mark.parametrize("ms,want", [
    (0, "0"), (4000, "4"), (1435781451781, "1435781451.781"), (1500, "1.500"), (1005, "1.005"),
    (-1500, "-1.500"), (-1, "-0.001"), (1700000000010, "1700000000.010"),
])
def test_format_timestamp(ms, want):
    assert format_timestamp(ms) == want


@pytest.mark.parametrize("text,ms", [
    ("4", 4000), ("1435781451.781", 1435781451781), ("1700000000.0005", 1700000000000), ("0.0005", 1), ("-0.0005", -1), ("2.0025", 2002),
    ("-1.5", -1500), ("1e3", 1_000_000), ("2015-07-01T20:10:51.781Z", 1435781451781),
    ("2015-07-01T20:10:51Z", 1435781451000), ("2015-07-01T22:10:51.781123456+02:00", 1435781451781),
    ("1970-01-01T00:00:04Z", 4000),
    ("-292273086-05-16T16:47:06Z", MIN_TIME_MS), ("292277025-08-18T07:12:54.999999999Z", MAX_TIME_MS),
])
def test_parse_time(text, ms):
    assert parse_time_value(text) == ms


@pytest.mark.parametrize("text", ["", "abc", "NaN", "Inf", "1_000", "2015-07-01", "2015-13-01T00:00:00Z",
                                  "2015-07-01T20:10:51"])
def test_parse_time_rejects(text):
    with pytest.raises(ValueError, match="cannot parse .* to a valid timestamp"):
        parse_time_value(text)


def _bad(fn, *args, match: str):
    with pytest.raises(APIError) as ei:
        fn(*args)
    assert ei.value.type == "bad_data" and ei.value.status == 400
    assert match in ei.value.message, ei.value.message


def test_range_params():
    assert range_params({"start": "0", "end": "60", "step": "15"}) == (0, 60_000, 15_000)
    assert range_params({"start": "0", "end": "60", "step": "15s"}) == (0, 60_000, 15_000)
    assert range_params({"start": "1.5", "end": "3", "step": "0.5"}) == (1500, 3000, 500)
    assert range_params({"start": "0", "end": "11000", "step": "1"})[2] == 1000  # exactly 11,000: allowed
    _bad(range_params, {"start": "0", "end": "11001", "step": "1"}, match="exceeded maximum resolution of 11,000")
    _bad(range_params, {"start": "10", "end": "0", "step": "1"}, match="end timestamp must not be before start")
    _bad(range_params, {"start": "0", "end": "10", "step": "0"}, match="zero or negative query resolution")
    _bad(range_params, {"start": "0", "end": "10", "step": "-5"}, match="zero or negative query resolution")
    _bad(range_params, {"start": "0", "end": "10", "step": "x"}, match='invalid parameter "step"')
    _bad(range_params, {"start": "x", "end": "10", "step": "1"}, match='invalid parameter "start"')
    _bad(range_params, {"end": "10", "step": "1"}, match='invalid parameter "start"')
    _bad(range_params, {"start": "0", "end": "10"}, match='invalid parameter "step"')


def test_match_sets_and_limit():
    sets = parse_match_sets(['up{job="a"}', '{__name__=~"x.*"}'])
    assert [len(s) for s in sets] == [2, 1]
    _bad(parse_match_sets, ['{job=~".*"}'], match="at least one non-empty matcher")
    _bad(parse_match_sets, ["rate(x[5m])"], match='invalid parameter "match[]"')
    _bad(parse_match_sets, ["up{"], match='invalid parameter "match[]"')
    _bad(parse_match_sets, ["up"] * 1001, match="too many match[]")
    with pytest.raises(APIError, match="no match"):
        parse_match_sets([], required=True)
    assert parse_limit({}) == 0 and parse_limit({"limit": "5"}) == 5
    _bad(parse_limit, {"limit": "-1"}, match="non-negative")
    _bad(parse_limit, {"limit": "x"}, match="limit")


def test_render_shapes():
    lab = (("__name__", "up"), ("job", "a"))
    assert json.loads(render_result(Scalar(4000, 2.0))) == {"resultType": "scalar", "result": [4, "2"]}
    assert json.loads(render_result(String(1500, 'a"b'))) == {"resultType": "string", "result": [1.5, 'a"b']}
    iv = InstantVector([lab], np.array([float("nan")]), np.array([1000], dtype=np.int64))
    assert json.loads(render_result(iv)) == {
        "resultType": "vector", "result": [{"metric": {"__name__": "up", "job": "a"}, "value": [1, "NaN"]}]}
    empty = render_result(InstantVector([], np.zeros(0), np.zeros(0, dtype=np.int64)))
    assert empty == b'{"resultType":"vector","result":[]}'  # resultType first, [] never null
    m = Matrix([lab, (("job", "b"),), (("job", "c"),)], np.array([0, 15000, 30000]),
               np.array([[1.0, 2.0, 3.0], [np.inf, 0, 0], [0, 0, 0]]),
               np.array([[True, True, True], [True, False, True], [False, False, False]]))
    got = json.loads(render_result(m))
    assert got == {"resultType": "matrix", "result": [
        {"metric": {"__name__": "up", "job": "a"}, "values": [[0, "1"], [15, "2"], [30, "3"]]},
        {"metric": {"job": "b"}, "values": [[0, "+Inf"], [30, "0"]]},
    ]}
    rv = RangeVector([lab], [np.array([1000, 2500])], [np.array([1.0, -0.0])])
    assert json.loads(render_result(rv))["result"] == [{"metric": dict(lab), "values": [[1, "1"], [2.5, "-0"]]}]


@pytest.mark.parametrize("raw,name", [
    ("job", "job"), ("U__my_2e_label", "my.label"), ("U__a__b", "a_b"), ("U___1f600_", "\U0001f600"),
    ("U__bad_zz_", "U__bad_zz_"), ("U__open_2e", "U__open_2e"),
])
def test_unescape_label_name(raw, name):
    assert unescape_label_name(raw) == name


def test_interval_label_is_go_duration_string():
    from promlite.server.selfmetrics import _duration_label

    assert [_duration_label(x) for x in (15000, 60000, 90000, 3600000, 500, 1500)] == [
        "15s", "1m0s", "1m30s", "1h0m0s", "500ms", "1.5s"]
