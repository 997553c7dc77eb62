"""Go's ``fmt`` as alert templates see it: ``%v`` of Go values, ``Sprint``, ``Sprintln``, ``Sprintf``.

Alert annotations are compared byte for byte by Alertmanager (deduplication,
silences, inhibition) and by ``promtool test rules``, so ``printf`` and plain
``{{ $value }}`` must print exactly what Prometheus prints. Values are the
Python images of Go values (see :mod:`.template`): ``str`` is a Go string,
``int`` an ``int``, ``float`` a ``float64``, ``bool``, ``None`` (nil), ``list``
(a slice), ``dict`` (a map, printed with sorted keys as Go's ``fmt`` does), and
objects with a ``go_format()`` method (structs, pointers, ``time.Time``).

Floats print like Go: ``%v``/``%g`` shortest (``1e+06``, ``0.5``), ``+Inf``,
``-Inf``, ``NaN``; precision-limited verbs round the exact binary value to
nearest-even, which Python's ``%`` formatting also does, so only the special
values and the exponent layout needed fixing.
"""

from __future__ import annotations

import math

from promlite.gofmt import format_g
from query.quoting import go_quote, go_quote_rune

_MAX_WIDTH = 1_000_000  # Go's fmt refuses larger widths/precisions (%!(BADWIDTH)).


def go_type_name(v: object) -> str:
    """The Go type name of a template value, as ``%T`` and error messages print it."""
    if v is None:
        return "<nil>"
    name = getattr(type(v), "go_type", None)
    if isinstance(name, str):
        return name
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float64"
    if isinstance(v, str):
        return "string"
    if isinstance(v, dict):
        return "map[string]interface {}"
    if isinstance(v, list | tuple):
        return "[]interface {}"
    return type(v).__name__


def _format_float(v: float, verb: str, prec: int | None, sharp: bool = False) -> str:
    """One float64 under ``%e %E %f %F %g %G`` without sign/width handling (sign included)."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    if verb in "gG" and prec is None:
        s = format_g(v)
        return s.upper() if verb == "G" else s
    if prec is None:
        prec = 6
    if verb in "gG":
        p = max(prec, 1)
        s = format(v, f"{'#' if sharp else ''}.{p}g")
    elif verb in "eE":
        s = format(v, f".{prec}e")
    else:
        s = format(v, f".{prec}f")
    if verb in "EG":
        s = s.upper()
    return s


def format_value(v: object, *, top: bool = True) -> str:
    """Go's ``fmt.Sprint`` of one value (``%v``)."""
    if v is None:
        return "<nil>"
    fmt = getattr(v, "go_format", None)
    if fmt is not None:
        return fmt(top)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return _format_float(v, "g", None)
    if isinstance(v, str):
        return v
    if isinstance(v, dict):
        parts = [f"{format_value(k, top=False)}:{format_value(v[k], top=False)}"
                 for k in sorted(v, key=_sort_key)]
        return "map[" + " ".join(parts) + "]"
    if isinstance(v, list | tuple):
        return "[" + " ".join(format_value(x, top=False) for x in v) + "]"
    return str(v)


def _sort_key(k: object) -> tuple:
    """Go's ``fmt`` sorts map keys: numbers numerically, strings bytewise (code points agree)."""
    if isinstance(k, bool):
        return (0, int(k), "")
    if isinstance(k, int | float):
        return (1, k, "")
    return (2, 0, str(k))


def sprint(args: list) -> str:
    """``fmt.Sprint``: spaces between operands when neither side is a string."""
    out: list[str] = []
    for i, a in enumerate(args):
        if i > 0 and not isinstance(a, str) and not isinstance(args[i - 1], str):
            out.append(" ")
        out.append(format_value(a))
    return "".join(out)


def sprintln(args: list) -> str:
    """``fmt.Sprintln``: operands always space separated, then a newline."""
    return " ".join(format_value(a) for a in args) + "\n"


