"""Writing blocks from the head, merging blocks, retention, tombstone cleaning.

Planning follows Prometheus's leveled compactor, simplified:

* ranges are ``[r, 3r, 9r, ...]`` up to the max block duration;
* for each larger range, blocks falling in one aligned window of that range
  are merged once the window is complete (a newer block starts at or after
  the window's end) and holds more than one block; the newest block is never
  part of a plan, so a backup can copy it while it is fresh;
* merging streams series in label order through a k-way merge of the input
  blocks and writes them in batches, so memory stays bounded by a batch;
  chunks pass through untouched unless a series has overlapping chunks or
  tombstones, in which case it is decoded, merged and re-cut.

Retention deletes whole blocks: by time (a block whose end is older than the
newest block's end minus the retention), then by size (oldest first until
blocks + WAL fit). A deleted or replaced block is first renamed to
``<ulid>.tmp-for-deletion`` (removed on the next start if we die midway).

Writing a head window is split in two so that the slow part runs without the
DB lock (see :mod:`tsdb.compactor`): :func:`cut_head` closes the window to
appends and takes a :class:`HeadCut` under the lock (cheap: no decoding),
:func:`write_cut` decodes, re-chunks and writes it without the lock. A block
is written to ``<ulid>.tmp`` and renamed when complete, so an interrupted
write leaves only a ``.tmp`` directory, which the next open removes.
"""

from __future__ import annotations

import heapq
import logging
import os
import shutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .block import Block, BlockMeta, ChunkMeta, write_block
from .codec.xor import ENCODING_XOR, decode_xor
from .head import Head, HeadSnapshot
from .head_index import pairs_of
from .matchers import Matcher
from .merge import merge_answers
from .rechunk import BLOCK_CHUNK_SAMPLES, encode_series_chunks
from .samples import SampleArrays

log = logging.getLogger("tsdb.compact")

#: ``meta.json`` compaction hint of a block written from out-of-order samples (Prometheus's name)
HINT_FROM_OUT_OF_ORDER = "from-out-of-order"


def is_out_of_order(meta: BlockMeta) -> bool:
    """Whether a block holds out-of-order samples only (its range does not bound in-order appends)."""
    return HINT_FROM_OUT_OF_ORDER in meta.compaction.hints

ALL_SERIES = (Matcher.re("__name__", ".+"),)


def _order_by_labels(labels, arrs: SampleArrays):
    order = sorted(range(len(labels)), key=labels.__getitem__)
    counts = np.diff(arrs.edges)[order]
    edges = np.zeros(len(order) + 1, dtype=np.int64)
    np.cumsum(counts, out=edges[1:])
    starts = arrs.edges[:-1][order]
    piece = np.repeat(np.arange(len(order)), counts)
    idx = starts[piece] + (np.arange(int(edges[-1])) - edges[:-1][piece])
    return [labels[i] for i in order], arrs.ts[idx], arrs.vs[idx], edges


#: how many series a block writer handles between two calls of its ``check`` hook
CHECK_EVERY = 512

#: a hook called now and then by long writes; raises to abandon the write
#: (e.g. :class:`tsdb.compactor.CompactionCancelled` when the DB closes)
Check = Callable[[], None]


def _checked(items: Iterable, check: Check | None) -> Iterator:
    """``items``, calling ``check`` every :data:`CHECK_EVERY` items (a write in progress can be abandoned)."""
    if check is None:
        yield from items
        return
    for i, x in enumerate(items):
        if i % CHECK_EVERY == 0:
            check()
        yield x


