"""numba kernel: encode many XOR chunks into one byte array.

Strategy
--------
One pass, chunk after chunk, into a caller-allocated buffer sized for the
worst case (:func:`max_encoded_size`). Each chunk starts on a byte boundary,
so the offsets are known as we go and no second pass or compaction is needed.

Bits are collected MSB-first in a 64-bit accumulator ``acc`` that holds
``nacc < 32`` pending bits between calls; :func:`_put` appends up to 32 bits
and spills 4 whole bytes (one big-endian store through the raw-address
accessors of :mod:`._intrinsics`, so no array reference counting happens per
sample) whenever 32 or more are pending. Each varbit field is computed as a
short head plus a payload (:func:`_dod_field`, :func:`_value_field`) and
written by one :func:`_put_field` call, which splits fields wider than 32
bits. The byte-aligned prefix of a chunk (header, varint timestamp, raw
first value, uvarint first delta) is written straight to ``out``.

Invariants
----------
* Output is byte-identical to Prometheus's ``xorAppender`` on a fresh chunk:
  same bucket choice for the delta-of-delta (``bitRange``'s asymmetric range
  ``-(2^(n-1)-1) <= dod <= 2^(n-1)``), same window-reuse decision for values
  (reuse when the clamped leading count and the trailing count both fit inside
  the previous window; the initial window is the 0xff sentinel, which no
  clamped leading count (<= 31) can reach, so the first XOR opens a window).
* Timestamp arithmetic is modulo 2^64 in uint64, exactly as Go's
  ``uint64(t - a.t)`` / ``int64(tDelta - a.tDelta)``, so any int64 input --
  unsorted, huge, negative -- round-trips.
* Padding bits of the last byte are zero.
* Prometheus's bit writer (``bstream``) writes whole bytes by appending a
  byte and then a zero byte for the next bits; when a field of whole bytes
  starts on a byte boundary and is the last one, that zero byte stays. So a
  chunk ends in one *empty* 0x00 byte when it has 1 sample (the raw first
  value) or when its last value's payload is a multiple of 8 bits starting on
  a byte boundary. We append it too, or the bytes would differ.
* The caller validated ``starts``/``counts`` (1 <= count <= 65535, in range)
  and sized ``out`` with :func:`max_encoded_size`. Before each chunk the
  kernel still checks that the chunk's worst case (+ 4 bytes for the last
  32-bit store) fits, because the raw stores are unchecked; every raw store
  lands below the bytes written so far + 4.

See docs/format/chunks.md for the bit layout.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from tsdb.codec._intrinsics import address_of, clz64, ctz64, store_be32
from tsdb.codec.varint import put_uvarint, put_varint

_U0 = np.uint64(0)
_U32 = np.uint64(32)
_UFF = np.uint64(0xFF)
_U32MASK = np.uint64(0xFFFFFFFF)

# Delta-of-delta buckets: dod fits n bits when -(2^(n-1)-1) <= dod <= 2^(n-1),
# i.e. when (dod + 2^(n-1) - 1) as unsigned is <= 2^n - 1. One compare each.
_B14_BIAS = np.uint64((1 << 13) - 1)
_B17_BIAS = np.uint64((1 << 16) - 1)
_B20_BIAS = np.uint64((1 << 19) - 1)
_B14_MAX = np.uint64((1 << 14) - 1)
_B17_MAX = np.uint64((1 << 17) - 1)
_B20_MAX = np.uint64((1 << 20) - 1)
_P14 = np.uint64(0b10)
_P17 = np.uint64(0b110)
_P20 = np.uint64(0b1110)
_P64 = np.uint64(0b1111)

_CTRL_NEW = np.uint64(0b11 << 11)  # '11' + 5 bits leading + 6 bits sigbits
_CTRL_REUSE = np.uint64(0b10)
_SIG_MASK = np.uint64(63)

#: Leading-zero sentinel meaning "no window yet" (Prometheus's 0xff).
NO_WINDOW = 0xFF

#: Worst case bits per sample after the second: 4+64 (dod) + 2+5+6+64 (value).
_MAX_BITS_PER_SAMPLE = 145
#: Worst case bytes of the byte-aligned prefix: header 2, varint 10, value 8, uvarint 10.
_PREFIX_BYTES = 30
#: Room past the last chunk for the 4-byte stores of :func:`_put` / :func:`_flush`.
_SLACK = 8


def max_encoded_size(counts: np.ndarray) -> int:
    """Upper bound of the bytes :func:`encode_many` writes for these chunk sizes."""
    counts = counts.astype(np.int64, copy=False)
    per_chunk = _PREFIX_BYTES + (counts * _MAX_BITS_PER_SAMPLE + 7) // 8
    return int(per_chunk.sum()) + _SLACK


@njit(cache=True, nogil=True)
def _put(addr, pos, acc, nacc, v, n):
    """Append the ``n`` (1..32) low bits of ``v`` (no higher bits set)."""
    acc = (acc << np.uint64(n)) | v
    nacc += n
    if nacc >= 32:
        nacc -= 32
        store_be32(addr, pos, acc >> np.uint64(nacc))
        pos += 4
    return pos, acc, nacc


@njit(cache=True, nogil=True)
def _put_field(addr, pos, acc, nacc, head, nhead, payload, npayload):
    """Append ``nhead`` (1..13) bits of ``head``, then ``npayload`` (0..64) of ``payload``.

    Every varbit field is a short head (prefix/control bits) and a payload;
    one call site per field keeps the inlined kernel -- and its compile time --
    small. Fields of up to 32 bits (nearly all of them) take a single put.
    """
    if nhead + npayload <= 32:
        return _put(addr, pos, acc, nacc, (head << np.uint64(npayload)) | payload, nhead + npayload)
    pos, acc, nacc = _put(addr, pos, acc, nacc, head, nhead)
    if npayload > 32:
        pos, acc, nacc = _put(addr, pos, acc, nacc, payload >> _U32, npayload - 32)
        return _put(addr, pos, acc, nacc, payload & _U32MASK, 32)
    return _put(addr, pos, acc, nacc, payload, npayload)


@njit(cache=True, nogil=True)
def _flush(addr, pos, acc, nacc):
    """Write the pending ``nacc`` (< 32) bits, zero-padded to a whole byte.

    Stores 4 bytes but advances only over the ``ceil(nacc / 8)`` that count;
    the rest is overwritten by the next chunk or cut off (see ``_SLACK``).
    """
    if nacc > 0:
        store_be32(addr, pos, acc << np.uint64(32 - nacc))
        pos += (nacc + 7) >> 3
    return pos


@njit(cache=True, nogil=True)
def _value_field(x, lead_prev, trail_prev):
    """The varbit XOR of a value, ``x`` being its XOR with the previous value.

    Returns ``(head, nhead, payload, npayload, lead, trail)`` with the window
    to use for the next value.
    """
    if x == _U0:  # '0'
        return _U0, 1, _U0, 0, lead_prev, trail_prev
    lead = clz64(x)
    trail = ctz64(x)
    if lead >= 32:  # 5 bits only: clamp, the extra zeros go into the payload
        lead = 31
    if lead >= lead_prev and trail >= trail_prev:
        # '10': reuse the previous window (never taken with the 0xff sentinel).
        sig = 64 - lead_prev - trail_prev
        return _CTRL_REUSE, 2, x >> np.uint64(trail_prev), sig, lead_prev, trail_prev
    # '11' + leading(5) + sigbits(6); sigbits 64 is written as 0.
    sig = 64 - lead - trail
    ctrl = _CTRL_NEW | (np.uint64(lead) << np.uint64(6)) | (np.uint64(sig) & _SIG_MASK)
    return ctrl, 13, x >> np.uint64(trail), sig, lead, trail


@njit(cache=True, nogil=True)
def _dod_field(dod):
    """The varbit delta-of-delta ``dod`` (a uint64 holding an int64) as
    ``(head, nhead, payload, npayload)``."""
    if dod == _U0:
        return _U0, 1, _U0, 0
    if dod + _B14_BIAS <= _B14_MAX:
        return _P14, 2, dod & _B14_MAX, 14
    if dod + _B17_BIAS <= _B17_MAX:
        return _P17, 3, dod & _B17_MAX, 17
    if dod + _B20_BIAS <= _B20_MAX:
        return _P20, 4, dod & _B20_MAX, 20
    return _P64, 4, dod, 64


@njit(cache=True, nogil=True)
def encode_many(ts, vbits, starts, counts, out, offsets):
    """Encode chunk ``i`` = samples ``starts[i] : starts[i] + counts[i]``.

    ``ts`` is int64, ``vbits`` the float64 values viewed as uint64, ``out``
    a uint8 buffer of at least :func:`max_encoded_size` bytes and ``offsets``
    an int64 array of ``len(starts) + 1`` entries that receives the chunk
    boundaries. Returns the number of bytes written, or -1 (a bug in the
    caller) if ``out`` is too small for the worst case of the next chunk.
    """
    addr = address_of(out)
    pos = 0
    for c in range(starts.shape[0]):
        offsets[c] = pos
        s = starts[c]
        n = counts[c]
        # The raw stores are unchecked: make sure this chunk's worst case fits.
        if pos + _PREFIX_BYTES + (n * _MAX_BITS_PER_SAMPLE + 7) // 8 + 4 > out.shape[0]:
            return -1
        out[pos] = np.uint8(n >> 8)
        out[pos + 1] = np.uint8(n & 0xFF)
        pos += 2
        # Sample 0: signed varint timestamp, 64 raw value bits (byte aligned).
        t_prev = np.uint64(ts[s])
        pos = put_varint(out, pos, ts[s])
        v_prev = vbits[s]
        for b in range(8):
            out[pos + b] = np.uint8((v_prev >> np.uint64(56 - 8 * b)) & _UFF)
        pos += 8
        if n == 1:
            out[pos] = 0  # the empty byte Prometheus's writer leaves (see above)
            pos += 1
            continue
        # Sample 1: uvarint delta (still byte aligned); its XOR is written by
        # the loop below, which skips the dod for it (one copy of the value
        # code instead of two halves the compile time).
        delta_prev = np.uint64(ts[s + 1]) - t_prev
        pos = put_uvarint(out, pos, delta_prev)
        acc = _U0
        nacc = 0
        lead = NO_WINDOW
        trail = 0
        # Samples 1..n-1: varbit delta-of-delta (from sample 2 on), varbit XOR.
        for j in range(s + 1, s + n):
            t = np.uint64(ts[j])
            delta = t - t_prev
            if j > s + 1:
                head, nhead, payload, npayload = _dod_field(delta - delta_prev)
                pos, acc, nacc = _put_field(addr, pos, acc, nacc, head, nhead, payload, npayload)
            t_prev = t
            delta_prev = delta
            v = vbits[j]
            head, nhead, payload, npayload, lead, trail = _value_field(v ^ v_prev, lead, trail)
            pos, acc, nacc = _put_field(addr, pos, acc, nacc, head, nhead, payload, npayload)
            v_prev = v
        # The last field was whole bytes written from a byte boundary: Prometheus's
        # writer has an empty byte behind it (see above).
        empty_tail = npayload > 0 and (npayload & 7) == 0 and (nacc & 7) == 0
        pos = _flush(addr, pos, acc, nacc)
        if empty_tail:
            out[pos] = 0
            pos += 1
    offsets[starts.shape[0]] = pos
    return pos
