"""The head: the in-memory block of recent data.

Strategy
--------
* Series state is a struct of numpy arrays indexed by ref (``last_t``,
  ``last_bits``, ``slot``); open buffers (raw samples not yet encoded) are
  rows of two 2-D arrays indexed by *slot*, reused after a series dies.
* :meth:`Head.append` runs one compiled kernel over the whole batch (order
  checks, buffer writes, flush decisions), then encodes every flushed buffer
  with one ``encode_xor_many`` call into :class:`HeadChunks`.
* Reads decode the selected sealed chunks with one ``decode_xor_many`` call
  and add the open buffers' raw samples.

Invariants
----------
* Per series, samples are strictly increasing in time: sealed chunks in
  time order, then the open buffer.
* No head chunk straddles a block window (``block_range``), see
  ``head_kernels``.
* ``last_t[ref]`` is the newest accepted timestamp (``NO_SAMPLE`` when none).

Not thread-safe: :class:`tsdb.db.DB` holds a lock around mutations.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .codec.xor import decode_xor_many, encode_xor_many
from .growable import grow
from .head_chunks import HeadChunks
from .head_index import SeriesIndex
from .head_kernels import (
    DUPLICATE_DIFFERENT,
    NO_SAMPLE,
    OUT_OF_BOUNDS,
    OUT_OF_ORDER,
    append_samples,
    merge_sealed_and_open,
)
from .labels import Labels
from .matchers import Matcher
from .samples import SampleArrays

DEFAULT_BUFFER_SAMPLES = 32
DEFAULT_BLOCK_RANGE_MS = 2 * 3600 * 1000


@dataclass
class AppendStats:
    """Counts of samples a batch rejected, by reason (Prometheus's error classes)."""

    appended: int = 0
    out_of_order: int = 0
    duplicate: int = 0
    out_of_bounds: int = 0

    def add(self, other: AppendStats) -> None:
        self.appended += other.appended
        self.out_of_order += other.out_of_order
        self.duplicate += other.duplicate
        self.out_of_bounds += other.out_of_bounds


class Head:
    """Recent samples of every series, in memory."""

    def __init__(
        self,
        *,
        buffer_samples: int = DEFAULT_BUFFER_SAMPLES,
        block_range_ms: int = DEFAULT_BLOCK_RANGE_MS,
    ) -> None:
        if not 2 <= buffer_samples <= 65535:
            raise ValueError("buffer_samples must be in 2..65535")
        self.cap = buffer_samples
        self.block_range = int(block_range_ms)
        self.index = SeriesIndex()
        self.chunks = HeadChunks()
        # ref-indexed
        self.last_t = np.zeros(0, dtype=np.int64)
        self.last_bits = np.zeros(0, dtype=np.int64)
        self.slot_of = np.zeros(0, dtype=np.int64)
        # slot-indexed
        self.buf_t = np.zeros((0, self.cap), dtype=np.int64)
        self.buf_v = np.zeros((0, self.cap), dtype=np.int64)
        self.buf_n = np.zeros(0, dtype=np.int64)
        self.slot_ref = np.zeros(0, dtype=np.int64)
        self._nslots = 0
        self._free_slots: list[int] = []
        #: samples older than this are rejected: they belong to persisted blocks
        self.min_valid_t = NO_SAMPLE + 1
        self.min_time = np.iinfo(np.int64).max
        self.max_time = NO_SAMPLE
        #: deleted intervals per ref, applied on read and when persisting
        self.tombstones: dict[int, list[tuple[int, int]]] = {}
        self.totals = AppendStats()

    # -- series ----------------------------------------------------------------
    def get_or_create(self, labels: Labels) -> tuple[int, bool]:
        """The ref of ``labels`` (already canonical), creating the series if needed."""
        ref = self.index.get(labels)
        if ref is not None:
            return ref, False
        return self.create(labels), True

    def create(self, labels: Labels, ref: int | None = None) -> int:
        """Register a series (``ref`` given on WAL replay)."""
        ref = self.index.add(labels, ref)
        n = ref + 1
        if n > len(self.last_t):
            self.last_t = grow(self.last_t, n, fill=NO_SAMPLE)
            self.last_bits = grow(self.last_bits, n)
            self.slot_of = grow(self.slot_of, n, fill=-1)
        self.last_t[ref] = NO_SAMPLE
        self.slot_of[ref] = self._alloc_slot(ref)
        return ref

    def _alloc_slot(self, ref: int) -> int:
        if self._free_slots:
            s = self._free_slots.pop()
        else:
            s = self._nslots
            self._nslots += 1
            if s >= len(self.buf_n):
                self.buf_t = grow(self.buf_t, s + 1)
                self.buf_v = grow(self.buf_v, s + 1)
                self.buf_n = grow(self.buf_n, s + 1)
                self.slot_ref = grow(self.slot_ref, s + 1, fill=-1)
        self.buf_n[s] = 0
        self.slot_ref[s] = ref
        return s

    def num_series(self) -> int:
        return len(self.index)

    # -- appending ---------------------------------------------------------------
    def append(
        self, refs: NDArray[np.int64], ts: NDArray[np.int64], vs: NDArray[np.float64]
    ) -> tuple[NDArray[np.int8], AppendStats]:
        """Append samples in order; returns per-sample status codes and counts.

        ``refs`` must be refs of live series. Rejected samples (out of order,
        out of bounds, duplicates with another value) are counted, not raised:
        one bad sample must not fail a whole scrape, as in Prometheus.
        """
        refs = np.ascontiguousarray(refs, dtype=np.int64)
        ts = np.ascontiguousarray(ts, dtype=np.int64)
        vbits = np.ascontiguousarray(vs, dtype=np.float64).view(np.int64)
        n = len(refs)
        status = np.zeros(n, dtype=np.int8)
        if not n:
            return status, AppendStats()
        buffered = int(self.buf_n[self.slot_of[refs]].sum())
        stage_t = np.empty(n + buffered, dtype=np.int64)
        stage_v = np.empty(n + buffered, dtype=np.int64)
        stage_ref = np.empty(n, dtype=np.int64)
        stage_start = np.empty(n, dtype=np.int64)
        stage_count = np.empty(n, dtype=np.int64)
        nflush = append_samples(
            refs, ts, vbits, self.min_valid_t, self.block_range,
            self.last_t, self.last_bits, self.slot_of, self.buf_t, self.buf_v, self.buf_n,
            stage_t, stage_v, stage_ref, stage_start, stage_count, status,
        )
        if nflush:
            self._seal(stage_ref[:nflush], stage_t, stage_v, stage_start[:nflush], stage_count[:nflush])
        counts = np.bincount(status, minlength=5)
        stats = AppendStats(
            appended=int(counts[0]),
            out_of_order=int(counts[OUT_OF_ORDER]),
            duplicate=int(counts[DUPLICATE_DIFFERENT]),
            out_of_bounds=int(counts[OUT_OF_BOUNDS]),
        )
        if stats.appended:
            ok_ts = ts[status == 0]
            self.min_time = min(self.min_time, int(ok_ts.min()))
            self.max_time = max(self.max_time, int(ok_ts.max()))
        self.totals.add(stats)
        return status, stats

    def _seal(self, refs, stage_t, stage_v, starts, counts) -> None:
        data, offsets = encode_xor_many(stage_t, stage_v.view(np.float64), starts, counts)
        mints = stage_t[starts]
        maxts = stage_t[starts + counts - 1]
        self.chunks.add(refs, data, offsets, mints, maxts)

    def flush_buffers_before(self, t: int) -> None:
        """Seal every open buffer whose samples start before ``t`` (before cutting a block)."""
        slots = np.nonzero((self.buf_n[: self._nslots] > 0) & (self.buf_t[: self._nslots, 0] < t))[0]
        if not len(slots):
            return
        counts = self.buf_n[slots].copy()
        starts = np.zeros(len(slots), dtype=np.int64)
        np.cumsum(counts[:-1], out=starts[1:])
        mask = np.arange(self.cap)[None, :] < counts[:, None]
        stage_t = self.buf_t[slots][mask]
        stage_v = self.buf_v[slots][mask]
        self._seal(self.slot_ref[slots], stage_t, stage_v, starts, counts)
        self.buf_n[slots] = 0

    # -- reading -------------------------------------------------------------------
    def select_refs(self, matchers: Sequence[Matcher]) -> NDArray[np.int64]:
        return self.index.select(matchers)

    def read(self, refs: NDArray[np.int64], mint: int, maxt: int) -> SampleArrays:
        """Samples in ``[mint, maxt]`` (inclusive) of each ref, tombstones applied, as CSR arrays."""
        refs = np.ascontiguousarray(refs, dtype=np.int64)
        ids, counts = self.chunks.select(refs, mint, maxt)
        arena, offs, lens = self.chunks.chunk_bytes(ids)
        sealed_t, sealed_v, bounds = decode_xor_many(arena, offs, lens)
        chunk_edges = np.zeros(len(refs) + 1, dtype=np.int64)
        np.cumsum(counts, out=chunk_edges[1:])
        sealed_edges = bounds[chunk_edges]
        room = len(sealed_t) + int(self.buf_n[self.slot_of[refs]][self.slot_of[refs] >= 0].sum())
        out_t = np.empty(room, dtype=np.int64)
        out_v = np.empty(room, dtype=np.int64)
        edges = np.empty(len(refs) + 1, dtype=np.int64)
        n = merge_sealed_and_open(
            sealed_t, sealed_v.view(np.int64), sealed_edges, refs, self.slot_of,
            self.buf_t, self.buf_v, self.buf_n, mint, maxt, out_t, out_v, edges,
        )
        result = SampleArrays(refs, out_t[:n], out_v[:n].view(np.float64), edges)
        if self.tombstones:
            result = result.without(self.tombstones)
        return result

    # -- persistence helpers -----------------------------------------------------------
    def series_in_range(self, mint: int, maxt: int) -> NDArray[np.int64]:
        """Refs of the series with any sample in ``[mint, maxt]`` (sealed chunks only)."""
        c = self.chunks
        sel = (c.mint[: c.n] <= maxt) & (c.maxt[: c.n] >= mint)
        return np.unique(c.ref[: c.n][sel])

    def truncate(self, before: int) -> NDArray[np.int64]:
        """Drop data older than ``before`` and garbage-collect series left empty; returns the dead refs."""
        self.flush_buffers_before(before)
        self.chunks.truncate(before)
        self.min_valid_t = max(self.min_valid_t, before)
        live_chunks = np.zeros(len(self.last_t), dtype=bool)
        live_chunks[self.chunks.refs_with_chunks()] = True
        refs = self.index.live_refs()
        has_buf = self.buf_n[self.slot_of[refs]] > 0
        dead = refs[~live_chunks[refs] & ~has_buf]
        if len(dead):
            for r in dead.tolist():
                s = int(self.slot_of[r])
                self.slot_of[r] = -1
                self.slot_ref[s] = -1
                self._free_slots.append(s)
                self.tombstones.pop(r, None)
            self.index.remove(dead)
        for r, ivs in list(self.tombstones.items()):
            kept = [(a, b) for a, b in ivs if b >= before]
            if kept:
                self.tombstones[r] = kept
            else:
                del self.tombstones[r]
        c = self.chunks
        self.min_time = int(c.mint[: c.n].min()) if c.n else np.iinfo(np.int64).max
        nb = self.buf_n[: self._nslots]
        if (nb > 0).any():
            self.min_time = min(self.min_time, int(self.buf_t[: self._nslots, 0][nb > 0].min()))
        if self.min_time == np.iinfo(np.int64).max:
            self.max_time = max(self.max_time, NO_SAMPLE)
        return dead

    def delete(self, refs: NDArray[np.int64], mint: int, maxt: int) -> None:
        """Record a deletion of ``[mint, maxt]`` for ``refs`` (applied on read and on persist)."""
        for r in refs.tolist():
            self.tombstones.setdefault(int(r), []).append((int(mint), int(maxt)))

    def memory_bytes(self) -> int:
        """Bytes held by numpy state (excludes the Python label index)."""
        return int(
            self.chunks.memory_bytes() + self.last_t.nbytes + self.last_bits.nbytes + self.slot_of.nbytes
            + self.buf_t.nbytes + self.buf_v.nbytes + self.buf_n.nbytes + self.slot_ref.nbytes
        )