@dataclass(frozen=True)
class HeadCut:
    """What writing the head window ``[start, end)`` as a block needs; valid without the DB lock.

    The chunk metadata is copied. The chunk bytes are a view of the head's
    arena, which stays valid while appends and truncation go on: appends only
    write past the arena's used length (growing it copies into a new array),
    and truncation builds a new arena instead of rewriting the old one.
    """

    start: int
    end: int
    #: series with chunks in the window, ascending
    refs: NDArray[np.int64]
    #: their label sets, flat ``(n1, v1, n2, v2, ...)`` as the head index stores them
    flat_labels: list[tuple[str, ...]]
    arena: NDArray[np.uint8]
    #: offsets and lengths in ``arena`` of the window's chunks, grouped by ref, in time order
    offs: NDArray[np.int64]
    lens: NDArray[np.int64]
    #: chunks per ref
    counts: NDArray[np.int64]
    tombstones: dict[int, list[tuple[int, int]]]

    def decode(self) -> SampleArrays:
        """The window's samples per ref (tombstones applied), as CSR arrays."""
        width = 8  # no open chunks: every chunk of the window was sealed by cut_head
        snap = HeadSnapshot(
            self.refs, self.start, self.end - 1, self.arena, self.offs, self.lens, self.counts,
            np.zeros(len(self.refs), dtype=bool), np.zeros((0, width), dtype=np.uint8),
            np.zeros(0, dtype=np.int64), self.tombstones,
        )
        return snap.decode()


def cut_head(head: Head, start: int, end: int) -> HeadCut:
    """Close the head window ``[start, end)`` to appends and snapshot it. Call with the DB lock held.

    Raises ``head.min_valid_t`` to ``end`` first (Prometheus does the same
    before persisting a window), so no sample can land in the window once the
    snapshot is taken, then seals the open chunks that start before ``end``
    (no head chunk straddles a window, so they end before it too). Cost: a
    few vectorised passes over the chunk metadata and one C-level gather of
    label tuples; no decoding, no copying of chunk bytes.
    """
    head.min_valid_t = max(head.min_valid_t, end)
    head.flush_open_chunks_before(end)
    c = head.chunks
    n = c.n
    ids = np.flatnonzero((c.mint[:n] < end) & (c.maxt[:n] >= start))
    # chunk ids of one series are in time order (they are added and kept in order): a stable sort groups them
    ids = ids[np.argsort(c.ref[ids], kind="stable")]
    chunk_refs = c.ref[ids].astype(np.int64)
    refs, counts = np.unique(chunk_refs, return_counts=True)
    tomb = {r: list(ivs) for r, ivs in head.tombstones.items()} if head.tombstones else {}
    return HeadCut(
        start, end, refs, head.index.flat_labels_many(refs), c.data[: c.nbytes],
        c.off[ids], c.len[ids].astype(np.int64), counts.astype(np.int64), tomb,
    )


def write_cut(
    path: str, cut: HeadCut, chunk_samples: int, check: Check | None = None, ulid: str | None = None
) -> str | None:
    """Write a :class:`HeadCut` as a level-1 block under ``path``; returns its directory, None when empty.

    Runs without the DB lock: it reads only the cut (in the compactor thread
    or in :mod:`tsdb.block_worker`). ``check`` is called between steps and
    every few hundred series; if it raises, the partial ``.tmp`` directory is
    removed and the exception propagates. ``ulid`` names the block (default: a new one).
    """
    if check is not None:
        check()
    if not len(cut.refs):
        return None
    return _write_rows(path, cut.flat_labels, cut.decode(), cut.start, cut.end, chunk_samples, check, ulid)


def write_out_of_order(
    path: str, flat_labels: list[tuple[str, ...]], arrs: SampleArrays, start: int, end: int, chunk_samples: int,
    check: Check | None = None, ulid: str | None = None,
) -> str | None:
    """Write the out-of-order samples in ``[start, end)`` as a block; returns its directory, None when empty.

    ``arrs`` has one sorted row per series (label sets ``flat_labels``), as
    :meth:`tsdb.ooo_head.OOOView.by_ref` gives; rows are clipped to the
    window here. The block spans the whole window, as Prometheus's
    out-of-order blocks do, and carries the ``from-out-of-order`` hint.
    """
    part = arrs.filter((arrs.ts >= start) & (arrs.ts < end))
    return _write_rows(path, flat_labels, part, start, end, chunk_samples, check, ulid, (HINT_FROM_OUT_OF_ORDER,))


