"""Go ``text/template`` for alert labels and annotations, as Prometheus expands them.

Rule files written for Prometheus carry Go templates (``{{ $labels.instance }}``,
``{{ $value | humanize }}``, ``{{ range query "up" }}...{{ end }}``), and the
expanded text is what Alertmanager groups, deduplicates and silences on, so it
must come out byte for byte as Prometheus's. This module is a faithful subset
of Go's ``text/template`` (lexer, parser and executor follow Go's semantics and
error messages) plus Prometheus's template functions (``template/template.go``
and ``prometheus/common``'s ``helpers/templates``).

Go values are mapped to Python ones: ``string``→``str``, ``int``→``int``,
``float64``→``float``, ``bool``, ``nil``→``None``, slices→``list``, maps→``dict``
(map[string]interface{}) or :class:`StringMap` (map[string]string, whose missing
keys are ``""`` under Prometheus's ``missingkey=zero``), and structs/pointers
to :class:`GoStruct` objects (:class:`Sample`, ``time.Time``). Integer and float
literals keep Go's distinction: ``{{ if gt $value 1 }}`` fails with
"incompatible types for comparison" exactly as in Prometheus (write ``1.0``).

Templates come from rule files and query results can be large, so execution
is bounded: nesting depth (parse and execution, ``template`` call cycles
included), total steps, and output size all end in :class:`TemplateError`,
never in ``RecursionError`` or unbounded memory.

Public API: :class:`Template` (parse once, execute many times),
:func:`prometheus_funcs` (the function map for one expansion),
:func:`expand_alert` (what a rule does for each label and annotation) and
:func:`check_alert_template` (what rule-file loading does).
"""

from __future__ import annotations

import datetime as _dt
import functools
import ipaddress
import math
import time as _time
import unicodedata
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus, urlsplit

import re2

from query.durations import parse_prometheus_duration
from query.quoting import go_quote
from query.regex_errors import regex_error_message

from .template_fmt import format_value, go_type_name, sprint, sprintf, sprintln

__all__ = [
    "ALERT_TEMPLATE_DEFS",
    "GoStruct",
    "QuerySample",
    "Sample",
    "StringMap",
    "Template",
    "TemplateError",
    "check_alert_template",
    "expand_alert",
    "prometheus_funcs",
]

MAX_DEPTH = 100
"""Deepest nesting of control structures/parentheses (parse) and of template calls (execution)."""
MAX_OUTPUT_BYTES = 1 << 20
"""Largest expansion (and largest string any function may build) before execution fails."""
MAX_STEPS = 1_000_000
"""Most steps in one execution: nodes walked, range iterations, and one per KiB of string a function handles."""

ALERT_TEMPLATE_DEFS = ("{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}"
                       "{{$externalURL := .ExternalURL}}{{$value := .Value}}")
"""What Prometheus prepends to every alert label and annotation template."""


class TemplateError(Exception):
    """A template failed to parse or execute; the message has Go's shape (``template: name:line:col: ...``).

    ``phase`` is ``"parsing"`` or ``"executing"``; :attr:`expander_message` is
    the text Prometheus's expander reports (``error executing template NAME:
    template: ...``), which alerting rules put into the label or annotation as
    ``<error expanding template: ...>``.
    """

    def __init__(self, message: str, *, phase: str = "executing", template: str = "") -> None:
        super().__init__(message)
        self.phase = phase
        self.template = template

    @property
    def expander_message(self) -> str:
        return f"error {self.phase} template {self.template}: {self}"


class FuncError(Exception):
    """Raised by a template function: reported as ``error calling NAME: MESSAGE``."""


# --------------------------------------------------------------------------- Go values


class StringMap(dict):
    """A Go ``map[string]string`` (labels): a missing key is ``""`` under ``missingkey=zero``."""

    go_type = "map[string]string"
    zero: Any = ""


class GoStruct:
    """A Go struct (or pointer to one) seen by templates: exported fields and methods by name."""

    go_type = "struct {}"
    go_fields: tuple[str, ...] = ()
    go_methods: tuple[str, ...] = ()
    go_pointer = False

    def go_format(self, top: bool = True) -> str:
        body = "{" + " ".join(format_value(getattr(self, f), top=False) for f in self.go_fields) + "}"
        return ("&" + body) if self.go_pointer else body


class Sample(GoStruct):
    """One query result element, as Prometheus's templates see it (``*template.sample``)."""

    go_type = "*template.sample"
    go_fields = ("Labels", "Value")
    go_pointer = True
    __slots__ = ("Labels", "Value")

    def __init__(self, labels: Mapping[str, str], value: Any) -> None:
        self.Labels = StringMap(labels)
        self.Value = value


class QuerySample:
    """What a ``query`` callback may return: ``.Labels`` (dict[str, str]) and ``.Value`` (float)."""

    __slots__ = ("Labels", "Value")

    def __init__(self, labels: Mapping[str, str], value: float) -> None:
        self.Labels = dict(labels)
        self.Value = value


class QueryResult(list):
    """``template.queryResult``: what ``query`` returns (a list of :class:`Sample`)."""

    go_type = "template.queryResult"


class SafeHTML(str):
    """``html/template.HTML`` from ``safeHtml``: prints as the plain string in text templates."""

    go_type = "template.HTML"


class _AlertData(GoStruct):
    go_type = ("struct { Labels map[string]string; ExternalLabels map[string]string; "
               "ExternalURL string; Value interface {} }")
    go_fields = ("Labels", "ExternalLabels", "ExternalURL", "Value")
    __slots__ = go_fields

    def __init__(self, labels: Mapping[str, str], external_labels: Mapping[str, str],
                 external_url: str, value: Any) -> None:
        self.Labels = StringMap(labels)
        self.ExternalLabels = StringMap(external_labels)
        self.ExternalURL = external_url
        self.Value = value


_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)


class GoTime(GoStruct):
    """A UTC ``*time.Time`` with millisecond resolution (what ``toTime`` returns).

    Prints as Go's ``Time.String()`` (``2015-06-23 13:19:44.128 +0000 UTC``); has
    the common methods (``Unix``, ``UnixMilli``, ``Format``, ``Year``, ...).
    """

    go_type = "*time.Time"
    go_methods = ("Unix", "UnixMilli", "UnixNano", "UTC", "Year", "Month", "Day", "Hour", "Minute",
                  "Second", "Nanosecond", "Weekday", "YearDay", "Format", "String", "IsZero")
    __slots__ = ("ms",)

    def __init__(self, ms: int) -> None:
        self.ms = ms

    def _dt(self) -> _dt.datetime:
        return _EPOCH + _dt.timedelta(milliseconds=self.ms)

    def go_string(self) -> str:
        return self.Format("2006-01-02 15:04:05.999999999 -0700 MST")

    def go_format(self, top: bool = True) -> str:
        return self.go_string()

    def String(self) -> str:
        return self.go_string()

    def Unix(self) -> int:
        return self.ms // 1000

    def UnixMilli(self) -> int:
        return self.ms

    def UnixNano(self) -> int:
        return self.ms * 1_000_000

    def UTC(self) -> GoTime:
        return self

    def IsZero(self) -> bool:
        return False

    def Year(self) -> int:
        return self._dt().year

    def Month(self) -> _GoMonth:
        return _GoMonth(self._dt().month)

    def Day(self) -> int:
        return self._dt().day

    def Hour(self) -> int:
        return self._dt().hour

    def Minute(self) -> int:
        return self._dt().minute

    def Second(self) -> int:
        return self._dt().second

    def Nanosecond(self) -> int:
        return (self.ms % 1000) * 1_000_000

    def Weekday(self) -> _GoWeekday:
        return _GoWeekday((self._dt().weekday() + 1) % 7)

    def YearDay(self) -> int:
        return self._dt().timetuple().tm_yday

    def Format(self, layout: str) -> str:
        """Go's reference-time layout (``2006-01-02T15:04:05Z07:00``), UTC."""
        return _go_time_format(self._dt(), layout)


class _GoMonth(int):
    go_type = "time.Month"

    def go_format(self, top: bool = True) -> str:
        return _MONTHS[self - 1]

    go_string = go_format


class _GoWeekday(int):
    go_type = "time.Weekday"

    def go_format(self, top: bool = True) -> str:
        return ("Sunday", *_DAYS[:6])[self]

    go_string = go_format


_LAYOUT_TOKENS = (
    "January", "Monday", "2006", "Jan", "Mon", "MST", "-07:00:00", "-0700", "-07:00", "-07",
    "Z07:00:00", "Z0700", "Z07:00", "Z07", "01", "02", "03", "04", "05", "06", "15", "PM", "pm",
    "_2", "002", "__2", "1", "2", "3", "4", "5",
)


def _go_time_format(t: _dt.datetime, layout: str) -> str:
    out: list[str] = []
    i = 0
    n = len(layout)
    while i < n:
        # fractional seconds: .000 / .999 / ,000 (Go also accepts a comma)
        if layout[i] in ".," and i + 1 < n and layout[i + 1] in "09":
            j = i + 1
            while j < n and layout[j] == layout[i + 1]:
                j += 1
            if not (j < n and layout[j].isdigit()):
                digits = j - i - 1
                frac = f"{t.microsecond:06d}000"[:digits]
                if layout[i + 1] == "9":
                    frac = frac.rstrip("0")
                    out.append(("." if frac else "") + frac if layout[i] == "." else ("," + frac if frac else ""))
                else:
                    out.append(layout[i] + frac)
                i = j
                continue
        for tok in _LAYOUT_TOKENS:
            if layout.startswith(tok, i):
                break
        else:
            out.append(layout[i])
            i += 1
            continue
        i += len(tok)
        if tok == "2006":
            out.append(f"{t.year:04d}")
        elif tok == "06":
            out.append(f"{t.year % 100:02d}")
        elif tok == "January":
            out.append(_MONTHS[t.month - 1])
        elif tok == "Jan":
            out.append(_MONTHS[t.month - 1][:3])
        elif tok == "01":
            out.append(f"{t.month:02d}")
        elif tok == "1":
            out.append(str(t.month))
        elif tok == "Monday":
            out.append(_DAYS[t.weekday()])
        elif tok == "Mon":
            out.append(_DAYS[t.weekday()][:3])
        elif tok == "02":
            out.append(f"{t.day:02d}")
        elif tok == "_2":
            out.append(f"{t.day:2d}")
        elif tok == "2":
            out.append(str(t.day))
        elif tok == "002":
            out.append(f"{t.timetuple().tm_yday:03d}")
        elif tok == "__2":
            out.append(f"{t.timetuple().tm_yday:3d}")
        elif tok == "15":
            out.append(f"{t.hour:02d}")
        elif tok in ("03", "3"):
            h = t.hour % 12 or 12
            out.append(f"{h:02d}" if tok == "03" else str(h))
        elif tok in ("04", "4"):
            out.append(f"{t.minute:02d}" if tok == "04" else str(t.minute))
        elif tok in ("05", "5"):
            out.append(f"{t.second:02d}" if tok == "05" else str(t.second))
        elif tok in ("PM", "pm"):
            s = "PM" if t.hour >= 12 else "AM"
            out.append(s if tok == "PM" else s.lower())
        elif tok == "MST":
            out.append("UTC")
        elif tok.startswith("Z"):
            out.append("Z")
        else:  # numeric zone, UTC
            out.append({"-0700": "+0000", "-07:00": "+00:00", "-07": "+00", "-07:00:00": "+00:00:00"}[tok])
    return "".join(out)


