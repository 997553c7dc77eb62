"""Reading samples out of a block for a query: select, decode in one batch, clip, apply tombstones."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .block import Block
from .codec.xor import ENCODING_XOR, decode_xor_many
from .errors import CorruptChunkError
from .labels import Labels
from .matchers import Matcher
from .samples import SampleArrays


def read_block(block: Block, matchers: Sequence[Matcher], mint: int, maxt: int) -> tuple[list[Labels], SampleArrays]:
    """Labels and samples in ``[mint, maxt]`` of the block's series matching ``matchers``."""
    labels: list[Labels] = []
    parts: list[memoryview] = []
    chunk_counts: list[int] = []
    deleted: dict[int, list[tuple[int, int]]] = {}
    for i, s in enumerate(block.select(matchers, mint, maxt)):
        labels.append(s.labels)
        for c in s.chunks:
            if c.encoding != ENCODING_XOR:
                raise CorruptChunkError(
                    f"series {s.labels!r}: chunk encoding {c.encoding} is not supported (only XOR floats)",
                    path=block.path,
                )
            parts.append(c.data)
        chunk_counts.append(len(s.chunks))
        if s.deleted:
            deleted[i] = s.deleted
    if not labels:
        return [], SampleArrays.empty()
    lens = np.fromiter((len(p) for p in parts), dtype=np.int64, count=len(parts))
    offsets = np.zeros(len(parts), dtype=np.int64)
    if len(parts) > 1:
        np.cumsum(lens[:-1], out=offsets[1:])
    data = np.frombuffer(b"".join(parts), dtype=np.uint8)
    ts, vs, bounds = decode_xor_many(data, offsets, lens)
    chunk_edges = np.zeros(len(labels) + 1, dtype=np.int64)
    np.cumsum(chunk_counts, out=chunk_edges[1:])
    edges = bounds[chunk_edges]
    arrs = SampleArrays(np.arange(len(labels), dtype=np.int64), ts, vs, edges)
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
