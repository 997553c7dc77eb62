"""Lexical pieces shared by the text and OpenMetrics parsers.

Everything here works on the raw ``bytes`` of one line (lines never contain
``\\n``), so that a series' raw text can be sliced out without re-encoding and
names (ASCII by grammar) never need decoding. Only label values and HELP text
are decoded, strictly as UTF-8.

Errors are raised as :class:`TokenError` carrying a byte offset into the
line; the per-line drivers turn that into an :class:`ExpositionError` with a
line number and a character column (see :func:`column_of`).

Numbers follow Go's ``strconv.ParseFloat`` as Prometheus uses it: decimal
syntax only (hex, ``_`` separators and ``p`` exponents are rejected, as in
``textparse.parseFloat``), ``inf``/``infinity``/``nan`` in any case, and a
value outside the float64 range is an error rather than ``inf``. Python's
``float()`` is more lenient on every one of those points (``float("1_2")``,
``float(" 1")``, ``float("1e309")``), so every token is matched against
:data:`FLOAT_RE` before ``float()`` sees it.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal

METRIC_NAME_RE = re.compile(rb"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_NAME_RE = re.compile(rb"[a-zA-Z_][a-zA-Z0-9_]*")
# A quoted label value: any byte but '"' and '\', or a backslash and any byte.
QUOTED_RE = re.compile(rb'"([^"\\]*(?:\\.[^"\\]*)*)"', re.S)
WS_RE = re.compile(rb"[ \t]*")

_REAL = rb"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
FLOAT_RE = re.compile(_REAL + rb"|[+-]?(?i:inf(?:inity)?)|(?i:nan)")
REAL_RE = re.compile(_REAL)
INT_RE = re.compile(rb"-?[0-9]+")

INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1

_ESCAPE_RE = re.compile(r"\\(.)", re.S)
_LVALUE_ESCAPES = {'"': '"', "\\": "\\", "n": "\n"}
_TEXT_HELP_ESCAPES = {"\\": "\\", "n": "\n"}


class TokenError(Exception):
    """A lexical error at byte ``offset`` of the current line (internal)."""

    def __init__(self, message: str, offset: int):
        super().__init__(message)
        self.message = message
        self.offset = offset


def column_of(line: bytes, offset: int) -> int:
    """1-based character column of byte ``offset`` in ``line``."""
    return len(line[:offset].decode("utf-8", "replace")) + 1


def describe(line: bytes, pos: int) -> str:
    """What was found at ``pos``, for "expected X, got Y" messages."""
    if pos >= len(line):
        return "end of line"
    ch = _printable(line[pos : pos + 1].decode("utf-8", "replace"))
    return f'"{ch}"' if ch != '"' else "'\"'"


def skip_ws(line: bytes, pos: int) -> int:
    """Index of the first byte at or after ``pos`` that is not a blank or tab."""
    return WS_RE.match(line, pos).end()


def parse_float(tok: bytes, offset: int, what: str = "value") -> float:
    """Parse a sample value (or exemplar value) the way Go's ParseFloat does.

    NaN comes back as Python's NaN; callers that store values canonicalise it
    to ``NORMAL_NAN`` in bulk.
    """
    if not FLOAT_RE.fullmatch(tok):
        raise TokenError(f"invalid {what} {_show(tok)}", offset)
    f = float(tok)
    if math.isinf(f) and b"n" not in tok.lower():
        raise TokenError(f"{what} {_show(tok)} is out of the float64 range", offset)
    return f


def parse_int64(tok: bytes, offset: int) -> int:
    """Parse a text-format timestamp: decimal int64 milliseconds."""
    if not INT_RE.fullmatch(tok):
        raise TokenError(f"invalid timestamp {_show(tok)}, expected integer milliseconds", offset)
    v = int(tok)
    if not INT64_MIN <= v <= INT64_MAX:
        raise TokenError(f"timestamp {_show(tok)} does not fit in int64", offset)
    return v


def parse_om_timestamp(tok: bytes, offset: int, what: str = "timestamp") -> tuple[float, int]:
    """Parse an OpenMetrics timestamp (float seconds, no NaN/Inf).

    Returns ``(seconds, milliseconds)``. Milliseconds are ``seconds * 1000``
    truncated toward zero, as Prometheus computes them (``int64(ts * 1000)``),
    and clamped to the int64 range: a far-future timestamp still parses (the
    OpenMetrics suite requires it) and is later refused by the TSDB as out of
    bounds, the way Prometheus drops such a sample without failing the scrape.
    """
    if not REAL_RE.fullmatch(tok):
        raise TokenError(f"invalid {what} {_show(tok)}", offset)
    sec = float(tok)
    if math.isinf(sec):
        raise TokenError(f"{what} {_show(tok)} is out of the float64 range", offset)
    ms = sec * 1000.0
    if ms >= 9.2e18:
        return sec, INT64_MAX
    if ms <= -9.2e18:
        return sec, INT64_MIN
    return sec, int(ms)


def decode_utf8(raw: bytes, offset: int, what: str) -> str:
    """Decode ``raw`` strictly; the error names the first bad byte."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise TokenError(f"invalid UTF-8 in {what} (byte 0x{raw[e.start]:02x})", offset + e.start) from None


