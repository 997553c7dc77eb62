"""The public API: format choice, result shape, values, metadata, exemplars,
the cached fast path, streaming, and check_metrics."""

from __future__ import annotations

import math
import struct

import numpy as np
import pytest

from scraper.exposition import (
    NORMAL_NAN_BITS,
    ExpositionError,
    StreamParser,
    check_metrics,
    format_for,
    parse,
    parse_lines_cached,
    parse_openmetrics,
    parse_text,
)
from scraper.exposition._lex import format_om_float

STALE_NAN_BITS = 0x7FF0000000000002


@pytest.mark.parametrize(
    "ctype,fmt",
    [
        (None, "text"),
        ("", "text"),
        ("text/plain; version=0.0.4; charset=utf-8", "text"),
        ("application/openmetrics-text; version=1.0.0; charset=utf-8", "openmetrics"),
        ("Application/OpenMetrics-Text", "openmetrics"),
        ("application/openmetrics-text;version=0.0.1", "openmetrics"),
        ("application/json", "text"),
        ("garbage;;;", "text"),
    ],
)
def test_format_for(ctype, fmt):
    assert format_for(ctype) == fmt


def test_parse_dispatches_on_content_type():
    om = b"a_total 1\n# EOF\n"
    assert parse(om, "application/openmetrics-text; version=1.0.0").format == "openmetrics"
    assert parse(om, "text/plain; version=0.0.4").format == "text"  # "# EOF" is just a comment there
    with pytest.raises(ExpositionError, match="does not end with # EOF"):
        parse(b"a 1\n", "application/openmetrics-text")
    assert len(parse(b"a 1\n", None)) == 1


def test_result_shape_and_series_text():
    body = b'# TYPE m counter\nm{b="2",a="1"} 3 1000\n  x 1\nm{a="1",b="2",} 4\n'
    r = parse_text(body)
    assert r.series == [b'm{b="2",a="1"}', b"x", b'm{a="1",b="2",}']
    assert r.labels[0] == (("__name__", "m"), ("a", "1"), ("b", "2")) == r.labels[2]
    assert r.values.dtype == np.float64 and r.values.tolist() == [3.0, 1.0, 4.0]
    assert r.has_timestamp.tolist() == [True, False, False]
    assert int(r.timestamps[0]) == 1000
    assert r.metadata["m"].type == "counter"
    assert [s.timestamp_ms for s in r.samples()] == [1000, None, None]


def test_values_bit_exact():
    r = parse_text(b"a NaN\nb -0.0\nc +Inf\nd -Inf\ne 4.9e-324\nf 1.7976931348623157e308\ng nan\n")
    bits = r.values.view(np.uint64).tolist()
    assert bits[0] == NORMAL_NAN_BITS and bits[6] == NORMAL_NAN_BITS
    assert STALE_NAN_BITS not in bits
    assert bits[1] == 0x8000000000000000
    assert math.isinf(r.values[2]) and r.values[2] > 0 and r.values[3] < 0
    assert bits[4] == 1
    assert r.values[5] == struct.unpack("<d", struct.pack("<Q", 0x7FEFFFFFFFFFFFFF))[0]


def test_empty_label_values_are_dropped():
    r = parse_text(b'm{a="",b="x"} 1\n')
    assert r.labels[0] == (("__name__", "m"), ("b", "x"))


def test_le_and_quantile_normalised_like_prometheus3():
    body = (
        b"# TYPE h histogram\n"
        b'h_bucket{le="1"} 1\nh_bucket{le="1e+06"} 1\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n'
        b'# TYPE s summary\ns{quantile="0.99"} 1\ns{quantile="1"} 2\n'
        b'# TYPE g gauge\ng{le="1"} 1\n'
    )
    for r in (parse_text(body), parse_openmetrics(body.replace(b"h_sum", b"h_sum") + b"# EOF\n")):
        les = [dict(lb).get("le") for lb in r.labels]
        qs = [dict(lb).get("quantile") for lb in r.labels]
        assert les[:3] == ["1.0", "1e+06", "+Inf"]
        assert qs[5:7] == ["0.99", "1.0"]
        assert dict(r.labels[7])["le"] == "1"  # a gauge's le label is left alone


