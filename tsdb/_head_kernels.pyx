# cython: language_level=3
"""The compiled part of :mod:`tsdb.head_kernels` and :mod:`tsdb.head_chunks` (built ahead of time, see setup.py).

The strategy, the status codes and the sealing rules are documented in
head_kernels.py, which re-exports these functions. Every ``def`` releases
the GIL for its loop (the compactor thread runs beside the appenders).
Arrays come with the exact dtypes the head allocates (see ``Head.__init__``),
C-contiguous; any other is rejected (``ValueError``, see ``_ndarray.pxd``)
instead of converted. Sizes the kernels index by (``refs`` into ref-indexed
arrays, slots into slot-indexed ones) are the caller's invariants, as they
always were: they are not checked per sample.
"""

import numpy as np

cimport numpy as cnp
from libc.stdint cimport int8_t, int32_t, int64_t, uint8_t, uint64_t
from libc.string cimport memcpy, memset

from tsdb._ndarray cimport length, ro_i32, ro_i64, ro_u8, rw_i8, rw_i32, rw_i64, rw_u8, rw_u8_2d
from tsdb.codec._bits cimport clz64, ctz64

cnp.import_array()

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



cdef struct _Slots:
    # the open chunks: slot-indexed (slab rows of ``width`` bytes)
    uint8_t *slab
    int64_t width
    int32_t *nsamp
    int32_t *nbits
    uint8_t *extra
    int64_t *first_t
    int64_t *prev_delta
    uint8_t *lead
    uint8_t *trail
    # ref-indexed
    int64_t *last_t
    int64_t *last_bits


cdef struct _Stage:
    uint8_t *data
    int64_t size
    int64_t *ref
    int64_t *off
    int64_t *mint
    int64_t *maxt
    int64_t nchunks


cdef inline int64_t _seal(int64_t s, int64_t r, _Slots *sl, _Stage *st, int64_t stage_pos,
                          int64_t k) noexcept nogil:
    """Copy slot ``s``'s open chunk to the staging area as sealed chunk ``k``; reset the slot."""
    cdef int64_t nbytes = ((<int64_t>sl.nbits[s] + 7) >> 3) + sl.extra[s]
    cdef uint8_t *row = sl.slab + s * sl.width
    st.ref[k] = r
    st.off[k] = stage_pos
    st.mint[k] = sl.first_t[s]
    st.maxt[k] = sl.last_t[r]
    memcpy(st.data + stage_pos, row, nbytes)
    memset(row, 0, nbytes)
    sl.nsamp[s] = 0
    sl.nbits[s] = 0
    sl.extra[s] = 0
    sl.lead[s] = NO_WINDOW
    return stage_pos + nbytes


