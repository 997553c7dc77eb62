"""HTTP transport of a scrape: one aiohttp client per job, one GET per scrape.

The only module of the scraper that speaks HTTP. What a request looks like,
as Prometheus sends it (``scrape/scrape.go`` ``targetScraper``):

* ``Accept`` built from ``scrape_protocols`` with decreasing ``q`` weights
  (``acceptHeader``): by default
  ``application/openmetrics-text;version=1.0.0;escaping=underscores;q=0.6,
  application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=0.0.4;q=0.4,*/*;q=0.3``
  (``escaping=underscores`` because promlite validates names the legacy way);
* ``Accept-Encoding: gzip`` (``identity`` with ``enable_compression: false``);
  gzip bodies are inflated by aiohttp while they stream in;
* ``X-Prometheus-Scrape-Timeout-Seconds``, ``User-Agent``, and the
  ``Authorization`` header from ``basic_auth`` / ``authorization`` (secret
  files are read at every request, so they can be rotated without reload).

Failure is a :class:`ScrapeError` whose message says what went wrong and for
which URL: a timeout (the whole request, body included, is bounded by the
scrape timeout), a refused connection, a TLS error, a status other than 200,
a broken gzip stream, or an uncompressed body that reaches
``body_size_limit`` bytes (Prometheus's ``n >= limit``: a body of exactly the
limit fails too). The body is read in chunks and the read stops at the limit,
so a huge body costs at most ``limit`` bytes of memory.
"""

from __future__ import annotations

import asyncio
import base64
import os
import ssl
import tempfile

import aiohttp
import numpy as np

from .config import SCRAPE_PROTOCOLS
from .config_http import HTTPClientConfig, TLSConfig

USER_AGENT = "promlite/0.1.0"
# Prometheus weighs protocols from len(ScrapeProtocolsHeaders)+1 down; it knows 5.
_FIRST_WEIGHT = 6
_CHUNK = 1 << 16


class ScrapeError(Exception):
    """A scrape failed before its body could be parsed; ``str()`` is the target's ``lastError``."""


def accept_header(protocols: tuple[str, ...]) -> str:
    """The ``Accept`` header for ``scrape_protocols`` in order of preference."""
    vals = []
    weight = _FIRST_WEIGHT
    for p in protocols:
        val = SCRAPE_PROTOCOLS[p]
        if p == "OpenMetricsText1.0.0":
            val += ";escaping=underscores"
        vals.append(f"{val};q=0.{weight}")
        weight -= 1
    vals.append(f"*/*;q=0.{weight}")
    return ",".join(vals)


def build_ssl_context(tls: TLSConfig) -> ssl.SSLContext:
    """An SSL context for ``tls_config``; raises ScrapeError for unreadable or bad files."""
    try:
        ctx = ssl.create_default_context(cadata=tls.ca or None)
    except (ssl.SSLError, ValueError) as e:
        raise ScrapeError(f"unable to load TLS configuration: the inline CA is not a valid PEM: {e}") from None
    if tls.ca_file:
        try:
            ctx.load_verify_locations(cafile=tls.ca_file)
        except (OSError, ssl.SSLError, ValueError) as e:
            why = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
            raise ScrapeError(f"unable to load specified CA cert {tls.ca_file}: {why}") from None
    try:
        if tls.cert or tls.cert_file:
            if tls.cert_file and tls.key_file:
                ctx.load_cert_chain(tls.cert_file, tls.key_file)
            else:  # inline PEM: ssl only loads chains from files
                with tempfile.TemporaryDirectory() as d:
                    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
                    for path, text, name in ((cert, tls.cert, tls.cert_file), (key, tls.key, tls.key_file)):
                        if not text:
                            with open(name, encoding="utf-8") as f:
                                text = f.read()
                        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
                        with os.fdopen(fd, "w") as f:
                            f.write(text)
                    ctx.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError, ValueError) as e:
        why = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise ScrapeError(f"unable to read specified client cert ({tls.cert_file or '<inline>'}) & key "
                          f"({tls.key_file or '<inline>'}): {why}") from None
    if tls.insecure_skip_verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if tls.min_version:
        ctx.minimum_version = {
            "TLS10": ssl.TLSVersion.TLSv1, "TLS11": ssl.TLSVersion.TLSv1_1,
            "TLS12": ssl.TLSVersion.TLSv1_2, "TLS13": ssl.TLSVersion.TLSv1_3,
        }[tls.min_version]
    return ctx


