# cython: language_level=3
"""The compiled part of :mod:`query.eval_aggregations` (built ahead of time, see setup.py).

Rows arrive ordered by group (``order``, group ``g`` is ``order[starts[g]:starts[g + 1]]``).
For every (group, step) cell the present values of the group's rows are gathered
into a buffer and reduced by the window reducers the range functions use.
"""

from libc.math cimport isnan, sqrt
from libc.stdint cimport int64_t, uint8_t
from libc.stdlib cimport free, malloc

from query._window cimport OP_STDDEV, OP_STDVAR, window


cdef int _reduce(int op, const double[:, :] values, const uint8_t[:, :] present, const int64_t[::1] order,
                 const int64_t[::1] starts, const double[::1] param, double[:, ::1] out_v,
                 uint8_t[:, ::1] out_p) noexcept nogil:
    cdef Py_ssize_t n_groups = starts.shape[0] - 1
    cdef Py_ssize_t n_steps = values.shape[1]
    cdef Py_ssize_t n_rows = order.shape[0] if order.shape[0] > 0 else 1
    cdef double* buf = <double*>malloc(n_rows * sizeof(double))
    cdef double* scratch = <double*>malloc(n_rows * sizeof(double))
    cdef int64_t dummy = 0
    cdef Py_ssize_t g, j, r, k, i, a, b
    cdef int64_t row
    cdef double mean, m2, d, val
    cdef bint ok
    if buf == NULL or scratch == NULL:
        free(buf)
        free(scratch)
        return -1
    for g in range(n_groups):
        a = starts[g]
        b = starts[g + 1]
        for j in range(n_steps):
            k = 0
            for r in range(a, b):
                row = order[r]
                if present[row, j]:
                    buf[k] = values[row, j]
                    k += 1
            if k == 0:
                continue
            if op == OP_STDVAR or op == OP_STDDEV:
                # The aggregators use plain Welford (the *_over_time functions add Kahan terms).
                mean = 0.0
                m2 = 0.0
                for i in range(k):
                    d = buf[i] - mean
                    mean += d / (i + 1)
                    m2 += d * (buf[i] - mean)
                out_v[g, j] = m2 / k if op == OP_STDVAR else sqrt(m2 / k)
                out_p[g, j] = 1
                continue
            ok = window(op, &dummy, buf, k, 0, 0, 1.0, param[j], 0.0, scratch, &val)
            out_v[g, j] = val
            out_p[g, j] = ok
    free(buf)
    free(scratch)
    return 0


def reduce_groups(int op, const double[:, :] values, const uint8_t[:, :] present, const int64_t[::1] order,
                  const int64_t[::1] starts, const double[::1] param, double[:, ::1] out_v, uint8_t[:, ::1] out_p):
    """Reduce every (group, step) cell with aggregation ``op`` (codes of ``query.eval_range.OPS``).

    ``present``/``out_p`` are bool matrices viewed as uint8. Runs without the GIL.
    """
    cdef int rc
    if present.shape[0] != values.shape[0] or present.shape[1] != values.shape[1] or (
            out_v.shape[0] < starts.shape[0] - 1 or out_v.shape[1] < values.shape[1]) or (
            out_p.shape[0] < out_v.shape[0] or out_p.shape[1] < out_v.shape[1]) or (
            param.shape[0] < values.shape[1]) or starts.shape[0] < 1:
        raise ValueError("BUG: reduce_groups: inconsistent array shapes")
    with nogil:
        rc = _reduce(op, values, present, order, starts, param, out_v, out_p)
    if rc:
        raise MemoryError()


