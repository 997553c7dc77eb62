# cython: language_level=3
"""The compiled part of :mod:`query.eval_range` (built ahead of time, see setup.py).

One pass per series: two pointers (first sample after the window start, first
after its end) advance with the steps, and each window is reduced by
:func:`query._window.window`. ``rate``/``increase``/``resets``/``changes``
read a prefix sum of the counter-reset correction (or of the count) instead
of walking the window.
"""

from libc.math cimport isnan
from libc.stdint cimport int64_t, uint8_t
from libc.stdlib cimport calloc, free, malloc

from query._window cimport (OP_CHANGES, OP_INCREASE, OP_MAD, OP_QUANTILE, OP_RATE, OP_RESETS, extrapolated_idx,
                            window)


cdef int _run(int op, const int64_t[::1] ts, const double[::1] vs, const int64_t[::1] edges,
              const int64_t[::1] ends, int64_t range_ms, const double[::1] p1, const double[::1] p2,
              double[:, ::1] out_v, uint8_t[:, ::1] out_p) noexcept nogil:
    """Returns 0, or -1 when memory ran out."""
    cdef Py_ssize_t n = edges.shape[0] - 1
    cdef Py_ssize_t n_steps = ends.shape[0]
    cdef Py_ssize_t n_samples = vs.shape[0]
    cdef double range_s = <double>range_ms / 1000.0
    cdef bint prefix = op == OP_CHANGES or op == OP_RESETS or op == OP_RATE or op == OP_INCREASE
    cdef double* acc = NULL
    cdef double* scratch = NULL
    cdef Py_ssize_t i, j, k, a, b, lo, hi
    cdef int64_t end, start, prev_end
    cdef double x, y, inc, c, val
    cdef const int64_t* tp = &ts[0] if n_samples else NULL
    cdef const double* vp = &vs[0] if n_samples else NULL
    cdef bint ok
    if prefix:
        # acc[k] = sum over samples 1..k of the series of the reset correction (or of the resets/changes count);
        # acc[first sample of a series] = 0.
        acc = <double*>calloc(n_samples + 1, sizeof(double))
        if acc == NULL:
            return -1
        for i in range(n):
            a = edges[i]
            for k in range(a + 1, edges[i + 1]):
                x = vs[k]
                y = vs[k - 1]
                if op == OP_CHANGES:
                    inc = 1.0 if (x != y and not (isnan(x) and isnan(y))) else 0.0
                elif op == OP_RESETS:
                    inc = 1.0 if x < y else 0.0
                else:
                    inc = y if x < y else 0.0
                acc[k] = acc[k - 1] + inc
    elif op == OP_QUANTILE or op == OP_MAD:
        scratch = <double*>malloc((n_samples + 1) * sizeof(double))
        if scratch == NULL:
            return -1
    for i in range(n):
        a = edges[i]
        b = edges[i + 1]
        lo = a
        hi = a
        prev_end = ends[0] if n_steps else 0
        for j in range(n_steps):
            end = ends[j]
            start = end - range_ms
            if end < prev_end:
                lo = a
                hi = a
            prev_end = end
            while hi < b and ts[hi] <= end:
                hi += 1
            while lo < hi and ts[lo] <= start:
                lo += 1
            if hi == lo:
                continue
            if prefix:
                c = acc[hi - 1] - acc[lo]
                if op == OP_CHANGES or op == OP_RESETS:
                    out_v[i, j] = c
                    out_p[i, j] = 1
                    continue
                ok = extrapolated_idx(tp, vp, lo, hi, start, end, op == OP_RATE, range_s, c, &val)
            else:
                ok = window(op, tp + lo, vp + lo, hi - lo, start, end, range_s, p1[j], p2[j], scratch, &val)
            if ok:
                out_v[i, j] = val
                out_p[i, j] = 1
    free(acc)
    free(scratch)
    return 0


def run_range(int op, const int64_t[::1] ts, const double[::1] vs, const int64_t[::1] edges,
              const int64_t[::1] ends, int64_t range_ms, const double[::1] p1, const double[::1] p2,
              double[:, ::1] out_v, uint8_t[:, ::1] out_p):
    """Fill ``out_v``/``out_p`` (series x steps) with range function ``op`` over the windows ``(end - range, end]``.

    ``ts``/``vs`` hold every series' samples (CSR: series i is ``edges[i]:edges[i + 1]``),
    ``ends`` the step times (ms), ``p1``/``p2`` the per-step scalar parameters. Runs without the GIL.
    """
    cdef int rc
    if edges.shape[0] < 1 or out_v.shape[0] < edges.shape[0] - 1 or out_v.shape[1] < ends.shape[0] or (
            out_p.shape[0] < out_v.shape[0] or out_p.shape[1] < out_v.shape[1]) or (
            p1.shape[0] < ends.shape[0] or p2.shape[0] < ends.shape[0]) or ts.shape[0] < vs.shape[0]:
        raise ValueError("BUG: run_range: inconsistent array shapes")
    with nogil:
        rc = _run(op, ts, vs, edges, ends, range_ms, p1, p2, out_v, out_p)
    if rc:
        raise MemoryError()