class _Spec:
    __slots__ = ("minus", "plus", "sharp", "space", "zero", "width", "prec", "verb")

    def __init__(self) -> None:
        self.minus = self.plus = self.sharp = self.space = self.zero = False
        self.width: int | None = None
        self.prec: int | None = None
        self.verb = ""


def _pad(s: str, spec: _Spec, zero_ok: bool = False) -> str:
    if spec.width is None or len(s) >= spec.width:
        return s
    fill = spec.width - len(s)
    if spec.minus:
        return s + " " * fill
    if spec.zero and zero_ok:
        sign = s[0] if s[:1] in ("-", "+", " ") else ""
        body = s[len(sign):]
        if body[:2] in ("0x", "0X", "0b", "0o"):
            return sign + body[:2] + "0" * fill + body[2:]
        return sign + "0" * fill + body
    return " " * fill + s


def _bad_verb(spec: _Spec, v: object) -> str:
    if v is None:
        return f"%!{spec.verb}(<nil>)"
    return f"%!{spec.verb}({go_type_name(v)}={format_value(v)})"


def _fmt_int(v: int, spec: _Spec) -> str:
    verb = spec.verb
    if verb == "c":
        try:
            return _pad(chr(v), spec)
        except (ValueError, OverflowError):
            return _pad("\ufffd", spec)
    if verb == "q":
        try:
            return _pad(go_quote_rune(chr(v)), spec)
        except (ValueError, OverflowError):
            return _pad("'\ufffd'", spec)
    if verb == "U":
        s = f"U+{v:04X}" if v >= 0 else f"U+{v & 0xFFFFFFFFFFFFFFFF:04X}"
        if spec.sharp and 0 <= v <= 0x10FFFF and chr(v).isprintable():
            s += f" '{chr(v)}'"
        return _pad(s, spec)
    base = {"d": 10, "v": 10, "x": 16, "X": 16, "o": 8, "O": 8, "b": 2}[verb]
    neg = v < 0
    a = -v if neg else v
    digits = {10: "%d", 16: "%x", 8: "%o", 2: ""}[base]
    body = format(a, "b") if base == 2 else digits % a
    if verb == "X":
        body = body.upper()
    if spec.prec is not None:
        if spec.prec == 0 and a == 0:
            body = ""
        body = body.rjust(spec.prec, "0")
    prefix = ""
    if verb == "O":
        prefix = "0o"
    elif spec.sharp:
        prefix = {"x": "0x", "X": "0X", "o": "0" if not body.startswith("0") else "", "b": "0b"}.get(verb, "")
    sign = "-" if neg else ("+" if spec.plus else (" " if spec.space else ""))
    return _pad(sign + prefix + body, spec, zero_ok=spec.prec is None)


def _fmt_float(v: float, spec: _Spec) -> str:
    verb = spec.verb
    if verb == "v":
        verb = "g"
    if verb in "xX":
        if math.isnan(v) or math.isinf(v):
            s = _format_float(v, "g", None)
        else:
            s = _hex_float(v, spec.prec)
            if verb == "X":
                s = s.upper()
    else:
        s = _format_float(v, verb, spec.prec, spec.sharp)
    if s in ("+Inf", "-Inf", "NaN"):
        if s == "NaN" and (spec.plus or spec.space):
            s = ("+" if spec.plus else " ") + s
        elif s == "+Inf" and not spec.plus:
            s = " Inf" if spec.space else "+Inf"
        zero = spec.zero
        spec.zero = False
        out = _pad(s, spec)
        spec.zero = zero
        return out
    if not s.startswith("-"):
        if spec.plus:
            s = "+" + s
        elif spec.space:
            s = " " + s
    return _pad(s, spec, zero_ok=True)


