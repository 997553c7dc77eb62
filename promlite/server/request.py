"""Reading a request's parameters the way Go's ``r.FormValue``/``r.Form`` does.

Prometheus's handlers read ``r.Form``: the form-encoded POST body first,
then the URL query string. Grafana sends ``query``/``query_range`` as
form-encoded POSTs and label lookups as GETs, so both must work, and a
parameter may repeat (``match[]``).
"""

from __future__ import annotations

from aiohttp import web
from multidict import MultiDict, MultiDictProxy

MAX_BODY_BYTES = 4 * 2**20


async def form(request: web.Request) -> MultiDictProxy[str]:
    """Body parameters (form-encoded POST/PUT) followed by URL parameters."""
    out: MultiDict[str] = MultiDict()
    if request.method in ("POST", "PUT") and request.content_type in (
        "application/x-www-form-urlencoded", "multipart/form-data"
    ):
        body = await request.post()
        for k, v in body.items():
            if isinstance(v, str):
                out.add(k, v)
    out.extend(request.query)
    return MultiDictProxy(out)
