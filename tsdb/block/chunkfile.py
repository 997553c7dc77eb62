"""Chunk segment files: ``<block>/chunks/000001``, ``000002``, ...

Layout (docs/format/block.md#chunk-segments, Prometheus ``tsdb/docs/format/chunks.md``)::

    segment  = magic 0x85BD40DD <4b BE> | version 1 <1b> | padding <3b zero> | chunk*
    chunk    = len(data) <uvarint> | encoding <1b> | data <len bytes> | CRC32C(encoding|data) <4b BE>

A chunk is addressed by a 64-bit *ref* = ``segment_index << 32 | byte_offset``
where ``segment_index`` is 0 for file ``000001`` (the position in the sorted
list of segment files) and the offset points at the chunk's ``len`` field.

Strategy: the writer appends chunks with buffered I/O and cuts a new segment
when the next chunk would push the current one past ``segment_size``
(512 MiB, as Prometheus), so offsets always fit 32 bits. The reader mmaps
every segment once; :meth:`ChunkReader.chunk` returns a zero-copy
``memoryview`` into the mapping after a bounds check (O(1)); the CRC is
checked on request and by :meth:`ChunkReader.verify`, which scans every
segment front to back (O(total bytes)).

The codec knows nothing of files and this module nothing of bits: ``data`` is
opaque here apart from its first two bytes, the big-endian sample count that
every Prometheus chunk encoding starts with (used for ``numSamples``).
"""

from __future__ import annotations

import mmap
import os
import re
import struct
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ..errors import CorruptError
from ..fsutil import fsync_dir
from .encoding import Decbuf, crc32, put_uvarint

CHUNKS_DIRNAME = "chunks"
SEGMENT_MAGIC = 0x85BD40DD
SEGMENT_VERSION = 1
SEGMENT_HEADER = struct.pack(">IB3x", SEGMENT_MAGIC, SEGMENT_VERSION)
SEGMENT_HEADER_SIZE = len(SEGMENT_HEADER)  # 8
MAX_SEGMENT_SIZE = 512 * 1024 * 1024
# Prometheus's reader wants 5 bytes (max uvarint32) readable at a chunk start.
_MAX_LEN_FIELD = 5

ENCODING_XOR = 1
ENCODING_HISTOGRAM = 2
ENCODING_FLOAT_HISTOGRAM = 3

_SEGMENT_NAME = re.compile(r"^\d{6,}$")


@dataclass(frozen=True, slots=True)
class ChunkMeta:
    """One encoded chunk as handed to the block writer.

    ``mint``/``maxt`` are the timestamps of the first and last sample
    (inclusive); ``data`` is the chunk exactly as the codec produced it
    (for XOR: starting with the 2-byte sample count).
    """

    mint: int
    maxt: int
    encoding: int
    data: bytes


class ChunkRef(NamedTuple):
    """A chunk as the index describes it: time range (inclusive) and segment ref."""

    mint: int
    maxt: int
    ref: int


def make_ref(segment_index: int, offset: int) -> int:
    return (segment_index << 32) | offset


def split_ref(ref: int) -> tuple[int, int]:
    return ref >> 32, ref & 0xFFFFFFFF


def segment_filename(index: int) -> str:
    """File name of the segment with 0-based ``index`` (``000001`` for 0)."""
    return f"{index + 1:06d}"


def num_samples(data: bytes | memoryview) -> int:
    """Sample count from a chunk's 2-byte big-endian header (0 for a chunk too short to have one)."""
    if len(data) < 2:
        return 0
    return (data[0] << 8) | data[1]


