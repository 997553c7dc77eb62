"""Series descriptions of the PromQL test format: ``metric{l="v"} 0+10x5 _ stale``.

This is the language of Prometheus's ``parser.ParseSeriesDesc`` (also used by
``promtool test rules``): a metric, then whitespace-separated value items.

=====================  ==================================================
item                   positions
=====================  ==================================================
``7``, ``-1.5``, ``Inf``  one sample
``stale``              one staleness marker (NaN ``0x7ff0000000000002``)
``_``                  one empty position
``_xN``                N empty positions
``axN``                N+1 samples equal to ``a``
``a+bxN``, ``a-bxN``   N+1 samples a, a±b, ... (accumulated by repeated
                       addition, as Prometheus does, so floats match bit
                       for bit)
``{{...}}``            one native-histogram sample (kept opaque here)
``{{A}}xN``            N+1 copies; ``{{A}}+{{B}}xN`` / ``{{A}}-{{B}}xN``
                       N+1 samples stepping by B
=====================  ==================================================

Numbers follow Prometheus's number syntax (``1e3``, ``.5``, ``Inf``, ``NaN``;
a leading ``0`` means octal, as in Go) -- durations (``5m``) are accepted too
and mean seconds. Start-timestamp lines (``metric@st -1mx3``) use durations in
milliseconds; see ``parse_st_sequence``.
"""

from __future__ import annotations

import math
import re
import struct
from dataclasses import dataclass, field

from .durations import parse_prometheus_duration
from .errors import ParseError
from .lexing import Lexer
from .numbers import parse_number

STALE_NAN: float = struct.unpack("<d", struct.pack("<Q", 0x7FF0000000000002))[0]
"""Prometheus's staleness marker. Compare bits (``is_stale``), never with ``==``."""

Labels = tuple[tuple[str, str], ...]


def is_stale(v: object) -> bool:
    """True if ``v`` is the staleness-marker NaN (exact bit pattern)."""
    return isinstance(v, float) and struct.pack("<d", v) == struct.pack("<Q", 0x7FF0000000000002)


@dataclass(frozen=True)
class HistogramValue:
    """A native-histogram sample, kept as text (the engine skips these for now).

    ``fields`` holds the ``key:value`` pairs of the ``{{...}}`` literal
    (numbers as floats, ``[...]`` lists as tuples of floats, the counter reset
    hint as a string). For ``{{A}}+{{B}}xN`` sequences ``step``/``sign``/
    ``index`` describe the increment and the position in the sequence.
    """

    text: str
    fields: dict = field(compare=False, hash=False)
    step: dict | None = field(default=None, compare=False, hash=False)
    sign: int = 0
    index: int = 0


SampleValue = float | HistogramValue | None
"""One position of a series: a float (maybe ``STALE_NAN``), a histogram, or ``None`` (no sample)."""


class SeriesDescError(ValueError):
    """A series description that Prometheus's ``ParseSeriesDesc`` would reject."""


_NUM = r"(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9][0-9_]*)(?:[eE][+-]?[0-9]+)?"
_DUR = r"(?:[0-9]+(?:ms|[smhdwy]))+"
_ATOM = rf"(?:{_DUR}|{_NUM}|[iI][nN][fF]|[nN][aA][nN])"
_ITEM_RE = re.compile(rf"(?P<a>[+-]?{_ATOM})(?:(?P<op>[+-])(?P<b>{_ATOM}))?(?:x(?P<n>[0-9]+))?")
_BLANK_RE = re.compile(r"_(?:x(?P<n>[0-9]+))?")
_HIST_SUFFIX_RE = re.compile(r"x([0-9]+)")
_DUR_ONLY_RE = re.compile(_DUR)
_NAME_RE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


def _atom(text: str) -> float:
    sign = 1.0
    if text[0] in "+-":
        sign = -1.0 if text[0] == "-" else 1.0
        text = text[1:]
    if _DUR_ONLY_RE.fullmatch(text):
        return sign * parse_prometheus_duration(text) / 1000.0
    return sign * parse_number(text)


def parse_metric(text: str) -> tuple[Labels, int]:
    """Parse the metric at the start of ``text``: ``(sorted labels, end offset)``.

    Accepts ``name``, ``name{l="v", ...}``, ``{l="v", ...}``, ``{"utf8.name", "a.b"="c"}``
    and ``{}`` (no labels). Label values use PromQL string syntax.
    """
    lexer = iter(Lexer(text))
    labels: dict[str, str] = {}
    try:
        tok = next(lexer)
        if tok.type == "LEFT_BRACE":
            end = _label_set(lexer, labels)
        elif tok.type != "STRING" and _NAME_RE.fullmatch(tok.value):
            labels["__name__"] = tok.value
            end = tok.end_pos
            if end < len(text) and text[end] == "{":
                nxt = next(lexer)
                end = _label_set(lexer, labels) if nxt.type == "LEFT_BRACE" else end
        else:
            raise SeriesDescError(f"unexpected {tok.value!r} at the start of a series description")
    except ParseError as e:
        raise SeriesDescError(e.message) from None
    return tuple(sorted(labels.items())), end


