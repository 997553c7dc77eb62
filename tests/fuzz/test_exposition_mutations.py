"""Fuzz the exposition parsers with mutated real documents and arbitrary Content-Types.

tests/scraper/test_exposition_fuzz.py already feeds arbitrary bytes and
single-byte edits of six small seeds (and checks that the fast paths agree
with the scanner). This adds what it does not: every document of the
OpenMetrics conformance suite and the text cases as seeds, the structural
mutations of ``fuzzkit.mutants`` (bit flips, truncations, splices of one
document into another, duplicated spans), ``parse`` with arbitrary
Content-Type headers, bodies fed to ``StreamParser`` in arbitrary pieces,
and CI/soak scaling.

Oracle: a result, or :class:`ExpositionError` with a line number inside the
document (1 .. lines + 1) -- never another exception.
"""

from __future__ import annotations

import glob
import os

from fuzzkit import bounded, fuzz_settings, mutants, tried
from hypothesis import example, given
from hypothesis import strategies as st

from scraper.exposition import ExpositionError, StreamParser, parse, parse_openmetrics, parse_text

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.normpath(os.path.join(HERE, "..", "..", "..", "shared"))

BUILTIN = [
    b'# HELP m The m.\n# TYPE m counter\nm{a="1",b="x y"} 1027 1395066363000\nm{a="2"} NaN\n',
    b'# TYPE h histogram\nh_bucket{le="0.5"} 1\nh_bucket{le="+Inf"} 2\nh_sum 3.5\nh_count 2\n',
    b'# TYPE s summary\ns{quantile="0.5"} 1\ns_sum 2\ns_count 3\n# HELP x \\\\ \\n\nx{y="\\"\\n\\\\"} -Inf\n',
    b'# TYPE a counter\n# HELP a h\na_total{x="\\\\n\\"q"} 1 1.5 # {t="1"} 0.5 2\na_created 1\n# EOF\n',
    b'# TYPE g gaugehistogram\ng_bucket{le="-1"} 1\ng_bucket{le="+Inf"} 2\ng_gcount 2\ng_gsum -3\n# EOF',
    b'# TYPE s stateset\ns{s="a"} 1\ns{s="b"} 0\n# TYPE i info\ni_info{v="1"} 1\n# UNIT u_seconds seconds\n'
    b'# TYPE u_seconds gauge\nu_seconds 1e-3\n# EOF\n',
    b'{"quoted.name", a="1"} 2\n{"x"} 3\n',
]


def _seeds() -> list[bytes]:
    out = list(BUILTIN)
    for path in sorted(glob.glob(os.path.join(SHARED, "openmetrics-tests", "*", "metrics"))):
        with open(path, "rb") as f:
            body = f.read()
        if len(body) <= 4096:
            out.append(body)
    return out


SEEDS = _seeds()
CONTENT_TYPES = st.one_of(
    st.sampled_from([None, "", "text/plain; version=0.0.4", "application/openmetrics-text; version=1.0.0",
                     "application/openmetrics-text", "APPLICATION/OPENMETRICS-TEXT;charset=utf-8",
                     "text/plain;charset=latin-1", ";;;", "application/openmetrics-text; version=9"]),
    st.text(max_size=40),
)


def _check(fn, body: bytes) -> str:
    try:
        fn(body)
    except ExpositionError as e:
        assert 1 <= e.line <= body.count(b"\n") + 2, (e.line, e)
        assert e.column is None or e.column >= 1, e
        return "error"
    return "ok"


@fuzz_settings(300, 30_000)
@given(st.one_of(mutants(SEEDS, max_ops=6), st.binary(max_size=400)), CONTENT_TYPES, st.booleans())
@example(b"\xef\xbb\xbfm 1\n", "text/plain", True)
@example(b"m" * 5000 + b" 1\n", None, True)
@example(b'm{a="' + b"\\" * 3001 + b'"} 1\n', None, True)
@bounded()
def test_parse_mutated_documents(body, content_type, strict):
    tried("exposition parse (mutated docs, any content type)")
    _check(lambda b: parse(b, content_type, strict=strict), body)
    _check(parse_text, body)
    _check(lambda b: parse_openmetrics(b, strict=strict), body)


@fuzz_settings(150, 15_000)
@given(mutants(SEEDS, max_ops=3), st.sampled_from(["text", "openmetrics"]), st.data())
@bounded()
def test_stream_parser_in_pieces(body, fmt, data):
    tried("exposition StreamParser (mutated docs, arbitrary pieces)")
    whole = _check(parse_text if fmt == "text" else parse_openmetrics, body)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(body)), max_size=8)))
    p = StreamParser(fmt)
    try:
        prev = 0
        for c in [*cuts, len(body)]:
            p.feed(body[prev:c])
            prev = c
        p.close()
        streamed = "ok"
    except ExpositionError as e:
        assert e.line >= 1, e
        streamed = "error"
    assert streamed == whole
