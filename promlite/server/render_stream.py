"""Large query answers rendered in parts, so that memory holds one part of the JSON, not all of it.

A range query may answer up to ``--query.max-samples`` points; at ~33 bytes a
point, 16 million points are a 540 MB answer. Built whole, that text was held
three times over (the render buffer, its ``bytes`` copy, the envelope around
it: 1.9 GiB peak RSS for one request). Here the series are cut into groups of
at most ``PART_POINTS`` points and each group is rendered by the same kernels
as :mod:`.render` (so the bytes are identical to :func:`.render.render_result`),
one part at a time, on the query pool, while the handler sends the previous
one. Series without a point are dropped before grouping, so that every part
holds at least one series and parts join with a plain comma.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from .render import _render, matrix_arrays, render_result

PART_POINTS = 1 << 18
"""Points per part: ~8 MB of JSON, rendered in ~10-20 ms; small enough to interleave with other work."""

STREAM_MIN_POINTS = 1 << 19
"""Answers with fewer points are rendered whole (one pool trip; the common case stays as fast as it was)."""

_MATRIX = b'{"resultType":"matrix","result":['


def point_count(result: Any) -> int:
    """How many points the answer to ``result`` will hold (an upper bound: absent cells are not subtracted)."""
    kind = type(result).__name__
    if kind == "Matrix":
        return int(np.size(result.values))
    if kind == "RangeVector":
        return sum(len(t) for t in result.timestamps)
    if kind == "InstantVector":
        return len(result.labels)
    return 1


def _groups(counts: np.ndarray, limit: int) -> list[np.ndarray]:
    """Cut the rows with a point into consecutive groups of about ``limit`` points (under ``2 * limit`` plus
    one row; at least one row each)."""
    rows = np.flatnonzero(counts)
    if len(rows) == 0:
        return []
    cum = np.cumsum(counts[rows])
    # a group ends where the running total crosses the next multiple of ``limit``
    cuts = np.flatnonzero(np.diff(cum // limit, prepend=0)) if limit > 0 else np.zeros(0, dtype=np.int64)
    cuts = cuts[cuts > 0]
    return np.split(rows, cuts)


def render_parts(result: Any, part_points: int = PART_POINTS) -> Iterator[bytes]:
    """The ``data`` JSON of ``result`` in parts whose concatenation is :func:`.render.render_result`'s bytes."""
    kind = type(result).__name__
    if kind == "Matrix":
        yield from _matrix_parts(result, part_points)
    elif kind == "RangeVector":
        yield from _range_vector_parts(result, part_points)
    else:  # instant vectors, scalars and strings are small next to the sample limit
        yield render_result(result)


def _matrix_parts(m: Any, part_points: int) -> Iterator[bytes]:
    values, present, times = matrix_arrays(m)
    groups = _groups(present.sum(axis=1), part_points)
    if not groups:
        yield _MATRIX + b"]}"
        return
    width = values.shape[1]
    for i, rows in enumerate(groups):
        vals = np.ascontiguousarray(values[rows]).ravel()
        pres = np.ascontiguousarray(present[rows]).ravel()
        edges = np.arange(len(rows) + 1, dtype=np.int64) * width
        yield _render(_MATRIX if i == 0 else b",", [m.labels[r] for r in rows.tolist()], b',"values":[', b"]}",
                      edges, times, True, vals, pres, close=b"]}" if i == len(groups) - 1 else b"")


def _range_vector_parts(rv: Any, part_points: int) -> Iterator[bytes]:
    counts = np.array([len(t) for t in rv.timestamps], dtype=np.int64)
    groups = _groups(counts, part_points)
    if not groups:
        yield _MATRIX + b"]}"
        return
    for i, rows in enumerate(groups):
        rl = rows.tolist()
        edges = np.zeros(len(rl) + 1, dtype=np.int64)
        np.cumsum(counts[rows], out=edges[1:])
        ts = np.concatenate([np.asarray(rv.timestamps[r], dtype=np.int64) for r in rl])
        vs = np.concatenate([np.asarray(rv.values[r], dtype=np.float64) for r in rl])
        yield _render(_MATRIX if i == 0 else b",", [rv.labels[r] for r in rl], b',"values":[', b"]}",
                      edges, ts, False, vs, None, close=b"]}" if i == len(groups) - 1 else b"")
