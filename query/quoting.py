"""Go-compatible quoting and number formatting, for Prometheus-identical text.

Prometheus prints strings with Go's ``strconv.Quote`` (error messages, the
expression printer) and floats with ``strconv.FormatFloat(v, 'f', -1, 64)``.
Matching those byte for byte keeps ``format_query`` output and error messages
the same as Prometheus's.

Invalid UTF-8 inside PromQL strings (``"\\xff"`` escapes produce raw bytes) is
carried in Python ``str`` values with the ``surrogateescape`` convention: byte
``0xNN`` (>= 0x80) that is not part of valid UTF-8 becomes ``U+DCNN``. The
quoting functions here turn those back into ``\\xNN``, as Go does.
"""

from __future__ import annotations

import math
from decimal import Decimal

_SIMPLE_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    "\\": "\\\\",
}


def _is_go_print(ch: str) -> bool:
    # Go's unicode.IsPrint: letters, marks, numbers, punctuation, symbols and
    # U+0020. Python's isprintable() is the same set (it also admits only the
    # ASCII space among the Zs characters).
    return ch.isprintable()


def _normalize(s: str) -> str:
    """Re-decode ``s`` so that every invalid-UTF-8 byte is one U+DCxx char."""
    try:
        b = s.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        b = s.encode("utf-8", "surrogatepass")
    return b.decode("utf-8", "surrogateescape")


def _quote_with(s: str, quote: str) -> str:
    out = [quote]
    for ch in _normalize(s):
        o = ord(ch)
        if 0xDC80 <= o <= 0xDCFF:
            out.append(f"\\x{o - 0xDC00:02x}")
        elif ch == quote or ch == "\\":
            out.append("\\" + ch)
        elif _is_go_print(ch):
            out.append(ch)
        elif ch in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[ch])
        elif o < 0x20 or o == 0x7F:
            out.append(f"\\x{o:02x}")
        elif o < 0x10000:
            out.append(f"\\u{o:04x}")
        else:
            out.append(f"\\U{o:08x}")
    out.append(quote)
    return "".join(out)


def go_quote(s: str) -> str:
    """Go's ``strconv.Quote``: a double-quoted string literal."""
    return _quote_with(s, '"')


def go_quote_rune(ch: str) -> str:
    """Go's ``%q`` of a rune, e.g. ``'x'`` or ``'\\n'``."""
    if ch == "":
        return "'\ufffd'"  # Go's %q of the lexer's eof (-1): the replacement character.
    return _quote_with(ch, "'")


def go_unicode_verb(ch: str) -> str:
    """Go's ``%#U`` of a rune: ``U+0063 'c'`` (the char only if printable)."""
    if ch == "":
        return "U+FFFFFFFFFFFFFFFF"
    o = ord(ch)
    if _is_go_print(ch):
        return f"U+{o:04X} '{ch}'"
    return f"U+{o:04X}"


def go_quote_truncated(s: str, n: int = 10) -> str:
    """Go's ``%.10q``: quote the first ``n`` characters."""
    return go_quote(s[:n])


def format_float(v: float) -> str:
    """Go's ``strconv.FormatFloat(v, 'f', -1, 64)``: shortest exact decimal, no exponent."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    r = repr(v)
    if "e" not in r and "E" not in r:
        return r[:-2] if r.endswith(".0") else r
    text = format(Decimal(r), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def format_go_f(v: float) -> str:
    """Go's ``%f`` (6 decimals), with Go's spelling of infinities and NaN."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return f"{v:f}"


def is_valid_utf8(s: str) -> bool:
    """False when ``s`` carries invalid-UTF-8 bytes or lone surrogates."""
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
