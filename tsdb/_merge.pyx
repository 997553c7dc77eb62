# cython: language_level=3
"""The compiled part of :mod:`tsdb.merge` (built ahead of time, see setup.py)."""

from libc.stdint cimport int64_t
from libc.string cimport memcpy


def copy_pieces(const int64_t[::1] src_t, const double[::1] src_v, const int64_t[::1] starts,
                const int64_t[::1] lens, const int64_t[::1] out_starts, int64_t[::1] out_t,
                double[::1] out_v):
    """Copy piece ``p`` = ``src_t/src_v[starts[p] : starts[p] + lens[p]]`` to ``out_t/out_v[out_starts[p]:]``.

    Values are copied as bytes (NaN payloads kept). Runs without the GIL.
    """
    cdef int64_t p, n
    with nogil:
        for p in range(starts.shape[0]):
            n = lens[p]
            if n > 0:
                memcpy(&out_t[out_starts[p]], &src_t[starts[p]], n * sizeof(int64_t))
                memcpy(&out_v[out_starts[p]], &src_v[starts[p]], n * sizeof(double))
