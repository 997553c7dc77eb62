"""PromQL number literals, parsed the way Prometheus's ``parser.number`` does.

Prometheus first tries Go's ``strconv.ParseInt(s, 0, 64)`` (so ``0x1F`` is
hex, ``0755`` is *octal* 493, ``1_000`` is 1000) and falls back to
``strconv.ParseFloat(s, 64)`` (``1e3``, ``.5``, ``5.``, ``Inf``, ``NaN``, hex
floats such as ``0x1p-2``). Python's ``int(s, 0)`` and ``float(s)`` accept a
different set (no leading-zero octal, underscores in floats), hence this
module.
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
