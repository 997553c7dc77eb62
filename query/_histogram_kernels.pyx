# cython: language_level=3
"""The compiled part of ``histogram_quantile``/``histogram_fraction`` (built ahead of time, see setup.py).

For every (group, step) cell the present buckets of the group (rows ordered
by upper bound) are gathered and reduced with Prometheus's ``BucketQuantile``
or ``BucketFraction`` rules: buckets with equal bounds coalesced, counts forced
monotonic, linear interpolation inside a bucket, ``+Inf`` bucket required.
"""

from libc.math cimport fabs, isinf, isnan, INFINITY, NAN
from libc.stdint cimport int64_t, uint8_t
from libc.stdlib cimport free, malloc


cdef inline bint _almost_equal(double a, double b, double eps) noexcept nogil:
    cdef double min_normal = 2.2250738585072014e-308
    cdef double abs_sum, diff
    if a == b:
        return True
    abs_sum = fabs(a) + fabs(b)
    diff = fabs(a - b)
    if a == 0 or b == 0 or abs_sum < min_normal:
        return diff < eps * min_normal
    # min(abs_sum, MaxFloat64) as Python's min: the first argument unless the second is smaller
    return diff / (1.7976931348623157e308 if 1.7976931348623157e308 < abs_sum else abs_sum) < eps


cdef inline Py_ssize_t _coalesce_buckets(const double* ub, const double* cnt, Py_ssize_t n, double* bu,
                                         double* bc) noexcept nogil:
    """Merge buckets with equal upper bounds (summing counts) into ``bu``/``bc``; returns how many."""
    cdef Py_ssize_t i, k = 0
    for i in range(n):
        if k > 0 and ub[i] == bu[k - 1]:
            bc[k - 1] += cnt[i]
        else:
            bu[k] = ub[i]
            bc[k] = cnt[i]
            k += 1
    return k


cdef double _bucket_quantile(double q, const double* ub, const double* cnt, Py_ssize_t n, double* bu,
                             double* bc) noexcept nogil:
    """Prometheus's ``BucketQuantile`` for buckets sorted by upper bound ``ub``."""
    cdef Py_ssize_t k, i, b
    cdef double prev, cur, obs, rank, start, end, count
    if isnan(q):
        return NAN
    if q < 0:
        return -INFINITY
    if q > 1:
        return INFINITY
    if n == 0 or not (isinf(ub[n - 1]) and ub[n - 1] > 0):
        return NAN
    k = _coalesce_buckets(ub, cnt, n, bu, bc)
    prev = bc[0]
    for i in range(1, k):
        cur = bc[i]
        if cur == prev:
            continue
        if _almost_equal(prev, cur, 1e-12):
            bc[i] = prev
            continue
        if cur < prev:
            bc[i] = prev
            continue
        prev = cur
    if k < 2:
        return NAN
    obs = bc[k - 1]
    if obs == 0:
        return NAN
    rank = q * obs
    b = k - 1
    for i in range(k - 1):
        if bc[i] >= rank:
            b = i
            break
    if b == k - 1:
        return bu[k - 2]
    if b == 0 and bu[0] <= 0:
        return bu[0]
    start = 0.0
    end = bu[b]
    count = bc[b]
    if b > 0:
        start = bu[b - 1]
        count -= bc[b - 1]
        rank -= bc[b - 1]
    return start + (end - start) * (rank / count)


cdef inline double _rank_inside(double x, double lb, double hb, double rank_below, double rank_at_hb) noexcept nogil:
    """The cumulative count at ``x`` inside bucket ``(lb, hb]``, interpolated linearly (ends at ±Inf: no interpolation)."""
    if isinf(lb):
        return rank_at_hb
    if isinf(hb):
        return rank_below
    return rank_below + (rank_at_hb - rank_below) * (x - lb) / (hb - lb)


