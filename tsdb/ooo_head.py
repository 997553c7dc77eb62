"""The out-of-order head: samples older than their series' newest sample, kept until compacted.

Prometheus accepts a sample that is older than its series' newest one (or
older than the head's lower bound) when it is no older than
``out_of_order_time_window`` behind the head's newest sample; it keeps such
samples apart from the in-order chunks (in its OOO head chunks), logs them to
a second log (``wbl/``), merges them into queries, and compacts them into
blocks of their own. promlite does the same; this module is the store.

Why an append-only log of ``(ref, t, v)`` rather than per-series chunks:
out-of-order samples are few (late scrapes, remote-write backfill, pushes
from several senders), arrive in any order, and live only until the next
compaction. Appending a batch is three array copies; a read or a compaction
sorts what it selects (``np.lexsort``, stable, so that for two samples of one
series at one timestamp the one written first wins, as Prometheus's OOO
chunk refuses the second). Nothing here loops in Python per sample.

Readers take a :class:`OOOView` (array views up to the current length) under
the DB lock and select from it without the lock: :meth:`OOOHead.add` only
writes past the views' end (growing replaces the arrays instead of writing
into the old ones) and :meth:`OOOHead.drop_first` builds new arrays.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .growable import grow
from .samples import SampleArrays

NO_TIME_MIN = np.iinfo(np.int64).max
NO_TIME_MAX = np.iinfo(np.int64).min


@dataclass(frozen=True)
class OOOView:
    """The first ``len(ref)`` samples of the store, valid without the DB lock."""

    ref: NDArray[np.int64]
    t: NDArray[np.int64]
    v: NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.ref)

    def select(
        self,
        refs: NDArray[np.int64],
        mint: int,
        maxt: int,
        tombstones: Mapping[int, Sequence[tuple[int, int]]] | None = None,
    ) -> SampleArrays:
        """Samples of ``refs`` (one row each, in that order) in ``[mint, maxt]``, sorted, de-duplicated."""
        refs = np.ascontiguousarray(refs, dtype=np.int64)
        if not len(self.ref) or not len(refs):
            return _empty_rows(refs)
        top = int(max(int(self.ref.max()), int(refs.max()))) + 1
        row_of = np.full(top, -1, dtype=np.int64)
        row_of[refs] = np.arange(len(refs), dtype=np.int64)
        row = row_of[self.ref]
        idx = np.flatnonzero((row >= 0) & (self.t >= mint) & (self.t <= maxt))
        return _rows_sorted(refs, row[idx], self.t[idx], self.v[idx], tombstones)

    def by_ref(self, tombstones: Mapping[int, Sequence[tuple[int, int]]] | None = None) -> SampleArrays:
        """Every sample, one row per ref (refs ascending), sorted, de-duplicated (for compaction)."""
        refs, row = np.unique(self.ref, return_inverse=True)
        return _rows_sorted(refs.astype(np.int64), row.astype(np.int64), self.t, self.v, tombstones)


def _empty_rows(refs: NDArray[np.int64]) -> SampleArrays:
    return SampleArrays(
        refs, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64), np.zeros(len(refs) + 1, dtype=np.int64)
    )


def _rows_sorted(
    refs: NDArray[np.int64],
    row: NDArray[np.int64],
    t: NDArray[np.int64],
    v: NDArray[np.float64],
    tombstones: Mapping[int, Sequence[tuple[int, int]]] | None,
) -> SampleArrays:
    """CSR arrays of samples given by row, each row in time order; of equal timestamps the first given wins."""
    order = np.lexsort((t, row))  # stable: ties keep insertion order
    row, t, v = row[order], t[order], v[order]
    if len(t) > 1:
        keep = np.ones(len(t), dtype=bool)
        keep[1:] = (row[1:] != row[:-1]) | (t[1:] != t[:-1])
        if not keep.all():
            row, t, v = row[keep], t[keep], v[keep]
    edges = np.zeros(len(refs) + 1, dtype=np.int64)
    np.cumsum(np.bincount(row, minlength=len(refs)), out=edges[1:])
    out = SampleArrays(refs, t, v, edges)
    if tombstones:
        out = out.without(tombstones)
    return out


class OOOHead:
    """Out-of-order samples of the head, in arrival order. Not thread-safe (the DB lock guards it)."""

    def __init__(self) -> None:
        self._ref = np.zeros(0, dtype=np.int64)
        self._t = np.zeros(0, dtype=np.int64)
        self._v = np.zeros(0, dtype=np.float64)
        self.n = 0
        #: per ref, how many samples it has here (a series with any is spared by head GC)
        self._count = np.zeros(0, dtype=np.int64)
        self.min_time = NO_TIME_MIN
        self.max_time = NO_TIME_MAX
        #: samples accepted since start (``prometheus_tsdb_head_out_of_order_samples_appended_total``)
        self.appended_total = 0

    def __len__(self) -> int:
        return self.n

    def add(self, refs: NDArray[np.int64], ts: NDArray[np.int64], vs: NDArray[np.float64]) -> None:
        """Append a batch (any order, any mix of series)."""
        k = len(refs)
        if not k:
            return
        end = self.n + k
        if end > len(self._ref):
            self._ref = grow(self._ref, end)
            self._t = grow(self._t, end)
            self._v = grow(self._v, end)
        self._ref[self.n:end] = refs
        self._t[self.n:end] = ts
        self._v[self.n:end] = vs
        self.n = end
        top = int(refs.max()) + 1
        if top > len(self._count):
            self._count = grow(self._count, top)
        np.add.at(self._count, refs, 1)
        self.min_time = min(self.min_time, int(ts.min()))
        self.max_time = max(self.max_time, int(ts.max()))
        self.appended_total += k

    def view(self, upto: int | None = None) -> OOOView:
        """Views of the first ``upto`` (default: all) samples; see the module doc for why they stay valid."""
        n = self.n if upto is None else upto
        return OOOView(self._ref[:n], self._t[:n], self._v[:n])

    def has_samples(self, refs: NDArray[np.int64]) -> NDArray[np.bool_]:
        """Per ref, whether it has samples here."""
        out = np.zeros(len(refs), dtype=bool)
        ok = refs < len(self._count)
        out[ok] = self._count[refs[ok]] > 0
        return out

    def drop_first(self, n: int) -> None:
        """Forget the first ``n`` samples (compacted into blocks); later ones stay, in order."""
        n = min(n, self.n)
        if n <= 0:
            return
        gone = self._ref[:n]
        np.subtract.at(self._count, gone, 1)
        left = self.n - n
        self._ref = self._ref[n:self.n].copy()  # new arrays: views held by readers keep the old ones
        self._t = self._t[n:self.n].copy()
        self._v = self._v[n:self.n].copy()
        self.n = left
        if left:
            self.min_time = int(self._t.min())
            self.max_time = int(self._t.max())
        else:
            self.min_time, self.max_time = NO_TIME_MIN, NO_TIME_MAX

    def memory_bytes(self) -> int:
        return int(self._ref.nbytes + self._t.nbytes + self._v.nbytes + self._count.nbytes)
