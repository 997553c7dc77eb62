"""Compiled kernels for Prometheus's WAL record bodies: a batch per call, no Python loop per sample.

Prometheus's records mix fixed big-endian words with Go varints, so a sample's
position in the body depends on the lengths of every varint before it: the
decoder has to walk the bytes in order, which numpy cannot express. These
kernels do the walk; records.py wraps them in pure functions (arrays in, bytes
out, and back).

Layouts (Prometheus ``tsdb/record``; docs/format/wal.md#records):

* samples: ``ref0 <be64> t0 <be64>`` then per sample
  ``varint(ref - ref0) varint(t - t0) value <be64 bits>``;
* series: per series ``ref <be64> uvarint(#labels)`` then per label
  ``uvarint(len) name uvarint(len) value``;
* tombstones: per interval ``ref <be64> varint(mint) varint(maxt)``.

The kernels never raise (numba kernels should not): decoders return a status
(the varint codes of ``tsdb.codec.varint``: 0 = OK, 1 = truncated, 2 = overflow) and the
position where they stopped; records.py turns that into a ``CorruptError``.
Every read is bounds-checked against the buffer length.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..codec.varint import VARINT_OK as OK
from ..codec.varint import VARINT_TRUNCATED as TRUNCATED
from ..codec.varint import get_uvarint as _get_uvarint
from ..codec.varint import get_varint as _get_varint
from ..codec.varint import put_varint as _put_varint


@njit(cache=True, nogil=True, inline="always")
def _put_be64(out, pos, u):
    for k in range(8):
        out[pos + k] = np.uint8((u >> np.uint64(56 - 8 * k)) & np.uint64(0xFF))
    return pos + 8


@njit(cache=True, nogil=True, inline="always")
def _get_be64(buf, pos):
    u = np.uint64(0)
    for k in range(8):
        u = (u << np.uint64(8)) | np.uint64(buf[pos + k])
    return u


@njit(cache=True, nogil=True)
def encode_samples_body(out, refs, ts, bits):
    """Write a samples record body (after the type byte) into ``out``; returns its length.

    ``out`` must hold ``16 + 28 * len(refs)`` bytes (two 10-byte varints and
    8 value bytes per sample at most). Empty input writes nothing, as
    Prometheus's encoder does.
    """
    n = len(refs)
    if n == 0:
        return 0
    r0 = refs[0]
    t0 = ts[0]
    pos = _put_be64(out, 0, np.uint64(r0))
    pos = _put_be64(out, pos, np.uint64(t0))
    for i in range(n):
        pos = _put_varint(out, pos, refs[i] - r0)
        pos = _put_varint(out, pos, ts[i] - t0)
        pos = _put_be64(out, pos, np.uint64(bits[i]))
    return pos


@njit(cache=True, nogil=True)
def decode_samples_body(buf, start, refs, ts, bits):
    """Decode a samples body starting at ``start``; returns (count, status, stop position).

    ``refs``/``ts``/``bits`` must hold ``(len(buf) - start - 16) // 10 + 1``
    entries (the most a body of that size can carry).
    """
    end = len(buf)
    if start == end:
        return 0, OK, start
    if end - start < 16:
        return 0, TRUNCATED, start
    r0 = np.int64(_get_be64(buf, start))
    t0 = np.int64(_get_be64(buf, start + 8))
    pos = start + 16
    n = 0
    while pos < end:
        dr, pos, st = _get_varint(buf, pos, end)
        if st != OK:
            return n, st, pos
        dt, pos, st = _get_varint(buf, pos, end)
        if st != OK:
            return n, st, pos
        if end - pos < 8:
            return n, TRUNCATED, pos
        refs[n] = r0 + dr
        ts[n] = t0 + dt
        bits[n] = np.int64(_get_be64(buf, pos))
        pos += 8
        n += 1
    return n, OK, pos


@njit(cache=True, nogil=True)
def scan_series_body(buf, start, refs, nlabels, str_off, str_len):
    """Walk a series body: refs, label counts, and (offset, length) of every string.

    Strings come in name, value order. Returns (series count, string count,
    status, stop position). ``refs``/``nlabels`` must hold
    ``(len(buf) - start) // 9 + 1`` entries and ``str_off``/``str_len``
    ``len(buf) - start + 1`` (a string costs at least one length byte).
    """
    end = len(buf)
    pos = start
    n = 0
    m = 0
    while pos < end:
        if end - pos < 8:
            return n, m, TRUNCATED, pos
        r = np.int64(_get_be64(buf, pos))
        pos += 8
        k, pos, st = _get_uvarint(buf, pos, end)
        if st != OK:
            return n, m, st, pos
        if k > np.uint64(end - pos):  # a label costs at least 2 bytes: cheap sanity bound
            return n, m, TRUNCATED, pos
        for _ in range(2 * np.int64(k)):
            ln, pos, st = _get_uvarint(buf, pos, end)
            if st != OK:
                return n, m, st, pos
            if ln > np.uint64(end - pos):
                return n, m, TRUNCATED, pos
            str_off[m] = pos
            str_len[m] = np.int64(ln)
            pos += np.int64(ln)
            m += 1
        refs[n] = r
        nlabels[n] = np.int64(k)
        n += 1
    return n, m, OK, pos


@njit(cache=True, nogil=True)
def decode_tombstones_body(buf, start, refs, mints, maxts):
    """Decode a tombstones body; returns (count, status, stop position)."""
    end = len(buf)
    pos = start
    n = 0
    while pos < end:
        if end - pos < 8:
            return n, TRUNCATED, pos
        refs[n] = np.int64(_get_be64(buf, pos))
        pos += 8
        a, pos, st = _get_varint(buf, pos, end)
        if st != OK:
            return n, st, pos
        b, pos, st = _get_varint(buf, pos, end)
        if st != OK:
            return n, st, pos
        mints[n] = a
        maxts[n] = b
        n += 1
    return n, OK, pos


@njit(cache=True, nogil=True)
def encode_tombstones_body(out, refs, mints, maxts):
    """Write a tombstones body into ``out`` (``28 * len(refs)`` bytes); returns its length."""
    pos = 0
    for i in range(len(refs)):
        pos = _put_be64(out, pos, np.uint64(refs[i]))
        pos = _put_varint(out, pos, mints[i])
        pos = _put_varint(out, pos, maxts[i])
    return pos