# --------------------------------------------------------------------------- lexer

_SPACE = " \t\r\n"
_KEYWORDS = {"block", "break", "continue", "define", "else", "end", "if", "range", "nil",
             "template", "with", "true", "false"}

# token kinds
T_TEXT, T_LEFT, T_RIGHT, T_SPACE, T_PIPE, T_LPAREN, T_RPAREN = range(7)
T_DECLARE, T_ASSIGN, T_CHAR, T_STRING, T_RAW, T_CHARCONST, T_NUMBER = range(7, 14)
T_BOOL, T_NIL, T_DOT, T_FIELD, T_VARIABLE, T_IDENT, T_KEYWORD, T_EOF, T_ERROR = range(14, 23)


@dataclass(slots=True)
class _Tok:
    kind: int
    val: str
    pos: int

    def __str__(self) -> str:
        if self.kind == T_EOF:
            return "EOF"
        if self.kind == T_ERROR:
            return self.val
        if self.kind in (T_KEYWORD, T_DOT, T_NIL):
            return f"<{self.val}>"
        if len(self.val) > 10:
            return go_quote(self.val[:10]) + "..."
        return go_quote(self.val)


def _is_alnum(c: str) -> bool:
    return c == "_" or c.isalpha() or c.isdigit()


def _lex(text: str) -> list[_Tok]:
    """Go's template lexer: text and actions, with trim markers and comments resolved here."""
    toks: list[_Tok] = []
    n = len(text)
    pos = 0
    trim_next = False
    while True:
        start = text.find("{{", pos)
        end = n if start < 0 else start
        chunk_start = pos
        if trim_next:
            while chunk_start < end and text[chunk_start] in _SPACE:
                chunk_start += 1
            trim_next = False
        if start < 0:
            if chunk_start < n:
                toks.append(_Tok(T_TEXT, text[chunk_start:], chunk_start))
            toks.append(_Tok(T_EOF, "", n))
            return toks
        after = start + 2
        trim_left = after + 1 < n and text[after] == "-" and text[after + 1] in _SPACE
        chunk_end = end
        if trim_left:
            while chunk_end > chunk_start and text[chunk_end - 1] in _SPACE:
                chunk_end -= 1
        if chunk_end > chunk_start:
            toks.append(_Tok(T_TEXT, text[chunk_start:chunk_end], chunk_start))
        i = after + 2 if trim_left else after
        # comment
        if text.startswith("/*", i):
            close = text.find("*/", i + 2)
            if close < 0:
                toks.append(_Tok(T_ERROR, "unclosed comment", start))
                return toks
            j = close + 2
            if text.startswith("}}", j):
                pos = j + 2
            elif j + 3 < n + 1 and text[j:j + 1] in (" ", "\t", "\r", "\n") and text.startswith("-}}", j + 1):
                pos = j + 4
                trim_next = True
            else:
                toks.append(_Tok(T_ERROR, "comment ends before closing delimiter", close))
                return toks
            continue
        toks.append(_Tok(T_LEFT, "{{", start))
        i, trim_next, ok = _lex_action(text, i, toks)
        if not ok:
            return toks
        pos = i


def _lex_action(text: str, i: int, toks: list[_Tok]) -> tuple[int, bool, bool]:
    """Lex inside ``{{ }}`` from ``i``; return (position after the right delim, trim-right, ok)."""
    n = len(text)
    depth = 0

    def err(msg: str, at: int) -> tuple[int, bool, bool]:
        toks.append(_Tok(T_ERROR, msg, at))
        return i, False, False

    while True:
        if text.startswith("}}", i):
            if depth:
                return err("unclosed left paren", i)
            toks.append(_Tok(T_RIGHT, "}}", i))
            return i + 2, False, True
        if i + 3 < n + 1 and text[i:i + 1] in (" ", "\t", "\r", "\n") and text.startswith("-}}", i + 1):
            if depth:
                return err("unclosed left paren", i)
            toks.append(_Tok(T_RIGHT, "}}", i + 2))
            return i + 4, True, True
        if i >= n:
            return err("unclosed action", i)
        c = text[i]
        if c in _SPACE:
            j = i
            while j < n and text[j] in _SPACE:
                if text.startswith(" -}}", j) or text.startswith("\t-}}", j) or \
                        text.startswith("\r-}}", j) or text.startswith("\n-}}", j):
                    break
                j += 1
            toks.append(_Tok(T_SPACE, text[i:j], i))
            i = j
            continue
        if c == "=":
            toks.append(_Tok(T_ASSIGN, "=", i))
            i += 1
        elif c == ":":
            if not text.startswith(":=", i):
                return err("expected :=", i)
            toks.append(_Tok(T_DECLARE, ":=", i))
            i += 2
        elif c == "|":
            toks.append(_Tok(T_PIPE, "|", i))
            i += 1
        elif c == '"':
            j = i + 1
            while True:
                if j >= n or text[j] == "\n":
                    return err("unterminated quoted string", i)
                if text[j] == "\\":
                    j += 1
                    if j >= n or text[j] == "\n":
                        return err("unterminated quoted string", i)
                elif text[j] == '"':
                    break
                j += 1
            toks.append(_Tok(T_STRING, text[i:j + 1], i))
            i = j + 1
        elif c == "`":
            j = text.find("`", i + 1)
            if j < 0:
                return err("unterminated raw quoted string", i)
            toks.append(_Tok(T_RAW, text[i:j + 1], i))
            i = j + 1
        elif c == "'":
            j = i + 1
            while True:
                if j >= n or text[j] == "\n":
                    return err("unterminated character constant", i)
                if text[j] == "\\":
                    j += 1
                    if j >= n or text[j] == "\n":
                        return err("unterminated character constant", i)
                elif text[j] == "'":
                    break
                j += 1
            toks.append(_Tok(T_CHARCONST, text[i:j + 1], i))
            i = j + 1
        elif c == "$":
            j = i + 1
            while j < n and _is_alnum(text[j]):
                j += 1
            toks.append(_Tok(T_VARIABLE, text[i:j], i))
            i = j
            if i < n and not _at_terminator(text, i):
                return err(f"bad character {_go_char(text[i])}", i)
        elif c == "." and not (i + 1 < n and text[i + 1].isdigit() and text[i + 1].isascii()):
            j = i + 1
            while j < n and _is_alnum(text[j]):
                j += 1
            if j == i + 1:
                toks.append(_Tok(T_DOT, ".", i))
            else:
                toks.append(_Tok(T_FIELD, text[i:j], i))
            i = j
            if i < n and not _at_terminator(text, i):
                return err(f"bad character {_go_char(text[i])}", i)
        elif c in "+-." or (c.isdigit() and c.isascii()):
            j = _scan_number(text, i)
            if j < 0:
                return err(f"bad number syntax: {go_quote(text[i:-j])}", i)
            toks.append(_Tok(T_NUMBER, text[i:j], i))
            i = j
        elif _is_alnum(c):
            j = i
            while j < n and _is_alnum(text[j]):
                j += 1
            word = text[i:j]
            if j < n and not _at_terminator(text, j):
                return err(f"bad character {_go_char(text[j])}", j)
            if word in ("true", "false"):
                toks.append(_Tok(T_BOOL, word, i))
            elif word == "nil":
                toks.append(_Tok(T_NIL, word, i))
            elif word in _KEYWORDS:
                toks.append(_Tok(T_KEYWORD, word, i))
            else:
                toks.append(_Tok(T_IDENT, word, i))
            i = j
        elif c == "(":
            depth += 1
            toks.append(_Tok(T_LPAREN, "(", i))
            i += 1
        elif c == ")":
            depth -= 1
            if depth < 0:
                return err(f"unexpected right paren {_go_char(c)}", i)
            toks.append(_Tok(T_RPAREN, ")", i))
            i += 1
        elif ord(c) < 128 and c.isprintable():
            toks.append(_Tok(T_CHAR, c, i))
            i += 1
        else:
            return err(f"unrecognized character in action: {_go_char(c)}", i)


def _at_terminator(text: str, i: int) -> bool:
    c = text[i]
    if c in _SPACE or c in ".,|:()":
        return True
    return text.startswith("}}", i)


def _go_char(c: str) -> str:
    """Go's ``%#U``: ``U+0041 'A'`` (the quoted char only when printable)."""
    o = ord(c)
    return f"U+{o:04X} '{c}'" if c.isprintable() else f"U+{o:04X}"


def _scan_number(text: str, i: int) -> int:
    """Go's ``scanNumber``: the end of the number at ``i``, or -1 (bad number syntax)."""
    n = len(text)
    if i < n and text[i] in "+-":
        i += 1
    digits = "0123456789_"
    if i < n and text[i] == "0" and i + 1 < n and text[i + 1] in "xXoObB":
        i += 2
        digits = {"x": "0123456789abcdefABCDEF_", "o": "01234567_", "b": "01_"}[text[i - 1].lower()]
    while i < n and text[i] in digits:
        i += 1
    if i < n and text[i] == ".":
        i += 1
        while i < n and text[i] in digits:
            i += 1
    if len(digits) == 11 and i < n and text[i] in "eE":
        i += 1
        if i < n and text[i] in "+-":
            i += 1
        while i < n and text[i] in "0123456789_":
            i += 1
    if len(digits) == 23 and i < n and text[i] in "pP":
        i += 1
        if i < n and text[i] in "+-":
            i += 1
        while i < n and text[i] in "0123456789_":
            i += 1
    if i < n and text[i] == "i":
        i += 1
    if i < n and _is_alnum(text[i]):
        return -(i + 1)
    return i


# --------------------------------------------------------------------------- Go literals

_ESCAPES = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92}


def _unquote(lit: str) -> str:
    """Go's ``strconv.Unquote`` of a "..." or `...` literal; ValueError("invalid syntax")."""
    if lit[0] == "`":
        return lit[1:-1].replace("\r", "")
    quote = lit[0]
    body = lit[1:-1]
    out = bytearray()
    i = 0
    n = len(body)
    while i < n:
        c = body[i]
        if c == quote:
            raise ValueError("invalid syntax")
        if c != "\\":
            out += c.encode("utf-8", "surrogateescape")
            i += 1
            continue
        i += 1
        if i >= n:
            raise ValueError("invalid syntax")
        e = body[i]
        i += 1
        if e in _ESCAPES:
            out.append(_ESCAPES[e])
        elif e == quote:
            out += e.encode()
        elif e in "xuU":
            width = {"x": 2, "u": 4, "U": 8}[e]
            h = body[i:i + width]
            if len(h) != width or any(ch not in "0123456789abcdefABCDEF" for ch in h):
                raise ValueError("invalid syntax")
            i += width
            v = int(h, 16)
            if e == "x":
                out.append(v)
            else:
                if v > 0x10FFFF or 0xD800 <= v <= 0xDFFF:
                    raise ValueError("invalid syntax")
                out += chr(v).encode()
        elif e in "01234567":
            o = body[i - 1:i + 2]
            if len(o) != 3 or any(ch not in "01234567" for ch in o) or int(o, 8) > 255:
                raise ValueError("invalid syntax")
            i += 2
            out.append(int(o, 8))
        else:
            raise ValueError("invalid syntax")
    return out.decode("utf-8", "replace")


