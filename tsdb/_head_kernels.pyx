# cython: language_level=3
"""The compiled part of :mod:`tsdb.head_kernels` and :mod:`tsdb.head_chunks` (built ahead of time, see setup.py).

The strategy, the status codes and the sealing rules are documented in
head_kernels.py, which re-exports these functions. Every ``def`` releases
the GIL for its loop (the compactor thread runs beside the appenders).
Arrays come with the exact dtypes the head allocates (see ``Head.__init__``):
a typed memoryview rejects any other, where numba would have compiled a
second version.
"""

import numpy as np

from libc.stdint cimport int8_t, int32_t, int64_t, uint8_t, uint64_t
from libc.string cimport memcpy, memset

from tsdb.codec._bits cimport clz64, ctz64

# the codes of tsdb.head_kernels
cdef enum:
    OK = 0
    OUT_OF_ORDER = 1
    DUPLICATE_SAME = 2
    DUPLICATE_DIFFERENT = 3
    OUT_OF_BOUNDS = 4
    WORST_SAMPLE_BYTES = 20
    NO_WINDOW = 0xFF
    IN_ORDER = 0
    OUT_OF_ORDER_OK = 1
    TOO_OLD = 2


cdef inline int64_t _floordiv(int64_t a, int64_t b) noexcept nogil:
    """Python's ``a // b`` (rounds toward -inf; C's ``/`` truncates toward 0), for b != 0."""
    cdef int64_t q = a / b
    if (a % b != 0) and ((a < 0) != (b < 0)):
        q -= 1
    return q


cdef inline int64_t _put(uint8_t *row, int64_t pos, uint64_t x, int64_t nbits) noexcept nogil:
    """OR the low ``nbits`` bits of uint64 ``x`` into ``row`` at bit ``pos`` (MSB first)."""
    cdef int64_t idx, free, take
    cdef uint64_t chunk
    while nbits > 0:
        idx = pos >> 3
        free = 8 - (pos & 7)
        take = free if free < nbits else nbits
        chunk = (x >> (nbits - take)) & (((<uint64_t>1) << take) - 1)
        row[idx] |= <uint8_t>(chunk << (free - take))
        pos += take
        nbits -= take
    return pos


cdef inline int64_t _put_uvarint(uint8_t *row, int64_t pos, uint64_t x) noexcept nogil:
    """Byte-aligned uvarint at bit ``pos`` (a multiple of 8)."""
    cdef int64_t idx = pos >> 3
    while x >= 0x80:
        row[idx] = <uint8_t>((x & 0x7F) | 0x80)
        x >>= 7
        idx += 1
    row[idx] = <uint8_t>x
    return (idx + 1) << 3


cdef inline int64_t _put_value(uint8_t *row, int64_t pos, int64_t s, int64_t new_bits, int64_t prev_bits,
                               uint8_t *lead, uint8_t *trail, int64_t *last_nb) noexcept nogil:
    """XOR-encode a value; ``*last_nb`` = bits of the final multi-bit field, or 0."""
    cdef uint64_t delta = (<uint64_t>new_bits) ^ (<uint64_t>prev_bits)
    cdef int64_t nl, nt, ol, ot, nb, sig
    if delta == 0:
        last_nb[0] = 0
        return _put(row, pos, 0, 1)
    pos = _put(row, pos, 1, 1)
    nl = clz64(delta)
    nt = ctz64(delta)
    if nl >= 32:
        nl = 31
    ol = lead[s]
    if ol != NO_WINDOW and nl >= ol and nt >= <int64_t>trail[s]:
        ot = trail[s]
        pos = _put(row, pos, 0, 1)
        nb = 64 - ol - ot
        last_nb[0] = nb
        return _put(row, pos, delta >> ot, nb)
    lead[s] = <uint8_t>nl
    trail[s] = <uint8_t>nt
    sig = 64 - nl - nt
    pos = _put(row, pos, 1, 1)
    pos = _put(row, pos, <uint64_t>nl, 5)
    pos = _put(row, pos, <uint64_t>(sig & 63), 6)
    last_nb[0] = sig
    return _put(row, pos, delta >> nt, sig)


