"""Reading a request's parameters the way Go's ``r.ParseForm``/``r.Form`` does.

Prometheus's handlers read ``r.Form``: the form-encoded POST body first,
then the URL query string. Grafana sends ``query``/``query_range`` as
form-encoded POSTs and label lookups as GETs, so both must work, and a
parameter may repeat (``match[]``).

Hostile input is ``bad_data`` (400), never a 500, with the text Prometheus
uses for a form it cannot parse (``error parsing form values: ...``):

* a bad percent escape (``%zz``, a lone ``%``) is refused, as Go's
  ``url.ParseQuery`` refuses it (Python's parser would keep it literally);
* a parameter that is not UTF-8 once decoded is refused (Go would pass the
  bytes on; label names and values must be UTF-8 anyway, and the replacement
  character that Python's decoders substitute would silently match nothing);
* the ``charset`` of the content type is ignored (Go's ``ParseForm`` ignores
  it too; an unknown one made aiohttp raise ``LookupError``);
* a ``multipart/form-data`` body that does not parse (no boundary, random
  bytes) is refused; other content types' bodies are not read, as in Go;
* a body over ``client_max_size`` is 413 (aiohttp raises it while reading).

Limits on the request itself (the envelope middleware answers them in JSON, ``bad_data``):

* ``MAX_BODY_BYTES`` = 4 MiB of body, else 413. A form-encoded query is its text plus a few
  parameters; Prometheus reads the form with Go's ``ParseForm``, whose own cap is 10 MiB, and
  Grafana's largest POSTs are far below 1 MiB. 4 MiB still fits 1,000 ``match[]`` selectors of
  4 KiB each.
* ``MAX_URL_BYTES`` = 512 KiB of path and query string, else 414. Go's server reads up to 1 MiB
  of request line and headers; clients stay far below that (nginx's default buffer for a request
  line is 8 KiB, and Prometheus's documentation advises a form-encoded POST for long queries).
  A request line over ``serve.MAX_REQUEST_LINE`` (1 MiB) never reaches the application:
  aiohttp's parser answers it with a plain-text 400, as Go answers an oversized header in plain text.

Cost: linear in the size of the parameters; more than ``OFF_LOOP_BYTES`` of
them are decoded on the default executor, so a 4 MiB body does not hold the
event loop.
"""

from __future__ import annotations

import asyncio
import re
import urllib.parse

from aiohttp import web
from multidict import MultiDict, MultiDictProxy

from .envelope import APIError, bad_data

MAX_BODY_BYTES = 4 * 2**20
MAX_URL_BYTES = 512 * 2**10
OFF_LOOP_BYTES = 64 * 2**10

FORM_CT = "application/x-www-form-urlencoded"
MULTIPART_CT = "multipart/form-data"
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def _form_error(detail: str) -> APIError:
    return bad_data(f"error parsing form values: {detail}")


def _unescape(text: str, what: str) -> str:
    """One key or value: ``+`` is a space, ``%XX`` a byte; the bytes must be UTF-8."""
    if "%" not in text and "+" not in text:
        return text
    raw = urllib.parse.unquote_to_bytes(text.replace("+", " "))
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _form_error(f"invalid UTF-8 in {what}") from None


def parse_query_string(qs: str | bytes) -> list[tuple[str, str]]:
    """``k=v&k2=v2`` -> pairs, as Go's ``url.ParseQuery`` reads them (strict escapes, UTF-8).

    Raises :class:`~promlite.server.envelope.APIError` (``bad_data``) on a
    bad escape or invalid UTF-8. Empty pieces (``a=1&&b=2``) are skipped; a
    key without ``=`` has the value ``""``.
    """
    if isinstance(qs, bytes):
        try:
            qs = qs.decode("utf-8")
        except UnicodeDecodeError:
            raise _form_error("invalid UTF-8 in the request body") from None
    elif not qs.isascii():
        # aiohttp hands over a request target that is not UTF-8 with surrogate escapes (\udcff)
        try:
            qs.encode("utf-8")
        except UnicodeEncodeError:
            raise _form_error("invalid UTF-8 in the query string") from None
    m = _BAD_ESCAPE.search(qs)
    if m:
        raise _form_error(f'invalid URL escape "{qs[m.start():m.start() + 3]}"')
    out: list[tuple[str, str]] = []
    for piece in qs.split("&"):
        if not piece:
            continue
        key, _, value = piece.partition("=")
        name = _unescape(key, "a parameter name")
        out.append((name, _unescape(value, f"parameter {name[:100]!r}")))
    return out


async def _parse(qs: str | bytes) -> list[tuple[str, str]]:
    if len(qs) <= OFF_LOOP_BYTES:
        return parse_query_string(qs)
    return await asyncio.get_running_loop().run_in_executor(None, parse_query_string, qs)


async def _multipart(request: web.Request) -> list[tuple[str, str]]:
    try:
        body = await request.post()
    except (web.HTTPException, ConnectionError):
        raise  # 413 for an oversized body; a client that left is the middleware's business
    except Exception as e:  # noqa: BLE001 - aiohttp's multipart reader raises many types on garbage
        raise _form_error(f"malformed multipart body: {e}") from None
    return [(k, v) for k, v in body.items() if isinstance(v, str)]


async def form(request: web.Request) -> MultiDictProxy[str]:
    """Body parameters (form-encoded POST/PUT) followed by URL parameters (see module docstring)."""
    out: MultiDict[str] = MultiDict()
    if request.method in ("POST", "PUT"):
        ct = request.content_type
        if ct == FORM_CT:
            out.extend(await _parse(await request.read()))
        elif ct == MULTIPART_CT:
            out.extend(await _multipart(request))
    out.extend(await _parse(request.rel_url.raw_query_string))
    return MultiDictProxy(out)
