"""numba kernel: decode many XOR chunks from one byte array.

Strategy
--------
The reader keeps only an absolute bit position. :func:`_peek` returns the
next 64 bits MSB-aligned (at least 57 of them meaningful, since the bit
offset inside the first byte is at most 7) with one unaligned big-endian
load, through the raw-address accessors of :mod:`._intrinsics` (no array
reference counting in the per-sample loop). Each field is decoded from a
peek, its total width ``need`` is computed, and only then is
``bitpos + need <= endbit`` checked against the *chunk's* end and the position
advanced. A peek may therefore see bytes past the chunk's end (the next
chunk's, or zeros past the array's end): harmless, because any field that
would use one of those bits fails the check, whatever the bits are -- a field's
width depends only on its own prefix bits. Fields wider than 57 bits are read
as two peeks.

Invariants
----------
* Never reads outside ``data`` (a peek at byte ``b`` loads 8 bytes only when
  ``b + 8 <= len(data)``, byte by byte otherwise); never *decodes* a bit
  outside ``data[offsets[c] : offsets[c] + lengths[c]]`` for chunk ``c`` (so a
  truncated chunk cannot borrow its neighbour's bits); never writes outside
  ``ts_out/vbits_out[bounds[c] : bounds[c+1]]``. numba does not bounds-check,
  so both are checked here explicitly, and a violated precondition returns
  ``ERR_BUG`` instead of corrupting memory.
* Never raises: errors come back as a status tuple that
  :mod:`tsdb.codec.xor` turns into :class:`tsdb.errors.CorruptChunkError`.
* Accepts everything Prometheus's ``xorIterator`` accepts for a chunk
  Prometheus could have written: the initial window is leading = trailing = 0
  (so a '10' before any '11' means 64 payload bits, as written by an appender
  reopened on a 1-sample chunk), sigbits 0 means 64, non-minimal varints,
  any padding or trailing bytes after the last sample. It rejects, where Go
  would silently decode garbage, a window with leading + sigbits > 64.
* Cost: O(total bytes + total samples), no allocation.

See docs/format/chunks.md for the bit layout.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from tsdb.codec._intrinsics import address_of, load_be64, load_u8
from tsdb.codec.varint import VARINT_OK, VARINT_TRUNCATED, get_uvarint, get_varint

#: Status codes (first element of the tuple returned by :func:`decode_many`).
ERR_OK = 0
ERR_TRUNCATED = 1  # the bit stream ends inside a sample
ERR_VARINT_OVERFLOW = 2  # a varint longer than 64 bits
ERR_BAD_WINDOW = 3  # leading + significant bits > 64
ERR_SHORT_HEADER = 4  # fewer than 2 bytes
ERR_BUG = 5  # a caller-side invariant does not hold (bounds, offsets)

_U0 = np.uint64(0)
_U1 = np.uint64(1)
_U8 = np.uint64(8)
_U32 = np.uint64(32)
_U63 = np.uint64(63)

_DOD14_HALF = np.uint64(1 << 13)
_DOD17_HALF = np.uint64(1 << 16)
_DOD20_HALF = np.uint64(1 << 19)
_DOD14_SPAN = np.uint64(1 << 14)
_DOD17_SPAN = np.uint64(1 << 17)
_DOD20_SPAN = np.uint64(1 << 20)
_M14 = np.uint64((1 << 14) - 1)
_M17 = np.uint64((1 << 17) - 1)
_M20 = np.uint64((1 << 20) - 1)
_M5 = np.uint64(31)
_M6 = np.uint64(63)


@njit(cache=True, nogil=True)
def _peek_tail(addr, size, b):
    """Bytes ``b .. b+7`` big-endian, those at or past ``size`` read as 0."""
    w = _U0
    for i in range(8):
        w <<= _U8
        if b + i < size:
            w |= load_u8(addr, b + i)
    return w


@njit(cache=True, nogil=True)
def _peek(addr, size, bitpos):
    """The 64 bits from ``bitpos`` on, MSB-aligned (at least 57 of them real).

    Reads only bytes ``< size`` (the array's length); past it, zeros.
    """
    b = bitpos >> 3
    if b + 8 <= size:
        w = load_be64(addr, b)
    else:
        w = _peek_tail(addr, size, b)
    return w << np.uint64(bitpos & 7)


@njit(cache=True, nogil=True)
def _read(addr, size, bitpos, n):
    """The ``n`` (1..64) bits at ``bitpos`` as an unsigned integer (no bounds check)."""
    if n <= 57:
        return _peek(addr, size, bitpos) >> np.uint64(64 - n)
    hi = _peek(addr, size, bitpos) >> _U32
    lo = _peek(addr, size, bitpos + 32) >> np.uint64(96 - n)
    return (hi << np.uint64(n - 32)) | lo


@njit(cache=True, nogil=True)
def _read_value(addr, size, bitpos, endbit, lead, trail):
    """Decode one varbit XOR at ``bitpos``.

    Returns ``(status, new_bitpos, xor, lead, trail)``; ``xor`` is to be
    XORed into the previous value's bits.
    """
    w = _peek(addr, size, bitpos)
    if (w >> _U63) == _U0:  # '0': same value
        if bitpos + 1 > endbit:
            return ERR_TRUNCATED, bitpos, _U0, lead, trail
        return ERR_OK, bitpos + 1, _U0, lead, trail
    if ((w >> np.uint64(62)) & _U1) == _U0:  # '10': previous window
        head = 2
    else:  # '11': new window
        head = 13
        if bitpos + head > endbit:
            return ERR_TRUNCATED, bitpos, _U0, lead, trail
        lead = np.int64((w >> np.uint64(57)) & _M5)
        sig = np.int64((w >> np.uint64(51)) & _M6)
        if sig == 0:  # 64 significant bits do not fit in 6 bits: written as 0
            sig = 64
        if lead + sig > 64:
            return ERR_BAD_WINDOW, bitpos, _U0, lead, sig  # detail: (lead, sigbits)
        trail = 64 - lead - sig
    sig = 64 - lead - trail
    need = head + sig
    if bitpos + need > endbit:
        return ERR_TRUNCATED, bitpos, _U0, lead, trail
    if need <= 57:
        payload = (w << np.uint64(head)) >> np.uint64(64 - sig)
    else:
        payload = _read(addr, size, bitpos + head, sig)
    return ERR_OK, bitpos + need, payload << np.uint64(trail), lead, trail


@njit(cache=True, nogil=True)
def _read_dod(addr, size, bitpos, endbit):
    """Decode one varbit delta-of-delta; returns ``(status, new_bitpos, dod as uint64)``."""
    w = _peek(addr, size, bitpos)
    if (w >> _U63) == _U0:
        need = 1
        dod = _U0
    elif (w >> np.uint64(62)) == np.uint64(0b10):
        need = 16
        dod = (w >> np.uint64(48)) & _M14
        if dod > _DOD14_HALF:  # values above 2^(n-1) are negative
            dod -= _DOD14_SPAN
    elif (w >> np.uint64(61)) == np.uint64(0b110):
        need = 20
        dod = (w >> np.uint64(44)) & _M17
        if dod > _DOD17_HALF:
            dod -= _DOD17_SPAN
    elif (w >> np.uint64(60)) == np.uint64(0b1110):
        need = 24
        dod = (w >> np.uint64(40)) & _M20
        if dod > _DOD20_HALF:
            dod -= _DOD20_SPAN
    else:
        need = 68
        dod = _U0
        if bitpos + need <= endbit:
            dod = _read(addr, size, bitpos + 4, 64)
    if bitpos + need > endbit:
        return ERR_TRUNCATED, bitpos, _U0
    return ERR_OK, bitpos + need, dod


@njit(cache=True, nogil=True)
def decode_many(data, offsets, lengths, bounds, ts_out, vbits_out):
    """Decode chunk ``c`` = ``data[offsets[c] : offsets[c] + lengths[c]]`` into
    ``ts_out/vbits_out[bounds[c] : bounds[c + 1]]``.

    Returns ``(status, chunk, sample, byte, a, b)``: ``status`` is one of the
    ``ERR_*`` codes; on error ``chunk`` and ``sample`` say where, ``byte`` is
    the byte (relative to the chunk) at which the failing sample starts and
    ``a``/``b`` carry code-specific detail (leading/sigbits for
    ``ERR_BAD_WINDOW``, the header count for ``ERR_BUG``).
    """
    size = data.shape[0]
    addr = address_of(data)
    for c in range(offsets.shape[0]):
        off = offsets[c]
        end = off + lengths[c]
        if off < 0 or lengths[c] < 0 or end > size:
            return ERR_BUG, c, 0, 0, 0, 0
        if lengths[c] < 2:
            return ERR_SHORT_HEADER, c, 0, 0, 0, 0
        n = (np.int64(data[off]) << 8) | np.int64(data[off + 1])
        base = bounds[c]
        if bounds[c + 1] - base != n or base < 0 or bounds[c + 1] > ts_out.shape[0]:
            return ERR_BUG, c, 0, 0, n, 0
        if n == 0:
            continue
        # Sample 0: varint timestamp, 64 raw value bits (byte aligned).
        pos = off + 2
        t0, pos, st = get_varint(data, pos, end)
        if st != VARINT_OK:
            return (ERR_TRUNCATED if st == VARINT_TRUNCATED else ERR_VARINT_OVERFLOW), c, 0, 2, 0, 0
        if pos + 8 > end:
            return ERR_TRUNCATED, c, 0, 2, 0, 0
        v = _U0
        for i in range(8):
            v = (v << _U8) | np.uint64(data[pos + i])
        pos += 8
        ts_out[base] = t0
        vbits_out[base] = v
        if n == 1:
            continue
        # Sample 1: uvarint delta (byte aligned). Its XOR and all later samples
        # come from the loop, which reads no dod for sample 1 (one copy of the
        # value code instead of two halves the compile time).
        start_bit = pos * 8
        delta, pos, st = get_uvarint(data, pos, end)
        if st != VARINT_OK:
            return (
                (ERR_TRUNCATED if st == VARINT_TRUNCATED else ERR_VARINT_OVERFLOW),
                c,
                1,
                (start_bit >> 3) - off,
                0,
                0,
            )
        t = np.uint64(t0)
        endbit = end * 8
        bitpos = pos * 8
        lead = 0  # a fresh xorIterator's window: a '10' here means 64 bits
        trail = 0
        for j in range(1, n):
            if j > 1:
                start_bit = bitpos
                st, bitpos, dod = _read_dod(addr, size, bitpos, endbit)
                if st != ERR_OK:
                    return st, c, j, (start_bit >> 3) - off, 0, 0
                delta += dod
            t += delta
            st, bitpos, x, lead, trail = _read_value(addr, size, bitpos, endbit, lead, trail)
            if st != ERR_OK:
                return st, c, j, (start_bit >> 3) - off, lead, trail
            v ^= x
            ts_out[base + j] = np.int64(t)
            vbits_out[base + j] = v
    return ERR_OK, 0, 0, 0, 0, 0
