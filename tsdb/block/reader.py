"""An open, immutable block: meta, index, chunks and tombstones behind one object.

Strategy: :meth:`Block.open` reads ``meta.json`` and the tombstones (small),
mmaps the index and every chunk segment and checks their headers and the
index TOC; nothing else is parsed until asked (see index_reader.py).
:meth:`Block.select` walks the postings of the matchers in ref order, which is
label order, and returns chunks as zero-copy views into the mmapped segments.

Tombstones: :meth:`select` drops chunks that a deletion interval covers
entirely and series left with no chunks; chunks only partly covered are
returned with the series' deletion intervals in :attr:`SeriesChunks.deleted`,
and the caller must drop the samples inside them after decoding (what
Prometheus's ``DeletedIterator`` does). :meth:`tombstones` exposes the whole
``{ref: [(mint, maxt)]}`` map. Intervals are closed.

Lifetime: views returned by :meth:`chunk`/:meth:`select` keep their segment
mapped after :meth:`close` until they are dropped. A block may be deleted
from disk while open (POSIX keeps mapped files alive).

Thread-safety: reads are safe once the lazy tables exist; :meth:`delete`
must not race with another :meth:`delete` on the same block.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from typing import NamedTuple

import numpy as np

from ..errors import CorruptError
from ..labels import Labels
from ..matchers import Matcher
from ..postings import postings_for_matchers
from .chunkfile import CHUNKS_DIRNAME, ChunkReader, ChunkRef
from .index_reader import IndexReader
from .index_writer import INDEX_FILENAME
from .meta import META_FILENAME, BlockMeta, read_meta, write_meta
from .tombstones import (
    TOMBSTONES_FILENAME,
    Tombstones,
    add_interval,
    num_intervals,
    read_tombstones,
    write_tombstones,
)

POSTINGS_CACHE_ENTRIES = 512
POSTINGS_CACHE_REFS = 4_000_000
"""Bounds of each open block's postings-for-matchers cache (entries; refs in all, 32 MB as int64)."""


class BlockChunk(NamedTuple):
    """A chunk returned by :meth:`Block.select`: inclusive time range, encoding, bytes (a view)."""

    mint: int
    maxt: int
    encoding: int
    data: memoryview


class SeriesChunks(NamedTuple):
    """One selected series: labels, its chunks in time order, its deletion intervals."""

    labels: Labels
    chunks: list[BlockChunk]
    deleted: list[tuple[int, int]]


