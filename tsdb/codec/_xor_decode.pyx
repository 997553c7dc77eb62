# cython: language_level=3
"""Compiled kernel: decode many XOR chunks from one byte array.

Strategy
--------
The reader keeps only an absolute bit position. :func:`_peek` returns the
next 64 bits MSB-aligned (at least 57 of them meaningful, since the bit
offset inside the first byte is at most 7) with one unaligned big-endian
load (``_bits.pxd``). Each field is decoded from a peek, its total width
``need`` is computed, and only then is ``bitpos + need <= endbit`` checked
against the *chunk's* end and the position advanced. A peek may therefore
see bytes past the chunk's end (the next chunk's, or zeros past the array's
end): harmless, because any field that would use one of those bits fails
the check, whatever the bits are -- a field's width depends only on its own
prefix bits. Fields wider than 57 bits are read as two peeks.

Invariants
----------
* Never reads outside ``data`` (a peek at byte ``b`` loads 8 bytes only when
  ``b + 8 <= len(data)``, byte by byte otherwise); never *decodes* a bit
  outside ``data[offsets[c] : offsets[c] + lengths[c]]`` for chunk ``c`` (so a
  truncated chunk cannot borrow its neighbour's bits); never writes outside
  ``ts_out/vbits_out[bounds[c] : bounds[c+1]]``. Bounds checks are compiled
  out, so both are checked here explicitly, and a violated precondition
  returns ``ERR_BUG`` instead of corrupting memory.
* Never raises: errors come back as a status tuple that
  :mod:`tsdb.codec.xor` turns into :class:`tsdb.errors.CorruptChunkError`.
* Accepts everything Prometheus's ``xorIterator`` accepts for a chunk
  Prometheus could have written: the initial window is leading = trailing = 0
  (so a '10' before any '11' means 64 payload bits, as written by an appender
  reopened on a 1-sample chunk), sigbits 0 means 64, non-minimal varints,
  any padding or trailing bytes after the last sample. It rejects, where Go
  would silently decode garbage, a window with leading + sigbits > 64.
* Cost: O(total bytes + total samples), no allocation; runs without the GIL.

See docs/format/chunks.md for the bit layout.
"""

cimport numpy as cnp
from libc.stdint cimport int64_t, uint8_t, uint64_t

from tsdb._ndarray cimport length, ro_i64, ro_u8, rw_i64, rw_u64

from tsdb.codec._bits cimport load_be64
from tsdb.codec._varint cimport VARINT_OK, VARINT_TRUNCATED, get_uvarint, get_varint

cnp.import_array()

#: Status codes (first element of the tuple returned by :func:`decode_many`).
ERR_OK = 0
ERR_TRUNCATED = 1  # the bit stream ends inside a sample
ERR_VARINT_OVERFLOW = 2  # a varint longer than 64 bits
ERR_BAD_WINDOW = 3  # leading + significant bits > 64
ERR_SHORT_HEADER = 4  # fewer than 2 bytes
ERR_BUG = 5  # a caller-side invariant does not hold (bounds, offsets)

cdef enum:
    _OK = 0
    _TRUNCATED = 1
    _VARINT_OVERFLOW = 2
    _BAD_WINDOW = 3
    _SHORT_HEADER = 4
    _BUG = 5


cdef struct _Status:
    int64_t status, chunk, sample, byte, a, b


cdef struct _Reader:
    const uint8_t *data
    int64_t size


cdef inline uint64_t _peek_tail(const _Reader *r, int64_t b) noexcept nogil:
    """Bytes ``b .. b+7`` big-endian, those at or past ``size`` read as 0."""
    cdef uint64_t w = 0
    cdef int i
    for i in range(8):
        w <<= 8
        if b + i < r.size:
            w |= r.data[b + i]
    return w


cdef inline uint64_t _peek(const _Reader *r, int64_t bitpos) noexcept nogil:
    """The 64 bits from ``bitpos`` on, MSB-aligned (at least 57 of them real).

    Reads only bytes ``< size`` (the array's length); past it, zeros.
    """
    cdef int64_t b = bitpos >> 3
    cdef uint64_t w
    if b + 8 <= r.size:
        w = load_be64(r.data + b)
    else:
        w = _peek_tail(r, b)
    return w << (bitpos & 7)


