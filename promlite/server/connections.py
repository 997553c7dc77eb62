"""Connection limits of the HTTP server: idle, half-open and slow clients, and how many at once.

aiohttp alone holds a connection that never finishes its request head for as
long as its keep-alive timeout (an hour by default), and a request body that
trickles in for ever; one client can hold hundreds of sockets that way. The
limits, with Prometheus's flag names where it has one:

* ``--web.read-timeout`` (default 5m, as Prometheus): an idle keep-alive
  connection is closed after it, and so is a request whose body has not
  arrived in full within it. Grafana keeps idle connections up to 90 s, so
  the idle limit must stay above that: a server that closes first makes Go's
  client fail a POST it cannot safely retry.
* A request head (request line and headers) must arrive within
  ``HEAD_TIMEOUT_S`` of its first byte, or of the connection's start for a
  connection that sends nothing. Prometheus (Go's ``http.Server`` without a
  ``ReadHeaderTimeout``) waits the whole read timeout; 30 s is more than any
  real client needs to send a few kilobytes of headers.
* ``--web.max-connections`` (default 512, as Prometheus): a connection past
  the limit gets a 503 and is closed, where Go stops accepting until one
  closes; either way the open ones are served, and an answer beats a hang.

Every close is one line at debug level, never a traceback.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_server import Server

log = logging.getLogger("web")

DEFAULT_READ_TIMEOUT_S = 300.0
DEFAULT_MAX_CONNECTIONS = 512
HEAD_TIMEOUT_S = 30.0

_TOO_MANY = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
             b"Connection: close\r\nContent-Length: %d\r\n\r\n%s")


class LimitedRequestHandler(RequestHandler):
    """aiohttp's handler with a head deadline, a body deadline and a connection cap."""

    def __init__(self, manager: Server, *, head_timeout: float, body_timeout: float,
                 max_connections: int, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._head_timeout = head_timeout
        self._body_timeout = body_timeout
        self._max_connections = max_connections
        self._head_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        assert self._manager is not None
        if self._max_connections > 0 and len(self._manager.connections) > self._max_connections:
            body = (f"too many open connections (--web.max-connections={self._max_connections})\n"
                    .encode())
            log.debug("refused a connection: %d open, --web.max-connections=%d",
                      len(self._manager.connections) - 1, self._max_connections)
            transport.write(_TOO_MANY % (len(body), body))  # type: ignore[attr-defined]
            self.force_close()
            return
        self._arm_head_deadline()

    def data_received(self, data: bytes) -> None:
        seen = self._request_count
        queued = len(self._messages)
        super().data_received(data)
        if self._request_count > seen:
            # a whole head arrived: its body, if any, must follow within the read timeout
            self._disarm_head_deadline()
            loop = self._loop
            for _msg, payload in list(self._messages)[queued:]:
                if self._body_timeout > 0 and not payload.is_eof():
                    loop.call_later(self._body_timeout, self._check_body, payload)
        elif data and self._head_deadline is None and not self._force_close:
            self._arm_head_deadline()  # the first bytes of a head after an idle spell

    def connection_lost(self, exc: BaseException | None) -> None:
        self._disarm_head_deadline()
        super().connection_lost(exc)

    def _arm_head_deadline(self) -> None:
        if self._head_timeout > 0:
            self._head_deadline = self._loop.call_later(self._head_timeout, self._head_overdue)

    def _disarm_head_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_overdue(self) -> None:
        self._head_deadline = None
        if self.transport is not None:
            log.debug("closed a connection whose request head did not arrive within %.0f s",
                      self._head_timeout)
            self.force_close()

    def _check_body(self, payload: Any) -> None:
        if self.transport is not None and not payload.is_eof():
            log.debug("closed a connection whose request body did not arrive within %.0f s",
                      self._body_timeout)
            self.force_close()


class LimitedServer(Server):
    """aiohttp's low-level server handing out ``LimitedRequestHandler``s."""

    def __init__(self, handler: Any, *, limits: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._limits = limits

    def __call__(self) -> RequestHandler:
        return LimitedRequestHandler(self, loop=self._loop, **self._limits, **self._kwargs)


class LimitedAppRunner(web.AppRunner):
    """``web.AppRunner`` whose connections obey ``--web.read-timeout`` and ``--web.max-connections``."""

    def __init__(self, app: web.Application, *, read_timeout: float = DEFAULT_READ_TIMEOUT_S,
                 max_connections: int = DEFAULT_MAX_CONNECTIONS,
                 head_timeout: float = HEAD_TIMEOUT_S, **kwargs: Any) -> None:
        # the idle limit is aiohttp's keep-alive timeout; it also starts at connection time
        super().__init__(app, keepalive_timeout=read_timeout, **kwargs)
        self._limits = {"head_timeout": min(head_timeout, read_timeout) if read_timeout > 0 else head_timeout,
                        "body_timeout": read_timeout, "max_connections": max_connections}

    async def _make_server(self) -> Server:
        server = await super()._make_server()
        limited = LimitedServer(server.request_handler, limits=self._limits,
                                request_factory=server.request_factory,
                                handler_cancellation=server.handler_cancellation,
                                loop=server._loop, **server._kwargs)
        return limited
