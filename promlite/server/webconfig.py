"""``--web.config.file``: TLS and basic auth in Prometheus's web-config format.

The format is exporter-toolkit's (``web/tls_config.go``)::

    tls_server_config:
      cert_file: server.crt          # relative to the web-config file
      key_file: server.key
      client_auth_type: RequireAndVerifyClientCert   # optional, with client_ca_file
      client_ca_file: ca.crt
      min_version: TLS12             # TLS10..TLS13
    basic_auth_users:
      alice: $2y$10$...              # bcrypt hashes only
    http_server_config:
      headers: {X-Frame-Options: deny}

Other exporter-toolkit keys (cipher suites, curve preferences, HTTP/2
switch, ...) are refused by name rather than ignored. A password is checked
with bcrypt (the ``bcrypt`` package when installed, else the C library's
``crypt``, which speaks ``$2b$``/``$2y$`` on glibc/libxcrypt); as
exporter-toolkit does, a verified (user, password) pair is cached so that
bcrypt's deliberate slowness is paid once, and checks run off the event loop.
An unknown user costs the same bcrypt run as a known one (against a dummy
hash), so response times do not tell which users exist.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
import secrets
import ssl
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

from scraper import _fields as F
from scraper._yaml import ConfigError, PathError, load_yaml

from .envelope import error_body

_TOP = ("tls_server_config", "basic_auth_users", "http_server_config")
_TLS = ("cert_file", "key_file", "client_auth_type", "client_ca_file", "min_version", "max_version")
_TLS_UNSUPPORTED = ("cipher_suites", "curve_preferences", "prefer_server_cipher_suites", "client_allowed_sans",
                    "cert", "key")
_HTTP = ("headers",)
_HTTP_UNSUPPORTED = ("http2",)
_CLIENT_AUTH = {
    "NoClientCert": ssl.CERT_NONE, "RequestClientCert": ssl.CERT_OPTIONAL, "RequireAnyClientCert": ssl.CERT_REQUIRED,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL, "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
_VERSIONS = {"TLS10": ssl.TLSVersion.TLSv1, "TLS11": ssl.TLSVersion.TLSv1_1, "TLS12": ssl.TLSVersion.TLSv1_2,
             "TLS13": ssl.TLSVersion.TLSv1_3}


@dataclass
class WebConfig:
    ssl_context: ssl.SSLContext | None = None
    users: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


def _bcrypt_check(password: str, hashed: str) -> bool:
    try:
        import bcrypt  # type: ignore[import-not-found]
    except ImportError:
        pass
    else:
        try:
            return bcrypt.checkpw(password.encode(), hashed.encode())
        except ValueError:  # a malformed hash in the file: nobody gets in, and no 500
            return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt  # removed in Python 3.13: install the bcrypt package there

    out = crypt.crypt(password, hashed)
    return out is not None and hmac.compare_digest(out, hashed)


def load_web_config(path: str) -> WebConfig:
    """Parse and check ``path``; certificates are loaded now so a bad file fails at startup."""
    try:
        with open(path, "rb") as f:
            doc = load_yaml(f.read(), path)
    except OSError as e:
        raise ConfigError(f"cannot read web config file: {e.strerror}", source=path) from None
    base = os.path.dirname(os.path.abspath(path))
    try:
        return _parse(doc.value, base)
    except PathError as e:
        raise doc.error(e) from None


def _parse(v, base: str) -> WebConfig:
    top = F.mapping((), v, allowed=_TOP, what="the web configuration")
    wc = WebConfig()
    users = top.get("basic_auth_users") or {}
    if not isinstance(users, dict):
        raise PathError(("basic_auth_users",), "basic_auth_users must be a mapping of user to bcrypt hash")
    for user, h in users.items():
        h = F.string(("basic_auth_users", str(user)), h)
        if not h.startswith(("$2a$", "$2b$", "$2y$")):
            raise PathError(("basic_auth_users", str(user)), "not a bcrypt hash")
        wc.users[str(user)] = h
    http = F.mapping(("http_server_config",), top.get("http_server_config"), allowed=_HTTP,
                     unsupported=_HTTP_UNSUPPORTED, what="http_server_config")
    headers = http.get("headers") or {}
    if not isinstance(headers, dict):
        raise PathError(("http_server_config", "headers"), "headers must be a mapping")
    wc.headers = {str(k): F.string(("http_server_config", "headers", str(k)), x) for k, x in headers.items()}
    if top.get("tls_server_config") is not None:
        wc.ssl_context = _tls(F.mapping(("tls_server_config",), top["tls_server_config"], allowed=_TLS,
                                        unsupported=_TLS_UNSUPPORTED, what="tls_server_config"), base)
    return wc


def _tls(t: dict, base: str) -> ssl.SSLContext:
    p = ("tls_server_config",)
    cert = F.string((*p, "cert_file"), t.get("cert_file"))
    key = F.string((*p, "key_file"), t.get("key_file"))
    if not cert or not key:
        raise PathError(p, "cert_file and key_file are required")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = _VERSIONS.get(F.string((*p, "min_version"), t.get("min_version")) or "TLS12",
                                        ssl.TLSVersion.TLSv1_2)
    if t.get("max_version"):
        mx = F.string((*p, "max_version"), t["max_version"])
        if mx not in _VERSIONS:
            raise PathError((*p, "max_version"), f"unknown TLS version {mx!r}")
        ctx.maximum_version = _VERSIONS[mx]
    try:
        ctx.load_cert_chain(os.path.join(base, cert), os.path.join(base, key))
    except (OSError, ssl.SSLError) as e:
        raise PathError((*p, "cert_file"), f"cannot load certificate/key: {e}") from None
    auth = F.string((*p, "client_auth_type"), t.get("client_auth_type")) or "NoClientCert"
    if auth not in _CLIENT_AUTH:
        raise PathError((*p, "client_auth_type"), f"invalid client_auth_type {auth!r}")
    ctx.verify_mode = _CLIENT_AUTH[auth]
    ca = F.string((*p, "client_ca_file"), t.get("client_ca_file"))
    if ca:
        try:
            ctx.load_verify_locations(os.path.join(base, ca))
        except (OSError, ssl.SSLError) as e:
            raise PathError((*p, "client_ca_file"), f"cannot load: {e}") from None
    elif auth in ("VerifyClientCertIfGiven", "RequireAndVerifyClientCert"):
        raise PathError((*p, "client_ca_file"), f"client_ca_file is required with {auth}")
    return ctx


_BCRYPT_ALPHABET = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def dummy_hash(wc: WebConfig) -> str:
    """A bcrypt hash with the cost of the dearest configured one, that no password matches.

    Checked for a user that does not exist, so that the answer takes as long
    as for a user that does: without it an unknown user was refused in 19 ms
    and a known one with a wrong password in 260 ms, which tells an attacker
    which user names exist. Only the cost and the salt matter to bcrypt's
    work; the 31 hash characters are random, so no password verifies.
    """
    costs = [int(h[4:6]) for h in wc.users.values() if h[4:6].isdigit()]
    cost = min(max(costs, default=10), 31)
    try:
        import bcrypt  # type: ignore[import-not-found]

        salt = bcrypt.gensalt(cost).decode()  # "$2b$NN$" and 22 salt characters
    except ImportError:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import crypt  # removed in Python 3.13: install the bcrypt package there

        salt = crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1 << cost)
    rng = secrets.SystemRandom()
    return salt + "".join(rng.choice(_BCRYPT_ALPHABET) for _ in range(31))


def basic_auth_checker(wc: WebConfig) -> Callable[[str], Awaitable[bool]]:
    """``check(authorization_header) -> bool`` for ``wc.users``; bcrypt runs on the default executor.

    Every well-formed try runs bcrypt once, against the user's hash or, for
    an unknown user, against :func:`dummy_hash` (exporter-toolkit does the
    same), except a (user, password) pair already verified, which is cached
    as exporter-toolkit caches it.
    """
    verified: set[bytes] = set()
    dummy = dummy_hash(wc)

    def key(user: str, password: str) -> bytes:
        return hashlib.sha256(f"{user}\0{password}".encode()).digest()

    async def check(header: str) -> bool:
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:], validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        hashed = wc.users.get(user)
        k = key(user, password)
        if hashed is not None and k in verified:
            return True
        ok = await asyncio.get_running_loop().run_in_executor(None, _bcrypt_check, password, hashed or dummy)
        ok = ok and hashed is not None
        if ok and len(verified) < 10_000:
            verified.add(k)
        return ok

    return check


def auth_middleware(wc: WebConfig):
    """Basic auth on every path (as exporter-toolkit does) and the configured response headers."""
    check = basic_auth_checker(wc)

    @web.middleware
    async def middleware(request: web.Request, handler):
        if wc.users and not await check(request.headers.get("Authorization", "")):
            resp = web.Response(status=401, text=error_body("unauthorized", "Unauthorized"),
                                content_type="application/json",
                                headers={"WWW-Authenticate": 'Basic realm="promlite"'})
        else:
            resp = await handler(request)
        for k, v in wc.headers.items():
            resp.headers[k] = v
        return resp

    return middleware
