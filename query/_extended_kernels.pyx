# cython: language_level=3
"""The compiled part of :mod:`query.eval_extended` (``anchored``/``smoothed``; built ahead of time, see setup.py).

Two pointers per series (first sample after the window start, first after its end)
move forward with the steps, as in the range kernels, and find each window; its points (the anchor,
or the interpolated end points, and the samples in between) are reduced
without extrapolation.
"""

from libc.math cimport isnan
from libc.stdint cimport int64_t, uint8_t
from libc.stdlib cimport free, malloc

# the function codes of query.eval_extended._OPS
cdef enum:
    OP_INCREASE = 0
    OP_RATE = 1
    OP_DELTA = 2
    OP_CHANGES = 3
    OP_RESETS = 4


cdef extern from *:
    """
    /* What a counter reset adds to an increase: prev where cur < prev, else -0.0. x + -0.0 is x
       for every x (±0 and NaNs included), so adding -0.0 is the same as not adding, and the
       choice needs no branch: gcc keeps a floating-point ?: as a branch, which resets make
       unpredictable; with SSE2 a compare mask selects. The compare is ordered, as C's < is. */
    #if defined(__SSE2__)
    #include <emmintrin.h>
    static inline double promlite_reset_term(double cur, double prev) {
        __m128d p = _mm_set_sd(prev);
        __m128d m = _mm_cmplt_sd(_mm_set_sd(cur), p);
        return _mm_cvtsd_f64(_mm_or_pd(_mm_and_pd(m, p), _mm_andnot_pd(m, _mm_set_sd(-0.0))));
    }
    #else
    static inline double promlite_reset_term(double cur, double prev) { return cur < prev ? prev : -0.0; }
    #endif
    """
    double reset_term "promlite_reset_term"(double cur, double prev) noexcept nogil


cdef inline Py_ssize_t _advance(const int64_t* t, Py_ssize_t n, Py_ssize_t k, int64_t x) noexcept nogil:
    """The first index ``>= k`` whose value is > x (``np.searchsorted(t[:n], x, side="right")`` when
    ``t[:k]`` are all <= x): the pointers only move forward while the step times increase."""
    while k < n and t[k] <= x:
        k += 1
    return k


cdef inline double _interp(int64_t t1, double v1, int64_t t2, double v2, int64_t t, bint counter) noexcept nogil:
    if counter and v2 < v1:
        v1 = 0.0
    return v1 + (v2 - v1) * <double>(t - t1) / <double>(t2 - t1)


cdef inline double _points_value(int op, const double* pts, Py_ssize_t n, double range_s) noexcept nogil:
    cdef Py_ssize_t i, k
    cdef double r
    if op == OP_CHANGES or op == OP_RESETS:
        k = 0
        for i in range(1, n):
            if op == OP_CHANGES:
                if pts[i] != pts[i - 1] and not (isnan(pts[i]) and isnan(pts[i - 1])):
                    k += 1
            elif pts[i] < pts[i - 1]:
                k += 1
        return <double>k
    r = pts[n - 1] - pts[0]
    if op != OP_DELTA:
        for i in range(1, n):
            r += reset_term(pts[i], pts[i - 1])
    if op == OP_RATE:
        r /= range_s
    return r


