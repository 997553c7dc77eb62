"""On-disk names, pages and record fragments of a WAL directory: what the bytes are, not when to write them.

This is Prometheus's WAL layout (``tsdb/wlog``; docs/format/wal.md#segment),
so Prometheus, ``promtool`` and promlite read each other's segments. A segment
is a sequence of 32 KiB pages. A record is written as one or more fragments,
each with a 7-byte header::

    ┌───────────┬──────────┬────────────┬──────────────────┐
    │ type <1b> │ len <2b> │ CRC32 <4b> │ data <len bytes> │   big-endian
    └───────────┴──────────┴────────────┴──────────────────┘

``type``: 1 full, 2 first, 3 middle, 4 last fragment; bit 3 set means the
record is snappy-compressed (block format, the whole record, before it is cut
into fragments). A fragment never crosses a page: a record that does not fit
in the rest of a page continues in the next. When fewer than 7 bytes are left
in a page they are zeros (type 0, "the rest of the page is padding"), and a
page that is closed early (a new segment, a clean shutdown) is zero-padded to
its end. ``CRC32`` is CRC32C (Castagnoli) of the fragment's data.

:func:`pack_records` is the writer (bytes to append at a given file offset);
:class:`SegmentReader` streams the complete records of one file and, instead of
raising, records where and why it stopped, and whether anything readable
follows that point (a torn tail is only ever followed by nothing), so the
caller decides between "cut the torn tail" and "refuse: corruption".
Cost: O(file bytes), one Python step per fragment (at most 32 KiB each).
"""

from __future__ import annotations

import os
import re
import struct
from collections.abc import Iterator, Sequence

import cramjam
import crc32c

from ..errors import CorruptError

__all__ = [
    "PAGE_SIZE",
    "HEADER_SIZE",
    "SegmentReader",
    "checkpoint_name",
    "compress_record",
    "latest_checkpoint",
    "list_segments",
    "pack_records",
    "packed_size",
    "read_segment",
    "segment_name",
    "truncate_file",
]

PAGE_SIZE = 32 * 1024
HEADER_SIZE = 7
_HDR = struct.Struct(">BHI")  # type, length, crc32c

REC_PAGE_TERM, REC_FULL, REC_FIRST, REC_MIDDLE, REC_LAST = 0, 1, 2, 3, 4
SNAPPY_FLAG = 1 << 3
ZSTD_FLAG = 1 << 4
_TYPE_MASK = 0x07

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


#: The most output a snappy block can hold per input byte: a 3-byte copy element writes 64 bytes.
_SNAPPY_MAX_RATIO = 22


def _snappy_length_error(block: bytes) -> str:
    """Why ``block``'s decoded-length header cannot be right ("" when it can).

    The snappy decoder allocates the length the header claims before it decodes anything (and
    cramjam aborts the process when that allocation fails), so a flipped bit there would ask for
    up to 4 GiB: a length that the block's bytes cannot produce is corruption, found first.
    """
    n = shift = 0
    for i, b in enumerate(block[:5]):
        n |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            if n > (len(block) - i - 1) * _SNAPPY_MAX_RATIO:
                return f"decoded length {n} is more than {len(block)} compressed bytes can hold"
            return ""
    return "bad decoded-length varint"


# ----------------------------------------------------------------- writing


def compress_record(rec: bytes) -> tuple[bytes, bool]:
    """Snappy-compress ``rec`` when that makes it smaller, as Prometheus does: ``(bytes, compressed)``."""
    if not rec:
        return rec, False
    c = bytes(cramjam.snappy.compress_raw(rec))
    return (c, True) if len(c) < len(rec) else (rec, False)


def packed_size(lengths: Sequence[int], offset: int) -> int:
    """Bytes that records of these (already compressed) lengths take when appended at ``offset``."""
    pos = offset % PAGE_SIZE
    total = 0
    for n in lengths:
        first = True
        while first or n > 0:
            first = False
            if PAGE_SIZE - pos < HEADER_SIZE:
                total += PAGE_SIZE - pos
                pos = 0
            k = min(n, PAGE_SIZE - pos - HEADER_SIZE)
            total += HEADER_SIZE + k
            pos += HEADER_SIZE + k
            n -= k
        if PAGE_SIZE - pos < HEADER_SIZE:
            total += PAGE_SIZE - pos
            pos = 0
    return total


