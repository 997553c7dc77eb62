"""Tokens, numbers, durations and Go-compatible quoting."""

from __future__ import annotations

import math

import pytest

from query.durations import (
    format_duration,
    parse_duration,
    parse_prometheus_duration,
    seconds_to_ms,
)
from query.errors import ParseError
from query.lexing import Lexer
from query.numbers import parse_number, scan_number
from query.parser import parse_duration as parser_parse_duration
from query.quoting import format_float, go_quote, go_quote_rune


def kinds(text: str) -> list[tuple[str, str]]:
    return [(t.type, t.value) for t in Lexer(text) if t.type != "EOF"]


LEX = [
    ("sum by (job) (x)", [("SUM", "sum"), ("BY", "by"), ("LEFT_PAREN", "("), ("IDENTIFIER", "job"),
                          ("RIGHT_PAREN", ")"), ("LEFT_PAREN", "("), ("IDENTIFIER", "x"), ("RIGHT_PAREN", ")")]),
    ("SUM Offset", [("SUM", "SUM"), ("OFFSET", "Offset")]),
    ("foo:bar :baz", [("METRIC_IDENTIFIER", "foo:bar"), ("METRIC_IDENTIFIER", ":baz")]),
    ('{sum="a", by!~"b"}', [("LEFT_BRACE", "{"), ("IDENTIFIER", "sum"), ("EQL", "="), ("STRING", "a"), ("COMMA", ","),
                            ("IDENTIFIER", "by"), ("NEQ_REGEX", "!~"), ("STRING", "b"), ("RIGHT_BRACE", "}")]),
    ("Inf nan inff", [("NUMBER", "Inf"), ("NUMBER", "nan"), ("IDENTIFIER", "inff")]),
    ("fill(1) fill + fill_left (2)", [("FILL", "fill"), ("LEFT_PAREN", "("), ("NUMBER", "1"), ("RIGHT_PAREN", ")"),
                                      ("IDENTIFIER", "fill"), ("ADD", "+"), ("FILL_LEFT", "fill_left"),
                                      ("LEFT_PAREN", "("), ("NUMBER", "2"), ("RIGHT_PAREN", ")")]),
    ("a == b != c <= d < e >= f > g </ h >/ i", [
        ("IDENTIFIER", "a"), ("EQLC", "=="), ("IDENTIFIER", "b"), ("NEQ", "!="), ("IDENTIFIER", "c"), ("LTE", "<="),
        ("IDENTIFIER", "d"), ("LSS", "<"), ("IDENTIFIER", "e"), ("GTE", ">="), ("IDENTIFIER", "f"), ("GTR", ">"),
        ("IDENTIFIER", "g"), ("TRIM_UPPER", "</"), ("IDENTIFIER", "h"), ("TRIM_LOWER", ">/"), ("IDENTIFIER", "i")]),
    ("x[5m:1m30s]", [("IDENTIFIER", "x"), ("LEFT_BRACKET", "["), ("DURATION", "5m"), ("COLON", ":"),
                     ("DURATION", "1m30s"), ("RIGHT_BRACKET", "]")]),
    ("x[ step() + Range() ]", [("IDENTIFIER", "x"), ("LEFT_BRACKET", "["), ("STEP", "step"), ("LEFT_PAREN", "("),
                               ("RIGHT_PAREN", ")"), ("ADD", "+"), ("RANGE", "Range"), ("LEFT_PAREN", "("),
                               ("RIGHT_PAREN", ")"), ("RIGHT_BRACKET", "]")]),
    ("x[MIN_OF(1,2)]", [("IDENTIFIER", "x"), ("LEFT_BRACKET", "["), ("IDENTIFIER", "min_of"), ("LEFT_PAREN", "("),
                        ("NUMBER", "1"), ("COMMA", ","), ("NUMBER", "2"), ("RIGHT_PAREN", ")"), ("RIGHT_BRACKET", "]")]),
    ("1 # comment\n+ 2", [("NUMBER", "1"), ("ADD", "+"), ("NUMBER", "2")]),
    ("`a\\nb`", [("STRING", "a\\nb")]),
    ("'it\\'s'", [("STRING", "it's")]),
    ('"\\101\\x41\\u0041\\U00000041"', [("STRING", "AAAA")]),
]


@pytest.mark.parametrize("text,want", LEX, ids=[c[0] for c in LEX])
def test_tokens(text: str, want: list[tuple[str, str]]) -> None:
    assert kinds(text) == want


def test_token_positions_are_character_offsets() -> None:
    text = '{a="üü"} offset 5m'
    toks = list(Lexer(text))
    assert [(t.type, t.start_pos, t.end_pos) for t in toks][3:6] == [("STRING", 3, 7), ("RIGHT_BRACE", 7, 8), ("OFFSET", 9, 15)]
    assert toks[-1].type == "EOF" and toks[-1].start_pos == len(text)
    with pytest.raises(ParseError) as info:
        list(Lexer("é"))
    assert info.value.message == "unexpected character: 'é'"


def test_invalid_utf8_bytes_survive_as_surrogate_escapes() -> None:
    (tok,) = [t for t in Lexer('"a\\xc5z"') if t.type == "STRING"]
    assert tok.value == "a\udcc5z"
    assert go_quote(tok.value) == '"a\\xc5z"'
    assert tok.value.encode("utf-8", "surrogateescape") == b"a\xc5z"


