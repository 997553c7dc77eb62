"""Aggregation operators (``sum``, ``avg``, ``topk``, ``quantile``, ...) over every step at once.

Strategy: series are assigned to groups once (a Python dict per *series*,
never per sample or step), rows are ordered by group, and one compiled kernel
(``_aggregation_kernels.pyx``) visits each (group, step) cell, gathering the
present values of the group's rows and reducing them with the same window
reducers the range functions use (so ``avg`` and ``avg_over_time`` share Prometheus's
Kahan/incremental-mean arithmetic).

``topk``/``bottomk`` keep the input series: the kernel marks the selected
rows per step. ``count_values`` makes one output series per distinct value,
found with ``np.unique`` over the present cells.
"""

from __future__ import annotations

import math

import numpy as np

from tsdb.labels import Labels

from ._aggregation_kernels import reduce_groups, topk
from .eval_binary import NAME_LABELS
from .limits import checkpoint, every, would_hold
from .values import SeriesMatrix
from .xxhash64 import labels_hash

_MAX_U64 = float(2**64 - 1)

_REDUCE_OPS = {"sum": 0, "avg": 1, "min": 2, "max": 3, "count": 4, "stddev": 5, "stdvar": 6, "quantile": 10,
               "group": 9}


def _f64(a) -> np.ndarray:
    """``a`` as float64 (no copy when it already is; the kernels take any strides)."""
    return np.asarray(a, dtype=np.float64)


class AggregationError(ValueError):
    """A bad aggregation parameter (Prometheus's wording)."""


def group_key(labels: Labels, grouping: tuple[str, ...], without: bool) -> Labels:
    """The output label set of a series' group (name dropped unless grouped ``by`` it)."""
    if without:
        drop = set(grouping) | NAME_LABELS
        return tuple(p for p in labels if p[0] not in drop)
    keep = set(grouping)
    return tuple(p for p in labels if p[0] in keep)


def _groups(m: SeriesMatrix, grouping, without) -> tuple[list[Labels], np.ndarray, np.ndarray, np.ndarray]:
    n = len(m)
    if not grouping and not without:  # one group, labelled {}: the common ``sum(...)``/``count(...)``
        z = np.zeros(n, dtype=np.int64)
        return [()], z, np.arange(n, dtype=np.int64), np.array([0, n], dtype=np.int64)
    ids: dict[Labels, int] = {}
    if without:
        drop = set(grouping) | NAME_LABELS
        keys = [tuple(p for p in lab if p[0] not in drop) for lab in m.labels]
    else:
        keep = set(grouping)
        keys = [tuple(p for p in lab if p[0] in keep) for lab in m.labels]
    checkpoint()
    gid = np.fromiter((ids.setdefault(k, len(ids)) for k in keys), dtype=np.int64, count=n)
    checkpoint()
    order = np.argsort(gid, kind="stable")
    starts = np.zeros(len(ids) + 1, dtype=np.int64)
    np.cumsum(np.bincount(gid, minlength=len(ids)), out=starts[1:])
    return list(ids), gid, order, starts


def aggregate(op: str, m: SeriesMatrix, grouping: tuple[str, ...], without: bool,
              param: np.ndarray | str | None, n_steps: int) -> SeriesMatrix:
    """Evaluate aggregation ``op`` (``param`` is the per-step scalar or the string parameter)."""
    if op == "count_values":
        return _count_values(m, grouping, without, str(param), n_steps)
    if op in ("topk", "bottomk", "limitk", "limit_ratio"):
        _check_k(op, param)
    if len(m) == 0:
        return SeriesMatrix.empty(n_steps)
    keys, gid, order, starts = _groups(m, grouping, without)
    if op in ("topk", "bottomk", "limitk", "limit_ratio"):
        return _select_k(op, m, order, starts, param, n_steps)
    code = _REDUCE_OPS.get(op)
    if code is None:
        raise AggregationError(f"aggregation {op!r} is not supported")
    p = np.zeros(n_steps) if param is None else np.asarray(param, dtype=np.float64)
    would_hold(len(keys) * n_steps)
    values = np.zeros((len(keys), n_steps))
    present = np.zeros((len(keys), n_steps), dtype=bool)
    reduce_groups(code, _f64(m.values), m.present.view(np.uint8), order, starts, _f64(p), values,
                  present.view(np.uint8))
    # Delayed name removal: a group kept by ``__name__`` inherits its first series' flag.
    drop = m.drop_name[order[starts[:-1]]]
    return SeriesMatrix(keys, values, present, drop).compact()


