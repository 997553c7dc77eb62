# cython: language_level=3
"""The compiled part of :mod:`tsdb.block.chunk_locate` (built ahead of time, see setup.py)."""

from libc.stdint cimport int64_t, uint8_t, uint32_t
from libc.stdint cimport uint64_t

# the codes of tsdb.block.chunk_locate
cdef enum:
    ERR_BOUNDS = 1
    ERR_VARINT = 2
    ERR_CRC = 3
    ERR_ENCODING = 4


cdef inline uint32_t _crc32c(const uint8_t[::1] buf, int64_t start, int64_t end,
                             const uint32_t[::1] table) noexcept nogil:
    cdef uint32_t crc = 0xFFFFFFFFu
    cdef int64_t i
    for i in range(start, end):
        crc = table[(crc ^ buf[i]) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFFu


cdef int64_t _locate(const uint8_t[::1] seg, const int64_t[::1] offsets, const uint8_t[::1] verify,
                     int want_encoding, const uint32_t[::1] table, int64_t[::1] data_off,
                     int64_t[::1] data_len, int64_t[::1] err) noexcept nogil:
    cdef int64_t size = seg.shape[0]
    cdef int64_t i, p, start, e
    cdef uint64_t n
    cdef int shift
    cdef uint8_t b
    cdef uint32_t got, want
    for i in range(offsets.shape[0]):
        p = offsets[i]
        n = 0
        shift = 0
        while True:
            if p >= size or shift > 63:
                err[0] = ERR_VARINT
                return i
            b = seg[p]
            p += 1
            n |= (<uint64_t>(b & 0x7F)) << shift
            if b < 0x80:
                break
            shift += 7
        if n > <uint64_t>size or p + 1 + <int64_t>n + 4 > size:
            err[0] = ERR_BOUNDS
            return i
        if seg[p] != want_encoding:
            err[0] = ERR_ENCODING
            return i
        start = p + 1
        e = start + <int64_t>n
        if verify[i]:
            got = _crc32c(seg, p, e, table)
            want = ((<uint32_t>seg[e]) << 24) | ((<uint32_t>seg[e + 1]) << 16) | (
                (<uint32_t>seg[e + 2]) << 8) | (<uint32_t>seg[e + 3])
            if got != want:
                err[0] = ERR_CRC
                return i
        data_off[i] = start
        data_len[i] = <int64_t>n
    return -1


def locate_chunks(const uint8_t[::1] seg, const int64_t[::1] offsets, const uint8_t[::1] verify,
                  int want_encoding, const uint32_t[::1] table, int64_t[::1] data_off,
                  int64_t[::1] data_len, int64_t[::1] err):
    """Fill ``data_off``/``data_len`` for chunks at ``offsets``; returns the index of the first bad chunk or -1.

    ``verify[i]`` says whether chunk i's CRC is checked (a chunk read once
    before need not be checked again). Runs without the GIL.
    """
    cdef int64_t bad
    with nogil:
        bad = _locate(seg, offsets, verify, want_encoding, table, data_off, data_len, err)
    return bad
