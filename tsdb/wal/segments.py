"""WAL segment files in Prometheus's format: appending with an fsync policy, replay, torn tails.

See docs/format/wal.md for the layout. This module knows files and frames; it
treats record payloads as opaque bytes (records.py knows what is inside).

Strategy
--------
A WAL directory holds numbered segment files (``%08d``) and at most one live
checkpoint directory (``checkpoint.%08d``, written by checkpoint.py), exactly
as Prometheus lays them out. frames.py says what the bytes are (32 KiB pages,
fragments with CRC32C, optional snappy); this module decides when they are
written, synced, read back and, on request only, repaired.

Invariants
----------
* One ``log()`` call = one commit = one ``pwrite`` at the end of the current
  segment, so a crash leaves at most one partial commit, always at the tail.
  A commit is never split across segments (Prometheus never splits a record);
  a new segment is started when the commit would push a non-empty segment past
  ``segment_size``, after zero-padding the old segment's last page.
* When the write (or its fdatasync) fails, the segment is truncated back to
  where the commit started; ENOSPC/EFBIG/EDQUOT become :class:`StorageFullError`.
* Nothing unreadable is destroyed. A bad record in the *last* segment with
  nothing readable after it is a torn write: the file is cut at the last good
  record and a warning names the file, offset and bytes dropped (read-only
  mode only warns). Anything else -- a bad record with good ones after it, a
  bad middle segment, a gap in the numbering -- raises :class:`CorruptError`
  naming the file and offset and changes nothing, unless ``repair=True`` (the
  ``promlite tsdb repair`` command), which first copies every file it will
  change into ``<wal>.repair-<time>/`` and then cuts as Prometheus's repair does.
* Writes never go after an unchecked tail: before the first write after
  ``open()``, the last segment is scanned (``replay`` does this as a side effect).

Thread-safety: ``log``, ``sync``, ``cut``, ``truncate_before`` and ``close``
serialize on one lock. ``replay`` is meant for start-up; when it runs while a
writer is open it reads the segment being written only up to the last
acknowledged byte and never truncates it.

Cost: replay is O(bytes) (see frames.py); no record is held after it is yielded.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import threading
import time
from collections.abc import Iterator
from typing import Literal

from ..errors import ClosedError, CorruptError, StorageFullError
from ..fsutil import fsync_dir
from .frames import (
    PAGE_SIZE,
    SegmentReader,
    compress_record,
    latest_checkpoint,
    list_segments,
    pack_records,
    packed_size,
    page_padding,
    segment_name,
    truncate_file,
)

__all__ = ["WAL", "DEFAULT_SEGMENT_SIZE", "SyncMode"]

log = logging.getLogger("tsdb.wal")

DEFAULT_SEGMENT_SIZE = 128 * 2**20

SyncMode = Literal["always", "batch", "never"]
_SYNC_MODES = ("always", "batch", "never")
_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EFBIG, errno.EDQUOT})
_fdatasync = getattr(os, "fdatasync", os.fsync)


# ----------------------------------------------------------------- the WAL


class WAL:
    """An append-only log of opaque records in numbered segment files.

    Create with :meth:`WAL.open`. Records of one :meth:`log` call are one
    commit; :meth:`replay` yields them back in order after a restart.
    """

    def __init__(
        self, dir: str, segment_size: int, sync: SyncMode, sync_interval_ms: float,
        compress: bool = True, read_only: bool = False,
    ):
        self._dir = dir
        self._segment_size = segment_size
        self._sync = sync
        self._compress = compress
        self._read_only = read_only
        self._pad_first = False  # the last segment ends inside a page's padding: close that page first
        self._sync_interval = sync_interval_ms / 1000.0
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._seg: int | None = None  # index of the segment _fd writes
        self._offset = 0  # end of the last acknowledged frame in _seg
        self._tail_checked = False  # last segment scanned since open()
        self._dirty = False  # bytes written but not fdatasync'ed
        self._last_sync = time.monotonic()
        self._closed = False

    # -- lifecycle ---------------------------------------------------------

    @classmethod
    def open(
        cls,
        dir: str,
        *,
        segment_size: int = DEFAULT_SEGMENT_SIZE,
        sync: SyncMode = "always",
        sync_interval_ms: float = 100.0,
        compress: bool = True,
        read_only: bool = False,
    ) -> WAL:
        """Open (creating if missing) the WAL in ``dir``.

        ``sync``: "always" fdatasyncs every commit before ``log`` returns;
        "batch" fdatasyncs from :meth:`sync` calls at most every
        ``sync_interval_ms``, and on segment change and close; "never" leaves
        flushing to the OS (close still fsyncs). Nothing is written until the
        first ``log``/``cut``; leftovers of an interrupted checkpoint
        (``checkpoint.N.tmp``) are removed.

        ``compress`` snappy-compresses records that shrink (Prometheus's
        ``--storage.tsdb.wal-compression``, on by default); either kind is read.
        ``read_only`` changes nothing on disk: no directory is created, no torn
        tail is cut (replay stops there and says so), and writing raises.
        ``segment_size`` must be a multiple of the 32 KiB page, as Prometheus requires.
        """
        if sync not in _SYNC_MODES:
            raise ValueError(f"sync must be one of {_SYNC_MODES}, got {sync!r}")
        if segment_size < PAGE_SIZE or segment_size % PAGE_SIZE:
            raise ValueError(f"segment_size must be a positive multiple of {PAGE_SIZE} (the page size), got {segment_size}")
        if read_only:
            if not os.path.isdir(dir):
                raise FileNotFoundError(errno.ENOENT, "no WAL directory", dir)
        else:
            os.makedirs(dir, exist_ok=True)
            for n in os.listdir(dir):
                if n.startswith("checkpoint.") and n.endswith(".tmp"):
                    shutil.rmtree(os.path.join(dir, n), ignore_errors=True)
        return cls(dir, segment_size, sync, sync_interval_ms, compress, read_only)

    def close(self) -> None:
        """Fsync and close the current segment. Idempotent; later use raises ClosedError."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._fd is not None:
                fd, self._fd = self._fd, None
                try:
                    try:
                        self._close_page(fd)
                    except OSError as e:  # it stays the last segment: the next writer continues it
                        log.warning("WAL segment %s: cannot pad the last page: %s", segment_name(self._seg or 0), e)
                    if self._dirty:
                        _fdatasync(fd)
                        self._dirty = False
                finally:
                    os.close(fd)

    def __enter__(self) -> WAL:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- properties --------------------------------------------------------

    @property
    def dir(self) -> str:
        return self._dir

    @property
    def segment_size(self) -> int:
        return self._segment_size

    @property
    def compress(self) -> bool:
        return self._compress

    @property
    def read_only(self) -> bool:
        return self._read_only

    @property
    def current_segment(self) -> int | None:
        """Index of the segment the next ``log`` appends to (None if there is none yet)."""
        with self._lock:
            self._check_open()
            if self._seg is not None:
                return self._seg
            segs = list_segments(self._dir)
            return segs[-1] if segs else None

    def segments(self) -> list[int]:
        """Indices of the segment files, ascending (checkpoint segments excluded)."""
        self._check_open()
        return list_segments(self._dir)

    def size_bytes(self) -> int:
        """Bytes on disk under the WAL directory, checkpoint included."""
        self._check_open()
        total = 0
        for root, _dirs, files in os.walk(self._dir):
            for f in files:
                try:
                    total += os.stat(os.path.join(root, f)).st_size
                except FileNotFoundError:  # deleted by a concurrent truncation
                    pass
        return total

    # -- writing -----------------------------------------------------------

    def log(self, *records: bytes) -> None:
        """Append the records of one commit; durable on return when sync="always".

        Raises :class:`StorageFullError` (the commit is not in the log) when
        the disk or a file-size limit is full.
        """
        if not records:
            return
        recs = [compress_record(r) for r in records] if self._compress else [(r, False) for r in records]
        lengths = [len(r) for r, _ in recs]
        with self._lock:
            self._check_open()
            self._ensure_writer()
            start = self._offset + (page_padding(self._offset) if self._pad_first else 0)
            if self._offset > 0 and start + packed_size(lengths, start) > self._segment_size:
                self._next_segment()
                start = 0
            pad = start - self._offset
            data = pack_records(recs, start)
            self._append(bytes(pad) + data if pad else data)
            self._pad_first = False

    def sync(self, force: bool = False) -> None:
        """Flush logged records to disk per the sync policy ("batch": at most every interval).

        "batch" only syncs when called (and on segment change and close): a
        caller that wants a bound on what a power loss can take must call this
        after commits and from a timer. ``force=True`` fdatasyncs now whatever
        the policy; "always" never has anything pending.
        """
        with self._lock:
            self._check_open()
            if self._fd is None or not self._dirty:
                return
            now = time.monotonic()
            if force or (self._sync == "batch" and now - self._last_sync >= self._sync_interval):
                self._datasync(self._fd)

    def cut(self) -> int:
        """Start a new segment now; returns its index. Earlier records are all in lower segments."""
        with self._lock:
            self._check_open()
            self._check_writable()
            self._ensure_writer()
            self._next_segment()
            assert self._seg is not None
            return self._seg

    def truncate_before(self, n: int) -> None:
        """Delete segments with index < ``n`` (their data must be in a checkpoint or a block).

        The segment being written (the last one) is never deleted: ``n`` larger
        than its index is a ValueError.
        """
        with self._lock:
            self._check_open()
            self._check_writable()
            segs = list_segments(self._dir)
            current = self._seg if self._seg is not None else (segs[-1] if segs else None)
            if current is not None and n > current:
                raise ValueError(f"truncate_before({n}) would delete the current segment {current}")
            removed = False
            for s in segs:
                if s < n:
                    os.remove(os.path.join(self._dir, segment_name(s)))
                    removed = True
            if removed:
                fsync_dir(self._dir)

    # -- reading -----------------------------------------------------------

    def replay(
        self, from_segment: int | None = None, *, repair: bool = False
    ) -> Iterator[tuple[int, bytes]]:
        """Yield ``(segment index, payload)`` of every record, oldest first.

        With ``from_segment=None`` the newest checkpoint comes first (its
        records carry the checkpoint's index N: they stand for segments <= N),
        then the segments after it. With ``from_segment=k`` only segments >= k
        are read and the checkpoint is skipped.

        A torn/corrupt tail of the last segment is truncated and logged.
        Corruption elsewhere raises :class:`CorruptError` (path, offset)
        unless ``repair`` is true; see the module docstring. ``repair`` on a
        read-only WAL raises PermissionError (a repair changes files).
        """
        self._check_open()
        if repair:
            self._check_writable()
        return self._replay(from_segment, repair)

    def _replay(self, from_segment: int | None, repair: bool) -> Iterator[tuple[int, bytes]]:
        ckpt = latest_checkpoint(self._dir)
        if from_segment is None and ckpt is not None:
            yield from self._replay_checkpoint(ckpt, repair)
        segs = list_segments(self._dir)
        if from_segment is not None:
            todo = [s for s in segs if s >= from_segment]
        elif ckpt is not None:
            todo = [s for s in segs if s > ckpt[0]]
        else:
            todo = segs
        if from_segment is None and ckpt is not None and todo:
            # checkpoint N stands for segments <= N; N + 1 was started before it was written (and
            # only a later checkpoint deletes it), so a first segment past N + 1 means files were lost
            todo = self._check_contiguous(segs, [ckpt[0], *todo], repair)[1:]
        else:
            todo = self._check_contiguous(segs, todo, repair)
        for s in todo:
            path = os.path.join(self._dir, segment_name(s))
            with self._lock:
                live_limit = self._offset if (self._fd is not None and s == self._seg) else None
            reader = SegmentReader(path, live_limit)
            for _off, payload in reader:
                yield s, payload
            is_last = s == segs[-1]
            if reader.bad_offset is None:
                if is_last:
                    self._tail_checked = True
                    self._pad_first = reader.unclean_end
                elif reader.size % PAGE_SIZE:
                    self._short_segment(path, reader, repair)
                continue
            if is_last and live_limit is None and (reader.tail_is_torn() or repair):
                if self._read_only:
                    log.warning(
                        "WAL segment %s: %s at offset %d; torn tail of %d bytes not replayed "
                        "(read-only: left as it is)",
                        path, reader.reason, reader.bad_offset, reader.size - reader.bad_offset,
                    )
                    return
                if repair and not reader.tail_is_torn():
                    self._repair_at(segs, s, path, reader)
                    return
                self._drop_tail(path, reader)
                self._tail_checked = True
                return
            if live_limit is not None or not repair:
                raise CorruptError(_corrupt_advice(reader), path=path, offset=reader.bad_offset)
            self._repair_at(segs, s, path, reader)
            return

    def _replay_checkpoint(self, ckpt: tuple[int, str], repair: bool) -> Iterator[tuple[int, bytes]]:
        index, cdir = ckpt
        for s in list_segments(cdir):
            path = os.path.join(cdir, segment_name(s))
            reader = SegmentReader(path)
            for _off, payload in reader:
                yield index, payload
            if reader.bad_offset is not None:
                if not repair:
                    raise CorruptError(_corrupt_advice(reader), path=path, offset=reader.bad_offset)
                # Checkpoints are immutable: skip their damaged rest, do not edit them.
                log.warning(
                    "WAL checkpoint %s: %s at offset %d; repair: ignoring the rest of the checkpoint "
                    "(%d bytes of this file)",
                    path, reader.reason, reader.bad_offset, reader.size - reader.bad_offset,
                )
                return

    def _check_contiguous(self, segs: list[int], todo: list[int], repair: bool) -> list[int]:
        for k in range(1, len(todo)):
            if todo[k] != todo[k - 1] + 1:
                missing = os.path.join(self._dir, segment_name(todo[k - 1] + 1))
                if not repair:
                    raise CorruptError(
                        "missing WAL segment (segments are not contiguous); nothing was changed. "
                        "Restore the file, or run `promlite tsdb repair DIR` to set the later segments aside",
                        path=missing,
                    )
                dropped = todo[k:]
                backup = self._set_aside([os.path.join(self._dir, segment_name(s)) for s in dropped])
                self._delete_segments(dropped)
                log.warning(
                    "WAL %s: segment %s is missing; repair: moved later segments %s to %s",
                    self._dir, segment_name(todo[k - 1] + 1), [segment_name(s) for s in dropped], backup,
                )
                del segs[segs.index(todo[k]):]
                return todo[:k]
        return todo

    def _short_segment(self, path: str, reader: SegmentReader, repair: bool) -> None:
        """A segment that is not the last one ends inside a page: report it (repair: pad it).

        Every writer closes a segment by zero-padding its last page before it
        starts the next one (promlite in :meth:`_next_segment`, Prometheus in
        ``nextSegment``), so a complete non-last segment is a whole number of
        32 KiB pages. One that is not either lost its end (truncated at a record
        boundary, so no torn record shows), or was left by a process that
        crashed while writing it, after which a later one started a new segment:
        Prometheus does that on every start (promlite continues the last
        segment), and its own reader accepts such segments. The bytes cannot
        tell the two apart. Refusing would make every Prometheus directory that
        once saw a crash unreadable, so replay goes on and a warning names the
        file and the offset where it ends: a loss is never silent. ``repair``
        copies the segment aside and pads its last page, which ends the warnings.
        """
        pad = page_padding(reader.size)
        if not repair:
            log.warning(
                "WAL segment %s ends at offset %d inside a %d KiB page but is not the last segment: its end was "
                "cut off (records after that offset are lost), or a process crashed while writing it and a later "
                "one started a new segment (Prometheus does so on every start); every record it holds was read. "
                "`promlite tsdb repair DIR` copies it aside and pads it, which ends this warning",
                path, reader.size, PAGE_SIZE // 1024,
            )
            return
        backup = self._set_aside([path])
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.ftruncate(fd, reader.size + pad)  # zeros: the page padding the writer did not write
            _fdatasync(fd)
        finally:
            os.close(fd)
        log.warning(
            "WAL segment %s: ends at offset %d inside a page but is not the last segment (cut short, or "
            "written by a process that crashed); repair: padded its last page with %d zero bytes, kept every "
            "record; a copy of the file is in %s",
            path, reader.size, pad, backup,
        )

    def _drop_tail(self, path: str, reader: SegmentReader) -> None:
        assert reader.bad_offset is not None
        dropped = reader.size - reader.bad_offset
        truncate_file(path, reader.bad_offset)
        log.warning(
            "WAL segment %s: %s at offset %d; truncated torn tail, dropped %d bytes",
            path, reader.reason, reader.bad_offset, dropped,
        )

    def _repair_at(self, segs: list[int], s: int, path: str, reader: SegmentReader) -> None:
        assert reader.bad_offset is not None
        later = [x for x in segs if x > s]
        later_bytes = sum(os.path.getsize(os.path.join(self._dir, segment_name(x))) for x in later)
        backup = self._set_aside([path] + [os.path.join(self._dir, segment_name(x)) for x in later])
        truncate_file(path, reader.bad_offset)
        self._delete_segments(later)
        self._tail_checked = True
        log.warning(
            "WAL segment %s: %s at offset %d; repair: truncated %d bytes and deleted %d later "
            "segment(s) %s (%d bytes); copies of every changed file are in %s",
            path, reader.reason, reader.bad_offset, reader.size - reader.bad_offset,
            len(later), [segment_name(x) for x in later], later_bytes, backup,
        )

    def _set_aside(self, paths: list[str]) -> str:
        """Copy files a repair is about to change into ``<wal>.repair-<time>/``; returns that directory."""
        backup = f"{self._dir.rstrip(os.sep)}.repair-{time.strftime('%Y%m%dT%H%M%S')}"
        os.makedirs(backup, exist_ok=True)
        for p in paths:
            shutil.copy2(p, os.path.join(backup, os.path.basename(p)))
        fsync_dir(backup)
        return backup

    def _delete_segments(self, indices: list[int]) -> None:
        with self._lock:
            if self._fd is not None and self._seg in indices:
                os.close(self._fd)  # its data is being dropped; reopen the new last segment later
                self._fd, self._seg, self._offset, self._dirty = None, None, 0, False
            for x in indices:
                os.remove(os.path.join(self._dir, segment_name(x)))
            fsync_dir(self._dir)

    # -- internals (called with the lock held) -----------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise ClosedError(f"WAL {self._dir} is closed")

    def _check_writable(self) -> None:
        if self._read_only:
            raise PermissionError(errno.EROFS, "WAL opened read-only", self._dir)

    def _close_page(self, fd: int) -> None:
        """Zero-pad the last page, as Prometheus does when it closes a segment."""
        pad = page_padding(self._offset)
        if pad and self._offset:
            try:
                os.pwrite(fd, bytes(pad), self._offset)
            except OSError as e:
                # a full disk: extending the file (a hole reads as zeros) needs no free block
                try:
                    os.ftruncate(fd, self._offset + pad)
                except OSError:
                    # the records are complete without it, but a segment that is not the last must end
                    # on a page boundary (replay takes a short one for one cut short): no next segment
                    path = os.path.join(self._dir, segment_name(self._seg or 0))
                    self._raise_full(e, path, "cannot pad the last page of the segment")
                    raise
            self._offset += pad
            self._dirty = True

    def _ensure_writer(self) -> None:
        """Open the last segment for appending (after checking its tail), or create the first."""
        if self._fd is not None:
            return
        self._check_writable()
        segs = list_segments(self._dir)
        if not segs:
            ckpt = latest_checkpoint(self._dir)
            self._create_segment(ckpt[0] + 1 if ckpt is not None else 0)
            self._tail_checked = True
            return
        last = segs[-1]
        path = os.path.join(self._dir, segment_name(last))
        if not self._tail_checked:
            reader = SegmentReader(path)
            for _ in reader:
                pass
            if reader.bad_offset is not None:
                if not reader.tail_is_torn():
                    raise CorruptError(_corrupt_advice(reader), path=path, offset=reader.bad_offset)
                self._drop_tail(path, reader)
            else:
                self._pad_first = reader.unclean_end
            self._tail_checked = True
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        except OSError as e:
            self._raise_full(e, path, "cannot open segment")
            raise
        self._fd, self._seg, self._offset = fd, last, os.fstat(fd).st_size

    def _create_segment(self, index: int) -> None:
        path = os.path.join(self._dir, segment_name(index))
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
            if self._sync != "never":
                fsync_dir(self._dir)
        except OSError as e:
            self._raise_full(e, path, "cannot create segment")
            raise
        self._fd, self._seg, self._offset, self._dirty = fd, index, 0, False

    def _next_segment(self) -> None:
        assert self._fd is not None and self._seg is not None
        fd = self._fd
        self._close_page(fd)
        if self._dirty and self._sync != "never":
            self._datasync(fd)
        self._fd = None
        os.close(fd)
        self._create_segment(self._seg + 1)

    def _append(self, data: bytes) -> None:
        """Write ``data`` at the end of the segment, or leave the segment as it was and raise."""
        assert self._fd is not None
        fd, start = self._fd, self._offset
        view = memoryview(data)
        done = 0
        try:
            while done < len(data):
                n = os.pwrite(fd, view[done:], start + done)
                if n <= 0:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                done += n
            if self._sync == "always":
                _fdatasync(fd)
        except OSError as e:
            path = os.path.join(self._dir, segment_name(self._seg or 0))
            try:
                os.ftruncate(fd, start)
            except OSError as te:
                log.error("WAL segment %s: cannot truncate failed commit back to %d: %s", path, start, te)
            self._raise_full(e, path, f"commit of {len(data)} bytes at offset {start} not logged")
            raise
        self._offset = start + len(data)
        if self._sync == "always":
            self._last_sync = time.monotonic()
        else:
            self._dirty = True

    def _datasync(self, fd: int) -> None:
        _fdatasync(fd)
        self._dirty = False
        self._last_sync = time.monotonic()

    @staticmethod
    def _raise_full(e: OSError, path: str, what: str) -> None:
        """Re-raise a disk-full ``e`` as StorageFullError naming ``path``; other errors pass."""
        if e.errno in _FULL_ERRNOS:
            raise StorageFullError(e.errno, f"storage full: {what} ({e.strerror})", path) from e


def _corrupt_advice(reader: SegmentReader) -> str:
    """What was found, and that nothing was changed (only the repair command cuts data)."""
    return (
        f"{reader.reason}; valid records follow, so this is not a torn tail and nothing was changed. "
        "Run `promlite tsdb repair DIR` to cut the WAL here (it copies what it drops aside first)"
        if reader.readable_after
        else f"{reader.reason}; nothing was changed. Run `promlite tsdb repair DIR` to cut the WAL here "
        "(it copies what it drops aside first)"
    )
