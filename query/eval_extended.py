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
right for ``smoothed``) so the neighbours are available. The kernels are compiled
(``_extended_kernels.pyx``): two pointers per series move forward with the steps -- no
Python loop per sample or step.
"""

from __future__ import annotations

import numpy as np

from ._extended_kernels import extended, smoothed_instant
from .eval_selectors import SampleBudget, _f64, _i64, is_stale_array, load
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
        extended(_OPS[name], rd.mode == "smoothed", _i64(rd.ts), _f64(rd.vs), _i64(rd.edges), _i64(rd.ends),
                 rd.range_ms, rd.lookback_ms, values, present.view(np.uint8))
    return SeriesMatrix(list(rd.labels), values, present, np.ones(n, dtype=bool)).compact()


def select_smoothed_instant(db, matchers, times: np.ndarray, lookback_ms: int, budget: SampleBudget) -> SeriesMatrix:
    labels, arrs = _clean(*load(db, matchers, int(times.min()) - lookback_ms + 1, int(times.max()) + lookback_ms,
                                budget))
    n = len(labels)
    budget.charge(n * len(times))
    values = np.zeros((n, len(times)))
    present = np.zeros((n, len(times)), dtype=bool)
    if n:
        smoothed_instant(_i64(arrs.ts), _f64(arrs.vs), _i64(arrs.edges), _i64(times), lookback_ms, values,
                         present.view(np.uint8))
    return SeriesMatrix(labels, values, present).compact()
