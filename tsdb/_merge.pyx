# cython: language_level=3
"""The compiled part of :mod:`tsdb.merge` (built ahead of time, see setup.py)."""

cimport numpy as cnp
from libc.stdint cimport int64_t
from libc.string cimport memcpy

from tsdb._ndarray cimport length, ro_f64, ro_i64, rw_f64, rw_i64

cnp.import_array()


def copy_pieces(src_t, src_v, starts, lens, out_starts, out_t, out_v):
    """Copy piece ``p`` = ``src_t/src_v[starts[p] : starts[p] + lens[p]]`` to ``out_t/out_v[out_starts[p]:]``.

    int64 times, float64 values, copied as bytes (NaN payloads kept); the
    caller sized everything (pieces inside the sources and the outputs).
    Runs without the GIL.
    """
    cdef const int64_t *st = ro_i64(src_t, "src_t")
    cdef const double *sv = ro_f64(src_v, "src_v")
    cdef const int64_t *a = ro_i64(starts, "starts")
    cdef const int64_t *ln = ro_i64(lens, "lens")
    cdef const int64_t *o = ro_i64(out_starts, "out_starts")
    cdef int64_t *ot = rw_i64(out_t, "out_t")
    cdef double *ov = rw_f64(out_v, "out_v")
    cdef int64_t k = length(starts)
    cdef int64_t p, n
    if length(lens) < k or length(out_starts) < k:
        raise ValueError("starts, lens and out_starts differ in length")
    with nogil:
        for p in range(k):
            n = ln[p]
            if n > 0:
                memcpy(ot + o[p], st + a[p], n * sizeof(int64_t))
                memcpy(ov + o[p], sv + a[p], n * sizeof(double))
