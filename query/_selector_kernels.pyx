# cython: language_level=3
"""The compiled part of :mod:`query.eval_selectors` (built ahead of time, see setup.py)."""

from libc.stdint cimport int64_t, uint8_t


cdef void _pick(const int64_t[::1] ts, const double[::1] vs, const uint8_t[::1] stale, const int64_t[::1] edges,
                const int64_t[::1] times, int64_t lookback, double[:, ::1] out_v, uint8_t[:, ::1] out_p,
                int64_t[:, ::1] out_t) noexcept nogil:
    cdef Py_ssize_t n = edges.shape[0] - 1
    cdef Py_ssize_t n_steps = times.shape[0]
    cdef Py_ssize_t i, j, a, b, k, s
    cdef int64_t t, prev_t
    cdef bint want_t = out_t.shape[0] > 0
    for i in range(n):
        a = edges[i]
        b = edges[i + 1]
        k = a  # first index with ts > times[j]
        prev_t = times[0] if n_steps else 0
        for j in range(n_steps):
            t = times[j]
            if t < prev_t:
                k = a
            prev_t = t
            while k < b and ts[k] <= t:
                k += 1
            if k == a:
                continue
            s = k - 1
            if ts[s] <= t - lookback or stale[s]:
                continue
            out_v[i, j] = vs[s]
            out_p[i, j] = 1
            if want_t:
                out_t[i, j] = ts[s]


def pick(const int64_t[::1] ts, const double[::1] vs, const uint8_t[::1] stale, const int64_t[::1] edges,
         const int64_t[::1] times, int64_t lookback, double[:, ::1] out_v, uint8_t[:, ::1] out_p,
         int64_t[:, ::1] out_t):
    """Each series' (CSR ``edges``) latest sample in ``(t - lookback, t]`` at every step ``t``; a stale one is absent.

    One pointer per series walks the step times (reset where they go back). Runs without the GIL.
    An ``out_t`` with no rows asks for no sample timestamps (they cost 8 bytes a cell).
    """
    if edges.shape[0] < 1 or out_v.shape[0] < edges.shape[0] - 1 or out_v.shape[1] < times.shape[0] or (
            out_p.shape[0] < out_v.shape[0] or out_p.shape[1] < out_v.shape[1]) or (
            out_t.shape[0] != 0 and (out_t.shape[0] < out_v.shape[0] or out_t.shape[1] < out_v.shape[1])) or (
            ts.shape[0] < vs.shape[0] or stale.shape[0] < vs.shape[0]):
        raise ValueError("BUG: pick: inconsistent array shapes")
    with nogil:
        _pick(ts, vs, stale, edges, times, lookback, out_v, out_p, out_t)