def _parse_go_int(text: str) -> int | None:
    """``strconv.ParseInt(text, 0, ...)`` without the range check; None if not an integer literal."""
    if not text or not text.isascii():
        return None
    sign = 1
    body = text
    if body[0] in "+-":
        sign = -1 if body[0] == "-" else 1
        body = body[1:]
    if not body:
        return None
    try:
        if len(body) > 1 and body[0] == "0" and body[1] in "xXoObB":
            return sign * int(body, 0)
        if len(body) > 1 and body[0] == "0":
            rest = body[1:].lstrip("_") if body[1] == "_" else body[1:]
            if not rest or body.endswith("_") or "__" in body or any(ch not in "01234567_" for ch in rest):
                return None
            return sign * int(rest.replace("_", ""), 8)
        if not (body[0].isdigit()):
            return None
        return sign * int(body, 10)
    except ValueError:
        return None


_INF_NAN = {"inf": math.inf, "+inf": math.inf, "-inf": -math.inf, "infinity": math.inf,
            "+infinity": math.inf, "-infinity": -math.inf, "nan": math.nan}


def parse_go_float(s: str) -> float:
    """Go's ``strconv.ParseFloat(s, 64)``; raises FuncError with Go's message."""
    low = s.lower()
    if low in _INF_NAN:
        return _INF_NAN[low]
    ok = bool(s) and s.isascii() and s.strip() == s and "inf" not in low and "nan" not in low
    v = 0.0
    if ok:
        body = s.lstrip("+-")
        try:
            if body[:2] in ("0x", "0X"):
                if "p" not in low:
                    raise ValueError
                v = float.fromhex(s.replace("_", ""))
            else:
                v = float(s)
        except (ValueError, OverflowError):
            ok = False
    if not ok:
        raise FuncError(f"strconv.ParseFloat: parsing {go_quote(s)}: invalid syntax")
    if math.isinf(v):
        raise FuncError(f"strconv.ParseFloat: parsing {go_quote(s)}: value out of range")
    return v


# --------------------------------------------------------------------------- parse tree


class _Node:
    __slots__ = ("pos",)

    def __init__(self, pos: int) -> None:
        self.pos = pos


class _Text(_Node):
    __slots__ = ("text",)

    def __init__(self, pos: int, text: str) -> None:
        super().__init__(pos)
        self.text = text

    def __str__(self) -> str:
        return self.text


class _List(_Node):
    __slots__ = ("nodes",)

    def __init__(self, pos: int) -> None:
        super().__init__(pos)
        self.nodes: list[_Node] = []

    def __str__(self) -> str:
        return "".join(str(n) for n in self.nodes)


class _Dot(_Node):
    __slots__ = ()

    def __str__(self) -> str:
        return "."


class _Nil(_Node):
    __slots__ = ()

    def __str__(self) -> str:
        return "nil"


class _Bool(_Node):
    __slots__ = ("value",)

    def __init__(self, pos: int, value: bool) -> None:
        super().__init__(pos)
        self.value = value

    def __str__(self) -> str:
        return "true" if self.value else "false"


class _String(_Node):
    __slots__ = ("quoted", "text")

    def __init__(self, pos: int, quoted: str, text: str) -> None:
        super().__init__(pos)
        self.quoted = quoted
        self.text = text

    def __str__(self) -> str:
        return self.quoted


class _Number(_Node):
    __slots__ = ("text", "value")

    def __init__(self, pos: int, text: str, value: int | float | None) -> None:
        super().__init__(pos)
        self.text = text
        self.value = value  # what Go's idealConstant yields (None: "<no value>")

    def __str__(self) -> str:
        return self.text


class _Field(_Node):
    __slots__ = ("idents",)

    def __init__(self, pos: int, idents: list[str]) -> None:
        super().__init__(pos)
        self.idents = idents

    def __str__(self) -> str:
        return "." + ".".join(self.idents)


class _Variable(_Node):
    __slots__ = ("idents",)

    def __init__(self, pos: int, idents: list[str]) -> None:
        super().__init__(pos)
        self.idents = idents

    def __str__(self) -> str:
        return ".".join(self.idents)


class _Ident(_Node):
    __slots__ = ("name",)

    def __init__(self, pos: int, name: str) -> None:
        super().__init__(pos)
        self.name = name

    def __str__(self) -> str:
        return self.name


class _Chain(_Node):
    __slots__ = ("node", "fields")

    def __init__(self, pos: int, node: _Node, fields: list[str]) -> None:
        super().__init__(pos)
        self.node = node
        self.fields = fields

    def __str__(self) -> str:
        s = f"({self.node})" if isinstance(self.node, _Pipe) else str(self.node)
        return s + "".join("." + f for f in self.fields)


class _Command(_Node):
    __slots__ = ("args",)

    def __init__(self, pos: int) -> None:
        super().__init__(pos)
        self.args: list[_Node] = []

    def __str__(self) -> str:
        return " ".join(f"({a})" if isinstance(a, _Pipe) else str(a) for a in self.args)


class _Pipe(_Node):
    __slots__ = ("decl", "is_assign", "cmds")

    def __init__(self, pos: int) -> None:
        super().__init__(pos)
        self.decl: list[_Variable] = []
        self.is_assign = False
        self.cmds: list[_Command] = []

    def __str__(self) -> str:
        s = ""
        if self.decl:
            s = ", ".join(str(v) for v in self.decl) + (" = " if self.is_assign else " := ")
        return s + " | ".join(str(c) for c in self.cmds)


class _Action(_Node):
    __slots__ = ("pipe",)

    def __init__(self, pos: int, pipe: _Pipe) -> None:
        super().__init__(pos)
        self.pipe = pipe

    def __str__(self) -> str:
        return "{{" + str(self.pipe) + "}}"


class _Branch(_Node):
    __slots__ = ("kind", "pipe", "list", "else_list")

    def __init__(self, kind: str, pos: int, pipe: _Pipe, lst: _List, else_list: _List | None) -> None:
        super().__init__(pos)
        self.kind = kind
        self.pipe = pipe
        self.list = lst
        self.else_list = else_list

    def __str__(self) -> str:
        s = "{{" + self.kind + " " + str(self.pipe) + "}}" + str(self.list)
        if self.else_list is not None:
            s += "{{else}}" + str(self.else_list)
        return s + "{{end}}"


class _TemplateCall(_Node):
    __slots__ = ("name", "pipe")

    def __init__(self, pos: int, name: str, pipe: _Pipe | None) -> None:
        super().__init__(pos)
        self.name = name
        self.pipe = pipe

    def __str__(self) -> str:
        if self.pipe is None:
            return "{{template " + go_quote(self.name) + "}}"
        return "{{template " + go_quote(self.name) + " " + str(self.pipe) + "}}"


class _Break(_Node):
    __slots__ = ()

    def __str__(self) -> str:
        return "{{break}}"


class _Continue(_Node):
    __slots__ = ()

    def __str__(self) -> str:
        return "{{continue}}"


class _End(_Node):
    __slots__ = ()

    def __str__(self) -> str:
        return "{{end}}"


class _Else(_Node):
    __slots__ = ()

    def __str__(self) -> str:
        return "{{else}}"


class _ParseError(Exception):
    def __init__(self, msg: str, pos: int) -> None:
        super().__init__(msg)
        self.msg = msg
        self.pos = pos


_LITERALS = (_Bool, _Dot, _Nil, _Number, _String)