def pack_records(records: Sequence[tuple[bytes, bool]], offset: int) -> bytes:
    """The bytes that append ``records`` (``(data, compressed)`` pairs) at file offset ``offset``.

    Follows Prometheus's writer fragment for fragment: a page with fewer than
    7 bytes left is zero-padded, a record that does not fit the page is split
    (a zero-length first fragment when exactly 7 bytes are left), and an empty
    record is one empty full fragment.
    """
    out = bytearray()
    pos = offset % PAGE_SIZE
    crc = crc32c.crc32c
    pack = _HDR.pack
    for rec, compressed in records:
        flag = SNAPPY_FLAG if compressed else 0
        view = memoryview(rec)
        n = len(rec)
        i = 0
        while i == 0 or n > 0:
            if PAGE_SIZE - pos < HEADER_SIZE:
                out += bytes(PAGE_SIZE - pos)
                pos = 0
            k = min(n, PAGE_SIZE - pos - HEADER_SIZE)
            part = view[:k]
            if i == 0:
                typ = REC_FULL if k == n else REC_FIRST
            else:
                typ = REC_LAST if k == n else REC_MIDDLE
            out += pack(typ | flag, k, crc(part))
            out += part
            pos += HEADER_SIZE + k
            view = view[k:]
            n -= k
            i += 1
        if PAGE_SIZE - pos < HEADER_SIZE:
            out += bytes(PAGE_SIZE - pos)
            pos = 0
    return bytes(out)


def page_padding(offset: int) -> int:
    """Zero bytes that close the page at ``offset`` (0 when it is on a page boundary)."""
    r = offset % PAGE_SIZE
    return 0 if r == 0 else PAGE_SIZE - r


# ----------------------------------------------------------------- reading


