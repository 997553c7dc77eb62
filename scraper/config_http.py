"""The HTTP client part of a scrape config (prometheus/common ``HTTPClientConfig`` subset).

Supported keys, inline in a ``scrape_configs`` entry: ``basic_auth``
(``username``, ``password``, ``password_file``), ``authorization`` (``type``,
``credentials``, ``credentials_file``), the older ``bearer_token`` /
``bearer_token_file`` (turned into ``authorization`` of type Bearer, as
Prometheus does), ``tls_config`` (``ca``, ``ca_file``, ``cert``,
``cert_file``, ``key``, ``key_file``, ``server_name``,
``insecure_skip_verify``, ``min_version``), ``proxy_url``,
``follow_redirects`` and ``enable_http2`` (accepted; aiohttp speaks HTTP/1.1).

Validation follows ``HTTPClientConfig.Validate`` and ``TLSConfig.Validate``
with their messages. Relative file names are resolved against the directory
of the configuration file. Secret files are read at each scrape, so rotating
them needs no reload (as in Prometheus); TLS files are read when the client
is built, i.e. at start and on reload.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from . import _fields as F
from ._yaml import Path, PathError

HTTP_KEYS = (
    "basic_auth", "authorization", "bearer_token", "bearer_token_file", "tls_config",
    "proxy_url", "follow_redirects", "enable_http2",
)
UNSUPPORTED_HTTP_KEYS = (
    "oauth2", "no_proxy", "proxy_from_environment", "proxy_connect_header", "http_headers",
)
TLS_VERSIONS = ("TLS10", "TLS11", "TLS12", "TLS13")


@dataclass(frozen=True)
class BasicAuth:
    username: str = ""
    password: str = ""
    password_file: str = ""


@dataclass(frozen=True)
class Authorization:
    type: str = "Bearer"
    credentials: str = ""
    credentials_file: str = ""


@dataclass(frozen=True)
class TLSConfig:
    ca: str = ""
    ca_file: str = ""
    cert: str = ""
    cert_file: str = ""
    key: str = ""
    key_file: str = ""
    server_name: str = ""
    insecure_skip_verify: bool = False
    min_version: str = ""

    @property
    def is_default(self) -> bool:
        return self == TLSConfig()


@dataclass(frozen=True)
class HTTPClientConfig:
    basic_auth: BasicAuth | None = None
    authorization: Authorization | None = None
    tls_config: TLSConfig = field(default_factory=TLSConfig)
    proxy_url: str = ""
    follow_redirects: bool = True
    enable_http2: bool = True


def parse_http_client_config(path: Path, m: dict[str, Any], raw: dict, base_dir: str) -> HTTPClientConfig:
    """Read the HTTP client keys of one scrape config mapping ``m`` (other keys are ignored)."""

    def file_(p: Path, v: Any) -> str:
        s = F.string(p, v, raw=raw)
        return os.path.join(base_dir, s) if s and not os.path.isabs(s) else s

    basic = None
    if m.get("basic_auth") is not None:
        p = (*path, "basic_auth")
        b = F.mapping(p, m["basic_auth"], allowed=("username", "password", "password_file"),
                      unsupported=("username_file", "username_ref", "password_ref"), what="basic_auth")
        basic = BasicAuth(
            username=F.string((*p, "username"), b.get("username"), raw=raw),
            password=F.string((*p, "password"), b.get("password"), raw=raw),
            password_file=file_((*p, "password_file"), b.get("password_file")),
        )
        if basic.password and basic.password_file:
            raise PathError(p, "at most one of basic_auth password & password_file must be configured")
    auth = None
    if m.get("authorization") is not None:
        p = (*path, "authorization")
        a = F.mapping(p, m["authorization"], allowed=("type", "credentials", "credentials_file"),
                      unsupported=("credentials_ref",), what="authorization")
        auth = Authorization(
            type=F.string((*p, "type"), a.get("type"), raw=raw).strip() or "Bearer",
            credentials=F.string((*p, "credentials"), a.get("credentials"), raw=raw),
            credentials_file=file_((*p, "credentials_file"), a.get("credentials_file")),
        )
    token = F.string((*path, "bearer_token"), m.get("bearer_token"), raw=raw)
    token_file = file_((*path, "bearer_token_file"), m.get("bearer_token_file"))
    if token and token_file:
        raise PathError((*path, "bearer_token"), "at most one of bearer_token & bearer_token_file must be configured")
    if basic is not None and (token or token_file):
        raise PathError((*path, "basic_auth"),
                        "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured")
    if auth is not None:
        p = (*path, "authorization")
        if token or token_file:
            raise PathError(p, "authorization is not compatible with bearer_token & bearer_token_file")
        if auth.credentials and auth.credentials_file:
            raise PathError(p, "at most one of authorization credentials & credentials_file must be configured")
        if auth.type.lower() == "basic":
            raise PathError((*p, "type"), 'authorization type cannot be set to "basic", use "basic_auth" instead')
        if basic is not None:
            raise PathError(p, "at most one of basic_auth, oauth2 & authorization must be configured")
    elif token or token_file:
        auth = Authorization("Bearer", token, token_file)

    tls = TLSConfig()
    if m.get("tls_config") is not None:
        tls = _parse_tls((*path, "tls_config"), m["tls_config"], raw, file_)
    proxy = F.string((*path, "proxy_url"), m.get("proxy_url"), raw=raw)
    if proxy and not proxy.startswith(("http://", "https://")):
        raise PathError((*path, "proxy_url"), f"proxy_url must be an http(s) URL, got {proxy!r}")
    return HTTPClientConfig(
        basic_auth=basic, authorization=auth, tls_config=tls, proxy_url=proxy,
        follow_redirects=F.boolean((*path, "follow_redirects"), m.get("follow_redirects", True)),
        enable_http2=F.boolean((*path, "enable_http2"), m.get("enable_http2", True)),
    )


def _parse_tls(p: Path, v: Any, raw: dict, file_) -> TLSConfig:
    t = F.mapping(p, v, allowed=("ca", "ca_file", "cert", "cert_file", "key", "key_file", "server_name",
                                 "insecure_skip_verify", "min_version"),
                  unsupported=("ca_ref", "cert_ref", "key_ref", "max_version"), what="tls_config")
    tls = TLSConfig(
        ca=F.string((*p, "ca"), t.get("ca"), raw=raw),
        ca_file=file_((*p, "ca_file"), t.get("ca_file")),
        cert=F.string((*p, "cert"), t.get("cert"), raw=raw),
        cert_file=file_((*p, "cert_file"), t.get("cert_file")),
        key=F.string((*p, "key"), t.get("key"), raw=raw),
        key_file=file_((*p, "key_file"), t.get("key_file")),
        server_name=F.string((*p, "server_name"), t.get("server_name"), raw=raw),
        insecure_skip_verify=F.boolean((*p, "insecure_skip_verify"), t.get("insecure_skip_verify", False)),
        min_version=F.string((*p, "min_version"), t.get("min_version"), raw=raw),
    )
    if tls.ca and tls.ca_file:
        raise PathError(p, "at most one of ca and ca_file must be configured")
    if tls.cert and tls.cert_file:
        raise PathError(p, "at most one of cert and cert_file must be configured")
    if tls.key and tls.key_file:
        raise PathError(p, "at most one of key and key_file must be configured")
    has_cert, has_key = bool(tls.cert or tls.cert_file), bool(tls.key or tls.key_file)
    if has_cert and not has_key:
        raise PathError(p, "exactly one of key or key_file must be configured when a client certificate is configured")
    if has_key and not has_cert:
        raise PathError(p, "exactly one of cert or cert_file must be configured when a client key is configured")
    if tls.min_version and tls.min_version not in TLS_VERSIONS:
        raise PathError((*p, "min_version"), f"unknown TLS version: {tls.min_version}")
    return tls
