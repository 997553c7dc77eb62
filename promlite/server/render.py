"""Query results as Prometheus's JSON ``data`` object, built as UTF-8 bytes.

Shapes (``prometheus/web/api/v1/api.go`` ``QueryData`` and
``web/api/v1/json_codec.go``)::

    {"resultType":"vector","result":[{"metric":{...},"value":[<t>,"<v>"]}, ...]}
    {"resultType":"matrix","result":[{"metric":{...},"values":[[<t>,"<v>"], ...]}, ...]}
    {"resultType":"scalar","result":[<t>,"<v>"]}
    {"resultType":"string","result":[<t>,"<s>"]}

``resultType`` comes before ``result``, and ``result`` is ``[]`` (never
``null``) when empty: Grafana relies on both. A range query of a scalar
expression is a matrix with one series whose ``metric`` is ``{}``. A series
without a point is left out, as Prometheus never returns one.

Strategy: Python works per *series* only -- each series' header
(``{"metric":{...},"values":[``) is built here -- and the compiled kernels
of :mod:`.render_kernels` write every point into one preallocated buffer:
measured 0.02-0.04 µs a point for integers and short decimals, ~0.08 µs for
17-digit values (rates), against 0.3-0.45 µs with a Python call per point.
Values the kernels cannot format themselves (non-integers below 2**-16,
integers from 2**53 on) get their shortest digits from one ``orjson`` dump
of just those values, which the kernel lays out in Go's format. The result
is ``bytes``, so the HTTP layer sends it without an encode. Number formats:
see :mod:`.envelope`.

``metric`` objects are written as Go's ``encoding/json`` writes
``labels.Labels`` (Prometheus marshals them with ``json.Marshal``): keys in
label order, ``<``, ``>``, ``&``, U+2028 and U+2029 escaped as ``\\u003c``
and so on, other non-ASCII characters as UTF-8.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import orjson

from . import render_kernels as rk
from .envelope import dumps, format_timestamp, format_value

_NO_SLOW = np.frombuffer(b"[]", dtype=np.uint8)
_GO_ESCAPES = ((b"<", b"\\u003c"), (b">", b"\\u003e"), (b"&", b"\\u0026"),
               ("\u2028".encode(), b"\\u2028"), ("\u2029".encode(), b"\\u2029"))


def metric_json(labels) -> bytes:
    """A label set as Go's ``json.Marshal(labels.Map())`` writes it (see the module docstring)."""
    d = dict(labels)
    try:
        out = orjson.dumps(d)
    except (orjson.JSONEncodeError, TypeError):  # lone surrogates: keep them escaped, still valid JSON
        out = json.dumps(d, separators=(",", ":")).encode()
    if b"<" in out or b">" in out or b"&" in out or b"\xe2\x80" in out:
        for raw, esc in _GO_ESCAPES:
            out = out.replace(raw, esc)
    return out


def render_result(result: Any) -> bytes:
    """The ``data`` JSON of an engine result (duck-typed on ``query.values``' classes), UTF-8 encoded."""
    kind = type(result).__name__
    if kind == "Matrix":
        return _render_matrix(result)
    if kind == "InstantVector":
        n = len(result.labels)
        return _render_flat(b'{"resultType":"vector","result":[', result.labels, b',"value":', b"}",
                            np.arange(n + 1, dtype=np.int64), result.timestamps, result.values)
    if kind == "RangeVector":
        lens = [len(t) for t in result.timestamps]
        edges = np.zeros(len(lens) + 1, dtype=np.int64)
        np.cumsum(lens, out=edges[1:])
        ts = np.concatenate([np.asarray(t, dtype=np.int64) for t in result.timestamps]) if lens else np.zeros(0)
        vs = np.concatenate([np.asarray(v, dtype=np.float64) for v in result.values]) if lens else np.zeros(0)
        return _render_flat(b'{"resultType":"matrix","result":[', result.labels, b',"values":[', b"]}",
                            edges, ts, vs)
    if kind == "Scalar":
        return ('{"resultType":"scalar","result":[' + format_timestamp(int(result.t_ms)) + ',"'
                + format_value(float(result.value)) + '"]}').encode()
    if kind == "String":
        return ('{"resultType":"string","result":[' + format_timestamp(int(result.t_ms)) + ","
                + dumps(result.value) + "]}").encode()
    raise RuntimeError(f"BUG: cannot render a query result of type {kind}")


