"""Byte-level helpers for the block files: varints, big-endian ints, a bounded cursor.

Strategy: encoders append to a ``bytearray`` (no intermediate objects); the
decoder :class:`Decbuf` is a cursor over a read-only buffer (usually an mmap)
that never copies the tail and turns every out-of-bounds read into a
:class:`~tsdb.errors.CorruptError` naming the file and the absolute offset. Every
read is O(bytes read).

Varints are Go's ``encoding/binary`` varints (see docs/format/index.md#varints):
7 bits a byte, least significant group first, high bit = "more follows"; signed
values are zig-zag mapped first. Go's ``PutVarint64`` / ``PutUvarint64`` write
64-bit two's complement, so a negative delta written as *unsigned* (never done
by a valid writer) decodes here to a huge positive number, as it would in Go.

These run per series / per chunk / per symbol, never per sample.
"""

from __future__ import annotations

import struct

import crc32c

from ..errors import CorruptError

_U64 = (1 << 64) - 1
_BE32 = struct.Struct(">I")
_BE64 = struct.Struct(">Q")


def crc32(data: bytes | bytearray | memoryview, value: int = 0) -> int:
    """CRC-32 with the Castagnoli polynomial (CRC32C), as every Prometheus file uses.

    ``value`` is the CRC of preceding bytes, to checksum a message in pieces.
    """
    return crc32c.crc32c(data, value)


def put_uvarint(buf: bytearray, x: int) -> None:
    """Append ``x`` (0 <= x < 2**64) as a Go uvarint."""
    if x < 0 or x > _U64:
        raise RuntimeError(f"BUG: uvarint out of range: {x}")
    while x >= 0x80:
        buf.append((x & 0x7F) | 0x80)
        x >>= 7
    buf.append(x)


def put_varint(buf: bytearray, x: int) -> None:
    """Append the signed 64-bit ``x`` as a zig-zag Go varint."""
    if x < -(1 << 63) or x >= (1 << 63):
        raise RuntimeError(f"BUG: varint out of range: {x}")
    put_uvarint(buf, ((x << 1) ^ (x >> 63)) & _U64)


def uvarint_bytes(x: int) -> bytes:
    """``x`` as a standalone uvarint."""
    b = bytearray()
    put_uvarint(b, x)
    return bytes(b)


def put_uvarint_str(buf: bytearray, s: str) -> None:
    """Append ``len(utf8) <uvarint> | utf8 bytes`` (Go's ``PutUvarintStr``)."""
    raw = s.encode("utf-8")
    put_uvarint(buf, len(raw))
    buf += raw


def put_be32(buf: bytearray, x: int) -> None:
    buf += _BE32.pack(x)


def put_be64(buf: bytearray, x: int) -> None:
    buf += _BE64.pack(x)


def uvarint_list(buf: bytes) -> list[int] | None:
    """Every uvarint in ``buf``, in order; None if ``buf`` ends inside a varint
    or a value exceeds 64 bits. One tight loop, for records made only of varints."""
    out = []
    append = out.append
    x = shift = 0
    for b in buf:
        if b < 0x80:
            append(x | (b << shift))
            x = shift = 0
        else:
            x |= (b & 0x7F) << shift
            shift += 7
    if shift or (out and max(out) > _U64):
        return None
    return out


class Decbuf:
    """A bounds-checked read cursor over ``buf[pos:end]``.

    ``path`` is only used in error messages; offsets in errors are absolute
    positions in ``buf`` (which is the whole file when ``buf`` is the mmap).
    """

    __slots__ = ("buf", "pos", "end", "path")

    def __init__(self, buf, pos: int, end: int, path: str | None = None):
        if end > len(buf):
            raise CorruptError(
                f"section end {end} is past the end of the file ({len(buf)} bytes)", path, pos
            )
        self.buf = buf
        self.pos = pos
        self.end = end
        self.path = path

    def remaining(self) -> int:
        return self.end - self.pos

    def _need(self, n: int, what: str) -> None:
        if self.pos + n > self.end:
            raise CorruptError(
                f"truncated {what}: need {n} bytes, {self.end - self.pos} left", self.path, self.pos
            )

    def byte(self, what: str = "byte") -> int:
        self._need(1, what)
        b = self.buf[self.pos]
        self.pos += 1
        return b

    def be32(self, what: str = "uint32") -> int:
        self._need(4, what)
        (v,) = _BE32.unpack_from(self.buf, self.pos)
        self.pos += 4
        return v

    def be64(self, what: str = "uint64") -> int:
        self._need(8, what)
        (v,) = _BE64.unpack_from(self.buf, self.pos)
        self.pos += 8
        return v

    def uvarint(self, what: str = "uvarint") -> int:
        buf, pos, end = self.buf, self.pos, self.end
        start = pos
        x = 0
        shift = 0
        while True:
            if pos >= end:
                raise CorruptError(f"truncated {what}", self.path, start)
            b = buf[pos]
            pos += 1
            if b < 0x80:
                if shift == 63 and b > 1:
                    raise CorruptError(f"{what} overflows 64 bits", self.path, start)
                x |= b << shift
                break
            x |= (b & 0x7F) << shift
            shift += 7
            if shift > 63:
                raise CorruptError(f"{what} overflows 64 bits", self.path, start)
        self.pos = pos
        return x

    def varint(self, what: str = "varint") -> int:
        u = self.uvarint(what)
        x = u >> 1
        return ~x if u & 1 else x

    def bytes(self, n: int, what: str = "bytes") -> memoryview:
        self._need(n, what)
        mv = memoryview(self.buf)[self.pos : self.pos + n]
        self.pos += n
        return mv

    def uvarint_str(self, what: str = "string") -> str:
        start = self.pos
        n = self.uvarint(what + " length")
        self._need(n, what)
        raw = self.buf[self.pos : self.pos + n]
        self.pos += n
        try:
            return str(raw, "utf-8")
        except UnicodeDecodeError as e:
            raise CorruptError(
                f"{what} is not valid UTF-8 ({e.reason})", self.path, start
            ) from None
