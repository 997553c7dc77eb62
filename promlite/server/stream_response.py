"""Send a query answer rendered in parts (:mod:`.render_stream`) as one chunked HTTP response.

Every part is rendered (and gzipped, at level 1, when the client accepts
gzip) on the query pool; the event loop only writes bytes, so ``/-/healthy``
and the scrapes keep their pace while a 500 MB answer goes out. A client that
goes away mid-answer ends the stream quietly (one debug line): the parts not
yet rendered are never rendered.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

from aiohttp import web

from .envelope import JSON_CT, gzip_compressor
from .state import ServerState

log = logging.getLogger("promlite.api")

_HEAD = b'{"status":"success","data":'
_TAIL = b"}"


@dataclass
class Parts:
    """A query answer to stream: its first ``data`` part (already rendered) and the rest, lazily."""

    first: bytes
    rest: Iterator[bytes]


class _Encoder:
    """Identity, or one gzip stream (:func:`.envelope.gzip_compressor`) across all parts."""

    def __init__(self, gzip: bool) -> None:
        self._z = gzip_compressor() if gzip else None

    def part(self, data: bytes) -> bytes:
        return data if self._z is None else self._z.compress(data)

    def end(self, data: bytes) -> bytes:
        return data if self._z is None else self._z.compress(data) + self._z.flush()


async def stream_answer(request: web.Request, state: ServerState, parts: Parts) -> web.StreamResponse:
    """Write the success envelope around ``parts``; every CPU-heavy step runs on the query pool."""
    gzip = "gzip" in request.headers.get("Accept-Encoding", "").lower()
    resp = web.StreamResponse()
    resp.content_type = JSON_CT
    resp.charset = "utf-8"
    if gzip:
        resp.headers["Content-Encoding"] = "gzip"
        resp.headers["Vary"] = "Accept-Encoding"
    enc = _Encoder(gzip)

    def first() -> bytes:
        return enc.part(_HEAD + parts.first)

    def following() -> tuple[bytes, bool]:
        nxt = next(parts.rest, None)
        if nxt is None:
            return enc.end(_TAIL), True
        return enc.part(nxt), False

    try:
        await resp.prepare(request)
        await resp.write(await state.run(first))
        done = False
        while not done:
            data, done = await state.run(following)
            if data:
                await resp.write(data)
        await resp.write_eof()
    except ConnectionError as e:
        log.debug("client %s went away during a streamed answer to %s %s: %s", request.remote, request.method,
                  request.path, e)
    except Exception as e:  # a bug while rendering a part: the status line is sent, so cut the answer off
        log.error("streamed answer to %s %s failed: %s", request.method, request.path, e, exc_info=e)
        if request.transport is not None:
            request.transport.close()
    finally:
        close = getattr(parts.rest, "close", None)
        if close is not None:
            close()
    return resp
