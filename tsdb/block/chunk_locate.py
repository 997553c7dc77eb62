"""Locating (and checksumming) many chunks of a segment file at once, compiled.

A query reads thousands of chunks; parsing each chunk's header
(``uvarint length | encoding | data | CRC32C``) in Python costs more than
decoding its samples. :func:`locate_chunks` does it for a whole array of
chunk offsets in one compiled call over the mmapped segment, verifying each
CRC32C (Castagnoli, table-driven), and returns where each chunk's data
starts and how long it is, ready for ``decode_xor_many`` without a copy.
"""

from __future__ import annotations

import numpy as np

from ._chunk_locate import locate_chunks as _locate

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


def locate_chunks(seg, offsets, verify, want_encoding, table, data_off, data_len, err) -> int:
    """Fill ``data_off``/``data_len`` for chunks at ``offsets``; returns the index of the first bad chunk or -1.

    ``verify[i]`` (bools) says whether chunk i's CRC is checked (a chunk read
    once before need not be checked again). ``err[0]`` receives the error code.
    The loop is compiled (``_chunk_locate.pyx``).
    """
    return _locate(seg, offsets, verify.view(np.uint8), want_encoding, table, data_off, data_len, err)