cdef int64_t _append(int64_t start, int64_t nrefs, const int64_t *refs, const int64_t *ts, const int64_t *vbits,
                     int64_t min_valid_t, int64_t block_range, int64_t max_samples, const int64_t *slot_of,
                     _Slots *sl, _Stage *st, int8_t *status, int64_t *out_k, int64_t *out_spos) noexcept nogil:
    cdef int64_t width = sl.width
    cdef int64_t cap_bits = width * 8
    cdef int64_t k = 0
    cdef int64_t spos = 0
    cdef int64_t i, r, t, b, lt, s, n, pos, last_nb, d
    cdef uint64_t zz
    cdef uint8_t *row
    cdef int64_t *last_t = sl.last_t
    cdef int64_t *last_bits = sl.last_bits
    cdef int32_t *nsamp = sl.nsamp
    cdef int32_t *nbits = sl.nbits
    for i in range(start, nrefs):
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
            or _floordiv(sl.first_t[s], block_range) != _floordiv(t, block_range)
        ):
            if spos + width > st.size or k + 1 >= st.nchunks:
                out_k[0] = k
                out_spos[0] = spos
                return i
            spos = _seal(s, r, sl, st, spos, k)
            k += 1
            n = 0
        row = sl.slab + s * width
        if n == 0:
            pos = 16  # the 2-byte sample count comes first
            zz = ((<uint64_t>t) << 1) ^ (<uint64_t>(t >> 63))
            pos = _put_uvarint(row, pos, zz)
            pos = _put(row, pos, <uint64_t>b, 64)
            last_nb = 64
            sl.first_t[s] = t
            sl.lead[s] = NO_WINDOW
        elif n == 1:
            d = <int64_t>(<uint64_t>t - <uint64_t>lt)
            pos = _put_uvarint(row, nbits[s], <uint64_t>d)
            pos = _put_value(row, pos, s, b, last_bits[r], sl.lead, sl.trail, &last_nb)
            sl.prev_delta[s] = d
        else:
            d = <int64_t>(<uint64_t>t - <uint64_t>lt)
            pos = _put_dod(row, nbits[s], <int64_t>(<uint64_t>d - <uint64_t>sl.prev_delta[s]))
            pos = _put_value(row, pos, s, b, last_bits[r], sl.lead, sl.trail, &last_nb)
            sl.prev_delta[s] = d
        n += 1
        nbits[s] = <int32_t>pos
        # Prometheus's bstream leaves an empty byte after a field written
        # byte-wise (whole bytes) that ends on a byte boundary: keep it, so
        # the chunk's bytes are Prometheus's bytes
        sl.extra[s] = 1 if (last_nb > 0 and last_nb % 8 == 0 and pos % 8 == 0) else 0
        nsamp[s] = <int32_t>n
        row[0] = <uint8_t>(n >> 8)
        row[1] = <uint8_t>(n & 0xFF)
        last_t[r] = t
        last_bits[r] = b
        status[i] = OK
    out_k[0] = k
    out_spos[0] = spos
    return nrefs


cdef int _stage(_Stage *st, stage, st_ref, st_off, st_mint, st_maxt) except -1:
    st.data = rw_u8(stage, "stage")
    st.size = length(stage)
    st.ref = rw_i64(st_ref, "st_ref")
    st.off = rw_i64(st_off, "st_off")
    st.mint = rw_i64(st_mint, "st_mint")
    st.maxt = rw_i64(st_maxt, "st_maxt")
    st.nchunks = length(st_ref)
    if length(st_off) < st.nchunks or length(st_mint) < st.nchunks or length(st_maxt) < st.nchunks:
        raise ValueError("staging arrays differ in length")
    return 0


