"""The experimental ``anchored`` / ``smoothed`` range-selector modifiers.

* ``anchored``: the window ``(start, end]`` is extended with the latest
  sample at or before ``start`` (within the lookback) as its anchor, and
  ``increase``/``rate``/``delta``/``changes``/``resets`` are computed over
  those points without extrapolation. No sample inside the window means no
  result.
* ``smoothed``: the values at ``start`` and ``end`` are interpolated
  linearly between the neighbouring samples (for counters a drop between the
  two neighbours counts as a reset, so interpolation starts from 0); with no
  sample before ``start`` the first sample stands in, with none after
  ``end`` the last one. ``increase``/``rate``/``delta`` then use the
  interpolated end points and the samples in between. An instant selector
  with ``smoothed`` interpolates at the step time the same way.

The selection is widened by the lookback delta on the left (and on the
right for ``smoothed``) so the neighbours are available. Kernels are numba,
one binary search per (series, step) -- no Python loop per sample or step.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .eval_selectors import SampleBudget, is_stale_array, load
from .values import RangeData, SeriesMatrix

ANCHORED_FUNCS = ("changes", "delta", "increase", "rate", "resets")
SMOOTHED_FUNCS = ("delta", "increase", "rate")
_OPS = {"increase": 0, "rate": 1, "delta": 2, "changes": 3, "resets": 4}


class ExtendedRangeError(ValueError):
    """A function that does not accept the modifier."""


def check_function(name: str, anchored: bool, smoothed: bool) -> None:
    if smoothed and name not in SMOOTHED_FUNCS:
        raise ExtendedRangeError(f"smoothed modifier can only be used with: {', '.join(SMOOTHED_FUNCS)} - not with {name}")
    if anchored and name not in ANCHORED_FUNCS:
        raise ExtendedRangeError(f"anchored modifier can only be used with: {', '.join(ANCHORED_FUNCS)} - not with {name}")


@njit(cache=True, nogil=True)
def _interp(t1, v1, t2, v2, t, counter):  # pragma: no cover - numba
    if counter and v2 < v1:
        v1 = 0.0
    return v1 + (v2 - v1) * (t - t1) / (t2 - t1)


@njit(cache=True, nogil=True)
def _points_value(op, pts, range_s):  # pragma: no cover - numba
    n = len(pts)
    if op == 3 or op == 4:
        k = 0
        for i in range(1, n):
            if op == 3:
                if pts[i] != pts[i - 1] and not (np.isnan(pts[i]) and np.isnan(pts[i - 1])):
                    k += 1
            elif pts[i] < pts[i - 1]:
                k += 1
        return float(k)
    r = pts[n - 1] - pts[0]
    if op != 2:
        for i in range(1, n):
            if pts[i] < pts[i - 1]:
                r += pts[i - 1]
    if op == 1:
        r /= range_s
    return r


@njit(cache=True, nogil=True)
def _extended(op, smoothed, ts, vs, edges, ends, range_ms, lookback, out_v, out_p):  # pragma: no cover - numba
    n = len(edges) - 1
    range_s = range_ms / 1000.0
    counter = op != 2
    for i in range(n):
        a = edges[i]
        b = edges[i + 1]
        t = ts[a:b]
        v = vs[a:b]
        m = b - a
        for j in range(len(ends)):
            end = ends[j]
            start = end - range_ms
            lo = np.searchsorted(t, start, side="right")
            hi = np.searchsorted(t, end, side="right")
            if not smoothed:
                if hi == lo:
                    continue
                first = lo
                if lo > 0 and t[lo - 1] > start - lookback:
                    first = lo - 1
                out_v[i, j] = _points_value(op, v[first:hi], range_s)
                out_p[i, j] = True
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
            k = max(0, inner_hi - lo)
            pts = np.empty(k + 2)
            pts[0] = sv
            for q in range(k):
                pts[q + 1] = v[lo + q]
            pts[k + 1] = ev
            out_v[i, j] = _points_value(op, pts, range_s)
            out_p[i, j] = True


@njit(cache=True, nogil=True)
def _smoothed_instant(ts, vs, edges, times, lookback, out_v, out_p):  # pragma: no cover - numba
    for i in range(len(edges) - 1):
        t = ts[edges[i]:edges[i + 1]]
        v = vs[edges[i]:edges[i + 1]]
        m = len(t)
        for j in range(len(times)):
            x = times[j]
            hi = np.searchsorted(t, x, side="right")
            if hi == 0 or t[hi - 1] <= x - lookback:
                continue
            if hi < m and t[hi - 1] != x:
                out_v[i, j] = _interp(t[hi - 1], v[hi - 1], t[hi], v[hi], x, False)
            else:
                out_v[i, j] = v[hi - 1]
            out_p[i, j] = True


def _clean(labels, arrs):
    stale = is_stale_array(arrs.vs)
    if stale.any():
        arrs = arrs.filter(~stale)
    return labels, arrs


def select_extended(db, matchers, ends: np.ndarray, range_ms: int, lookback_ms: int, smoothed: bool,
                    budget: SampleBudget) -> RangeData:
    """Range data widened by the lookback for the anchor / interpolation neighbours."""
    right = lookback_ms if smoothed else 0
    labels, arrs = _clean(*load(db, matchers, int(ends.min()) - range_ms - lookback_ms + 1, int(ends.max()) + right,
                                budget))
    rd = RangeData(labels, arrs.ts, arrs.vs, arrs.edges, ends, range_ms)
    rd.mode = "smoothed" if smoothed else "anchored"
    rd.lookback_ms = lookback_ms
    return rd


def apply_extended(name: str, rd: RangeData) -> SeriesMatrix:
    n = len(rd.labels)
    values = np.zeros((n, len(rd.ends)))
    present = np.zeros((n, len(rd.ends)), dtype=bool)
    if n:
        _extended(_OPS[name], rd.mode == "smoothed", rd.ts, rd.vs, rd.edges, rd.ends, rd.range_ms, rd.lookback_ms,
                  values, present)
    return SeriesMatrix(list(rd.labels), values, present, np.ones(n, dtype=bool)).compact()


def select_smoothed_instant(db, matchers, times: np.ndarray, lookback_ms: int, budget: SampleBudget) -> SeriesMatrix:
    labels, arrs = _clean(*load(db, matchers, int(times.min()) - lookback_ms + 1, int(times.max()) + lookback_ms,
                                budget))
    n = len(labels)
    budget.charge(n * len(times))
    values = np.zeros((n, len(times)))
    present = np.zeros((n, len(times)), dtype=bool)
    if n:
        _smoothed_instant(arrs.ts, arrs.vs, arrs.edges, times, lookback_ms, values, present)
    return SeriesMatrix(labels, values, present).compact()
