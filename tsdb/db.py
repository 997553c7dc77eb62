"""The database: a head, its WAL, persisted blocks, compaction and retention.

Lifecycle of a sample: :meth:`Appender.commit` logs it to the WAL, then
applies it to the :class:`~tsdb.head.Head`. When the head spans more than
1.5 block ranges (2 h by default), its oldest full window is written as an
immutable block in Prometheus's format, the head drops that window, and the
WAL is checkpointed, so replay after a restart only covers the head.
Adjacent blocks are merged by the compactor into ranges of 3× the previous
level (2 h, 6 h, 18 h, ... capped at 10 % of the retention), and blocks that
fall out of the retention time or size are deleted.

Out-of-order samples (``out_of_order_time_window_ms`` > 0, as Prometheus's
``out_of_order_time_window``): a sample older than its series' newest one,
or older than the head's lower bound, is accepted when it is no older than
the window behind the head's newest sample. It is logged to ``wbl/`` (the
write-behind log: the WAL's format, samples records only, as Prometheus
writes it) instead of the WAL, kept in the :class:`~tsdb.ooo_head.OOOHead`,
merged into queries, and written to blocks of its own (meta.json hint
``from-out-of-order``) when the compactor persists the head; overlapping
blocks are then merged.

Directory layout (the same as Prometheus's, so its tools read it)::

    <path>/lock                 flock'ed while open
    <path>/wal/00000000 ...     WAL segments, checkpoint.NNNNNNNN/
    <path>/wbl/00000000 ...     out-of-order samples (only with a window, or when Prometheus left one)
    <path>/<ULID>/              blocks: meta.json, index, chunks/, tombstones

Thread-safety: one lock (``_lock``) serialises commits and every change of
the head or the block list, and is only ever held briefly. Compaction runs
in the ``tsdb-compactor`` thread (see :mod:`tsdb.compactor`): a commit only
signals it; blocks are written without the lock and swapped in under it. A
second lock, the compaction mutex, keeps one compaction (or deletion) at a
time; it is taken before ``_lock``, never while holding it. Queriers take
the block list and what they read from the head under ``_lock``, in one
step, so data moving from the head to a block is seen exactly once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import fcntl
import logging
import os
import shutil
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from . import compact as compaction
from .appender import Appender, LabelsLike
from .block import Block
from .block.meta import read_meta
from .compactor import Compactor
from .errors import ClosedError, CorruptError, InvalidSampleError, TSDBError
from .head import (
    DEFAULT_BLOCK_RANGE_MS,
    DEFAULT_CHUNK_SAMPLES,
    DEFAULT_SLAB_BYTES,
    AppendStats,
    Head,
)
from .head_kernels import IN_ORDER, NO_SAMPLE, OUT_OF_ORDER_OK, TOO_OLD, classify_out_of_order
from .labels import make_labels
from .matchers import Matcher
from .rechunk import BLOCK_CHUNK_SAMPLES
from .wal import WAL, checkpoint, decode_record, encode_samples, encode_series, encode_tombstones
from .wal.records import (
    OPAQUE_KINDS,
    OpaqueRecord,
    RecordType,
    SamplesRecord,
    SeriesRecord,
    TombstonesRecord,
)

log = logging.getLogger("tsdb")

DAY_MS = 24 * 3600 * 1000
#: The largest series ref a WAL may name. Refs index the head's per-ref arrays (about 33 bytes a
#: ref), so a corrupt ref near 2**63 would ask for exabytes; Prometheus counts refs up from 1, and
#: 2**28 (268 M series ever created) leaves room for years of churn at a worst case of ~9 GiB.
MAX_SERIES_REF = 2**28


@dataclass(frozen=True)
class Options:
    """Tunables of :func:`open`; names follow Prometheus's flags where there is a twin."""

    #: ``--storage.tsdb.retention.time`` in ms (0 = keep forever); default 15 d as Prometheus
    retention_ms: int = 15 * DAY_MS
    #: ``--storage.tsdb.retention.size`` in bytes (0 = no limit); blocks + WAL count
    retention_bytes: int = 0
    #: length of a level-1 block (``--storage.tsdb.min-block-duration``)
    block_range_ms: int = DEFAULT_BLOCK_RANGE_MS
    #: largest compacted block (``--storage.tsdb.max-block-duration``); 0 = 10 % of retention, ≤ 31 d
    max_block_ms: int = 0
    #: WAL fsync policy: "always" (every commit), "batch" (at most every ``wal_sync_interval_ms``), "never"
    wal_sync: str = "always"
    wal_sync_interval_ms: float = 100.0
    wal_segment_bytes: int = 128 * 2**20
    #: snappy-compress WAL records (``--storage.tsdb.wal-compression``, on by default as in Prometheus)
    wal_compression: bool = True
    #: open without changing anything on disk: no lock, no WAL repair, no compaction, no appends.
    #: Works while another process (a server) has the directory open.
    read_only: bool = False
    #: most samples in a head chunk (Prometheus: 120)
    head_chunk_samples: int = DEFAULT_CHUNK_SAMPLES
    #: bytes reserved per series for its open, XOR-encoded head chunk; a chunk
    #: that would outgrow it is sealed early (noisy series get shorter chunks)
    head_slab_bytes: int = DEFAULT_SLAB_BYTES
    #: samples per chunk in persisted blocks (Prometheus's head cuts at 120; 240 is 2 % smaller)
    block_chunk_samples: int = BLOCK_CHUNK_SAMPLES
    #: compact automatically after commits (set False to call :meth:`DB.compact` yourself)
    auto_compact: bool = True
    #: accept samples up to this far (ms) behind the newest one out of order (``storage.tsdb.out_of_order_time_window``);
    #: 0 rejects them, as Prometheus's default
    out_of_order_time_window_ms: int = 0


