"""Prometheus's duration and byte-size syntax: ``1m30s``, ``100MB``.

Durations follow ``model.ParseDuration`` of prometheus/common: a sequence of
integer-unit pairs in decreasing unit order, units ``y w d h m s ms``
(``y`` = 365 d, ``w`` = 7 d), each unit at most once, or the bare ``0``.
:func:`format_duration` is ``model.Duration.String``: the shortest form,
years and weeks only when they divide the duration exactly (``90d``, not
``12w6d``), ``0s`` for zero. Scrape loops put that text into the
``__scrape_interval__`` / ``__scrape_timeout__`` target labels, so it must
match Prometheus's spelling exactly for relabel rules written against it.

Byte sizes follow ``units.ParseBase2Bytes`` (alecthomas/units) as used by
``body_size_limit``: number-unit pairs such as ``512KiB``, ``1.5MB``,
``1GB512MB``, where ``KB`` and ``KiB`` both mean 1024 bytes. A YAML integer is
a byte count.

All values are integers: milliseconds for durations, bytes for sizes.
"""

from __future__ import annotations

import re

_UNITS_MS = {
    "y": 365 * 24 * 3600 * 1000,
    "w": 7 * 24 * 3600 * 1000,
    "d": 24 * 3600 * 1000,
    "h": 3600 * 1000,
    "m": 60 * 1000,
    "s": 1000,
    "ms": 1,
}
_DURATION_RE = re.compile(
    r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$"
)
_ORDER = ("y", "w", "d", "h", "m", "s", "ms")
# Go's time.Duration is int64 nanoseconds: longer durations overflow there.
_MAX_MS = (2**63 - 1) // 1_000_000

_BYTE_UNITS = {
    "B": 1,
    "KB": 1 << 10, "KiB": 1 << 10,
    "MB": 1 << 20, "MiB": 1 << 20,
    "GB": 1 << 30, "GiB": 1 << 30,
    "TB": 1 << 40, "TiB": 1 << 40,
    "PB": 1 << 50, "PiB": 1 << 50,
    "EB": 1 << 60, "EiB": 1 << 60,
}
_BYTES_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)([A-Za-z]+)")


def parse_duration(text: str) -> int:
    """``"1m30s"`` -> 90000 (ms). Raises ValueError with Prometheus's wording."""
    if text == "0":
        return 0
    m = _DURATION_RE.match(text) if text else None
    if m is None or not any(m.groups()):
        raise ValueError(f'not a valid duration string: "{text}"')
    total = 0
    for unit, digits in zip(_ORDER, m.groups(), strict=True):
        if digits is not None:
            total += int(digits) * _UNITS_MS[unit]
    if total > _MAX_MS:
        raise ValueError(f'duration out of range: "{text}"')
    return total


def format_duration(ms: int) -> str:
    """90000 -> ``"1m30s"``; the inverse of :func:`parse_duration` in Prometheus's spelling."""
    if ms == 0:
        return "0s"
    out = []
    rest = ms
    for unit in _ORDER:
        mult = _UNITS_MS[unit]
        if unit in ("y", "w") and rest % mult:
            continue
        v, rest = divmod(rest, mult)
        if v:
            out.append(f"{v}{unit}")
    return "".join(out)


def parse_bytes(value: str | int) -> int:
    """``"10MB"`` -> 10485760; an int is taken as bytes. Raises ValueError."""
    if isinstance(value, bool):
        raise ValueError(f"invalid byte size {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"byte size must not be negative, got {value}")
        return value
    text = value.strip()
    if text == "0":
        return 0
    pos = 0
    total = 0.0
    while pos < len(text):
        m = _BYTES_PART.match(text, pos)
        if m is None:
            raise ValueError(f'units: invalid byte size "{value}" (expected e.g. "512KiB", "10MB")')
        unit = m.group(2)
        if unit not in _BYTE_UNITS:
            raise ValueError(f'units: unknown unit {unit} in "{value}"')
        total += float(m.group(1)) * _BYTE_UNITS[unit]
        pos = m.end()
    if pos == 0:
        raise ValueError(f'units: invalid byte size "{value}"')
    return int(total)
