"""The web UI's routes: the pages and their static assets.

Strategy: the UI is one static HTML page plus hand-written JS and CSS in
``promlite/server/ui/`` (a package, so the assets ship in the wheel as package
data). Every page route (``/graph``, ``/alerts``, ``/rules``, ``/targets``, ``/status``) serves the same
``index.html``; the script picks the page from the path and talks to
``/api/v1`` with relative URLs. ``/`` redirects to ``graph``.

The assets are read once, when the routes are added, and served from memory
with an ETag and ``Cache-Control: no-cache``: browsers revalidate (a 304 costs
no body) and an upgraded promlite never serves a stale script. Only the file
names found in ``ui/`` are served, so there is no path to traverse.

Pages carry a Content-Security-Policy that allows scripts from this origin
only: label values come from scraped targets, and even if one slipped into
markup it could not run.
"""

from __future__ import annotations

import hashlib
import importlib.resources

from aiohttp import web

PAGES = ("/graph", "/alerts", "/rules", "/targets", "/status", "/query")
# every path add_routes registers (not part of /api/v1, so not in docs/openapi.yaml)
ROUTES = ("/", *PAGES, "/static/{name}")

_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}

_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'self'; base-uri 'self'"
)


class Asset:
    """One file of the UI, in memory, with its validator."""

    __slots__ = ("body", "content_type", "etag")

    def __init__(self, body: bytes, content_type: str) -> None:
        self.body = body
        self.content_type = content_type
        self.etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'

    def response(self, request: web.Request) -> web.Response:
        headers = {
            "ETag": self.etag,
            "Cache-Control": "no-cache",
            "X-Content-Type-Options": "nosniff",
        }
        if self.content_type.startswith("text/html"):
            headers["Content-Security-Policy"] = _CSP
        if self.etag in request.headers.get("If-None-Match", ""):
            return web.Response(status=304, headers=headers)
        return web.Response(body=self.body, headers={**headers, "Content-Type": self.content_type})


def load_assets() -> dict[str, Asset]:
    """The UI's files by name (``index.html``, ``app.js``, ...), read from the package."""
    assets: dict[str, Asset] = {}
    for entry in importlib.resources.files("promlite.server.ui").iterdir():
        suffix = "." + entry.name.rsplit(".", 1)[-1] if "." in entry.name else ""
        if entry.is_file() and suffix in _CONTENT_TYPES:
            assets[entry.name] = Asset(entry.read_bytes(), _CONTENT_TYPES[suffix])
    if "index.html" not in assets:
        raise RuntimeError("BUG: promlite/server/ui/index.html is missing from the package")
    return assets


def add_routes(app: web.Application) -> None:
    """Register ``/`` (redirect), the page routes and ``/static/{name}`` on ``app``."""
    assets = load_assets()
    index = assets["index.html"]

    async def root(request: web.Request) -> web.Response:
        # relative, so that a reverse proxy's path prefix is kept
        return web.Response(status=302, headers={"Location": "graph"})

    async def page(request: web.Request) -> web.Response:
        return index.response(request)

    async def static(request: web.Request) -> web.Response:
        asset = assets.get(request.match_info["name"])
        if asset is None or asset is index:
            raise web.HTTPNotFound()
        return asset.response(request)

    r = app.router
    r.add_get("/", root)
    for path in PAGES:
        r.add_get(path, page)
    r.add_get("/static/{name}", static)
