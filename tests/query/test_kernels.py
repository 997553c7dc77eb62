"""The compiled query kernels (``query/_*.pyx``): built ahead of time, no JIT, IEEE arithmetic."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from query._range_kernels import run_range

from query.eval_range import OPS

QUERY = Path(__file__).resolve().parents[2] / "query"
T0 = 1_700_000_000_000


def test_query_sources_use_no_jit() -> None:
    offenders = [p.name for p in QUERY.iterdir() if p.suffix in (".py", ".pyx", ".pxd") and "numba" in p.read_text()]
    assert not offenders


def _one_window(op: str, vs: list[float], p1: float = 0.0) -> float:
    """``op`` over one series whose samples all fall in the one window ending at the last sample."""
    ts = T0 + 1000 * np.arange(len(vs), dtype=np.int64)
    out_v = np.zeros((1, 1))
    out_p = np.zeros((1, 1), dtype=np.uint8)
    run_range(OPS[op], ts, np.asarray(vs, dtype=np.float64), np.array([0, len(vs)], dtype=np.int64),
              ts[-1:].copy(), 60_000, np.full(1, p1), np.zeros(1), out_v, out_p)
    assert out_p[0, 0] == 1
    return float(out_v[0, 0])


@pytest.mark.parametrize("n", [3, 40], ids=["insertion-sort", "quicksort"])
def test_quantile_sorts_nan_first_as_go(n: int) -> None:
    vs = [float(i) for i in range(n - 1)] + [math.nan]
    assert math.isnan(_one_window("quantile_over_time", vs, 0.0))
    assert _one_window("quantile_over_time", vs, 1.0) == n - 2


def test_kahan_sum_and_overflowing_average() -> None:
    assert _one_window("sum_over_time", [1e100, 1.0, -1e100]) == 1.0  # the compensation keeps the 1
    assert _one_window("avg_over_time", [1e308, 1e308, -1e308]) == pytest.approx(1e308 / 3)


def test_mad_and_constant_regression() -> None:
    assert _one_window("mad_over_time", [1.0, 2.0, 3.0, 4.0, 100.0]) == 1.0
    assert _one_window("deriv", [5.0, 5.0, 5.0]) == 0.0
    assert math.isnan(_one_window("deriv", [math.inf, math.inf]))


def test_division_by_zero_is_ieee_not_an_exception() -> None:
    # two samples at one time: rate's extrapolation divides 0 by a zero sampled interval (Go: NaN)
    ts = np.array([T0, T0], dtype=np.int64)
    out_v = np.zeros((1, 1))
    out_p = np.zeros((1, 1), dtype=np.uint8)
    run_range(OPS["rate"], ts, np.array([1.0, 2.0]), np.array([0, 2], dtype=np.int64), ts[-1:].copy(), 60_000,
              np.zeros(1), np.zeros(1), out_v, out_p)
    assert out_p[0, 0] == 1 and math.isnan(out_v[0, 0])


def test_bad_shapes_are_bugs_not_crashes() -> None:
    with pytest.raises(ValueError, match="BUG"):
        run_range(0, np.zeros(3, dtype=np.int64), np.zeros(3), np.array([0, 3], dtype=np.int64),
                  np.zeros(2, dtype=np.int64), 1000, np.zeros(2), np.zeros(2), np.zeros((1, 1)),
                  np.zeros((1, 1), dtype=np.uint8))
