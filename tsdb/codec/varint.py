"""Go ``encoding/binary`` varints, as compiled helpers for the chunk kernels.

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

The readers never raise (compiled kernels do not): they return a status code
the caller turns into :class:`tsdb.errors.CorruptChunkError`. Every read is
bounds-checked against ``end``, an exclusive byte index; each call costs
O(number of bytes of the varint).

The kernels ``cimport`` the inline C versions from ``_varint.pxd`` (built
ahead of time, see setup.py); the functions here are their Python entry
points, with the same arguments and results, for tests and tools.
"""

from __future__ import annotations

from tsdb.codec._varint import py_get_uvarint as get_uvarint
from tsdb.codec._varint import py_get_varint as get_varint
from tsdb.codec._varint import py_put_uvarint as put_uvarint
from tsdb.codec._varint import py_put_varint as put_varint

#: Status codes returned by :func:`get_uvarint` / :func:`get_varint` (as in ``_varint.pxd``).
VARINT_OK = 0
VARINT_TRUNCATED = 1
VARINT_OVERFLOW = 2

#: Longest varint of a 64-bit value, in bytes (Go's ``binary.MaxVarintLen64``).
MAX_VARINT_LEN64 = 10

__all__ = [
    "MAX_VARINT_LEN64",
    "VARINT_OK",
    "VARINT_OVERFLOW",
    "VARINT_TRUNCATED",
    "get_uvarint",
    "get_varint",
    "put_uvarint",
    "put_varint",
]