def _hex_float(v: float, prec: int | None) -> str:
    """Go's ``%x`` of a float64: ``0x1.8p+01``."""
    neg = math.copysign(1.0, v) < 0
    if v == 0:
        mant, exp = "0", 0
    else:
        h = float.hex(abs(v))  # 0x1.8000000000000p+1
        m, _, e = h[2:].partition("p")
        exp = int(e)
        lead, _, frac = m.partition(".")
        if lead == "0":  # subnormal: normalise like Go
            bits = int(frac, 16)
            exp = -1022
            while bits < (1 << 52):
                bits <<= 1
                exp -= 1
            frac = f"{bits & ((1 << 52) - 1):013x}"
        mant = "1." + frac.rstrip("0") if frac.rstrip("0") else "1"
        if prec is not None:
            whole = int(frac, 16) if frac else 0
            shift = 52 - 4 * prec
            if prec < 13 and shift > 0:
                q, r = divmod(whole, 1 << shift)
                half = 1 << (shift - 1)
                if r > half or (r == half and q & 1):
                    q += 1
                if q >> (4 * prec):
                    q = 0
                    exp += 1
                frac = f"{q:0{prec}x}" if prec else ""
            else:
                frac = (frac + "0" * prec)[:prec]
            mant = "1." + frac if prec else "1"
    if v == 0 and prec:
        mant = "0." + "0" * prec
    sign = "-" if neg else ""
    return f"{sign}0x{mant}p{'-' if exp < 0 else '+'}{abs(exp):02d}"


def _fmt_str(s: str, spec: _Spec) -> str:
    verb = spec.verb
    if verb == "v" and spec.sharp:  # Go syntax: a quoted literal
        return _pad(go_quote(s), spec)
    if spec.prec is not None and verb in "sv":
        s = s[: spec.prec]
    if verb in "sv":
        return _pad(s, spec)
    if verb == "q":
        if spec.sharp and "`" not in s and all(c == "\t" or c.isprintable() for c in s):
            return _pad("`" + s + "`", spec)
        q = go_quote(s)
        if spec.plus:
            q = "".join(c if ord(c) < 128 else (f"\\u{ord(c):04x}" if ord(c) < 0x10000 else f"\\U{ord(c):08x}")
                        for c in q)
        return _pad(q, spec)
    if verb in "xX":
        data = s.encode("utf-8", "surrogateescape")
        if spec.prec is not None:
            data = data[: spec.prec]
        digits = "0123456789abcdef" if verb == "x" else "0123456789ABCDEF"
        parts = [digits[b >> 4] + digits[b & 15] for b in data]
        prefix = ("0x" if verb == "x" else "0X") if spec.sharp else ""
        if spec.space:
            out = " ".join(prefix + p for p in parts)
        else:
            out = prefix + "".join(parts)
        return _pad(out, spec)
    return _bad_verb(spec, s)


def _fmt_arg(v: object, spec: _Spec) -> str:
    verb = spec.verb
    if verb == "T":
        return _pad(go_type_name(v), spec)
    if v is None:
        if verb == "v":
            return _pad("<nil>", spec)
        return _bad_verb(spec, v)
    stringer = getattr(v, "go_string", None)
    if stringer is not None and verb in "svqxX":
        return _fmt_str(stringer(), spec)
    if isinstance(v, bool):
        if verb in "tv":
            return _pad("true" if v else "false", spec)
        return _bad_verb(spec, v)
    if isinstance(v, int):
        if verb in "dvxXoObcqU":
            return _fmt_int(v, spec)
        return _bad_verb(spec, v)
    if isinstance(v, float):
        if verb in "veEfFgGxX":
            return _fmt_float(v, spec)
        return _bad_verb(spec, v)
    if isinstance(v, str):
        if verb in "svqxX":
            return _fmt_str(v, spec)
        return _bad_verb(spec, v)
    if isinstance(v, list | tuple):
        if verb == "v" and not isinstance(v, tuple):
            return _pad(format_value(v), spec)
        inner = []
        for x in v:
            sub = _Spec()
            for a in _Spec.__slots__:
                setattr(sub, a, getattr(spec, a))
            inner.append(_fmt_arg(x, sub))
        return "[" + " ".join(inner) + "]"
    if verb == "v":
        return _pad(format_value(v), spec)
    if isinstance(v, dict):
        parts = []
        for k in sorted(v, key=_sort_key):
            sub = _Spec()
            sub.verb = verb
            parts.append(f"{_fmt_arg(k, sub)}:{_fmt_arg(v[k], sub)}")
        return "map[" + " ".join(parts) + "]"
    return _bad_verb(spec, v)


