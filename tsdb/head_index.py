"""The head's series index: label set <-> ref, and the inverted index.

Refs are dense integers handed out in increasing order and never reused, so
appending a new ref to a postings list keeps it sorted. Postings lists are
``array('q')`` (8 bytes a ref, no Python object per entry) and are viewed as
numpy arrays without a copy when a query needs them.

Garbage collection (:meth:`SeriesIndex.remove`) drops series that have no
data left in the head after a block was cut; it rebuilds only the postings
lists that mention them.

Not thread-safe: the DB serialises writers and hands readers copies.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Sequence

import numpy as np
from numpy.typing import NDArray

from .labels import Labels
from .matchers import Matcher
from .postings import EMPTY, postings_for_matchers


class SeriesIndex:
    """Label sets by ref, refs by label set, and postings by (name, value)."""

    def __init__(self) -> None:
        self._labels: list[Labels | None] = []
        self._by_labels: dict[Labels, int] = {}
        self._postings: dict[str, dict[str, array]] = {}
        self._all = array("q")
        self._num_live = 0

    # -- writing -----------------------------------------------------------
    @property
    def next_ref(self) -> int:
        """The ref the next new series gets."""
        return len(self._labels)

    def __len__(self) -> int:
        """Number of live series."""
        return self._num_live

    def get(self, labels: Labels) -> int | None:
        return self._by_labels.get(labels)

    def add(self, labels: Labels, ref: int | None = None) -> int:
        """Register a new series; ``ref`` (from WAL replay) must not be below ``next_ref``."""
        if labels in self._by_labels:
            raise RuntimeError(f"BUG: series {labels!r} already registered")
        if ref is None:
            ref = len(self._labels)
        elif ref < len(self._labels):
            raise RuntimeError(f"BUG: ref {ref} reused (next ref is {len(self._labels)})")
        if ref > len(self._labels):
            self._labels.extend([None] * (ref - len(self._labels)))
        self._labels.append(labels)
        self._by_labels[labels] = ref
        self._all.append(ref)
        postings = self._postings
        for name, value in labels:
            values = postings.get(name)
            if values is None:
                values = postings[name] = {}
            lst = values.get(value)
            if lst is None:
                lst = values[value] = array("q")
            lst.append(ref)
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
            labels = self._labels[r]
            assert labels is not None
            del self._by_labels[labels]
            self._labels[r] = None
            touched.update(labels)
        for name, value in touched:
            values = self._postings[name]
            kept = np.setdiff1d(np.frombuffer(values[value], dtype=np.int64), dead_arr, assume_unique=True)
            if len(kept):
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
        labels = self._labels[ref]
        if labels is None:
            raise KeyError(f"series ref {ref} is not in the head")
        return labels

    def labels_many(self, refs: Sequence[int] | NDArray[np.int64]) -> list[Labels]:
        lab = self._labels
        return [lab[int(r)] for r in refs]  # type: ignore[misc]

    def all_postings(self) -> NDArray[np.int64]:
        return np.frombuffer(self._all, dtype=np.int64).copy() if len(self._all) else EMPTY

    def label_values(self, name: str) -> list[str]:
        return list(self._postings.get(name, ()))

    def postings(self, name: str, value: str) -> NDArray[np.int64]:
        lst = self._postings.get(name, {}).get(value)
        if lst is None or not len(lst):
            return EMPTY
        return np.frombuffer(lst, dtype=np.int64).copy()

    def label_names(self) -> list[str]:
        return sorted(self._postings)

    def select(self, matchers: Sequence[Matcher]) -> NDArray[np.int64]:
        """Sorted refs of the live series matching every matcher."""
        return postings_for_matchers(self, matchers)

    def live_refs(self) -> NDArray[np.int64]:
        return self.all_postings()
