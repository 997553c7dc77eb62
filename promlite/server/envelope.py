"""Prometheus's JSON envelope: success/error bodies, error types, number formatting.

Every answer of the API, errors included (404 and 405 too), is one of::

    {"status": "success", "data": ..., "warnings": [...], "infos": [...]}
    {"status": "error", "errorType": "bad_data", "error": "...", "data": ...}

with ``Content-Type: application/json``; ``warnings``/``infos`` only when
non-empty, as in ``prometheus/web/api/v1/api.go``. Error types map to HTTP
codes exactly as ``returnAPIError`` does: bad_data 400, execution 422,
canceled/timeout/unavailable 503, not_found 404, internal 500.

Numbers follow Prometheus's jsoniter marshalling (``util/jsonutil``):

* a sample value is a JSON *string* (``jsonutil.MarshalFloat``): ``"NaN"``,
  ``"+Inf"``, ``"-Inf"``, else Go's ``strconv.AppendFloat(v, fmt, -1, 64)``
  -- the shortest digits that round-trip -- with ``fmt`` ``'e'`` when
  ``v != 0`` and ``|v| < 1e-6`` or ``|v| >= 1e21``, ``'f'`` otherwise:
  ``"0.000001"``, ``"1e-07"``, ``"123456789012345680000"``, ``"1e+21"``,
  ``"5e-324"``, ``"-0"`` (exponents carry a sign and at least two digits);
* a timestamp is a JSON *number* of seconds written from the int64
  milliseconds: ``1435781451.781``, ``4``, ``1.500`` (the fraction is always
  3 digits when non-zero, never rounded through a float).

Query result bodies are built as bytes by :mod:`.render` (compiled kernels
write every point), not through ``json.dumps`` of nested lists: a 1,000 x 240
matrix is 240,000 points.
"""

from __future__ import annotations

import asyncio
import json
import zlib
from decimal import Decimal
from typing import Any

from aiohttp import web

# errorType -> HTTP status (prometheus/web/api/v1/api.go, returnAPIError)
ERROR_STATUS = {
    "bad_data": 400,
    "execution": 422,
    "canceled": 503,
    "timeout": 503,
    "unavailable": 503,
    "not_found": 404,
    "not_acceptable": 406,
    "internal": 500,
    "unauthorized": 401,  # --web.config.file basic auth (not a Prometheus API type: exporter-toolkit answers text)
}

JSON_CT = "application/json"


class APIError(Exception):
    """An error answer: ``type`` is Prometheus's ``errorType``, ``status`` the HTTP code."""

    def __init__(self, type_: str, message: str, status: int | None = None) -> None:
        if type_ not in ERROR_STATUS:
            raise RuntimeError(f"BUG: unknown API error type {type_!r}")
        super().__init__(message)
        self.type = type_
        self.message = message
        self.status = status if status is not None else ERROR_STATUS[type_]


def bad_data(message: str) -> APIError:
    return APIError("bad_data", message)


def format_value(v: float) -> str:
    """A sample value as Prometheus writes it (without the quotes); see the module docstring.

    Python's ``repr`` has Go's shortest digits, and for the magnitudes where
    Go writes ``'e'`` (below 1e-6, from 1e21 on) ``repr`` already uses
    exponent form laid out exactly as Go's (``1e-07``, ``1.5e+300``); in
    between, ``repr`` switches to exponent form earlier (below 1e-4, from 1e16
    on) than Go, so those values are laid out positionally from the same digits.
    """
    v = float(v)  # a numpy scalar's repr is 'np.float64(...)'
    r = repr(v)
    if "e" not in r:
        if r[-1] == "n":  # nan
            return "NaN"
        if r[-1] == "f":  # inf / -inf
            return "+Inf" if v > 0 else "-Inf"
        return r[:-2] if r.endswith(".0") else r
    a = abs(v)
    if a < 1e-6 or a >= 1e21:
        return r
    return format(Decimal(r), "f")


def format_timestamp(ms: int) -> str:
    """Milliseconds as Prometheus's JSON seconds (``MarshalTimestamp``)."""
    sign = ""
    if ms < 0:
        sign, ms = "-", -ms
    sec, frac = divmod(ms, 1000)
    if frac:
        return f"{sign}{sec}.{frac:03d}"
    return f"{sign}{sec}"


def dumps(obj: Any) -> str:
    """Compact JSON, non-finite floats refused (they must be formatted as strings first)."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _tail(warnings: list[str] | None, infos: list[str] | None) -> str:
    out = ""
    if warnings:
        out += ',"warnings":' + dumps(warnings)
    if infos:
        out += ',"infos":' + dumps(infos)
    return out


def success_text(data_json: str, warnings: list[str] | None = None, infos: list[str] | None = None) -> str:
    """The success envelope around already-encoded ``data``."""
    return '{"status":"success","data":' + data_json + _tail(warnings, infos) + "}"


def success_bytes(data_json: bytes, warnings: list[str] | None = None, infos: list[str] | None = None) -> bytes:
    """:func:`success_text` for ``data`` already encoded as UTF-8 (query results), with one copy of it."""
    return b"".join((b'{"status":"success","data":', data_json, (_tail(warnings, infos) + "}").encode()))


def success(data: Any, warnings: list[str] | None = None, infos: list[str] | None = None,
            status: int = 200) -> web.Response:
    """A success response; ``data`` is encoded with :func:`dumps`."""
    return json_response(success_text(dumps(data), warnings, infos), status)


def error_body(type_: str, message: str, data: Any = None) -> str:
    body: dict[str, Any] = {"status": "error", "errorType": type_, "error": message}
    if data is not None:
        body["data"] = data
    return dumps(body)


def error_response(err: APIError) -> web.Response:
    return json_response(error_body(err.type, err.message), err.status)


COMPRESS_MIN_BYTES = 64 * 1024


def json_response(text: str | bytes, status: int = 200) -> web.Response:
    """A JSON response (``bytes`` are UTF-8 already); large bodies are gzipped by :func:`compress_if_accepted`."""
    if isinstance(text, bytes):
        return web.Response(body=text, status=status, content_type=JSON_CT, charset="utf-8")
    return web.Response(text=text, status=status, content_type=JSON_CT, charset="utf-8")


def gzip_compressor():
    """A gzip stream at level 1: 5x faster than zlib's default 6 for ~15 % more bytes, the better
    trade on loopback and LANs (whole answers here, streamed ones in :mod:`.stream_response`)."""
    return zlib.compressobj(1, zlib.DEFLATED, 31)


def gzip_level1(body: bytes) -> bytes:
    """``body`` gzipped by :func:`gzip_compressor`."""
    c = gzip_compressor()
    return c.compress(body) + c.flush()


async def compress_if_accepted(request: web.Request, resp: web.StreamResponse) -> None:
    """Gzip a large JSON body when the client accepts gzip; the work runs off the event loop."""
    if not isinstance(resp, web.Response) or resp.content_type != JSON_CT or "Content-Encoding" in resp.headers:
        return
    body = resp.body
    if not isinstance(body, bytes | bytearray) or len(body) < COMPRESS_MIN_BYTES:
        return
    if "gzip" not in request.headers.get("Accept-Encoding", "").lower():
        return
    resp.body = await asyncio.get_running_loop().run_in_executor(None, gzip_level1, bytes(body))
    resp.headers["Content-Encoding"] = "gzip"
    resp.headers["Vary"] = "Accept-Encoding"