class _Parser:
    """Go's ``text/template/parse``: recursive descent over the token list."""

    def __init__(self, text: str, funcs: Collection[str]) -> None:
        self.text = text
        self.toks = _lex(text)
        self.i = 0
        self.funcs = funcs
        self.vars: list[str] = ["$"]
        self.range_depth = 0
        self.depth = 0
        self.trees: dict[str, _List] = {}

    # tokens
    def next(self) -> _Tok:
        t = self.toks[min(self.i, len(self.toks) - 1)]
        if t.kind == T_ERROR:
            raise _ParseError(t.val, t.pos)
        self.i += 1
        return t

    def backup(self, k: int = 1) -> None:
        self.i -= k

    def peek(self) -> _Tok:
        t = self.toks[min(self.i, len(self.toks) - 1)]
        if t.kind == T_ERROR:
            raise _ParseError(t.val, t.pos)
        return t

    def next_non_space(self) -> _Tok:
        t = self.next()
        while t.kind == T_SPACE:
            t = self.next()
        return t

    def peek_non_space(self) -> _Tok:
        """Go's ``peekNonSpace``: skips (consumes) spaces, then peeks."""
        t = self.next_non_space()
        self.backup()
        return t

    def error(self, msg: str, pos: int) -> _ParseError:
        return _ParseError(msg, pos)

    def unexpected(self, tok: _Tok, context: str) -> _ParseError:
        return _ParseError(f"unexpected {tok} in {context}", tok.pos)

    def expect(self, kind: int, context: str) -> _Tok:
        t = self.next_non_space()
        if t.kind != kind:
            raise self.unexpected(t, context)
        return t

    def enter(self, pos: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _ParseError("max depth exceeded", pos)

    # top level
    def parse(self, name: str) -> dict[str, _List]:
        root = _List(0)
        while self.peek().kind != T_EOF:
            if self.peek().kind == T_LEFT:
                save = self.i
                self.next()
                t = self.next_non_space()
                if t.kind == T_KEYWORD and t.val == "define":
                    self.parse_definition()
                    continue
                self.i = save
            n = self.text_or_action()
            if isinstance(n, _End | _Else):
                raise self.error(f"unexpected {n}", n.pos)
            root.nodes.append(n)
        self.add(name, root, 0)
        return self.trees

    def add(self, name: str, root: _List, pos: int) -> None:
        old = self.trees.get(name)
        if old is None or _is_empty(old):
            self.trees[name] = root
            return
        if not _is_empty(root):
            raise self.error(f"template: multiple definition of template {go_quote(name)}", pos)

    def parse_definition(self) -> None:
        t = self.next_non_space()
        if t.kind not in (T_STRING, T_RAW):
            raise self.unexpected(t, "define clause")
        name = self.unquote(t)
        self.expect(T_RIGHT, "define clause")
        saved_vars, self.vars = self.vars, ["$"]
        lst, end = self.item_list()
        if not isinstance(end, _End):
            raise self.error(f"unexpected {end} in define clause", end.pos)
        self.vars = saved_vars
        self.add(name, lst, t.pos)

    def unquote(self, t: _Tok) -> str:
        try:
            return _unquote(t.val)
        except ValueError as e:
            raise self.error(str(e), t.pos) from None

    def item_list(self) -> tuple[_List, _Node]:
        lst = _List(self.peek_non_space().pos)
        while self.peek_non_space().kind != T_EOF:
            n = self.text_or_action()
            if isinstance(n, _End | _Else):
                return lst, n
            lst.nodes.append(n)
        raise self.error("unexpected EOF", len(self.text))

    def text_or_action(self) -> _Node:
        t = self.next_non_space()
        if t.kind == T_TEXT:
            return _Text(t.pos, t.val)
        if t.kind == T_LEFT:
            return self.action()
        raise self.unexpected(t, "input")

    def action(self) -> _Node:
        t = self.next_non_space()
        if t.kind == T_KEYWORD:
            kw = t.val
            if kw == "block":
                return self.block_control()
            if kw in ("break", "continue"):
                u = self.next_non_space()
                if u.kind != T_RIGHT:
                    raise self.unexpected(u, "{{" + kw + "}}")
                if self.range_depth == 0:
                    raise self.error("{{" + kw + "}} outside {{range}}", t.pos)
                return _Break(t.pos) if kw == "break" else _Continue(t.pos)
            if kw == "else":
                p = self.peek_non_space()
                if p.kind == T_KEYWORD and p.val in ("if", "with"):
                    return _Else(p.pos)
                u = self.expect(T_RIGHT, "else")
                return _Else(u.pos)
            if kw == "end":
                u = self.expect(T_RIGHT, "end")
                return _End(u.pos)
            if kw in ("if", "range", "with"):
                return self.control(kw)
            if kw == "template":
                return self.template_control()
        self.backup()
        p = self.peek()
        return _Action(p.pos, self.pipeline("command", T_RIGHT))

    def control(self, context: str) -> _Node:
        self.enter(self.peek().pos)
        nvars = len(self.vars)
        pipe = self.pipeline(context, T_RIGHT)
        if context == "range":
            self.range_depth += 1
        lst, nxt = self.item_list()
        if context == "range":
            self.range_depth -= 1
        else_list = None
        if isinstance(nxt, _Else):
            p = self.peek_non_space()
            if context in ("if", "with") and p.kind == T_KEYWORD and p.val == context:
                self.next()
                else_list = _List(nxt.pos)
                else_list.nodes.append(self.control(context))
            else:
                else_list, nxt = self.item_list()
                if not isinstance(nxt, _End):
                    raise self.error(f"expected end; found {nxt}", nxt.pos)
        del self.vars[nvars:]
        self.depth -= 1
        return _Branch(context, pipe.pos, pipe, lst, else_list)

    def template_control(self) -> _Node:
        t = self.next_non_space()
        if t.kind not in (T_STRING, T_RAW):
            raise self.unexpected(t, "template clause")
        name = self.unquote(t)
        pipe = None
        if self.next_non_space().kind != T_RIGHT:
            self.backup()
            pipe = self.pipeline("template clause", T_RIGHT)
        return _TemplateCall(t.pos, name, pipe)

    def block_control(self) -> _Node:
        t = self.next_non_space()
        if t.kind not in (T_STRING, T_RAW):
            raise self.unexpected(t, "block clause")
        name = self.unquote(t)
        pipe = self.pipeline("block clause", T_RIGHT)
        self.enter(t.pos)
        saved_vars, saved_range = self.vars, self.range_depth
        self.vars, self.range_depth = ["$"], 0
        lst, end = self.item_list()
        if not isinstance(end, _End):
            raise self.error(f"unexpected {end} in block clause", end.pos)
        self.vars, self.range_depth = saved_vars, saved_range
        self.depth -= 1
        self.add(name, lst, t.pos)
        return _TemplateCall(t.pos, name, pipe)

    def pipeline(self, context: str, end: int) -> _Pipe:
        pipe = _Pipe(self.peek_non_space().pos)
        while True:
            v = self.peek_non_space()
            if v.kind != T_VARIABLE:
                break
            save = self.i
            self.next_non_space()
            after = self.peek()
            nxt = self.peek_non_space()
            if nxt.kind in (T_ASSIGN, T_DECLARE):
                pipe.is_assign = nxt.kind == T_ASSIGN
                self.next_non_space()
                pipe.decl.append(_Variable(v.pos, [v.val]))
                self.vars.append(v.val)
                break
            if nxt.kind == T_CHAR and nxt.val == ",":
                self.next_non_space()
                pipe.decl.append(_Variable(v.pos, [v.val]))
                self.vars.append(v.val)
                if context == "range" and len(pipe.decl) < 2:
                    p = self.peek_non_space()
                    if p.kind in (T_VARIABLE, T_RIGHT, T_RPAREN):
                        continue
                    raise self.error("range can only initialize variables", p.pos)
                raise self.error(f"too many declarations in {context}", nxt.pos)
            del after
            self.i = save
            break
        while True:
            t = self.next_non_space()
            if t.kind == end:
                if not pipe.cmds:
                    raise self.error(f"missing value for {context}", t.pos)
                for k, c in enumerate(pipe.cmds[1:]):
                    if isinstance(c.args[0], _LITERALS):
                        raise self.error(f"non executable command in pipeline stage {k + 2}", c.pos)
                return pipe
            if t.kind in (T_BOOL, T_CHARCONST, T_DOT, T_FIELD, T_IDENT, T_NUMBER, T_NIL, T_RAW,
                          T_STRING, T_VARIABLE, T_LPAREN):
                self.backup()
                pipe.cmds.append(self.command())
            else:
                raise self.unexpected(t, context)

    def command(self) -> _Command:
        cmd = _Command(self.peek_non_space().pos)
        while True:
            self.peek_non_space()
            operand = self.operand()
            if operand is not None:
                cmd.args.append(operand)
            t = self.next()
            if t.kind == T_SPACE:
                continue
            if t.kind in (T_RIGHT, T_RPAREN):
                self.backup()
            elif t.kind == T_PIPE:
                pass
            else:
                raise self.unexpected(t, "operand")
            break
        if not cmd.args:
            raise self.error("empty command", cmd.pos)
        return cmd

    def operand(self) -> _Node | None:
        node = self.term()
        if node is None:
            return None
        if self.peek().kind == T_FIELD:
            cpos = self.peek().pos
            fields: list[str] = []
            while self.peek().kind == T_FIELD:
                fields.append(self.next().val[1:])
            if isinstance(node, _Field):
                return _Field(cpos, node.idents + fields)
            if isinstance(node, _Variable):
                return _Variable(cpos, node.idents + fields)
            if isinstance(node, _LITERALS):
                raise self.error(f"unexpected . after term {go_quote(str(node))}", cpos)
            return _Chain(cpos, node, fields)
        return node

    def term(self) -> _Node | None:
        t = self.next_non_space()
        k = t.kind
        if k == T_IDENT:
            if t.val not in self.funcs:
                raise self.error(f"function {go_quote(t.val)} not defined", t.pos)
            return _Ident(t.pos, t.val)
        if k == T_DOT:
            return _Dot(t.pos)
        if k == T_NIL:
            return _Nil(t.pos)
        if k == T_VARIABLE:
            if t.val not in self.vars:
                raise self.error(f"undefined variable {go_quote(t.val)}", t.pos)
            return _Variable(t.pos, [t.val])
        if k == T_FIELD:
            return _Field(t.pos, [t.val[1:]])
        if k == T_BOOL:
            return _Bool(t.pos, t.val == "true")
        if k in (T_NUMBER, T_CHARCONST):
            return self.number(t)
        if k == T_LPAREN:
            self.enter(t.pos)
            p = self.pipeline("parenthesized pipeline", T_RPAREN)
            self.depth -= 1
            return p
        if k in (T_STRING, T_RAW):
            return _String(t.pos, t.val, self.unquote(t))
        self.backup()
        return None

    def number(self, t: _Tok) -> _Number:
        text = t.val
        if t.kind == T_CHARCONST:
            try:
                s = _unquote(text)
            except ValueError:
                raise self.error(f"malformed character constant: {text}", t.pos) from None
            if len(s) != 1:
                raise self.error(f"malformed character constant: {text}", t.pos)
            return _Number(t.pos, text, ord(s))
        if text.endswith("i"):
            raise self.error(f"illegal number syntax: {go_quote(text)} (complex numbers are not supported)",
                             t.pos)
        iv = _parse_go_int(text)
        if iv is not None:
            if -(1 << 63) <= iv < (1 << 63):
                is_hex_int = text.lstrip("+-")[:2] in ("0x", "0X")
                if any(c in text for c in ".eEpP") and not is_hex_int:
                    return _Number(t.pos, text, float(iv))
                return _Number(t.pos, text, iv)
            if iv < (1 << 64) and iv >= 0:
                raise self.error(f"{text} overflows int", t.pos)
        try:
            f = parse_go_float(text)
        except FuncError:
            raise self.error(f"illegal number syntax: {go_quote(text)}", t.pos) from None
        if not any(c in text for c in ".eEpP"):
            raise self.error(f"integer overflow: {go_quote(text)}", t.pos)
        return _Number(t.pos, text, f)


def _is_empty(lst: _List) -> bool:
    for n in lst.nodes:
        if isinstance(n, _Text):
            if n.text.strip(_SPACE):
                return False
        else:
            return False
    return True


# --------------------------------------------------------------------------- functions


@dataclass(frozen=True, slots=True)
class GoFunc:
    """A template function with Go's parameter types, so calls are checked as Go checks them.

    Kinds: ``any`` (interface{}), ``str``, ``float``, ``int``, ``bool``,
    ``sample`` (*template.sample), ``vector`` (template.queryResult).
    """

    fn: Callable[..., Any]
    params: tuple[str, ...] = ()
    variadic: str | None = None


_KIND_TYPES = {"str": "string", "float": "float64", "int": "int", "bool": "bool",
               "sample": "*template.sample", "vector": "template.queryResult", "any": "interface {}"}
_MISSING = object()


class _BreakLoop(Exception):
    pass


class _ContinueLoop(Exception):
    pass


def _truth(v: Any) -> bool:
    """Go's ``truth``: the zero value of its type is false."""
    if v is None:
        return False
    if isinstance(v, bool):
        return v
    if isinstance(v, int | float):
        return v != 0
    if isinstance(v, str | list | tuple | dict):
        return len(v) > 0
    return True


def _basic_kind(v: Any) -> str:
    if v is None:
        return "invalid"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, str):
        return "string"
    return "other"


def _eq(arg1: Any, *args: Any) -> bool:
    if not args:
        raise FuncError("missing argument for comparison")
    k1 = _basic_kind(arg1)
    for a in args:
        k2 = _basic_kind(a)
        if k1 != k2:
            if arg1 is not None and a is not None:
                raise FuncError("incompatible types for comparison")
            continue
        if k1 == "other":
            if isinstance(arg1, dict | list) or isinstance(a, dict | list):
                t = arg1 if isinstance(arg1, dict | list) else a
                raise FuncError(f"non-comparable type {format_value(t)}: {go_type_name(t)}")
            if arg1 is a or arg1 == a:
                return True
        elif k1 == "invalid" or arg1 == a:
            return True
    return False


