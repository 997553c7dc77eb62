"""On-disk names and frames of a WAL directory: what the bytes are, not when to write them.

See docs/format/wal.md#segment. A segment has no header; it is a sequence of
frames::

    ┌──────────────┬──────────────────┬───────────────────┐
    │ len <uint32> │ crc32c <uint32>  │ payload <len B>   │  little-endian
    └──────────────┴──────────────────┴───────────────────┘

``crc32c`` (Castagnoli) covers the payload. ``len == 0`` is never written, so
a zero-filled tail (what some filesystems leave after a crash) reads as a bad
frame instead of as empty records.

:class:`SegmentReader` streams the good frames of one file and, instead of
raising, records where and why it stopped, so the caller decides whether a bad
frame is a torn tail (truncate) or corruption (raise). Cost: O(file bytes),
one buffered read per header and per payload; no frame is kept after it is
yielded.
"""

from __future__ import annotations

import os
import re
import struct
from collections.abc import Iterator

import crc32c

from ..errors import CorruptError

__all__ = [
    "FRAME_HEADER",
    "FRAME_HEADER_SIZE",
    "MAX_RECORD_SIZE",
    "SegmentReader",
    "checkpoint_name",
    "frame",
    "latest_checkpoint",
    "list_segments",
    "read_segment",
    "segment_name",
    "truncate_file",
]

FRAME_HEADER = struct.Struct("<II")  # payload length, crc32c(payload)
FRAME_HEADER_SIZE = FRAME_HEADER.size
MAX_RECORD_SIZE = 2**32 - 1

_READ_BUFFER = 1 << 20
_SEGMENT_RE = re.compile(r"^\d{8,}$")
_CHECKPOINT_RE = re.compile(r"^checkpoint\.(\d{8,})$")


# ----------------------------------------------------------------- names


def segment_name(index: int) -> str:
    """File name of segment ``index`` (``00000042``)."""
    return f"{index:08d}"


def checkpoint_name(index: int) -> str:
    """Directory name of the checkpoint covering segments ``<= index``."""
    return f"checkpoint.{index:08d}"


def list_segments(dir: str) -> list[int]:
    """Indices of the segment files in ``dir``, ascending."""
    try:
        names = os.listdir(dir)
    except FileNotFoundError:
        return []
    return sorted(int(n) for n in names if _SEGMENT_RE.match(n))


def latest_checkpoint(dir: str) -> tuple[int, str] | None:
    """``(index, path)`` of the newest finished checkpoint in ``dir`` (``.tmp`` excluded)."""
    best: tuple[int, str] | None = None
    for n in os.listdir(dir):
        m = _CHECKPOINT_RE.match(n)
        if m and os.path.isdir(os.path.join(dir, n)):
            i = int(m.group(1))
            if best is None or i > best[0]:
                best = (i, os.path.join(dir, n))
    return best


# ----------------------------------------------------------------- frames


def frame(records: tuple[bytes, ...] | list[bytes]) -> bytes:
    """The framed bytes of ``records``, ready to be appended as one write."""
    parts: list[bytes] = []
    for rec in records:
        n = len(rec)
        if n == 0:
            raise ValueError("empty WAL record (length 0 is reserved for detecting zeroed tails)")
        if n > MAX_RECORD_SIZE:
            raise ValueError(f"WAL record of {n} bytes exceeds {MAX_RECORD_SIZE}")
        parts.append(FRAME_HEADER.pack(n, crc32c.crc32c(rec)))
        parts.append(rec)
    return b"".join(parts)


class SegmentReader:
    """Iterates the good frames of one segment file; remembers where it stopped.

    After iteration, ``bad_offset`` is None when the file ended on a frame
    boundary, else the offset of the first bad frame and ``reason`` says why.
    ``limit`` caps how many bytes are read (for a segment still being written).
    """

    def __init__(self, path: str, limit: int | None = None):
        self.path = path
        self.limit = limit
        self.size = 0
        self.bad_offset: int | None = None
        self.reason = ""

    def __iter__(self) -> Iterator[tuple[int, bytes]]:
        with open(self.path, "rb", buffering=_READ_BUFFER) as f:
            size = os.fstat(f.fileno()).st_size
            if self.limit is not None:
                size = min(size, self.limit)
            self.size = size
            off = 0
            while off < size:
                left = size - off
                if left < FRAME_HEADER_SIZE:
                    self._bad(off, f"incomplete frame header ({left} bytes)")
                    return
                hdr = f.read(FRAME_HEADER_SIZE)
                if len(hdr) < FRAME_HEADER_SIZE:
                    self._bad(off, "short read of frame header")
                    return
                length, crc = FRAME_HEADER.unpack(hdr)
                if length == 0:
                    self._bad(off, "zero record length")
                    return
                if length > left - FRAME_HEADER_SIZE:
                    self._bad(off, f"record length {length} runs past end of file "
                                   f"({left - FRAME_HEADER_SIZE} bytes left)")
                    return
                payload = f.read(length)
                if len(payload) < length:
                    self._bad(off, "short read of record")
                    return
                if crc32c.crc32c(payload) != crc:
                    self._bad(off, f"CRC32C mismatch in record of {length} bytes")
                    return
                yield off, payload
                off += FRAME_HEADER_SIZE + length

    def _bad(self, off: int, reason: str) -> None:
        self.bad_offset = off
        self.reason = reason


def read_segment(path: str) -> Iterator[tuple[int, bytes]]:
    """``(offset, payload)`` of every frame of a sealed segment; a bad frame is CorruptError."""
    reader = SegmentReader(path)
    yield from reader
    if reader.bad_offset is not None:
        raise CorruptError(reader.reason, path=path, offset=reader.bad_offset)


def truncate_file(path: str, size: int) -> None:
    """Cut ``path`` to ``size`` bytes and make that durable."""
    fd = os.open(path, os.O_WRONLY)
    try:
        os.ftruncate(fd, size)
        os.fsync(fd)
    finally:
        os.close(fd)