class SegmentReader:
    """Iterates ``(offset, record)`` of the complete records of one segment file.

    ``offset`` is where the record's first fragment starts. After iteration,
    ``bad_offset`` is None when the file ended cleanly (on a record boundary,
    or inside page padding), else the end of the last good record, and
    ``reason`` says what was found there. ``readable_after`` then tells
    whether a well-formed fragment (header and CRC) exists anywhere after the
    bad point: True means the damage is in the middle (corruption), False that
    nothing readable follows (a torn tail). ``limit`` caps how many bytes are
    read (for a segment still being written).
    """

    def __init__(self, path: str, limit: int | None = None):
        self.path = path
        self.limit = limit
        self.size = 0
        self.bad_offset: int | None = None
        self.reason = ""
        self.readable_after = False
        self.foreign = False
        self.unclean_end = False  # the file ends inside a page's zero padding (harmless)

    def __iter__(self) -> Iterator[tuple[int, bytes]]:
        with open(self.path, "rb") as f:
            data = f.read() if self.limit is None else f.read(self.limit)
        self.size = size = len(data)
        pos = 0
        rec_start = 0
        parts: list[bytes] = []
        compressed = False
        expect_more = False
        unpack = _HDR.unpack_from
        crc = crc32c.crc32c
        while pos < size:
            t = data[pos]
            if t == REC_PAGE_TERM:
                if expect_more:
                    return self._bad(rec_start, pos, "page padding inside a fragmented record", data)
                # padding runs to the end of the page (a whole page when it starts one)
                end = min(size, (pos // PAGE_SIZE + 1) * PAGE_SIZE)
                if data.count(0, pos, end) != end - pos:
                    return self._bad(pos, pos, "unexpected non-zero byte in padded page", data)
                if end == size and end % PAGE_SIZE:
                    self.unclean_end = True
                pos = end
                rec_start = pos
                continue
            if size - pos < HEADER_SIZE:
                return self._bad(rec_start, pos, f"incomplete fragment header ({size - pos} bytes at end of file)", data)
            typ, length, want = unpack(data, pos)
            kind = typ & _TYPE_MASK
            if typ & ~(_TYPE_MASK | SNAPPY_FLAG | ZSTD_FLAG) or kind > REC_LAST:
                return self._bad(rec_start, pos, f"invalid fragment type {typ:#04x}", data)
            if typ & ZSTD_FLAG:
                return self._bad(rec_start, pos, "zstd-compressed WAL records are not supported "
                                 "(Prometheus --storage.tsdb.wal-compression-type=zstd)", data)
            if length > PAGE_SIZE - HEADER_SIZE or (pos % PAGE_SIZE) + HEADER_SIZE + length > PAGE_SIZE:
                return self._bad(rec_start, pos, f"invalid fragment length {length}", data)
            if pos + HEADER_SIZE + length > size:
                return self._bad(rec_start, pos, f"fragment of {length} bytes runs past the end of the file", data)
            body = data[pos + HEADER_SIZE : pos + HEADER_SIZE + length]
            if crc(body) != want:
                return self._bad(rec_start, pos, f"unexpected checksum {crc(body):08x}, expected {want:08x}", data)
            if (kind in (REC_FULL, REC_FIRST)) == expect_more:
                what = "a new record starts inside a fragmented one" if expect_more else "a continuation fragment without a first"
                return self._bad(rec_start, pos, what, data)
            if not expect_more:
                rec_start = pos
                compressed = bool(typ & SNAPPY_FLAG)
                parts = []
            parts.append(body)
            pos += HEADER_SIZE + length
            if kind in (REC_FULL, REC_LAST):
                expect_more = False
                rec = parts[0] if len(parts) == 1 else b"".join(parts)
                if compressed and rec:
                    bad = _snappy_length_error(rec)
                    if bad:
                        return self._bad(rec_start, rec_start, f"snappy: {bad}", data)
                    try:
                        rec = bytes(cramjam.snappy.decompress_raw(rec))
                    except Exception as e:  # cramjam raises its own DecompressionError
                        return self._bad(rec_start, rec_start, f"snappy: {e}", data)
                yield rec_start, rec
                rec_start = pos
            else:
                expect_more = True
        if expect_more:
            self._bad(rec_start, size, "the file ends inside a fragmented record", data)

    def _bad(self, off: int, at: int, reason: str, data: bytes) -> None:
        self.bad_offset = off
        self.reason = reason
        self.readable_after = _anything_readable(data, at)
        # A torn write leaves a cut-off fragment or zeros, never bytes that are no fragment at all;
        # those mean a foreign or damaged file, which is not ours to cut.
        t = data[at] if at < len(data) else 0
        self.foreign = bool(t & ~(_TYPE_MASK | SNAPPY_FLAG)) or (t & _TYPE_MASK) > REC_LAST or _junk_after(data, at)
        if off == 0 and _is_promlite_v1(data):
            self.reason = (
                "this segment is in the WAL format of promlite 0.1 (msgpack frames), not Prometheus's; "
                "open the directory with promlite 0.1 and call DB.flush() to turn the WAL into blocks"
            )
            self.readable_after = True  # never treat a whole foreign file as a torn tail

    def tail_is_torn(self) -> bool:
        """Whether the damage found is a torn tail: nothing readable follows it."""
        return self.bad_offset is not None and not self.readable_after and not self.foreign


def _is_promlite_v1(data: bytes) -> bool:
    """promlite 0.1's frames: ``len <u32 LE> crc32c <u32 LE>`` then a type byte 1-3 and a msgpack array."""
    if len(data) < 10:
        return False
    length, want = struct.unpack_from("<II", data)
    body = data[8 : 8 + length]
    return 1 < length == len(body) and body[0] in (1, 2, 3) and body[1] in (0x92, 0x93) and crc32c.crc32c(body) == want


def _valid_fragment_at(data: bytes, pos: int) -> bool:
    if len(data) - pos < HEADER_SIZE:
        return False
    typ, length, want = _HDR.unpack_from(data, pos)
    if typ & ~(_TYPE_MASK | SNAPPY_FLAG) or not REC_FULL <= typ & _TYPE_MASK <= REC_LAST:
        return False
    if (pos % PAGE_SIZE) + HEADER_SIZE + length > PAGE_SIZE or pos + HEADER_SIZE + length > len(data):
        return False
    return crc32c.crc32c(data[pos + HEADER_SIZE : pos + HEADER_SIZE + length]) == want


def _junk_after(data: bytes, at: int) -> bool:
    """Whether non-zero bytes follow the bad fragment at ``at``, which a torn write never leaves.

    A torn write ends the file inside its last fragment, or leaves zeros after
    what reached the disk. The bad fragment's length is only trusted when it
    fits its page; a cut-off header or a padding byte covers nothing after it.
    """
    if len(data) - at < HEADER_SIZE:
        return False
    end = at
    if data[at]:
        _typ, length, _crc = _HDR.unpack_from(data, at)
        end = at + HEADER_SIZE + (length if (at % PAGE_SIZE) + HEADER_SIZE + length <= PAGE_SIZE else 0)
    end = min(end, len(data))
    return data.count(0, end) != len(data) - end


_FRAGMENT_TYPES = frozenset(k | f for k in range(REC_FULL, REC_LAST + 1) for f in (0, SNAPPY_FLAG))


def _anything_readable(data: bytes, at: int) -> bool:
    """Whether a well-formed fragment follows the bad point ``at``.

    Checks the fragment right after a bad one whose length field looks sane
    (a flipped bit in one fragment leaves its neighbours intact), then every
    position in the rest of its page for a non-empty fragment (the bad length
    field itself may be the flipped bit), then the start of every later page
    (a record always starts a page's first fragment or continues there). A
    torn write leaves none of these.
    """
    if len(data) - at >= HEADER_SIZE:
        _typ, length, _crc = _HDR.unpack_from(data, at)
        nxt = at + HEADER_SIZE + length
        if (at % PAGE_SIZE) + HEADER_SIZE + length <= PAGE_SIZE and _valid_fragment_at(data, nxt):
            return True
    page_end = min(len(data), (at // PAGE_SIZE + 1) * PAGE_SIZE)
    for p in range(at + 1, page_end - HEADER_SIZE):
        if data[p] in _FRAGMENT_TYPES and (data[p + 1] or data[p + 2]) and _valid_fragment_at(data, p):
            return True
    page = (at // PAGE_SIZE + 1) * PAGE_SIZE
    while page < len(data):
        if _valid_fragment_at(data, page):
            return True
        page += PAGE_SIZE
    return False


def read_segment(path: str) -> Iterator[tuple[int, bytes]]:
    """``(offset, record)`` of every record of a sealed segment; damage is CorruptError."""
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
