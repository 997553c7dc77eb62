"""Values of PromQL evaluation: the engine's internal forms and its public results.

Internal forms (all steps of a query at once, ``T`` steps):

* ``Steps`` -- a scalar over the steps: ``values[T]``;
* ``SeriesMatrix`` -- an instant vector over the steps: ``labels[n]``,
  ``values[n, T]`` (float64) and ``present[n, T]`` (bool). PromQL tells a
  missing sample from a NaN sample, so absence lives in the mask, never in
  the values. ``drop_name[n]`` implements Prometheus 3's delayed
  ``__name__`` removal: functions flag a row and the name goes at the end.
  ``sample_ts`` (optional ``[n, T]`` int64) holds the timestamps of the
  samples a selector picked, for ``timestamp()``;
* ``RangeData`` -- a range vector at every step: each series' samples in CSR
  form (``ts``/``vs``/``edges`` as ``tsdb.SampleArrays``), stale markers
  already removed, plus the window of each step: ``(ends[j] - range_ms, ends[j]]``.
* ``StringValue``.

Public results (``Engine.instant`` / ``Engine.range``) are ``Scalar``,
``String``, ``InstantVector``, ``RangeVector`` (an instant query of a range
selector) and ``Matrix`` (a range query: the value matrix and its mask).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from tsdb.labels import Labels, format_labels


@dataclass
class Steps:
    """A scalar at every step."""

    values: NDArray[np.float64]


@dataclass
class StringValue:
    value: str


@dataclass
class SeriesMatrix:
    """An instant vector at every step (see module docstring)."""

    labels: list[Labels]
    values: NDArray[np.float64]
    present: NDArray[np.bool_]
    drop_name: NDArray[np.bool_] = None  # type: ignore[assignment]
    sample_ts: NDArray[np.int64] | None = None

    def __post_init__(self) -> None:
        if self.drop_name is None:
            self.drop_name = np.zeros(len(self.labels), dtype=bool)

    def __len__(self) -> int:
        return len(self.labels)

    @staticmethod
    def empty(n_steps: int) -> SeriesMatrix:
        return SeriesMatrix([], np.zeros((0, n_steps)), np.zeros((0, n_steps), dtype=bool))

    def take(self, rows: NDArray[np.int64] | list[int]) -> SeriesMatrix:
        rows = np.asarray(rows, dtype=np.int64)
        return SeriesMatrix(
            [self.labels[i] for i in rows.tolist()], self.values[rows], self.present[rows], self.drop_name[rows],
            None if self.sample_ts is None else self.sample_ts[rows],
        )

    def compact(self) -> SeriesMatrix:
        """Drop rows absent at every step."""
        keep = self.present.any(axis=1)
        if keep.all():
            return self
        return self.take(np.flatnonzero(keep))


@dataclass
class RangeData:
    """A range vector at every step (see module docstring)."""

    labels: list[Labels]
    ts: NDArray[np.int64]
    vs: NDArray[np.float64]
    edges: NDArray[np.int64]
    ends: NDArray[np.int64]
    range_ms: int
    drop_name: NDArray[np.bool_] = None  # type: ignore[assignment]
    mode: str = ""
    """``""``, or ``"anchored"``/``"smoothed"`` (samples widened by ``lookback_ms``)."""
    lookback_ms: int = 0

    def __post_init__(self) -> None:
        if self.drop_name is None:
            self.drop_name = np.zeros(len(self.labels), dtype=bool)


# -- public results ---------------------------------------------------------------------


@dataclass
class Scalar:
    """A scalar result: ``value`` at ``t_ms`` (instant) or ``values`` at ``times`` (range)."""

    t_ms: int
    value: float


@dataclass
class String:
    t_ms: int
    value: str


@dataclass
class InstantVector:
    """An instant query's vector: ``values[i]`` of series ``labels[i]`` at ``timestamps[i]`` ms."""

    labels: list[Labels]
    values: NDArray[np.float64]
    timestamps: NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.labels)

    def __str__(self) -> str:
        return "\n".join(f"{format_labels(lab)} => {v}" for lab, v in zip(self.labels, self.values.tolist(), strict=True))


@dataclass
class RangeVector:
    """An instant query of a range selector: per-series sample arrays."""

    labels: list[Labels]
    timestamps: list[NDArray[np.int64]]
    values: list[NDArray[np.float64]]

    def __len__(self) -> int:
        return len(self.labels)


@dataclass
class Matrix:
    """A range query's result: ``values[i, j]`` of series ``labels[i]`` at ``times[j]``, where ``present[i, j]``.

    Series are sorted by labels. ``series(i)`` gives the points of one
    series as ``(timestamps, values)`` arrays, like Prometheus's JSON.
    """

    labels: list[Labels]
    times: NDArray[np.int64]
    values: NDArray[np.float64]
    present: NDArray[np.bool_]
    is_scalar: bool = field(default=False)

    def __len__(self) -> int:
        return len(self.labels)

    def series(self, i: int) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        m = self.present[i]
        return self.times[m], self.values[i][m]


Result = Scalar | String | InstantVector | RangeVector | Matrix

__all__ = [
    "Steps", "StringValue", "SeriesMatrix", "RangeData", "Scalar", "String", "InstantVector", "RangeVector",
    "Matrix", "Result",
]
