"""Range-vector functions (``rate``, ``*_over_time``, ...) over every step at once.

Strategy: a single compiled kernel (``_range_kernels.pyx``) walks each series once. The windows
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

import numpy as np

from ._range_kernels import run_range
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


def _i64(a) -> np.ndarray:
    """``a`` as a contiguous int64 array, as the compiled kernels take it (no copy when it already is one)."""
    return np.ascontiguousarray(a, dtype=np.int64)


def _f64(a) -> np.ndarray:
    """``a`` as a contiguous float64 array (no copy when it already is one)."""
    return np.ascontiguousarray(a, dtype=np.float64)


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
        run_range(OPS[name], _i64(rd.ts), _f64(rd.vs), _i64(rd.edges), _i64(rd.ends), rd.range_ms, _f64(p1),
                  _f64(p2), values, present.view(np.uint8))
    drop = rd.drop_name.copy() if name in KEEPS_NAME else np.ones(n, dtype=bool)
    return SeriesMatrix(list(rd.labels), values, present, drop).compact()
