"""Go's float formatting, for output that must match Prometheus's tools byte for byte.

``format_g`` is Go's ``%g`` (``strconv.FormatFloat(v, 'g', -1, 64)``): the
shortest digits that round-trip, in ``%e`` form when the decimal exponent is
below -4 or at least 6 (``1e+06``, ``1.5e-300``), else plain (``177117.4``).
Python's ``repr`` gives the same shortest digits, so only the layout differs.
"""

from __future__ import annotations

import math
from decimal import Decimal


def _digits(v: float) -> tuple[str, int]:
    """Shortest round-trip digits of ``abs(v)`` and the decimal point position (Go's ``digs.dp``)."""
    t = Decimal(repr(abs(v))).normalize().as_tuple()
    digits = "".join(map(str, t.digits)) or "0"
    return digits, len(digits) + int(t.exponent)


def format_g(v: float) -> str:
    """``v`` as Go's ``fmt.Sprintf("%g", v)`` prints it (NaN, +Inf, -Inf, -0 included)."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    sign = "-" if math.copysign(1.0, v) < 0 else ""
    if v == 0:
        return sign + "0"
    digits, dp = _digits(v)
    exp = dp - 1
    if exp < -4 or exp >= 6:
        mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mant}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if dp <= 0:
        return f"{sign}0.{'0' * -dp}{digits}"
    if dp >= len(digits):
        return sign + digits + "0" * (dp - len(digits))
    return f"{sign}{digits[:dp]}.{digits[dp:]}"


def format_e(v: float, upper: bool = False) -> str:
    """Go's ``strconv.FormatFloat(v, 'e', -1, 64)`` (``'E'`` with ``upper``): ``1e+00``, ``2.5e-03``.

    The shortest round-trip digits, always in exponent form with a signed exponent of at least
    two digits; ``NaN``, ``+Inf``, ``-Inf`` and ``-0e+00`` as Go writes them. Prometheus writes
    alert values this way in ``/api/v1/alerts`` and promtool its sample values.
    """
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    e = "E" if upper else "e"
    sign = "-" if math.copysign(1.0, v) < 0 else ""
    if v == 0:
        return f"{sign}0{e}+00"
    digits, dp = _digits(v)
    exp = dp - 1
    mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{sign}{mant}{e}{'-' if exp < 0 else '+'}{abs(exp):02d}"
