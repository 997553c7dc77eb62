"""Locating (and checksumming) many chunks of a segment file at once, compiled.

A query reads thousands of chunks; parsing each chunk's header
(``uvarint length | encoding | data | CRC32C``) in Python costs more than
decoding its samples. :func:`locate_chunks` does it for a whole array of
chunk offsets in one numba call over the mmapped segment, verifying each
CRC32C (Castagnoli, table-driven), and returns where each chunk's data
starts and how long it is, ready for ``decode_xor_many`` without a copy.
"""

from __future__ import annotations

import numba
import numpy as np

OK = 0
ERR_BOUNDS = 1
ERR_VARINT = 2
ERR_CRC = 3
ERR_ENCODING = 4

MESSAGES = {
    ERR_BOUNDS: "chunk runs past the end of the segment",
    ERR_VARINT: "bad chunk length varint",
    ERR_CRC: "chunk checksum mismatch",
    ERR_ENCODING: "unsupported chunk encoding (only XOR floats)",
}


def _crc32c_table() -> np.ndarray:
    poly = 0x82F63B78  # Castagnoli, reflected
    table = np.zeros(256, dtype=np.uint32)
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        table[i] = c
    return table


CRC32C_TABLE = _crc32c_table()


@numba.njit(cache=True, nogil=True)
def _crc32c(buf, start, end, table):
    crc = np.uint32(0xFFFFFFFF)
    for i in range(start, end):
        crc = table[(crc ^ buf[i]) & np.uint32(0xFF)] ^ (crc >> np.uint32(8))
    return crc ^ np.uint32(0xFFFFFFFF)


@numba.njit(cache=True, nogil=True)
def locate_chunks(seg, offsets, verify, want_encoding, table, data_off, data_len, err):
    """Fill ``data_off``/``data_len`` for chunks at ``offsets``; returns the index of the first bad chunk or -1.

    ``verify[i]`` says whether chunk i's CRC is checked (a chunk read once
    before need not be checked again).
    """
    size = seg.shape[0]
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
            n |= (b & 0x7F) << shift
            if b < 0x80:
                break
            shift += 7
        if p + 1 + n + 4 > size:
            err[0] = ERR_BOUNDS
            return i
        if seg[p] != want_encoding:
            err[0] = ERR_ENCODING
            return i
        start = p + 1
        if verify[i]:
            got = _crc32c(seg, p, start + n, table)
            e = start + n
            want = (np.uint32(seg[e]) << np.uint32(24)) | (np.uint32(seg[e + 1]) << np.uint32(16)) | (
                np.uint32(seg[e + 2]) << np.uint32(8)) | np.uint32(seg[e + 3])
            if got != want:
                err[0] = ERR_CRC
                return i
        data_off[i] = start
        data_len[i] = n
    return -1
