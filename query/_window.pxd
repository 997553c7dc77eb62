# cython: language_level=3
"""Window reducers shared by the range-function and aggregation kernels (inline, compiled ahead of time).

``window`` computes a PromQL function (``sum_over_time``, ``rate``,
``quantile_over_time``, ...) over one window of samples given as raw
pointers, so callers never slice arrays on the hot path. The arithmetic is
Prometheus's (``promql/functions.go``), written operation for operation so the
results are bit-identical to the JIT-compiled kernels these replaced: Kahan
compensation where Prometheus uses it, the same summation order, no fast-math.

Sorting (``quantile``) is the quicksort those kernels' ``np.sort`` used (median of
three, insertion sort under 15 elements, NaNs last), so ties such as ``-0.0`` and
``0.0`` end up in the same order as before.
"""

from libc.math cimport fabs, floor, isinf, isnan, sqrt, NAN, INFINITY
from libc.stdint cimport int64_t

# The function codes (query.eval_range.OPS).
cdef enum:
    OP_SUM = 0
    OP_AVG = 1
    OP_MIN = 2
    OP_MAX = 3
    OP_COUNT = 4
    OP_STDDEV = 5
    OP_STDVAR = 6
    OP_LAST = 7
    OP_FIRST = 8
    OP_PRESENT = 9
    OP_QUANTILE = 10
    OP_CHANGES = 11
    OP_RESETS = 12
    OP_RATE = 13
    OP_INCREASE = 14
    OP_DELTA = 15
    OP_IRATE = 16
    OP_IDELTA = 17
    OP_DERIV = 18
    OP_PREDICT_LINEAR = 19
    OP_MAD = 20
    OP_TS_OF_MIN = 21
    OP_TS_OF_MAX = 22
    OP_TS_OF_LAST = 23
    OP_TS_OF_FIRST = 24
    OP_DOUBLE_EXP_SMOOTHING = 25

# The quicksort: insertion sort below this size, and its stack depth.
cdef enum:
    SMALL_QUICKSORT = 15
    MAX_STACK = 100


cdef inline double kahan(double inc, double s, double* c) noexcept nogil:
    """Prometheus's ``kahanSumInc``: returns the new sum, updates the compensation ``c``."""
    cdef double t = s + inc
    if isinf(t):
        c[0] = 0.0
    else:
        c[0] += ((s - t) + inc) if fabs(s) >= fabs(inc) else ((inc - t) + s)
    return t


cdef inline bint lt_floats(double a, double b) noexcept nogil:
    """numpy's sort order: NaNs last."""
    return a < b or (isnan(b) and not isnan(a))


cdef inline void _insertion_sort(double* a, Py_ssize_t low, Py_ssize_t high) noexcept nogil:
    cdef Py_ssize_t i, j
    cdef double v
    if high <= low:
        return
    for i in range(low + 1, high + 1):
        v = a[i]
        j = i
        while j > low and lt_floats(v, a[j - 1]):
            a[j] = a[j - 1]
            j -= 1
        a[j] = v


cdef inline Py_ssize_t _partition(double* a, Py_ssize_t low, Py_ssize_t high) noexcept nogil:
    cdef Py_ssize_t mid = (low + high) >> 1
    cdef Py_ssize_t i, j
    cdef double pivot, x
    # median of three {low, middle, high}, with the earlier kernels' exact swaps
    if lt_floats(a[mid], a[low]):
        x = a[low]; a[low] = a[mid]; a[mid] = x
    if lt_floats(a[high], a[mid]):
        x = a[high]; a[high] = a[mid]; a[mid] = x
    if lt_floats(a[mid], a[low]):
        x = a[low]; a[low] = a[mid]; a[mid] = x
    pivot = a[mid]
    x = a[high]; a[high] = a[mid]; a[mid] = x
    i = low
    j = high - 1
    while True:
        while i < high and lt_floats(a[i], pivot):
            i += 1
        while j >= low and lt_floats(pivot, a[j]):
            j -= 1
        if i >= j:
            break
        x = a[i]; a[i] = a[j]; a[j] = x
        i += 1
        j -= 1
    x = a[i]; a[i] = a[high]; a[high] = x
    return i


