"""The aiohttp application: routes, the error middleware, request metrics.

``create_app(state)`` returns an ``aiohttp.web.Application`` serving
Prometheus's ``/api/v1`` plus ``/metrics``, ``/-/healthy``, ``/-/ready`` and
``/-/reload``. It does no I/O of its own: ``serve.py`` owns the DB, the
scrape manager and the listening socket, and tests build an app over a
tsdb in a temporary directory.

Invariant: every error answer is the JSON envelope with
``Content-Type: application/json`` -- handler errors (``APIError``),
aiohttp's own 404/405/413, a URL over ``request.MAX_URL_BYTES`` (414), and unexpected exceptions (``internal``, 500,
logged) alike. Grafana parses the body of every failed request as JSON.
(Requests too malformed to reach a handler -- a bad request line, an
oversized header -- get aiohttp's plain-text 400, as Go's server answers
them in plain text; ``logs.py`` keeps them to one debug line.)

Bad input is never a 500: a 500 and its logged traceback mean a bug in
promlite. A client that disconnects mid-request is logged at debug level only.
"""

from __future__ import annotations

import logging
import time

from aiohttp import web

from . import api_admin, api_meta, api_query, ui_routes
from .envelope import APIError, compress_if_accepted, error_response, success
from .request import MAX_BODY_BYTES, MAX_URL_BYTES
from .state import STATE, ServerState
from .webconfig import WebConfig, auth_middleware

log = logging.getLogger("promlite.http")

# answered before the server is ready (storage opening, WAL replay) -- as Prometheus does
_ALWAYS_SERVED = frozenset({"/-/healthy", "/-/ready", "/metrics"})

# Prometheus's util/httputil.SetCORS with the default --web.cors.origin '.*': set on every /api/v1
# answer to a request that carries an Origin header
_CORS_HEADERS = {
    "Access-Control-Allow-Headers": "Accept, Authorization, Content-Type, Origin",
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Expose-Headers": "Date",
    "Vary": "Origin",
    "Access-Control-Allow-Origin": "*",
}

_HTTP_ERROR_TYPES = {404: "not_found", 405: "bad_data", 413: "bad_data", 400: "bad_data", 406: "not_acceptable"}


def _handler_name(request: web.Request) -> str:
    """Prometheus's ``handler`` label: the route pattern (``/api/v1/label/:name/values``)."""
    route = request.match_info.route
    info = route.resource.canonical if route.resource is not None else ""
    return info.replace("{name}", ":name") if info else "other"


@web.middleware
async def envelope_middleware(request: web.Request, handler):
    state = request.app[STATE]
    t0 = time.perf_counter()
    try:
        if len(request.raw_path) > MAX_URL_BYTES:
            raise APIError("bad_data", f"request URL too long: {len(request.raw_path)} bytes, at most "
                           f"{MAX_URL_BYTES} ({MAX_URL_BYTES // 1024} KiB); send long parameters as a "
                           "form-encoded POST body", 414)
        if not state.ready and request.path not in _ALWAYS_SERVED:
            raise APIError("unavailable", "Service Unavailable: the server is starting up or shutting down")
        if request.method == "OPTIONS" and request.path.startswith("/api/v1/"):
            # Prometheus routes OPTIONS /api/v1/*path to a handler answering success, data null (CORS
            # preflight); a middleware, not a catch-all route, so that other methods keep their 404/405
            resp = success(None)
        else:
            resp = await handler(request)
    except APIError as e:
        resp = error_response(e)
    except web.HTTPException as e:
        if e.status < 400:
            raise
        typ = _HTTP_ERROR_TYPES.get(e.status, "internal" if e.status >= 500 else "bad_data")
        msg = e.reason if e.status != 404 else "not found"
        if e.status == 405:
            msg = f"method {request.method} not allowed for {request.path}"
        elif e.status == 413:
            msg = (f"request body too large: at most {MAX_BODY_BYTES} bytes ({MAX_BODY_BYTES // 2**20} MiB)"
                   f" ({e.text})")
        resp = error_response(APIError(typ, msg, e.status))
        if e.status == 405 and isinstance(e, web.HTTPMethodNotAllowed):
            resp.headers["Allow"] = ",".join(sorted(e.allowed_methods))
    except ConnectionError as e:
        # The client left while we read its body: nobody will read an answer, and nothing is
        # wrong with the server (aiohttp would log a 500 with a traceback). One debug line.
        log.debug("client %s went away during %s %s: %s", request.remote, request.method, request.path, e)
        resp = error_response(APIError("bad_data", "client closed the connection"))
    except Exception as e:  # noqa: BLE001 - the server must answer and keep serving
        log.exception("internal error serving %s %s", request.method, request.path)
        resp = error_response(APIError("internal", f"internal error: {e}"))
    if "Origin" in request.headers and request.path.startswith("/api/"):
        resp.headers.update(_CORS_HEADERS)
    handler_label = _handler_name(request)
    m = state.metrics
    m.http_duration.labels(handler_label).observe(time.perf_counter() - t0)
    m.http_requests.labels(str(resp.status), handler_label).inc()
    await compress_if_accepted(request, resp)
    return resp


async def healthy(request: web.Request) -> web.Response:
    return web.Response(text="Prometheus Server is Healthy.\n")


async def ready(request: web.Request) -> web.Response:
    if not request.app[STATE].ready:
        return web.Response(status=503, text="Service Unavailable\n")
    return web.Response(text="Prometheus Server is Ready.\n")


async def reload(request: web.Request) -> web.Response:
    state = request.app[STATE]
    if not state.enable_lifecycle:
        return web.Response(status=403, text="Lifecycle API is not enabled.\n")
    if state.reload is None:
        raise APIError("unavailable", "reloading is not supported by this server")
    try:
        await state.reload()
    except Exception as e:  # noqa: BLE001 - reported to the caller, old config keeps running
        return web.Response(status=500, text=f"failed to reload config: {e}\n")
    return web.Response(text="")


async def metrics(request: web.Request) -> web.Response:
    body, content_type = request.app[STATE].metrics.expose(request.headers.get("Accept"))
    return web.Response(body=body, headers={"Content-Type": content_type})


def create_app(state: ServerState, web_config: WebConfig | None = None) -> web.Application:
    """The application serving ``state`` (see the module docstring).

    ``web_config`` (``--web.config.file``) adds basic auth and response headers
    in front of everything; its TLS context is for the listening socket.
    """
    middlewares = [envelope_middleware]
    if web_config is not None and (web_config.users or web_config.headers):
        middlewares.insert(0, auth_middleware(web_config))
    app = web.Application(middlewares=middlewares, client_max_size=MAX_BODY_BYTES)
    app[STATE] = state
    api_query.add_routes(app)
    api_meta.add_routes(app)
    api_admin.add_routes(app)
    r = app.router
    for path, handler in (("/-/healthy", healthy), ("/-/ready", ready)):
        r.add_get(path, handler)  # aiohttp answers HEAD on GET routes
    r.add_post("/-/reload", reload)
    r.add_put("/-/reload", reload)
    r.add_get("/metrics", metrics)
    ui_routes.add_routes(app)  # "/", /graph, /targets, /status, /static/*

    async def _close(app: web.Application) -> None:
        state.close()

    app.on_cleanup.append(_close)
    return app