def _parsenum(fmt: str, i: int) -> tuple[int | None, int]:
    """Go's ``parsenum``: digits at ``i``; a number past 1e6 swallows the rest of the format."""
    num = None
    n = len(fmt)
    while i < n and "0" <= fmt[i] <= "9":
        if num is not None and num > _MAX_WIDTH:
            return None, n
        num = (num or 0) * 10 + ord(fmt[i]) - 48
        i += 1
    return num, i


def sprintf(fmt: str, args: list) -> str:
    """Go's ``fmt.Sprintf`` for the verbs templates use, with Go's ``%!`` error notes."""
    out: list[str] = []
    n = len(fmt)
    i = 0
    argi = 0
    reordered = False
    while i < n:
        j = fmt.find("%", i)
        if j < 0:
            out.append(fmt[i:])
            break
        out.append(fmt[i:j])
        i = j + 1
        if i >= n:
            out.append("%!(NOVERB)")
            break
        spec = _Spec()
        while i < n and fmt[i] in "+-# 0":
            c = fmt[i]
            if c == "+":
                spec.plus = True
            elif c == "-":
                spec.minus = True
            elif c == "#":
                spec.sharp = True
            elif c == " ":
                spec.space = True
            else:
                spec.zero = True
            i += 1
        bad_index = False

        def arg_index(i: int) -> tuple[int, bool]:
            nonlocal argi, reordered, bad_index
            if i < n and fmt[i] == "[":
                reordered = True
                k = fmt.find("]", i)
                if k < 0 or not fmt[i + 1:k].isdigit() or not 1 <= int(fmt[i + 1:k]) <= len(args) + 1:
                    bad_index = True
                    return (k + 1 if k >= 0 else n), False
                argi = int(fmt[i + 1:k]) - 1
                return k + 1, True
            return i, False

        i, _ = arg_index(i)
        # width
        if i < n and fmt[i] == "*":
            i += 1
            if argi < len(args) and isinstance(args[argi], int) and not isinstance(args[argi], bool):
                w = args[argi]
                argi += 1
                if abs(w) > _MAX_WIDTH:
                    out.append("%!(BADWIDTH)")
                    w = None
                elif w < 0:
                    spec.minus = True
                    w = -w
                spec.width = w
            else:
                argi += 1
                out.append("%!(BADWIDTH)")
        else:
            spec.width, i = _parsenum(fmt, i)
        if i < n and fmt[i] == ".":
            i += 1
            i, _ = arg_index(i)
            if i < n and fmt[i] == "*":
                i += 1
                if argi < len(args) and isinstance(args[argi], int) and not isinstance(args[argi], bool):
                    p = args[argi]
                    argi += 1
                    if p < 0 or p > _MAX_WIDTH:
                        out.append("%!(BADPREC)")
                    else:
                        spec.prec = p
                else:
                    argi += 1
                    out.append("%!(BADPREC)")
            else:
                p, i = _parsenum(fmt, i)
                spec.prec = 0 if p is None else p
        i, _ = arg_index(i)
        if i >= n:
            out.append("%!(NOVERB)")
            break
        verb = fmt[i]
        i += 1
        spec.verb = verb
        if spec.minus:
            spec.zero = False
        if verb == "%":
            out.append("%")
            continue
        if bad_index:
            out.append(f"%!{verb}(BADINDEX)")
            continue
        if argi >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        v = args[argi]
        argi += 1
        out.append(_fmt_arg(v, spec))
    if not reordered and argi < len(args):
        extra = ", ".join("<nil>" if a is None else f"{go_type_name(a)}={format_value(a)}"
                          for a in args[argi:])
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)