cdef inline void sort_floats(double* a, Py_ssize_t n) noexcept nogil:
    """Sort ``a[:n]`` in place as the earlier kernels' ``np.sort`` did (same algorithm, same tie order)."""
    cdef Py_ssize_t stack_lo[MAX_STACK]
    cdef Py_ssize_t stack_hi[MAX_STACK]
    cdef Py_ssize_t top, low, high, i
    if n < 2:
        return
    stack_lo[0] = 0
    stack_hi[0] = n - 1
    top = 1
    while top > 0:
        top -= 1
        low = stack_lo[top]
        high = stack_hi[top]
        while high - low >= SMALL_QUICKSORT:
            i = _partition(a, low, high)
            # push the larger partition, iterate on the smaller one
            if high - i > i - low:
                if high > i:
                    stack_lo[top] = i + 1
                    stack_hi[top] = high
                    top += 1
                high = i - 1
            else:
                if i > low:
                    stack_lo[top] = low
                    stack_hi[top] = i - 1
                    top += 1
                low = i + 1
        _insertion_sort(a, low, high)


cdef inline double quantile_inplace(double q, double* s, Py_ssize_t n) noexcept nogil:
    """Go's ``quantile`` of ``s[:n]``; sorts ``s`` in place (NaNs first, as Go sorts them)."""
    cdef Py_ssize_t nn = 0, i, lower, upper
    cdef double rank, w, x
    if n == 0 or isnan(q):
        return NAN
    if q < 0:
        return -INFINITY
    if q > 1:
        return INFINITY
    sort_floats(s, n)
    # numpy sorts NaN last; rotate them to the front, keeping their order.
    while nn < n and isnan(s[n - 1 - nn]):
        nn += 1
    if nn and nn < n:
        _rotate_right(s, n, nn)
    rank = q * <double>(n - 1)
    lower = <Py_ssize_t>floor(rank)
    if lower < 0:
        lower = 0
    upper = lower + 1
    if upper > n - 1:
        upper = n - 1
    w = rank - floor(rank)
    return s[lower] * (1 - w) + s[upper] * w


