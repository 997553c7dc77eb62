"""Typed readers for configuration values: each checks one value and names its path on error.

Every reader takes the path of the value and the value (as ``_yaml.load_yaml``
produced it) and returns the typed value or raises :class:`PathError`, which
the loader turns into a :class:`ConfigError` with the line. Keeping these
apart keeps the section parsers (``config.py``, ``config_http.py``) a plain
list of fields.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from ._yaml import Path, PathError
from .durations import parse_bytes, parse_duration
from .relabel import is_label_name


def mapping(path: Path, v: Any, *, allowed: Collection[str], unsupported: Collection[str] = (),
            what: str) -> dict[str, Any]:
    """A mapping whose keys are all in ``allowed``; None (an empty YAML block) is ``{}``.

    ``unsupported`` are Prometheus keys promlite does not implement: they get a
    message saying so rather than "unknown key".
    """
    if v is None:
        return {}
    if not isinstance(v, Mapping):
        raise PathError(path, f"{what} must be a mapping, got {_kind(v)}")
    for k in v:
        if not isinstance(k, str):
            raise PathError(path, f"{what}: keys must be strings, got {k!r}")
        if k in unsupported:
            raise PathError((*path, k), f"{k!r} is a Prometheus setting that promlite does not support (see docs/config.md)")
        if k not in allowed:
            raise PathError((*path, k), f"unknown key {k!r} in {what}")
    return dict(v)


def string(path: Path, v: Any, *, raw: Mapping[Path, str] | None = None) -> str:
    """A scalar as text; numbers and booleans keep their YAML spelling (as Go's yaml does)."""
    if isinstance(v, str):
        return v
    if v is None:
        return ""
    if isinstance(v, Mapping | list):
        raise PathError(path, f"expected a string, got {_kind(v)}")
    if raw is not None and path in raw:
        return raw[path]
    return str(v).lower() if isinstance(v, bool) else str(v)


def boolean(path: Path, v: Any) -> bool:
    if not isinstance(v, bool):
        raise PathError(path, f"expected true or false, got {v!r}")
    return v


def uint(path: Path, v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise PathError(path, f"expected a non-negative integer, got {v!r}")
    return v


def duration(path: Path, v: Any) -> int:
    """A Prometheus duration string -> ms."""
    if isinstance(v, int) and not isinstance(v, bool) and v == 0:
        return 0
    if not isinstance(v, str):
        raise PathError(path, f'not a valid duration string: "{v}"')
    try:
        return parse_duration(v)
    except ValueError as e:
        raise PathError(path, str(e)) from None


def byte_size(path: Path, v: Any) -> int:
    try:
        return parse_bytes(v)
    except (ValueError, TypeError) as e:
        raise PathError(path, str(e)) from None


def string_list(path: Path, v: Any) -> tuple[str, ...]:
    if v is None:
        return ()
    if not isinstance(v, list):
        raise PathError(path, f"expected a list, got {_kind(v)}")
    out = []
    for i, item in enumerate(v):
        if not isinstance(item, str):
            raise PathError((*path, i), f"expected a string, got {item!r}")
        out.append(item)
    return tuple(out)


def label_set(path: Path, v: Any) -> tuple[tuple[str, str], ...]:
    """A ``{name: value}`` mapping with valid label names, as sorted pairs (empty values dropped)."""
    if v is None:
        return ()
    if not isinstance(v, Mapping):
        raise PathError(path, f"expected a mapping of label names to values, got {_kind(v)}")
    out = {}
    for k, val in v.items():
        if not isinstance(k, str) or not is_label_name(k):
            raise PathError((*path, str(k)), f'"{k}" is not a valid label name')
        if isinstance(val, Mapping | list):
            raise PathError((*path, k), f"label value must be a string, got {_kind(val)}")
        s = string((*path, k), val)
        if s:
            out[k] = s
    return tuple(sorted(out.items()))


def _kind(v: Any) -> str:
    if isinstance(v, Mapping):
        return "a mapping"
    if isinstance(v, list):
        return "a list"
    return repr(v)
