"""{input, error} tables, in the style of Prometheus' TestPromParseErrors /
TestOpenMetricsParseErrors: each bad input, the message and where it points."""

from __future__ import annotations

import pytest

from scraper.exposition import ExpositionError, StreamParser, parse_openmetrics, parse_text

# (input, message, line, column)
TEXT_ERRORS = [
    (b'a{b="c"}\n', 'expected value after metric "a", got end of line', 1, 9),
    (b'm{a="1" 1\n', 'expected "," or "}" after value of label "a", got "1"', 1, 9),
    (b"m{a=1} 1\n", 'expected quoted value for label "a", got "1"', 1, 5),
    (b"m{a='1'} 1\n", 'expected quoted value for label "a", got "\'"', 1, 5),
    (b"m{a} 1\n", 'expected "=" after label name "a", got "}"', 1, 4),
    (b'm{1a="x"} 1\n', "expected label name or '}', got \"1\"", 1, 3),
    (b'm{="x"} 1\n', "expected label name or '}', got \"=\"", 1, 3),
    (b'm{a="1",,b="2"} 1\n', "expected label name or '}', got \",\"", 1, 9),
    (b'm{a="1" b="2"} 1\n', 'expected "," or "}" after value of label "a", got "b"', 1, 9),
    (b'm{a="1",a="2"} 1\n', 'duplicate label name "a"', 1, 9),
    (b'm{__name__="x"} 1\n', 'duplicate label name "__name__"', 1, 3),
    (b'{a="b"} 1\n', "metric name missing before '{' (quoted metric names are not supported)", 1, 1),
    (b"met-ric 1\n", 'invalid character "-" in metric name "met"', 1, 4),
    (b"1metric 1\n", 'expected metric name at start of line, got "1"', 1, 1),
    (b"m 1_2\n", 'invalid value "1_2"', 1, 3),
    (b"m 0x1p-3\n", 'invalid value "0x1p-3"', 1, 3),
    (b"m 0x1\n", 'invalid value "0x1"', 1, 3),
    (b"m +nan\n", 'invalid value "+nan"', 1, 3),
    (b"m 1e309\n", 'value "1e309" is out of the float64 range', 1, 3),
    (b"m true\n", 'invalid value "true"', 1, 3),
    (b"m 1 2.5\n", 'invalid timestamp "2.5", expected integer milliseconds', 1, 5),
    (b"m 1 9223372036854775808\n", 'timestamp "9223372036854775808" does not fit in int64', 1, 5),
    (b"m 1 2 3\n", 'unexpected "3" after timestamp', 1, 7),
    (b"m 1 # x\n", 'invalid timestamp "#", expected integer milliseconds', 1, 5),
    (b"m 1\r\n", 'invalid value "1\\r"', 1, 3),
    (b"# TYPE m bogus\n", 'invalid metric type "bogus"', 1, 10),
    (b"# TYPE m COUNTER\n", 'invalid metric type "COUNTER"', 1, 10),
    (b"# TYPE m counter \n", 'invalid metric type "counter "', 1, 10),
    (b"# HELP \n", "expected metric name after HELP, got end of line", 1, 8),
    (b'm{a="\xbd"} 1\n', 'invalid UTF-8 in value of label "a" (byte 0xbd)', 1, 6),
    (b"# HELP m \xff\n", "invalid UTF-8 in help text (byte 0xff)", 1, 10),
    (b'ok 1\nm{a="1} 1\nn 2\n', 'unterminated value of label "a"', 2, 5),
    (b'ok 1\nm{a="new\nline"} 1\n', 'unterminated value of label "a"', 2, 5),
    (b'm{a="x"}} 1\n', 'invalid value "}"', 1, 9),
    (b"m+1\n", 'invalid character "+" in metric name "m"', 1, 2),
    (b'm{a="\xc3\xa9",b} 1\n', 'expected "=" after label name "b", got "}"', 1, 10),  # columns count characters
]