def unescape_label_value(s: str) -> str:
    r"""Undo ``\\``, ``\"`` and ``\n``, left to right; any other backslash pair is
    kept as is (Prometheus' ``lvalReplacer``; client_golang would reject it)."""
    if "\\" not in s:
        return s
    return _ESCAPE_RE.sub(lambda m: _LVALUE_ESCAPES.get(m.group(1), m.group(0)), s)


def unescape_text_help(s: str) -> str:
    r"""Text format HELP: only ``\\`` and ``\n`` are escapes (``helpReplacer``)."""
    if "\\" not in s:
        return s
    return _ESCAPE_RE.sub(lambda m: _TEXT_HELP_ESCAPES.get(m.group(1), m.group(0)), s)


def canonical_labels(
    name: str, pairs: list[tuple[str, str, int]]
) -> tuple[tuple[str, str], ...]:
    """The canonical label set of a sample: ``__name__`` plus ``pairs``, sorted,
    empty values dropped. ``pairs`` holds ``(label name, value, byte offset)``.

    A repeated label name (``__name__`` inside the braces included) is an error:
    Prometheus fails the scrape with "label name not unique".
    """
    out = {"__name__": name}
    for lname, value, off in pairs:
        if lname in out:
            raise TokenError(f'duplicate label name "{lname}"', off)
        out[lname] = value
    if len(out) == 1:
        return (("__name__", name),)
    return tuple(sorted(kv for kv in out.items() if kv[1] != ""))


def fast_labels(name: str, raw_pairs: list[tuple[bytes, bytes]]) -> tuple[tuple[str, str], ...] | None:
    """:func:`canonical_labels` for pairs already matched by a line regex
    (``(name, raw value)`` bytes). Returns None instead of raising -- on a
    duplicate name or invalid UTF-8 -- so that the caller re-scans the line
    with the token scanner, which reports the error with its position."""
    out = {"__name__": name}
    for ln, lv in raw_pairs:
        k = ln.decode("ascii")
        if k in out:
            return None
        try:
            v = lv.decode("utf-8")
        except UnicodeDecodeError:
            return None
        if "\\" in v:
            v = unescape_label_value(v)
        out[k] = v
    return tuple(sorted(kv for kv in out.items() if kv[1]))


def format_om_float(f: float) -> str:
    """Prometheus' ``FormatOpenMetricsFloat``: Go's shortest ``%g`` (exponent
    when it is < -4 or >= 6, at least two exponent digits), with ``.0`` appended
    when there is neither ``.`` nor ``e``. Used to normalise ``le`` and
    ``quantile`` values the way Prometheus 3 does (``"1"`` -> ``"1.0"``)."""
    if f == 1:
        return "1.0"
    if f == 0:
        return "0.0"
    if f == -1:
        return "-1.0"
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    sign, digits, exp = Decimal(repr(f)).as_tuple()
    ds = "".join(map(str, digits)).rstrip("0") or "0"
    exp += len(digits) - len(ds)  # dropped trailing zeros move the exponent
    nd = len(ds)
    x = nd + exp - 1  # decimal exponent of the first digit
    neg = "-" if sign else ""
    if x < -4 or x >= 6:
        mant = ds[0] + ("." + ds[1:] if nd > 1 else "")
        return f"{neg}{mant}e{'-' if x < 0 else '+'}{abs(x):02d}"
    dp = nd + exp  # digits before the decimal point
    if dp <= 0:
        s = "0." + "0" * (-dp) + ds
    elif dp >= nd:
        s = ds + "0" * (dp - nd)
    else:
        s = ds[:dp] + "." + ds[dp:]
    s = neg + s
    return s if ("." in s or "e" in s) else s + ".0"


def _printable(s: str) -> str:
    """Control characters (CR, NUL, tab...) shown escaped, so messages stay on one line."""
    if s.isprintable():
        return s
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in s)


def _show(tok: bytes) -> str:
    s = _printable(tok[:64].decode("utf-8", "replace"))
    return f'"{s}"' + ("..." if len(tok) > 64 else "")
