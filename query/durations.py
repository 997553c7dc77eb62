"""Prometheus duration strings: ``1h30m``, ``5m``, ``10s53ms``, ``2w``, ``1y``.

Units, largest first: ``y`` (365 days), ``w``, ``d``, ``h``, ``m``, ``s``,
``ms``. Each unit may appear once, in that order, each preceded by an
unsigned decimal integer; ``"0"`` alone means zero. This is Prometheus's
``model.ParseDuration`` (error texts included); ``parse_duration`` also
accepts float seconds (``"1.5"``) like the HTTP API's ``step``/``timeout``
parameters do.

``format_duration`` is ``model.Duration.String()``: years and weeks are only
used when they divide the value exactly (``90d`` rather than ``12w6d``).

Durations are integer milliseconds throughout promlite (Prometheus keeps
nanoseconds internally but every engine-visible duration is truncated to
milliseconds).
"""

from __future__ import annotations

import math

from .quoting import go_quote

_MS = 1
_S = 1000 * _MS
_M = 60 * _S
_H = 60 * _M
_D = 24 * _H
_W = 7 * _D
_Y = 365 * _D

# unit -> (order, milliseconds); order enforces "largest unit first, once".
_UNITS = {"y": (1, _Y), "w": (2, _W), "d": (3, _D), "h": (4, _H), "m": (5, _M), "s": (6, _S), "ms": (7, _MS)}
_MAX_NS = (1 << 63) - 1


def parse_prometheus_duration(text: str) -> int:
    """Parse a Prometheus duration string (no float seconds) to milliseconds.

    Raises ``ValueError`` with Prometheus's message on bad input.
    """
    if text == "0":
        return 0
    if text == "":
        raise ValueError("empty duration string")
    total_ms = 0
    last_order = 0
    i, n = 0, len(text)
    while i < n:
        j = i
        while j < n and text[j].isascii() and text[j].isdigit():
            j += 1
        if j == i:
            raise ValueError(f"not a valid duration string: {go_quote(text)}")
        value = int(text[i:j])
        k = j
        while k < n and not (text[k].isascii() and text[k].isdigit()):
            k += 1
        if k == j:
            raise ValueError(f"not a valid duration string: {go_quote(text)}")
        unit = text[j:k]
        if unit not in _UNITS:
            raise ValueError(f"unknown unit {go_quote(unit)} in duration {go_quote(text)}")
        order, mult = _UNITS[unit]
        if order <= last_order:
            raise ValueError(f"not a valid duration string: {go_quote(text)}")
        last_order = order
        # Prometheus counts in nanoseconds and refuses anything beyond int64.
        if value > (1 << 63) // (mult * 1_000_000):
            raise ValueError("duration out of range")
        total_ms += value * mult
        if total_ms * 1_000_000 > _MAX_NS:
            raise ValueError("duration out of range")
        i = k
    return total_ms


def parse_duration(text: str) -> int:
    """Parse ``text`` as float seconds or a Prometheus duration; return milliseconds.

    This is what Prometheus's HTTP API accepts for ``step`` and friends:
    ``"15"``, ``"1.5"``, ``"15s"``, ``"1h30m"``. Raises ``ValueError``.
    """
    s = text.strip()
    try:
        seconds = float(s)
    except ValueError:
        seconds = None
    if seconds is not None and s.lower() not in ("inf", "+inf", "-inf", "nan", "infinity", "+infinity", "-infinity"):
        ns = seconds * 1e9
        if not math.isfinite(ns) or ns > _MAX_NS or ns < -(1 << 63):
            raise ValueError(f"cannot parse {go_quote(text)} to a valid duration. It overflows int64")
        return int(ns) // 1_000_000 if ns >= 0 else -(int(-ns) // 1_000_000)
    try:
        return parse_prometheus_duration(s)
    except ValueError:
        raise ValueError(f"cannot parse {go_quote(text)} to a valid duration") from None


def format_duration(ms: int) -> str:
    """``model.Duration.String()`` of a non-negative millisecond count."""
    if ms == 0:
        return "0s"
    if ms < 0:
        return "-" + format_duration(-ms)
    out = []
    for unit, mult, exact in (
        ("y", _Y, True),
        ("w", _W, True),
        ("d", _D, False),
        ("h", _H, False),
        ("m", _M, False),
        ("s", _S, False),
        ("ms", _MS, False),
    ):
        if exact and ms % mult != 0:
            continue
        v = ms // mult
        if v > 0:
            out.append(f"{v}{unit}")
            ms -= v * mult
    return "".join(out)


def seconds_to_ms(seconds: float) -> int:
    """Seconds (a PromQL number used as a duration) to ms, as Prometheus rounds.

    Prometheus computes ``time.Duration(math.Round(v * 1e9))`` nanoseconds and
    later truncates to milliseconds; both steps are reproduced here.
    """
    ns = seconds * 1e9
    ns_int = int(math.floor(abs(ns) + 0.5))  # math.Round: half away from zero
    ms = ns_int // 1_000_000
    return -ms if ns < 0 else ms
