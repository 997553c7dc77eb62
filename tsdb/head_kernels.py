"""Compiled kernels of the head's hot paths.

A scrape appends one sample to each of many series; a backfill appends many
samples to one series. Both go through :func:`append_samples`, a numba loop
over the batch (numpy cannot express "reject if older than the newest sample
of *this* series, including the ones earlier in this batch").

Per-series state is a struct of arrays indexed by ref (``last_t``,
``last_bits``, ``slot``); the open buffers are indexed by *slot*
(``buf_t[slot, i]``, ``buf_v[slot, i]``, ``buf_n[slot]``), so that refs of
series that died can be left behind without keeping a buffer each.

A buffer is *flushed* (copied to the staging area, then encoded by the
caller into a head chunk) when it is full, or before a sample that falls in
another block window than the buffer's first sample: head chunks never
straddle a block boundary, so cutting a block is a selection, not a split.

Status codes per sample: see ``OK``... below. Values are compared as bit
patterns, so NaN payloads (the staleness marker) are duplicates only of
themselves.
"""

from __future__ import annotations

import numba
import numpy as np

OK = 0
OUT_OF_ORDER = 1
DUPLICATE_SAME = 2  # identical duplicate: a no-op, not an error (as in Prometheus)
DUPLICATE_DIFFERENT = 3  # same timestamp, other value: rejected
OUT_OF_BOUNDS = 4  # older than the head's lower bound (already in a block)

NO_SAMPLE = np.iinfo(np.int64).min


@numba.njit(cache=True, nogil=True)
def _window(t, block_range):
    # floor division that is right for negative timestamps too
    q = t // block_range
    return q


@numba.njit(cache=True, nogil=True)
def append_samples(
    refs, ts, vbits, min_valid_t, block_range,
    last_t, last_bits, slot_of, buf_t, buf_v, buf_n,
    stage_t, stage_v, stage_ref, stage_start, stage_count, status,
):
    """Append ``(refs[i], ts[i], vbits[i])`` in order; return the number of flushed buffers.

    ``vbits`` are the float64 values viewed as int64. Flushed buffers are
    copied to ``stage_t/stage_v`` (flat), described by ``stage_ref``,
    ``stage_start`` and ``stage_count``; the caller sizes the staging area
    for the worst case (see ``staging_capacity``).
    """
    cap = buf_t.shape[1]
    nflush = 0
    spos = 0
    for i in range(refs.shape[0]):
        r = refs[i]
        t = ts[i]
        b = vbits[i]
        lt = last_t[r]
        if t < min_valid_t:
            status[i] = OUT_OF_BOUNDS
            continue
        if t < lt:
            status[i] = OUT_OF_ORDER
            continue
        if t == lt:
            status[i] = DUPLICATE_SAME if b == last_bits[r] else DUPLICATE_DIFFERENT
            continue
        s = slot_of[r]
        n = buf_n[s]
        if n > 0 and (n == cap or _window(buf_t[s, 0], block_range) != _window(t, block_range)):
            stage_ref[nflush] = r
            stage_start[nflush] = spos
            stage_count[nflush] = n
            for j in range(n):
                stage_t[spos + j] = buf_t[s, j]
                stage_v[spos + j] = buf_v[s, j]
            spos += n
            nflush += 1
            n = 0
        buf_t[s, n] = t
        buf_v[s, n] = b
        buf_n[s] = n + 1
        last_t[r] = t
        last_bits[r] = b
        status[i] = OK
    return nflush


def staging_capacity(nsamples: int, nseries: int, cap: int) -> tuple[int, int]:
    """Worst-case (flushes, staged samples) for a batch of ``nsamples`` over ``nseries`` series.

    Every flush but the first of a series needs a full buffer of new
    samples... except window changes, which can flush after one sample; so
    the bound is one flush per sample, and every staged sample is either
    new or was already buffered (at most ``cap`` per series).
    """
    flushes = nsamples
    samples = nsamples + nseries * cap
    return flushes, samples


@numba.njit(cache=True, nogil=True)
def gather_bytes(src, offsets, lengths, out):
    """Copy ``src[offsets[i]:offsets[i]+lengths[i]]`` for each i into ``out`` back to back."""
    pos = 0
    for i in range(offsets.shape[0]):
        o = offsets[i]
        n = lengths[i]
        for j in range(n):
            out[pos + j] = src[o + j]
        pos += n
    return pos


@numba.njit(cache=True, nogil=True)
def merge_sealed_and_open(
    sealed_t, sealed_v, sealed_edges, refs, slot_of, buf_t, buf_v, buf_n, mint, maxt, out_t, out_v, out_edges
):
    """Per ref: its decoded sealed samples, then its open buffer, clipped to ``[mint, maxt]``.

    Writes CSR output (``out_edges`` has ``len(refs) + 1`` entries) and
    returns the number of samples written. ``buf_v`` holds value bits
    (int64); ``out_v`` is int64 too and viewed as float64 by the caller.
    """
    pos = 0
    for i in range(refs.shape[0]):
        out_edges[i] = pos
        for j in range(sealed_edges[i], sealed_edges[i + 1]):
            t = sealed_t[j]
            if t >= mint and t <= maxt:
                out_t[pos] = t
                out_v[pos] = sealed_v[j]
                pos += 1
        s = slot_of[refs[i]]
        if s >= 0:
            for j in range(buf_n[s]):
                t = buf_t[s, j]
                if t >= mint and t <= maxt:
                    out_t[pos] = t
                    out_v[pos] = buf_v[s, j]
                    pos += 1
    out_edges[refs.shape[0]] = pos
    return pos