def _check_k(op: str, param) -> None:
    p = np.asarray(param, dtype=np.float64)
    if op == "limit_ratio":
        if np.isnan(p).any():
            raise AggregationError("Ratio value is NaN")
        return
    if np.isnan(p).any():
        raise AggregationError("Parameter value is NaN")
    bad = np.abs(p) >= 2.0**63
    if bad.any():
        raise AggregationError(f"Scalar value {_go_float(float(p[bad][0]))} overflows int64")


def _select_k(op: str, m: SeriesMatrix, order, starts, param, n_steps: int) -> SeriesMatrix:
    p = np.asarray(param, dtype=np.float64)
    present = np.zeros_like(m.present)
    if op == "limit_ratio":
        # Prometheus's HashRatioSampler: a series' place in [0, 1) is its label hash.
        offsets = np.asarray([labels_hash(lab) / _MAX_U64 for lab in m.labels])[:, None]
        r = np.clip(p, -1.0, 1.0)[None, :]
        keep = ((r >= 0) & (offsets < r)) | ((r < 0) & (offsets >= 1.0 + r))
        out = SeriesMatrix(list(m.labels), m.values, m.present & keep, m.drop_name.copy(), None)
        return out.compact()
    ks = np.nan_to_num(p).astype(np.int64)  # not for limit_ratio: its ratio may be any float
    if op == "limitk":
        # First k series per group in label order (deterministic stand-in for Prometheus's hash order).
        for g in range(len(starts) - 1):
            every(g)
            rows = sorted(order[starts[g]:starts[g + 1]].tolist(), key=lambda r: m.labels[r])
            rows = np.asarray(rows, dtype=np.int64)
            rank = np.cumsum(m.present[rows], axis=0)
            present[rows] = m.present[rows] & (rank <= ks[None, :])
    else:
        topk(_f64(m.values), m.present.view(np.uint8), order, starts, np.ascontiguousarray(ks), op == "bottomk",
             present.view(np.uint8))
    out = SeriesMatrix(list(m.labels), m.values, present, m.drop_name.copy(), None)
    return out.compact()


def _go_float(x: float) -> str:
    """Go's ``strconv.FormatFloat(x, 'f', -1, 64)``."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    return np.format_float_positional(x, trim="-", unique=True)


def _count_values(m: SeriesMatrix, grouping, without, label: str, n_steps: int) -> SeriesMatrix:
    if not label:
        raise AggregationError(f"invalid label name {label!r}")
    if len(m) == 0:
        return SeriesMatrix.empty(n_steps)
    keys, gid, _, _ = _groups(m, grouping, without)
    rows, cols = np.nonzero(m.present)
    vals = m.values[rows, cols]
    bits = np.where(np.isnan(vals), np.int64(0x7FF8000000000001), vals.view(np.int64))
    g = gid[rows]
    order = np.lexsort((bits, g))
    gs, bs = g[order], bits[order]
    new = np.ones(len(order), dtype=bool)
    new[1:] = (gs[1:] != gs[:-1]) | (bs[1:] != bs[:-1])
    inv = np.empty(len(order), dtype=np.int64)
    inv[order] = np.cumsum(new) - 1
    n_out = int(np.count_nonzero(new))
    # One output series per distinct (group, value), each as long as the query: the allocation that
    # took a 2 h range past 4.5 GiB. Check it against --query.max-samples first.
    would_hold(n_out * n_steps)
    checkpoint()
    uniq = np.stack([gs[new], bs[new]], axis=1)
    counts = np.bincount(inv * n_steps + cols, minlength=len(uniq) * n_steps).reshape(len(uniq), n_steps)
    counts = counts.astype(np.float64)
    labels = []
    for i, (g, b) in enumerate(uniq.tolist()):
        every(i)
        v = float(np.int64(b).view(np.float64))
        d = dict(keys[g])
        d[label] = _go_float(v)
        labels.append(tuple(sorted(d.items())))
    return SeriesMatrix(labels, counts, counts > 0)