cdef inline int64_t _put_dod(uint8_t *row, int64_t pos, int64_t dod) noexcept nogil:
    cdef uint64_t u = <uint64_t>dod
    if dod == 0:
        return _put(row, pos, 0, 1)
    if -8191 <= dod <= 8192:
        pos = _put(row, pos, 0b10, 2)
        return _put(row, pos, u, 14)
    if -65535 <= dod <= 65536:
        pos = _put(row, pos, 0b110, 3)
        return _put(row, pos, u, 17)
    if -524287 <= dod <= 524288:
        pos = _put(row, pos, 0b1110, 4)
        return _put(row, pos, u, 20)
    pos = _put(row, pos, 0b1111, 4)
    return _put(row, pos, u, 64)


cdef inline int64_t _seal(int64_t s, int64_t r, uint8_t[:, ::1] slab, int32_t[::1] nsamp, int32_t[::1] nbits,
                          uint8_t[::1] extra, const int64_t[::1] first_t, const int64_t[::1] last_t,
                          uint8_t[::1] lead, uint8_t[::1] stage, int64_t stage_pos, int64_t k,
                          int64_t[::1] st_ref, int64_t[::1] st_off, int64_t[::1] st_mint,
                          int64_t[::1] st_maxt) noexcept nogil:
    """Copy slot ``s``'s open chunk to the staging area as sealed chunk ``k``; reset the slot."""
    cdef int64_t nbytes = ((<int64_t>nbits[s] + 7) >> 3) + extra[s]
    st_ref[k] = r
    st_off[k] = stage_pos
    st_mint[k] = first_t[s]
    st_maxt[k] = last_t[r]
    memcpy(&stage[stage_pos], &slab[s, 0], nbytes)
    memset(&slab[s, 0], 0, nbytes)
    nsamp[s] = 0
    nbits[s] = 0
    extra[s] = 0
    lead[s] = NO_WINDOW
    return stage_pos + nbytes


cdef int64_t _append(int64_t start, const int64_t[::1] refs, const int64_t[::1] ts, const int64_t[::1] vbits,
                     int64_t min_valid_t, int64_t block_range, int64_t max_samples,
                     int64_t[::1] last_t, int64_t[::1] last_bits, const int64_t[::1] slot_of,
                     uint8_t[:, ::1] slab, int32_t[::1] nsamp, int32_t[::1] nbits, uint8_t[::1] extra,
                     int64_t[::1] first_t, int64_t[::1] prev_delta, uint8_t[::1] lead, uint8_t[::1] trail,
                     uint8_t[::1] stage, int64_t[::1] st_ref, int64_t[::1] st_off, int64_t[::1] st_mint,
                     int64_t[::1] st_maxt, int8_t[::1] status, int64_t *out_k, int64_t *out_spos) noexcept nogil:
    cdef int64_t width = slab.shape[1]
    cdef int64_t cap_bits = width * 8
    cdef int64_t k = 0
    cdef int64_t spos = 0
    cdef int64_t i, r, t, b, lt, s, n, pos, last_nb, d
    cdef uint64_t zz
    cdef uint8_t *row
    cdef uint8_t *lead_p = &lead[0]
    cdef uint8_t *trail_p = &trail[0]
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
            or <int64_t>nbits[s] + WORST_SAMPLE_BYTES * 8 > cap_bits
            or _floordiv(first_t[s], block_range) != _floordiv(t, block_range)
        ):
            if spos + width > stage.shape[0] or k + 1 >= st_ref.shape[0]:
                out_k[0] = k
                out_spos[0] = spos
                return i
            spos = _seal(s, r, slab, nsamp, nbits, extra, first_t, last_t, lead, stage, spos, k,
                         st_ref, st_off, st_mint, st_maxt)
            k += 1
            n = 0
        row = &slab[s, 0]
        if n == 0:
            pos = 16  # the 2-byte sample count comes first
            zz = ((<uint64_t>t) << 1) ^ (<uint64_t>(t >> 63))
            pos = _put_uvarint(row, pos, zz)
            pos = _put(row, pos, <uint64_t>b, 64)
            last_nb = 64
            first_t[s] = t
            lead[s] = NO_WINDOW
        elif n == 1:
            d = <int64_t>(<uint64_t>t - <uint64_t>lt)
            pos = _put_uvarint(row, nbits[s], <uint64_t>d)
            pos = _put_value(row, pos, s, b, last_bits[r], lead_p, trail_p, &last_nb)
            prev_delta[s] = d
        else:
            d = <int64_t>(<uint64_t>t - <uint64_t>lt)
            pos = _put_dod(row, nbits[s], <int64_t>(<uint64_t>d - <uint64_t>prev_delta[s]))
            pos = _put_value(row, pos, s, b, last_bits[r], lead_p, trail_p, &last_nb)
            prev_delta[s] = d
        n += 1
        nbits[s] = <int32_t>pos
        # Prometheus's bstream leaves an empty byte after a field written
        # byte-wise (whole bytes) that ends on a byte boundary: keep it, so
        # the chunk's bytes are Prometheus's bytes
        extra[s] = 1 if (last_nb > 0 and last_nb % 8 == 0 and pos % 8 == 0) else 0
        nsamp[s] = <int32_t>n
        row[0] = <uint8_t>(n >> 8)
        row[1] = <uint8_t>(n & 0xFF)
        last_t[r] = t
        last_bits[r] = b
        status[i] = OK
    out_k[0] = k
    out_spos[0] = spos
    return refs.shape[0]


