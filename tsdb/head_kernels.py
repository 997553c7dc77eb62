"""Compiled kernels of the head's hot paths: appending samples into open XOR chunks.

Every live series owns a *slot*: a fixed-size row of a 2-D ``uint8`` array
(the slab) holding its open chunk, already XOR-encoded exactly as
Prometheus's ``xorAppender`` would encode it, plus a few encoder-state
integers in parallel arrays (bits used, previous delta, leading/trailing
window, chunk start time). An append writes the new sample's bits in place,
so the head keeps no raw samples and no per-series Python object: a series
costs its slab row (256 bytes by default) and ~40 bytes of state.

A chunk is *sealed* (its bytes copied to the staging area, then into
:class:`~tsdb.head_chunks.HeadChunks` by the caller) before a sample that

* would make it exceed ``max_samples`` (120, as Prometheus),
* falls in another block window than the chunk's first sample (so no head
  chunk straddles a block boundary and cutting a block is a selection), or
* might not fit in the slab row (the worst case for one sample is 20 bytes).

The kernel also enforces the ordering rules per sample, as Prometheus does:
see the status codes below. Values are compared as bit patterns, so a NaN
payload (the staleness marker) is a duplicate only of itself.

See docs/format/chunks.md for the bit layout this writes.
"""

from __future__ import annotations

import numba
import numpy as np

from .codec._intrinsics import clz64, ctz64

OK = 0
OUT_OF_ORDER = 1
DUPLICATE_SAME = 2  # identical duplicate: a no-op, not an error (as in Prometheus)
DUPLICATE_DIFFERENT = 3  # same timestamp, other value: rejected
OUT_OF_BOUNDS = 4  # older than the head's lower bound (already in a block)

NO_SAMPLE = np.iinfo(np.int64).min
#: most bytes one sample can add to a chunk (first sample: 2 + 10 + 8)
WORST_SAMPLE_BYTES = 20
NO_WINDOW = 0xFF


@numba.njit(cache=True, nogil=True, inline="always")
def _put(row, pos, x, nbits):
    """OR the low ``nbits`` bits of uint64 ``x`` into ``row`` at bit ``pos`` (MSB first)."""
    while nbits > 0:
        idx = pos >> 3
        free = 8 - (pos & 7)
        take = free if free < nbits else nbits
        chunk = (x >> np.uint64(nbits - take)) & np.uint64((1 << take) - 1)
        row[idx] |= np.uint8(chunk << np.uint64(free - take))
        pos += take
        nbits -= take
    return pos


@numba.njit(cache=True, nogil=True, inline="always")
def _put_uvarint(row, pos, x):
    """Byte-aligned uvarint at bit ``pos`` (a multiple of 8)."""
    idx = pos >> 3
    while x >= np.uint64(0x80):
        row[idx] = np.uint8((x & np.uint64(0x7F)) | np.uint64(0x80))
        x >>= np.uint64(7)
        idx += 1
    row[idx] = np.uint8(x)
    return (idx + 1) << 3


@numba.njit(cache=True, nogil=True, inline="always")
def _put_value(row, pos, s, new_bits, prev_bits, lead, trail):
    """XOR-encode a value; returns (bit position, bits of the final multi-bit field or 0)."""
    delta = np.uint64(new_bits) ^ np.uint64(prev_bits)
    if delta == np.uint64(0):
        return _put(row, pos, np.uint64(0), 1), 0
    pos = _put(row, pos, np.uint64(1), 1)
    nl = np.int64(clz64(delta))
    nt = np.int64(ctz64(delta))
    if nl >= 32:
        nl = 31
    ol = np.int64(lead[s])
    if ol != NO_WINDOW and nl >= ol and nt >= np.int64(trail[s]):
        ot = np.int64(trail[s])
        pos = _put(row, pos, np.uint64(0), 1)
        nb = 64 - ol - ot
        return _put(row, pos, delta >> np.uint64(ot), nb), nb
    lead[s] = nl
    trail[s] = nt
    sig = 64 - nl - nt
    pos = _put(row, pos, np.uint64(1), 1)
    pos = _put(row, pos, np.uint64(nl), 5)
    pos = _put(row, pos, np.uint64(sig & 63), 6)
    return _put(row, pos, delta >> np.uint64(nt), sig), sig


