"""Helpers for the scrape tests: a real aiohttp metrics server on 127.0.0.1:0, TSDB reads, certificates.

Loaded by the test modules with :func:`load` (pytest runs with
``--import-mode=importlib``, so this directory is not on ``sys.path``).
"""

from __future__ import annotations

import asyncio
import gzip
import os
import ssl
import subprocess
from dataclasses import dataclass, field

import numpy as np
from aiohttp import web

import tsdb

STALE_BITS = 0x7FF0000000000002


@dataclass
class Endpoint:
    """What the server answers on one path (mutable between scrapes)."""

    body: bytes = b""
    content_type: str = "text/plain; version=0.0.4"
    status: int = 200
    delay: float = 0.0
    gzip: bool = False
    auth: str | None = None  # required Authorization header
    requests: list[dict] = field(default_factory=list)


class MetricsServer:
    """An aiohttp server with configurable endpoints; ``async with MetricsServer() as s``."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self.endpoints: dict[str, Endpoint] = {}
        self.ssl_context = ssl_context
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._closing = asyncio.Event()

    def endpoint(self, path: str = "/metrics", **kw) -> Endpoint:
        ep = self.endpoints[path] = Endpoint(**kw)
        return ep

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        ep = self.endpoints.get(request.path)
        if ep is None:
            return web.Response(status=404, text="not found")
        ep.requests.append({"headers": dict(request.headers), "query": dict(request.query)})
        if ep.delay:  # cut short when the server shuts down, so tests need not wait it out
            try:
                await asyncio.wait_for(self._closing.wait(), ep.delay)
            except TimeoutError:
                pass
        if ep.auth is not None and request.headers.get("Authorization") != ep.auth:
            return web.Response(status=401, text="unauthorized")
        body = ep.body
        headers = {"Content-Type": ep.content_type}
        if ep.gzip:
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        return web.Response(status=ep.status, body=body, headers=headers)

    async def __aenter__(self) -> MetricsServer:
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self.ssl_context)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc) -> None:
        self._closing.set()
        await self._runner.cleanup()


def series(db, name: str | None = None, **match) -> dict[tuple, tuple[np.ndarray, np.ndarray]]:
    """``{labels: (timestamps, values)}`` of every series (optionally with ``__name__`` = name)."""
    matchers = [tsdb.Matcher.re("__name__", ".+")]
    if name is not None:
        matchers = [tsdb.Matcher.eq("__name__", name)]
    matchers += [tsdb.Matcher.eq(k, v) for k, v in match.items()]
    with db.querier(-(2**62), 2**62) as q:
        return {s.labels: (s.timestamps, s.values) for s in q.select(*matchers)}


def one(db, name: str, **match) -> tuple[np.ndarray, np.ndarray]:
    found = series(db, name, **match)
    assert len(found) == 1, f"expected one series {name} {match}, got {list(found)}"
    return next(iter(found.values()))


def is_stale(v: float) -> bool:
    return int(np.array([v], dtype=np.float64).view(np.uint64)[0]) == STALE_BITS


def make_certs(d: str) -> dict[str, str]:
    """A CA, a server cert for 127.0.0.1 and a client cert, all signed by the CA (openssl CLI)."""
    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=d, timeout=60)

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=promlite test CA")
    with open(os.path.join(d, "server.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    with open(os.path.join(d, "client.ext"), "w") as f:
        f.write("extendedKeyUsage=clientAuth\n")
    for who in ("server", "client"):
        run("req", *ec, "-keyout", f"{who}.key", "-out", f"{who}.csr", "-subj", f"/CN={who}")
        run("x509", "-req", "-in", f"{who}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", f"{who}.crt", "-days", "2", "-extfile", f"{who}.ext")
    return {k: os.path.join(d, k) for k in ("ca.crt", "server.crt", "server.key", "client.crt", "client.key")}


def server_ssl(certs: dict[str, str], *, require_client_cert: bool = False) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(certs["server.crt"], certs["server.key"])
    if require_client_cert:
        ctx.load_verify_locations(certs["ca.crt"])
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx
