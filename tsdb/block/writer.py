"""Writes one immutable block directory from a sorted stream of series.

A block directory (docs/format/block.md)::

    <ulid>/
        meta.json        what the block holds (meta.py)
        index            symbols, series, postings (index_writer.py)
        chunks/000001    chunk segments, 512 MiB max each (chunkfile.py)
        tombstones       deleted ranges, empty when written (tombstones.py)

Invariants, as in Prometheus's ``LeveledCompactor.write``:

* Everything is written into ``<parent>/<ulid>.tmp-for-creation``; every file
  and the directories are fsync'd; only then is the directory renamed to
  ``<parent>/<ulid>`` (atomic) and the parent fsync'd. A crash leaves either
  no block or a complete one plus, at worst, a ``.tmp-for-creation``
  directory, which openers ignore and may delete.
* Chunk bytes stream straight to the segment files as series arrive; only
  the labels and (mint, maxt, ref) per chunk are kept until the index is
  written (see index_writer.py).
* Series without chunks are skipped (Prometheus's compactor does the same),
  so ``numSeries`` counts series that have data.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Sequence

from ..errors import TSDBError
from ..fsutil import fsync_dir, write_file_durable
from ..labels import Labels
from .chunkfile import CHUNKS_DIRNAME, MAX_SEGMENT_SIZE, ChunkMeta, ChunkWriter, num_samples
from .index_writer import INDEX_FILENAME, IndexWriter
from .meta import BlockDesc, BlockMeta, BlockStats, Compaction, write_meta
from .tombstones import TOMBSTONES_FILENAME, encode_tombstones
from .ulid import new_ulid

TMP_SUFFIX = ".tmp-for-creation"


class InvalidBlockInputError(TSDBError, ValueError):
    """The series handed to :func:`write_block` break the block's rules
    (unsorted label sets, bad labels, overlapping chunks, data outside the range)."""


def _check_labels(labels: Labels, prev: Labels | None) -> None:
    if not labels:
        raise InvalidBlockInputError("empty label set")
    prev_name = None
    for pair in labels:
        if len(pair) != 2:
            raise InvalidBlockInputError(f"label must be a (name, value) pair: {pair!r}")
        name, value = pair
        if not isinstance(name, str) or not isinstance(value, str) or name == "" or value == "":
            raise InvalidBlockInputError(f"bad label {pair!r} in {labels!r}")
        if prev_name is not None and name <= prev_name:
            raise InvalidBlockInputError(f"labels not sorted by name or duplicated: {labels!r}")
        prev_name = name
    if prev is not None and labels <= prev:
        raise InvalidBlockInputError(f"series not in label order: {labels!r} after {prev!r}")


def write_block(
    parent_dir: str,
    series: Iterable[tuple[Labels, Sequence[ChunkMeta]]],
    mint: int,
    maxt: int,
    *,
    compaction_level: int = 1,
    sources: Sequence[str] | None = None,
    parents: Sequence[BlockDesc | BlockMeta] | None = None,
    ulid: str | None = None,
    segment_size: int = MAX_SEGMENT_SIZE,
    hints: Sequence[str] = (),
) -> str:
    """Write a block holding ``series`` and return the path of its directory.

    ``series`` yields ``(labels, chunks)`` in strictly increasing label order
    (tuple order of the canonical label tuples, which is Prometheus's
    ``labels.Compare``); each series' chunks are in time order and do not
    overlap. ``mint`` and ``maxt`` are the block's time range, both
    **inclusive**; every chunk must lie inside it. ``meta.json`` records
    ``minTime = mint`` and ``maxTime = maxt + 1`` (exclusive, as Prometheus):
    to persist the head range ``[T, T + 2h)`` pass ``maxt = T + 2h - 1``.

    ``sources`` defaults to ``[ulid]`` (a level-1 block is its own source);
    ``parents`` are the blocks a compaction merged; ``hints`` go to
    ``meta.json``'s ``compaction.hints`` (``from-out-of-order`` marks a block
    of out-of-order samples, as Prometheus does). ``ulid`` and
    ``segment_size`` exist for tests. Raises :class:`InvalidBlockInputError`
    on bad input; nothing is left behind on any error.
    """
    if maxt < mint:
        raise InvalidBlockInputError(f"block maxt {maxt} < mint {mint}")
    ulid = ulid or new_ulid()
    final = os.path.join(parent_dir, ulid)
    tmp = final + TMP_SUFFIX
    if os.path.exists(final):
        raise FileExistsError(final)
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    cw = ChunkWriter(os.path.join(tmp, CHUNKS_DIRNAME), segment_size)
    try:
        iw = IndexWriter(os.path.join(tmp, INDEX_FILENAME))
        n_samples = n_chunks = 0
        prev: Labels | None = None
        for labels, chunks in series:
            labels = tuple(labels)
            _check_labels(labels, prev)
            prev = labels
            if not chunks:
                continue
            metas = []
            last_maxt = None
            for c in chunks:
                if c.maxt < c.mint:
                    raise InvalidBlockInputError(
                        f"chunk maxt {c.maxt} < mint {c.mint} in {labels!r}"
                    )
                if c.mint < mint or c.maxt > maxt:
                    raise InvalidBlockInputError(
                        f"chunk [{c.mint}, {c.maxt}] of {labels!r} is outside the block [{mint}, {maxt}]"
                    )
                if last_maxt is not None and c.mint <= last_maxt:
                    raise InvalidBlockInputError(
                        f"chunks of {labels!r} overlap or are out of order ({c.mint} <= {last_maxt})"
                    )
                last_maxt = c.maxt
                ref = cw.write(c.encoding, c.data)
                metas.append((c.mint, c.maxt, ref))
                n_samples += num_samples(c.data)
            n_chunks += len(metas)
            iw.add_series(labels, metas)
        cw.close()
        iw.close()
        write_file_durable(os.path.join(tmp, TOMBSTONES_FILENAME), encode_tombstones({}))
        meta = BlockMeta(
            ulid=ulid,
            min_time=mint,
            max_time=maxt + 1,
            stats=BlockStats(num_samples=n_samples, num_series=iw.num_series, num_chunks=n_chunks),
            compaction=Compaction(
                level=compaction_level,
                sources=tuple(sources) if sources else (ulid,),
                parents=tuple(BlockDesc(p.ulid, p.min_time, p.max_time) for p in parents or ()),
                hints=tuple(hints),
            ),
        )
        write_meta(tmp, meta)
        fsync_dir(tmp)
        os.rename(tmp, final)
        fsync_dir(parent_dir)
    except BaseException:
        cw.abort()
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final