def _write_rows(
    path: str, flats: list[tuple[str, ...]], arrs: SampleArrays, start: int, end: int, chunk_samples: int,
    check: Check | None, ulid: str | None, hints: tuple[str, ...] = (),
) -> str | None:
    """Write the non-empty rows of ``arrs`` (label sets ``flats``) as the block ``[start, end)``; None if all are empty."""
    nonempty = np.diff(arrs.edges) > 0
    if not nonempty.any():
        return None
    if not nonempty.all():
        flats = [f for f, ok in zip(flats, nonempty.tolist(), strict=True) if ok]
        arrs = arrs.filter_rows(nonempty)
    if check is not None:
        check()
    labels, ts, vs, edges = _order_by_labels(pairs_of(flats), arrs)
    if check is not None:
        check()
    chunks = encode_series_chunks(ts, vs, edges, chunk_samples)
    return write_block(
        path, _checked(zip(labels, chunks, strict=True), check), start, end - 1, ulid=ulid, hints=hints,
    )


# -- merging blocks ---------------------------------------------------------------


def overlapping(blocks: Sequence[Block]) -> list[Block] | None:
    """The first group of blocks whose time ranges overlap (oldest first), or None.

    Blocks of out-of-order samples overlap the in-order block of their
    window; such groups are merged first (Prometheus's vertical compaction),
    so that a window ends up in one block again.
    """
    group: list[Block] = []
    group_end = None
    for b in sorted(blocks, key=lambda b: (b.meta.min_time, b.meta.ulid)):
        if group_end is not None and b.meta.min_time < group_end:
            group.append(b)
            group_end = max(group_end, b.meta.max_time)
            continue
        if len(group) > 1:
            return group
        group, group_end = [b], b.meta.max_time
    return group if len(group) > 1 else None


def plan(blocks: Sequence[Block], ranges: Sequence[int]) -> list[Block] | None:
    """The first group of blocks worth merging, or None: overlapping blocks first, then aligned windows."""
    group = overlapping(blocks)
    if group is not None:
        return group
    if len(blocks) < 3:
        return None
    candidates = sorted(blocks, key=lambda b: b.meta.min_time)[:-1]  # never the newest
    newest_start = max(b.meta.min_time for b in blocks)
    for r in ranges[1:]:
        windows: dict[int, list[Block]] = {}
        for b in candidates:
            w = b.meta.min_time // r
            if (b.meta.max_time - 1) // r == w:  # fits in one window of this range
                windows.setdefault(w, []).append(b)
        for w, group in sorted(windows.items()):
            end = (w + 1) * r
            if len(group) > 1 and newest_start >= end:
                return sorted(group, key=lambda b: b.meta.min_time)
    return None


def _series_stream(block: Block, idx: int) -> Iterator[tuple]:
    for s in block.select(ALL_SERIES, block.meta.min_time, block.meta.max_time - 1):
        yield s.labels, idx, s


def _merge_one(labels, pieces, target: int) -> list[ChunkMeta]:
    """Chunks of one series from several blocks (oldest first), merged."""
    chunks = [c for _, s in pieces for c in s.chunks]
    deleted = [iv for _, s in pieces for iv in s.deleted]
    overlapping = any(chunks[i].mint <= chunks[i - 1].maxt for i in range(1, len(chunks)))
    if not overlapping and not deleted:
        return [ChunkMeta(c.mint, c.maxt, c.encoding, bytes(c.data)) for c in chunks]
    answers = []
    for _, s in pieces:
        ts_parts, vs_parts = [], []
        for c in s.chunks:
            if c.encoding != ENCODING_XOR:
                raise ValueError(f"unsupported chunk encoding {c.encoding}")
            t, v = decode_xor(c.data)
            ts_parts.append(t)
            vs_parts.append(v)
        ts = np.concatenate(ts_parts)
        vs = np.concatenate(vs_parts)
        arr = SampleArrays(np.zeros(1, dtype=np.int64), ts, vs, np.array([0, len(ts)], dtype=np.int64))
        if s.deleted:
            arr = arr.without({0: s.deleted})
        answers.append(([labels], arr))
    _, merged = merge_answers(answers)
    if not len(merged.ts):
        return []
    return encode_series_chunks(merged.ts, merged.vs, merged.edges, target)[0]


def merge_blocks(path: str, group: Sequence[Block], target: int = BLOCK_CHUNK_SAMPLES) -> Block:
    """Write one block holding every series of ``group``; returns it opened."""
    return Block.open(write_merged(path, group, target))