@numba.njit(cache=True, nogil=True, inline="always")
def _put_dod(row, pos, dod):
    if dod == 0:
        return _put(row, pos, np.uint64(0), 1)
    u = np.uint64(dod)
    if -8191 <= dod <= 8192:
        pos = _put(row, pos, np.uint64(0b10), 2)
        return _put(row, pos, u, 14)
    if -65535 <= dod <= 65536:
        pos = _put(row, pos, np.uint64(0b110), 3)
        return _put(row, pos, u, 17)
    if -524287 <= dod <= 524288:
        pos = _put(row, pos, np.uint64(0b1110), 4)
        return _put(row, pos, u, 20)
    pos = _put(row, pos, np.uint64(0b1111), 4)
    return _put(row, pos, u, 64)


@numba.njit(cache=True, nogil=True)
def _seal(s, r, slab, nsamp, nbits, extra, first_t, last_t, lead, stage, stage_pos, k, st_ref, st_off, st_mint, st_maxt):
    """Copy slot ``s``'s open chunk to the staging area as sealed chunk ``k``; reset the slot."""
    nbytes = ((nbits[s] + 7) >> 3) + extra[s]
    st_ref[k] = r
    st_off[k] = stage_pos
    st_mint[k] = first_t[s]
    st_maxt[k] = last_t[r]
    for j in range(nbytes):
        stage[stage_pos + j] = slab[s, j]
        slab[s, j] = 0
    nsamp[s] = 0
    nbits[s] = 0
    extra[s] = 0
    lead[s] = NO_WINDOW
    return stage_pos + nbytes


@numba.njit(cache=True, nogil=True)
def append_samples(
    start, refs, ts, vbits, min_valid_t, block_range, max_samples,
    last_t, last_bits, slot_of,
    slab, nsamp, nbits, extra, first_t, prev_delta, lead, trail,
    stage, st_ref, st_off, st_mint, st_maxt, status,
):
    """Append ``(refs[i], ts[i], vbits[i])`` for ``i >= start`` in order.

    Returns ``(sealed chunks, staged bytes, next i)``: when the staging area
    could not take another chunk, the kernel stops early and ``next i`` says
    where to resume after the caller emptied it (so the staging area is
    small and reused, not sized for the worst case of a whole batch).
    ``vbits`` are the float64 values viewed as int64. Sealed chunk ``k`` is
    ``stage[st_off[k]:st_off[k+1]]`` (the caller appends the end offset) of
    series ``st_ref[k]``.
    """
    width = slab.shape[1]
    cap_bits = width * 8
    k = 0
    spos = 0
    for i in range(start, refs.shape[0]):
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
        n = nsamp[s]
        if n > 0 and (
            n >= max_samples
            or nbits[s] + WORST_SAMPLE_BYTES * 8 > cap_bits
            or first_t[s] // block_range != t // block_range
        ):
            if spos + width > stage.shape[0] or k + 1 >= st_ref.shape[0]:
                return k, spos, i
            spos = _seal(s, r, slab, nsamp, nbits, extra, first_t, last_t, lead, stage, spos, k, st_ref, st_off, st_mint, st_maxt)
            k += 1
            n = 0
        row = slab[s]
        if n == 0:
            pos = 16  # the 2-byte sample count comes first
            zz = (np.uint64(t) << np.uint64(1)) ^ np.uint64(t >> 63)
            pos = _put_uvarint(row, pos, zz)
            pos = _put(row, pos, np.uint64(b), 64)
            last_nb = 64
            first_t[s] = t
            lead[s] = NO_WINDOW
        elif n == 1:
            d = t - lt
            pos = _put_uvarint(row, nbits[s], np.uint64(d))
            pos, last_nb = _put_value(row, pos, s, b, last_bits[r], lead, trail)
            prev_delta[s] = d
        else:
            d = t - lt
            pos = _put_dod(row, nbits[s], d - prev_delta[s])
            pos, last_nb = _put_value(row, pos, s, b, last_bits[r], lead, trail)
            prev_delta[s] = d
        n += 1
        nbits[s] = pos
        # Prometheus's bstream leaves an empty byte after a field written
        # byte-wise (whole bytes) that ends on a byte boundary: keep it, so
        # the chunk's bytes are Prometheus's bytes
        extra[s] = 1 if (last_nb > 0 and last_nb % 8 == 0 and pos % 8 == 0) else 0
        nsamp[s] = n
        row[0] = np.uint8(n >> 8)
        row[1] = np.uint8(n & 0xFF)
        last_t[r] = t
        last_bits[r] = b
        status[i] = OK
    return k, spos, refs.shape[0]


