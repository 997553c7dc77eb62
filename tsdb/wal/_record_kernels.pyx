# cython: language_level=3
"""Compiled kernels for Prometheus's WAL record bodies: a batch per call, no Python loop per sample.

Prometheus's records mix fixed big-endian words with Go varints, so a sample's
position in the body depends on the lengths of every varint before it: the
decoder has to walk the bytes in order, which numpy cannot express. These
kernels do the walk; records.py wraps them in pure functions (arrays in, bytes
out, and back). They are compiled ahead of time (Cython, see setup.py) and
release the GIL.

Layouts (Prometheus ``tsdb/record``; docs/format/wal.md#records):

* samples: ``ref0 <be64> t0 <be64>`` then per sample
  ``varint(ref - ref0) varint(t - t0) value <be64 bits>``;
* series: per series ``ref <be64> uvarint(#labels)`` then per label
  ``uvarint(len) name uvarint(len) value``;
* tombstones: per interval ``ref <be64> varint(mint) varint(maxt)``.

The kernels never raise on bad bytes: decoders return a status (the varint
codes of ``tsdb.codec.varint``: 0 = OK, 1 = truncated, 2 = overflow) and the
position where they stopped; records.py turns that into a ``CorruptError``.
Every read is bounds-checked against the buffer length. Integer arithmetic
wraps modulo 2^64, as Go's does. Encoders check that ``out`` has the room
their docstring asks for (``IndexError`` otherwise: a bug in the caller).
"""

cimport numpy as cnp
from libc.stdint cimport int64_t, uint8_t, uint64_t

from tsdb._ndarray cimport length, ro_i64, ro_u8, rw_i64, rw_u8
from tsdb.codec._bits cimport load_be64, store_be64
from tsdb.codec._varint cimport VARINT_OK, VARINT_TRUNCATED, get_uvarint, get_varint, put_varint

cnp.import_array()

OK = VARINT_OK
TRUNCATED = VARINT_TRUNCATED


def encode_samples_body(out, refs, ts, bits):
    """Write a samples record body (after the type byte) into ``out``; returns its length.

    ``out`` must hold ``16 + 28 * len(refs)`` bytes (two 10-byte varints and
    8 value bytes per sample at most). Empty input writes nothing, as
    Prometheus's encoder does. All arrays are int64 but ``out`` (uint8).
    """
    cdef uint8_t *o = rw_u8(out, "out")
    cdef const int64_t *rf = ro_i64(refs, "refs")
    cdef const int64_t *tp = ro_i64(ts, "ts")
    cdef const int64_t *bp = ro_i64(bits, "bits")
    cdef int64_t n = length(refs)
    cdef int64_t pos, i, r0, t0
    if n == 0:
        return 0
    if length(ts) < n or length(bits) < n or length(out) < 16 + 28 * n:
        raise IndexError(f"samples body: {length(out)} bytes of room for {n} samples")
    with nogil:
        r0 = rf[0]
        t0 = tp[0]
        store_be64(o, <uint64_t>r0)
        store_be64(o + 8, <uint64_t>t0)
        pos = 16
        for i in range(n):
            pos = put_varint(o, pos, <int64_t>(<uint64_t>rf[i] - <uint64_t>r0))
            pos = put_varint(o, pos, <int64_t>(<uint64_t>tp[i] - <uint64_t>t0))
            store_be64(o + pos, <uint64_t>bp[i])
            pos += 8
    return pos


cdef (int64_t, int, int64_t) _decode_samples(const uint8_t *buf, int64_t start, int64_t end, int64_t *refs,
                                             int64_t *ts, int64_t *bits) noexcept nogil:
    cdef int64_t pos, n, r0, t0, dr, dt
    cdef int st
    if start == end:
        return 0, VARINT_OK, start
    if end - start < 16:
        return 0, VARINT_TRUNCATED, start
    r0 = <int64_t>load_be64(buf + start)
    t0 = <int64_t>load_be64(buf + start + 8)
    pos = start + 16
    n = 0
    while pos < end:
        st = get_varint(buf, &pos, end, &dr)
        if st != VARINT_OK:
            return n, st, pos
        st = get_varint(buf, &pos, end, &dt)
        if st != VARINT_OK:
            return n, st, pos
        if end - pos < 8:
            return n, VARINT_TRUNCATED, pos
        refs[n] = <int64_t>(<uint64_t>r0 + <uint64_t>dr)
        ts[n] = <int64_t>(<uint64_t>t0 + <uint64_t>dt)
        bits[n] = <int64_t>load_be64(buf + pos)
        pos += 8
        n += 1
    return n, VARINT_OK, pos


def decode_samples_body(buf, int64_t start, refs, ts, bits):
    """Decode a samples body starting at ``start``; returns (count, status, stop position).

    ``refs``/``ts``/``bits`` (int64) must hold ``(len(buf) - start - 16) // 10 + 1``
    entries (the most a body of that size can carry).
    """
    cdef const uint8_t *b = ro_u8(buf, "buf")
    cdef int64_t *rf = rw_i64(refs, "refs")
    cdef int64_t *tp = rw_i64(ts, "ts")
    cdef int64_t *bp = rw_i64(bits, "bits")
    cdef int64_t end = length(buf)
    cdef int64_t cap = (end - start - 16) // 10 + 1
    cdef (int64_t, int, int64_t) res
    if start < 0 or start > end:
        raise IndexError(f"start {start} outside the {end}-byte record")
    if end - start >= 16 and (length(refs) < cap or length(ts) < cap or length(bits) < cap):
        raise IndexError(f"samples body: room for {min(length(refs), length(ts), length(bits))} of up to {cap} samples")
    with nogil:
        res = _decode_samples(b, start, end, rf, tp, bp)
    return res


