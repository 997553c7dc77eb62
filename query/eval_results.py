"""Turning the engine's internal values into public results.

* ``finish``: Prometheus 3's delayed ``__name__`` removal (with ``__type__``/
  ``__unit__``), then the duplicate-labelset check every result must pass;
* ``range_vector``: the ``RangeVector`` of an instant query of a range selector;
* ``instant_order``: the order of an instant vector -- by value for
  ``sort``/``sort_desc``/``topk``/``bottomk``, naturally by the given labels for
  ``sort_by_label[_desc]``, else by label set;
* ``concat``: stack instant vectors (rows) of the same steps.
"""

from __future__ import annotations

import numpy as np

from . import eval_functions as fn
from .ast import AggregateExpr, Call, Expr, ParenExpr, StringLiteral
from .eval_aggregations import group_key
from .eval_binary import NAME_LABELS, BinaryOpError, merge_rows
from .eval_errors import QueryError
from .values import RangeData, RangeVector, SeriesMatrix


def finish(m: SeriesMatrix) -> SeriesMatrix:
    """Delayed name removal, then the duplicate-labelset check."""
    if m.drop_name.any():
        labels = [tuple(p for p in lab if p[0] not in NAME_LABELS) if d else lab
                  for lab, d in zip(m.labels, m.drop_name.tolist(), strict=True)]
        m = SeriesMatrix(labels, m.values, m.present, np.zeros(len(labels), dtype=bool))
    try:
        return merge_rows(m.compact())
    except BinaryOpError as e:
        raise QueryError(str(e)) from None


def range_vector(rd: RangeData) -> RangeVector:
    end = int(rd.ends[0])
    start = end - rd.range_ms
    labels, tss, vss = [], [], []
    for i, lab in enumerate(rd.labels):
        a, b = int(rd.edges[i]), int(rd.edges[i + 1])
        t = rd.ts[a:b]
        keep = (t > start) & (t <= end)
        if keep.any():
            labels.append(tuple(p for p in lab if p[0] not in NAME_LABELS) if rd.drop_name[i] else lab)
            tss.append(t[keep])
            vss.append(rd.vs[a:b][keep])
    order = sorted(range(len(labels)), key=labels.__getitem__)
    return RangeVector([labels[i] for i in order], [tss[i] for i in order], [vss[i] for i in order])


def unwrap(node: Expr) -> Expr:
    while isinstance(node, ParenExpr):
        node = node.expr
    return node


def instant_order(node: Expr, m: SeriesMatrix, rows: np.ndarray) -> list[int]:
    """Result order of an instant vector: by value for sort*/topk/bottomk, else by labels."""
    node = unwrap(node)
    vals = m.values[:, 0]
    rows_l = rows.tolist()

    def nan_last(i: int, sign: float) -> tuple:
        v = vals[i]
        return (1, 0.0) if np.isnan(v) else (0, sign * v)

    if isinstance(node, Call) and node.func in ("sort", "sort_desc"):
        sign = 1.0 if node.func == "sort" else -1.0
        return sorted(rows_l, key=lambda i: nan_last(i, sign))
    if isinstance(node, Call) and node.func in ("sort_by_label", "sort_by_label_desc"):
        names = [a.value for a in node.args[1:] if isinstance(a, StringLiteral)]
        desc = node.func.endswith("_desc")

        def key(i: int) -> tuple:
            d = dict(m.labels[i])
            return tuple(fn.natural_key(d.get(n, "")) for n in names) + (m.labels[i],)

        return sorted(rows_l, key=key, reverse=desc)
    if isinstance(node, AggregateExpr) and node.op in ("topk", "bottomk"):
        # Groups in order of first appearance in the (label-sorted) input, then by value.
        sign = -1.0 if node.op == "topk" else 1.0
        first: dict = {}
        for i in sorted(rows_l, key=lambda i: m.labels[i]):
            first.setdefault(group_key(m.labels[i], node.grouping, node.without), len(first))
        return sorted(rows_l, key=lambda i: (first[group_key(m.labels[i], node.grouping, node.without)],) +
                      nan_last(i, sign))
    return sorted(rows_l, key=lambda i: m.labels[i])


def concat(parts: list[SeriesMatrix], n_steps: int) -> SeriesMatrix:
    parts = [p for p in parts if len(p)]
    if not parts:
        return SeriesMatrix.empty(n_steps)
    return SeriesMatrix([lab for p in parts for lab in p.labels], np.concatenate([p.values for p in parts]),
                        np.concatenate([p.present for p in parts]), np.concatenate([p.drop_name for p in parts]))
