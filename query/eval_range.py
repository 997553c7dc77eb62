"""Range-vector functions (``rate``, ``*_over_time``, ...) over every step at once.

Strategy: a single numba kernel walks each series once. The windows
``(end_j - range, end_j]`` of consecutive steps move forward, so two
pointers (first sample after the window start, first after its end) advance
monotonically and each step's window is ``vs[lo:hi]`` without any search;
the function of the window is computed in compiled code. Cost is
``O(samples + steps x window)`` per series, the same work Prometheus does
per step, but compiled and without per-step allocation. ``rate``,
``increase``, ``resets`` and ``changes`` are ``O(1)`` per window: a prefix
sum over the series holds the counter-reset correction (or the count of
resets/changes), so a window needs only its two ends.

Formulas follow Prometheus's ``promql/functions.go``: Kahan-compensated sums,
the extrapolation rules of ``extrapolatedRate`` for ``rate``/``increase``/
``delta``, linear regression with the intercept at the step time for
``predict_linear``, Go's ``quantile`` interpolation.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .values import RangeData, SeriesMatrix

OPS = {
    name: i for i, name in enumerate([
        "sum_over_time", "avg_over_time", "min_over_time", "max_over_time", "count_over_time",
        "stddev_over_time", "stdvar_over_time", "last_over_time", "first_over_time", "present_over_time",
        "quantile_over_time", "changes", "resets", "rate", "increase", "delta", "irate", "idelta", "deriv",
        "predict_linear", "mad_over_time", "ts_of_min_over_time", "ts_of_max_over_time", "ts_of_last_over_time",
        "ts_of_first_over_time", "double_exponential_smoothing",
    ])
}

# Functions whose result keeps the metric name (Prometheus: they do not drop it).
KEEPS_NAME = frozenset({"last_over_time", "first_over_time"})


@njit(cache=True, nogil=True)
def _kahan(inc, s, c):  # pragma: no cover - numba
    t = s + inc
    if math.isinf(t):
        c = 0.0
    elif abs(s) >= abs(inc):
        c += (s - t) + inc
    else:
        c += (inc - t) + s
    return t, c


@njit(cache=True, nogil=True)
def _quantile(q, v):  # pragma: no cover - numba
    n = len(v)
    if n == 0 or math.isnan(q):
        return np.nan
    if q < 0:
        return -np.inf
    if q > 1:
        return np.inf
    s = np.sort(v)
    # Go sorts NaN first; numpy sorts it last: rotate them to the front.
    nn = 0
    for x in s:
        if math.isnan(x):
            nn += 1
    if nn:
        s = np.concatenate((s[n - nn:], s[:n - nn]))
    rank = q * (n - 1)
    lower = max(0, int(math.floor(rank)))
    upper = min(n - 1, lower + 1)
    w = rank - math.floor(rank)
    return s[lower] * (1 - w) + s[upper] * w


@njit(cache=True, nogil=True)
def _regression(t, v, intercept_t):  # pragma: no cover - numba
    n = 0.0
    sx = cx = sy = cy = sxy = cxy = sx2 = cx2 = 0.0
    const_y = True
    y0 = v[0]
    for i in range(len(v)):
        if const_y and i > 0 and v[i] != y0:
            const_y = False
        n += 1.0
        x = (t[i] - intercept_t) / 1e3
        sx, cx = _kahan(x, sx, cx)
        sy, cy = _kahan(v[i], sy, cy)
        sxy, cxy = _kahan(x * v[i], sxy, cxy)
        sx2, cx2 = _kahan(x * x, sx2, cx2)
    if const_y:
        if math.isinf(y0):
            return np.nan, np.nan
        return 0.0, y0
    sx += cx
    sy += cy
    sxy += cxy
    sx2 += cx2
    cov = sxy - sx * sy / n
    var = sx2 - sx * sx / n
    slope = cov / var
    return slope, sy / n - slope * sx / n


@njit(cache=True, nogil=True)
def _extrapolated(t, v, start, end, is_counter, is_rate, range_s, correction=np.nan):  # pragma: no cover - numba
    """``correction``: the counter-reset correction when the caller has it precomputed."""
    n = len(v)
    if n < 2:
        return np.nan, False
    result = v[n - 1] - v[0]
    if is_counter:
        if not math.isnan(correction):
            result += correction
        else:
            prev = v[0]
            for i in range(1, n):
                if v[i] < prev:
                    result += prev
                prev = v[i]
    return result * _extrapolation_factor(t[0], t[n - 1], n, v[0], result, start, end, is_counter, is_rate,
                                          range_s), True


@njit(cache=True, nogil=True)
def _extrapolation_factor(t0, t1, n, first, result, start, end, is_counter, is_rate, range_s):  # pragma: no cover - numba
    """Prometheus's ``extrapolatedRate`` factor for a window of ``n`` samples from ``t0`` to ``t1`` (ms)."""
    to_start = (t0 - start) / 1000.0
    to_end = (end - t1) / 1000.0
    sampled = (t1 - t0) / 1000.0
    avg = sampled / (n - 1)
    threshold = avg * 1.1
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


