"""Resolving label matchers to sorted series refs ("postings").

Shared by the head and by on-disk blocks: both expose the small
:class:`LabelIndex` protocol, and :func:`postings_for_matchers` does the set
algebra with numpy, the way Prometheus's ``PostingsForMatchers`` does:

* matchers that cannot match the empty string select series *having* the
  label; their postings are intersected;
* matchers that do match the empty string (``a=""``, ``a!="x"``, ``a=~".*"``,
  ``a!~"x"``) also select series *lacking* the label, so they are applied by
  subtracting the series whose value does *not* match;
* with no positive matcher at all, the start set is every series.

Postings are sorted, unique ``int64`` arrays. Unions, intersections and
differences are numpy set operations: no Python loop per series.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from .matchers import Matcher, MatchType

EMPTY = np.empty(0, dtype=np.int64)


class LabelIndex(Protocol):
    """What :func:`postings_for_matchers` needs from an index."""

    def all_postings(self) -> NDArray[np.int64]:
        """Every series ref, sorted."""
        ...

    def label_values(self, name: str) -> Sequence[str]:
        """Every value of label ``name`` (any order)."""
        ...

    def postings(self, name: str, value: str) -> NDArray[np.int64]:
        """Sorted refs of the series with ``name=value`` (empty when none)."""
        ...


def union(arrays: Sequence[NDArray[np.int64]]) -> NDArray[np.int64]:
    """Sorted union of sorted ref arrays."""
    arrays = [a for a in arrays if len(a)]
    if not arrays:
        return EMPTY
    if len(arrays) == 1:
        return arrays[0]
    return np.unique(np.concatenate(arrays))


def _matching_values(index: LabelIndex, m: Matcher, want: bool) -> list[str]:
    """Values of ``m.name`` for which ``m.matches(value) == want``."""
    if m.type is MatchType.EQ and want:
        return [m.value]
    return [v for v in index.label_values(m.name) if m.matches(v) == want]


def _postings_for_values(index: LabelIndex, name: str, values: Sequence[str]) -> NDArray[np.int64]:
    return union([index.postings(name, v) for v in values])


def postings_for_matchers(index: LabelIndex, matchers: Sequence[Matcher]) -> NDArray[np.int64]:
    """Sorted refs of the series that satisfy every matcher."""
    positives: list[NDArray[np.int64]] = []
    negatives: list[NDArray[np.int64]] = []
    for m in matchers:
        if m.matches_empty:
            # Selects series lacking the label, so subtract the series that
            # have it with a non-matching value.
            if m.type is MatchType.RE and m.value == ".*":
                continue  # matches every value and every missing label
            bad = _matching_values(index, m, want=False)
            negatives.append(_postings_for_values(index, m.name, bad))
        else:
            good = _matching_values(index, m, want=True)
            p = _postings_for_values(index, m.name, good)
            if not len(p):
                return EMPTY
            positives.append(p)

    if positives:
        positives.sort(key=len)
        result = positives[0]
        for p in positives[1:]:
            result = np.intersect1d(result, p, assume_unique=True)
            if not len(result):
                return EMPTY
    else:
        result = index.all_postings()
    for n in negatives:
        if len(n) and len(result):
            result = np.setdiff1d(result, n, assume_unique=True)
    return np.asarray(result, dtype=np.int64)