OM_ERRORS = [
    (b"a 1\n", "data does not end with # EOF", 1, None),
    (b"", "data does not end with # EOF", 1, None),
    (b"a 1\n# EOF\nb 2\n", "unexpected data after # EOF", 3, 1),
    (b"# EOF\n\n", "unexpected data after # EOF", 2, 1),
    (b"a 1\n\n# EOF\n", "blank lines are not allowed in OpenMetrics", 2, 1),
    (b"a  1\n# EOF\n", 'expected value after a single blank, got " "', 1, 3),
    (b" a 1\n# EOF\n", "leading whitespace is not allowed in OpenMetrics", 1, 1),
    (b'a{a="1",} 1\n# EOF\n', "trailing comma in label set is not allowed in OpenMetrics", 1, 8),
    (b"a 1\r\n# EOF\n", 'invalid value "1\\r"', 1, 3),
    (b"a 1\n\xff\n# EOF\n", "invalid UTF-8 (byte 0xff)", 2, 1),
    (b"# comment\n# EOF\n", "invalid comment: only '# TYPE', '# HELP', '# UNIT' and '# EOF' lines may start with '#'", 1, 1),
    (b"# TYPE a untyped\n# EOF\n", 'invalid metric type "untyped"', 1, 10),
    (b"# UNIT a seconds\n# EOF\n", 'unit "seconds" is not a suffix of metric "a"', 1, 10),
    (b"a 1 NaN\n# EOF\n", 'invalid timestamp "NaN"', 1, 5),
    (b'a_total 1 # {a="b"} 1 2 3\n# EOF\n', 'unexpected " " after exemplar timestamp', 1, 24),
    (b"# TYPE a counter\na 1\n# EOF\n", 'sample "a" is not valid in counter family "a" (expected a_total, a_created)', 2, None),
    (b"# TYPE a counter\na_total -1\n# EOF\n", '"a_total" must not be negative, got -1.0', 2, None),
    (b"# TYPE a gauge\na 1\n# HELP a x\n# EOF\n", 'HELP line for metric family "a" after its samples', 3, None),
    (b"# TYPE a gauge\n# TYPE a gauge\n# EOF\n", 'second TYPE line for metric family "a"', 2, None),
    (b"a 1\nb 1\na 2\n# EOF\n", 'sample "a" of metric family "a" is not grouped with the rest of its family', 3, None),
    (b"a 1\n# TYPE a gauge\n# EOF\n", 'TYPE line for metric family "a" after its samples', 2, None),
    (b"a 1\nb 1\n# TYPE a gauge\n# EOF\n", "metric family \"a\" appears twice; a family's lines must be contiguous", 3, None),
    (b"# TYPE a_created gauge\n# TYPE a counter\n# EOF\n",
     'metric family "a" (counter) clashes with family "a_created": both would own samples named "a_created"', 2, None),
    (b'# TYPE a histogram\na_bucket{le="1"} 2\na_bucket{le="+Inf"} 1\n# EOF\n',
     'histogram "a": bucket le="+Inf" is smaller than the bucket before it', 3, None),
    (b'# TYPE a histogram\na_bucket{le="1"} 1\n# EOF\n', 'histogram "a" has no le="+Inf" bucket (it must be the last one)', 2, None),
    (b'# TYPE a histogram\na_bucket{le="+Inf"} 1.5\n# EOF\n', '"a_bucket" must be an integer, got 1.5', 2, None),
    (b'# TYPE a summary\na{quantile="2"} 1\n# EOF\n', 'quantile "2" of "a" is not a number in [0, 1]', 2, None),
    (b'# TYPE a gauge\na 1 # {t="1"} 1\n# EOF\n',
     'exemplars are only allowed on counter _total and histogram _bucket samples, not on "a"', 2, None),
    (b"a 1 2\na 1 1\n# EOF\n", 'timestamp of "a" goes backwards within its metric', 2, None),
]


def _err(fn, body: bytes) -> ExpositionError:
    with pytest.raises(ExpositionError) as ei:
        fn(body)
    return ei.value


@pytest.mark.parametrize("body,msg,line,col", TEXT_ERRORS, ids=[repr(c[0])[:40] for c in TEXT_ERRORS])
def test_text_errors(body, msg, line, col):
    e = _err(parse_text, body)
    assert (e.message, e.line, e.column) == (msg, line, col)
    assert str(e) == f"line {line}: {msg}"
    # Fed byte by byte, the same line fails with the same message.
    p = StreamParser("text")
    with pytest.raises(ExpositionError) as ei:
        for i in range(len(body)):
            p.feed(body[i : i + 1])
        p.close()
    assert (ei.value.message, ei.value.line) == (msg, line)


@pytest.mark.parametrize("body,msg,line,col", OM_ERRORS, ids=[repr(c[0])[:40] for c in OM_ERRORS])
def test_openmetrics_errors(body, msg, line, col):
    e = _err(parse_openmetrics, body)
    assert (e.message, e.line, e.column) == (msg, line, col)


def test_error_pickles_and_is_a_value_error():
    import pickle

    e = _err(parse_text, b"m{a} 1\n")
    assert isinstance(e, ValueError)
    e2 = pickle.loads(pickle.dumps(e))
    assert (e2.message, e2.line, e2.column, str(e2)) == (e.message, e.line, e.column, str(e))