def _read_secret(path: str, what: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().strip()
    except OSError as e:
        raise ScrapeError(f"unable to read {what} file {path}: {e.strerror}") from None


def authorization_header(h: HTTPClientConfig) -> str | None:
    """The ``Authorization`` header of an HTTP client config (``basic_auth`` or ``authorization``), or None.

    Secret files are read at each call, so a rotated password needs no reload (as Prometheus);
    an unreadable one raises :class:`ScrapeError` naming the file. Shared by the scraper and the
    alert notifier.
    """
    if h.basic_auth is not None:
        b = h.basic_auth
        pw = _read_secret(b.password_file, "basic auth password") if b.password_file else b.password
        return "Basic " + base64.b64encode(f"{b.username}:{pw}".encode()).decode("ascii")
    if h.authorization is not None:
        a = h.authorization
        cred = (_read_secret(a.credentials_file, "authorization credentials")
                if a.credentials_file else a.credentials)
        return f"{a.type} {cred}"
    return None


class ScrapeClient:
    """HTTP client of one scrape job. Create and use it inside the running event loop."""

    def __init__(self, http: HTTPClientConfig | None = None, *, enable_compression: bool = True,
                 user_agent: str = USER_AGENT) -> None:
        self.http = http or HTTPClientConfig()
        self.enable_compression = enable_compression
        self.user_agent = user_agent
        self._session: aiohttp.ClientSession | None = None
        self.tls_error: ScrapeError | None = None
        self._ssl: ssl.SSLContext | None = None
        try:
            self._ssl = build_ssl_context(self.http.tls_config)
        except ScrapeError as e:  # report it at every scrape, like a dial error
            self.tls_error = e

    def _session_get(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=0, ssl=self._ssl if self._ssl is not None else True)
            self._session = aiohttp.ClientSession(connector=connector, auto_decompress=True)
        return self._session

    def _auth_header(self) -> str | None:
        return authorization_header(self.http)

    async def fetch(self, url: str, *, timeout_s: float, accept: str,
                    body_size_limit: int = 0) -> tuple[bytes, str | None]:
        """GET ``url``; return ``(uncompressed body, Content-Type)`` or raise :class:`ScrapeError`."""
        if self.tls_error is not None and url.startswith("https:"):
            raise self.tls_error
        headers = {
            "Accept": accept,
            "Accept-Encoding": "gzip" if self.enable_compression else "identity",
            "User-Agent": self.user_agent,
            "X-Prometheus-Scrape-Timeout-Seconds": np.format_float_positional(timeout_s, trim="-"),
        }
        auth = self._auth_header()
        if auth is not None:
            headers["Authorization"] = auth
        kwargs = {}
        if self.http.tls_config.server_name:
            kwargs["server_hostname"] = self.http.tls_config.server_name
        if self.http.proxy_url:
            kwargs["proxy"] = self.http.proxy_url
        session = self._session_get()
        try:
            async with asyncio.timeout(timeout_s):
                async with session.get(url, headers=headers, allow_redirects=self.http.follow_redirects,
                                       **kwargs) as resp:
                    if resp.status != 200:
                        raise ScrapeError(f"server returned HTTP status {resp.status} {resp.reason or ''}".rstrip())
                    ctype = resp.headers.get("Content-Type")
                    if body_size_limit <= 0:
                        return await resp.read(), ctype
                    return await _read_limited(resp, body_size_limit), ctype
        except TimeoutError:
            raise ScrapeError(f'Get "{url}": context deadline exceeded (scrape timeout '
                              f"{np.format_float_positional(timeout_s, trim='-')}s)") from None
        except aiohttp.ClientResponseError as e:  # e.g. too many redirects
            raise ScrapeError(f'Get "{url}": {e.message} (HTTP {e.status})') from None
        except aiohttp.ClientConnectorCertificateError as e:
            cert_err = e.certificate_error
            reason = getattr(cert_err, "verify_message", None) or str(cert_err)
            raise ScrapeError(f'Get "{url}": tls: certificate of {e.host}:{e.port} not trusted: {reason}') from None
        except aiohttp.ClientSSLError as e:
            raise ScrapeError(f'Get "{url}": tls: handshake with {e.host}:{e.port} failed: {e.os_error}') from None
        except aiohttp.ClientConnectorError as e:
            err = e.os_error
            reason = (os.strerror(err.errno) if err.errno and err.errno > 0 else err.strerror or str(err)).lower()
            raise ScrapeError(f'Get "{url}": dial tcp {e.host}:{e.port}: {reason}') from None
        except aiohttp.ClientPayloadError as e:
            raise ScrapeError(f'Get "{url}": reading body: {_cause(e)}') from None
        except aiohttp.ClientError as e:
            raise ScrapeError(f'Get "{url}": {_cause(e)}') from None
        except (OSError, ValueError) as e:  # e.g. an invalid URL
            raise ScrapeError(f'Get "{url}": {e}') from None

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()


async def _read_limited(resp: aiohttp.ClientResponse, limit: int) -> bytes:
    parts: list[bytes] = []
    n = 0
    async for chunk in resp.content.iter_chunked(_CHUNK):
        parts.append(chunk)
        n += len(chunk)
        if n >= limit:
            raise ScrapeError(f"body size limit exceeded ({limit} bytes)")
    return b"".join(parts)


def _cause(e: BaseException) -> str:
    text = str(e) or type(e).__name__
    cause = e.__cause__ or e.__context__
    if cause is not None and str(cause) and str(cause) not in text:
        text += f": {cause}"
    return text
