"""Resolve label matchers to a sorted array of series refs (Prometheus's ``PostingsForMatchers``).

Works over anything with the :class:`PostingsSource` shape, so the head's
in-memory index can reuse it.

Semantics (Prometheus ``tsdb/querier.go``; a missing label has the value ""):

* A matcher that does *not* match "" (``a="x"``, ``a=~"x.+"``, ``a!=""``)
  requires the label: its postings are intersected in.
* A negative matcher that does match "" (``a!="x"``, ``a!~"x.*"``) is
  subtracted: the series whose value matches the *inverse* are removed.
* A positive matcher that matches "" (``a=""``, ``a=~"x|"``, ``a=~".*"``)
  also selects series without the label, so it is applied by subtraction
  too: remove the series whose value does not match.
* Only subtractions: start from all postings. No matchers at all: empty.

Regex and inequality matchers are resolved against the label's value list
(one ``Matcher.matches`` call per distinct value, not per series). Set
operations are numpy on int64 arrays: intersection and difference by binary
search of the smaller list in the larger (O(small x log large)), union by
``unique`` over a concatenation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from .matchers import Matcher, MatchType

EMPTY = np.zeros(0, dtype=np.int64)
_EMPTY = EMPTY


class PostingsSource(Protocol):
    def postings(self, name: str, value: str) -> np.ndarray: ...

    def all_postings(self) -> np.ndarray: ...

    def label_values(self, name: str) -> list[str]: ...


def union(arrays: Sequence[np.ndarray]) -> np.ndarray:
    """Sorted union of sorted int64 arrays."""
    arrays = [a for a in arrays if len(a)]
    if not arrays:
        return _EMPTY
    if len(arrays) == 1:
        return arrays[0]
    return np.unique(np.concatenate(arrays))


def intersect_sorted(small: np.ndarray, big: np.ndarray) -> np.ndarray:
    """``small`` ∩ ``big`` for sorted, duplicate-free arrays: a binary search of each of ``small`` in ``big``.

    O(len(small) x log len(big)), where ``np.intersect1d`` sorts the concatenation of both on every
    call (a thousand rule selectors a round spent a fifth of their CPU there).
    """
    if len(small) == 0 or len(big) == 0:
        return _EMPTY
    idx = np.searchsorted(big, small)
    np.minimum(idx, len(big) - 1, out=idx)
    return small[big[idx] == small]


def subtract_sorted(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a`` minus ``b`` for sorted, duplicate-free arrays (binary search of ``a`` in ``b``)."""
    if len(a) == 0 or len(b) == 0:
        return a
    idx = np.searchsorted(b, a)
    np.minimum(idx, len(b) - 1, out=idx)
    return a[b[idx] != a]


def _values_postings(ix: PostingsSource, name: str, pred: Callable[[str], bool]) -> np.ndarray:
    return union([ix.postings(name, v) for v in ix.label_values(name) if pred(v)])


def _literal_postings(ix: PostingsSource, name: str, values: frozenset[str]) -> np.ndarray:
    """The series whose ``name`` is one of ``values``: one lookup a value, not one test a label value."""
    return union([ix.postings(name, v) for v in values if v])


def _matching(ix: PostingsSource, m: Matcher) -> np.ndarray:
    """Series having label ``m.name`` with a value that ``m`` matches."""
    if m.type is MatchType.EQ:
        return ix.postings(m.name, m.value)
    if m.type is MatchType.RE and m.literal_values is not None:
        return _literal_postings(ix, m.name, m.literal_values)
    return _values_postings(ix, m.name, m.matches)


def _not_matching(ix: PostingsSource, m: Matcher) -> np.ndarray:
    """Series having label ``m.name`` with a value that ``m`` does not match."""
    if m.type is MatchType.NEQ:
        return ix.postings(m.name, m.value)
    if m.type is MatchType.NRE and m.literal_values is not None:
        return _literal_postings(ix, m.name, m.literal_values)
    return _values_postings(ix, m.name, lambda v: not m.matches(v))


def postings_for_matchers(ix: PostingsSource, matchers: Sequence[Matcher]) -> np.ndarray:
    """Sorted int64 refs of the series selected by all ``matchers``."""
    keep: list[np.ndarray] = []
    drop: list[np.ndarray] = []
    for m in matchers:
        if m.name == "" and m.value == "" and m.type is MatchType.EQ:
            keep.append(ix.all_postings())  # Prometheus's special case
        elif not m.matches_empty:
            # The label must be set (a="x", a=~"x.+", a!="", a!~""): intersect.
            p = _matching(ix, m)
            if len(p) == 0:
                return _EMPTY
            keep.append(p)
        elif m.type is MatchType.RE and m.value == ".*":
            continue  # matches every value and every missing label: no constraint
        else:
            # Selects series without the label too (a!="x", a!~"x.*", a="", a=~"x|"):
            # subtract the series whose value it rejects.
            drop.append(_not_matching(ix, m))
    if not keep:
        if not drop and not matchers:
            return _EMPTY
        keep.append(ix.all_postings())
    keep.sort(key=len)  # intersect from the smallest list: every step stays small
    result = keep[0]
    for p in keep[1:]:
        result = intersect_sorted(result, p)
        if len(result) == 0:
            return _EMPTY
    for p in drop:
        if len(p):
            result = subtract_sorted(result, p)
    return result.astype(np.int64, copy=False)
