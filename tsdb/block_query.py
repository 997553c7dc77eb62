"""Reading samples out of a block for a query: select, locate and decode in batches, clip, apply tombstones.

Per matching series the index entry is parsed once per open block and
cached (labels and chunk metadata as small arrays); chunk headers are
located and CRC-checked for all selected chunks in one compiled call
(:mod:`tsdb.block.chunk_locate`), and all chunks are decoded with one
``decode_xor_many`` call straight from the mmapped segment, without
copying chunk bytes. Python work is per series, never per chunk or sample.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .block import Block
from .block.chunk_locate import CRC32C_TABLE, MESSAGES, locate_chunks
from .codec.xor import ENCODING_XOR, decode_xor_many
from .errors import CorruptError
from .labels import Labels
from .matchers import Matcher
from .samples import SampleArrays

# [labels, chunks as (mint, maxt, segment ref) tuples, segment refs, whether the chunks' CRCs were checked].
# Plain Python tuples: a series has a handful of chunks per block, where a Python loop beats numpy calls.
_CacheEntry = list


def _series_entry(block: Block, ref: int) -> _CacheEntry:
    cache: dict[int, _CacheEntry] | None = getattr(block, "_query_series_cache", None)
    if cache is None:
        cache = block._query_series_cache = {}  # type: ignore[attr-defined]
    e = cache.get(ref)
    if e is None:
        labels, crefs = block.index.series(ref)
        chunks = [(c.mint, c.maxt, c.ref) for c in crefs]
        e = cache[ref] = [labels, chunks, [c[2] for c in chunks], False]
    return e


def read_block(block: Block, matchers: Sequence[Matcher], mint: int, maxt: int) -> tuple[list[Labels], SampleArrays]:
    """Labels and samples in ``[mint, maxt]`` of the block's series matching ``matchers``."""
    if maxt < mint or not block.overlaps(mint, maxt):
        return [], SampleArrays.empty()
    stones = block._stones
    labels: list[Labels] = []
    flat: list[int] = []
    counts: list[int] = []
    deleted: dict[int, list[tuple[int, int]]] = {}
    entries: list[_CacheEntry] = []
    whole = block.min_time >= mint and block.max_time - 1 <= maxt  # every chunk is in range
    for ref in block.postings_for_matchers(matchers).tolist():
        entry = _series_entry(block, ref)
        ivs = stones.get(ref)
        if whole and not ivs:
            picked = entry[2]
        else:
            picked = [r for a, b, r in entry[1] if b >= mint and a <= maxt
                      and not (ivs and any(x <= a and b <= y for x, y in ivs))]
        if not picked:
            continue
        if ivs:
            deleted[len(labels)] = list(ivs)
        labels.append(entry[0])
        entries.append(entry)
        flat.extend(picked)
        counts.append(len(picked))
    if not labels:
        return [], SampleArrays.empty()
    refs = np.array(flat, dtype=np.int64)
    verify = np.zeros(len(refs), dtype=np.bool_)
    if Block.verify_chunks:
        verify = np.repeat(np.array([not e[3] for e in entries], dtype=np.bool_), counts)
    ts, vs, bounds = _decode_chunks(block, refs, verify)
    if Block.verify_chunks:
        for e, n in zip(entries, counts, strict=True):
            if n == len(e[2]):
                e[3] = True  # every chunk of the series passed its CRC check: no need to check again
    chunk_edges = np.zeros(len(labels) + 1, dtype=np.int64)
    np.cumsum(counts, out=chunk_edges[1:])
    arrs = SampleArrays(np.arange(len(labels), dtype=np.int64), ts, vs, bounds[chunk_edges])
    if len(ts) and (ts.min() < mint or ts.max() > maxt):
        arrs = arrs.filter((ts >= mint) & (ts <= maxt))
    if deleted:
        arrs = arrs.without(deleted)
    nonempty = np.diff(arrs.edges) > 0
    if not nonempty.all():
        labels = [lab for lab, ok in zip(labels, nonempty.tolist(), strict=True) if ok]
        arrs = arrs.filter_rows(nonempty)
        arrs = SampleArrays(np.arange(len(labels), dtype=np.int64), arrs.ts, arrs.vs, arrs.edges)
    return labels, arrs


def _decode_chunks(block: Block, refs: np.ndarray, verify: np.ndarray):
    """Decode the chunks with segment refs ``refs`` (in order) into CSR arrays."""
    reader = block.chunks
    seg_idx = refs >> 32
    offs = refs & 0xFFFFFFFF
    segments = np.unique(seg_idx)
    if len(segments) == 1:
        return _decode_segment(reader, int(segments[0]), offs, verify)
    # rare (a block with more than 512 MiB of chunks): decode per segment, then restore the order
    order = np.argsort(seg_idx, kind="stable")
    parts = [_decode_segment(reader, int(s), offs[seg_idx == s], verify[seg_idx == s]) for s in segments]
    ts = np.concatenate([p[0] for p in parts])
    vs = np.concatenate([p[1] for p in parts])
    lens = np.concatenate([np.diff(p[2]) for p in parts])
    starts = np.concatenate([p[2][:-1] + sum(len(q[0]) for q in parts[:k]) for k, p in enumerate(parts)])
    inv = np.empty(len(order), dtype=np.int64)
    inv[order] = np.arange(len(order))
    lens_o, starts_o = lens[inv], starts[inv]
    bounds = np.zeros(len(refs) + 1, dtype=np.int64)
    np.cumsum(lens_o, out=bounds[1:])
    piece = np.repeat(np.arange(len(refs)), lens_o)
    idx = starts_o[piece] + (np.arange(int(bounds[-1])) - bounds[:-1][piece])
    return ts[idx], vs[idx], bounds


def _decode_segment(reader, index: int, offs: np.ndarray, verify: np.ndarray):
    m = reader._segment(index, int(index) << 32)
    seg = np.frombuffer(m, dtype=np.uint8)
    try:
        data_off = np.empty(len(offs), dtype=np.int64)
        data_len = np.empty(len(offs), dtype=np.int64)
        err = np.zeros(1, dtype=np.int64)
        bad = locate_chunks(seg, offs.astype(np.int64), verify, ENCODING_XOR, CRC32C_TABLE,
                            data_off, data_len, err)
        if bad >= 0:
            raise CorruptError(MESSAGES[int(err[0])], reader.paths[index], int(offs[bad]))
        return decode_xor_many(seg, data_off, data_len)
    finally:
        del seg