cdef double _bucket_fraction(double lower, double upper, const double* ub, const double* cnt, Py_ssize_t n,
                             double* bu, double* bc) noexcept nogil:
    """Prometheus's ``BucketFraction``: share of observations in ``[lower, upper]``."""
    cdef Py_ssize_t k, i
    cdef double count, rank = 0.0, lower_rank = 0.0, upper_rank = 0.0, lb, hb
    cdef bint lower_set = False, upper_set = False
    if n == 0 or not (isinf(ub[n - 1]) and ub[n - 1] > 0):
        return NAN
    k = _coalesce_buckets(ub, cnt, n, bu, bc)
    count = bc[k - 1]
    if count == 0 or isnan(lower) or isnan(upper):
        return NAN
    if lower >= upper:
        return 0.0
    for i in range(k):
        if i == 0:
            lb = 0.0 if bu[0] > 0 else -INFINITY
        else:
            lb = bu[i - 1]
        hb = bu[i]
        if not lower_set and lb >= lower:
            lower_rank = rank
            lower_set = True
        if not upper_set and lb >= upper:
            upper_rank = rank
            upper_set = True
        if lower_set and upper_set:
            break
        if not lower_set and lb < lower and hb > lower:
            lower_rank = _rank_inside(lower, lb, hb, rank, bc[i])
            lower_set = True
        if not upper_set and lb < upper and hb > upper:
            upper_rank = _rank_inside(upper, lb, hb, rank, bc[i])
            upper_set = True
        if lower_set and upper_set:
            break
        rank = bc[i]
    if not lower_set or lower_rank > count:
        lower_rank = count
    if not upper_set or upper_rank > count:
        upper_rank = count
    return (upper_rank - lower_rank) / count


cdef int _hq(const double[::1] qs, const double[::1] qs2, const double[::1] ubs, const double[:, :] values,
             const uint8_t[:, :] present, const int64_t[::1] order, const int64_t[::1] starts,
             double[:, ::1] out_v, uint8_t[:, ::1] out_p) noexcept nogil:
    cdef Py_ssize_t n_groups = starts.shape[0] - 1
    cdef Py_ssize_t n_steps = values.shape[1]
    cdef Py_ssize_t n_rows = order.shape[0] if order.shape[0] > 0 else 1
    cdef bint fraction = qs2.shape[0] > 0
    cdef double* ub = <double*>malloc(4 * n_rows * sizeof(double))
    cdef double* cnt = ub + n_rows
    cdef double* bu = ub + 2 * n_rows
    cdef double* bc = ub + 3 * n_rows
    cdef Py_ssize_t g, j, r, k, a, b
    cdef int64_t row
    if ub == NULL:
        return -1
    for g in range(n_groups):
        a = starts[g]
        b = starts[g + 1]
        for j in range(n_steps):
            k = 0
            for r in range(a, b):
                row = order[r]
                if present[row, j]:
                    ub[k] = ubs[row]
                    cnt[k] = values[row, j]
                    k += 1
            if k == 0:
                continue
            if fraction:
                out_v[g, j] = _bucket_fraction(qs[j], qs2[j], ub, cnt, k, bu, bc)
            else:
                out_v[g, j] = _bucket_quantile(qs[j], ub, cnt, k, bu, bc)
            out_p[g, j] = 1
    free(ub)
    return 0


def histogram_groups(const double[::1] qs, const double[::1] qs2, const double[::1] ubs, const double[:, :] values,
                     const uint8_t[:, :] present, const int64_t[::1] order, const int64_t[::1] starts,
                     double[:, ::1] out_v, uint8_t[:, ::1] out_p):
    """``histogram_quantile(qs[j])`` of every (group, step) cell, or ``histogram_fraction(qs[j], qs2[j])``
    when ``qs2`` is not empty.

    ``ubs[row]`` is a bucket row's upper bound; ``order`` lists each group's rows by bound.
    ``present``/``out_p`` are bool matrices viewed as uint8. Runs without the GIL.
    """
    cdef int rc
    if present.shape[0] != values.shape[0] or present.shape[1] != values.shape[1] or (
            out_v.shape[0] < starts.shape[0] - 1 or out_v.shape[1] < values.shape[1]) or (
            out_p.shape[0] < out_v.shape[0] or out_p.shape[1] < out_v.shape[1]) or (
            qs.shape[0] < values.shape[1]) or (qs2.shape[0] and qs2.shape[0] < values.shape[1]) or (
            ubs.shape[0] < values.shape[0]) or starts.shape[0] < 1:
        raise ValueError("BUG: histogram_groups: inconsistent array shapes")
    with nogil:
        rc = _hq(qs, qs2, ubs, values, present, order, starts, out_v, out_p)
    if rc:
        raise MemoryError()
