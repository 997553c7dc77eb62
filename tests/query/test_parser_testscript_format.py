"""The ``.test`` script format: series descriptions, value expansion and eval blocks."""

from __future__ import annotations

import math

import pytest

from query.promqltest_format import (
    ClearCmd,
    EvalCmd,
    LoadCmd,
    TestScriptError,
    parse_go_number,
    parse_test_script,
)
from query.series_desc import (
    STALE_NAN,
    HistogramValue,
    SeriesDescError,
    float_close,
    is_stale,
    parse_series,
    parse_st_sequence,
    parse_values,
)

VALUES = [
    ("1 2 3", [1.0, 2.0, 3.0]),
    ("0+10x3", [0.0, 10.0, 20.0, 30.0]),
    ("10-2x2", [10.0, 8.0, 6.0]),
    ("-3-10x2", [-3.0, -13.0, -23.0]),
    ("1x3", [1.0, 1.0, 1.0, 1.0]),
    ("1x0", [1.0]),
    ("1+1x0", [1.0]),
    ("_ 2 _x2 3", [None, 2.0, None, None, 3.0]),
    ("1 -1 +1", [1.0, -1.0, 1.0]),
    (".8 1e3 1.78264E+50", [0.8, 1000.0, 1.78264e50]),
    ("Inf -Inf +inf", [math.inf, -math.inf, math.inf]),
    ("0x3", [0.0, 0.0, 0.0, 0.0]),  # hex is off in series descriptions: 0 repeated
    ("5m 1h", [300.0, 3600.0]),
    ("0.1+0.1x2", [0.1, 0.2, 0.30000000000000004]),  # repeated addition, like Prometheus
    ("1 2 3    ", [1.0, 2.0, 3.0]),
]


@pytest.mark.parametrize("text,want", VALUES, ids=[v[0] for v in VALUES])
def test_value_expansion(text: str, want: list) -> None:
    assert parse_values(text) == want


def test_special_values() -> None:
    vals = parse_values("NaN stale 1")
    assert math.isnan(vals[0]) and not is_stale(vals[0])
    assert is_stale(vals[1]) and is_stale(STALE_NAN)
    assert float_close(STALE_NAN, vals[1]) and not float_close(math.nan, vals[1])


@pytest.mark.parametrize("bad", ["1+1", "-3-3", "_-2", "3+3x4-4", "_a4", "foo", "1x", "1+1x"])
def test_bad_values(bad: str) -> None:
    with pytest.raises(SeriesDescError):
        parse_values(bad)


def test_histogram_values_are_opaque_markers() -> None:
    vals = parse_values("{{schema:1 sum:5 buckets:[1 2 3] counter_reset_hint:gauge}} {{}}x2 {{sum:1}}+{{sum:2}}x1 7")
    assert len(vals) == 1 + 3 + 2 + 1
    h = vals[0]
    assert isinstance(h, HistogramValue)
    assert h.fields == {"schema": 1.0, "sum": 5.0, "buckets": (1.0, 2.0, 3.0), "counter_reset_hint": "gauge"}
    assert [v.index for v in vals[4:6]] == [0, 1] and vals[5].step == {"sum": 2.0} and vals[5].sign == 1
    assert vals[-1] == 7.0
    with pytest.raises(SeriesDescError):
        parse_values("{{bogus:1}}")


METRICS = [
    ("up 1", (("__name__", "up"),)),
    ('http_requests{job="api", instance="0"} 1', (("__name__", "http_requests"), ("instance", "0"), ("job", "api"))),
    ('{__name__="m", a="b"} 1', (("__name__", "m"), ("a", "b"))),
    ('{"utf8.name", "a.b"="c"} 1', (("__name__", "utf8.name"), ("a.b", "c"))),
    ("{} 1", ()),
    ('m{} 1', (("__name__", "m"),)),
    ('sum{a="}"} 1', (("__name__", "sum"), ("a", "}"))),
    ('m{a="\\u70ac = torch"} 1', (("__name__", "m"), ("a", "炬 = torch"))),
]


@pytest.mark.parametrize("line,labels", METRICS, ids=[m[0] for m in METRICS])
def test_series_metric(line: str, labels) -> None:
    assert parse_series(line) == (labels, [1.0])


@pytest.mark.parametrize("bad", ['{"http.requests"xx} 1', '{"a"=, x="y"} 1', '{"a} 1', "m{a=b} 1", "m{a=\"b\"}1"])
def test_bad_series_metric(bad: str) -> None:
    with pytest.raises(SeriesDescError):
        parse_series(bad)