def append_samples(
    int64_t start, const int64_t[::1] refs, const int64_t[::1] ts, const int64_t[::1] vbits,
    int64_t min_valid_t, int64_t block_range, int64_t max_samples,
    int64_t[::1] last_t, int64_t[::1] last_bits, const int64_t[::1] slot_of,
    uint8_t[:, ::1] slab, int32_t[::1] nsamp, int32_t[::1] nbits, uint8_t[::1] extra,
    int64_t[::1] first_t, int64_t[::1] prev_delta, uint8_t[::1] lead, uint8_t[::1] trail,
    uint8_t[::1] stage, int64_t[::1] st_ref, int64_t[::1] st_off, int64_t[::1] st_mint,
    int64_t[::1] st_maxt, int8_t[::1] status,
):
    """Append ``(refs[i], ts[i], vbits[i])`` for ``i >= start`` in order.

    Returns ``(sealed chunks, staged bytes, next i)``: when the staging area
    could not take another chunk, the kernel stops early and ``next i`` says
    where to resume after the caller emptied it (so the staging area is
    small and reused, not sized for the worst case of a whole batch).
    ``vbits`` are the float64 values viewed as int64. Sealed chunk ``k`` is
    ``stage[st_off[k]:st_off[k+1]]`` (the caller appends the end offset) of
    series ``st_ref[k]``. Block windows are ``t // block_range`` (floor, as
    Python's, also for negative timestamps).
    """
    cdef int64_t k = 0, spos = 0, nxt
    if block_range <= 0:
        raise ValueError(f"block_range must be positive, got {block_range}")
    with nogil:
        nxt = _append(start, refs, ts, vbits, min_valid_t, block_range, max_samples, last_t, last_bits,
                      slot_of, slab, nsamp, nbits, extra, first_t, prev_delta, lead, trail, stage, st_ref,
                      st_off, st_mint, st_maxt, status, &k, &spos)
    return k, spos, nxt


def seal_slots(
    const int64_t[::1] slots, const int64_t[::1] slot_ref, uint8_t[:, ::1] slab, int32_t[::1] nsamp,
    int32_t[::1] nbits, uint8_t[::1] extra, const int64_t[::1] first_t, const int64_t[::1] last_t,
    uint8_t[::1] lead, uint8_t[::1] stage, int64_t[::1] st_ref, int64_t[::1] st_off,
    int64_t[::1] st_mint, int64_t[::1] st_maxt,
):
    """Seal the open chunks of ``slots`` (those holding samples); returns (chunks, bytes)."""
    cdef int64_t k = 0, spos = 0, i, s
    with nogil:
        for i in range(slots.shape[0]):
            s = slots[i]
            if nsamp[s] == 0:
                continue
            spos = _seal(s, slot_ref[s], slab, nsamp, nbits, extra, first_t, last_t, lead, stage, spos, k,
                         st_ref, st_off, st_mint, st_maxt)
            k += 1
    return k, spos