class Block:
    """A block directory opened for reading. Use :meth:`open`; close with :meth:`close`."""

    #: check every chunk's CRC32C when a query reads it: a flipped bit in a chunk
    #: then fails the query with the file and offset instead of returning a wrong
    #: value (Prometheus skips this check; it costs about 1 µs a chunk)
    verify_chunks: bool = True

    def __init__(
        self,
        path: str,
        meta: BlockMeta,
        index: IndexReader,
        chunks: ChunkReader,
        stones: Tombstones,
    ):
        self.path = path
        self.meta = meta
        self.index = index
        self.chunks = chunks
        self._stones = stones
        # owned by tsdb.block_query: each read series' parsed index entry (labels, chunk metas, CRC state)
        self.query_series_cache: dict[int, list] = {}
        self._postings_cache: OrderedDict[tuple[Matcher, ...], np.ndarray] = OrderedDict()
        self._postings_cached = 0
        self._postings_lock = threading.Lock()

    @classmethod
    def open(cls, path: str, check_crc: bool = True) -> Block:
        """Open the block at ``path``; :class:`CorruptError` if a part is missing or malformed.

        ``check_crc`` makes index reads verify series and postings CRCs
        (cheap; chunk CRCs are only checked by :meth:`verify`).
        """
        if not os.path.isdir(path):
            raise CorruptError("block directory is missing", path)
        meta = read_meta(path)
        stones = read_tombstones(path)
        index = IndexReader(os.path.join(path, INDEX_FILENAME), check_crc=check_crc)
        try:
            chunks = ChunkReader(os.path.join(path, CHUNKS_DIRNAME))
        except BaseException:
            index.close()
            raise
        return cls(path, meta, index, chunks, stones)

    # -- identity and size ------------------------------------------------------

    @property
    def ulid(self) -> str:
        return self.meta.ulid

    @property
    def min_time(self) -> int:
        """Inclusive start of the block's range."""
        return self.meta.min_time

    @property
    def max_time(self) -> int:
        """*Exclusive* end of the block's range (meta.json's ``maxTime``)."""
        return self.meta.max_time

    def overlaps(self, mint: int, maxt: int) -> bool:
        """Whether the block's range meets the closed interval ``[mint, maxt]``."""
        return self.meta.min_time <= maxt and mint < self.meta.max_time

    def size_bytes(self) -> int:
        """Bytes on disk: index + chunk segments + tombstones + meta.json (Prometheus's ``Size``)."""
        total = self.index.size_bytes() + self.chunks.size_bytes()
        for name in (TOMBSTONES_FILENAME, META_FILENAME):
            try:
                total += os.path.getsize(os.path.join(self.path, name))
            except FileNotFoundError:
                pass
        return total

    # -- index --------------------------------------------------------------------

    def label_names(self) -> list[str]:
        return self.index.label_names()

    def label_values(self, name: str) -> list[str]:
        return self.index.label_values(name)

    def postings(self, name: str, value: str) -> np.ndarray:
        return self.index.postings(name, value)

    def all_postings(self) -> np.ndarray:
        return self.index.all_postings()

    def postings_for_matchers(self, matchers: Sequence[Matcher]) -> np.ndarray:
        """Sorted int64 series refs selected by ``matchers`` (Prometheus semantics, see postings.py).

        Memoised per block (read-only arrays): a block's index never changes, and dashboards
        send the same selectors again and again, so a repeated selector skips the regex
        matching over label values and the postings unions. The cache holds at most
        ``POSTINGS_CACHE_REFS`` refs in all (least recently used evicted).
        """
        key = tuple(matchers)
        cache = self._postings_cache
        with self._postings_lock:
            hit = cache.get(key)
            if hit is not None:
                cache.move_to_end(key)
                return hit
        refs = postings_for_matchers(self.index, matchers)
        refs.setflags(write=False)
        if len(refs) <= POSTINGS_CACHE_REFS // 4:
            with self._postings_lock:
                if key not in cache:
                    cache[key] = refs
                    self._postings_cached += len(refs)
                while self._postings_cached > POSTINGS_CACHE_REFS or len(cache) > POSTINGS_CACHE_ENTRIES:
                    _, old = cache.popitem(last=False)
                    self._postings_cached -= len(old)
        return refs

    def series(self, ref: int) -> tuple[Labels, list[ChunkRef]]:
        return self.index.series(ref)

    def chunk(self, ref: int, verify: bool = False) -> tuple[int, memoryview]:
        return self.chunks.chunk(ref, verify)

    # -- querying -----------------------------------------------------------------

    def select(self, matchers: Sequence[Matcher], mint: int, maxt: int) -> Iterator[SeriesChunks]:
        """Series matching ``matchers`` with their chunks overlapping ``[mint, maxt]`` (inclusive).

        Series come in label order; series without a chunk in range (after
        tombstones) are skipped. See the module docstring for tombstones.
        """
        if maxt < mint or not self.overlaps(mint, maxt):
            return
        stones = self._stones
        for ref in self.postings_for_matchers(matchers).tolist():
            labels, crefs = self.index.series(ref)
            deleted = stones.get(ref, [])
            out = []
            for c in crefs:
                if c.maxt < mint or c.mint > maxt:
                    continue
                if deleted and any(a <= c.mint and c.maxt <= b for a, b in deleted):
                    continue
                enc, data = self.chunks.chunk(c.ref, verify=self.verify_chunks)
                out.append(BlockChunk(c.mint, c.maxt, enc, data))
            if out:
                yield SeriesChunks(labels, out, list(deleted))

    # -- tombstones -----------------------------------------------------------------

    def tombstones(self) -> Tombstones:
        """``{series ref: [(mint, maxt), ...]}``, closed, sorted, disjoint (a copy)."""
        return {k: list(v) for k, v in self._stones.items()}

    def reload_tombstones(self) -> None:
        """Re-read the tombstones file (after another process rewrote it)."""
        self._stones = read_tombstones(self.path)

    def delete(self, matchers: Sequence[Matcher], mint: int, maxt: int) -> int:
        """Mark ``[mint, maxt]`` deleted for the matching series (Prometheus's ``Block.Delete``).

        Only series with a chunk overlapping the range get a tombstone, clamped
        to the series' first and last timestamps. Rewrites
        the tombstones file and meta.json's ``numTombstones`` atomically.
        Returns the number of series that got an interval.
        """
        if maxt < mint:
            raise ValueError(f"delete range maxt {maxt} < mint {mint}")
        stones = self.tombstones()
        hit = 0
        for ref in self.postings_for_matchers(matchers).tolist():
            _, crefs = self.index.series(ref)
            if any(c.mint <= maxt and c.maxt >= mint for c in crefs):
                # Clamped to the series' data, as Prometheus does.
                lo, hi = max(mint, crefs[0].mint), min(maxt, crefs[-1].maxt)
                stones[ref] = add_interval(stones.get(ref, []), lo, hi)
                hit += 1
        if hit:
            write_tombstones(self.path, stones)
            self._stones = stones
            stats = dataclasses.replace(self.meta.stats, num_tombstones=num_intervals(stones))
            self.meta = dataclasses.replace(self.meta, stats=stats)
            write_meta(self.path, self.meta)
        return hit

    # -- verification and lifetime ------------------------------------------------------

    def verify(self) -> None:
        """Full scan: every index section and CRC, every chunk CRC, every chunk ref
        pointing at a chunk start, meta stats matching the index. Raises CorruptError."""
        index_refs = self.index.verify()
        chunk_refs = self.chunks.verify()
        bad = ~np.isin(index_refs, chunk_refs)
        if bad.any():
            ref = int(index_refs[bad][0])
            # Names the segment and offset: out of range or truncated raise here.
            _, view = self.chunks.chunk(ref, verify=True)
            view.release()
            seg, off = ref >> 32, ref & 0xFFFFFFFF
            raise CorruptError(
                f"the index references chunk {ref:#x}, which is not a chunk start",
                self.chunks.paths[seg],
                off,
            )
        n_series = len(self.index.all_postings())
        if self.meta.stats.num_series and self.meta.stats.num_series != n_series:
            raise CorruptError(
                f"meta.json says {self.meta.stats.num_series} series, the index has {n_series}",
                os.path.join(self.path, META_FILENAME),
            )

    def close(self) -> None:
        self.index.close()
        self.chunks.close()

    def __enter__(self) -> Block:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Block({self.path!r}, [{self.meta.min_time}, {self.meta.max_time}))"