cdef (int64_t, int64_t, int, int64_t) _scan_series(const uint8_t *buf, int64_t start, int64_t end,
                                                   int64_t *refs, int64_t *nlabels, int64_t *str_off,
                                                   int64_t *str_len) noexcept nogil:
    cdef int64_t pos = start
    cdef int64_t n = 0
    cdef int64_t m = 0
    cdef int64_t r, j
    cdef uint64_t k, ln
    cdef int st
    while pos < end:
        if end - pos < 8:
            return n, m, VARINT_TRUNCATED, pos
        r = <int64_t>load_be64(buf + pos)
        pos += 8
        st = get_uvarint(buf, &pos, end, &k)
        if st != VARINT_OK:
            return n, m, st, pos
        if k > <uint64_t>(end - pos):  # a label costs at least 2 bytes: cheap sanity bound
            return n, m, VARINT_TRUNCATED, pos
        for j in range(2 * <int64_t>k):
            st = get_uvarint(buf, &pos, end, &ln)
            if st != VARINT_OK:
                return n, m, st, pos
            if ln > <uint64_t>(end - pos):
                return n, m, VARINT_TRUNCATED, pos
            str_off[m] = pos
            str_len[m] = <int64_t>ln
            pos += <int64_t>ln
            m += 1
        refs[n] = r
        nlabels[n] = <int64_t>k
        n += 1
    return n, m, VARINT_OK, pos


def scan_series_body(buf, int64_t start, refs, nlabels, str_off, str_len):
    """Walk a series body: refs, label counts, and (offset, length) of every string.

    Strings come in name, value order. Returns (series count, string count,
    status, stop position). ``refs``/``nlabels`` (int64) must hold
    ``(len(buf) - start) // 9 + 1`` entries and ``str_off``/``str_len``
    ``len(buf) - start + 1`` (a string costs at least one length byte).
    """
    cdef const uint8_t *b = ro_u8(buf, "buf")
    cdef int64_t *rf = rw_i64(refs, "refs")
    cdef int64_t *nl = rw_i64(nlabels, "nlabels")
    cdef int64_t *so = rw_i64(str_off, "str_off")
    cdef int64_t *sn = rw_i64(str_len, "str_len")
    cdef int64_t end = length(buf)
    cdef int64_t nser = (end - start) // 9 + 1
    cdef int64_t nstr = end - start + 1
    cdef (int64_t, int64_t, int, int64_t) res
    if start < 0 or start > end:
        raise IndexError(f"start {start} outside the {end}-byte record")
    if length(refs) < nser or length(nlabels) < nser or length(str_off) < nstr or length(str_len) < nstr:
        raise IndexError("series body: output arrays too small")
    with nogil:
        res = _scan_series(b, start, end, rf, nl, so, sn)
    return res


cdef (int64_t, int, int64_t) _decode_tombstones(const uint8_t *buf, int64_t start, int64_t end, int64_t *refs,
                                                int64_t *mints, int64_t *maxts) noexcept nogil:
    cdef int64_t pos = start
    cdef int64_t n = 0
    cdef int64_t a, b
    cdef int st
    while pos < end:
        if end - pos < 8:
            return n, VARINT_TRUNCATED, pos
        refs[n] = <int64_t>load_be64(buf + pos)
        pos += 8
        st = get_varint(buf, &pos, end, &a)
        if st != VARINT_OK:
            return n, st, pos
        st = get_varint(buf, &pos, end, &b)
        if st != VARINT_OK:
            return n, st, pos
        mints[n] = a
        maxts[n] = b
        n += 1
    return n, VARINT_OK, pos


def decode_tombstones_body(buf, int64_t start, refs, mints, maxts):
    """Decode a tombstones body; returns (count, status, stop position).

    The output arrays (int64) must hold ``(len(buf) - start) // 10 + 1`` entries.
    """
    cdef const uint8_t *b = ro_u8(buf, "buf")
    cdef int64_t *rf = rw_i64(refs, "refs")
    cdef int64_t *lo = rw_i64(mints, "mints")
    cdef int64_t *hi = rw_i64(maxts, "maxts")
    cdef int64_t end = length(buf)
    cdef int64_t cap = (end - start) // 10 + 1
    cdef (int64_t, int, int64_t) res
    if start < 0 or start > end:
        raise IndexError(f"start {start} outside the {end}-byte record")
    if length(refs) < cap or length(mints) < cap or length(maxts) < cap:
        raise IndexError("tombstones body: output arrays too small")
    with nogil:
        res = _decode_tombstones(b, start, end, rf, lo, hi)
    return res


def encode_tombstones_body(out, refs, mints, maxts):
    """Write a tombstones body into ``out`` (``28 * len(refs)`` bytes); returns its length."""
    cdef uint8_t *o = rw_u8(out, "out")
    cdef const int64_t *rf = ro_i64(refs, "refs")
    cdef const int64_t *lo = ro_i64(mints, "mints")
    cdef const int64_t *hi = ro_i64(maxts, "maxts")
    cdef int64_t n = length(refs)
    cdef int64_t pos = 0, i
    if n == 0:
        return 0
    if length(mints) < n or length(maxts) < n or length(out) < 28 * n:
        raise IndexError(f"tombstones body: {length(out)} bytes of room for {n} intervals")
    with nogil:
        for i in range(n):
            store_be64(o + pos, <uint64_t>rf[i])
            pos += 8
            pos = put_varint(o, pos, lo[i])
            pos = put_varint(o, pos, hi[i])
    return pos