class ChunkWriter:
    """Appends chunks to segment files in ``chunks_dir`` (created if missing).

    Not thread-safe; one writer per block. Call :meth:`close` to flush and fsync.
    """

    def __init__(self, chunks_dir: str, segment_size: int = MAX_SEGMENT_SIZE):
        if not SEGMENT_HEADER_SIZE < segment_size <= MAX_SEGMENT_SIZE:
            raise ValueError(f"segment_size must be in ({SEGMENT_HEADER_SIZE}, {MAX_SEGMENT_SIZE}]")
        os.makedirs(chunks_dir, exist_ok=True)
        self.dir = chunks_dir
        self.segment_size = segment_size
        self._f = None
        self._seq = -1
        self._n = 0  # bytes in the current segment
        self.total_bytes = 0
        self._hdr = bytearray()

    def _cut(self) -> None:
        self._finish_segment()
        self._seq += 1
        path = os.path.join(self.dir, segment_filename(self._seq))
        self._f = open(path, "wb", buffering=1 << 20)
        self._f.write(SEGMENT_HEADER)
        self._n = SEGMENT_HEADER_SIZE

    def _finish_segment(self) -> None:
        if self._f is not None:
            self._f.flush()
            os.fsync(self._f.fileno())
            self._f.close()
            self.total_bytes += self._n
            self._f = None

    def write(self, encoding: int, data: bytes | memoryview) -> int:
        """Append one chunk and return its ref."""
        if not 0 <= encoding <= 255:
            raise ValueError(f"chunk encoding must fit a byte, got {encoding}")
        hdr = self._hdr
        hdr.clear()
        put_uvarint(hdr, len(data))
        hdr.append(encoding)
        size = len(hdr) + len(data) + 4
        if size + SEGMENT_HEADER_SIZE > self.segment_size:
            raise ValueError(
                f"chunk of {len(data)} bytes does not fit a {self.segment_size}-byte segment"
            )
        if self._f is None or (
            self._n > SEGMENT_HEADER_SIZE and self._n + size > self.segment_size
        ):
            self._cut()
        ref = make_ref(self._seq, self._n)
        crc = crc32c_of(encoding, data)
        f = self._f
        f.write(hdr)
        f.write(data)
        f.write(crc.to_bytes(4, "big"))
        self._n += size
        return ref

    def close(self) -> None:
        """Flush and fsync the last segment and the directory."""
        self._finish_segment()
        fsync_dir(self.dir)

    def abort(self) -> None:
        """Close without syncing (the caller removes the directory)."""
        if self._f is not None:
            self._f.close()
            self._f = None


_ENCODING_CRC = [crc32(bytes((i,))) for i in range(256)]


def crc32c_of(encoding: int, data: bytes | memoryview) -> int:
    """The chunk checksum: CRC32C over the encoding byte followed by the data."""
    return crc32(data, _ENCODING_CRC[encoding])


def list_segments(chunks_dir: str) -> list[str]:
    """Segment file paths in ``chunks_dir`` sorted by number (index 0 first)."""
    try:
        names = os.listdir(chunks_dir)
    except FileNotFoundError:
        raise CorruptError("chunks directory is missing", chunks_dir) from None
    segs = sorted((n for n in names if _SEGMENT_NAME.match(n)), key=int)
    return [os.path.join(chunks_dir, n) for n in segs]