def _lt(a: Any, b: Any) -> bool:
    k1, k2 = _basic_kind(a), _basic_kind(b)
    if k1 in ("bool", "other", "invalid") or k2 in ("bool", "other", "invalid"):
        raise FuncError("invalid type for comparison")
    if k1 != k2:
        raise FuncError("incompatible types for comparison")
    return a < b


def _le(a: Any, b: Any) -> bool:
    return _lt(a, b) or _eq(a, b)


def _go_len(v: Any) -> int:
    if isinstance(v, str):
        return len(v.encode("utf-8", "surrogateescape"))
    if isinstance(v, list | tuple | dict):
        return len(v)
    raise FuncError(f"len of type {go_type_name(v)}")


def _index_of(v: Any, n: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise FuncError(f"cannot index slice/array with type {go_type_name(v)}")
    return v


def _go_index(item: Any, *indexes: Any) -> Any:
    if item is None:
        raise FuncError("index of untyped nil")
    for ix in indexes:
        if isinstance(item, str):
            b = item.encode("utf-8", "surrogateescape")
            i = _index_of(ix, len(b))
            if not 0 <= i < len(b):
                raise FuncError(f"index out of range: {i}")
            item = b[i]
        elif isinstance(item, list | tuple):
            i = _index_of(ix, len(item))
            if not 0 <= i < len(item):
                raise FuncError(f"index out of range: {i}")
            item = item[i]
        elif isinstance(item, dict):
            if ix is None:
                raise FuncError("value is nil; should be of type string")
            if not isinstance(ix, str) and all(isinstance(k, str) for k in item):
                raise FuncError(f"value has type {go_type_name(ix)}; should be string")
            item = item.get(ix, getattr(item, "zero", None))
        elif item is None:
            raise FuncError("index of nil pointer")
        else:
            raise FuncError(f"can't index item of type {go_type_name(item)}")
    return item


def _go_slice(item: Any, *indexes: Any) -> Any:
    if item is None:
        raise FuncError("slice of untyped nil")
    if len(indexes) > 3:
        raise FuncError(f"too many slice indexes: {len(indexes)}")
    if isinstance(item, str):
        if len(indexes) == 3:
            raise FuncError("cannot 3-index slice a string")
        seq: Any = item.encode("utf-8", "surrogateescape")
    elif isinstance(item, list | tuple):
        seq = item
    else:
        raise FuncError(f"can't slice item of type {go_type_name(item)}")
    cap = len(seq)
    idx = [0, len(seq)]
    for k, ix in enumerate(indexes):
        i = _index_of(ix, cap)
        if not 0 <= i <= cap:
            raise FuncError(f"index out of range: {i}")
        if k < 2:
            idx[k] = i
    if idx[0] > idx[1]:
        raise FuncError(f"invalid slice index: {idx[0]} > {idx[1]}")
    if len(indexes) == 3 and indexes[2] < idx[1]:
        raise FuncError(f"invalid slice index: {idx[1]} > {indexes[2]}")
    out = seq[idx[0]:idx[1]]
    if isinstance(item, str):
        return out.decode("utf-8", "surrogateescape")
    return type(item)(out) if isinstance(item, QueryResult) else list(out)


def _eval_args_str(args: tuple) -> str:
    """Go's ``evalArgs`` for html/js/urlquery: a lone string as is, else Sprint of printable values."""
    if len(args) == 1 and isinstance(args[0], str):
        return args[0]
    return sprint([_print_value(a) if a is None or isinstance(a, GoStruct) else a for a in args])


def _html_escape(*args: Any) -> str:
    s = _eval_args_str(args)
    return (s.replace("&", "&amp;").replace("'", "&#39;").replace("<", "&lt;")
            .replace(">", "&gt;").replace('"', "&#34;").replace("\x00", "\ufffd"))


_JS_SPECIAL = {"\\": "\\\\", "'": "\\'", '"': '\\"', "<": "\\u003C", ">": "\\u003E",
               "&": "\\u0026", "=": "\\u003D"}


def _js_escape(*args: Any) -> str:
    s = _eval_args_str(args)
    out = []
    for c in s:
        o = ord(c)
        if c in _JS_SPECIAL:
            out.append(_JS_SPECIAL[c])
        elif o < 0x20:
            out.append(f"\\u00{o:02X}")
        elif o >= 0x80 and not c.isprintable():
            out.append(f"\\u{o:04X}")
        else:
            out.append(c)
    return "".join(out)


def _urlquery(*args: Any) -> str:
    return quote_plus(_eval_args_str(args), safe="-_.~")


def _lazy_builtin(*_args: Any) -> Any:  # pragma: no cover - the executor short-circuits and/or itself
    raise FuncError("and/or are evaluated by the executor")


# and/or are evaluated lazily by the executor (Go short-circuits them); the entries declare them.
GO_BUILTINS: dict[str, GoFunc] = {
    "and": GoFunc(_lazy_builtin, ("any",), "any"),
    "or": GoFunc(_lazy_builtin, ("any",), "any"),
    "not": GoFunc(lambda v: not _truth(v), ("any",)),
    "len": GoFunc(_go_len, ("any",)),
    "index": GoFunc(_go_index, ("any",), "any"),
    "slice": GoFunc(_go_slice, ("any",), "any"),
    "print": GoFunc(lambda *a: sprint(list(a)), (), "any"),
    "printf": GoFunc(lambda f, *a: sprintf(f, list(a)), ("str",), "any"),
    "println": GoFunc(lambda *a: sprintln(list(a)), (), "any"),
    "eq": GoFunc(_eq, ("any",), "any"),
    "ne": GoFunc(lambda a, b: not _eq(a, b), ("any", "any")),
    "lt": GoFunc(_lt, ("any", "any")),
    "le": GoFunc(_le, ("any", "any")),
    "gt": GoFunc(lambda a, b: not _le(a, b), ("any", "any")),
    "ge": GoFunc(lambda a, b: not _lt(a, b), ("any", "any")),
    "html": GoFunc(_html_escape, (), "any"),
    "js": GoFunc(_js_escape, (), "any"),
    "urlquery": GoFunc(_urlquery, (), "any"),
}


# ----- Prometheus's functions


def _to_float(v: Any) -> float:
    """``ConvertToFloat`` of prometheus/common: float64, numeric string, ints."""
    if isinstance(v, bool):
        raise FuncError("can't convert bool to float")
    if isinstance(v, float):
        return v
    if isinstance(v, int):
        return float(v)
    if isinstance(v, str):
        return parse_go_float(v)
    if v is None:
        raise FuncError("can't convert <nil> to float")
    raise FuncError(f"can't convert {go_type_name(v)} to float")


def _g4(v: float) -> str:
    """Go's ``%.4g``."""
    return sprintf("%.4g", [v])


def humanize(v: Any) -> str:
    """Prometheus's ``humanize``: SI prefixes, 4 significant digits."""
    f = _to_float(v)
    if f == 0 or math.isnan(f) or math.isinf(f):
        return _g4(f)
    prefix = ""
    if abs(f) >= 1:
        for p in ("k", "M", "G", "T", "P", "E", "Z", "Y"):
            if abs(f) < 1000:
                break
            prefix = p
            f /= 1000
        return _g4(f) + prefix
    for p in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(f) >= 1:
            break
        prefix = p
        f *= 1000
    return _g4(f) + prefix


def humanize1024(v: Any) -> str:
    """Prometheus's ``humanize1024``: binary prefixes (ki, Mi, ...)."""
    f = _to_float(v)
    if abs(f) <= 1 or math.isnan(f) or math.isinf(f):
        return _g4(f)
    prefix = ""
    for p in ("ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"):
        if abs(f) < 1024:
            break
        prefix = p
        f /= 1024
    return _g4(f) + prefix


def _go_int64(f: float) -> int:
    """Go's ``int64(f)`` for a finite float (truncation; saturating where amd64 gives MinInt64)."""
    if f >= 9.223372036854775807e18 or f < -9.223372036854775808e18:
        return -(1 << 63)
    return int(f)


def _go_quo_rem(a: int, b: int) -> tuple[int, int]:
    q = abs(a) // b
    q = q if a >= 0 else -q
    return q, a - q * b


def humanize_duration(v: Any) -> str:
    """Prometheus's ``humanizeDuration``: ``1d 2h 3m 4s``, ``1.234s``, ``100ms``."""
    f = _to_float(v)
    if math.isnan(f) or math.isinf(f):
        return _g4(f)
    if f == 0:
        return _g4(f) + "s"
    if abs(f) >= 1:
        sign = ""
        if f < 0:
            sign = "-"
            f = -f
        d = _go_int64(f)
        seconds = _go_quo_rem(d, 60)[1]
        minutes = _go_quo_rem(_go_quo_rem(d, 60)[0], 60)[1]
        hours = _go_quo_rem(_go_quo_rem(_go_quo_rem(d, 60)[0], 60)[0], 24)[1]
        days = _go_quo_rem(_go_quo_rem(_go_quo_rem(d, 60)[0], 60)[0], 24)[0]
        if days:
            return f"{sign}{days}d {hours}h {minutes}m {seconds}s"
        if hours:
            return f"{sign}{hours}h {minutes}m {seconds}s"
        if minutes:
            return f"{sign}{minutes}m {seconds}s"
        return f"{sign}{_g4(f)}s"
    prefix = ""
    for p in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(f) >= 1:
            break
        prefix = p
        f *= 1000
    return f"{_g4(f)}{prefix}s"


def humanize_percentage(v: Any) -> str:
    """Prometheus's ``humanizePercentage``: ratio to ``12.34%``."""
    return _g4(_to_float(v) * 100) + "%"


def _float_to_time(f: float) -> GoTime:
    if math.isnan(f) or math.isinf(f):
        raise FuncError("value is NaN or Inf")
    ns = f * 1e9
    if ns >= 9.223372036854775807e18 or ns < -9.223372036854775808e18:
        raise FuncError(f"{format_value(f)} cannot be represented as a nanoseconds timestamp "
                        "since it overflows int64")
    # model.TimeFromUnixNano: integer nanoseconds, truncated to milliseconds toward zero.
    ins = int(ns)
    ms = abs(ins) // 1_000_000
    return GoTime(ms if ins >= 0 else -ms)


def humanize_timestamp(v: Any) -> str:
    """Prometheus's ``humanizeTimestamp``: Unix seconds to ``2015-06-23 13:19:44.128 +0000 UTC``."""
    f = _to_float(v)
    if math.isnan(f) or math.isinf(f):
        return _g4(f)
    return _float_to_time(f).go_string()


def to_time(v: Any) -> GoTime:
    """Prometheus's ``toTime``: Unix seconds to a ``*time.Time``."""
    return _float_to_time(_to_float(v))


def _go_title(s: str) -> str:
    """``cases.Title(language.AmericanEnglish, cases.NoLower)``: upper-case each word's first letter.

    A word starts after a character that is not a letter, digit, mark,
    underscore or apostrophe (so ``don't`` stays ``Don't``).
    """
    out = []
    prev_word = False
    for c in s:
        in_word = c.isalnum() or c in "_'’" or unicodedata.category(c).startswith("M")
        if in_word and not prev_word and c not in "'’":
            u = c.title()
            out.append(u if len(u) == 1 else c)
        else:
            out.append(c)
        prev_word = in_word
    return "".join(out)


def _go_case(s: str, upper: bool) -> str:
    """Go's ``strings.ToUpper``/``ToLower``: rune by rune (simple case mapping)."""
    if s.isascii():
        return s.upper() if upper else s.lower()
    out = []
    for c in s:
        m = c.upper() if upper else c.lower()
        out.append(m if len(m) == 1 else c)
    return "".join(out)


_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False
_RE_CACHE: dict[str, Any] = {}


def _go_regexp_error(pattern: str) -> str:
    """Go's ``regexp.Compile`` error text for ``pattern`` (unwrapped, unlike a label matcher's)."""
    msg = regex_error_message(pattern)
    wrapped = f"^(?s:{pattern})$"
    msg = msg.replace(f"`{wrapped}`", f"`{pattern}`")
    if msg.endswith(")$`"):
        msg = msg[:-3] + "`"
    return msg


def _compile(pattern: str) -> Any:
    r = _RE_CACHE.get(pattern)
    if r is None:
        try:
            r = re2.compile(pattern, _RE2_OPTIONS)
        except re2.error:
            raise FuncError(_go_regexp_error(pattern)) from None
        if len(_RE_CACHE) > 256:
            _RE_CACHE.clear()
        _RE_CACHE[pattern] = r
    return r


def _match(pattern: str, text: str) -> bool:
    return _compile(pattern).search(text) is not None


def _go_expand(repl: str, group: Callable[[int], str], groupindex: Mapping[str, int], ngroups: int) -> str:
    """Go's ``Regexp.Expand`` template: ``$1``, ``${1}``, ``$name``, ``${name}``, ``$$``."""
    out = []
    i = 0
    n = len(repl)
    while i < n:
        j = repl.find("$", i)
        if j < 0:
            out.append(repl[i:])
            break
        out.append(repl[i:j])
        i = j + 1
        if i < n and repl[i] == "$":
            out.append("$")
            i += 1
            continue
        name = ""
        if i < n and repl[i] == "{":
            k = i + 1
            while k < n and _is_alnum(repl[k]):
                k += 1
            if k < n and repl[k] == "}" and k > i + 1:
                name = repl[i + 1:k]
                i = k + 1
        else:
            k = i
            while k < n and _is_alnum(repl[k]):
                k += 1
            if k > i:
                name = repl[i:k]
                i = k
        if not name:
            out.append("$")  # malformed: the $ is literal
            continue
        num = int(name) if name.isascii() and name.isdigit() else None
        if num is not None:
            if num <= ngroups:
                out.append(group(num))
        elif name in groupindex:
            out.append(group(groupindex[name]))
    return "".join(out)


_RE_BYTES_CACHE: dict[str, Any] = {}


def _utf8_width(b: bytes, i: int) -> int:
    if i >= len(b):
        return 0
    c = b[i]
    return 1 if c < 0xC0 else 2 if c < 0xE0 else 3 if c < 0xF0 else 4


def _re_replace_all(pattern: str, repl: str, text: str) -> str:
    """Go's ``Regexp.ReplaceAllString``: leftmost-first matches, an empty match right after a match skipped.

    Works on the UTF-8 bytes, searching from an offset each time as Go does
    (re2's ``search(str, pos)`` re-encodes the whole string per call).
    """
    try:
        _compile(pattern)
    except FuncError as e:
        q = f"`{pattern}`" if "`" not in pattern else go_quote(pattern)
        raise FuncError(f"regexp: Compile({q}): {e}") from None
    r = _RE_BYTES_CACHE.get(pattern)
    if r is None:
        r = re2.compile(pattern.encode("utf-8", "surrogateescape"), _RE2_OPTIONS)
        if len(_RE_BYTES_CACHE) > 256:
            _RE_BYTES_CACHE.clear()
        _RE_BYTES_CACHE[pattern] = r
    src = text.encode("utf-8", "surrogateescape")
    out = bytearray()
    last = 0
    pos = 0
    n = len(src)
    groupindex = {(k.decode() if isinstance(k, bytes) else k): v for k, v in r.groupindex.items()}
    ngroups = r.groups
    while pos <= n:
        m = r.search(src, pos)
        if m is None:
            break
        a, b = m.span()
        out += src[last:a]
        if b > last or a == 0:
            def group(k: int, m: Any = m) -> str:
                return (m.group(k) or b"").decode("utf-8", "surrogateescape")
            out += _go_expand(repl, group, groupindex, ngroups).encode("utf-8", "surrogateescape")
        last = b
        width = _utf8_width(src, pos)
        if pos + width > b:
            pos += width
        elif pos + 1 > b:
            pos += 1
        else:
            pos = b
        if len(out) > MAX_OUTPUT_BYTES:
            raise FuncError(f"result exceeds {MAX_OUTPUT_BYTES} bytes")
    out += src[last:]
    return out.decode("utf-8", "surrogateescape")


def _split_host_port(hp: str) -> tuple[str, str] | None:
    """Go's ``net.SplitHostPort``; None where Go returns an error."""
    i = hp.rfind(":")
    if i < 0:
        return None
    if hp.startswith("["):
        end = hp.find("]")
        if end < 0:
            return None
        if end + 1 == len(hp):
            return None
        if end + 1 != i:
            return None
        host = hp[1:end]
        if "[" in hp[1:end + 1] or "]" in hp[end + 1:]:
            return None
    else:
        host = hp[:i]
        if ":" in host:
            return None
        if "[" in hp or "]" in hp:
            return None
    return host, hp[i + 1:]


def _strip_port(hp: str) -> str:
    sp = _split_host_port(hp)
    return hp if sp is None else sp[0]


def _is_ip(host: str) -> bool:
    if "%" in host:
        return False
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _strip_domain(hp: str) -> str:
    sp = _split_host_port(hp)
    host, port = (hp, "") if sp is None else sp
    if _is_ip(host):
        return hp
    host = host.split(".")[0]
    if port:
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return host


def _graph_link(expr: str) -> str:
    return f"/graph?g0.expr={quote_plus(expr, safe='-_.~')}&g0.tab=0"


def _table_link(expr: str) -> str:
    return f"/graph?g0.expr={quote_plus(expr, safe='-_.~')}&g0.tab=1"


def _first(v: QueryResult) -> Sample:
    if len(v) > 0:
        return v[0]
    raise FuncError("first() called on vector with no elements")


def _nil_sample() -> FuncError:
    return FuncError("runtime error: invalid memory address or nil pointer dereference")


def _label(name: str, s: Sample | None) -> str:
    if s is None:
        raise _nil_sample()
    return s.Labels.get(name, "")


def _value(s: Sample | None) -> Any:
    if s is None:
        raise _nil_sample()
    return s.Value


def _strvalue(s: Sample | None) -> str:
    if s is None:
        raise _nil_sample()
    return s.Labels.get("__value__", "")


def _sort_by_label(label: str, v: QueryResult) -> QueryResult:
    v.sort(key=lambda s: s.Labels.get(label, "").encode("utf-8", "surrogateescape"))
    return v


def _args(*a: Any) -> dict[str, Any]:
    return {f"arg{i}": x for i, x in enumerate(a)}


def _parse_duration(d: str) -> float:
    try:
        return parse_prometheus_duration(d) / 1000
    except ValueError as e:
        raise FuncError(str(e)) from None


def _to_sample(x: Any) -> Sample:
    if isinstance(x, Sample):
        return x
    if isinstance(x, Mapping):
        return Sample(x.get("Labels") or x.get("labels") or {}, x.get("Value", x.get("value")))
    if isinstance(x, tuple) and len(x) == 2:
        labels, value = x
        return Sample(dict(labels), value)
    return Sample(x.Labels, x.Value)


PROMETHEUS_FUNC_NAMES = frozenset({
    "query", "first", "label", "value", "strvalue", "args", "reReplaceAll", "safeHtml", "match",
    "title", "toUpper", "toLower", "graphLink", "tableLink", "sortByLabel", "stripPort",
    "stripDomain", "humanize", "humanize1024", "humanizeDuration", "humanizePercentage",
    "humanizeTimestamp", "toTime", "pathPrefix", "externalURL", "parseDuration", "now", "tmpl",
})
"""Every Prometheus template function this module knows (``tmpl`` only outside alert templates)."""


def prometheus_funcs(*, query: Callable[[str], list] | None = None, ts_ms: int | None = None,
                     external_url: str = "", path_prefix: str | None = None) -> dict[str, GoFunc]:
    """Prometheus's template functions for one expansion at ``ts_ms``.

    ``query(expr)`` runs an instant query at the evaluation time and returns
    samples (objects with ``.Labels``/``.Value``, or ``(labels, value)`` pairs);
    ``path_prefix`` defaults to the path of ``external_url``, as Prometheus's
    ``pathPrefix`` does. ``tmpl`` is added by :class:`Template` itself.
    """
    prefix = urlsplit(external_url).path if path_prefix is None else path_prefix
    now_s = (_time.time() * 1000 if ts_ms is None else ts_ms) / 1000

    def _query(expr: str) -> QueryResult:
        if query is None:
            raise FuncError("no query function available")
        try:
            res = query(expr)
        except Exception as e:  # noqa: BLE001 - a query error is the function's error, as in Go
            raise FuncError(str(e)) from None
        return QueryResult(_to_sample(x) for x in res)

    return {
        "query": GoFunc(_query, ("str",)),
        "first": GoFunc(_first, ("vector",)),
        "label": GoFunc(_label, ("str", "sample")),
        "value": GoFunc(_value, ("sample",)),
        "strvalue": GoFunc(_strvalue, ("sample",)),
        "args": GoFunc(_args, (), "any"),
        "reReplaceAll": GoFunc(_re_replace_all, ("str", "str", "str")),
        "safeHtml": GoFunc(lambda s: SafeHTML(s), ("str",)),
        "match": GoFunc(_match, ("str", "str")),
        "title": GoFunc(_go_title, ("str",)),
        "toUpper": GoFunc(lambda s: _go_case(s, True), ("str",)),
        "toLower": GoFunc(lambda s: _go_case(s, False), ("str",)),
        "graphLink": GoFunc(_graph_link, ("str",)),
        "tableLink": GoFunc(_table_link, ("str",)),
        "sortByLabel": GoFunc(_sort_by_label, ("str", "vector")),
        "stripPort": GoFunc(_strip_port, ("str",)),
        "stripDomain": GoFunc(_strip_domain, ("str",)),
        "humanize": GoFunc(humanize, ("any",)),
        "humanize1024": GoFunc(humanize1024, ("any",)),
        "humanizeDuration": GoFunc(humanize_duration, ("any",)),
        "humanizePercentage": GoFunc(humanize_percentage, ("any",)),
        "humanizeTimestamp": GoFunc(humanize_timestamp, ("any",)),
        "toTime": GoFunc(to_time, ("any",)),
        "pathPrefix": GoFunc(lambda: prefix),
        "externalURL": GoFunc(lambda: external_url),
        "parseDuration": GoFunc(_parse_duration, ("str",)),
        "now": GoFunc(lambda: now_s),
    }


# --------------------------------------------------------------------------- execution


class _Frame:
    __slots__ = ("tmpl_name", "vars")

    def __init__(self, tmpl_name: str, vars: list[list]) -> None:
        self.tmpl_name = tmpl_name
        self.vars = vars


class _Exec:
    def __init__(self, tmpl: Template, funcs: Mapping[str, Any], max_output: int) -> None:
        self.t = tmpl
        self.funcs = funcs
        self.out: list[str] = []
        self.size = 0
        self.max_output = max_output
        self.steps = 0
        self.depth = 0
        self.node: _Node | None = None
        self.frame = _Frame(tmpl.name, [])

    # errors
    def error(self, msg: str) -> TemplateError:
        name = self.frame.tmpl_name
        if self.node is None:
            return TemplateError(f"template: {name}: {msg}", template=self.t.name)
        text = self.t.text
        pos = self.node.pos
        line = text.count("\n", 0, pos) + 1
        ls = text.rfind("\n", 0, pos) + 1
        col = len(text[ls:pos].encode("utf-8", "surrogateescape"))
        return TemplateError(f"template: {self.t.name}:{line}:{col}: executing {go_quote(name)} "
                             f"at <{self.node}>: {msg}", template=self.t.name)

    def step(self) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise self.error(f"execution exceeded {MAX_STEPS} steps")

    def write(self, s: str) -> None:
        self.size += len(s) if s.isascii() else len(s.encode("utf-8", "surrogateescape"))
        if self.size > self.max_output:
            raise self.error(f"output exceeds {self.max_output} bytes")
        self.out.append(s)

    # variables
    def push(self, name: str, value: Any) -> None:
        self.frame.vars.append([name, value])

    def set_var(self, name: str, value: Any) -> None:
        for v in reversed(self.frame.vars):
            if v[0] == name:
                v[1] = value
                return
        raise self.error(f"undefined variable: {name}")

    def var_value(self, name: str) -> Any:
        for v in reversed(self.frame.vars):
            if v[0] == name:
                return v[1]
        raise self.error(f"undefined variable: {name}")

    # walking
    def walk(self, dot: Any, node: _Node) -> None:
        self.step()
        self.node = node
        if isinstance(node, _Text):
            self.write(node.text)
        elif isinstance(node, _Action):
            val = self.eval_pipeline(dot, node.pipe)
            if not node.pipe.decl:
                self.node = node
                self.write(_print_value(val))
        elif isinstance(node, _List):
            for n in node.nodes:
                self.walk(dot, n)
        elif isinstance(node, _Branch):
            if node.kind == "range":
                self.walk_range(dot, node)
            else:
                self.walk_if_with(dot, node)
        elif isinstance(node, _TemplateCall):
            self.walk_template(dot, node)
        elif isinstance(node, _Break):
            raise _BreakLoop
        elif isinstance(node, _Continue):
            raise _ContinueLoop

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"exceeded maximum template depth ({MAX_DEPTH})")

    def walk_if_with(self, dot: Any, node: _Branch) -> None:
        mark = len(self.frame.vars)
        self.enter()
        try:
            val = self.eval_pipeline(dot, node.pipe)
            if _truth(val):
                self.walk(val if node.kind == "with" else dot, node.list)
            elif node.else_list is not None:
                self.walk(dot, node.else_list)
        finally:
            self.depth -= 1
            del self.frame.vars[mark:]

    def walk_range(self, dot: Any, node: _Branch) -> None:
        self.node = node
        mark = len(self.frame.vars)
        self.enter()
        try:
            val = self.eval_pipeline(dot, node.pipe)
            if isinstance(val, dict):
                items: Any = ((k, val[k]) for k in sorted(val, key=_map_key))
                empty = not val
            elif isinstance(val, list | tuple):
                items = enumerate(val)
                empty = not val
            elif isinstance(val, int) and not isinstance(val, bool):
                items = ((i, i) for i in range(val))
                empty = val <= 0
            elif val is None:
                items, empty = (), True
            else:
                raise self.error(f"range can't iterate over {format_value(val)}")
            inner_mark = len(self.frame.vars)
            decl = node.pipe.decl
            for index, elem in items:
                self.step()
                if decl:
                    if node.pipe.is_assign:
                        self.set_var(decl[0].idents[0], index if len(decl) > 1 else elem)
                        if len(decl) > 1:
                            self.set_var(decl[1].idents[0], elem)
                    else:
                        self.frame.vars[-1][1] = elem
                        if len(decl) > 1:
                            self.frame.vars[-2][1] = index
                try:
                    self.walk(elem, node.list)
                except _ContinueLoop:
                    pass
                except _BreakLoop:
                    break
                finally:
                    del self.frame.vars[inner_mark:]
            if empty and node.else_list is not None:
                self.walk(dot, node.else_list)
        finally:
            self.depth -= 1
            del self.frame.vars[mark:]

    def walk_template(self, dot: Any, node: _TemplateCall) -> None:
        self.node = node
        tree = self.t.trees.get(node.name)
        if tree is None:
            raise self.error(f"template {go_quote(node.name)} not defined")
        if self.depth + 1 > MAX_DEPTH:
            raise self.error(f"exceeded maximum template depth ({MAX_DEPTH})")
        new_dot = self.eval_pipeline(dot, node.pipe) if node.pipe is not None else None
        saved = self.frame
        self.frame = _Frame(node.name, [["$", new_dot]])
        self.depth += 1
        try:
            self.walk(new_dot, tree)
        finally:
            self.depth -= 1
            self.frame = saved

    def eval_pipeline(self, dot: Any, pipe: _Pipe) -> Any:
        self.node = pipe
        value: Any = _MISSING
        for cmd in pipe.cmds:
            value = self.eval_command(dot, cmd, value)
        for v in pipe.decl:
            if pipe.is_assign:
                self.set_var(v.idents[0], value)
            else:
                self.push(v.idents[0], value)
        return value

    def not_a_function(self, args: list[_Node], final: Any) -> None:
        if len(args) > 1 or final is not _MISSING:
            raise self.error(f"can't give argument to non-function {args[0]}")

    def eval_command(self, dot: Any, cmd: _Command, final: Any) -> Any:
        first = cmd.args[0]
        if isinstance(first, _Field):
            self.node = first
            return self.eval_field_chain(dot, dot, first, first.idents, cmd.args, final)
        if isinstance(first, _Chain):
            return self.eval_chain(dot, first, cmd.args, final)
        if isinstance(first, _Ident):
            return self.eval_function(dot, first, cmd, cmd.args, final)
        if isinstance(first, _Pipe):
            self.not_a_function(cmd.args, final)
            self.enter()
            try:
                return self.eval_pipeline(dot, first)
            finally:
                self.depth -= 1
        if isinstance(first, _Variable):
            return self.eval_variable(dot, first, cmd.args, final)
        self.node = first
        self.not_a_function(cmd.args, final)
        if isinstance(first, _Bool):
            return first.value
        if isinstance(first, _Dot):
            return dot
        if isinstance(first, _Nil):
            raise self.error("nil is not a command")
        if isinstance(first, _Number):
            return first.value
        if isinstance(first, _String):
            return first.text
        raise self.error(f"can't evaluate command {first}")

    def eval_chain(self, dot: Any, chain: _Chain, args: list[_Node], final: Any) -> Any:
        self.node = chain
        if isinstance(chain.node, _Nil):
            raise self.error(f"indirection through explicit nil in {chain}")
        recv = self.eval_arg(dot, chain.node)
        return self.eval_field_chain(dot, recv, chain, chain.fields, args, final)

    def eval_variable(self, dot: Any, var: _Variable, args: list[_Node], final: Any) -> Any:
        self.node = var
        value = self.var_value(var.idents[0])
        if len(var.idents) == 1:
            self.not_a_function(args, final)
            return value
        return self.eval_field_chain(dot, value, var, var.idents[1:], args, final)

    def eval_field_chain(self, dot: Any, recv: Any, node: _Node, idents: list[str],
                         args: list[_Node], final: Any) -> Any:
        for name in idents[:-1]:
            recv = self.eval_field(dot, name, node, [], _MISSING, recv)
        return self.eval_field(dot, idents[-1], node, args, final, recv)

    def eval_field(self, dot: Any, name: str, node: _Node, args: list[_Node], final: Any,
                   recv: Any) -> Any:
        if recv is None or recv is _MISSING:
            if self.t.missingkey == "error":
                raise self.error(f"nil data; no entry for key {go_quote(name)}")
            return None
        has_args = len(args) > 1 or final is not _MISSING
        if isinstance(recv, GoStruct):
            if name in recv.go_methods:
                return self.eval_call(dot, GoFunc(getattr(recv, name), _method_params(name)),
                                      node, name, args, final)
            if name in recv.go_fields:
                if has_args:
                    raise self.error(f"{name} has arguments but cannot be invoked as function")
                return getattr(recv, name)
        elif isinstance(recv, dict):
            if has_args:
                raise self.error(f"{name} is not a method but has arguments")
            if name in recv:
                return recv[name]
            mk = self.t.missingkey
            if mk == "error":
                raise self.error(f"map has no entry for key {go_quote(name)}")
            if mk == "zero":
                return getattr(recv, "zero", None)
            return None
        elif not isinstance(recv, str | int | float | list | tuple) and name[:1].isupper() \
                and not name.startswith("_") and hasattr(recv, name):
            attr = getattr(recv, name)
            if callable(attr):
                return self.eval_call(dot, attr, node, name, args, final)
            if has_args:
                raise self.error(f"{name} has arguments but cannot be invoked as function")
            return attr
        raise self.error(f"can't evaluate field {name} in type {go_type_name(recv)}")

    def eval_function(self, dot: Any, ident: _Ident, cmd: _Node, args: list[_Node], final: Any) -> Any:
        self.node = ident
        name = ident.name
        fn = self.funcs.get(name)
        if fn is None:
            raise self.error(f"{go_quote(name)} is not a defined function")
        if name in ("and", "or") and fn is GO_BUILTINS[name]:
            argn = args[1:]
            n_in = len(argn) + (0 if final is _MISSING else 1)
            if n_in < 1:
                raise self.error(f"wrong number of args for {name}: want at least 1 got 0")
            v: Any = None
            for a in argn:
                v = self.eval_arg(dot, a)
                if _truth(v) == (name == "or"):
                    return v
            if final is not _MISSING:
                v = final
            return v
        return self.eval_call(dot, fn, cmd, name, args, final)

    def eval_call(self, dot: Any, fn: Any, node: _Node, name: str, args: list[_Node], final: Any) -> Any:
        argn = args[1:] if args else []
        if isinstance(fn, GoFunc):
            params, variadic, call = fn.params, fn.variadic, fn.fn
        else:
            params, variadic, call = (), "any", fn
        n_in = len(argn) + (0 if final is _MISSING else 1)
        if variadic is not None:
            if n_in < len(params):
                raise self.error(f"wrong number of args for {name}: want at least {len(params)} got {n_in}")
        elif n_in != len(params):
            raise self.error(f"wrong number of args for {name}: want {len(params)} got {n_in}")
        values: list[Any] = []
        for k, a in enumerate(argn):
            kind = params[k] if k < len(params) else variadic
            values.append(self.check_arg(self.eval_arg(dot, a), kind, a))
        if final is not _MISSING:
            kind = params[len(argn)] if len(argn) < len(params) else variadic
            values.append(self.check_arg(final, kind, None))
        try:
            result = call(*values)
        except TemplateError:
            raise
        except FuncError as e:
            self.node = node
            raise self.error(f"error calling {name}: {e}") from None
        except RecursionError:
            self.node = node
            raise self.error(f"error calling {name}: nesting too deep") from None
        except Exception as e:  # noqa: BLE001 - a failing function is a template error, as in Go
            self.node = node
            raise self.error(f"error calling {name}: {e}") from None
        if isinstance(result, str) and len(result) > self.max_output:
            self.node = node
            raise self.error(f"error calling {name}: result exceeds {self.max_output} bytes")
        # Functions work in time linear in their strings: charge a step per KiB handled, so a
        # loop over a large string costs what it does (the step budget bounds CPU, not only nodes).
        cost = len(result) if isinstance(result, str) else 0
        for v in values:
            if isinstance(v, str):
                cost += len(v)
        if cost >= 1024:
            self.steps += cost >> 10
            if self.steps > MAX_STEPS:
                raise self.error(f"execution exceeded {MAX_STEPS} steps")
        return result

    def check_arg(self, v: Any, kind: str | None, node: _Node | None) -> Any:
        if kind is None or kind == "any":
            return None if v is _MISSING else v
        ok = True
        if kind == "str":
            ok = isinstance(v, str) and not isinstance(v, SafeHTML)  # template.HTML is not a string to Go
        elif kind == "float":
            if isinstance(v, int) and not isinstance(v, bool) and isinstance(node, _Number):
                v = float(v)
            ok = isinstance(v, float)
        elif kind == "int":
            if isinstance(v, float) and isinstance(node, _Number) and v.is_integer():
                v = int(v)
            ok = isinstance(v, int) and not isinstance(v, bool)
        elif kind == "bool":
            ok = isinstance(v, bool)
        elif kind == "sample":
            ok = v is None or isinstance(v, Sample)
        elif kind == "vector":
            ok = isinstance(v, QueryResult) or v is None
            if v is None:
                v = QueryResult()
        if ok:
            return v
        want = _KIND_TYPES[kind]
        if isinstance(node, _Nil):
            raise self.error(f"cannot assign nil to {want}")
        if isinstance(node, _Bool | _Number | _String):
            self.node = node
            label = {"str": "string", "float": "float", "int": "integer", "bool": "bool"}.get(kind)
            if label is not None:
                raise self.error(f"expected {label}; found {node}")
            raise self.error(f"can't handle {node} for arg of type {want}")
        if v is None:
            raise self.error(f"invalid value; expected {want}")
        raise self.error(f"wrong type for value; expected {want}; got {go_type_name(v)}")

    def eval_arg(self, dot: Any, n: _Node) -> Any:
        self.node = n
        if isinstance(n, _Dot):
            return dot
        if isinstance(n, _Nil):
            return None
        if isinstance(n, _Field):
            return self.eval_field_chain(dot, dot, n, n.idents, [n], _MISSING)
        if isinstance(n, _Variable):
            return self.eval_variable(dot, n, [], _MISSING)
        if isinstance(n, _Pipe):
            self.enter()
            try:
                return self.eval_pipeline(dot, n)
            finally:
                self.depth -= 1
        if isinstance(n, _Ident):
            return self.eval_function(dot, n, n, [n], _MISSING)
        if isinstance(n, _Chain):
            return self.eval_chain(dot, n, [], _MISSING)
        if isinstance(n, _Bool):
            return n.value
        if isinstance(n, _Number):
            return n.value
        if isinstance(n, _String):
            return n.text
        raise self.error(f"can't handle {n}")


