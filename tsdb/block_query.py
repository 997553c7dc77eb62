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
from .errors import CorruptChunkError, CorruptError
from .labels import Labels
from .matchers import Matcher
from .samples import SampleArrays

# [labels, chunks as (mint, maxt, segment ref) tuples, segment refs, CRC state: False, the checked refs, or True].
# Plain Python tuples: a series has a handful of chunks per block, where a Python loop beats numpy calls.
_CacheEntry = list


def _load_entry(block: Block, ref: int) -> _CacheEntry:
    """Parse series ``ref``'s index entry once and keep it in the block's ``query_series_cache``."""
    labels, crefs = block.index.series(ref)
    chunks = [(c.mint, c.maxt, c.ref) for c in crefs]
    e = block.query_series_cache[ref] = [labels, chunks, [c[2] for c in chunks], False]
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
    picks: list[list[int]] = []
    whole = block.min_time >= mint and block.max_time - 1 <= maxt  # every chunk is in range
    cache = block.query_series_cache
    for ref in block.postings_for_matchers(matchers).tolist():
        entry = cache.get(ref) or _load_entry(block, ref)
        ivs = stones.get(ref) if stones else None
        if ivs:
            picked = [r for a, b, r in entry[1] if b >= mint and a <= maxt
                      and not any(x <= a and b <= y for x, y in ivs)]
        elif whole:
            picked = entry[2]
        else:
            picked = [r for a, b, r in entry[1] if b >= mint and a <= maxt]
        if not picked:
            continue
        if ivs:
            deleted[len(labels)] = list(ivs)
        labels.append(entry[0])
        entries.append(entry)
        picks.append(picked)
        flat.extend(picked)
        counts.append(len(picked))
    if not labels:
        return [], SampleArrays.empty()
    if Block.verify_chunks:
        _check_once(block, entries, picks)
    refs = np.array(flat, dtype=np.int64)
    ts, vs, bounds = _decode_chunks(block, refs)
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


def _decode_chunks(block: Block, refs: np.ndarray):
    """Decode the chunks with segment refs ``refs`` (in order) into CSR arrays (CRCs: see ``_check_once``)."""
    reader = block.chunks
    seg_idx = refs >> 32
    offs = refs & 0xFFFFFFFF
    first = int(seg_idx[0])
    if len(reader.paths) == 1 or not (seg_idx != first).any():  # the common case: one segment file
        return _decode_segment(reader, first, offs)
    segments = np.unique(seg_idx)
    # rare (a block with more than 512 MiB of chunks): decode per segment, then restore the order
    order = np.argsort(seg_idx, kind="stable")
    parts = [_decode_segment(reader, int(s), offs[seg_idx == s]) for s in segments]
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


def _check_once(block: Block, entries: list[_CacheEntry], picks: list[list[int]]) -> None:
    """CRC-check each picked chunk the first time it is read (an entry's ``[3]``: False, the set of
    checked refs, or True once all its chunks passed), so repeated queries compute no CRC."""
    todo: list[int] = []
    touched = []
    for e, picked in zip(entries, picks, strict=True):
        done = e[3]
        if done is True:
            continue
        if done and done.issuperset(picked):
            continue
        new = [r for r in picked if r not in done] if done else picked
        if new:
            todo.extend(new)
            touched.append((e, new))
    if not todo:
        return
    _check_chunks(block, np.array(todo, dtype=np.int64))
    for e, new in touched:
        checked = (e[3] or frozenset()) | frozenset(new)
        e[3] = True if len(checked) == len(e[2]) else checked


def _check_chunks(block: Block, refs: np.ndarray) -> None:
    """CRC-check the chunks with segment refs ``refs``; raise ``CorruptError`` naming file and offset."""
    reader = block.chunks
    seg_idx = refs >> 32
    offs = refs & 0xFFFFFFFF
    for s in np.unique(seg_idx).tolist():
        sel = offs[seg_idx == s]
        m = reader._segment(s, s << 32)
        seg = np.frombuffer(m, dtype=np.uint8)
        try:
            _locate(reader, s, seg, sel, np.ones(len(sel), dtype=np.bool_))
        finally:
            del seg


def _locate(reader, index: int, seg: np.ndarray, offs: np.ndarray, verify: np.ndarray):
    data_off = np.empty(len(offs), dtype=np.int64)
    data_len = np.empty(len(offs), dtype=np.int64)
    err = np.zeros(1, dtype=np.int64)
    bad = locate_chunks(seg, offs.astype(np.int64), verify, ENCODING_XOR, CRC32C_TABLE, data_off, data_len, err)
    if bad >= 0:
        raise CorruptError(MESSAGES[int(err[0])], reader.paths[index], int(offs[bad]))
    return data_off, data_len


def _decode_segment(reader, index: int, offs: np.ndarray):
    m = reader._segment(index, int(index) << 32)
    seg = np.frombuffer(m, dtype=np.uint8)
    try:
        data_off, data_len = _locate(reader, index, seg, offs, np.zeros(len(offs), dtype=np.bool_))
        try:
            return decode_xor_many(seg, data_off, data_len)
        except CorruptChunkError as e:  # offsets are into the segment: name its file too
            raise CorruptChunkError(str(e), reader.paths[index], e.offset) from None
    finally:
        del seg