def _label_set(lexer, labels: dict[str, str]) -> int:
    """Consume ``l="v", ...}`` after a ``{``; return the offset after ``}``."""
    while True:
        tok = next(lexer)
        if tok.type == "RIGHT_BRACE":
            return tok.end_pos
        if tok.type not in ("IDENTIFIER", "STRING"):
            raise SeriesDescError(f"unexpected {tok.value!r} in label set, expected identifier or \"}}\"")
        nxt = next(lexer)
        if nxt.type == "EQL":
            value = next(lexer)
            if value.type != "STRING":
                raise SeriesDescError(f"unexpected {value.value!r} in label set, expected string")
            labels[tok.value] = value.value
            nxt = next(lexer)
        elif tok.type == "STRING":
            labels["__name__"] = tok.value
        else:
            raise SeriesDescError(f"unexpected {nxt.value!r} in label set, expected \"=\"")
        if nxt.type == "RIGHT_BRACE":
            return nxt.end_pos
        if nxt.type != "COMMA":
            raise SeriesDescError(f"unexpected {nxt.value!r} in label set, expected \",\" or \"}}\"")


def parse_values(text: str) -> list[SampleValue]:
    """Expand the value items of a series description (see module docstring)."""
    out: list[SampleValue] = []
    i, n = 0, len(text)
    while i < n:
        if text[i] in " \t":
            i += 1
            continue
        if text.startswith("{{", i):
            i = _histogram_item(text, i, out)
            continue
        j = i
        while j < n and text[j] not in " \t":
            j += 1
        _value_item(text[i:j], out)
        i = j
    return out


def _value_item(item: str, out: list[SampleValue]) -> None:
    m = _BLANK_RE.fullmatch(item)
    if m:
        out.extend([None] * (int(m["n"]) if m["n"] else 1))
        return
    if item == "stale":
        out.append(STALE_NAN)
        return
    m = _ITEM_RE.fullmatch(item)
    if not m:
        raise SeriesDescError(f"invalid series value {item!r}, expected number or \"stale\"")
    try:
        a = _atom(m["a"])
        b = _atom(m["b"]) if m["b"] else 0.0
    except ValueError as e:
        raise SeriesDescError(f"invalid series value {item!r}: {e}") from None
    if m["op"] and not m["n"]:
        raise SeriesDescError(f"invalid series value {item!r}: expected x<count> after {m['op']}{m['b']}")
    if m["op"] == "-":
        b = -b
    if m["n"] is None:
        out.append(a)
        return
    for _ in range(int(m["n"]) + 1):
        out.append(a)
        a += b


def _histogram_item(text: str, i: int, out: list[SampleValue]) -> int:
    base_end = text.find("}}", i)
    if base_end < 0:
        raise SeriesDescError("unterminated histogram literal '{{'")
    base_text = text[i : base_end + 2]
    base = parse_histogram_fields(base_text)
    pos = base_end + 2
    if pos < len(text) and text[pos] in "+-" and text.startswith("{{", pos + 1):
        sign = 1 if text[pos] == "+" else -1
        inc_end = text.find("}}", pos + 1)
        if inc_end < 0:
            raise SeriesDescError("unterminated histogram literal '{{'")
        inc_text = text[pos + 1 : inc_end + 2]
        m = _HIST_SUFFIX_RE.match(text, inc_end + 2)
        if not m:
            raise SeriesDescError("expected x<count> after a histogram increment")
        step = parse_histogram_fields(inc_text)
        literal = text[i : m.end()]
        out.extend(HistogramValue(literal, base, step, sign, k) for k in range(int(m[1]) + 1))
        return m.end()
    m = _HIST_SUFFIX_RE.match(text, pos)
    if m:
        out.extend(HistogramValue(base_text, base, None, 0, k) for k in range(int(m[1]) + 1))
        return m.end()
    out.append(HistogramValue(base_text, base))
    return pos


_HIST_KEYS = frozenset(
    {"schema", "sum", "count", "z_bucket", "z_bucket_w", "buckets", "offset", "n_buckets", "n_offset",
     "custom_values", "counter_reset_hint"}
)