def _print_value(v: Any) -> str:
    """Go's ``printValue``: an invalid value is ``<no value>``; a pointer to a struct prints the struct."""
    if v is None:
        return "<no value>"
    s = format_value(v)
    if isinstance(v, GoStruct) and v.go_pointer and s.startswith("&{"):
        return s[1:]
    return s


def _method_params(name: str) -> tuple[str, ...]:
    return ("str",) if name == "Format" else ()


def _map_key(k: Any) -> tuple:
    if isinstance(k, int | float) and not isinstance(k, bool):
        return (0, k, "")
    return (1, 0, str(k))


# --------------------------------------------------------------------------- public API


class Template:
    """A parsed Go template (its ``define``/``block`` templates included); execute it many times.

    Parsing and execution are separate because Prometheus checks every alert
    template when a rule file loads, and expands it at every evaluation.
    """

    __slots__ = ("name", "text", "trees", "missingkey", "func_names")

    def __init__(self, name: str, text: str, trees: dict[str, _List], missingkey: str,
                 func_names: frozenset[str]) -> None:
        self.name = name
        self.text = text
        self.trees = trees
        self.missingkey = missingkey
        self.func_names = func_names

    @classmethod
    def parse(cls, name: str, text: str, *, funcs: Collection[str] | None = None,
              missingkey: str = "default") -> Template:
        """Parse ``text`` as template ``name``; raises :class:`TemplateError`.

        ``funcs`` are the function names the text may call besides Go's
        builtins (default: Prometheus's functions), since Go rejects an unknown
        function at parse time. ``missingkey`` is Go's option: ``default``
        (missing map key prints ``<no value>``), ``zero`` (the map's zero value,
        what Prometheus uses: ``""`` for labels) or ``error``.
        """
        if missingkey not in ("default", "invalid", "zero", "error"):
            raise ValueError(f"unrecognized missingkey option {missingkey!r}")
        names = frozenset(GO_BUILTINS) | frozenset(PROMETHEUS_FUNC_NAMES if funcs is None else funcs)
        p = _Parser(text, names)
        try:
            trees = p.parse(name)
        except _ParseError as e:
            line = text.count("\n", 0, min(e.pos, len(text))) + 1
            raise TemplateError(f"template: {name}:{line}: {e.msg}", phase="parsing", template=name) from None
        except RecursionError:
            raise TemplateError(f"template: {name}:1: max depth exceeded", phase="parsing",
                                template=name) from None
        return cls(name, text, trees, "default" if missingkey == "invalid" else missingkey, names)

    def execute(self, data: Any = None, funcs: Mapping[str, GoFunc | Callable[..., Any]] | None = None,
                *, max_output: int = MAX_OUTPUT_BYTES) -> str:
        """Expand with ``data`` as dot; ``funcs`` implements the functions (default: Prometheus's, no query).

        Plain callables are called with the evaluated arguments and no type
        checks; :class:`GoFunc` adds Go's argument checks. A function signals
        an error by raising (:class:`FuncError` for a clean message).
        """
        table: dict[str, Any] = dict(GO_BUILTINS)
        table.update(prometheus_funcs() if funcs is None else funcs)
        ex = _Exec(self, table, max_output)
        if "tmpl" in self.func_names and "tmpl" not in table:
            table["tmpl"] = GoFunc(lambda n, d: SafeHTML(self._tmpl(ex, n, d)), ("str", "any"))
        ex.frame.vars.append(["$", data])
        try:
            ex.walk(data, self.trees[self.name])
        except (_BreakLoop, _ContinueLoop):  # pragma: no cover - the parser rejects them outside range
            raise TemplateError(f"template: {self.name}: break or continue outside range",
                                template=self.name) from None
        except RecursionError:
            raise TemplateError(f"template: {self.name}: exceeded maximum template depth",
                                template=self.name) from None
        return "".join(ex.out)

    def _tmpl(self, ex: _Exec, name: str, data: Any) -> str:
        tree = self.trees.get(name)
        if tree is None:
            raise FuncError(f"template: no template {go_quote(name)} associated with template "
                            f"{go_quote(self.name)}")
        if ex.depth + 1 > MAX_DEPTH:
            raise FuncError(f"exceeded maximum template depth ({MAX_DEPTH})")
        saved = ex.out, ex.frame, ex.node
        ex.out = []
        ex.frame = _Frame(name, [["$", data]])
        ex.depth += 1
        try:
            ex.walk(data, tree)
            return "".join(ex.out)
        finally:
            ex.out, ex.frame, ex.node = saved
            ex.depth -= 1


