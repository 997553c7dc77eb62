"""The head: the in-memory block of recent data.

Strategy
--------
* Series state is a struct of numpy arrays indexed by ref (``last_t``,
  ``last_bits``, ``slot``); each live series' *open chunk* is a row of a
  2-D ``uint8`` slab indexed by *slot* (reused after a series dies), kept
  XOR-encoded as samples arrive (see ``head_kernels``).
* :meth:`Head.append` runs one compiled kernel over the whole batch (order
  checks, in-place encoding, sealing decisions) and moves the sealed chunks
  into :class:`HeadChunks` in one call.
* Reads decode the selected sealed chunks and open chunks with two
  ``decode_xor_many`` calls and merge them per series in a kernel.

Invariants
----------
* Per series, samples are strictly increasing in time: sealed chunks in
  time order, then the open chunk.
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

from .codec.xor import decode_xor_many
from .growable import grow
from .head_chunks import HeadChunks
from .head_index import SeriesIndex
from .head_kernels import (
    DUPLICATE_DIFFERENT,
    NO_SAMPLE,
    NO_WINDOW,
    OUT_OF_BOUNDS,
    OUT_OF_ORDER,
    append_samples,
    merge_two,
    seal_slots,
)
from .labels import Labels
from .matchers import Matcher
from .merge import merge_rows
from .ooo_head import OOOHead, OOOView
from .samples import SampleArrays

DEFAULT_CHUNK_SAMPLES = 120
DEFAULT_SLAB_BYTES = 256
DEFAULT_BLOCK_RANGE_MS = 2 * 3600 * 1000


@dataclass
class AppendStats:
    """Counts of samples a batch rejected, by reason (Prometheus's error classes)."""

    appended: int = 0
    out_of_order: int = 0
    duplicate: int = 0
    out_of_bounds: int = 0
    #: accepted into the out-of-order head (counted in ``appended`` too)
    out_of_order_appended: int = 0
    #: older than the out-of-order window (Prometheus's "too old sample"); only with a window
    too_old: int = 0

    def add(self, other: AppendStats) -> None:
        self.appended += other.appended
        self.out_of_order += other.out_of_order
        self.duplicate += other.duplicate
        self.out_of_bounds += other.out_of_bounds
        self.out_of_order_appended += other.out_of_order_appended
        self.too_old += other.too_old


class Head:
    """Recent samples of every series, in memory."""

    def __init__(
        self,
        *,
        chunk_samples: int = DEFAULT_CHUNK_SAMPLES,
        slab_bytes: int = DEFAULT_SLAB_BYTES,
        block_range_ms: int = DEFAULT_BLOCK_RANGE_MS,
    ) -> None:
        if not 2 <= chunk_samples <= 65535:
            raise ValueError("chunk_samples must be in 2..65535")
        if not 64 <= slab_bytes <= 65536:
            raise ValueError("slab_bytes must be in 64..65536")
        self.max_samples = chunk_samples
        self.block_range = int(block_range_ms)
        self.index = SeriesIndex()
        self.chunks = HeadChunks()
        # ref-indexed
        self.last_t = np.zeros(0, dtype=np.int64)
        self.last_bits = np.zeros(0, dtype=np.int64)
        self.slot_of = np.zeros(0, dtype=np.int64)
        # slot-indexed: the open chunk and its encoder state
        self.slab = np.zeros((0, slab_bytes), dtype=np.uint8)
        self.nsamp = np.zeros(0, dtype=np.int32)
        self.nbits = np.zeros(0, dtype=np.int32)
        self.extra = np.zeros(0, dtype=np.uint8)  # 1 when the chunk ends with Prometheus's empty byte
        self.first_t = np.zeros(0, dtype=np.int64)
        self.prev_delta = np.zeros(0, dtype=np.int64)
        self.lead = np.zeros(0, dtype=np.uint8)
        self.trail = np.zeros(0, dtype=np.uint8)
        self.slot_ref = np.zeros(0, dtype=np.int64)
        self._nslots = 0
        self._free_slots: list[int] = []
        #: samples older than this are rejected: they belong to persisted blocks
        self.min_valid_t = NO_SAMPLE + 1
        self.min_time = np.iinfo(np.int64).max
        self.max_time = NO_SAMPLE
        #: deleted intervals per ref, applied on read and when persisting
        self.tombstones: dict[int, list[tuple[int, int]]] = {}
        #: out-of-order samples (see :mod:`tsdb.ooo_head`); empty unless the DB has an out-of-order window
        self.ooo = OOOHead()
        self.totals = AppendStats()
        # staging area for sealed chunks, reused by every append (see append_samples)
        self._stage = np.zeros(max(1 << 20, 64 * slab_bytes), dtype=np.uint8)
        nst = len(self._stage) // 8
        self._st_ref = np.zeros(nst, dtype=np.int64)
        self._st_off = np.zeros(nst + 1, dtype=np.int64)
        self._st_mint = np.zeros(nst, dtype=np.int64)
        self._st_maxt = np.zeros(nst, dtype=np.int64)

    _SLOT_ARRAYS = ("slab", "nsamp", "nbits", "extra", "first_t", "prev_delta", "lead", "trail", "slot_ref")

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
            if s >= len(self.nsamp):
                for name in self._SLOT_ARRAYS:
                    setattr(self, name, grow(getattr(self, name), s + 1))
        self.nsamp[s] = 0
        self.nbits[s] = 0
        self.lead[s] = NO_WINDOW
        self.slot_ref[s] = ref
        return s

    def is_live(self, refs: NDArray[np.int64]) -> NDArray[np.bool_]:
        """Per ref, whether it names a live series (refs from a log may be unknown or garbage-collected)."""
        live = (refs >= 0) & (refs < len(self.slot_of))
        live[live] = self.slot_of[refs[live]] >= 0
        return live

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
        stage, st_ref, st_off, st_mint, st_maxt = self._stage, self._st_ref, self._st_off, self._st_mint, self._st_maxt
        i = 0
        while i < n:
            k, nbytes, i = append_samples(
                i, refs, ts, vbits, self.min_valid_t, self.block_range, self.max_samples,
                self.last_t, self.last_bits, self.slot_of,
                self.slab, self.nsamp, self.nbits, self.extra, self.first_t, self.prev_delta, self.lead,
                self.trail, stage, st_ref, st_off, st_mint, st_maxt, status,
            )
            if k:
                st_off[k] = nbytes
                self.chunks.add(st_ref[:k], stage, st_off[: k + 1], st_mint[:k], st_maxt[:k])
        counts = np.bincount(status, minlength=5)
        stats = AppendStats(
            appended=int(counts[0]),
            out_of_order=int(counts[OUT_OF_ORDER]),
            duplicate=int(counts[DUPLICATE_DIFFERENT]),
            out_of_bounds=int(counts[OUT_OF_BOUNDS]),
        )
        if stats.appended:
            ok_ts = ts[status == 0] if stats.appended < n else ts
            self.min_time = min(self.min_time, int(ok_ts.min()))
            self.max_time = max(self.max_time, int(ok_ts.max()))
        self.totals.add(stats)
        return status, stats

    def flush_open_chunks_before(self, t: int) -> None:
        """Seal every open chunk that starts before ``t`` (before cutting a block)."""
        m = self._nslots
        slots = np.nonzero((self.nsamp[:m] > 0) & (self.first_t[:m] < t))[0]
        if not len(slots):
            return
        k = len(slots)
        stage = np.empty(int(self._open_chunk_bytes(slots).sum()), dtype=np.uint8)
        st_ref = np.empty(k, dtype=np.int64)
        st_off = np.empty(k + 1, dtype=np.int64)
        st_mint = np.empty(k, dtype=np.int64)
        st_maxt = np.empty(k, dtype=np.int64)
        k, nbytes = seal_slots(
            slots.astype(np.int64), self.slot_ref, self.slab, self.nsamp, self.nbits, self.extra, self.first_t,
            self.last_t, self.lead, stage, st_ref, st_off, st_mint, st_maxt,
        )
        st_off[k] = nbytes
        self.chunks.add(st_ref[:k], stage, st_off[: k + 1], st_mint[:k], st_maxt[:k])

    def open_chunk_room(self) -> int:
        """Arena bytes that sealing every open chunk at once could take (an upper bound, O(1))."""
        return (self._nslots - len(self._free_slots)) * self.slab.shape[1] + (1 << 20)

    def _open_chunk_bytes(self, slots: NDArray[np.int64]) -> NDArray[np.int64]:
        """Byte length of the open chunks of ``slots``."""
        return (self.nbits[slots].astype(np.int64) + 7) // 8 + self.extra[slots]

    # -- reading -------------------------------------------------------------------
    def select_refs(self, matchers: Sequence[Matcher]) -> NDArray[np.int64]:
        return self.index.select(matchers)

    def snapshot(self, refs: NDArray[np.int64], mint: int, maxt: int) -> HeadSnapshot:
        """What a read of ``refs`` over ``[mint, maxt]`` needs, taken under the DB lock.

        Cheap (no decoding): the sealed chunks' locations in the arena (the
        arena only ever grows past what is already written, and is replaced,
        not rewritten, on truncation, so the bytes stay valid), a copy of the
        open chunks' bytes, and the tombstones. :meth:`HeadSnapshot.decode`
        then runs without the lock, so a big query does not stall appends.
        """
        refs = np.ascontiguousarray(refs, dtype=np.int64)
        ids, counts = self.chunks.select(refs, mint, maxt)
        arena, offs, lens = self.chunks.chunk_bytes(ids)
        slots = self.slot_of[refs]
        has_open = slots >= 0
        has_open[has_open] = self.nsamp[slots[has_open]] > 0
        open_slots = slots[has_open]
        open_rows = self.slab[open_slots]  # a copy: appends keep writing the live rows
        open_lens = self._open_chunk_bytes(open_slots)
        tomb = {r: list(self.tombstones[r]) for r in refs.tolist() if r in self.tombstones} if self.tombstones else {}
        ooo = self.ooo.view() if self.ooo.n and self.ooo.max_time >= mint and self.ooo.min_time <= maxt else None
        return HeadSnapshot(refs, mint, maxt, arena, offs, lens, counts, has_open, open_rows, open_lens, tomb, ooo)

    def read(self, refs: NDArray[np.int64], mint: int, maxt: int) -> SampleArrays:
        """Samples in ``[mint, maxt]`` (inclusive) of each ref, tombstones applied, as CSR arrays."""
        return self.snapshot(refs, mint, maxt).decode()

    # -- persistence helpers -----------------------------------------------------------
    def series_in_range(self, mint: int, maxt: int) -> NDArray[np.int64]:
        """Refs of the series with any sealed chunk overlapping ``[mint, maxt]``."""
        c = self.chunks
        sel = (c.mint[: c.n] <= maxt) & (c.maxt[: c.n] >= mint)
        return np.unique(c.ref[: c.n][sel]).astype(np.int64)

    def truncate(self, before: int) -> NDArray[np.int64]:
        """Drop data older than ``before`` and garbage-collect series left empty; returns the dead refs."""
        self.flush_open_chunks_before(before)
        self.chunks.truncate(before)
        self.min_valid_t = max(self.min_valid_t, before)
        live_chunks = np.zeros(len(self.last_t), dtype=bool)
        live_chunks[self.chunks.refs_with_chunks()] = True
        refs = self.index.live_refs()
        has_open = self.nsamp[self.slot_of[refs]] > 0
        # a series that never had a sample may be waiting in an appender: spare it;
        # so is one whose only samples are out-of-order ones not compacted yet
        had_samples = self.last_t[refs] != NO_SAMPLE
        dead = refs[~live_chunks[refs] & ~has_open & had_samples & ~self.ooo.has_samples(refs)]
        if len(dead):
            for r in dead.tolist():
                s = int(self.slot_of[r])
                self.slot_of[r] = -1
                self.slot_ref[s] = -1
                self._free_slots.append(s)
                self.tombstones.pop(r, None)
            self.index.remove(dead)
        tomb_refs = np.fromiter(self.tombstones, dtype=np.int64, count=len(self.tombstones))
        # out-of-order samples of any age may still be under a tombstone: those stay whole
        spared = set(tomb_refs[self.ooo.has_samples(tomb_refs)].tolist()) if self.ooo.n else set()
        for r, ivs in list(self.tombstones.items()):
            if r in spared:
                continue
            kept = [(a, b) for a, b in ivs if b >= before]
            if kept:
                self.tombstones[r] = kept
            else:
                del self.tombstones[r]
        c = self.chunks
        self.min_time = int(c.mint[: c.n].min()) if c.n else np.iinfo(np.int64).max
        m = self._nslots
        open_ = self.nsamp[:m] > 0
        if open_.any():
            self.min_time = min(self.min_time, int(self.first_t[:m][open_].min()))
        return dead

    def delete(self, refs: NDArray[np.int64], mint: int, maxt: int) -> None:
        """Record a deletion of ``[mint, maxt]`` for ``refs`` (applied on read and on persist)."""
        for r in refs.tolist():
            self.tombstones.setdefault(int(r), []).append((int(mint), int(maxt)))

    def memory_bytes(self) -> int:
        """Bytes held by numpy state (excludes the Python label index)."""
        state = sum(getattr(self, n).nbytes for n in self._SLOT_ARRAYS)
        return int(
            self.chunks.memory_bytes() + self.last_t.nbytes + self.last_bits.nbytes + self.slot_of.nbytes + state
            + self.ooo.memory_bytes()
        )


@dataclass
class HeadSnapshot:
    """A consistent view of some head series, decodable without holding the DB lock."""

    refs: NDArray[np.int64]
    mint: int
    maxt: int
    arena: NDArray[np.uint8]
    offs: NDArray[np.int64]
    lens: NDArray[np.int64]
    counts: NDArray[np.int64]
    has_open: NDArray[np.bool_]
    open_rows: NDArray[np.uint8]
    open_lens: NDArray[np.int64]
    tombstones: dict[int, list[tuple[int, int]]]
    #: the out-of-order samples to merge in, when any may fall in range
    ooo: OOOView | None = None

    def decode(self) -> SampleArrays:
        refs = self.refs
        sealed_t, sealed_v, bounds = decode_xor_many(self.arena, self.offs, self.lens)
        chunk_edges = np.zeros(len(refs) + 1, dtype=np.int64)
        np.cumsum(self.counts, out=chunk_edges[1:])
        sealed_edges = bounds[chunk_edges]
        width = self.open_rows.shape[1] if self.open_rows.ndim == 2 else 0
        open_t, open_v, open_bounds = decode_xor_many(
            self.open_rows.reshape(-1), np.arange(len(self.open_rows), dtype=np.int64) * width, self.open_lens
        )
        per_ref = np.zeros(len(refs), dtype=np.int64)
        per_ref[self.has_open] = np.diff(open_bounds)
        open_edges = np.zeros(len(refs) + 1, dtype=np.int64)
        np.cumsum(per_ref, out=open_edges[1:])
        room = len(sealed_t) + len(open_t)
        out_t = np.empty(room, dtype=np.int64)
        out_v = np.empty(room, dtype=np.int64)
        edges = np.empty(len(refs) + 1, dtype=np.int64)
        n = merge_two(
            sealed_t, sealed_v.view(np.int64), sealed_edges, open_t, open_v.view(np.int64), open_edges,
            self.mint, self.maxt, out_t, out_v, edges,
        )
        result = SampleArrays(refs, out_t[:n], out_v[:n].view(np.float64), edges)
        if self.tombstones:
            result = result.without(self.tombstones)
        if self.ooo is not None:
            result = merge_rows(result, self.ooo.select(refs, self.mint, self.maxt, self.tombstones))
        return result