cdef void _stable_argsort(const double* keys, Py_ssize_t n, int64_t* idx, int64_t* tmp) noexcept nogil:
    """Indices sorting ``keys[:n]`` (no NaNs) ascending; equal keys keep their order (numpy's mergesort).

    Insertion sort of runs of 16, then bottom-up merges: stable, ``O(n log n)``.
    """
    cdef Py_ssize_t i, j, lo, mid, hi, p, q, o, width
    cdef int64_t x
    cdef int64_t* src = idx
    cdef int64_t* dst = tmp
    cdef int64_t* sw
    for i in range(n):
        idx[i] = i
    lo = 0
    while lo < n:
        hi = lo + 16 if lo + 16 < n else n
        for i in range(lo + 1, hi):
            x = idx[i]
            j = i
            while j > lo and keys[x] < keys[idx[j - 1]]:
                idx[j] = idx[j - 1]
                j -= 1
            idx[j] = x
        lo = hi
    width = 16
    while width < n:
        lo = 0
        while lo < n:
            mid = lo + width if lo + width < n else n
            hi = lo + 2 * width if lo + 2 * width < n else n
            p = lo
            q = mid
            o = lo
            while p < mid and q < hi:
                if keys[src[q]] < keys[src[p]]:
                    dst[o] = src[q]
                    q += 1
                else:
                    dst[o] = src[p]
                    p += 1
                o += 1
            while p < mid:
                dst[o] = src[p]
                p += 1
                o += 1
            while q < hi:
                dst[o] = src[q]
                q += 1
                o += 1
            lo = hi
        sw = src
        src = dst
        dst = sw
        width *= 2
    if src != idx:
        for i in range(n):
            idx[i] = src[i]


cdef int _topk(const double[:, :] values, const uint8_t[:, :] present, const int64_t[::1] order,
               const int64_t[::1] starts, const int64_t[::1] ks, bint bottom, uint8_t[:, :] out_p) noexcept nogil:
    cdef Py_ssize_t n_groups = starts.shape[0] - 1
    cdef Py_ssize_t n_steps = values.shape[1]
    cdef Py_ssize_t n_rows = order.shape[0] if order.shape[0] > 0 else 1
    cdef int64_t* rows = <int64_t*>malloc(n_rows * sizeof(int64_t))
    cdef int64_t* nans = <int64_t*>malloc(n_rows * sizeof(int64_t))
    cdef int64_t* idx = <int64_t*>malloc(n_rows * sizeof(int64_t))
    cdef int64_t* tmp = <int64_t*>malloc(n_rows * sizeof(int64_t))
    cdef double* keys = <double*>malloc(n_rows * sizeof(double))
    cdef Py_ssize_t g, j, r, a, b, c, nn, i, taken
    cdef int64_t k, row
    cdef double v
    if rows == NULL or nans == NULL or idx == NULL or tmp == NULL or keys == NULL:
        free(rows)
        free(nans)
        free(idx)
        free(tmp)
        free(keys)
        return -1
    for g in range(n_groups):
        a = starts[g]
        b = starts[g + 1]
        for j in range(n_steps):
            k = ks[j]
            if k < 1:
                continue
            c = 0
            nn = 0
            for r in range(a, b):
                row = order[r]
                if present[row, j]:
                    v = values[row, j]
                    if isnan(v):
                        nans[nn] = row
                        nn += 1
                    else:
                        keys[c] = v if bottom else -v
                        rows[c] = row
                        c += 1
            _stable_argsort(keys, c, idx, tmp)
            taken = 0
            for i in range(c):
                if taken >= k:
                    break
                out_p[rows[idx[i]], j] = 1
                taken += 1
            for i in range(nn):
                if taken >= k:
                    break
                out_p[nans[i], j] = 1
                taken += 1
    free(rows)
    free(nans)
    free(idx)
    free(tmp)
    free(keys)
    return 0


def topk(const double[:, :] values, const uint8_t[:, :] present, const int64_t[::1] order,
         const int64_t[::1] starts, const int64_t[::1] ks, bint bottom, uint8_t[:, :] out_p):
    """Mark in ``out_p`` the ``ks[j]`` largest (``bottom``: smallest) present values of each group at each step.

    Ties keep row order (a stable sort); NaNs come last, in row order. Runs without the GIL.
    """
    cdef int rc
    if present.shape[0] != values.shape[0] or present.shape[1] != values.shape[1] or (
            out_p.shape[0] != values.shape[0] or out_p.shape[1] != values.shape[1]) or (
            ks.shape[0] < values.shape[1]) or starts.shape[0] < 1:
        raise ValueError("BUG: topk: inconsistent array shapes")
    with nogil:
        rc = _topk(values, present, order, starts, ks, bottom, out_p)
    if rc:
        raise MemoryError()