@pytest.mark.parametrize(
    "f,s",
    [(0.0, "0.0"), (1.0, "1.0"), (-1.0, "-1.0"), (0.5, "0.5"), (10.0, "10.0"), (1e-5, "1e-05"),
     (0.0001, "0.0001"), (100000.0, "100000.0"), (1e6, "1e+06"), (1.1e23, "1.1e+23"), (123456.0, "123456.0"),
     (1234567.0, "1.234567e+06"), (math.inf, "+Inf"), (-math.inf, "-Inf"), (math.nan, "NaN"), (2.5e-7, "2.5e-07")],
)
def test_format_om_float(f, s):
    assert format_om_float(f) == s


def test_openmetrics_timestamps_and_exemplars():
    body = (
        b"# TYPE a counter\n# HELP a help\n# UNIT a_seconds seconds\n"
        b'a_total 1 1.5 # {trace_id="x"} 0.5 1520879607.789\n'
        b"a_created 1520430000.123\n# EOF"
    )
    r = parse_openmetrics(body, strict=False)
    assert r.timestamps.tolist()[0] == 1500 and r.has_timestamp.tolist() == [True, False]
    ex = r.exemplars[0]
    assert ex.labels == (("trace_id", "x"),) and ex.value == 0.5
    assert ex.timestamp_ms == int(1520879607.789 * 1000)
    # _created is an ordinary series (created-timestamp ingestion is off by default in Prometheus).
    assert dict(r.labels[1])["__name__"] == "a_created" and r.values[1] == 1520430000.123
    assert r.metadata["a"].help == "help" and r.metadata["a_seconds"].unit == "seconds"


def test_openmetrics_far_future_timestamp_clamps():
    r = parse_openmetrics(b"a 1 12345678901234567890.5\nb 1 -1e300\n# EOF\n")
    assert r.timestamps.tolist() == [2**63 - 1, -(2**63)]


# -- the cached path ------------------------------------------------------------------


class Ref:
    def __init__(self, labels):
        self.labels = labels


def _fill(cache, res):
    for m in res.misses:
        if m.key is not None:
            cache[m.key] = Ref(m.labels)


def test_cached_hits_misses_and_timestamps():
    body = b'# HELP m x\nm{a="1"} 1\nm{a="2"} 2 1000\n  odd   3\nn 4\n'
    cache: dict = {}
    cold = parse_lines_cached(body, cache)
    assert cold.refs == [None] * 4
    assert [m.index for m in cold.misses] == [0, 1, 2, 3]
    # Any layout "<key> <value>" is cacheable, odd blanks included.
    assert [m.key for m in cold.misses] == [b'm{a="1"}', b'm{a="2"}', b"  odd  ", b"n"]
    _fill(cache, cold)
    body2 = b'# HELP m x\nm{a="1"} 10\nm{a="2"} 20 2000\n  odd   3\nn +Inf\nnew 5\n'
    warm = parse_lines_cached(body2, cache)
    assert [r.labels[1][1] if r else None for r in warm.refs[:2]] == ["1", "2"]
    assert [m.index for m in warm.misses] == [4]  # only "new" is new
    assert warm.values.tolist() == [10.0, 20.0, 3.0, math.inf, 5.0]
    assert warm.has_timestamp.tolist() == [False, True, False, False, False]
    assert warm.timestamps.tolist()[1] == 2000
    assert warm.metadata["m"].help == "x"


@pytest.mark.parametrize(
    "line,msg",
    [(b"m 1_0", "invalid value"), (b"m 1e400", "out of the float64 range"), (b"m +nan", "invalid value"),
     (b"m  ", "expected value"), (b"m 1 2.5", "invalid timestamp"), (b"m 1 99999999999999999999", "int64")],
)
def test_cached_hit_with_bad_value_raises_like_parse(line, msg):
    cache = {b"m": Ref((("__name__", "m"),))}
    with pytest.raises(ExpositionError, match=msg) as ei:
        parse_lines_cached(b"ok 1\n" + line + b"\n", cache)
    assert ei.value.line == 2