class ChunkReader:
    """Read-only access to a block's chunk segments through mmap."""

    def __init__(self, chunks_dir: str):
        self.dir = chunks_dir
        self.paths = list_segments(chunks_dir)
        self._maps: list[mmap.mmap | None] = []
        try:
            for p in self.paths:
                self._maps.append(_map_segment(p))
        except BaseException:
            self.close()
            raise

    @property
    def num_segments(self) -> int:
        return len(self.paths)

    def size_bytes(self) -> int:
        return sum(len(m) for m in self._maps if m is not None)

    def _segment(self, index: int, ref: int) -> mmap.mmap:
        if not 0 <= index < len(self._maps):
            raise CorruptError(
                f"chunk ref {ref:#x} names segment {index} but the block has {len(self._maps)}",
                self.dir,
            )
        m = self._maps[index]
        if m is None:
            raise RuntimeError("BUG: chunk reader used after close()")
        return m

    def chunk(self, ref: int, verify: bool = False) -> tuple[int, memoryview]:
        """``(encoding, data)`` of the chunk at ``ref``; ``data`` is a view into the mmap.

        Bounds are always checked; the CRC only with ``verify=True``. Raises
        :class:`CorruptError` naming the segment file and offset.
        """
        index, off = split_ref(ref)
        m = self._segment(index, ref)
        path = self.paths[index]
        if off < SEGMENT_HEADER_SIZE:
            raise CorruptError(f"chunk ref {ref:#x} points into the segment header", path, off)
        size = len(m)
        b0 = m[off] if off < size else 0x80
        if b0 < 0x80 and off + 1 < size:  # fast path: length < 128
            n, enc, start = b0, m[off + 1], off + 2
        else:
            d = Decbuf(m, off, size, path)
            n = d.uvarint("chunk length")
            enc = d.byte("chunk encoding")
            start = d.pos
        if start + n + 4 > size:
            raise CorruptError(
                f"chunk of {n} bytes at ref {ref:#x} runs past the end of the segment ({len(m)} bytes)",
                path,
                off,
            )
        data = memoryview(m)[start : start + n]
        if verify:
            want = int.from_bytes(m[start + n : start + n + 4], "big")
            if crc32c_of(enc, data) != want:
                data.release()
                raise CorruptError(f"chunk checksum mismatch at ref {ref:#x}", path, off)
        return enc, data

    def verify(self) -> np.ndarray:
        """Scan every segment, checking framing and every CRC.

        Returns the sorted refs of all chunks found (so callers can check that
        the index points only at chunk starts). Trailing zero bytes at the end
        of a segment (preallocation) are accepted.
        """
        refs: list[int] = []
        for index, m in enumerate(self._maps):
            if m is None:
                raise RuntimeError("BUG: chunk reader used after close()")
            path = self.paths[index]
            size = len(m)
            pos = SEGMENT_HEADER_SIZE
            while pos < size:
                if m[pos] == 0 and not any(m[pos:size]):
                    break  # zero padding up to the end
                d = Decbuf(m, pos, size, path)
                n = d.uvarint("chunk length")
                enc = d.byte("chunk encoding")
                start = d.pos
                if start + n + 4 > size:
                    raise CorruptError(f"truncated chunk: {n} bytes of data announced", path, pos)
                want = int.from_bytes(m[start + n : start + n + 4], "big")
                with memoryview(m)[start : start + n] as data:
                    got = crc32c_of(enc, data)
                if got != want:
                    raise CorruptError(
                        f"chunk checksum mismatch (stored {want:#010x}, computed {got:#010x})",
                        path,
                        pos,
                    )
                refs.append(make_ref(index, pos))
                pos = start + n + 4
        return np.asarray(refs, dtype=np.uint64)

    def close(self) -> None:
        """Unmap the segments. Views handed out by :meth:`chunk` keep their mapping alive
        until they are released (the mapping is then freed by the garbage collector)."""
        for i, m in enumerate(self._maps):
            if m is not None:
                try:
                    m.close()
                except BufferError:
                    pass  # exported views still alive; the GC unmaps when they go
                self._maps[i] = None


def _map_segment(path: str) -> mmap.mmap:
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size < SEGMENT_HEADER_SIZE:
            raise CorruptError(
                f"segment is {size} bytes, shorter than its {SEGMENT_HEADER_SIZE}-byte header",
                path,
                0,
            )
        m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    magic, version = struct.unpack_from(">IB", m, 0)
    if magic != SEGMENT_MAGIC:
        m.close()
        raise CorruptError(
            f"bad chunk segment magic {magic:#010x} (want {SEGMENT_MAGIC:#010x})", path, 0
        )
    if version != SEGMENT_VERSION:
        m.close()
        raise CorruptError(f"unsupported chunk segment version {version}", path, 4)
    return m