@numba.njit(cache=True, nogil=True)
def seal_slots(
    slots, slot_ref, slab, nsamp, nbits, extra, first_t, last_t, lead,
    stage, st_ref, st_off, st_mint, st_maxt,
):
    """Seal the open chunks of ``slots`` (those holding samples); returns (chunks, bytes)."""
    k = 0
    spos = 0
    for i in range(slots.shape[0]):
        s = slots[i]
        if nsamp[s] == 0:
            continue
        spos = _seal(s, slot_ref[s], slab, nsamp, nbits, extra, first_t, last_t, lead, stage, spos, k, st_ref, st_off, st_mint, st_maxt)
        k += 1
    return k, spos


@numba.njit(cache=True, nogil=True)
def merge_two(a_t, a_v, a_edges, b_t, b_v, b_edges, mint, maxt, out_t, out_v, out_edges):
    """Per row: rows of CSR set ``a`` then of ``b``, clipped to ``[mint, maxt]``; returns samples written.

    Values travel as int64 bit patterns.
    """
    pos = 0
    nrows = a_edges.shape[0] - 1
    for i in range(nrows):
        out_edges[i] = pos
        for j in range(a_edges[i], a_edges[i + 1]):
            t = a_t[j]
            if t >= mint and t <= maxt:
                out_t[pos] = t
                out_v[pos] = a_v[j]
                pos += 1
        for j in range(b_edges[i], b_edges[i + 1]):
            t = b_t[j]
            if t >= mint and t <= maxt:
                out_t[pos] = t
                out_v[pos] = b_v[j]
                pos += 1
    out_edges[nrows] = pos
    return pos


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


#: classes of :func:`classify_out_of_order`
IN_ORDER = 0  # for the in-order head (which may still reject it: duplicate, out of bounds, out of order)
OUT_OF_ORDER_OK = 1  # for the out-of-order head: inside the window
TOO_OLD = 2  # older than the out-of-order window: rejected


@numba.njit(cache=True, nogil=True)
def classify_out_of_order(refs, ts, last_t, min_valid_t, ooo_min_t, out):
    """Sort a batch into in-order, out-of-order and too-old samples, as Prometheus's ``appendable``.

    A sample is in order when it is at or after ``min_valid_t`` and not before
    its series' newest sample so far, counting earlier samples of the same
    batch (``t`` equal to the newest is left to the head, which accepts an
    identical duplicate and rejects another value). Otherwise it is
    out-of-order when ``t >= ooo_min_t`` (the head's newest sample minus the
    window), else too old. ``last_t`` is updated as the head would and then
    restored, so the caller's state is unchanged.
    """
    n = refs.shape[0]
    saved = np.empty(n, dtype=np.int64)
    for i in range(n):
        saved[i] = last_t[refs[i]]
    for i in range(n):
        r = refs[i]
        t = ts[i]
        lt = last_t[r]
        if t >= min_valid_t and t >= lt:
            out[i] = IN_ORDER
            if t > lt:
                last_t[r] = t
        elif t >= ooo_min_t:
            out[i] = OUT_OF_ORDER_OK
        else:
            out[i] = TOO_OLD
    for i in range(n - 1, -1, -1):
        last_t[refs[i]] = saved[i]