@njit(cache=True, nogil=True)
def _extrapolated_idx(ts, vs, lo, hi, start, end, is_rate, range_s, correction):  # pragma: no cover - numba
    """``_extrapolated`` for a counter window ``[lo, hi)`` given by indices (no slicing on the hot path)."""
    n = hi - lo
    if n < 2:
        return np.nan, False
    first = vs[lo]
    result = vs[hi - 1] - first + correction
    return result * _extrapolation_factor(ts[lo], ts[hi - 1], n, first, result, start, end, True, is_rate,
                                          range_s), True


@njit(cache=True, nogil=True)
def _window(op, t, v, start, end, range_s, p1, p2):  # pragma: no cover - numba
    """Value of function ``op`` over one window; ``(value, ok)``."""
    n = len(v)
    if op == 0 or op == 1:  # sum, avg
        s = v[0]
        c = 0.0
        mean = 0.0
        incremental = False
        for i in range(1, n):
            cnt = i + 1.0
            if not incremental:
                ns, nc = _kahan(v[i], s, c)
                if not math.isinf(ns) or op == 0:
                    s, c = ns, nc
                    continue
                incremental = True
                mean = s / (cnt - 1)
                c /= cnt - 1
            q = (cnt - 1) / cnt
            mean, c = _kahan(v[i] / cnt, q * mean, q * c)
        if op == 0:
            return s + c, True
        if incremental:
            return mean + c, True
        return s / n + c / n, True
    if op == 2 or op == 3:  # min, max
        m = v[0]
        for i in range(1, n):
            x = v[i]
            if op == 2:
                if x < m or math.isnan(m):
                    m = x
            elif x > m or math.isnan(m):
                m = x
        return m, True
    if op == 4:
        return float(n), True
    if op == 5 or op == 6:  # stddev, stdvar
        cnt = 0.0
        mean = cm = aux = ca = 0.0
        for i in range(n):
            cnt += 1
            d = v[i] - (mean + cm)
            mean, cm = _kahan(d / cnt, mean, cm)
            aux, ca = _kahan(d * (v[i] - (mean + cm)), aux, ca)
        var = (aux + ca) / cnt
        return (math.sqrt(var) if op == 5 else var), True
    if op == 7:
        return v[n - 1], True
    if op == 8:
        return v[0], True
    if op == 9:
        return 1.0, True
    if op == 10:
        return _quantile(p1, v), True
    if op == 11 or op == 12:  # changes, resets
        k = 0
        for i in range(1, n):
            if op == 11:
                if v[i] != v[i - 1] and not (math.isnan(v[i]) and math.isnan(v[i - 1])):
                    k += 1
            elif v[i] < v[i - 1]:
                k += 1
        return float(k), True
    if op == 13:
        return _extrapolated(t, v, start, end, True, True, range_s)
    if op == 14:
        return _extrapolated(t, v, start, end, True, False, range_s)
    if op == 15:
        return _extrapolated(t, v, start, end, False, False, range_s)
    if op == 16 or op == 17:  # irate, idelta
        if n < 2:
            return np.nan, False
        last = v[n - 1]
        prev = v[n - 2]
        r = last - prev
        if op == 16:
            if last < prev:
                r = last
            dt = t[n - 1] - t[n - 2]
            if dt == 0:
                return np.nan, False
            r = r / (dt / 1000.0)
        return r, True
    if op == 18:
        if n < 2:
            return np.nan, False
        slope, _ = _regression(t, v, t[0])
        return slope, True
    if op == 19:
        if n < 2:
            return np.nan, False
        slope, icpt = _regression(t, v, end + p2)
        return slope * p1 + icpt, True
    if op == 20:
        for x in v:
            if math.isnan(x):
                return np.nan, True
        med = _quantile(0.5, v)
        return _quantile(0.5, np.abs(v - med)), True
    if op == 21 or op == 22:  # ts_of_min / ts_of_max
        m = v[0]
        mt = t[0]
        for i in range(1, n):
            x = v[i]
            better = (x <= m) if op == 21 else (x >= m)
            if better or math.isnan(m):
                m = x
                mt = t[i]
        return mt / 1000.0, True
    if op == 23:
        return t[n - 1] / 1000.0, True
    if op == 24:
        return t[0] / 1000.0, True
    if op == 25:  # double_exponential_smoothing (sf=p1, tf=p2)
        if n < 2:
            return np.nan, False
        s0 = 0.0
        s1 = v[0]
        b = v[1] - v[0]
        for i in range(1, n):
            if i > 1:
                b = p2 * (s1 - s0) + (1 - p2) * b
            s0, s1 = s1, p1 * v[i] + (1 - p1) * (s1 + b)
        return s1, True
    return np.nan, False