cdef inline uint64_t _read(const _Reader *r, int64_t bitpos, int n) noexcept nogil:
    """The ``n`` (1..64) bits at ``bitpos`` as an unsigned integer (no bounds check)."""
    cdef uint64_t hi, lo
    if n <= 57:
        return _peek(r, bitpos) >> (64 - n)
    hi = _peek(r, bitpos) >> 32
    lo = _peek(r, bitpos + 32) >> (96 - n)
    return (hi << (n - 32)) | lo


cdef inline int _read_value(const _Reader *r, int64_t *bitpos, int64_t endbit, uint64_t *x,
                            int64_t *lead, int64_t *trail) noexcept nogil:
    """Decode one varbit XOR at ``*bitpos`` into ``*x`` (to be XORed into the previous value's bits).

    Returns the status; on success advances ``*bitpos`` and updates the window.
    On ``ERR_BAD_WINDOW`` ``*lead``/``*trail`` receive (leading, sigbits) as detail.
    """
    cdef int64_t pos = bitpos[0]
    cdef uint64_t w = _peek(r, pos)
    cdef int64_t head, lz, sig, need
    cdef uint64_t payload
    if (w >> 63) == 0:  # '0': same value
        if pos + 1 > endbit:
            return _TRUNCATED
        bitpos[0] = pos + 1
        x[0] = 0
        return _OK
    if ((w >> 62) & 1) == 0:  # '10': previous window
        head = 2
    else:  # '11': new window
        head = 13
        if pos + head > endbit:
            return _TRUNCATED
        lz = <int64_t>((w >> 57) & 31)
        sig = <int64_t>((w >> 51) & 63)
        if sig == 0:  # 64 significant bits do not fit in 6 bits: written as 0
            sig = 64
        lead[0] = lz
        if lz + sig > 64:
            trail[0] = sig  # detail: (lead, sigbits)
            return _BAD_WINDOW
        trail[0] = 64 - lz - sig
    sig = 64 - lead[0] - trail[0]
    need = head + sig
    if pos + need > endbit:
        return _TRUNCATED
    if need <= 57:
        payload = (w << head) >> (64 - sig)
    else:
        payload = _read(r, pos + head, <int>sig)
    bitpos[0] = pos + need
    x[0] = payload << trail[0]
    return _OK


cdef inline int _read_dod(const _Reader *r, int64_t *bitpos, int64_t endbit, uint64_t *dod) noexcept nogil:
    """Decode one varbit delta-of-delta into ``*dod`` (an int64 as uint64); returns the status."""
    cdef int64_t pos = bitpos[0]
    cdef uint64_t w = _peek(r, pos)
    cdef int64_t need
    cdef uint64_t d
    if (w >> 63) == 0:
        need = 1
        d = 0
    elif (w >> 62) == 0b10:
        need = 16
        d = (w >> 48) & ((1 << 14) - 1)
        if d > (1 << 13):  # values above 2^(n-1) are negative
            d -= (1 << 14)
    elif (w >> 61) == 0b110:
        need = 20
        d = (w >> 44) & ((1 << 17) - 1)
        if d > (1 << 16):
            d -= (1 << 17)
    elif (w >> 60) == 0b1110:
        need = 24
        d = (w >> 40) & ((1 << 20) - 1)
        if d > (1 << 19):
            d -= (1 << 20)
    else:
        need = 68
        d = 0
        if pos + need <= endbit:
            d = _read(r, pos + 4, 64)
    if pos + need > endbit:
        return _TRUNCATED
    bitpos[0] = pos + need
    dod[0] = d
    return _OK


cdef inline void _set(_Status *s, int64_t status, int64_t chunk, int64_t sample, int64_t byte,
                      int64_t a, int64_t b) noexcept nogil:
    s.status = status
    s.chunk = chunk
    s.sample = sample
    s.byte = byte
    s.a = a
    s.b = b