def expand_alert(text: str, *, name: str, labels: Mapping[str, str], external_labels: Mapping[str, str],
                 external_url: str, value: float | str, ts_ms: int,
                 query: Callable[[str], list] | None, path_prefix: str = "") -> str:
    """Expand one alert label or annotation exactly as a Prometheus alerting rule does.

    ``name`` is the template name Prometheus uses (``__alert_<alertname>``);
    the text gets Prometheus's ``$labels``/``$externalLabels``/``$externalURL``/
    ``$value`` definitions prepended and runs with ``missingkey=zero``.
    ``query(expr)`` is called for the template's ``query`` function at the
    evaluation time ``ts_ms``. Raises :class:`TemplateError` with Go's message;
    a rule shows ``<error expanding template: {e.expander_message}>`` instead,
    as Prometheus does.
    """
    t = _parse_alert(name, text)
    data = _AlertData(labels, external_labels, external_url, value)
    funcs = prometheus_funcs(query=query, ts_ms=ts_ms, external_url=external_url,
                             path_prefix=path_prefix or None)
    return t.execute(data, funcs)


_ALERT_FUNC_NAMES = PROMETHEUS_FUNC_NAMES - {"tmpl"}


@functools.lru_cache(maxsize=4096)
def _parse_alert(name: str, text: str) -> Template:
    # A Template is immutable once parsed; every evaluation of every alert reuses it.
    return Template.parse(name, ALERT_TEMPLATE_DEFS + text, funcs=_ALERT_FUNC_NAMES, missingkey="zero")


def check_alert_template(name: str, text: str) -> str | None:
    """Parse ``text`` (with the alert definitions prepended) as a rule file load does; the error or None."""
    try:
        Template.parse(name, ALERT_TEMPLATE_DEFS + text, funcs=_ALERT_FUNC_NAMES, missingkey="zero")
    except TemplateError as e:
        return str(e)
    return None
