"""WAL checkpoints: compact the head of the log so replay time stays bounded.

See docs/format/wal.md#checkpoints.

Strategy (as Prometheus's ``wlog.Checkpoint``)
-----------------------------------------------
``checkpoint(wal, N, keep_series, mint)`` reads the previous checkpoint (if
any) and segments ``first..N``, keeps only what a restarted head still needs,
and writes it to ``checkpoint.N``, a directory laid out like a WAL (its own
``%08d`` segments). Then it deletes older checkpoints and segments ``<= N``.
Replay reads the newest checkpoint, then the segments after it.

What is kept
------------
* series records: the rows whose ref ``keep_series`` says is alive;
* samples: rows with ``t >= mint`` of series that are kept (samples of a
  dropped series would be orphans on replay);
* tombstones: rows with ``maxt >= mint`` of series that are kept (a deleted
  range ending before ``mint`` covers nothing any more).
Consecutive records of one kind are merged (up to a size cap) so the
checkpoint holds a few large records instead of one per scrape. Order between
kinds is preserved: a series record still comes before the samples that use it.

Crash safety
------------
The checkpoint is written to ``checkpoint.N.tmp``, fsynced (files and the
directory), renamed to ``checkpoint.N`` and the parent fsynced; only then are
old checkpoints and segments deleted. A crash before the rename leaves a
``.tmp`` that ``WAL.open`` removes; a crash after it leaves segments ``<= N``
that replay skips and the next checkpoint deletes.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Callable, Iterator

import numpy as np
from numpy.typing import NDArray

from ..errors import CorruptError
from ..fsutil import fsync_dir
from .frames import (
    checkpoint_name,
    latest_checkpoint,
    list_segments,
    read_segment,
    segment_name,
)
from .records import (
    OPAQUE_KINDS,
    ExemplarsRecord,
    MetadataRecord,
    OpaqueRecord,
    Record,
    SamplesRecord,
    SeriesRecord,
    TombstonesRecord,
    decode_record,
    encode_exemplars,
    encode_metadata,
    encode_samples,
    encode_series,
    encode_tombstones,
)
from .segments import WAL

__all__ = ["checkpoint", "MAX_MERGED_ROWS", "MAX_MERGED_SERIES"]

KeepSeries = Callable[[NDArray[np.int64]], NDArray[np.bool_]]

MAX_MERGED_ROWS = 1 << 20
"""Cap on rows of one merged samples/tombstones record (24 MiB of samples)."""
MAX_MERGED_SERIES = 1 << 16
"""Cap on label sets in one merged series record."""


def checkpoint(wal: WAL, upto_segment: int, keep_series: KeepSeries, mint: int) -> str:
    """Fold the previous checkpoint and segments ``<= upto_segment`` into ``checkpoint.<upto>``.

    ``keep_series(refs) -> bool mask`` is called on arrays of refs and says
    which series are still alive. ``upto_segment`` must be below the segment
    being written (call ``wal.cut()`` first) and above the previous checkpoint.
    Returns the path of the new checkpoint directory.
    """
    current = wal.current_segment
    if current is None or upto_segment >= current:
        raise ValueError(
            f"checkpoint up to segment {upto_segment} must end before the segment being written "
            f"({current}); call wal.cut() first"
        )
    prev = latest_checkpoint(wal.dir)
    if prev is not None and upto_segment <= prev[0]:
        raise ValueError(f"segment {upto_segment} is already covered by {prev[1]}")
    segs = [s for s in wal.segments() if s <= upto_segment and (prev is None or s > prev[0])]
    for a, b in itertools.pairwise(segs):
        if b != a + 1:
            raise CorruptError(
                "missing WAL segment (segments are not contiguous)",
                path=os.path.join(wal.dir, segment_name(a + 1)),
            )

    sources = []
    if prev is not None:
        sources += [os.path.join(prev[1], segment_name(s)) for s in list_segments(prev[1])]
    sources += [os.path.join(wal.dir, segment_name(s)) for s in segs]

    final = os.path.join(wal.dir, checkpoint_name(upto_segment))
    tmp = final + ".tmp"
    if os.path.exists(tmp):
        shutil.rmtree(tmp)
    # "batch" with no sync() calls: fsync happens on segment change and close only.
    out = WAL.open(tmp, segment_size=wal.segment_size, sync="batch", compress=wal.compress)
    try:
        try:
            merger = _Merger(out)
            for rec in _records(sources):
                kept = _filter(rec, keep_series, mint)
                if kept is not None:
                    merger.add(kept)
            merger.flush()
        finally:
            out.close()
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # refused or failed: leave no half-written checkpoint behind
        raise
    fsync_dir(tmp)
    if os.path.exists(final):  # left by a crash between rename and truncation
        shutil.rmtree(final)
    os.rename(tmp, final)
    fsync_dir(wal.dir)

    for name in os.listdir(wal.dir):
        if name.startswith("checkpoint.") and not name.endswith(".tmp"):
            path = os.path.join(wal.dir, name)
            if path != final and _checkpoint_index(name) < upto_segment:
                shutil.rmtree(path)
    wal.truncate_before(upto_segment + 1)
    fsync_dir(wal.dir)
    return final


def _checkpoint_index(name: str) -> int:
    try:
        return int(name.split(".", 1)[1])
    except ValueError:
        return -1


def _records(paths: list[str]) -> Iterator[Record]:
    """Decoded records of sealed segment files; damage anywhere is CorruptError with location."""
    for path in paths:
        for off, payload in read_segment(path):
            try:
                rec = decode_record(payload)
            except CorruptError as e:
                raise CorruptError(str(e), path=path, offset=off) from None
            if isinstance(rec, OpaqueRecord):
                # dropping them would lose data promlite cannot even show: refuse instead
                raise CorruptError(
                    f"{OPAQUE_KINDS.get(rec.type, rec.type.name)} (record type {int(rec.type)}) are not "
                    "supported by promlite yet; the checkpoint was not written and nothing was changed",
                    path=path, offset=off,
                )
            yield rec


def _mask(keep_series: KeepSeries, refs: NDArray[np.int64]) -> NDArray[np.bool_]:
    mask = np.asarray(keep_series(refs), dtype=bool)
    if mask.shape != refs.shape:
        raise ValueError(f"keep_series returned shape {mask.shape} for {refs.shape} refs")
    return mask


def _filter(rec: Record, keep_series: KeepSeries, mint: int) -> Record | None:
    """The part of ``rec`` a restarted head still needs, or None if nothing is left."""
    if isinstance(rec, SeriesRecord):
        mask = _mask(keep_series, rec.refs)
        if not mask.any():
            return None
        return SeriesRecord(rec.refs[mask], list(itertools.compress(rec.labels, mask.tolist())))
    if isinstance(rec, SamplesRecord):
        mask = rec.ts >= mint
        if mask.any():
            mask &= _mask(keep_series, rec.refs)
        if not mask.any():
            return None
        return SamplesRecord(rec.refs[mask], rec.ts[mask], rec.vs[mask])
    if isinstance(rec, TombstonesRecord):
        mask = rec.maxts >= mint
        if mask.any():
            mask &= _mask(keep_series, rec.refs)
        if not mask.any():
            return None
        return TombstonesRecord(rec.refs[mask], rec.mints[mask], rec.maxts[mask])
    if isinstance(rec, ExemplarsRecord):
        mask = rec.ts >= mint
        if mask.any():
            mask &= _mask(keep_series, rec.refs)
        if not mask.any():
            return None
        return ExemplarsRecord(
            rec.refs[mask], rec.ts[mask], rec.vs[mask], list(itertools.compress(rec.labels, mask.tolist()))
        )
    if isinstance(rec, MetadataRecord):
        mask = _mask(keep_series, rec.refs)
        if not mask.any():
            return None
        keep = mask.tolist()
        return MetadataRecord(
            rec.refs[mask], list(itertools.compress(rec.types, keep)),
            list(itertools.compress(rec.units, keep)), list(itertools.compress(rec.helps, keep)),
        )
    raise RuntimeError(f"BUG: unknown record {type(rec).__name__}")


class _Merger:
    """Buffers consecutive records of one kind and writes them as one record."""

    def __init__(self, out: WAL):
        self._out = out
        self._kind: type | None = None
        self._parts: list[Record] = []
        self._rows = 0

    def add(self, rec: Record) -> None:
        cap = MAX_MERGED_SERIES if isinstance(rec, SeriesRecord | ExemplarsRecord | MetadataRecord) else MAX_MERGED_ROWS
        if type(rec) is not self._kind or self._rows + len(rec.refs) > cap:
            self.flush()
            self._kind = type(rec)
        self._parts.append(rec)
        self._rows += len(rec.refs)

    def flush(self) -> None:
        parts, self._parts, self._rows = self._parts, [], 0
        if not parts:
            return
        self._out.log(_encode_merged(parts))


def _encode_merged(parts: list[Record]) -> bytes:
    first = parts[0]
    refs = np.concatenate([p.refs for p in parts])
    if isinstance(first, SeriesRecord):
        labels = [ls for p in parts for ls in p.labels]  # type: ignore[union-attr]
        return encode_series(refs, labels)
    if isinstance(first, SamplesRecord):
        ts = np.concatenate([p.ts for p in parts])  # type: ignore[union-attr]
        vs = np.concatenate([p.vs for p in parts])  # type: ignore[union-attr]
        return encode_samples(refs, ts, vs)
    if isinstance(first, TombstonesRecord):
        mints = np.concatenate([p.mints for p in parts])  # type: ignore[union-attr]
        maxts = np.concatenate([p.maxts for p in parts])  # type: ignore[union-attr]
        return encode_tombstones(refs, mints, maxts)
    if isinstance(first, ExemplarsRecord):
        ts = np.concatenate([p.ts for p in parts])  # type: ignore[union-attr]
        vs = np.concatenate([p.vs for p in parts])  # type: ignore[union-attr]
        return encode_exemplars(refs, ts, vs, [ls for p in parts for ls in p.labels])  # type: ignore[union-attr]
    if isinstance(first, MetadataRecord):
        # Prometheus keeps the latest metadata per series; later rows win
        latest: dict[int, tuple[int, str, str]] = {}
        for p in parts:
            for r, t, u, h in zip(p.refs.tolist(), p.types, p.units, p.helps, strict=True):  # type: ignore[union-attr]
                latest[r] = (t, u, h)
        rs = list(latest)
        return encode_metadata(rs, [latest[r][0] for r in rs], [latest[r][1] for r in rs], [latest[r][2] for r in rs])
    raise RuntimeError(f"BUG: unknown record {type(first).__name__}")