def test_start_timestamp_sequences() -> None:
    assert parse_st_sequence("_ _ -30s-1mx2 -1mx1") == [None, None, -30_000, -90_000, -150_000, -60_000, -60_000]
    assert parse_st_sequence("_x3 5s * *x1") == [None, None, None, 5_000, 5_000, 5_000, 5_000]
    assert parse_st_sequence("-59999msx1 +1s") == [-59_999, -59_999, 1_000]
    for bad in ["_x0", "5q", "1m+1m", "1m?"]:
        with pytest.raises(SeriesDescError):
            parse_st_sequence(bad)


SCRIPT = """
# A comment ends nothing on its own line at the top.
load 5m
    http_requests{job="api", instance="0"}  0+10x2
    other                                   1 _ stale
  cumulative@st                             _ -1m -30s
  cumulative                                1 2 3

eval instant at 10m sum(http_requests)
  {} 20

eval range from 0 to 10m step 5m http_requests
    expect warn msg: PromQL warning: something (1:1)
    expect no_info
    http_requests{job="api", instance="0"} 0 10 _

eval instant at 1m 1 + 1
  2
eval instant at 1m "foo"
  expect string "foo"

eval instant at 1m some_metric[1m]
  expect range vector from 0 to 1m step 30s
  some_metric 1 2 3

eval instant at 50m topk(1, x)
  expect ordered
  expect fail regex: foo.*
  x{a="1"} 3
# empty

eval_fail instant at 0 label_replace(x, "a", "b", "c", "d")
  expected_fail_message invalid thing
clear
eval_ordered instant at 5m x

load_with_nhcb 1m
  h_bucket{le="1"} 1 2
"""


def test_script_commands() -> None:
    script = parse_test_script(SCRIPT, "inline.test")
    kinds = [type(c).__name__ for c in script.commands]
    assert kinds == ["LoadCmd", "EvalCmd", "EvalCmd", "EvalCmd", "EvalCmd", "EvalCmd", "EvalCmd", "EvalCmd",
                     "ClearCmd", "EvalCmd", "LoadCmd"]
    load = script.commands[0]
    assert isinstance(load, LoadCmd) and load.interval_ms == 300_000 and load.line == 3
    assert [s.line for s in load.series] == [4, 5, 7]
    assert load.series[2].start_offsets == [None, -60_000, -30_000]
    assert is_stale(load.series[1].values[2])
    e = script.evals
    assert (e[0].line, e[0].is_range, e[0].time_ms, e[0].expr) == (9, False, 600_000, "sum(http_requests)")
    assert e[0].expected[0].labels == () and e[0].expected[0].values == [20.0]
    assert (e[1].start_ms, e[1].end_ms, e[1].step_ms) == (0, 600_000, 300_000)
    assert [(x.kind, x.message) for x in e[1].expectations] == [
        ("warn", "PromQL warning: something (1:1)"), ("no_info", None)]
    assert e[1].expected[0].values == [0.0, 10.0, None]
    assert e[2].expected_scalar == 2.0 and e[3].expected_string == "foo"
    assert e[4].range_vector == (0, 60_000, 30_000) and e[4].time_ms == 60_000
    assert e[5].ordered and e[5].expects_fail and e[5].fail_expectation.regex == "foo.*"
    assert e[6].expects_fail and e[6].fail_expectation.message == "invalid thing"
    assert isinstance(script.commands[8], ClearCmd) and e[7].ordered
    assert script.commands[-1].with_nhcb


@pytest.mark.parametrize(
    "text,line",
    [
        ("bogus 1", 1),
        ("load 5x\n  m 1", 1),
        ("load 1m\n  m{a=b} 1", 2),
        ("eval instant at 1m x\n  expect bogus", 2),
        ("eval instant at 1m x\n  expect fail\n  expect fail", 3),
        ("eval instant at 1m x\n  expect warn\n  expect no_warn", 3),
        ("eval instant at 1m x\n  m 1 2", 2),
        ("eval range from 5m to 1m step 1m x", 1),
        ("eval instant at 1m x\n  expect string foo", 2),
        ("eval sometimes x", 1),
        ("load 1m\n  m@st 1m\n", 2),
        ("load 1m\n  m@st 1m 2m\n  m 1", 2),
    ],
)
def test_script_errors_name_the_line(text: str, line: int) -> None:
    with pytest.raises(TestScriptError) as info:
        parse_test_script(text, "bad.test")
    assert info.value.line == line
    assert str(info.value).startswith(f"bad.test:{line}: ")


def test_go_number_parsing_for_scalar_lines() -> None:
    assert parse_go_number("-Inf") == -math.inf
    assert parse_go_number("0.00001234") == 1.234e-05
    assert parse_go_number("+0x10") == 16.0
    for bad in ["", "+-1", "1 2", "metric"]:
        with pytest.raises(ValueError):
            parse_go_number(bad)


def test_eval_cmd_histogram_flag() -> None:
    script = parse_test_script("eval instant at 1m x\n  x {{sum:1}}\n")
    cmd = script.evals[0]
    assert isinstance(cmd, EvalCmd) and cmd.has_histograms