@njit(cache=True, nogil=True)
def _run(op, ts, vs, edges, ends, range_ms, p1, p2, out_v, out_p):  # pragma: no cover - numba
    n = len(edges) - 1
    n_steps = len(ends)
    range_s = range_ms / 1000.0
    # Prefix sums make rate/increase/resets/changes O(1) per window:
    # acc[k] = sum over samples 1..k of the reset correction (or of the resets/changes count).
    prefix = op == 11 or op == 12 or op == 13 or op == 14
    acc = np.zeros(len(vs) if prefix else 0)
    if prefix:
        for i in range(n):
            a = edges[i]
            for k in range(a + 1, edges[i + 1]):
                x = vs[k]
                y = vs[k - 1]
                if op == 11:
                    inc = 1.0 if (x != y and not (math.isnan(x) and math.isnan(y))) else 0.0
                elif op == 12:
                    inc = 1.0 if x < y else 0.0
                else:
                    inc = y if x < y else 0.0
                acc[k] = acc[k - 1] + inc
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
                if op == 11 or op == 12:
                    out_v[i, j] = c
                    out_p[i, j] = True
                    continue
                val, ok = _extrapolated_idx(ts, vs, lo, hi, start, end, op == 13, range_s, c)
            else:
                val, ok = _window(op, ts[lo:hi], vs[lo:hi], start, end, range_s, p1[j], p2[j])
            if ok:
                out_v[i, j] = val
                out_p[i, j] = True


def apply(name: str, rd: RangeData, p1: np.ndarray | None = None, p2: np.ndarray | None = None) -> SeriesMatrix:
    """Apply range function ``name`` to ``rd``; ``p1``/``p2`` are per-step scalar parameters."""
    n_steps = len(rd.ends)
    n = len(rd.labels)
    zeros = np.zeros(n_steps)
    p1 = zeros if p1 is None else np.asarray(p1, dtype=np.float64)
    p2 = zeros if p2 is None else np.asarray(p2, dtype=np.float64)
    values = np.zeros((n, n_steps))
    present = np.zeros((n, n_steps), dtype=bool)
    if n:
        _run(OPS[name], rd.ts, rd.vs, rd.edges, rd.ends, rd.range_ms, p1, p2, values, present)
    drop = rd.drop_name.copy() if name in KEEPS_NAME else np.ones(n, dtype=bool)
    return SeriesMatrix(list(rd.labels), values, present, drop).compact()
