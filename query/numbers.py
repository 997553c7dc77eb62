"""PromQL number literals, parsed the way Prometheus's ``parser.number`` does.

Prometheus first tries Go's ``strconv.ParseInt(s, 0, 64)`` (so ``0x1F`` is
hex, ``0755`` is *octal* 493, ``1_000`` is 1000) and falls back to
``strconv.ParseFloat(s, 64)`` (``1e3``, ``.5``, ``5.``, ``Inf``, ``NaN``, hex
floats such as ``0x1p-2``). Python's ``int(s, 0)`` and ``float(s)`` accept a
different set (no leading-zero octal, underscores in floats), hence this
module.

``scan_number``/``accept_remaining_duration`` are lex.go's scanners: they
decide where a number or duration token ends (and whether it is malformed),
before its value is parsed.
"""

from __future__ import annotations

import math
import re

from .quoting import go_quote

_INT_RE = re.compile(
    r"0[xX]_?[0-9a-fA-F]+(?:_[0-9a-fA-F]+)*"
    r"|0[oO]_?[0-7]+(?:_[0-7]+)*"
    r"|0[bB]_?[01]+(?:_[01]+)*"
    r"|0_?[0-7]+(?:_[0-7]+)*"
    r"|[1-9](?:_?[0-9])*"
    r"|0"
)
_DEC_FLOAT_RE = re.compile(r"(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_HEX_FLOAT_RE = re.compile(r"0[xX](?:_?[0-9a-fA-F])*(?:\.[0-9a-fA-F]*)?[pP][+-]?[0-9]+")
_INT64_MAX = (1 << 63) - 1
_DIGITS = "0123456789"
_HEX = "0123456789abcdefABCDEF"
_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789")


def _go_parse_int(text: str) -> int | None:
    if not _INT_RE.fullmatch(text):
        return None
    digits = text.replace("_", "")
    if len(digits) > 1 and digits[0] == "0" and digits[1] not in "xXoObB":
        value = int(digits[1:], 8)
    else:
        value = int(digits, 0)
    return value if value <= _INT64_MAX else None


def parse_number(text: str) -> float:
    """Parse an (unsigned) PromQL number token; ``ValueError`` has Prometheus's text.

    The message is what follows ``error parsing number: `` in Prometheus.
    """
    low = text.lower()
    if low in ("inf", "+inf", "infinity", "+infinity"):
        return math.inf
    if low in ("-inf", "-infinity"):
        return -math.inf
    if low == "nan":
        return math.nan
    as_int = _go_parse_int(text)
    if as_int is not None:
        return float(as_int)
    if _DEC_FLOAT_RE.fullmatch(text):
        value = float(text)
    elif _HEX_FLOAT_RE.fullmatch(text):
        mant, _, exp = text.replace("_", "").lower().partition("p")
        try:
            value = float.fromhex(mant + "p" + exp)
        except OverflowError:
            value = math.inf
    else:
        raise ValueError(f"strconv.ParseFloat: parsing {go_quote(text)}: invalid syntax")
    if math.isinf(value):
        raise ValueError(f"strconv.ParseFloat: parsing {go_quote(text)}: value out of range")
    return value


def scan_number(q: str, pos: int, series_desc: bool = False) -> tuple[bool, int]:
    """Port of lex.go's ``scanNumber``: ``(ok, end)``; the text may still be unparseable.

    Accepts decimal, hex (``0x1F``), octal-looking, float, exponent and ``_``
    digit-separator forms, and insists that no letter or digit follows.
    """
    n = len(q)
    initial = pos

    def peek(p: int) -> str:
        return q[p] if p < n else ""

    digits = _DIGITS
    # lex.go: `!seriesDesc && accept("0") && accept("xX")` -- the "0" stays
    # consumed even when no "x" follows.
    if not series_desc and peek(pos) == "0":
        pos += 1
        if peek(pos) in ("x", "X") and peek(pos) != "":
            pos += 1
            if peek(pos) == "_":
                pos += 1
            digits = _HEX
    if peek(pos) == ".":
        pos += 1
    if peek(pos) != "" and peek(pos) in digits:
        pos += 1
    dot = exp = False
    loop_set = digits + "._eE"
    while True:
        c = peek(pos)
        if c == "" or c not in loop_set:
            break
        if c == "." and dot:
            return False, pos + 1
        if c in "eE" and exp:
            return False, pos + 1
        if c == ".":
            dot = True
            pos += 1
            if peek(pos) != "" and peek(pos) in "_.":
                return False, pos + 1
            if digits is _HEX:
                return False, pos
            continue
        if c in "eE":
            exp = True
            pos += 1
            if peek(pos) != "" and peek(pos) in "+-":
                pos += 1
            nc = peek(pos)
            if nc == "" or nc in "._eE":
                return False, pos + (1 if nc else 0)
            continue
        if c == "_":
            pos += 1
            nc = peek(pos)
            if nc == "" or nc in "._eE":
                return False, pos + (1 if nc else 0)
            continue
        while peek(pos) != "" and peek(pos) in digits:
            pos += 1
    if pos == initial:
        return False, pos
    r = peek(pos)
    if (series_desc and r == "x") or r == "" or r not in _ALNUM:
        return True, pos
    return False, pos


def accept_remaining_duration(q: str, pos: int) -> tuple[bool, int]:
    """Port of lex.go's ``acceptRemainingDuration`` (units are validated later)."""
    n = len(q)

    def peek(p: int) -> str:
        return q[p] if p < n else ""

    if peek(pos) == "" or peek(pos) not in "smhdwy":
        return False, pos
    pos += 1
    if peek(pos) == "s":
        pos += 1
    while peek(pos) != "" and peek(pos) in _DIGITS:
        while peek(pos) != "" and peek(pos) in _DIGITS:
            pos += 1
        if peek(pos) == "" or peek(pos) not in "smhdw":
            return False, pos
        pos += 1
        if peek(pos) == "s":
            pos += 1
    c = peek(pos)
    if c != "" and c in _ALNUM:
        return False, pos + 1
    return True, pos