cdef void _decode(const uint8_t *d, int64_t size, const int64_t *offsets, const int64_t *lengths, int64_t k,
                  const int64_t *bounds, int64_t nout, int64_t *ts_out, uint64_t *vbits_out,
                  _Status *res) noexcept nogil:
    cdef _Reader rd
    cdef int64_t c, off, end, n, base, pos, i, j, start_bit, endbit, bitpos, t0, lead, trail
    cdef uint64_t v, t, delta, dod, x
    cdef int st
    cdef int64_t *tso
    cdef uint64_t *vbo
    rd.data = d
    rd.size = size
    _set(res, _OK, 0, 0, 0, 0, 0)
    for c in range(k):
        off = offsets[c]
        end = off + lengths[c]
        if off < 0 or lengths[c] < 0 or end > size:
            _set(res, _BUG, c, 0, 0, 0, 0)
            return
        if lengths[c] < 2:
            _set(res, _SHORT_HEADER, c, 0, 0, 0, 0)
            return
        n = ((<int64_t>d[off]) << 8) | (<int64_t>d[off + 1])
        base = bounds[c]
        if bounds[c + 1] - base != n or base < 0 or bounds[c + 1] > nout:
            _set(res, _BUG, c, 0, 0, n, 0)
            return
        if n == 0:
            continue
        tso = &ts_out[base]
        vbo = &vbits_out[base]
        # Sample 0: varint timestamp, 64 raw value bits (byte aligned).
        pos = off + 2
        st = get_varint(d, &pos, end, &t0)
        if st != VARINT_OK:
            _set(res, _TRUNCATED if st == VARINT_TRUNCATED else _VARINT_OVERFLOW, c, 0, 2, 0, 0)
            return
        if pos + 8 > end:
            _set(res, _TRUNCATED, c, 0, 2, 0, 0)
            return
        v = load_be64(d + pos)
        pos += 8
        tso[0] = t0
        vbo[0] = v
        if n == 1:
            continue
        # Sample 1: uvarint delta (byte aligned). Its XOR and all later samples
        # come from the loop, which reads no dod for sample 1.
        start_bit = pos * 8
        st = get_uvarint(d, &pos, end, &delta)
        if st != VARINT_OK:
            _set(res, _TRUNCATED if st == VARINT_TRUNCATED else _VARINT_OVERFLOW,
                 c, 1, (start_bit >> 3) - off, 0, 0)
            return
        t = <uint64_t>t0
        endbit = end * 8
        bitpos = pos * 8
        lead = 0  # a fresh xorIterator's window: a '10' here means 64 bits
        trail = 0
        for j in range(1, n):
            if j > 1:
                start_bit = bitpos
                st = _read_dod(&rd, &bitpos, endbit, &dod)
                if st != _OK:
                    _set(res, st, c, j, (start_bit >> 3) - off, 0, 0)
                    return
                delta += dod
            t += delta
            st = _read_value(&rd, &bitpos, endbit, &x, &lead, &trail)
            if st != _OK:
                _set(res, st, c, j, (start_bit >> 3) - off, lead, trail)
                return
            v ^= x
            tso[j] = <int64_t>t
            vbo[j] = v


def decode_many(data, offsets, lengths, bounds, ts_out, vbits_out):
    """Decode chunk ``c`` = ``data[offsets[c] : offsets[c] + lengths[c]]`` into
    ``ts_out/vbits_out[bounds[c] : bounds[c + 1]]``.

    ``data`` is uint8, ``offsets``/``lengths``/``bounds`` int64 (``bounds``
    one longer), ``ts_out`` int64 and ``vbits_out`` uint64 of the same length.
    Returns ``(status, chunk, sample, byte, a, b)``: ``status`` is one of the
    ``ERR_*`` codes; on error ``chunk`` and ``sample`` say where, ``byte`` is
    the byte (relative to the chunk) at which the failing sample starts and
    ``a``/``b`` carry code-specific detail (leading/sigbits for
    ``ERR_BAD_WINDOW``, the header count for ``ERR_BUG``). Runs without the GIL.
    """
    cdef const uint8_t *d = ro_u8(data, "data")
    cdef const int64_t *offs = ro_i64(offsets, "offsets")
    cdef const int64_t *lens = ro_i64(lengths, "lengths")
    cdef const int64_t *bnds = ro_i64(bounds, "bounds")
    cdef int64_t *tso = rw_i64(ts_out, "ts_out")
    cdef uint64_t *vbo = rw_u64(vbits_out, "vbits_out")
    cdef int64_t k = length(offsets)
    cdef int64_t size = length(data)
    cdef int64_t nout = length(ts_out)
    cdef _Status res
    if length(bounds) < k + 1 or length(lengths) < k or length(vbits_out) < nout:
        return ERR_BUG, 0, 0, 0, 0, 0
    with nogil:
        _decode(d, size, offs, lens, k, bnds, nout, tso, vbo, &res)
    return res.status, res.chunk, res.sample, res.byte, res.a, res.b