def parse_histogram_fields(literal: str) -> dict:
    """``{{schema:1 sum:2 buckets:[1 2]}}`` -> ``{"schema": 1.0, "sum": 2.0, "buckets": (1.0, 2.0)}``."""
    body = literal[2:-2].strip()
    fields: dict = {}
    i, n = 0, len(body)
    while i < n:
        if body[i] in " \t":
            i += 1
            continue
        colon = body.find(":", i)
        if colon < 0:
            raise SeriesDescError(f"bad histogram description {literal!r}")
        key = body[i:colon].strip()
        if key not in _HIST_KEYS:
            raise SeriesDescError(f"bad histogram descriptor found: {key!r}")
        if key in fields:
            raise SeriesDescError(f'duplicate key "{key}" in histogram')
        j = colon + 1
        if j < n and body[j] == "[":
            close = body.find("]", j)
            if close < 0:
                raise SeriesDescError(f"unterminated bucket list in {literal!r}")
            fields[key] = tuple(_atom(x) for x in body[j + 1 : close].split())
            i = close + 1
            continue
        k = j
        while k < n and body[k] not in " \t":
            k += 1
        raw = body[j:k]
        fields[key] = raw if key == "counter_reset_hint" else _atom(raw)
        i = k
    return fields


def parse_series(line: str) -> tuple[Labels, list[SampleValue]]:
    """Parse one series description line into ``(labels, values)``."""
    labels, end = parse_metric(line)
    if end < len(line) and line[end] not in " \t":
        raise SeriesDescError(f"unexpected {line[end]!r} after the metric, expected a space")
    return labels, parse_values(line[end:])


def parse_st_sequence(text: str) -> list[int | None]:
    """Start-timestamp offsets (ms) of an ``@st`` line; ``None`` for ``_``.

    Items: ``_``, ``_xN`` (N positions), ``*`` / ``*xN`` (repeat the last
    offset, once / N+1 times), ``<dur>``, ``<dur>xN`` (N+1 times),
    ``<dur>+<dur>xN`` / ``<dur>-<dur>xN`` (N+1, stepping). Durations may
    carry a sign (``-1m``).
    """
    out: list[int | None] = []
    for item in text.split():
        prev = next((v for v in reversed(out) if v is not None), 0)
        if item == "_":
            out.append(None)
            continue
        if item.startswith("_x"):
            count = _count(item[2:])
            if count == 0:
                raise SeriesDescError(f"invalid ST item {item!r}: invalid repeat count")
            out.extend([None] * count)
            continue
        if item == "*":
            out.append(prev)
            continue
        if item.startswith("*x"):
            out.extend([prev] * (_count(item[2:]) + 1))
            continue
        base, rest = _duration_prefix(item)
        if rest == "":
            out.append(base)
            continue
        if rest[0] == "x":
            out.extend([base] * (_count(rest[1:]) + 1))
            continue
        if rest[0] not in "+-":
            raise SeriesDescError(f"invalid ST item {item!r}: unexpected character {rest[0]!r} after duration")
        delta, rest2 = _duration_prefix(rest[1:])
        if rest[0] == "-":
            delta = -delta
        if not rest2.startswith("x"):
            raise SeriesDescError(f"invalid ST item {item!r}: expected 'x<count>' after step duration")
        value = base
        for _ in range(_count(rest2[1:]) + 1):
            out.append(value)
            value += delta
    return out


def _count(text: str) -> int:
    if not text.isdigit():
        raise SeriesDescError(f"invalid repeat count {text!r}")
    return int(text)


def _duration_prefix(s: str) -> tuple[int, str]:
    """A signed Prometheus duration at the start of ``s``: ``(ms, rest)``."""
    if not s:
        raise SeriesDescError("empty duration")
    i = 0
    negative = s[0] == "-"
    if s[0] in "+-":
        i = 1
    start = i
    while i < len(s) and s[i].isdigit():
        i += 1
    if i == start:
        raise SeriesDescError(f"expected digits in duration {s!r}")
    while i < len(s) and s[i].isalpha() and s[i] != "x":
        i += 1
    try:
        ms = parse_prometheus_duration(s[start:i])
    except ValueError as e:
        raise SeriesDescError(f"invalid duration {s[start:i]!r}: {e}") from None
    return (-ms if negative else ms), s[i:]


def float_close(expected: float, actual: float, epsilon: float = 1e-6) -> bool:
    """Prometheus's ``almost.Equal`` as the test harness compares sample values.

    Stale markers only equal stale markers; NaN equals NaN; otherwise the
    relative error must be below ``epsilon`` (an exact 0 needs a near-exact 0).
    """
    if is_stale(expected) or is_stale(actual):
        return is_stale(expected) and is_stale(actual)
    if math.isnan(expected) and math.isnan(actual):
        return True
    if expected == actual:
        return True
    abs_sum = abs(expected) + abs(actual)
    diff = abs(expected - actual)
    if expected == 0 or actual == 0 or abs_sum < 2.2250738585072014e-308:
        return diff < epsilon * 2.2250738585072014e-308
    return diff / min(abs_sum, 1.7976931348623157e308) < epsilon