def open(path: str, **options) -> DB:  # noqa: A001 - the library's entry point, like tsdb.Open
    """Open (creating if needed) the database in directory ``path``.

    Keyword options are the fields of :class:`Options`. Replays the WAL; a
    torn tail of the last segment is cut at the last good record and logged;
    any other damage raises :class:`~tsdb.errors.CorruptError` and changes
    nothing. With ``read_only=True`` the directory must exist and nothing in
    it is changed.
    """
    return DB(path, Options(**options))


class DB:
    """An open database. Use as a context manager, or call :meth:`close`."""

    def __init__(self, path: str, options: Options | None = None) -> None:
        self.path = os.path.abspath(path)
        self.options = opts = options or Options()
        if opts.wal_sync not in ("always", "batch", "never"):
            raise ValueError(f"wal_sync must be 'always', 'batch' or 'never', got {opts.wal_sync!r}")
        if opts.block_range_ms <= 0:
            raise ValueError("block_range_ms must be positive")
        if opts.out_of_order_time_window_ms < 0:
            raise ValueError("out_of_order_time_window_ms must not be negative")
        if os.path.exists(self.path) and not os.path.isdir(self.path):
            raise TSDBError(f"{self.path}: not a directory")
        self.read_only = opts.read_only
        if self.read_only:
            if not os.path.isdir(self.path):
                raise TSDBError(f"{self.path}: no such directory")
        else:
            os.makedirs(self.path, exist_ok=True)
        self._lock = threading.RLock()
        self._closed = False
        self._lock_fd = None if self.read_only else self._acquire_dir_lock()
        try:
            self.head = Head(
                chunk_samples=opts.head_chunk_samples, slab_bytes=opts.head_slab_bytes,
                block_range_ms=opts.block_range_ms,
            )
            self._logged = np.zeros(0, dtype=bool)
            self._growing = False  # a tsdb-head-grow thread is running (see _keep_head_room)
            self.blocks: list[Block] = []
            self._readers: dict[int, int] = {}  # id(block) -> open queriers reading it
            self._retired: dict[int, Block] = {}  # removed blocks still read by a querier
            if not self.read_only:
                self._remove_tmp_dirs()
            self._open_blocks()
            # blocks of out-of-order samples do not close their range to in-order appends (as in Prometheus)
            in_order = [b.meta.max_time for b in self.blocks if not compaction.is_out_of_order(b.meta)]
            if self._skipped_max_time is not None:
                in_order.append(self._skipped_max_time)
            if in_order:
                self.head.min_valid_t = max(in_order)
            wal_dir = os.path.join(self.path, "wal")
            if self.read_only and not os.path.isdir(wal_dir):
                self.wal = None  # a directory of blocks only
            else:
                self.wal = WAL.open(
                    wal_dir, segment_size=opts.wal_segment_bytes,
                    sync=opts.wal_sync, sync_interval_ms=opts.wal_sync_interval_ms,
                    compress=opts.wal_compression, read_only=self.read_only,
                )
                self._replay_wal()
            self.wbl = self._open_wbl()
            if self.wbl is not None:
                self._replay_wbl()
            self._reserve_head_chunk_refs()
            self._stop_sync = threading.Event()
            self._sync_thread = None
            if opts.wal_sync == "batch":
                # bound what a machine crash can take to one interval, even when commits stop
                self._sync_thread = threading.Thread(target=self._sync_loop, name="tsdb-wal-sync", daemon=True)
                self._sync_thread.start()
            self._start_compactor()
        except BaseException:
            self._release_dir_lock()
            raise

    # -- directory lock ----------------------------------------------------------
    def _acquire_dir_lock(self) -> int:
        fd = os.open(os.path.join(self.path, "lock"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            if e.errno in (errno.EAGAIN, errno.EACCES):
                raise TSDBError(f"{self.path}: the database is already open in another process or DB object") from None
            raise
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        return fd

    def _release_dir_lock(self) -> None:
        if self._lock_fd is not None:
            try:  # Prometheus removes its lock file on a clean shutdown; so do we
                os.unlink(os.path.join(self.path, "lock"))
            except OSError:
                pass
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    # -- startup -------------------------------------------------------------------
    def _remove_tmp_dirs(self) -> None:
        for name in os.listdir(self.path):
            if ".tmp" in name and os.path.isdir(os.path.join(self.path, name)):
                log.info("removing leftover of an interrupted write: %s", name)
                shutil.rmtree(os.path.join(self.path, name), ignore_errors=True)

    def _open_blocks(self) -> None:
        """Open every block directory; skip (and report) the ones that cannot be read.

        As Prometheus does, one unreadable block (a flipped byte in its
        ``meta.json``, a bad index header, a missing file) does not stop the
        database: it is logged with its directory, file and what is wrong,
        listed in :attr:`skipped_blocks`, counted in :meth:`stats`, and left
        exactly as it is (never deleted or moved: retention and compaction
        only see the blocks that were opened). When its ``meta.json`` is still
        readable, its time range keeps closing the head to in-order appends,
        as it would if it had opened.
        """
        blocks = []
        self.skipped_blocks: list[tuple[str, str]] = []  # (block directory, what is wrong)
        self._skipped_max_time: int | None = None
        for name in sorted(os.listdir(self.path)):
            p = os.path.join(self.path, name)
            if not (os.path.isdir(p) and os.path.exists(os.path.join(p, "meta.json"))):
                continue
            try:
                blocks.append(Block.open(p))
            except (CorruptError, OSError, ValueError) as e:
                self._skip_block(p, e)
        blocks.sort(key=lambda b: (b.meta.min_time, b.meta.ulid))
        # a compaction that died after writing its output but before deleting its
        # inputs leaves blocks that another block lists as parents: drop those
        replaced = {p.ulid for b in blocks for p in b.meta.compaction.parents}
        for b in list(blocks):
            if b.meta.ulid in replaced:
                b.close()
                blocks.remove(b)
                if not self.read_only:
                    log.info("deleting block %s: already compacted into a newer block", b.meta.ulid)
                    shutil.rmtree(b.path, ignore_errors=True)
        self.blocks = blocks

    def _skip_block(self, path: str, err: Exception) -> None:
        what = str(err) if isinstance(err, CorruptError) else f"{type(err).__name__}: {err}"
        log.error(
            "skipping block %s: %s; the block is left as it is (not deleted), the other blocks are served",
            path, what,
        )
        self.skipped_blocks.append((path, what))
        try:
            meta = read_meta(path)
        except (CorruptError, OSError, ValueError):
            return
        if not compaction.is_out_of_order(meta):
            self._skipped_max_time = max(self._skipped_max_time or meta.max_time, meta.max_time)

    def _replay_wal(self) -> None:
        t0 = time.monotonic()
        nseries = nsamples = unknown = 0
        head = self.head
        alias: dict[int, int] = {}  # a series record repeating known labels under another ref
        opaque: dict[str, int] = {}
        for seg, payload in self.wal.replay():
            rec = decode_record(payload)
            if isinstance(rec, OpaqueRecord):
                kind = OPAQUE_KINDS.get(rec.type, rec.type.name)
                if not self.read_only:
                    raise TSDBError(
                        f"{self.wal.dir}: segment {seg:08d} holds {kind} (WAL record type {int(rec.type)}), "
                        "which promlite cannot store yet; opening the directory for writing would lose them at "
                        "the next checkpoint, so nothing was changed. Open it read-only "
                        "(`promlite query --data DIR`) to read its float samples"
                    )
                opaque[kind] = opaque.get(kind, 0) + 1
                continue
            if isinstance(rec, SeriesRecord):
                bad = (rec.refs < 1) | (rec.refs > MAX_SERIES_REF)
                if bad.any():
                    raise CorruptError(
                        f"series record in segment {seg:08d} (or the checkpoint standing for it) has series "
                        f"ref {int(rec.refs[bad][0]) & 0xFFFFFFFFFFFFFFFF}; refs run from 1 to {MAX_SERIES_REF} "
                        "(the head keeps per-ref arrays, so a larger ref would cost memory in proportion)",
                        path=self.wal.dir,
                    )
                for ref, labels in zip(rec.refs.tolist(), rec.labels, strict=True):
                    existing = head.index.get(labels)
                    if existing is None and head.index.is_free(ref):
                        head.create(labels, ref)
                        self._mark_logged(np.array([ref]))
                    elif existing is not None and existing != ref:
                        alias[ref] = existing
                nseries += len(rec.labels)
            elif isinstance(rec, SamplesRecord):
                refs = rec.refs
                if alias:
                    refs = np.array([alias.get(r, r) for r in refs.tolist()], dtype=np.int64)
                known = head.is_live(refs)
                if known.all():
                    head.append(refs, rec.ts, rec.vs)
                else:
                    unknown += int((~known).sum())
                    head.append(refs[known], rec.ts[known], rec.vs[known])
                nsamples += len(refs)
            elif isinstance(rec, TombstonesRecord):
                for r, a, b in zip(rec.refs.tolist(), rec.mints.tolist(), rec.maxts.tolist(), strict=True):
                    head.delete(np.array([alias.get(r, r)]), a, b)
        if unknown:
            log.warning("WAL replay: skipped %d samples of series with no series record", unknown)
        for kind, n in opaque.items():
            log.warning("WAL replay: skipped %d records of %s (not supported yet)", n, kind)
        if nseries or nsamples:
            log.info(
                "replayed WAL: %d series, %d samples in %.3fs", nseries, nsamples, time.monotonic() - t0
            )

    def _open_wbl(self) -> WAL | None:
        """The write-behind log of out-of-order samples: with a window, or when one exists (a window was on)."""
        opts = self.options
        wbl_dir = os.path.join(self.path, "wbl")
        if not os.path.isdir(wbl_dir) and (self.read_only or opts.out_of_order_time_window_ms <= 0):
            return None
        return WAL.open(
            wbl_dir, segment_size=opts.wal_segment_bytes, sync=opts.wal_sync,
            sync_interval_ms=opts.wal_sync_interval_ms, compress=opts.wal_compression, read_only=self.read_only,
        )

    def _replay_wbl(self) -> None:
        """Load the out-of-order samples of ``wbl/`` into the head (after the WAL: series come from there).

        Memory-map markers (which Prometheus writes when it moves out-of-order
        chunks to ``chunks_head/``) are skipped: every sample they stand for is
        still in the log, which is only truncated after an out-of-order compaction.
        """
        assert self.wbl is not None
        t0 = time.monotonic()
        head = self.head
        nsamples = unknown = 0
        for seg, payload in self.wbl.replay():
            rec = decode_record(payload)
            if isinstance(rec, SamplesRecord):
                refs = rec.refs
                known = head.is_live(refs)
                unknown += int((~known).sum())
                head.ooo.add(refs[known], rec.ts[known], rec.vs[known])
                nsamples += int(known.sum())
            elif isinstance(rec, OpaqueRecord) and rec.type == RecordType.MMAP_MARKERS:
                continue
            elif isinstance(rec, OpaqueRecord) and not self.read_only:
                raise TSDBError(
                    f"{self.wbl.dir}: segment {seg:08d} holds {OPAQUE_KINDS.get(rec.type, rec.type.name)} "
                    f"(record type {int(rec.type)}), which promlite cannot store yet; nothing was changed. "
                    "Open it read-only (`promlite query --data DIR`) to read its float samples"
                )
            else:
                log.warning("WBL replay: skipped a %s record in segment %d", type(rec).__name__, seg)
        if unknown:
            log.warning("WBL replay: skipped %d out-of-order samples of series with no series record", unknown)
        if nsamples:
            log.info("replayed WBL: %d out-of-order samples in %.3fs", nsamples, time.monotonic() - t0)

    def _reserve_head_chunk_refs(self) -> None:
        """Keep new series refs clear of those in Prometheus's ``chunks_head/``.

        promlite does not load those memory-mapped chunks (the WAL holds the
        same samples) and leaves the files alone, but Prometheus re-attaches
        them by series ref when it opens the directory again: a new series of
        ours must never take a ref that one of its chunks carries.
        """
        from .head_chunks_file import read_head_chunks, readable_max_series_ref

        try:
            hcf = read_head_chunks(os.path.join(self.path, "chunks_head"))
        except TSDBError as e:
            # the refs read before the damage stay reserved (Prometheus keeps the files before it)
            top, _ = readable_max_series_ref(os.path.join(self.path, "chunks_head"))
            log.warning("chunks_head: %s (its series refs are skipped by scanning what is readable: "
                        "refs up to %d kept clear)", e, top)
        else:
            if hcf.torn_path is not None:  # reported like any damage: never dropped without a word
                log.warning(
                    "chunks_head: %s at offset %d: the last chunk is incomplete or fails its checksum "
                    "(a torn write, or damage); left as it is (promlite reads its samples from the WAL)",
                    hcf.torn_path, hcf.torn_offset,
                )
            top = int(hcf.series_ref.max()) if len(hcf) else 0
        if top > MAX_SERIES_REF:  # damage, or refs no WAL of ours can hold: nothing to keep clear of
            log.warning("chunks_head: a chunk names series ref %d, above %d; refs are not reserved past it",
                        top, MAX_SERIES_REF)
            top = int(hcf.series_ref[hcf.series_ref <= MAX_SERIES_REF].max(initial=0))
        if top:
            self.head.index.reserve(top)

    def _sync_loop(self) -> None:
        interval = self.options.wal_sync_interval_ms / 1000.0
        while not self._stop_sync.wait(interval):
            try:
                self.wal.sync(force=True)
                if self.wbl is not None:
                    self.wbl.sync(force=True)
            except ClosedError:
                return
            except OSError as e:  # keep trying: the next commit reports the failure
                log.error("WAL fsync failed: %s", e)

    # -- appending -----------------------------------------------------------------
    def appender(self) -> Appender:
        """A new :class:`Appender` (cheap; one per batch)."""
        self._check_open()
        self._check_writable()
        return Appender(self)

    def series_ref(self, labels: LabelsLike) -> int:
        """The ref of the series ``labels``, creating the series if it is new.

        For callers that cache refs (a scraper keeps one per series text) and
        then append by ref with ``append_batch``. A series created here that
        never receives a sample is garbage-collected after a while.
        """
        return self._ref_for(labels)

    def _ref_for(self, labels: LabelsLike) -> int:
        head = self.head
        if isinstance(labels, tuple):
            ref = head.index.get(labels)  # already canonical and known: skip validation
            if ref is not None:
                return ref
        canon = make_labels(labels)
        with self._lock:
            self._check_open()
            self._check_writable()
            ref, created = head.get_or_create(canon)
            if created:
                self._mark_logged(np.array([ref]), False)
            return ref

    def _mark_logged(self, refs: NDArray[np.int64], value: bool = True) -> None:
        top = int(refs.max()) + 1 if len(refs) else 0
        if top > len(self._logged):
            grown = np.zeros(max(top, 2 * len(self._logged)), dtype=bool)
            grown[: len(self._logged)] = self._logged
            self._logged = grown
        self._logged[refs] = value

    def _check_ref(self, ref: int) -> None:
        if not 0 <= ref < len(self.head.slot_of) or self.head.slot_of[ref] < 0:
            raise InvalidSampleError(f"unknown series ref {ref}")

    def _check_refs(self, refs: NDArray[np.int64]) -> None:
        if not len(refs):
            return
        slot_of = self.head.slot_of
        if refs.min() < 0 or refs.max() >= len(slot_of):
            bad = refs[(refs < 0) | (refs >= len(slot_of))][0]
            raise InvalidSampleError(f"unknown series ref {int(bad)}")
        if (slot_of[refs] < 0).any():
            raise InvalidSampleError(f"unknown series ref {int(refs[slot_of[refs] < 0][0])}")

    def _split_out_of_order(
        self, refs: NDArray[np.int64], ts: NDArray[np.int64]
    ) -> tuple[NDArray[np.bool_] | None, NDArray[np.bool_] | None, int]:
        """Masks of the in-order and out-of-order samples of a batch, and the too-old count (lock held).

        ``(None, None, 0)`` when there is no out-of-order window (or nothing
        could be out of order): the whole batch goes to the in-order head.
        The window counts back from the head's newest sample; with an empty
        head, from the end of the newest block.
        """
        window = self.options.out_of_order_time_window_ms
        if window <= 0:
            return None, None, 0
        head = self.head
        newest = head.max_time if head.max_time != NO_SAMPLE else head.min_valid_t
        if newest <= NO_SAMPLE + 1:
            return None, None, 0  # nothing stored yet: every sample is in order
        cls = np.empty(len(refs), dtype=np.int8)
        classify_out_of_order(refs, ts, head.last_t, head.min_valid_t, newest - window, cls)
        in_order = cls == IN_ORDER
        if in_order.all():
            return None, None, 0
        return in_order, cls == OUT_OF_ORDER_OK, int(np.count_nonzero(cls == TOO_OLD))

    def _commit(self, refs: NDArray[np.int64], ts: NDArray[np.int64], vs: NDArray[np.float64]) -> AppendStats:
        with self._lock:
            self._check_open()
            self._check_refs(refs)  # a series may have been garbage-collected meanwhile
            in_order, ooo, too_old = self._split_out_of_order(refs, ts)
            records = []
            logged = self._logged[refs]
            if not logged.all():
                new = np.unique(refs[~logged])
                records.append(encode_series(new, self.head.index.labels_many(new)))
            if in_order is None:
                records.append(encode_samples(refs, ts, vs))
            elif in_order.any():
                records.append(encode_samples(refs[in_order], ts[in_order], vs[in_order]))
            if records:
                self.wal.log(*records)  # raises before anything is applied
            if ooo is not None and ooo.any():
                # after the WAL, which holds their series records; a failure here applies nothing either
                self._wbl_for_write().log(encode_samples(refs[ooo], ts[ooo], vs[ooo]))
            if not logged.all():
                self._mark_logged(new)
            if in_order is None:
                _, stats = self.head.append(refs, ts, vs)
            else:
                _, stats = self.head.append(refs[in_order], ts[in_order], vs[in_order])
                n_ooo = int(np.count_nonzero(ooo))
                if n_ooo:
                    self.head.ooo.add(refs[ooo], ts[ooo], vs[ooo])
                extra = AppendStats(appended=n_ooo, out_of_order_appended=n_ooo, too_old=too_old)
                stats.add(extra)
                self.head.totals.add(extra)
            if self.options.wal_sync == "batch":
                self.wal.sync()
                if self.wbl is not None:
                    self.wbl.sync()
        if self.options.auto_compact and self._head_compactable():
            self._compactor.signal()  # only a signal: the block is written by the tsdb-compactor thread
        self._keep_head_room()
        return stats

    def _keep_head_room(self) -> None:
        """Grow the head's chunk arena in a helper thread before a commit needs it to (see below).

        A commit that crosses a block window seals an open chunk for every
        series at once; if the arena lacks room for them, that commit would
        also copy the whole arena. So when the free room drops below what all
        open chunks could take (live slots × slab row), a short-lived thread
        grows it to twice that beyond what is used, copying without the DB
        lock (:meth:`HeadChunks.grow_outside_lock`). The unused room is fresh
        zero pages, not resident until written. Costs a commit one comparison.
        """
        head = self.head
        want = head.open_chunk_room()
        if head.chunks.free_bytes() >= want or self._growing:
            return
        self._growing = True

        def grow() -> None:
            try:
                head.chunks.grow_outside_lock(head.chunks.nbytes + 2 * want, self._lock)
            finally:
                self._growing = False

        threading.Thread(target=grow, name="tsdb-head-grow", daemon=True).start()

    # -- reading -------------------------------------------------------------------
    def querier(self, mint: int = -(2**63), maxt: int = 2**63 - 1):
        """A :class:`~tsdb.querier.Querier` over ``[mint, maxt]`` (ms, inclusive)."""
        from .querier import Querier

        self._check_open()
        return Querier(self, int(mint), int(maxt))

    # -- deleting ------------------------------------------------------------------
    def delete(self, matchers: Sequence[Matcher], mint: int = -(2**63), maxt: int = 2**63 - 1) -> int:
        """Delete samples of matching series in ``[mint, maxt]`` (tombstones); returns the series count."""
        if not matchers:
            raise ValueError("delete needs at least one matcher")
        # the compaction mutex too: a block being merged or a head window being written
        # must not miss a tombstone added meanwhile (Prometheus's Delete also takes it)
        with self._compactor.mutex, self._lock:
            self._check_open()
            self._check_writable()
            n = 0
            for b in self.blocks:
                if b.meta.max_time <= mint or b.meta.min_time > maxt:
                    continue
                n += compaction.delete_in_block(b, matchers, mint, maxt)
            refs = self.head.select_refs(matchers)
            if len(refs):
                self.wal.log(encode_tombstones(refs, np.full(len(refs), mint), np.full(len(refs), maxt)))
                self.head.delete(refs, mint, maxt)
            return n + len(refs)

    def clean_tombstones(self) -> None:
        """Rewrite blocks that have tombstones without the deleted data."""
        with self._compactor.mutex, self._lock:
            self._check_open()
            self._check_writable()
            self.blocks = compaction.clean_tombstones(self.path, self.blocks, retire=self._retire)

    # -- compaction and retention ------------------------------------------------------
    def _start_compactor(self) -> None:
        """Set up compaction (see :mod:`tsdb.compactor`); start its thread when ``auto_compact`` is on.

        The :class:`~tsdb.compactor.Compactor` always exists: its mutex also
        serialises :meth:`compact`, :meth:`flush` and :meth:`delete`. A
        read-only DB never compacts, so it gets no thread.
        """
        self._compactor = Compactor(self)
        if self.options.auto_compact and not self.read_only:
            self._compactor.start()

    def _head_compactable(self) -> bool:
        h = self.head
        return h.max_time > h.min_time and h.max_time - h.min_time > self.options.block_range_ms * 3 // 2

    def compact(self) -> None:
        """Persist full head windows as blocks, merge adjacent blocks, apply retention; returns when done.

        Synchronous, for library users (with ``auto_compact`` the background
        thread does the same after commits): waits for a background
        compaction in progress, then does what is left. Commits and queries
        go on meanwhile; the DB lock is only taken for brief steps.
        """
        self._check_open()
        self._check_writable()
        self._compactor.compact()

    def flush(self) -> None:
        """Persist everything in the head as blocks now (e.g. before a snapshot or a backup); returns when done."""
        self._check_open()
        self._check_writable()
        self._compactor.flush()

    def _ranges(self) -> list[int]:
        rng = self.options.block_range_ms
        cap = self.options.max_block_ms or min(31 * DAY_MS, max(rng, self.options.retention_ms // 10 or 31 * DAY_MS))
        ranges = [rng]
        while ranges[-1] * 3 <= cap:
            ranges.append(ranges[-1] * 3)
        return ranges

    def _truncate_wal(self) -> None:
        """Checkpoint the WAL up to the current segment; called by the compactor, without the DB lock.

        The segment cut and the keep-set (a copy of which refs are alive) are
        taken together under the lock: every series record in a segment up to
        ``last`` was written before the cut, so its series is in the copy
        unless it was garbage-collected. The checkpoint then runs without the
        lock: it reads sealed segments only, while commits append to the new one.
        """
        with self._lock:
            self._check_open()
            segs = self.wal.segments()
            if not segs:
                return
            last = self.wal.cut() - 1
            alive = self.head.slot_of >= 0  # a new array: later GC or new series do not change it
            mint = self.head.min_valid_t

        def keep_series(refs: NDArray[np.int64]) -> NDArray[np.bool_]:
            ok = refs < len(alive)
            out = np.zeros(len(refs), dtype=bool)
            out[ok] = alive[refs[ok]]
            return out

        checkpoint(self.wal, last, keep_series, mint)

    def _swap_blocks(self, removed: list[Block], added: list[Block]) -> None:
        """Replace ``removed`` by ``added`` in the block list (brief, under the lock); delete ``removed``.

        The directories are deleted after the lock is released. A removed
        block still read by a querier stays open until the querier is closed
        (see :meth:`_retire`); on Linux its unlinked files stay readable.
        """
        gone = {id(b) for b in removed}
        with self._lock:
            if self._closed:  # not reached while close() waits for the compaction mutex; kept for safety
                for b in added:
                    b.close()
                raise ClosedError(f"database {self.path} is closed")
            self.blocks = sorted(
                [b for b in self.blocks if id(b) not in gone] + list(added), key=lambda b: (b.meta.min_time, b.meta.ulid)
            )
            idle = []
            for b in removed:
                if self._readers.get(id(b)):
                    self._retired[id(b)] = b
                else:
                    idle.append(b)
        for b in removed:
            compaction.remove_block_dir(b)
        for b in idle:
            b.close()

    # -- block lifetimes ---------------------------------------------------------------
    def _acquire_blocks(self, blocks: list[Block]) -> None:
        for b in blocks:
            self._readers[id(b)] = self._readers.get(id(b), 0) + 1

    def _release_blocks(self, blocks: list[Block]) -> None:
        with self._lock:
            for b in blocks:
                n = self._readers.get(id(b), 0) - 1
                if n > 0:
                    self._readers[id(b)] = n
                    continue
                self._readers.pop(id(b), None)
                if self._retired.pop(id(b), None) is not None:
                    b.close()

    def _retire(self, block: Block) -> None:
        """Delete a block that compaction or retention replaced; close it once no querier reads it."""
        compaction.remove_block_dir(block)
        if self._readers.get(id(block)):
            self._retired[id(block)] = block
        else:
            block.close()

    # -- misc ----------------------------------------------------------------------
    def label_names(self) -> list[str]:
        with self.querier() as q:
            return q.label_names()

    def label_values(self, name: str) -> list[str]:
        with self.querier() as q:
            return q.label_values(name)

    def stats(self) -> dict:
        """Figures for ``/api/v1/status/tsdb`` and logs."""
        h = self.head
        return {
            "head_series": h.num_series(),
            "head_chunks": int(h.chunks.n),
            "head_min_time": int(h.min_time) if h.min_time != np.iinfo(np.int64).max else None,
            "head_max_time": int(h.max_time) if h.max_time > np.iinfo(np.int64).min else None,
            "head_memory_bytes": h.memory_bytes(),
            "blocks": len(self.blocks),
            # blocks that could not be read at open: skipped, reported, left on disk
            # (Prometheus: prometheus_tsdb_reloads_failures_total counts the reloads that hit one)
            "blocks_skipped": len(self.skipped_blocks),
            "reloads_failures": 1 if self.skipped_blocks else 0,
            "block_bytes": sum(b.size_bytes() for b in self.blocks),
            "wal_bytes": self.wal.size_bytes() if self.wal is not None else 0,
            "out_of_order_samples": h.totals.out_of_order,
            "duplicate_samples": h.totals.duplicate,
            "out_of_bounds_samples": h.totals.out_of_bounds,
            "too_old_samples": h.totals.too_old,
            "out_of_order_appended_samples": h.totals.out_of_order_appended,
            "out_of_order_head_samples": h.ooo.n,
            "wbl_bytes": self.wbl.size_bytes() if self.wbl is not None else 0,
        }

    def set_out_of_order_window(self, window_ms: int) -> None:
        """Change the out-of-order window (a config reload); a first window creates ``wbl/``."""
        if window_ms < 0:
            raise ValueError("out-of-order window must not be negative")
        with self._lock:
            self._check_open()
            if window_ms == self.options.out_of_order_time_window_ms:
                return
            self._check_writable()
            self.options = dataclasses.replace(self.options, out_of_order_time_window_ms=int(window_ms))
            if window_ms > 0 and self.wbl is None:
                self.wbl = self._open_wbl()
            log.info("out-of-order time window set to %d ms", window_ms)

    def _wbl_for_write(self) -> WAL:
        if self.wbl is None:  # a window was set: _open_wbl created it
            raise TSDBError(f"{self.path}: no write-behind log open")
        return self.wbl

    def _check_open(self) -> None:
        if self._closed:
            raise ClosedError(f"database {self.path} is closed")

    def _check_writable(self) -> None:
        if self.read_only:
            raise TSDBError(f"database {self.path} is open read-only")

    def close(self) -> None:
        """Stop compaction, flush and close the WAL, close blocks, release the directory lock. Idempotent.

        A block the compactor is writing is abandoned (its ``.tmp`` directory
        removed; its data is still in the WAL); a block swap or WAL checkpoint
        in progress finishes first, so the directory always reopens whole.
        """
        if self._closed:
            return
        compactor: Compactor | None = getattr(self, "_compactor", None)
        if compactor is not None:
            compactor.stop()  # cancels a running compaction and joins the thread, without our locks
        with compactor.mutex if compactor is not None else contextlib.nullcontext(), self._lock:
            if self._closed:
                return
            self._closed = True
            self._stop_sync.set()
            try:
                if self.wal is not None:
                    self.wal.close()
                if self.wbl is not None:
                    self.wbl.close()
            finally:
                for b in [*self.blocks, *self._retired.values()]:
                    b.close()
                self._retired.clear()
                self._release_dir_lock()

    def __enter__(self) -> DB:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<tsdb.DB {self.path} series={self.head.num_series()} blocks={len(self.blocks)}>"

