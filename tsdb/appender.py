"""The Appender: batch samples, then commit (log to the WAL, apply to the head) or roll back.

Mirrors Prometheus's ``storage.Appender``: appends are buffered in the
appender and become visible to queries only at :meth:`Appender.commit`,
which writes one WAL record batch before touching the head, so a commit that
returned is durable (per the DB's WAL sync mode) and a commit that raised
changed nothing a reader can see.

Three ways to append, from slowest to fastest per sample:

* ``append(labels, t, v) -> ref`` — one sample, labels validated (cached
  per label set), returns the series ref for later ``append_ref`` calls;
* ``append_batch(refs, t, values)`` — many series at one timestamp (one
  scrape), or any same-length arrays of refs, timestamps and values;
* ``append_series(labels_or_ref, ts, vs) -> ref`` — many samples of one series.

An appender is used by one thread at a time; several appenders may commit
concurrently (the DB serialises commits).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .errors import ClosedError, InvalidSampleError
from .head import AppendStats

if TYPE_CHECKING:
    from .db import DB

LabelsLike = Mapping[str, str] | Iterable[tuple[str, str]]


def _timestamps(t: ArrayLike, n: int | None = None) -> NDArray[np.int64]:
    arr = np.asarray(t)
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all():
            raise InvalidSampleError("timestamp is NaN or infinite")
        if (arr != np.floor(arr)).any():
            raise InvalidSampleError("timestamps must be whole milliseconds")
        if (np.abs(arr) > 2.0**62).any():
            raise InvalidSampleError("timestamp out of range")
        arr = arr.astype(np.int64)
    elif arr.dtype.kind in "iu":
        arr = arr.astype(np.int64, copy=False)
    else:
        raise InvalidSampleError(f"timestamps must be integers (ms), got dtype {arr.dtype}")
    if n is not None:
        if arr.ndim == 0:
            arr = np.full(n, int(arr), dtype=np.int64)
        elif len(arr) != n:
            raise InvalidSampleError(f"{len(arr)} timestamps for {n} samples")
    return np.atleast_1d(arr)


def _values(v: ArrayLike) -> NDArray[np.float64]:
    arr = np.asarray(v)
    if arr.dtype.kind not in "fiub":
        raise InvalidSampleError(f"values must be numbers, got dtype {arr.dtype}")
    return np.atleast_1d(arr.astype(np.float64, copy=False))


class Appender:
    """Buffers appends until :meth:`commit` or :meth:`rollback`."""

    def __init__(self, db: DB) -> None:
        self._db = db
        self._refs: list[NDArray[np.int64]] = []
        self._ts: list[NDArray[np.int64]] = []
        self._vs: list[NDArray[np.float64]] = []
        # single-sample appends go to plain lists (cheaper than tiny arrays)
        self._one_r: list[int] = []
        self._one_t: list[int] = []
        self._one_v: list[float] = []
        self._done = False

    def _check(self) -> None:
        if self._done:
            raise ClosedError("appender already committed or rolled back; get a new one from db.appender()")

    def append(self, labels: LabelsLike | int, t: int, v: float) -> int:
        """Append one sample; ``labels`` is a label set (mapping or pairs) or a ref; returns the ref."""
        self._check()
        ref = labels if isinstance(labels, int) else self._db._ref_for(labels)
        if isinstance(labels, int):
            self._db._check_ref(ref)
        if isinstance(t, float):
            t = int(_timestamps(t)[0])
        elif not isinstance(t, int):
            t = int(_timestamps(t)[0])
        try:
            v = float(v)
        except (TypeError, ValueError):
            raise InvalidSampleError(f"value {v!r} is not a number") from None
        self._one_r.append(ref)
        self._one_t.append(t)
        self._one_v.append(v)
        return ref

    def append_ref(self, ref: int, t: int, v: float) -> int:
        """Append one sample to a series by ref (as returned by :meth:`append`)."""
        return self.append(int(ref), t, v)

    def append_batch(self, refs: ArrayLike, t: ArrayLike, values: ArrayLike) -> None:
        """Append ``values[i]`` to series ``refs[i]`` at ``t`` (one timestamp) or ``t[i]``."""
        self._check()
        refs_arr = np.atleast_1d(np.asarray(refs, dtype=np.int64))
        vs = _values(values)
        if len(vs) != len(refs_arr):
            raise InvalidSampleError(f"{len(vs)} values for {len(refs_arr)} refs")
        ts = _timestamps(t, len(refs_arr))
        self._db._check_refs(refs_arr)
        self._flush_singles()
        self._refs.append(refs_arr)
        self._ts.append(ts)
        self._vs.append(vs)

    def append_series(self, labels: LabelsLike | int, ts: ArrayLike, vs: ArrayLike) -> int:
        """Append many samples (in time order) to one series; returns its ref."""
        self._check()
        ref = labels if isinstance(labels, int) else self._db._ref_for(labels)
        vals = _values(vs)
        times = _timestamps(ts, len(vals))
        self.append_batch(np.full(len(vals), ref, dtype=np.int64), times, vals)
        return ref

    def _flush_singles(self) -> None:
        if self._one_r:
            self._refs.append(np.array(self._one_r, dtype=np.int64))
            self._ts.append(np.array(self._one_t, dtype=np.int64))
            self._vs.append(np.array(self._one_v, dtype=np.float64))
            self._one_r, self._one_t, self._one_v = [], [], []

    def commit(self) -> AppendStats:
        """Log the batch to the WAL and apply it to the head; returns what was accepted and rejected.

        Raises (and applies nothing) when the WAL cannot be written, e.g.
        :class:`tsdb.errors.StorageFullError`. Rejected samples (out of order,
        duplicates, too old) are counted in the result, not raised.
        """
        self._check()
        self._flush_singles()
        self._done = True
        if not self._refs:
            return AppendStats()
        if len(self._refs) == 1:
            refs, ts, vs = self._refs[0], self._ts[0], self._vs[0]
        else:
            refs = np.concatenate(self._refs)
            ts = np.concatenate(self._ts)
            vs = np.concatenate(self._vs)
        self._refs, self._ts, self._vs = [], [], []
        return self._db._commit(refs, ts, vs)

    def rollback(self) -> None:
        """Discard everything appended since the appender was made."""
        self._check()
        self._done = True
        self._refs, self._ts, self._vs = [], [], []
        self._one_r, self._one_t, self._one_v = [], [], []

    def __enter__(self) -> Appender:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._done:
            return
        if exc_type is None:
            self.commit()
        else:
            self.rollback()
