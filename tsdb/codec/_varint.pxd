# cython: language_level=3
"""Go ``encoding/binary`` varints as inline C for the compiled kernels (rules: tsdb/codec/varint.py).

Writers take a raw pointer and a position and return the position after
the varint; the caller guarantees room for 10 bytes (``MAX_VARINT_LEN64``).
Readers never raise: they return a ``VARINT_*`` status, store the value
through ``out`` (0 on error) and advance ``*pos`` to where reading stopped;
every read is checked against ``end``, an exclusive byte index.
"""

from libc.stdint cimport int64_t, uint8_t, uint64_t

# the codes of tsdb.codec.varint
cdef enum:
    VARINT_OK = 0
    VARINT_TRUNCATED = 1
    VARINT_OVERFLOW = 2
    MAX_VARINT_LEN64 = 10


cdef inline int64_t put_uvarint(uint8_t *out, int64_t pos, uint64_t u) noexcept nogil:
    while u >= 0x80:
        out[pos] = <uint8_t>((u & 0x7F) | 0x80)
        u >>= 7
        pos += 1
    out[pos] = <uint8_t>u
    return pos + 1


cdef inline int64_t put_varint(uint8_t *out, int64_t pos, int64_t x) noexcept nogil:
    cdef uint64_t ux = (<uint64_t>x) << 1
    if x < 0:
        ux = ~ux
    return put_uvarint(out, pos, ux)


cdef inline int get_uvarint(const uint8_t *buf, int64_t *pos, int64_t end, uint64_t *out) noexcept nogil:
    cdef uint64_t x = 0
    cdef uint64_t b
    cdef int shift = 0
    cdef int i
    cdef int64_t p = pos[0]
    out[0] = 0
    for i in range(MAX_VARINT_LEN64):
        if p >= end:
            pos[0] = p
            return VARINT_TRUNCATED
        b = buf[p]
        p += 1
        if b < 0x80:
            pos[0] = p
            if i == MAX_VARINT_LEN64 - 1 and b > 1:
                return VARINT_OVERFLOW
            out[0] = x | (b << shift)
            return VARINT_OK
        x |= (b & 0x7F) << shift
        shift += 7
    pos[0] = p
    return VARINT_OVERFLOW


cdef inline int get_varint(const uint8_t *buf, int64_t *pos, int64_t end, int64_t *out) noexcept nogil:
    cdef uint64_t ux
    cdef int st = get_uvarint(buf, pos, end, &ux)
    cdef int64_t x = <int64_t>(ux >> 1)
    if ux & 1:
        x = ~x
    out[0] = x
    return st
