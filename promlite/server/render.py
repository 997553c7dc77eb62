"""Query results as Prometheus's JSON ``data`` object, built as text.

Shapes (``prometheus/web/api/v1/api.go`` ``QueryData`` and
``promql.Vector``/``Matrix``/``Scalar``/``String`` marshalling)::

    {"resultType":"vector","result":[{"metric":{...},"value":[<t>,"<v>"]}, ...]}
    {"resultType":"matrix","result":[{"metric":{...},"values":[[<t>,"<v>"], ...]}, ...]}
    {"resultType":"scalar","result":[<t>,"<v>"]}
    {"resultType":"string","result":[<t>,"<s>"]}

``resultType`` comes before ``result``, and ``result`` is ``[]`` (never
``null``) when empty: Grafana relies on both. A range query of a scalar
expression is a matrix with one series whose ``metric`` is ``{}``.

Strategy: the step timestamps of a range query are shared by every series,
so their text is computed once; values are formatted with
:func:`~promlite.server.envelope.format_value` per point (the one
unavoidable per-point Python call, about 0.3 µs).
"""

from __future__ import annotations

from operator import add
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .envelope import dumps, format_timestamp, format_value, format_values

_POINT = '[{},"{}"]'.format


def _metric(labels) -> str:
    return dumps(dict(labels))


def _points(ts_text: list[str], values: NDArray[np.float64]) -> str:
    return ",".join(map(_POINT, ts_text, format_values(values)))


def render_result(result: Any) -> str:
    """The ``data`` JSON text of an engine result (duck-typed on ``query.values``' classes)."""
    kind = type(result).__name__
    if kind == "Scalar":
        return ('{"resultType":"scalar","result":[' + format_timestamp(int(result.t_ms)) + ',"'
                + format_value(float(result.value)) + '"]}')
    if kind == "String":
        return ('{"resultType":"string","result":[' + format_timestamp(int(result.t_ms)) + ","
                + dumps(result.value) + "]}")
    if kind == "InstantVector":
        ts = [format_timestamp(t) for t in np.asarray(result.timestamps).tolist()]
        vs = format_values(result.values)
        items = [f'{{"metric":{_metric(lab)},"value":[{t},"{v}"]}}'
                 for lab, t, v in zip(result.labels, ts, vs, strict=True)]
        return '{"resultType":"vector","result":[' + ",".join(items) + "]}"
    if kind == "RangeVector":
        items = []
        for lab, t, v in zip(result.labels, result.timestamps, result.values, strict=True):
            pts = _points([format_timestamp(x) for x in np.asarray(t).tolist()], np.asarray(v))
            items.append(f'{{"metric":{_metric(lab)},"values":[{pts}]}}')
        return '{"resultType":"matrix","result":[' + ",".join(items) + "]}"
    if kind == "Matrix":
        return _render_matrix(result)
    raise RuntimeError(f"BUG: cannot render a query result of type {kind}")


def _render_matrix(m: Any) -> str:
    times = np.asarray(m.times, dtype=np.int64)
    ts_pre = ["[" + format_timestamp(t) + ',"' for t in times.tolist()]
    present = np.asarray(m.present, dtype=bool)
    values = np.asarray(m.values, dtype=np.float64)
    # every present point's text in one vectorised pass, then cut per series
    texts = format_values(values[present])
    counts = present.sum(axis=1).tolist()
    dense = present.all(axis=1).tolist()
    items = []
    pos = 0
    for i, lab in enumerate(m.labels):
        n = counts[i]
        if n == 0:
            continue  # Prometheus never returns a series without points
        vals = texts[pos : pos + n]
        pos += n
        pre_row = ts_pre if dense[i] else [ts_pre[j] for j in np.flatnonzero(present[i]).tolist()]
        pts = '"],'.join(map(add, pre_row, vals)) + '"]'  # [ts,"v"],[ts,"v"]: concatenation beats formatting
        items.append(f'{{"metric":{_metric(lab)},"values":[{pts}]}}')
    return '{"resultType":"matrix","result":[' + ",".join(items) + "]}"
