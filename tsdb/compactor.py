"""Compaction off the write path: a background thread persists head windows, merges blocks, applies retention.

Why: compaction used to run inside ``commit()`` under the DB lock, so the
commit that crossed a block boundary, and every writer queued behind it
(each scrape loop is one), waited for a whole block write and WAL
checkpoint: seconds with a few thousand series. Prometheus compacts in the
background; so does this.

How a head window ``[start, end)`` becomes a block:

1. *cut*, under the DB lock, brief: :func:`~tsdb.compact.cut_head` raises the
   head's ``min_valid_t`` to ``end`` (no new sample can land in the window),
   seals the open chunks before ``end`` and snapshots chunk metadata, a view
   of the chunk bytes and the label sets;
2. *write*, without the DB lock: :func:`~tsdb.compact.write_cut` decodes,
   re-chunks and writes ``<ulid>.tmp/``, renamed to ``<ulid>/`` when complete;
   commits and queries go on meanwhile (queries read the window from the head);
3. *swap*, under the DB lock, brief: the block joins ``db.blocks`` and the head
   drops the window, in one step, so a reader sees the window in exactly one
   of the two;
4. *WAL checkpoint*: the keep-set of live series is copied under the lock, the
   checkpoint itself runs without it (it reads sealed segments only; commits
   append to the current one).

Out-of-order samples (see :mod:`tsdb.ooo_head`) are compacted after a pass
that persisted a head window, and by :meth:`flush`, as Prometheus does: under
the lock, the write-behind log is cut and the samples logged so far are taken
(array views, no copy); without it, they are sorted and written as one block
per window they fall in (hint ``from-out-of-order``); under the lock again,
the blocks join the list and the head forgets those samples; then the log
segments before the cut are deleted. A block overlapping another is merged
with it by the next step (see :func:`tsdb.compact.overlapping`).

Merging blocks and retention run the same way: new blocks are written without
the lock and the block list is swapped under it; removed blocks stay readable
by the queriers that hold them (see ``DB._swap_blocks``).

Where the writing runs: not holding the DB lock is not enough in CPython,
where a Python-heavy writer thread still takes the interpreter lock from the
committing threads. Large jobs (at least :data:`WORKER_MIN_SERIES` series)
are therefore written by a helper process, :mod:`tsdb.block_worker`, started
for the pass; this thread only prepares them and waits. Small jobs are
written here (a process start would cost more than the job); so is
everything when the helper cannot be started (logged once).

One compaction at a time: :attr:`Compactor.mutex` serialises the background
thread, :meth:`DB.compact`, :meth:`DB.flush`, deletion and ``close()``. It
is always taken *before* the DB lock, never while holding it.

Failures: a failed block write removes its ``.tmp`` directory and leaves the
head as it was (the data stays in the head and the WAL; only the window stays
closed to new samples). The background thread logs the error with the block
range and retries on a later signal, after a back-off (1 s doubling to 60 s)
so that a full disk does not turn every commit into a failed block write.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from . import compact as compaction
from .block import Block, new_ulid
from .block_worker import BlockWorker, WorkerError, remove_tmp
from .errors import ClosedError
from .rechunk import BLOCK_CHUNK_SAMPLES

if TYPE_CHECKING:
    from .db import DB

log = logging.getLogger("tsdb.compact")

THREAD_NAME = "tsdb-compactor"
MAX_BACKOFF_S = 60.0
#: jobs with at least this many series are written by the block worker process (see module doc)
WORKER_MIN_SERIES = 2000


class CompactionCancelled(ClosedError):
    """The database is closing: a compaction in progress was abandoned (its ``.tmp`` directory removed)."""


class Compactor:
    """Runs compaction for one :class:`~tsdb.db.DB`: in a background thread on signal, or synchronously."""

    def __init__(self, db: DB) -> None:
        self._db = db
        #: one compaction at a time; taken before the DB lock, never while holding it
        self.mutex = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failures = 0
        self._retry_at = 0.0
        self._worker: BlockWorker | None = None
        self._worker_unavailable = False

    # -- the background thread ------------------------------------------------------
    def start(self) -> None:
        """Start the background thread (``tsdb-compactor``); it waits for :meth:`signal`."""
        self._thread = threading.Thread(target=self._loop, name=THREAD_NAME, daemon=True)
        self._thread.start()

    def signal(self) -> None:
        """Ask the background thread for a compaction pass (cheap: sets an event; called by commits)."""
        self._wake.set()

    def stop(self) -> None:
        """Stop the thread: a block being written is abandoned, a checkpoint or swap in progress finishes.

        Also makes a synchronous :meth:`compact` or :meth:`flush` running in
        another thread stop at its next check with :class:`CompactionCancelled`.
        """
        self._stop.set()
        self._wake.set()
        w = self._worker
        if w is not None:
            w.kill()  # the job in progress fails at once; its .tmp directory is removed by the pass
        t = self._thread
        if t is not None and t is not threading.current_thread():
            t.join()

    def check(self) -> None:
        """Raise :class:`CompactionCancelled` when the DB is closing (called by long writes)."""
        if self._stop.is_set():
            raise CompactionCancelled(f"database {self._db.path} is closing; compaction abandoned")

    def _loop(self) -> None:
        while True:
            self._wake.wait()
            if self._stop.is_set():
                return
            self._wake.clear()
            delay = self._retry_at - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                return
            try:
                self.compact()
            except ClosedError:
                return
            except Exception as e:  # never kill the thread, never crash the process: log and retry later
                self._failures += 1
                backoff = min(MAX_BACKOFF_S, 2.0 ** (self._failures - 1))
                self._retry_at = time.monotonic() + backoff
                where = "; ".join(getattr(e, "__notes__", ())) or "compaction"
                log.error(
                    "background compaction failed (%s): %s: %s; nothing was lost, retrying in %.0fs or later",
                    where, type(e).__name__, e, backoff, exc_info=True,
                )
            else:
                self._failures = 0
                self._retry_at = 0.0

    # -- passes (any thread) -------------------------------------------------------------
    def compact(self) -> None:
        """Persist the head's full windows, checkpoint the WAL, merge blocks, apply retention."""
        db = self._db
        with self.mutex, self._worker_for_pass():
            db._check_open()
            rng = db.options.block_range_ms
            persisted = False
            while True:
                with db._lock:
                    db._check_open()
                    if not db._head_compactable():
                        break
                    start = (db.head.min_time // rng) * rng
                self._persist(start, start + rng)
                persisted = True
            if persisted:
                self.check()
                db._truncate_wal()
                self._compact_out_of_order()
            self._merge_blocks()
            self._apply_retention()

    def flush(self) -> None:
        """Persist everything the head holds now as blocks, then checkpoint the WAL.

        Windows are persisted oldest first up to the one holding the newest
        sample at the time of the call; samples appended meanwhile to later
        windows stay in the head (a flush does not chase a moving head).
        """
        db = self._db
        rng = db.options.block_range_ms
        with self.mutex, self._worker_for_pass():
            with db._lock:
                db._check_open()
                h = db.head
                if h.max_time < h.min_time:
                    last_end = None
                else:
                    last_end = (h.max_time // rng + 1) * rng
            while last_end is not None:
                with db._lock:
                    db._check_open()
                    h = db.head
                    if h.max_time < h.min_time or h.min_time >= last_end:
                        break
                    start = (h.min_time // rng) * rng
                self._persist(start, start + rng)
            self.check()
            db._truncate_wal()
            self._compact_out_of_order()

    def _persist(self, start: int, end: int) -> None:
        """Cut the head window ``[start, end)`` (lock), write its block (no lock), swap it in (lock)."""
        db = self._db
        t0 = time.monotonic()
        with db._lock:
            db._check_open()
            cut = compaction.cut_head(db.head, start, end)
        t_cut = time.monotonic() - t0
        ulid = new_ulid()
        try:
            self.check()
            w = self._worker_if(len(cut.refs))
            if w is not None:
                d = w.write_cut(db.path, cut, db.options.block_chunk_samples, ulid)
            else:
                d = compaction.write_cut(db.path, cut, db.options.block_chunk_samples, self.check, ulid)
            block = Block.open(d) if d is not None else None
        except BaseException as e:
            raise self._failed(e, ulid, f"writing the head block [{start}, {end})") from None
        t_write = time.monotonic() - t0 - t_cut
        with db._lock:
            if db._closed:  # only if closed without stopping us first; the block is complete and used on reopen
                if block is not None:
                    block.close()
                raise ClosedError(f"database {db.path} is closed")
            if block is not None:
                db.blocks.append(block)
                db.blocks.sort(key=lambda b: (b.meta.min_time, b.meta.ulid))
            dead = db.head.truncate(end)
            if len(dead):
                db._logged[dead] = False
        if block is not None:
            log.info(
                "wrote block %s [%d, %d): %d series, %d samples; cut %.3fs, write %.3fs, swap %.3fs",
                block.meta.ulid, start, end, block.meta.stats.num_series, block.meta.stats.num_samples,
                t_cut, t_write, time.monotonic() - t0 - t_cut - t_write,
            )

    def _compact_out_of_order(self) -> None:
        """Write the out-of-order head as blocks, one per window, then drop it from the head and the WBL."""
        db = self._db
        rng = db.options.block_range_ms
        t0 = time.monotonic()
        with db._lock:
            db._check_open()
            ooo = db.head.ooo
            if not ooo.n:
                return
            n0 = ooo.n
            last_seg = db.wbl.cut() - 1 if db.wbl is not None else None
            view = ooo.view(n0)
            tomb = {r: list(ivs) for r, ivs in db.head.tombstones.items()}
            lo, hi = ooo.min_time, ooo.max_time
        arrs = view.by_ref(tomb)
        with db._lock:
            flats = db.head.index.flat_labels_many(arrs.keys)
        made: list[Block] = []
        try:
            for start in range((lo // rng) * rng, hi + 1, rng):
                self.check()
                ulid = new_ulid()
                try:
                    d = compaction.write_out_of_order(
                        db.path, flats, arrs, start, start + rng, db.options.block_chunk_samples, self.check, ulid,
                    )
                except BaseException as e:
                    raise self._failed(e, ulid, f"writing out-of-order samples [{start}, {start + rng})") from None
                if d is not None:
                    made.append(Block.open(d))
        except BaseException:
            for b in made:  # complete blocks, but the head still holds their samples: remove them again
                compaction.delete_block(b)
            raise
        with db._lock:
            if db._closed:
                for b in made:
                    b.close()
                raise ClosedError(f"database {db.path} is closed")
            db.blocks = sorted(db.blocks + made, key=lambda b: (b.meta.min_time, b.meta.ulid))
            db.head.ooo.drop_first(n0)
        if last_seg is not None:
            db.wbl.truncate_before(last_seg + 1)
        log.info(
            "compacted %d out-of-order samples into %d blocks in %.3fs", n0, len(made), time.monotonic() - t0,
        )

    def _merge_blocks(self) -> None:
        """Merge adjacent blocks (see :func:`tsdb.compact.plan`), each group written without the DB lock."""
        db = self._db
        ranges = db._ranges()
        while True:
            self.check()
            with db._lock:
                db._check_open()
                blocks = list(db.blocks)
            group = compaction.plan(blocks, ranges)
            if group is None:
                return
            ulid = new_ulid()
            try:
                w = self._worker_if(sum(b.meta.stats.num_series for b in group))
                if w is not None:
                    d = w.write_merged(db.path, [b.path for b in group], BLOCK_CHUNK_SAMPLES, ulid)
                else:
                    d = compaction.write_merged(db.path, group, BLOCK_CHUNK_SAMPLES, self.check, ulid)
                merged = Block.open(d)
            except BaseException as e:
                where = f"merging blocks [{group[0].meta.min_time}, {group[-1].meta.max_time})"
                raise self._failed(e, ulid, where) from None
            db._swap_blocks(group, [merged])

    # -- the block worker ----------------------------------------------------------------
    @contextlib.contextmanager
    def _worker_for_pass(self) -> Iterator[None]:
        """Stop the block worker (if a job of this pass started one) when the pass ends."""
        try:
            yield
        finally:
            w, self._worker = self._worker, None
            if w is not None:
                w.close()

    def _worker_if(self, series: int) -> BlockWorker | None:
        """The block worker for a job of ``series`` series, started if needed; None: write in this thread."""
        if series < WORKER_MIN_SERIES or self._worker_unavailable:
            return None
        if self._worker is None:
            try:
                self._worker = BlockWorker(self._db._lock_fd)
            except OSError as e:
                self._worker_unavailable = True
                log.warning(
                    "cannot start the block worker process (%s): blocks are written in the compactor thread, "
                    "which slows down commits while a large block is written", e,
                )
                return None
            if self._stop.is_set():  # stop() may have run before the worker existed
                self._worker.kill()
        return self._worker

    def _failed(self, e: BaseException, ulid: str, where: str) -> BaseException:
        """The exception to raise for a failed write of block ``ulid``; cleans up after it.

        In-process writes remove their ``.tmp`` directory themselves; a killed
        or crashed worker cannot, so it is removed here. A worker that died is
        replaced on the next job. When the DB is closing, whatever the failure
        was, the answer is :class:`CompactionCancelled`.
        """
        remove_tmp(self._db.path, ulid)
        if isinstance(e, WorkerError) and self._worker is not None and not self._worker.alive():
            w, self._worker = self._worker, None
            w.close()
        if self._stop.is_set():
            return CompactionCancelled(f"database {self._db.path} is closing; {where} abandoned")
        e.add_note(where)
        return e

    def _apply_retention(self) -> None:
        """Delete blocks beyond the retention time or size (the list is swapped under the DB lock)."""
        db = self._db
        opts = db.options
        with db._lock:
            db._check_open()
            blocks = list(db.blocks)
            wal_bytes = db.wal.size_bytes() + (db.wbl.size_bytes() if db.wbl is not None else 0)
        doomed: list = []
        compaction.apply_retention(blocks, opts.retention_ms, opts.retention_bytes, wal_bytes, retire=doomed.append)
        if doomed:
            db._swap_blocks(doomed, [])