def write_merged(
    path: str, group: Sequence[Block], target: int = BLOCK_CHUNK_SAMPLES, check: Check | None = None,
    ulid: str | None = None,
) -> str:
    """Write one block holding every series of ``group`` (oldest first); returns its directory.

    ``check`` and ``ulid`` as in :func:`write_cut`.
    """
    streams = [_series_stream(b, i) for i, b in enumerate(group)]
    merged = heapq.merge(*streams, key=lambda x: (x[0], x[1]))

    def series() -> Iterator[tuple]:
        cur_labels, pieces = None, []
        for labels, idx, s in merged:
            if labels != cur_labels and pieces:
                out = _merge_one(cur_labels, pieces, target)
                if out:
                    yield cur_labels, out
                pieces = []
            cur_labels = labels
            pieces.append((idx, s))
        if pieces:
            out = _merge_one(cur_labels, pieces, target)
            if out:
                yield cur_labels, out

    metas: list[BlockMeta] = [b.meta for b in group]
    sources = sorted({s for m in metas for s in (m.compaction.sources or (m.ulid,))})
    level = max(m.compaction.level for m in metas) + 1
    mint = min(m.min_time for m in metas)
    maxt = max(m.max_time for m in metas) - 1
    hints = (HINT_FROM_OUT_OF_ORDER,) if all(HINT_FROM_OUT_OF_ORDER in m.compaction.hints for m in metas) else ()
    d = write_block(
        path, _checked(series(), check), mint, maxt, compaction_level=level, sources=sources, parents=metas,
        ulid=ulid, hints=hints,
    )
    log.info("compacted %d blocks into %s [%d, %d]", len(group), os.path.basename(d), mint, maxt)
    return d


def remove_block_dir(block: Block) -> None:
    """Remove a block's directory (renamed first, so a crash leaves only a .tmp dir).

    The block stays open: on Linux its mmapped files remain readable after
    the unlink, so a query still reading it is not disturbed.
    """
    doomed = block.path + ".tmp-for-deletion"
    os.rename(block.path, doomed)
    shutil.rmtree(doomed, ignore_errors=True)


def delete_block(block: Block) -> None:
    """Remove a block's directory and close it (for callers with no concurrent readers)."""
    remove_block_dir(block)
    block.close()


# -- retention and tombstones ---------------------------------------------------------


def apply_retention(
    blocks: list[Block], retention_ms: int, retention_bytes: int, wal_bytes: int,
    retire: Callable[[Block], None] | None = None,
) -> list[Block]:
    """Delete blocks beyond the retention time or size; returns the blocks kept."""
    retire = retire or delete_block
    blocks = sorted(blocks, key=lambda b: b.meta.min_time)
    if not blocks:
        return blocks
    doomed: list[Block] = []
    if retention_ms > 0:
        newest = max(b.meta.max_time for b in blocks)
        doomed = [b for b in blocks if b.meta.max_time <= newest - retention_ms]
    if retention_bytes > 0:
        kept = [b for b in blocks if b not in doomed]
        total = wal_bytes + sum(b.size_bytes() for b in kept)
        for b in kept:
            if total <= retention_bytes:
                break
            doomed.append(b)
            total -= b.size_bytes()
    for b in doomed:
        log.info("retention: deleting block %s [%d, %d)", b.meta.ulid, b.meta.min_time, b.meta.max_time)
        retire(b)
    return [b for b in blocks if b not in doomed]


def delete_in_block(block: Block, matchers: Sequence[Matcher], mint: int, maxt: int) -> int:
    """Tombstone ``[mint, maxt]`` of the matching series of a block; returns the series count."""
    return block.delete(matchers, mint, maxt)


def clean_tombstones(
    path: str, blocks: list[Block], target: int = BLOCK_CHUNK_SAMPLES, retire: Callable[[Block], None] | None = None
) -> list[Block]:
    """Rewrite every block that has tombstones without the deleted samples."""
    retire = retire or delete_block
    out = []
    for b in blocks:
        if not b.tombstones():
            out.append(b)
            continue
        new = merge_blocks(path, [b], target)
        retire(b)
        if new is not None:
            out.append(new)
    return sorted(out, key=lambda b: (b.meta.min_time, b.meta.ulid))
