# cython: language_level=3
"""Compiled kernel: encode many XOR chunks into one byte array.

Strategy
--------
One pass, chunk after chunk, into a caller-allocated buffer sized for the
worst case (:func:`max_encoded_size`). Each chunk starts on a byte boundary,
so the offsets are known as we go and no second pass or compaction is needed.

Bits are collected MSB-first in a 64-bit accumulator ``acc`` that holds
``nacc < 32`` pending bits between calls; :func:`_put` appends up to 32 bits
and spills 4 whole bytes (one unaligned big-endian store, ``_bits.pxd``)
whenever 32 or more are pending. Each varbit field is a short head plus a
payload, written by one :func:`_put_field` call, which splits fields wider
than 32 bits. The byte-aligned prefix of a chunk (header, varint timestamp,
raw first value, uvarint first delta) is written straight to ``out``.

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
* Runs without the GIL.

See docs/format/chunks.md for the bit layout.
"""

import numpy as np

cimport numpy as cnp
from libc.stdint cimport int64_t, uint8_t, uint64_t

from tsdb._ndarray cimport length, ro_i64, ro_u64, rw_i64, rw_u8

from tsdb.codec._bits cimport clz64, ctz64, store_be32
from tsdb.codec._varint cimport put_uvarint, put_varint

cnp.import_array()

#: Leading-zero sentinel meaning "no window yet" (Prometheus's 0xff).
NO_WINDOW = 0xFF

cdef enum:
    _NO_WINDOW = 0xFF
    # Worst case bits per sample after the second: 4+64 (dod) + 2+5+6+64 (value).
    _MAX_BITS_PER_SAMPLE = 145
    # Worst case bytes of the byte-aligned prefix: header 2, varint 10, value 8, uvarint 10.
    _PREFIX_BYTES = 30
    # Room past the last chunk for the 4-byte stores of _put / _flush.
    _SLACK = 8

# Delta-of-delta buckets: dod fits n bits when -(2^(n-1)-1) <= dod <= 2^(n-1),
# i.e. when (dod + 2^(n-1) - 1) as unsigned is <= 2^n - 1. One compare each.
cdef uint64_t _B14_BIAS = (1 << 13) - 1
cdef uint64_t _B17_BIAS = (1 << 16) - 1
cdef uint64_t _B20_BIAS = (1 << 19) - 1
cdef uint64_t _B14_MAX = (1 << 14) - 1
cdef uint64_t _B17_MAX = (1 << 17) - 1
cdef uint64_t _B20_MAX = (1 << 20) - 1

cdef uint64_t _CTRL_NEW = 0b11 << 11  # '11' + 5 bits leading + 6 bits sigbits


cdef struct _Writer:
    uint8_t *out
    int64_t pos
    uint64_t acc
    int nacc


def max_encoded_size(counts):
    """Upper bound of the bytes :func:`encode_many` writes for these chunk sizes."""
    counts = counts.astype(np.int64, copy=False)
    per_chunk = _PREFIX_BYTES + (counts * _MAX_BITS_PER_SAMPLE + 7) // 8
    return int(per_chunk.sum()) + _SLACK


cdef inline void _put(_Writer *w, uint64_t v, int n) noexcept nogil:
    """Append the ``n`` (1..32) low bits of ``v`` (no higher bits set)."""
    w.acc = (w.acc << n) | v
    w.nacc += n
    if w.nacc >= 32:
        w.nacc -= 32
        store_be32(w.out + w.pos, w.acc >> w.nacc)
        w.pos += 4


cdef inline void _put_field(_Writer *w, uint64_t head, int nhead, uint64_t payload, int npayload) noexcept nogil:
    """Append ``nhead`` (1..13) bits of ``head``, then ``npayload`` (0..64) of ``payload``.

    Fields of up to 32 bits (nearly all of them) take a single put.
    """
    if nhead + npayload <= 32:
        _put(w, (head << npayload) | payload, nhead + npayload)
        return
    _put(w, head, nhead)
    if npayload > 32:
        _put(w, payload >> 32, npayload - 32)
        _put(w, payload & 0xFFFFFFFFu, 32)
    else:
        _put(w, payload, npayload)


cdef inline void _flush(_Writer *w) noexcept nogil:
    """Write the pending ``nacc`` (< 32) bits, zero-padded to a whole byte.

    Stores 4 bytes but advances only over the ``ceil(nacc / 8)`` that count;
    the rest is overwritten by the next chunk or cut off (see ``_SLACK``).
    """
    if w.nacc > 0:
        store_be32(w.out + w.pos, w.acc << (32 - w.nacc))
        w.pos += (w.nacc + 7) >> 3


cdef inline void _put_dod(_Writer *w, uint64_t dod) noexcept nogil:
    """The varbit delta-of-delta ``dod`` (a uint64 holding an int64)."""
    if dod == 0:
        _put(w, 0, 1)
    elif dod + _B14_BIAS <= _B14_MAX:
        _put_field(w, 0b10, 2, dod & _B14_MAX, 14)
    elif dod + _B17_BIAS <= _B17_MAX:
        _put_field(w, 0b110, 3, dod & _B17_MAX, 17)
    elif dod + _B20_BIAS <= _B20_MAX:
        _put_field(w, 0b1110, 4, dod & _B20_MAX, 20)
    else:
        _put_field(w, 0b1111, 4, dod, 64)


