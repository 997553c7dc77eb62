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

from typing import Any

import numpy as np

from .envelope import dumps, format_timestamp, format_value


def _metric(labels) -> str:
    return dumps(dict(labels))


def _points(ts_text: list[str], values: list[float]) -> str:
    return ",".join(f'[{t},"{format_value(v)}"]' for t, v in zip(ts_text, values, strict=True))


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
        vs = np.asarray(result.values, dtype=np.float64).tolist()
        items = [f'{{"metric":{_metric(lab)},"value":[{t},"{format_value(v)}"]}}'
                 for lab, t, v in zip(result.labels, ts, vs, strict=True)]
        return '{"resultType":"vector","result":[' + ",".join(items) + "]}"
    if kind == "RangeVector":
        items = []
        for lab, t, v in zip(result.labels, result.timestamps, result.values, strict=True):
            pts = _points([format_timestamp(x) for x in np.asarray(t).tolist()], np.asarray(v).tolist())
            items.append(f'{{"metric":{_metric(lab)},"values":[{pts}]}}')
        return '{"resultType":"matrix","result":[' + ",".join(items) + "]}"
    if kind == "Matrix":
        return _render_matrix(result)
    raise RuntimeError(f"BUG: cannot render a query result of type {kind}")


def _render_matrix(m: Any) -> str:
    times = np.asarray(m.times, dtype=np.int64)
    ts_text = [format_timestamp(t) for t in times.tolist()]
    present = np.asarray(m.present, dtype=bool)
    values = np.asarray(m.values, dtype=np.float64)
    items = []
    for i, lab in enumerate(m.labels):
        row = present[i]
        if not row.any():
            continue  # Prometheus never returns a series without points
        if row.all():
            pts = _points(ts_text, values[i].tolist())
        else:
            idx = np.flatnonzero(row).tolist()
            pts = _points([ts_text[j] for j in idx], values[i, idx].tolist())
        items.append(f'{{"metric":{_metric(lab)},"values":[{pts}]}}')
    return '{"resultType":"matrix","result":[' + ",".join(items) + "]}"
