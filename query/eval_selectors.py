"""Selectors: load samples from the tsdb Querier and pick each step's sample.

Strategy: one ``select_arrays`` call per selector over the whole time span
the query needs (CSR arrays for all matching series), then one compiled pass
(``_selector_kernels.pyx``)
over the series: for each series a pointer walks the (non-decreasing) step
times, so picking the sample of every step costs ``O(samples + steps)`` per
series, with no Python loop per sample or per step.

Semantics (Prometheus 3): an instant selector at ``t`` takes the latest
sample in ``(t - lookback, t]``; when that sample is a staleness marker the
series is absent at ``t``. A range selector at ``t`` holds the samples in
``(t - range, t]`` with staleness markers dropped. ``offset`` shifts ``t``
back, ``@`` pins it (the caller passes the resulting times).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from tsdb.labels import Labels
from tsdb.matchers import Matcher
from tsdb.samples import SampleArrays

from ._selector_kernels import pick
from .limits import SampleBudget, SampleLimitError
from .values import RangeData, SeriesMatrix

STALE_BITS = np.int64(0x7FF0000000000002)

__all__ = ["SampleBudget", "SampleLimitError", "is_stale_array", "load", "matrix_to_range", "select_instant",
           "select_range"]


def is_stale_array(vs: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Whether each value is Prometheus's staleness marker (a NaN with a fixed bit pattern)."""
    return vs.view(np.int64) == STALE_BITS


def _i64(a) -> np.ndarray:
    """``a`` as a contiguous int64 array, as the compiled kernels take it (no copy when it already is one)."""
    return np.ascontiguousarray(a, dtype=np.int64)


def _f64(a) -> np.ndarray:
    """``a`` as a contiguous float64 array (no copy when it already is one)."""
    return np.ascontiguousarray(a, dtype=np.float64)


def load(db, matchers: tuple[Matcher, ...], mint: int, maxt: int, budget: SampleBudget) -> tuple[list[Labels], SampleArrays]:
    """Every series matching ``matchers`` with its samples in ``[mint, maxt]`` (inclusive)."""
    if maxt < mint:
        return [], SampleArrays.empty()
    with db.querier(mint, maxt) as q:
        labels, arrs = q.select_arrays(*matchers)
    budget.charge(len(arrs.ts))
    return list(labels), arrs


def select_instant(
    db, matchers: tuple[Matcher, ...], times: NDArray[np.int64], lookback_ms: int, budget: SampleBudget,
    keep_sample_ts: bool = True,
) -> SeriesMatrix:
    """An instant selector evaluated at ``times`` (already shifted by offset / pinned by ``@``).

    ``keep_sample_ts=False`` drops the timestamps of the samples picked (only ``timestamp()`` and
    ``info()`` read them), which nearly halves the matrix: 9 bytes a cell instead of 17.
    """
    n_steps = len(times)
    if n_steps == 0:
        return SeriesMatrix.empty(0)
    labels, arrs = load(db, matchers, int(times.min()) - lookback_ms + 1, int(times.max()), budget)
    n = len(labels)
    budget.charge(n * n_steps)  # the (series x steps) matrix, before allocating it
    values = np.zeros((n, n_steps))
    present = np.zeros((n, n_steps), dtype=bool)
    sample_ts = np.zeros((n, n_steps) if keep_sample_ts else (0, 0), dtype=np.int64)
    if n:
        pick(_i64(arrs.ts), _f64(arrs.vs), is_stale_array(arrs.vs).view(np.uint8), _i64(arrs.edges), _i64(times),
             lookback_ms, values, present.view(np.uint8), sample_ts)
    return SeriesMatrix(labels, values, present, sample_ts=sample_ts if keep_sample_ts else None).compact()


def select_range(
    db, matchers: tuple[Matcher, ...], ends: NDArray[np.int64], range_ms: int, budget: SampleBudget
) -> RangeData:
    """A range selector: samples in ``(min(ends) - range, max(ends)]``, stale markers removed."""
    if len(ends) == 0:
        z = np.zeros(0, dtype=np.int64)
        return RangeData([], z, np.zeros(0), np.zeros(1, dtype=np.int64), ends, range_ms)
    labels, arrs = load(db, matchers, int(ends.min()) - range_ms + 1, int(ends.max()), budget)
    stale = is_stale_array(arrs.vs)
    if stale.any():
        arrs = arrs.filter(~stale)
    return RangeData(labels, arrs.ts, arrs.vs, arrs.edges, ends, range_ms)


def matrix_to_range(m: SeriesMatrix, grid: NDArray[np.int64], ends: NDArray[np.int64], range_ms: int) -> RangeData:
    """Turn an instant vector evaluated on ``grid`` (a subquery's inner steps) into range data."""
    n = len(m)
    counts = m.present.sum(axis=1)
    edges = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=edges[1:])
    rows, cols = np.nonzero(m.present)
    vs = m.values[rows, cols]
    ts = grid[cols]
    stale = is_stale_array(vs)
    rd = RangeData(list(m.labels), ts, vs, edges, ends, range_ms, m.drop_name.copy())
    if stale.any():
        arrs = SampleArrays(np.arange(n, dtype=np.int64), ts, vs, edges).filter(~stale)
        rd.ts, rd.vs, rd.edges = arrs.ts, arrs.vs, arrs.edges
    return rd