cdef int64_t _merge_two(const int64_t[::1] a_t, const int64_t[::1] a_v, const int64_t[::1] a_edges,
                        const int64_t[::1] b_t, const int64_t[::1] b_v, const int64_t[::1] b_edges,
                        int64_t mint, int64_t maxt, int64_t[::1] out_t, int64_t[::1] out_v,
                        int64_t[::1] out_edges) noexcept nogil:
    cdef int64_t pos = 0
    cdef int64_t nrows = a_edges.shape[0] - 1
    cdef int64_t i, j, t
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


def merge_two(const int64_t[::1] a_t, const int64_t[::1] a_v, const int64_t[::1] a_edges,
              const int64_t[::1] b_t, const int64_t[::1] b_v, const int64_t[::1] b_edges,
              int64_t mint, int64_t maxt, int64_t[::1] out_t, int64_t[::1] out_v, int64_t[::1] out_edges):
    """Per row: rows of CSR set ``a`` then of ``b``, clipped to ``[mint, maxt]``; returns samples written.

    Values travel as int64 bit patterns.
    """
    cdef int64_t n
    with nogil:
        n = _merge_two(a_t, a_v, a_edges, b_t, b_v, b_edges, mint, maxt, out_t, out_v, out_edges)
    return n


def gather_bytes(const uint8_t[::1] src, const int64_t[::1] offsets, const int64_t[::1] lengths,
                 uint8_t[::1] out):
    """Copy ``src[offsets[i]:offsets[i]+lengths[i]]`` for each i into ``out`` back to back."""
    cdef int64_t pos = 0, i, n
    with nogil:
        for i in range(offsets.shape[0]):
            n = lengths[i]
            if n > 0:
                memcpy(&out[pos], &src[offsets[i]], n)
            pos += n
    return pos


def classify_out_of_order(const int64_t[::1] refs, const int64_t[::1] ts, int64_t[::1] last_t,
                          int64_t min_valid_t, int64_t ooo_min_t, int8_t[::1] out):
    """Sort a batch into in-order, out-of-order and too-old samples, as Prometheus's ``appendable``.

    A sample is in order when it is at or after ``min_valid_t`` and not before
    its series' newest sample so far, counting earlier samples of the same
    batch (``t`` equal to the newest is left to the head, which accepts an
    identical duplicate and rejects another value). Otherwise it is
    out-of-order when ``t >= ooo_min_t`` (the head's newest sample minus the
    window), else too old. ``last_t`` is updated as the head would and then
    restored, so the caller's state is unchanged.
    """
    cdef int64_t n = refs.shape[0]
    cdef int64_t[::1] saved = np.empty(n, dtype=np.int64)
    cdef int64_t i, r, t, lt
    with nogil:
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


# -- the chunk lists of tsdb.head_chunks ------------------------------------------------

def link_chunks(const int32_t[::1] chunk_ids, const int32_t[::1] refs, int32_t[::1] first, int32_t[::1] last,
                int32_t[::1] nxt):
    """Append chunk ``chunk_ids[i]`` to the linked list of series ``refs[i]``, for each i in order."""
    cdef int64_t i
    cdef int32_t c, r
    with nogil:
        for i in range(chunk_ids.shape[0]):
            c = chunk_ids[i]
            r = refs[i]
            nxt[c] = -1
            if last[r] < 0:
                first[r] = c
            else:
                nxt[last[r]] = c
            last[r] = c


def collect_chunks(const int64_t[::1] refs, const int32_t[::1] first, const int32_t[::1] nxt,
                   const int64_t[::1] cmint, const int64_t[::1] cmaxt, int64_t mint, int64_t maxt,
                   int64_t[::1] out, int64_t[::1] counts):
    """Chunk ids of each ref's list overlapping ``[mint, maxt]`` into ``out``, per-ref ``counts``; returns the total."""
    cdef int64_t n = 0, i, r, k
    cdef int32_t c
    with nogil:
        for i in range(refs.shape[0]):
            r = refs[i]
            k = 0
            if 0 <= r < first.shape[0]:
                c = first[r]
                while c >= 0:
                    if cmaxt[c] >= mint and cmint[c] <= maxt:
                        out[n] = c
                        n += 1
                        k += 1
                    c = nxt[c]
            counts[i] = k
    return n
