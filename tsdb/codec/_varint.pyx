# cython: language_level=3
"""Python entry points (``py_*``, re-exported by tsdb.codec.varint) of the inline varints of ``_varint.pxd``.

The kernels ``cimport`` the inline versions; these wrappers serve tests and tools.
"""

from libc.stdint cimport int64_t, uint8_t, uint64_t


def py_put_uvarint(uint8_t[::1] out, int64_t pos, uint64_t u):
    """Write uint64 ``u`` at ``out[pos:]``; return the position after it.

    Raises ``IndexError`` when fewer than 10 bytes (``MAX_VARINT_LEN64``) are left.
    """
    if pos < 0 or pos + MAX_VARINT_LEN64 > out.shape[0]:
        raise IndexError(f"need {MAX_VARINT_LEN64} bytes at {pos} of a {out.shape[0]}-byte buffer")
    return put_uvarint(&out[0], pos, u)


def py_put_varint(uint8_t[::1] out, int64_t pos, int64_t x):
    """Write int64 ``x`` zig-zag encoded at ``out[pos:]``; return the new position."""
    if pos < 0 or pos + MAX_VARINT_LEN64 > out.shape[0]:
        raise IndexError(f"need {MAX_VARINT_LEN64} bytes at {pos} of a {out.shape[0]}-byte buffer")
    return put_varint(&out[0], pos, x)


def py_get_uvarint(const uint8_t[::1] buf, int64_t pos, int64_t end):
    """Read a uvarint at ``buf[pos:end]``: ``(value, new_pos, status)``, value 0 on a non-OK status."""
    cdef uint64_t v = 0
    cdef int st
    end = min(end, buf.shape[0])
    if pos < 0:
        raise IndexError(f"negative position {pos}")
    st = get_uvarint(&buf[0] if buf.shape[0] else NULL, &pos, end, &v)
    return v, pos, st


def py_get_varint(const uint8_t[::1] buf, int64_t pos, int64_t end):
    """Read a zig-zag varint at ``buf[pos:end]``; like :func:`get_uvarint` but int64."""
    cdef int64_t v = 0
    cdef int st
    end = min(end, buf.shape[0])
    if pos < 0:
        raise IndexError(f"negative position {pos}")
    st = get_varint(&buf[0] if buf.shape[0] else NULL, &pos, end, &v)
    return v, pos, st
