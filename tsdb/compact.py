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
"""

from __future__ import annotations

import heapq
import logging
import os
import shutil
from collections.abc import Callable, Iterator, Sequence

import numpy as np

from .block import Block, BlockMeta, ChunkMeta, write_block
from .codec.xor import ENCODING_XOR, decode_xor
from .head import Head
from .matchers import Matcher
from .merge import merge_answers
from .rechunk import BLOCK_CHUNK_SAMPLES, encode_series_chunks
from .samples import SampleArrays

log = logging.getLogger("tsdb.compact")

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


def write_head_block(path: str, head: Head, start: int, end: int, chunk_samples: int) -> Block | None:
    """Persist the head's samples in ``[start, end)`` as a level-1 block; None when there are none."""
    head.flush_open_chunks_before(end)
    refs = head.series_in_range(start, end - 1)
    if not len(refs):
        return None
    arrs = head.read(refs, start, end - 1)
    nonempty = np.diff(arrs.edges) > 0
    labels = head.index.labels_many(refs[nonempty])
    if not nonempty.all():
        arrs = arrs.filter_rows(nonempty)
    if not labels:
        return None
    labels, ts, vs, edges = _order_by_labels(labels, arrs)
    chunks = encode_series_chunks(ts, vs, edges, chunk_samples)
    d = write_block(path, zip(labels, chunks, strict=True), start, end - 1)
    return Block.open(d)


# -- merging blocks ---------------------------------------------------------------


def plan(blocks: Sequence[Block], ranges: Sequence[int]) -> list[Block] | None:
    """The first group of blocks worth merging, or None."""
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


def compact_blocks(
    path: str, blocks: list[Block], ranges: Sequence[int], retire: Callable[[Block], None] | None = None
) -> list[Block]:
    """Merge planned groups until nothing is left to plan; returns the new block list."""
    retire = retire or delete_block
    blocks = list(blocks)
    while (group := plan(blocks, ranges)) is not None:
        merged = merge_blocks(path, group)
        for b in group:
            blocks.remove(b)
            retire(b)
        if merged is not None:
            blocks.append(merged)
        blocks.sort(key=lambda b: (b.meta.min_time, b.meta.ulid))
    return blocks


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


def merge_blocks(path: str, group: Sequence[Block], target: int = BLOCK_CHUNK_SAMPLES) -> Block | None:
    """Write one block holding every series of ``group``; returns it opened (None if all data was deleted)."""
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
    d = write_block(path, series(), mint, maxt, compaction_level=level, sources=sources, parents=metas)
    block = Block.open(d)
    log.info("compacted %d blocks into %s [%d, %d]", len(group), block.meta.ulid, mint, maxt)
    return block


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
