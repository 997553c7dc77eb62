"""Label sets: validation and the canonical form.

A series is identified by its label set. The canonical form is a tuple of
``(name, value)`` string pairs sorted by name, ``__name__`` included, with no
empty values (Prometheus treats an empty value as an absent label). Tuples
hash and compare fast and are what the head's series index keys on.

Validation follows Prometheus 3: metric and label names may be any valid
UTF-8 (quoted in PromQL when they are not "legacy" names), but must not be
empty; label names starting with ``__`` are reserved, ``__name__`` excepted.
We keep the legacy check available because the exposition format and the
scraper need it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from .errors import InvalidLabelsError

Labels = tuple[tuple[str, str], ...]
"""Canonical label set: sorted ``(name, value)`` pairs, no empty values."""

METRIC_NAME = "__name__"

_LEGACY_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_LEGACY_METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")


def is_legacy_label_name(name: str) -> bool:
    """True for names matching ``[a-zA-Z_][a-zA-Z0-9_]*`` (Prometheus 2 rules)."""
    return bool(_LEGACY_LABEL_NAME.match(name))


def is_legacy_metric_name(name: str) -> bool:
    """True for names matching ``[a-zA-Z_:][a-zA-Z0-9_:]*`` (Prometheus 2 rules)."""
    return bool(_LEGACY_METRIC_NAME.match(name))


def _check_str(kind: str, s: object, where: str) -> str:
    if isinstance(s, bytes):
        try:
            return s.decode("utf-8")
        except UnicodeDecodeError as e:
            raise InvalidLabelsError(f"{kind} {where} is not valid UTF-8: {s!r} ({e.reason} at byte {e.start})") from None
    if not isinstance(s, str):
        raise InvalidLabelsError(f"{kind} {where} must be a string, got {type(s).__name__}")
    try:
        s.encode("utf-8")
    except UnicodeEncodeError as e:
        raise InvalidLabelsError(f"{kind} {where} is not valid UTF-8 (lone surrogate at {e.start}): {s!r}") from None
    return s


def make_labels(
    labels: Mapping[str, str] | Iterable[tuple[str, str]], *, legacy_names: bool = False
) -> Labels:
    """Validate ``labels`` and return the canonical sorted tuple.

    Accepts a mapping or an iterable of pairs; ``bytes`` are decoded as UTF-8.
    Pairs with an empty value are dropped, as Prometheus does. Raises
    :class:`InvalidLabelsError` naming the offending label.
    """
    items = labels.items() if isinstance(labels, Mapping) else labels
    out: dict[str, str] = {}
    for pair in items:
        try:
            name, value = pair
        except (TypeError, ValueError):
            raise InvalidLabelsError(f"label must be a (name, value) pair, got {pair!r}") from None
        name = _check_str("label name", name, repr(name))
        value = _check_str("value of label", value, repr(name))
        if not name:
            raise InvalidLabelsError("empty label name")
        if legacy_names:
            ok = is_legacy_metric_name(value) if name == METRIC_NAME else is_legacy_label_name(name)
            if not ok:
                what = f"metric name {value!r}" if name == METRIC_NAME else f"label name {name!r}"
                raise InvalidLabelsError(f"invalid {what}")
        if name in out:
            raise InvalidLabelsError(f"duplicate label name {name!r}")
        if value == "":
            continue
        out[name] = value
    if not out:
        raise InvalidLabelsError("empty label set")
    return tuple(sorted(out.items()))


def labels_to_dict(labels: Labels) -> dict[str, str]:
    """The label set as a plain dict (a copy)."""
    return dict(labels)


def metric_name(labels: Labels) -> str | None:
    """The value of ``__name__``, or None."""
    for n, v in labels:
        if n == METRIC_NAME:
            return v
    return None


def format_labels(labels: Labels) -> str:
    """Prometheus's text form: ``name{a="b", c="d"}`` (names quoted when not legacy)."""
    name = metric_name(labels)
    parts = []
    for n, v in labels:
        if n == METRIC_NAME and name is not None and is_legacy_metric_name(name):
            continue
        key = n if is_legacy_label_name(n) else _quote(n)
        if n == METRIC_NAME:
            parts.append(_quote(v))
        else:
            parts.append(f"{key}={_quote(v)}")
    head = name if name is not None and is_legacy_metric_name(name) else ""
    return head + "{" + ", ".join(parts) + "}"


def _quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
