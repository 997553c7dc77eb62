"""The head's series index: label set <-> ref, and the inverted index.

Refs are dense integers handed out in increasing order and never reused, so
appending a new ref to a postings list keeps it sorted. Postings lists are
``array('q')`` (8 bytes a ref, no Python object per entry) and are viewed as
numpy arrays without a copy when a query needs them.

Garbage collection (:meth:`SeriesIndex.remove`) drops series that have no
data left in the head after a block was cut; it rebuilds only the postings
lists that mention them.

Memory: label sets are kept *flat* (``(n1, v1, n2, v2, ...)``, one tuple
instead of one per pair) with every string interned through a symbol table,
and a postings list with a single ref is kept as a plain int until a second
ref arrives. Together that roughly halves the index's bytes per series.

Not thread-safe: the DB serialises writers and hands readers copies.
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Iterable, Sequence
from itertools import chain
from operator import itemgetter

import numpy as np
from numpy.typing import NDArray

from .labels import Labels
from .matchers import Matcher
from .postings import EMPTY, postings_for_matchers


class SeriesIndex:
    """Label sets by ref, refs by label set, and postings by (name, value)."""

    def __init__(self) -> None:
        # flat label sets by ref; ref 0 is never used (Prometheus's series refs start at 1, and
        # the WAL is Prometheus's, so refs are the same on both sides)
        self._labels: list[tuple[str, ...] | None] = [None]
        self._by_labels: dict[tuple[str, ...], int] = {}
        self._postings: dict[str, dict[str, array | int]] = {}
        self._symbols: dict[str, str] = {}
        self._all = array("q")
        self._num_live = 0

    # -- writing -----------------------------------------------------------
    @property
    def next_ref(self) -> int:
        """The ref the next new series gets."""
        return len(self._labels)

    def reserve(self, upto: int) -> None:
        """Make new series get refs above ``upto`` (refs used by files promlite keeps but does not load)."""
        if upto >= len(self._labels):
            self._labels.extend([None] * (upto + 1 - len(self._labels)))

    def __len__(self) -> int:
        """Number of live series."""
        return self._num_live

    def get(self, labels: Labels) -> int | None:
        return self._by_labels.get(tuple(chain.from_iterable(labels)))

    def _intern(self, s: str) -> str:
        return self._symbols.setdefault(s, s)

    def is_free(self, ref: int) -> bool:
        """Whether ``ref`` names no live series (never used, or garbage-collected)."""
        return ref >= len(self._labels) or self._labels[ref] is None

    def add(self, labels: Labels, ref: int | None = None) -> int:
        """Register a new series; ``ref`` (from WAL replay) must be free (see :meth:`is_free`).

        WAL replay may define refs out of order: a series created by an
        appender that was rolled back is logged only when a later commit uses
        it, after series with higher refs. Postings stay sorted either way.
        """
        flat = tuple(self._intern(x) for x in chain.from_iterable(labels))
        if flat in self._by_labels:
            raise RuntimeError(f"BUG: series {labels!r} already registered")
        if ref is None:
            ref = len(self._labels)
        elif not self.is_free(ref):
            raise RuntimeError(f"BUG: ref {ref} is already in use")
        if ref >= len(self._labels):
            self._labels.extend([None] * (ref + 1 - len(self._labels)))
        self._labels[ref] = flat
        self._by_labels[flat] = ref
        _insert_sorted(self._all, ref)
        postings = self._postings
        for i in range(0, len(flat), 2):
            name, value = flat[i], flat[i + 1]
            values = postings.get(name)
            if values is None:
                values = postings[name] = {}
            lst = values.get(value)
            if lst is None:
                values[value] = ref
            elif isinstance(lst, int):
                values[value] = array("q", sorted((lst, ref)))
            else:
                _insert_sorted(lst, ref)
        self._num_live += 1
        return ref

    def remove(self, refs: Iterable[int]) -> None:
        """Forget series (garbage collection after the head was truncated)."""
        dead = sorted(set(int(r) for r in refs if self._labels[int(r)] is not None))
        if not dead:
            return
        dead_arr = np.asarray(dead, dtype=np.int64)
        touched: set[tuple[str, str]] = set()
        for r in dead:
            flat = self._labels[r]
            assert flat is not None
            del self._by_labels[flat]
            self._labels[r] = None
            touched.update(zip(flat[::2], flat[1::2], strict=True))
        for name, value in touched:
            values = self._postings[name]
            kept = np.setdiff1d(_as_array(values[value]), dead_arr, assume_unique=True)
            if len(kept) == 1:
                values[value] = int(kept[0])
            elif len(kept):
                values[value] = array("q", kept.tobytes())
            else:
                del values[value]
                if not values:
                    del self._postings[name]
        kept_all = np.setdiff1d(np.frombuffer(self._all, dtype=np.int64), dead_arr, assume_unique=True)
        self._all = array("q", kept_all.tobytes())
        self._num_live -= len(dead)

    # -- reading (LabelIndex protocol) ---------------------------------------
    def labels(self, ref: int) -> Labels:
        flat = self._labels[ref]
        if flat is None:
            raise KeyError(f"series ref {ref} is not in the head")
        return tuple(zip(flat[::2], flat[1::2], strict=True))

    def labels_many(self, refs: Sequence[int] | NDArray[np.int64]) -> list[Labels]:
        return pairs_of(self.flat_labels_many(refs))

    def flat_labels_many(self, refs: Sequence[int] | NDArray[np.int64]) -> list[tuple[str, ...]]:
        """The stored flat ``(n1, v1, n2, v2, ...)`` tuples of ``refs``: one C-level gather.

        Cheap enough to take under the DB lock; :func:`pairs_of` then builds the
        label pairs outside it, so a query over many series does not hold up commits.
        """
        rs = refs.tolist() if isinstance(refs, np.ndarray) else list(refs)
        if not rs:
            return []
        if len(rs) == 1:
            return [self._labels[rs[0]]]  # type: ignore[list-item]
        return list(itemgetter(*rs)(self._labels))

    def all_postings(self) -> NDArray[np.int64]:
        return np.frombuffer(self._all, dtype=np.int64).copy() if len(self._all) else EMPTY

    def label_values(self, name: str) -> list[str]:
        return list(self._postings.get(name, ()))

    def postings(self, name: str, value: str) -> NDArray[np.int64]:
        lst = self._postings.get(name, {}).get(value)
        if lst is None:
            return EMPTY
        return _as_array(lst)

    def label_names(self) -> list[str]:
        return sorted(self._postings)

    def select(self, matchers: Sequence[Matcher]) -> NDArray[np.int64]:
        """Sorted refs of the live series matching every matcher."""
        return postings_for_matchers(self, matchers)

    def live_refs(self) -> NDArray[np.int64]:
        return self.all_postings()


def _as_array(p: array | int) -> NDArray[np.int64]:
    """A postings entry (a lone ref or an ``array('q')``) as a fresh int64 array.

    A copy, never a view: a view would pin the array's buffer and make the
    next ``append`` to it fail.
    """
    if isinstance(p, int):
        return np.array([p], dtype=np.int64)
    return np.frombuffer(p, dtype=np.int64).copy()


def _insert_sorted(arr: array, ref: int) -> None:
    """Append ``ref`` (the usual case: refs grow), or insert it in order (WAL replay filling a gap)."""
    if not arr or arr[-1] < ref:
        arr.append(ref)
    else:
        bisect.insort(arr, ref)


def pairs_of(flats: Sequence[tuple[str, ...]]) -> list[Labels]:
    """Label pairs from flat ``(n1, v1, n2, v2, ...)`` tuples (see :meth:`SeriesIndex.flat_labels_many`)."""
    return [tuple(zip(f[::2], f[1::2], strict=True)) for f in flats]  # type: ignore[misc]