cdef inline void _reverse(double* s, Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    """Reverse ``s[a:b]``."""
    cdef double x
    b -= 1
    while a < b:
        x = s[a]; s[a] = s[b]; s[b] = x
        a += 1
        b -= 1


cdef inline void _rotate_right(double* s, Py_ssize_t n, Py_ssize_t k) noexcept nogil:
    """``s[:n] = concat(s[n-k:], s[:n-k])`` in place (three reversals)."""
    _reverse(s, 0, n)
    _reverse(s, 0, k)
    _reverse(s, k, n)


cdef extern from *:
    """
    /* The four Kahan sums of a linear regression (x, y, x*y, x*x), two per SSE2 register.
       Each lane does exactly Prometheus's kahanSumInc -- t = s + inc; c = 0 if t is ±Inf,
       else c += |s| >= |inc| ? (s - t) + inc : (inc - t) + s -- with the select done by
       masks, not branches (the earlier LLVM-compiled kernels were vectorised so; gcc does not).
       Lane for lane the operations and their order are the scalar ones, so are the results. */
    #include <math.h>
    typedef struct { double sx, cx, sy, cy, sxy, cxy, sx2, cx2; } promlite_sums;
    #if defined(__SSE2__)
    #include <emmintrin.h>
    static inline void promlite_kahan2(__m128d *s, __m128d *c, __m128d inc) {
        const __m128d abs_mask = _mm_castsi128_pd(_mm_set1_epi64x(0x7fffffffffffffffLL));
        const __m128d inf = _mm_set1_pd(INFINITY);
        __m128d t = _mm_add_pd(*s, inc);
        __m128d t_inf = _mm_cmpeq_pd(_mm_and_pd(t, abs_mask), inf);
        __m128d m = _mm_cmpge_pd(_mm_and_pd(*s, abs_mask), _mm_and_pd(inc, abs_mask));
        __m128d a = _mm_add_pd(_mm_sub_pd(*s, t), inc);
        __m128d b = _mm_add_pd(_mm_sub_pd(inc, t), *s);
        __m128d term = _mm_or_pd(_mm_and_pd(m, a), _mm_andnot_pd(m, b));
        *c = _mm_andnot_pd(t_inf, _mm_add_pd(*c, term));
        *s = t;
    }
    #define PROMLITE_REGRESSION_LOOP(X) \
        for (i = 0; i < n; i++) { \
            x = (X); \
            y = v[i]; \
            promlite_kahan2(&s1, &c1, _mm_set_pd(y, x)); \
            promlite_kahan2(&s2, &c2, _mm_mul_pd(_mm_set1_pd(x), _mm_set_pd(x, y))); \
        }
    /* x = (t[i] - icpt_i) / 1e3 subtracting in int64 first when int_icpt, else ((double)t[i] - icpt_f) / 1e3 */
    static inline void promlite_regression_sums_sse2(const int64_t *t, const double *v, Py_ssize_t n, int int_icpt,
                                                     int64_t icpt_i, double icpt_f, promlite_sums *out) {
        __m128d s1 = _mm_setzero_pd(), c1 = _mm_setzero_pd(), s2 = _mm_setzero_pd(), c2 = _mm_setzero_pd();
        double x, y;
        Py_ssize_t i;
        if (int_icpt) {
            PROMLITE_REGRESSION_LOOP((double)(t[i] - icpt_i) / 1e3)
        } else {
            PROMLITE_REGRESSION_LOOP(((double)t[i] - icpt_f) / 1e3)
        }
        out->sx = _mm_cvtsd_f64(s1); out->sy = _mm_cvtsd_f64(_mm_unpackhi_pd(s1, s1));
        out->cx = _mm_cvtsd_f64(c1); out->cy = _mm_cvtsd_f64(_mm_unpackhi_pd(c1, c1));
        out->sxy = _mm_cvtsd_f64(s2); out->sx2 = _mm_cvtsd_f64(_mm_unpackhi_pd(s2, s2));
        out->cxy = _mm_cvtsd_f64(c2); out->cx2 = _mm_cvtsd_f64(_mm_unpackhi_pd(c2, c2));
    }
    #if defined(__GNUC__) && defined(__x86_64__)
    /* The same four sums in one AVX register (lanes x, y, x*y, x*x), for CPUs that have AVX2,
       chosen at run time (the module itself is built for the baseline x86-64). Only "avx2" is
       enabled for this function, not "fma": no multiply-add is fused, every operation rounds
       as the scalar code's does. Compares: _CMP_GE_OS and _CMP_EQ_OQ are SSE2's cmpge/cmpeq. */
    #include <immintrin.h>
    __attribute__((target("avx2")))
    static void promlite_regression_sums_avx2(const int64_t *t, const double *v, Py_ssize_t n, int int_icpt,
                                              int64_t icpt_i, double icpt_f, promlite_sums *out) {
        const __m256d abs_mask = _mm256_castsi256_pd(_mm256_set1_epi64x(0x7fffffffffffffffLL));
        const __m256d inf = _mm256_set1_pd(INFINITY);
        __m256d s = _mm256_setzero_pd(), c = _mm256_setzero_pd();
        double x, y, lanes[4];
        Py_ssize_t i;
        for (i = 0; i < n; i++) {
            x = int_icpt ? (double)(t[i] - icpt_i) / 1e3 : ((double)t[i] - icpt_f) / 1e3;
            y = v[i];
            __m256d inc = _mm256_set_pd(x * x, x * y, y, x);
            __m256d tt = _mm256_add_pd(s, inc);
            __m256d t_inf = _mm256_cmp_pd(_mm256_and_pd(tt, abs_mask), inf, _CMP_EQ_OQ);
            __m256d m = _mm256_cmp_pd(_mm256_and_pd(s, abs_mask), _mm256_and_pd(inc, abs_mask), _CMP_GE_OS);
            __m256d a = _mm256_add_pd(_mm256_sub_pd(s, tt), inc);
            __m256d b = _mm256_add_pd(_mm256_sub_pd(inc, tt), s);
            __m256d term = _mm256_blendv_pd(b, a, m);
            c = _mm256_andnot_pd(t_inf, _mm256_add_pd(c, term));
            s = tt;
        }
        _mm256_storeu_pd(lanes, s);
        out->sx = lanes[0]; out->sy = lanes[1]; out->sxy = lanes[2]; out->sx2 = lanes[3];
        _mm256_storeu_pd(lanes, c);
        out->cx = lanes[0]; out->cy = lanes[1]; out->cxy = lanes[2]; out->cx2 = lanes[3];
    }
    static int promlite_have_avx2 = -1;
    static inline void promlite_regression_sums(const int64_t *t, const double *v, Py_ssize_t n, int int_icpt,
                                                int64_t icpt_i, double icpt_f, promlite_sums *out) {
        if (promlite_have_avx2 < 0) {
            __builtin_cpu_init();
            promlite_have_avx2 = __builtin_cpu_supports("avx2") ? 1 : 0;
        }
        if (promlite_have_avx2) promlite_regression_sums_avx2(t, v, n, int_icpt, icpt_i, icpt_f, out);
        else promlite_regression_sums_sse2(t, v, n, int_icpt, icpt_i, icpt_f, out);
    }
    #else
    #define promlite_regression_sums promlite_regression_sums_sse2
    #endif
    #else
    static inline double promlite_kahan1(double s, double inc, double *c) {
        double t = s + inc;
        if (isinf(t)) *c = 0.0;
        else *c += fabs(s) >= fabs(inc) ? (s - t) + inc : (inc - t) + s;
        return t;
    }
    static inline void promlite_regression_sums(const int64_t *t, const double *v, Py_ssize_t n, int int_icpt,
                                                int64_t icpt_i, double icpt_f, promlite_sums *out) {
        double x, y;
        Py_ssize_t i;
        out->sx = out->cx = out->sy = out->cy = out->sxy = out->cxy = out->sx2 = out->cx2 = 0.0;
        for (i = 0; i < n; i++) {
            x = int_icpt ? (double)(t[i] - icpt_i) / 1e3 : ((double)t[i] - icpt_f) / 1e3;
            y = v[i];
            out->sx = promlite_kahan1(out->sx, x, &out->cx);
            out->sy = promlite_kahan1(out->sy, y, &out->cy);
            out->sxy = promlite_kahan1(out->sxy, x * y, &out->cxy);
            out->sx2 = promlite_kahan1(out->sx2, x * x, &out->cx2);
        }
    }
    #endif
    """
    ctypedef struct Sums "promlite_sums":
        double sx, cx, sy, cy, sxy, cxy, sx2, cx2
    void regression_sums "promlite_regression_sums"(const int64_t* t, const double* v, Py_ssize_t n, bint int_icpt,
                                                     int64_t icpt_i, double icpt_f, Sums* out) noexcept nogil


cdef inline void regression(const int64_t* t, const double* v, Py_ssize_t n, bint int_icpt, int64_t icpt_i,
                            double icpt_f, double* slope, double* icpt) noexcept nogil:
    """Least squares of ``v`` over ``t`` (s) with the intercept at ``icpt_i`` (an int) or ``icpt_f``.

    Prometheus's ``linearRegression``: Kahan sums, and a constant series has slope 0 (NaN if ±Inf).
    """
    cdef Sums a
    cdef double cnt = <double>n, y0 = v[0], cov, var, sl, sx, sy, sxy, sx2
    cdef Py_ssize_t i = 1
    while i < n and v[i] == y0:
        i += 1
    if i == n:  # constant (the sums are not needed)
        if isinf(y0):
            slope[0] = NAN
            icpt[0] = NAN
            return
        slope[0] = 0.0
        icpt[0] = y0
        return
    regression_sums(t, v, n, int_icpt, icpt_i, icpt_f, &a)
    sx = a.sx + a.cx
    sy = a.sy + a.cy
    sxy = a.sxy + a.cxy
    sx2 = a.sx2 + a.cx2
    cov = sxy - sx * sy / cnt
    var = sx2 - sx * sx / cnt
    sl = cov / var
    slope[0] = sl
    icpt[0] = sy / cnt - sl * sx / cnt


cdef inline double extrapolation_factor(int64_t t0, int64_t t1, Py_ssize_t n, double first, double result,
                                        int64_t start, int64_t end, bint is_counter, bint is_rate,
                                        double range_s) noexcept nogil:
    """Prometheus's ``extrapolatedRate`` factor for a window of ``n`` samples from ``t0`` to ``t1`` (ms)."""
    cdef double to_start = <double>(t0 - start) / 1000.0
    cdef double to_end = <double>(end - t1) / 1000.0
    cdef double sampled = <double>(t1 - t0) / 1000.0
    cdef double avg = sampled / <double>(n - 1)
    cdef double threshold = avg * 1.1
    cdef double to_zero, factor
    if to_start >= threshold:
        to_start = avg / 2
    if is_counter:
        # a counter cannot be extrapolated below zero
        to_zero = to_start
        if result > 0 and first >= 0:
            to_zero = sampled * (first / result)
        if to_zero < to_start:
            to_start = to_zero
    if to_end >= threshold:
        to_end = avg / 2
    factor = (sampled + to_start + to_end) / sampled
    if is_rate:
        factor /= range_s
    return factor


cdef inline bint extrapolated(const int64_t* t, const double* v, Py_ssize_t n, int64_t start, int64_t end,
                              bint is_counter, bint is_rate, double range_s, double* out) noexcept nogil:
    """``rate``/``increase``/``delta`` of one window (counter resets found by walking it)."""
    cdef double result, prev
    cdef Py_ssize_t i
    if n < 2:
        out[0] = NAN
        return False
    result = v[n - 1] - v[0]
    if is_counter:
        prev = v[0]
        for i in range(1, n):
            if v[i] < prev:
                result += prev
            prev = v[i]
    out[0] = result * extrapolation_factor(t[0], t[n - 1], n, v[0], result, start, end, is_counter, is_rate,
                                           range_s)
    return True


cdef inline bint extrapolated_idx(const int64_t* ts, const double* vs, Py_ssize_t lo, Py_ssize_t hi,
                                  int64_t start, int64_t end, bint is_rate, double range_s, double correction,
                                  double* out) noexcept nogil:
    """``extrapolated`` for a counter window ``[lo, hi)`` whose reset correction is precomputed."""
    cdef Py_ssize_t n = hi - lo
    cdef double first, result
    if n < 2:
        out[0] = NAN
        return False
    first = vs[lo]
    result = vs[hi - 1] - first + correction
    out[0] = result * extrapolation_factor(ts[lo], ts[hi - 1], n, first, result, start, end, True, is_rate,
                                           range_s)
    return True


cdef inline double _sum_avg(int op, const double* v, Py_ssize_t n) noexcept nogil:
    """Prometheus's ``sum_over_time``/``avg_over_time``: a Kahan sum; ``avg`` turns to an incremental mean
    (with its own compensation) once the sum overflows to ±Inf."""
    cdef double s = v[0], c = 0.0, mean = 0.0, cnt, q, ns, nc
    cdef Py_ssize_t i = 1
    if op == OP_SUM:
        for i in range(1, n):
            s = kahan(v[i], s, &c)
        return s + c
    while i < n:
        nc = c
        ns = kahan(v[i], s, &nc)
        if isinf(ns):
            break
        s = ns
        c = nc
        i += 1
    if i == n:
        return s / <double>n + c / <double>n
    # the sum overflowed at sample i: continue with the incremental mean from there
    cnt = i + 1.0
    mean = s / (cnt - 1)
    c /= cnt - 1
    while i < n:
        cnt = i + 1.0
        q = (cnt - 1) / cnt
        c = q * c
        mean = kahan(v[i] / cnt, q * mean, &c)
        i += 1
    return mean + c


cdef inline double _min(const double* v, Py_ssize_t n) noexcept nogil:
    """Prometheus's ``min_over_time``: a NaN is replaced by any later value."""
    cdef double m = v[0], x
    cdef Py_ssize_t i
    cdef bint take
    for i in range(1, n):
        x = v[i]
        take = (x < m) | (m != m)  # no short circuit: a select, not a branch
        m = x if take else m
    return m


cdef inline double _max(const double* v, Py_ssize_t n) noexcept nogil:
    cdef double m = v[0], x
    cdef Py_ssize_t i
    cdef bint take
    for i in range(1, n):
        x = v[i]
        take = (x > m) | (m != m)
        m = x if take else m
    return m


cdef inline bint window(int op, const int64_t* t, const double* v, Py_ssize_t n, int64_t start, int64_t end,
                        double range_s, double p1, double p2, double* scratch, double* out) noexcept nogil:
    """Value of function ``op`` over the ``n`` samples ``t``/``v`` (n >= 1) into ``out``; False: no value.

    ``scratch`` holds at least ``n`` doubles (the quantile functions sort a copy there).
    """
    cdef Py_ssize_t i, k
    cdef double m, x, cnt, mean, cm, aux, ca, d, var, last, prev, r, slope, icpt, med, s0, s1, b, tmp
    cdef int64_t mt, dt
    cdef bint better
    if op == OP_SUM or op == OP_AVG:
        out[0] = _sum_avg(op, v, n)
        return True
    if op == OP_MIN:
        out[0] = _min(v, n)
        return True
    if op == OP_MAX:
        out[0] = _max(v, n)
        return True
    if op == OP_COUNT:
        out[0] = <double>n
        return True
    if op == OP_STDDEV or op == OP_STDVAR:
        cnt = 0.0
        mean = 0.0
        cm = 0.0
        aux = 0.0
        ca = 0.0
        for i in range(n):
            cnt += 1
            d = v[i] - (mean + cm)
            mean = kahan(d / cnt, mean, &cm)
            aux = kahan(d * (v[i] - (mean + cm)), aux, &ca)
        var = (aux + ca) / cnt
        out[0] = sqrt(var) if op == OP_STDDEV else var
        return True
    if op == OP_LAST:
        out[0] = v[n - 1]
        return True
    if op == OP_FIRST:
        out[0] = v[0]
        return True
    if op == OP_PRESENT:
        out[0] = 1.0
        return True
    if op == OP_QUANTILE:
        for i in range(n):
            scratch[i] = v[i]
        out[0] = quantile_inplace(p1, scratch, n)
        return True
    if op == OP_CHANGES or op == OP_RESETS:
        k = 0
        for i in range(1, n):
            if op == OP_CHANGES:
                if v[i] != v[i - 1] and not (isnan(v[i]) and isnan(v[i - 1])):
                    k += 1
            elif v[i] < v[i - 1]:
                k += 1
        out[0] = <double>k
        return True
    if op == OP_RATE:
        return extrapolated(t, v, n, start, end, True, True, range_s, out)
    if op == OP_INCREASE:
        return extrapolated(t, v, n, start, end, True, False, range_s, out)
    if op == OP_DELTA:
        return extrapolated(t, v, n, start, end, False, False, range_s, out)
    if op == OP_IRATE or op == OP_IDELTA:
        if n < 2:
            out[0] = NAN
            return False
        last = v[n - 1]
        prev = v[n - 2]
        r = last - prev
        if op == OP_IRATE:
            if last < prev:
                r = last
            dt = t[n - 1] - t[n - 2]
            if dt == 0:
                out[0] = NAN
                return False
            r = r / (<double>dt / 1000.0)
        out[0] = r
        return True
    if op == OP_DERIV:
        if n < 2:
            out[0] = NAN
            return False
        regression(t, v, n, True, t[0], 0.0, &slope, &icpt)
        out[0] = slope
        return True
    if op == OP_PREDICT_LINEAR:
        if n < 2:
            out[0] = NAN
            return False
        regression(t, v, n, False, 0, <double>end + p2, &slope, &icpt)
        out[0] = slope * p1 + icpt
        return True
    if op == OP_MAD:
        for i in range(n):
            if isnan(v[i]):
                out[0] = NAN
                return True
        for i in range(n):
            scratch[i] = v[i]
        med = quantile_inplace(0.5, scratch, n)
        for i in range(n):
            scratch[i] = fabs(v[i] - med)
        out[0] = quantile_inplace(0.5, scratch, n)
        return True
    if op == OP_TS_OF_MIN or op == OP_TS_OF_MAX:
        m = v[0]
        mt = t[0]
        for i in range(1, n):
            x = v[i]
            better = (x <= m) if op == OP_TS_OF_MIN else (x >= m)
            if better or isnan(m):
                m = x
                mt = t[i]
        out[0] = <double>mt / 1000.0
        return True
    if op == OP_TS_OF_LAST:
        out[0] = <double>t[n - 1] / 1000.0
        return True
    if op == OP_TS_OF_FIRST:
        out[0] = <double>t[0] / 1000.0
        return True
    if op == OP_DOUBLE_EXP_SMOOTHING:  # sf = p1, tf = p2
        if n < 2:
            out[0] = NAN
            return False
        s0 = 0.0
        s1 = v[0]
        b = v[1] - v[0]
        for i in range(1, n):
            if i > 1:
                b = p2 * (s1 - s0) + (1 - p2) * b
            tmp = s1
            s1 = p1 * v[i] + (1 - p1) * (s1 + b)
            s0 = tmp
        out[0] = s1
        return True
    out[0] = NAN
    return False
