"""The Querier: select series by label matchers over a time range, merged across blocks and head.

``select`` is the library's friendly form (one :class:`Series` per label
set, sorted by labels); ``select_arrays`` is the engine's form (label sets
plus one :class:`~tsdb.samples.SampleArrays`, in no particular order), which
skips sorting and per-series objects.

Bounds are inclusive on both ends, in ms, as in Prometheus's
``Querier(mint, maxt)``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from .block_query import read_block
from .errors import ClosedError
from .head_index import pairs_of
from .labels import Labels
from .matchers import Matcher
from .merge import Answer, merge_answers
from .postings import union

if TYPE_CHECKING:
    from .block import Block
    from .db import DB


def _sources(block: Block) -> tuple[str, ...]:
    """The level-1 blocks whose data ``block`` holds (itself, for a level-1 block)."""
    return block.meta.compaction.sources or (block.meta.ulid,)


@dataclass(frozen=True)
class Series:
    """One series: its label set and its samples (int64 ms timestamps, float64 values)."""

    labels: Labels
    timestamps: NDArray[np.int64]
    values: NDArray[np.float64]

    @property
    def labels_dict(self) -> dict[str, str]:
        return dict(self.labels)

    def __len__(self) -> int:
        return len(self.timestamps)


class Querier:
    """A read view of the DB over ``[mint, maxt]``; cheap to create, close when done."""

    def __init__(self, db: DB, mint: int, maxt: int) -> None:
        self._db = db
        self.mint = mint
        self.maxt = maxt
        with db._lock:
            self._blocks = [b for b in db.blocks if b.meta.max_time > mint and b.meta.min_time <= maxt]
            db._acquire_blocks(self._blocks)  # compaction may replace them; they stay readable until close()
            self._held_sources = {s for b in self._blocks for s in _sources(b)}
        self._closed = False

    def _check(self) -> None:
        if self._closed:
            raise ClosedError("querier is closed")
        self._db._check_open()

    def _current_blocks(self) -> list[Block]:
        """The blocks to read, taken under the DB lock in the same step as the head's part.

        The compactor moves head data (a window of in-order samples, or the
        out-of-order samples) into new blocks at any time; a read that took
        the head after the move but only the blocks from before it would miss
        that data. So every block in range holding data of a level-1 block
        this querier has not seen (a new head block, or a merge including
        one) is added and held too; an overlap with a block already held is
        de-duplicated by the merge. A merge of blocks already held adds
        nothing. Blocks held stay readable until close().
        """
        db = self._db
        held = {id(b) for b in self._blocks}
        new = [
            b for b in db.blocks
            if id(b) not in held and b.meta.max_time > self.mint and b.meta.min_time <= self.maxt
            and not self._held_sources.issuperset(_sources(b))
        ]
        if new:
            db._acquire_blocks(new)
            self._blocks = sorted(self._blocks + new, key=lambda b: (b.meta.min_time, b.meta.ulid))
            self._held_sources.update(s for b in new for s in _sources(b))
        return list(self._blocks)

    def select_arrays(self, *matchers: Matcher) -> Answer:
        """Label sets and samples of every matching series with data in range (unsorted)."""
        self._check()
        if not matchers:
            raise ValueError("select needs at least one matcher")
        db = self._db
        with db._lock:  # only the cheap part under the lock: decoding happens after
            blocks = self._current_blocks()
            head = db.head
            refs = head.select_refs(matchers)
            snap = head.snapshot(refs, self.mint, self.maxt) if len(refs) else None
            flats = head.index.flat_labels_many(refs) if len(refs) else []
        answers = [read_block(b, matchers, self.mint, self.maxt) for b in blocks]
        labels = pairs_of(flats)
        if snap is not None:
            arrs = snap.decode()
            nonempty = np.diff(arrs.edges) > 0
            if not nonempty.all():
                labels = [lab for lab, ok in zip(labels, nonempty.tolist(), strict=True) if ok]
                arrs = arrs.filter_rows(nonempty)
            answers.append((labels, arrs))
        return merge_answers(answers)

    def select(self, *matchers: Matcher, sort: bool = True) -> Iterator[Series]:
        """Yield each matching series with its samples in range (sorted by labels unless ``sort=False``)."""
        labels, arrs = self.select_arrays(*matchers)
        order = sorted(range(len(labels)), key=labels.__getitem__) if sort else range(len(labels))
        for i in order:
            t, v = arrs.series(i)
            yield Series(labels[i], t, v)

    def label_names(self, *matchers: Matcher) -> list[str]:
        """Sorted label names of the series in range (restricted to matching series when matchers given)."""
        self._check()
        if matchers:
            labels, _ = self.select_arrays(*matchers)
            return sorted({n for lab in labels for n, _ in lab})
        names: set[str] = set()
        with self._db._lock:
            blocks = self._current_blocks()
            names.update(self._head_label_names())
        for b in blocks:
            names.update(b.label_names())
        return sorted(names)

    def _head_in_range(self) -> bool:
        head = self._db.head
        ooo = head.ooo
        in_order = not (head.max_time < self.mint or head.min_time > self.maxt)
        return in_order or (ooo.n > 0 and not (ooo.max_time < self.mint or ooo.min_time > self.maxt))

    def _head_label_names(self) -> list[str]:
        return self._db.head.index.label_names() if self._head_in_range() else []

    def label_values(self, name: str, *matchers: Matcher) -> list[str]:
        """Sorted values of label ``name`` (restricted to matching series when matchers given)."""
        self._check()
        if matchers:
            labels, _ = self.select_arrays(*matchers)
            return sorted({v for lab in labels for n, v in lab if n == name})
        values: set[str] = set()
        with self._db._lock:
            blocks = self._current_blocks()
            if self._head_in_range():
                values.update(self._db.head.index.label_values(name))
        for b in blocks:
            values.update(b.label_values(name))
        return sorted(values)

    def series_refs(self, matchers: Sequence[Matcher]) -> NDArray[np.int64]:
        """Head refs matching (for callers that append by ref)."""
        with self._db._lock:
            return union([self._db.head.select_refs(matchers)])

    def close(self) -> None:
        """Release the blocks this querier reads (idempotent)."""
        if not self._closed:
            self._closed = True
            self._db._release_blocks(self._blocks)

    def __del__(self) -> None:
        if not getattr(self, "_closed", True):
            self.close()

    def __enter__(self) -> Querier:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
