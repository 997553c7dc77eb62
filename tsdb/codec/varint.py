"""Go ``encoding/binary`` varints, as numba helpers for the chunk kernels.

Prometheus writes the first timestamp of an XOR chunk with ``PutVarint``
(zig-zag, then base-128) and the first delta with ``PutUvarint``. The rules,
which these helpers follow exactly:

* base 128, least significant group first, high bit of a byte = "more follows";
* at most 10 bytes; the 10th byte may only be 0 or 1 (otherwise the value
  would not fit in 64 bits) -- Go's ``ReadUvarint`` calls both cases overflow;
* non-minimal encodings (``0x80 0x00`` for 0) are accepted by Go's reader and
  therefore here too; the writers always produce the minimal form;
* zig-zag maps int64 ``x`` to ``(x << 1) ^ (x >> 63)`` so small negative
  numbers stay short.

The readers never raise (numba kernels must not): they return a status code
the caller turns into :class:`tsdb.errors.CorruptChunkError`. Every read is
bounds-checked against ``end``, an exclusive byte index; each call costs
O(number of bytes of the varint).
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: Status codes returned by :func:`get_uvarint` / :func:`get_varint`.
VARINT_OK = 0
VARINT_TRUNCATED = 1
VARINT_OVERFLOW = 2

#: Longest varint of a 64-bit value, in bytes (Go's ``binary.MaxVarintLen64``).
MAX_VARINT_LEN64 = 10

_U7F = np.uint64(0x7F)
_U80 = np.uint64(0x80)
_U1 = np.uint64(1)


@njit(cache=True, nogil=True)
def put_uvarint(out, pos, u):
    """Write uint64 ``u`` at ``out[pos:]``; return the position after it.

    The caller guarantees room for :data:`MAX_VARINT_LEN64` bytes.
    """
    u = np.uint64(u)
    while u >= _U80:
        out[pos] = np.uint8((u & _U7F) | _U80)
        u >>= np.uint64(7)
        pos += 1
    out[pos] = np.uint8(u)
    return pos + 1


@njit(cache=True, nogil=True)
def put_varint(out, pos, x):
    """Write int64 ``x`` zig-zag encoded at ``out[pos:]``; return the new position."""
    x = np.int64(x)
    ux = np.uint64(x) << _U1
    if x < 0:
        ux = ~ux
    return put_uvarint(out, pos, ux)


@njit(cache=True, nogil=True)
def get_uvarint(buf, pos, end):
    """Read a uvarint at ``buf[pos:end]``.

    Returns ``(value: uint64, new_pos: int64, status: int64)``; on a non-OK
    status ``value`` is 0 and ``new_pos`` is where reading stopped.
    """
    x = np.uint64(0)
    shift = np.uint64(0)
    for i in range(MAX_VARINT_LEN64):
        if pos >= end:
            return np.uint64(0), pos, VARINT_TRUNCATED
        b = np.uint64(buf[pos])
        pos += 1
        if b < _U80:
            if i == MAX_VARINT_LEN64 - 1 and b > _U1:
                return np.uint64(0), pos, VARINT_OVERFLOW
            return x | (b << shift), pos, VARINT_OK
        x |= (b & _U7F) << shift
        shift += np.uint64(7)
    return np.uint64(0), pos, VARINT_OVERFLOW


@njit(cache=True, nogil=True)
def get_varint(buf, pos, end):
    """Read a zig-zag varint at ``buf[pos:end]``; like :func:`get_uvarint` but int64."""
    ux, pos, status = get_uvarint(buf, pos, end)
    x = np.int64(ux >> _U1)
    if ux & _U1:
        x = ~x
    return x, pos, status