cdef int _extended(int op, bint smoothed, const int64_t[::1] ts, const double[::1] vs, const int64_t[::1] edges,
                   const int64_t[::1] ends, int64_t range_ms, int64_t lookback, double[:, ::1] out_v,
                   uint8_t[:, ::1] out_p) noexcept nogil:
    cdef Py_ssize_t n = edges.shape[0] - 1
    cdef Py_ssize_t n_steps = ends.shape[0]
    cdef double range_s = <double>range_ms / 1000.0
    cdef bint counter = op != OP_DELTA
    cdef Py_ssize_t i, j, q, m, lo, hi, first, inner_hi, k, longest = 0
    cdef int64_t end, start, prev_end
    cdef const int64_t* t
    cdef const double* v
    cdef double sv, ev
    cdef double* pts = NULL
    if smoothed:
        for i in range(n):
            if edges[i + 1] - edges[i] > longest:
                longest = edges[i + 1] - edges[i]
        pts = <double*>malloc((longest + 2) * sizeof(double))
        if pts == NULL:
            return -1
    for i in range(n):
        m = edges[i + 1] - edges[i]
        t = &ts[0] + edges[i] if ts.shape[0] else NULL
        v = &vs[0] + edges[i] if vs.shape[0] else NULL
        lo = 0
        hi = 0
        prev_end = ends[0] if n_steps else 0
        for j in range(n_steps):
            end = ends[j]
            start = end - range_ms
            if end < prev_end:  # the steps went back: search from the start again
                lo = 0
                hi = 0
            prev_end = end
            hi = _advance(t, m, hi, end)
            lo = _advance(t, hi, lo, start)
            if not smoothed:
                if hi == lo:
                    continue
                first = lo
                if lo > 0 and t[lo - 1] > start - lookback:
                    first = lo - 1
                out_v[i, j] = _points_value(op, v + first, hi - first, range_s)
                out_p[i, j] = 1
                continue
            if hi == 0 or lo == m:
                continue
            if lo > 0 and t[lo - 1] > start - lookback:
                sv = _interp(t[lo - 1], v[lo - 1], t[lo], v[lo], start, counter)
            else:
                sv = v[lo]
            if hi < m:
                ev = _interp(t[hi - 1], v[hi - 1], t[hi], v[hi], end, counter)
            else:
                ev = v[hi - 1]
            inner_hi = hi - 1 if t[hi - 1] == end else hi
            k = inner_hi - lo if inner_hi > lo else 0
            pts[0] = sv
            for q in range(k):
                pts[q + 1] = v[lo + q]
            pts[k + 1] = ev
            out_v[i, j] = _points_value(op, pts, k + 2, range_s)
            out_p[i, j] = 1
    free(pts)
    return 0


def extended(int op, bint smoothed, const int64_t[::1] ts, const double[::1] vs, const int64_t[::1] edges,
             const int64_t[::1] ends, int64_t range_ms, int64_t lookback, double[:, ::1] out_v, uint8_t[:, ::1] out_p):
    """``anchored`` (or ``smoothed``) function ``op`` of every series (CSR ``edges``) at every step end.

    Runs without the GIL.
    """
    cdef int rc
    if edges.shape[0] < 1 or out_v.shape[0] < edges.shape[0] - 1 or out_v.shape[1] < ends.shape[0] or (
            out_p.shape[0] < out_v.shape[0] or out_p.shape[1] < out_v.shape[1]) or ts.shape[0] < vs.shape[0]:
        raise ValueError("BUG: extended: inconsistent array shapes")
    with nogil:
        rc = _extended(op, smoothed, ts, vs, edges, ends, range_ms, lookback, out_v, out_p)
    if rc:
        raise MemoryError()


cdef void _smoothed_instant(const int64_t[::1] ts, const double[::1] vs, const int64_t[::1] edges,
                            const int64_t[::1] times, int64_t lookback, double[:, ::1] out_v,
                            uint8_t[:, ::1] out_p) noexcept nogil:
    cdef Py_ssize_t i, j, m, hi
    cdef int64_t x, prev_x
    cdef const int64_t* t
    cdef const double* v
    for i in range(edges.shape[0] - 1):
        m = edges[i + 1] - edges[i]
        t = &ts[0] + edges[i] if ts.shape[0] else NULL
        v = &vs[0] + edges[i] if vs.shape[0] else NULL
        hi = 0
        prev_x = times[0] if times.shape[0] else 0
        for j in range(times.shape[0]):
            x = times[j]
            if x < prev_x:
                hi = 0
            prev_x = x
            hi = _advance(t, m, hi, x)
            if hi == 0 or t[hi - 1] <= x - lookback:
                continue
            if hi < m and t[hi - 1] != x:
                out_v[i, j] = _interp(t[hi - 1], v[hi - 1], t[hi], v[hi], x, False)
            else:
                out_v[i, j] = v[hi - 1]
            out_p[i, j] = 1


def smoothed_instant(const int64_t[::1] ts, const double[::1] vs, const int64_t[::1] edges,
                     const int64_t[::1] times, int64_t lookback, double[:, ::1] out_v, uint8_t[:, ::1] out_p):
    """An instant selector with ``smoothed``: each step's value interpolated between its neighbours.

    Runs without the GIL.
    """
    if edges.shape[0] < 1 or out_v.shape[0] < edges.shape[0] - 1 or out_v.shape[1] < times.shape[0] or (
            out_p.shape[0] < out_v.shape[0] or out_p.shape[1] < out_v.shape[1]) or ts.shape[0] < vs.shape[0]:
        raise ValueError("BUG: smoothed_instant: inconsistent array shapes")
    with nogil:
        _smoothed_instant(ts, vs, edges, times, lookback, out_v, out_p)