def test_cached_odd_spacing_falls_back_to_full_parse():
    cache = {b"m": Ref((("__name__", "m"),))}
    r = parse_lines_cached(b"m 1\t1000\n", cache)  # tab before the timestamp: legal, not cacheable
    assert r.refs == [None] and r.timestamps.tolist() == [1000] and r.misses[0].key is None


def test_cached_openmetrics():
    body = b'# TYPE a counter\na_total{x="1"} 1 5\na_total{x="2"} 2 # {t="1"} 1\n# EOF\n'
    cache: dict = {}
    _fill(cache, parse_lines_cached(body, cache, fmt="openmetrics"))
    warm = parse_lines_cached(body, cache, fmt="openmetrics")
    assert warm.refs[0] is not None and warm.refs[1] is None  # exemplar lines always take the full parser
    assert warm.timestamps.tolist()[0] == 5000 and warm.exemplars[1].labels == (("t", "1"),)
    with pytest.raises(ExpositionError, match="does not end with # EOF"):
        parse_lines_cached(body[:-6], cache, fmt="openmetrics")


# -- streaming -----------------------------------------------------------------------


def test_stream_matches_whole_and_rejects_misuse():
    body = b'# TYPE m gauge\nm{a="\xc3\xa9"} 1 5\nn 2'
    whole = parse_text(body)
    p = StreamParser("text")
    for i in range(len(body)):
        p.feed(body[i : i + 1])
    r = p.close()
    assert r.labels == whole.labels and r.series == whole.series and r.metadata == whole.metadata
    with pytest.raises(ValueError):
        p.feed(b"x")
    with pytest.raises(ValueError):
        p.close()


def test_stream_fails_early_on_a_bad_line():
    p = StreamParser("text")
    with pytest.raises(ExpositionError) as ei:
        p.feed(b"ok 1\nbad{ 1\nnever parsed")
    assert ei.value.line == 2


# -- check_metrics ---------------------------------------------------------------------


def test_check_metrics_lints():
    body = (
        b"# HELP fooMs x\n# TYPE fooMs counter\nfooMs{someLabel=\"a\"} 1\n"
        b"# TYPE bar_total gauge\nbar_total 1\n"
        b"# HELP http_latency_milliseconds x\n# TYPE http_latency_milliseconds gauge\nhttp_latency_milliseconds 1\n"
        b"# HELP x_sec y\n# TYPE x_sec gauge\nx_sec 2\n"
        b"# HELP ok_seconds_total fine\n# TYPE ok_seconds_total counter\nok_seconds_total 1\nok_seconds_total 2\n"
    )
    got = {(p.line, p.metric, p.message) for p in check_metrics(body)}
    assert got == {
        (1, "fooMs", 'counter metrics should have "_total" suffix'),
        (1, "fooMs", "metric names should be written in 'snake_case' not 'camelCase'"),
        (1, "fooMs", "label names should be written in 'snake_case' not 'camelCase'"),
        (4, "bar_total", "no help text"),
        (4, "bar_total", 'non-counter metrics should not have "_total" suffix'),
        (6, "http_latency_milliseconds", 'use base unit "seconds" instead of "milliseconds"'),
        (9, "x_sec", "metric names should not contain abbreviated units"),
        (15, "ok_seconds_total", "series ok_seconds_total is exposed more than once"),
    }
    assert all(p.severity == "warning" for p in check_metrics(body))


def test_check_metrics_errors():
    (p,) = check_metrics(b"ok 1\nbad{ 1\n")
    assert (p.line, p.severity) == (2, "error") and "label name" in p.message
    (p,) = check_metrics(b"# TYPE a counter\na 1\n# EOF\n", "openmetrics")
    assert p.severity == "error" and p.line == 2
    assert check_metrics(b"# HELP a h\n# TYPE a counter\na_total 1\n# EOF\n", "openmetrics") == []


def test_module_is_pure():
    """The parser never pulls in I/O libraries (or the storage engine)."""
    import subprocess
    import sys

    code = (
        "import sys, scraper.exposition\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('aiohttp', 'asyncio', 'uvloop', 'tsdb')]\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