def _heads(labels, field: bytes) -> tuple[np.ndarray, np.ndarray]:
    """``{"metric":<labels>,<field>`` of every series, concatenated, and their offsets."""
    parts = [b'{"metric":' + metric_json(lab) + field for lab in labels]
    off = np.zeros(len(parts) + 1, dtype=np.int64)
    np.cumsum([len(p) for p in parts], out=off[1:])
    return np.frombuffer(b"".join(parts), dtype=np.uint8), off


def _slow_text(slow_values: np.ndarray) -> np.ndarray:
    """The JSON array text of the values the kernels leave to Ryu (orjson), as bytes to read in order."""
    if len(slow_values) == 0:
        return _NO_SLOW
    return np.frombuffer(orjson.dumps(np.ascontiguousarray(slow_values), option=orjson.OPT_SERIALIZE_NUMPY),
                         dtype=np.uint8)


_ONE = np.ones(1, dtype=np.bool_)  # the mask argument when there is none (not read)


def _render(prefix: bytes, labels, field: bytes, tail: bytes, edges: np.ndarray, times: np.ndarray,
            per_row: bool, values: np.ndarray, present: np.ndarray | None, close: bytes = b"]}") -> bytes:
    """``prefix``, the series (see ``render_kernels.render_points``), ``close``; one allocation, one copy out.

    ``values``, ``times`` and ``present`` are C-contiguous, 1-d, of the kernels' dtypes. A part of
    a streamed answer (:mod:`.render_stream`) passes ``close=b""`` for every part but the last.
    """
    codes, mant, n_slow = rk.classify(values, values.view(np.uint64), _ONE if present is None else present,
                                      present is not None)
    slow = _slow_text(values[codes == rk.SLOW]) if n_slow else _NO_SLOW
    ts_text, ts_off = rk.timestamp_table(times)
    heads, head_off = _heads(labels, field)
    n_points = len(values) if present is None else int(np.count_nonzero(present))
    size = len(prefix) + len(heads) + len(labels) * (1 + len(tail)) + n_points * rk.POINT_MAX + len(close)
    out = np.empty(size, dtype=np.uint8)
    out[: len(prefix)] = np.frombuffer(prefix, dtype=np.uint8)
    pos = rk.render_points(out, len(prefix), heads, head_off, np.frombuffer(tail, dtype=np.uint8), edges,
                           ts_text, ts_off, per_row, values, codes, mant, slow)
    out[pos : pos + len(close)] = np.frombuffer(close, dtype=np.uint8)
    return out[: pos + len(close)].tobytes()


def matrix_arrays(m: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A range result's ``(values, present, times)`` in the kernels' dtypes, its shapes checked."""
    values = np.ascontiguousarray(m.values, dtype=np.float64)
    present = np.ascontiguousarray(m.present, dtype=np.bool_)
    times = np.ascontiguousarray(m.times, dtype=np.int64)
    if values.ndim != 2 or present.shape != values.shape or times.shape != (values.shape[1],) \
            or len(m.labels) != len(values):
        raise RuntimeError(f"BUG: matrix of {len(m.labels)} series, {values.shape} values, {present.shape} mask, "
                           f"{times.shape} times")
    return values, present, times


def _render_matrix(m: Any) -> bytes:
    values, present, times = matrix_arrays(m)
    edges = np.arange(len(values) + 1, dtype=np.int64) * values.shape[1]
    return _render(b'{"resultType":"matrix","result":[', m.labels, b',"values":[', b"]}", edges, times, True,
                   values.ravel(), present.ravel())


def _render_flat(prefix: bytes, labels, field: bytes, tail: bytes, edges: np.ndarray, timestamps,
                 values) -> bytes:
    times = np.ascontiguousarray(timestamps, dtype=np.int64)
    vals = np.ascontiguousarray(values, dtype=np.float64)
    if len(edges) != len(labels) + 1 or times.shape != vals.shape or vals.ndim != 1 or edges[-1] != len(vals):
        raise RuntimeError(f"BUG: {len(labels)} series over {vals.shape} values and {times.shape} timestamps")
    return _render(prefix, labels, field, tail, edges, times, False, vals, None)