@pytest.mark.parametrize(
    "text,ok,end",
    [("123", True, 3), ("1.5e3", True, 5), (".5", True, 2), ("5.", True, 2), ("0x1F", True, 4), ("1_000", True, 5),
     ("5m", False, 1), ("2.5.", False, 4), ("1e", False, 2), ("0xg", False, 2), ("1x3", False, 1)],
)
def test_scan_number(text: str, ok: bool, end: int) -> None:
    assert scan_number(text, 0) == (ok, end)


def test_scan_number_series_mode_allows_x() -> None:
    assert scan_number("1x3", 0, series_desc=True) == (True, 1)


NUMBERS = [("1", 1.0), ("0755", 493.0), ("0x1F", 31.0), ("0o17", 15.0), ("0b101", 5.0), ("1_000", 1000.0),
           ("08", 8.0), ("1e3", 1000.0), (".5", 0.5), ("5.", 5.0), ("0x1p-2", 0.25), ("Inf", math.inf),
           ("9223372036854775808", 9.223372036854775808e18)]


@pytest.mark.parametrize("text,value", NUMBERS, ids=[n[0] for n in NUMBERS])
def test_parse_number(text: str, value: float) -> None:
    assert parse_number(text) == value


def test_parse_number_errors() -> None:
    assert math.isnan(parse_number("NaN"))
    for bad, reason in [("1_000.5", "invalid syntax"), ("1e999", "value out of range"), ("0x", "invalid syntax")]:
        with pytest.raises(ValueError, match=reason):
            parse_number(bad)


DURATIONS = [("0", 0), ("1ms", 1), ("10s53ms", 10_053), ("5m", 300_000), ("1h30m", 5_400_000), ("2d", 172_800_000),
             ("1w", 604_800_000), ("1y", 31_536_000_000), ("1y2w3d4h5m6s7ms", 33_019_506_007)]


@pytest.mark.parametrize("text,ms", DURATIONS, ids=[d[0] for d in DURATIONS])
def test_prometheus_durations(text: str, ms: int) -> None:
    assert parse_prometheus_duration(text) == ms
    assert parse_duration(text) == ms


@pytest.mark.parametrize(
    "text,message",
    [("", "empty duration string"), ("5m1h", 'not a valid duration string: "5m1h"'),
     ("5m1m", 'not a valid duration string: "5m1m"'), ("5y1hs", 'unknown unit "hs" in duration "5y1hs"'),
     ("m", 'not a valid duration string: "m"'), ("5", 'not a valid duration string: "5"'),
     ("300000000y", "duration out of range")],
)
def test_prometheus_duration_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_prometheus_duration(text)
    assert str(info.value) == message


def test_parse_duration_accepts_float_seconds() -> None:
    assert parse_duration("15") == 15_000
    assert parse_duration("1.5") == 1_500
    assert parse_duration("0.0005") == 0
    assert parser_parse_duration("1m") == 60_000
    with pytest.raises(ValueError, match="cannot parse"):
        parse_duration("five")
    with pytest.raises(ValueError, match="overflows int64"):
        parse_duration("1e300")


FORMATS = [(0, "0s"), (1, "1ms"), (1500, "1s500ms"), (90_000, "1m30s"), (5_400_000, "1h30m"),
           (7_776_000_000, "90d"), (604_800_000 * 2, "2w"), (31_536_000_000, "1y"), (31_536_000_000 + 86_400_000, "366d"),
           (-60_000, "-1m")]


@pytest.mark.parametrize("ms,text", FORMATS, ids=[f[1] for f in FORMATS])
def test_format_duration(ms: int, text: str) -> None:
    assert format_duration(ms) == text
    if ms >= 0:
        assert parse_prometheus_duration(text) == ms


def test_seconds_to_ms_rounds_like_prometheus() -> None:
    assert seconds_to_ms(4.018) == 4018
    assert seconds_to_ms(0.0005) == 0  # 500000 ns -> 0 ms after truncation
    assert seconds_to_ms(-1.5) == -1500


@pytest.mark.parametrize(
    "value,text",
    [(1.0, "1"), (-0.5, "-0.5"), (1e100, "1" + "0" * 100), (1e-7, "0.0000001"), (123.4567, "123.4567"),
     (math.inf, "+Inf"), (-math.inf, "-Inf"), (math.nan, "NaN"), (2.5e-310, "0." + "0" * 309 + "25")],
)
def test_format_float_matches_go(value: float, text: str) -> None:
    assert format_float(value) == text
    if not math.isnan(value):
        assert float(text.replace("Inf", "inf")) == value


def test_go_quoting() -> None:
    assert go_quote('a"b\\c\n\t\x00\x7fé\u200b') == '"a\\"b\\\\c\\n\\t\\x00\\x7fé\\u200b"'
    assert go_quote_rune("'") == "'\\''"
    assert go_quote_rune("}") == "'}'"


def test_lexer_error_range_runs_to_end_of_input() -> None:
    with pytest.raises(ParseError) as info:
        list(Lexer("foo{a*b}"))
    assert info.value.position == (5, 8)