cdef inline int _put_value(_Writer *w, uint64_t x, int *lead_prev, int *trail_prev) noexcept nogil:
    """The varbit XOR of a value, ``x`` being its XOR with the previous value.

    Updates the window for the next value; returns the payload's bit count.
    """
    cdef int lead, trail, sig
    if x == 0:  # '0'
        _put(w, 0, 1)
        return 0
    lead = <int>clz64(x)
    trail = <int>ctz64(x)
    if lead >= 32:  # 5 bits only: clamp, the extra zeros go into the payload
        lead = 31
    if lead >= lead_prev[0] and trail >= trail_prev[0]:
        # '10': reuse the previous window (never taken with the 0xff sentinel).
        sig = 64 - lead_prev[0] - trail_prev[0]
        _put_field(w, 0b10, 2, x >> trail_prev[0], sig)
        return sig
    # '11' + leading(5) + sigbits(6); sigbits 64 is written as 0.
    sig = 64 - lead - trail
    _put_field(w, _CTRL_NEW | ((<uint64_t>lead) << 6) | ((<uint64_t>sig) & 63), 13, x >> trail, sig)
    lead_prev[0] = lead
    trail_prev[0] = trail
    return sig


cdef int64_t _encode(const int64_t *ts, const uint64_t *vbits, const int64_t *starts, const int64_t *counts,
                     int64_t k, uint8_t *o, int64_t size, int64_t *offsets) noexcept nogil:
    cdef _Writer w
    cdef int64_t c, s, n, j, b
    cdef uint64_t t, t_prev, delta, delta_prev, v, v_prev
    cdef int lead, trail, npayload
    cdef bint empty_tail
    w.out = o
    w.pos = 0
    for c in range(k):
        offsets[c] = w.pos
        s = starts[c]
        n = counts[c]
        # The raw stores are unchecked: make sure this chunk's worst case fits.
        if w.pos + _PREFIX_BYTES + (n * _MAX_BITS_PER_SAMPLE + 7) // 8 + 4 > size:
            return -1
        o[w.pos] = <uint8_t>(n >> 8)
        o[w.pos + 1] = <uint8_t>(n & 0xFF)
        w.pos += 2
        # Sample 0: signed varint timestamp, 64 raw value bits (byte aligned).
        t_prev = <uint64_t>ts[s]
        w.pos = put_varint(o, w.pos, ts[s])
        v_prev = vbits[s]
        for b in range(8):
            o[w.pos + b] = <uint8_t>((v_prev >> (56 - 8 * b)) & 0xFF)
        w.pos += 8
        if n == 1:
            o[w.pos] = 0  # the empty byte Prometheus's writer leaves (see above)
            w.pos += 1
            continue
        # Sample 1: uvarint delta (still byte aligned); its XOR is written by
        # the loop below, which skips the dod for it.
        delta_prev = (<uint64_t>ts[s + 1]) - t_prev
        w.pos = put_uvarint(o, w.pos, delta_prev)
        w.acc = 0
        w.nacc = 0
        lead = _NO_WINDOW
        trail = 0
        npayload = 0
        # Samples 1..n-1: varbit delta-of-delta (from sample 2 on), varbit XOR.
        for j in range(s + 1, s + n):
            t = <uint64_t>ts[j]
            delta = t - t_prev
            if j > s + 1:
                _put_dod(&w, delta - delta_prev)
            t_prev = t
            delta_prev = delta
            v = vbits[j]
            npayload = _put_value(&w, v ^ v_prev, &lead, &trail)
            v_prev = v
        # The last field was whole bytes written from a byte boundary: Prometheus's
        # writer has an empty byte behind it (see above).
        empty_tail = npayload > 0 and (npayload & 7) == 0 and (w.nacc & 7) == 0
        _flush(&w)
        if empty_tail:
            o[w.pos] = 0
            w.pos += 1
    offsets[k] = w.pos
    return w.pos


def encode_many(ts, vbits, starts, counts, out, offsets):
    """Encode chunk ``i`` = samples ``starts[i] : starts[i] + counts[i]``.

    ``ts`` is int64, ``vbits`` the float64 values viewed as uint64, ``out``
    a uint8 buffer of at least :func:`max_encoded_size` bytes and ``offsets``
    an int64 array of ``len(starts) + 1`` entries that receives the chunk
    boundaries. Returns the number of bytes written, or -1 (a bug in the
    caller) if ``out`` is too small for the worst case of the next chunk.
    The caller validated ``starts``/``counts`` against ``ts``. Runs without the GIL.
    """
    cdef const int64_t *t = ro_i64(ts, "ts")
    cdef const uint64_t *v = ro_u64(vbits, "vbits")
    cdef const int64_t *s = ro_i64(starts, "starts")
    cdef const int64_t *c = ro_i64(counts, "counts")
    cdef uint8_t *o = rw_u8(out, "out")
    cdef int64_t *off = rw_i64(offsets, "offsets")
    cdef int64_t k = length(starts)
    cdef int64_t size = length(out)
    cdef int64_t end
    if length(offsets) < k + 1 or length(counts) != k or length(vbits) != length(ts):
        return -1
    with nogil:
        end = _encode(t, v, s, c, k, o, size, off)
    return end