def append_samples(
    int64_t start, refs, ts, vbits, int64_t min_valid_t, int64_t block_range, int64_t max_samples,
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
    series ``st_ref[k]``. Block windows are ``t // block_range`` (floor, as
    Python's, also for negative timestamps).
    """
    cdef _Slots sl
    cdef _Stage st
    cdef const int64_t *r = ro_i64(refs, "refs")
    cdef int64_t n = length(refs)
    cdef const int64_t *t = ro_i64(ts, "ts")
    cdef const int64_t *v = ro_i64(vbits, "vbits")
    cdef const int64_t *so = ro_i64(slot_of, "slot_of")
    cdef int8_t *stat = rw_i8(status, "status")
    cdef int64_t k = 0, spos = 0, nxt
    sl.last_t = rw_i64(last_t, "last_t")
    sl.last_bits = rw_i64(last_bits, "last_bits")
    sl.slab = rw_u8_2d(slab, "slab")
    sl.width = cnp.PyArray_DIM(<cnp.ndarray>slab, 1)
    sl.nsamp = rw_i32(nsamp, "nsamp")
    sl.nbits = rw_i32(nbits, "nbits")
    sl.extra = rw_u8(extra, "extra")
    sl.first_t = rw_i64(first_t, "first_t")
    sl.prev_delta = rw_i64(prev_delta, "prev_delta")
    sl.lead = rw_u8(lead, "lead")
    sl.trail = rw_u8(trail, "trail")
    _stage(&st, stage, st_ref, st_off, st_mint, st_maxt)
    if length(ts) < n or length(vbits) < n or length(status) < n:
        raise ValueError("refs, ts, vbits and status differ in length")
    if block_range == 0:
        raise ZeroDivisionError("block_range is 0")
    with nogil:
        nxt = _append(start, n, r, t, v, min_valid_t, block_range, max_samples, so, &sl, &st, stat, &k, &spos)
    return k, spos, nxt


def seal_slots(
    slots, slot_ref, slab, nsamp, nbits, extra, first_t, last_t, lead, stage, st_ref, st_off, st_mint, st_maxt,
):
    """Seal the open chunks of ``slots`` (those holding samples); returns (chunks, bytes)."""
    cdef _Slots sl
    cdef _Stage st
    cdef const int64_t *sls = ro_i64(slots, "slots")
    cdef const int64_t *sref = ro_i64(slot_ref, "slot_ref")
    cdef int64_t n = length(slots)
    cdef int64_t k = 0, spos = 0, i, s
    sl.slab = rw_u8_2d(slab, "slab")
    sl.width = cnp.PyArray_DIM(<cnp.ndarray>slab, 1)
    sl.nsamp = rw_i32(nsamp, "nsamp")
    sl.nbits = rw_i32(nbits, "nbits")
    sl.extra = rw_u8(extra, "extra")
    sl.first_t = <int64_t *>ro_i64(first_t, "first_t")  # read only here
    sl.last_t = <int64_t *>ro_i64(last_t, "last_t")  # read only here
    sl.lead = rw_u8(lead, "lead")
    _stage(&st, stage, st_ref, st_off, st_mint, st_maxt)
    with nogil:
        for i in range(n):
            s = sls[i]
            if sl.nsamp[s] == 0:
                continue
            spos = _seal(s, sref[s], &sl, &st, spos, k)
            k += 1
    return k, spos


cdef int64_t _merge_two(const int64_t *a_t, const int64_t *a_v, const int64_t *a_edges,
                        const int64_t *b_t, const int64_t *b_v, const int64_t *b_edges, int64_t nrows,
                        int64_t mint, int64_t maxt, int64_t *out_t, int64_t *out_v,
                        int64_t *out_edges) noexcept nogil:
    cdef int64_t pos = 0
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


def merge_two(a_t, a_v, a_edges, b_t, b_v, b_edges, int64_t mint, int64_t maxt, out_t, out_v, out_edges):
    """Per row: rows of CSR set ``a`` then of ``b``, clipped to ``[mint, maxt]``; returns samples written.

    Values travel as int64 bit patterns. ``out_t``/``out_v`` must hold all
    samples of both sets, ``out_edges`` one more entry than there are rows.
    """
    cdef const int64_t *at = ro_i64(a_t, "a_t")
    cdef const int64_t *av = ro_i64(a_v, "a_v")
    cdef const int64_t *ae = ro_i64(a_edges, "a_edges")
    cdef const int64_t *bt = ro_i64(b_t, "b_t")
    cdef const int64_t *bv = ro_i64(b_v, "b_v")
    cdef const int64_t *be = ro_i64(b_edges, "b_edges")
    cdef int64_t *ot = rw_i64(out_t, "out_t")
    cdef int64_t *ov = rw_i64(out_v, "out_v")
    cdef int64_t *oe = rw_i64(out_edges, "out_edges")
    cdef int64_t nrows = length(a_edges) - 1
    cdef int64_t n
    if nrows < 0 or length(b_edges) < nrows + 1 or length(out_edges) < nrows + 1:
        raise ValueError("edges differ in length")
    with nogil:
        n = _merge_two(at, av, ae, bt, bv, be, nrows, mint, maxt, ot, ov, oe)
    return n


def gather_bytes(src, offsets, lengths, out):
    """Copy ``src[offsets[i]:offsets[i]+lengths[i]]`` for each i into ``out`` back to back."""
    cdef const uint8_t *sp = ro_u8(src, "src")
    cdef const int64_t *offs = ro_i64(offsets, "offsets")
    cdef const int64_t *lens = ro_i64(lengths, "lengths")
    cdef uint8_t *o = rw_u8(out, "out")
    cdef int64_t k = length(offsets)
    cdef int64_t pos = 0, i, n
    if length(lengths) < k:
        raise ValueError("offsets and lengths differ in length")
    with nogil:
        for i in range(k):
            n = lens[i]
            if n > 0:
                memcpy(o + pos, sp + offs[i], n)
            pos += n
    return pos


def classify_out_of_order(refs, ts, last_t, int64_t min_valid_t, int64_t ooo_min_t, out):
    """Sort a batch into in-order, out-of-order and too-old samples, as Prometheus's ``appendable``.

    A sample is in order when it is at or after ``min_valid_t`` and not before
    its series' newest sample so far, counting earlier samples of the same
    batch (``t`` equal to the newest is left to the head, which accepts an
    identical duplicate and rejects another value). Otherwise it is
    out-of-order when ``t >= ooo_min_t`` (the head's newest sample minus the
    window), else too old. ``last_t`` is updated as the head would and then
    restored, so the caller's state is unchanged.
    """
    cdef const int64_t *rf = ro_i64(refs, "refs")
    cdef const int64_t *tp = ro_i64(ts, "ts")
    cdef int64_t *lt_ = rw_i64(last_t, "last_t")
    cdef int8_t *o = rw_i8(out, "out")
    cdef int64_t n = length(refs)
    saved_arr = np.empty(n, dtype=np.int64)
    cdef int64_t *saved = rw_i64(saved_arr, "saved")
    cdef int64_t i, r, t, lt
    if length(ts) < n or length(out) < n:
        raise ValueError("refs, ts and out differ in length")
    with nogil:
        for i in range(n):
            saved[i] = lt_[rf[i]]
        for i in range(n):
            r = rf[i]
            t = tp[i]
            lt = lt_[r]
            if t >= min_valid_t and t >= lt:
                o[i] = IN_ORDER
                if t > lt:
                    lt_[r] = t
            elif t >= ooo_min_t:
                o[i] = OUT_OF_ORDER_OK
            else:
                o[i] = TOO_OLD
        for i in range(n - 1, -1, -1):
            lt_[rf[i]] = saved[i]


# -- the chunk lists of tsdb.head_chunks ------------------------------------------------

def link_chunks(chunk_ids, refs, first, last, nxt):
    """Append chunk ``chunk_ids[i]`` to the linked list of series ``refs[i]``, for each i in order."""
    cdef const int32_t *ids = ro_i32(chunk_ids, "chunk_ids")
    cdef const int32_t *rf = ro_i32(refs, "refs")
    cdef int32_t *fi = rw_i32(first, "first")
    cdef int32_t *la = rw_i32(last, "last")
    cdef int32_t *nx = rw_i32(nxt, "nxt")
    cdef int64_t n = length(chunk_ids)
    cdef int64_t i
    cdef int32_t c, r
    if length(refs) < n:
        raise ValueError("chunk_ids and refs differ in length")
    with nogil:
        for i in range(n):
            c = ids[i]
            r = rf[i]
            nx[c] = -1
            if la[r] < 0:
                fi[r] = c
            else:
                nx[la[r]] = c
            la[r] = c


def collect_chunks(refs, first, nxt, cmint, cmaxt, int64_t mint, int64_t maxt, out, counts):
    """Chunk ids of each ref's list overlapping ``[mint, maxt]`` into ``out``, per-ref ``counts``; returns the total."""
    cdef const int64_t *rf = ro_i64(refs, "refs")
    cdef const int32_t *fi = ro_i32(first, "first")
    cdef const int32_t *nx = ro_i32(nxt, "nxt")
    cdef const int64_t *lo = ro_i64(cmint, "cmint")
    cdef const int64_t *hi = ro_i64(cmaxt, "cmaxt")
    cdef int64_t *o = rw_i64(out, "out")
    cdef int64_t *cnt = rw_i64(counts, "counts")
    cdef int64_t nref = length(refs)
    cdef int64_t nfirst = length(first)
    cdef int64_t n = 0, i, r, k
    cdef int32_t c
    if length(counts) < nref:
        raise ValueError("refs and counts differ in length")
    with nogil:
        for i in range(nref):
            r = rf[i]
            k = 0
            if 0 <= r < nfirst:
                c = fi[r]
                while c >= 0:
                    if hi[c] >= mint and lo[c] <= maxt:
                        o[n] = c
                        n += 1
                        k += 1
                    c = nx[c]
            cnt[i] = k
    return n
