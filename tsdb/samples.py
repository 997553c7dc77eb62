"""Samples of many series in one set of flat arrays (CSR layout).

Series ``i`` owns ``ts[edges[i]:edges[i+1]]`` and the same slice of ``vs``.
Readers hand these around instead of one pair of arrays per series, so that
clipping, merging and tombstone filtering are whole-array operations.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class SampleArrays:
    """Samples of ``keys[i]`` (refs or row numbers) are ``ts/vs[edges[i]:edges[i+1]]``."""

    keys: NDArray[np.int64]
    ts: NDArray[np.int64]
    vs: NDArray[np.float64]
    edges: NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.keys)

    def series(self, i: int) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        a, b = int(self.edges[i]), int(self.edges[i + 1])
        return self.ts[a:b], self.vs[a:b]

    def counts(self) -> NDArray[np.int64]:
        return np.diff(self.edges)

    def row_of_sample(self) -> NDArray[np.int64]:
        """For each sample, the index of the series it belongs to."""
        return np.repeat(np.arange(len(self.keys), dtype=np.int64), self.counts())

    def filter(self, keep: NDArray[np.bool_]) -> SampleArrays:
        """Keep the samples where ``keep`` is true (per sample)."""
        if keep.all():
            return self
        rows = self.row_of_sample()
        counts = np.bincount(rows[keep], minlength=len(self.keys))
        edges = np.zeros(len(self.keys) + 1, dtype=np.int64)
        np.cumsum(counts, out=edges[1:])
        return SampleArrays(self.keys, self.ts[keep], self.vs[keep], edges)

    def filter_rows(self, keep_rows: NDArray[np.bool_]) -> SampleArrays:
        """Keep the series (rows) where ``keep_rows`` is true."""
        counts = np.diff(self.edges)
        per_sample = np.repeat(keep_rows, counts)
        new_counts = counts[keep_rows]
        edges = np.zeros(len(new_counts) + 1, dtype=np.int64)
        np.cumsum(new_counts, out=edges[1:])
        return SampleArrays(self.keys[keep_rows], self.ts[per_sample], self.vs[per_sample], edges)

    def without(self, intervals: Mapping[int, Sequence[tuple[int, int]]]) -> SampleArrays:
        """Drop samples inside deleted ``[mint, maxt]`` intervals, given per key."""
        keep = np.ones(len(self.ts), dtype=bool)
        touched = False
        for i, key in enumerate(self.keys.tolist()):
            ivs = intervals.get(key)
            if not ivs:
                continue
            a, b = int(self.edges[i]), int(self.edges[i + 1])
            t = self.ts[a:b]
            for lo_t, hi_t in ivs:
                lo, hi = np.searchsorted(t, lo_t), np.searchsorted(t, hi_t, side="right")
                if hi > lo:
                    keep[a + lo:a + hi] = False
                    touched = True
        return self.filter(keep) if touched else self

    @staticmethod
    def empty() -> SampleArrays:
        z = np.zeros(0, dtype=np.int64)
        return SampleArrays(z, z, np.zeros(0, dtype=np.float64), np.zeros(1, dtype=np.int64))

