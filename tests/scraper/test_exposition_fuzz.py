"""Property tests: any bytes give a result or an ExpositionError, never another
exception; the fast paths (whole-line regex, series cache, streaming) agree
with the token scanner and the whole-body parse."""

from __future__ import annotations

import os
import struct

import _exposition_corpus as corpus  # noqa: E402 - beside the tests (see conftest.py)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scraper.exposition import (
    ExpositionError,
    StreamParser,
    check_metrics,
    parse_lines_cached,
    parse_openmetrics,
    parse_text,
)
from scraper.exposition._lex import TokenError
from scraper.exposition.text import TextLineParser

FUZZ = settings(max_examples=int(os.environ.get("EXPOSITION_FUZZ_EXAMPLES", "150")), deadline=None, suppress_health_check=[HealthCheck.too_slow])

SEEDS = [
    b'# HELP m The m.\n# TYPE m counter\nm{a="1",b="x y"} 1027 1395066363000\nm{a="2"} NaN\n',
    b'# TYPE h histogram\nh_bucket{le="0.5"} 1\nh_bucket{le="+Inf"} 2\nh_sum 3.5\nh_count 2\n',
    b'  s { q = "0.5" , } \t 1e3 \n# comment\n\nx -Inf -5\n',
    b'# TYPE a counter\n# HELP a h\na_total{x="\\\\n\\"q"} 1 1.5 # {t="1"} 0.5 2\na_created 1\n# EOF\n',
    b'# TYPE g gaugehistogram\ng_bucket{le="-1"} 1\ng_bucket{le="+Inf"} 2\ng_gcount 2\ng_gsum -3\n# EOF',
    b'# TYPE s stateset\ns{s="a"} 1\ns{s="b"} 0\n# TYPE i info\ni_info{v="1"} 1\n# EOF\n',
]
# Bytes that matter to the grammar, so that mutations hit interesting cases.
ALPHABET = b' \t\n\r"\\{}=,#.+-_:eE0129aNnIif\x00\xff\xc3\xa9'


def _any_outcome(fn, body: bytes):
    try:
        return fn(body), None
    except ExpositionError as e:
        assert e.line >= 1
        assert e.column is None or e.column >= 1
        return None, e


@st.composite
def mutated(draw):
    body = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["insert", "delete", "replace"]))
        pos = draw(st.integers(0, len(body)))
        if op == "insert" or pos == len(body):
            body[pos:pos] = bytes([draw(st.sampled_from(ALPHABET))])
        elif op == "delete":
            del body[pos]
        else:
            body[pos] = draw(st.sampled_from(ALPHABET))
    return bytes(body)


bodies = st.one_of(st.binary(max_size=200), mutated(), st.sampled_from(SEEDS))


@FUZZ
@given(bodies)
def test_any_bytes_parse_or_raise_exposition_error(body):
    _any_outcome(parse_text, body)
    _any_outcome(parse_openmetrics, body)
    _any_outcome(lambda b: parse_openmetrics(b, strict=False), body)
    _any_outcome(lambda b: parse_lines_cached(b, {}), body)
    _any_outcome(lambda b: parse_lines_cached(b, {}, fmt="openmetrics"), body)
    for fmt in ("text", "openmetrics"):
        problems = check_metrics(body, fmt)
        assert all(p.severity in ("error", "warning") for p in problems)


@FUZZ
@given(bodies, st.sampled_from(["text", "openmetrics"]))
def test_cached_path_agrees_with_parse(body, fmt):
    assert corpus.check_cached(body, fmt) == []


@FUZZ
@given(bodies, st.sampled_from(["text", "openmetrics"]), st.data())
def test_stream_agrees_with_whole(body, fmt, data):
    whole, werr = _any_outcome(parse_text if fmt == "text" else parse_openmetrics, body)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(body)), max_size=6)))
    p = StreamParser(fmt)
    try:
        prev = 0
        for c in [*cuts, len(body)]:
            p.feed(body[prev:c])
            prev = c
        res, err = p.close(), None
    except ExpositionError as e:
        res, err = None, e
    assert (err is None) == (werr is None), (err, werr)
    if err is None:
        assert corpus.same_result(res, whole) == []
    elif fmt == "text":
        assert (err.line, err.message) == (werr.line, werr.message)


_NAMES = st.sampled_from([b"m", b"a_b:c", b"_x", b"le", b"m1"])
_LNAMES = st.sampled_from([b"a", b"le", b"quantile", b"__name__", b"b_2"])
_VALUES = st.sampled_from([b"", b"x", b"a b", b'\\"', b"\\\\", b"\\n", b"\\t", b"\xc3\xa9", b"\xff", b"}", b","])
_NUMS = st.sampled_from([b"1", b"-2.5e3", b"NaN", b"+Inf", b"1_0", b"0x1", b".5", b"1e999", b"", b"5."])


@st.composite
def text_lines(draw):
    """Sample lines of the shape the whole-line regex accepts, and near misses."""
    pairs = draw(st.lists(st.tuples(_LNAMES, _VALUES), max_size=4))
    body = b",".join(k + b'="' + v + b'"' for k, v in pairs)
    if draw(st.booleans()):
        body += b","
    labels = b"{" + body + b"}" if (pairs or draw(st.booleans())) else b""
    line = draw(_NAMES) + labels + b" " + draw(_NUMS)
    if draw(st.booleans()):
        line += b" " + draw(st.sampled_from([b"0", b"-12", b"1.5", b"99999999999999999999"]))
    return line


def _bits(r):
    """A sample tuple with its float as bits (NaN != NaN would fail equality)."""
    return r[:2] + (struct.pack("<d", r[2]),) + r[3:]


def _scan(parser: TextLineParser, line: bytes):
    try:
        return _bits(parser._sample(line, 0)), None
    except TokenError as e:
        return None, (e.message, e.offset)


def _fast(parser: TextLineParser, line: bytes):
    try:
        return _bits(parser.parse_line(line)), None
    except TokenError as e:
        return None, (e.message, e.offset)


@FUZZ
@given(text_lines(), st.sampled_from([None, b"# TYPE m histogram", b"# TYPE m summary"]))
def test_whole_line_regex_agrees_with_token_scanner(line, type_line):
    """text.py parses common lines with one regex; the scanner is the reference."""
    a, b = TextLineParser(), TextLineParser()
    if type_line:
        a.parse_line(type_line)
        b.parse_line(type_line)
    assert _fast(a, line) == _scan(b, line)
