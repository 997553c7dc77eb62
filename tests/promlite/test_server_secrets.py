"""No secret leaves the server (issue 12): the configuration API and UI, and basic-auth timing.

``/api/v1/status/config`` once returned ``basic_auth`` passwords in clear
text; Prometheus shows every ``config.Secret`` as ``<secret>`` and a URL's
password as ``xxxxx``. The UI's status page shows the same API answer.
"""

from __future__ import annotations

import base64
import json
import shutil
import statistics
import subprocess
import time

import pytest
import yaml
from _requirements import missing
from serve_proc import ServeProc

from promlite.server import redact, webconfig
from promlite.server.redact import redact_config

# every kind of secret promlite's configuration accepts, in a file served as is
SERVED_CONFIG = """\
# secrets of every kind promlite accepts
global:
  scrape_interval: 1h
scrape_configs:
  - job_name: basic
    basic_auth:
      username: alice
      password: hunter2-basic          # a comment stays
    static_configs: [{targets: ['127.0.0.1:1'], labels: {password: label-value-stays}}]
  - job_name: bearer
    bearer_token: "hunter2-bearer"
    proxy_url: http://proxyuser:hunter2-proxy@127.0.0.1:3128
    static_configs: [{targets: ['127.0.0.1:1']}]
  - job_name: authorization
    authorization:
      type: Bearer
      credentials: 'hunter2-credentials'
    tls_config:
      cert_file: client.pem
      key: |
{inline_key}
      insecure_skip_verify: true
    static_configs: [{targets: ['127.0.0.1:1']}]
  - job_name: files
    basic_auth: {username: bob, password_file: /etc/promlite/bob.password}
    static_configs: [{targets: ['127.0.0.1:1']}]
"""


def test_every_secret_is_redacted_in_a_prometheus_config():
    """Prometheus's own keys, beyond what promlite loads today (remote write, alerting, SD, OAuth 2)."""
    text = """\
global: {external_labels: {token: label-value-stays}}
x-anchors:
  auth: &auth {username: u, password: &pw hunter2-anchor}
scrape_configs:
  - job_name: a
    basic_auth: *auth
    oauth2: {client_id: id, client_secret: hunter2-oauth, token_url: 'https://u:hunter2-url@idp/token'}
    proxy_connect_header: {Proxy-Authorization: [hunter2-pch1, hunter2-pch2]}
    http_headers:
      X-Api-Key: {values: [visible-value], secrets: [hunter2-header], files: [/visible/path]}
    tls_config: {key: "hunter2-key", key_file: "", cert_file: /visible.pem}
    consul_sd_configs: [{server: 'c:8500', token: hunter2-consul}]
    ec2_sd_configs: [{region: r, access_key: visible-access, secret_key: hunter2-ec2}]
    params: {password: [param-value-stays]}
    relabel_configs: [{target_label: password, replacement: relabel-value-stays}]
  - job_name: b
    basic_auth: {username: x, password: *pw, password_file: ''}
    bearer_token: ""
remote_write:
  - url: https://writer:hunter2-rw@mimir/api/v1/push
    sigv4: {region: r, access_key: visible, secret_key: hunter2-sigv4}
    headers: {token: header-value-stays}
alerting:
  alertmanagers:
    - authorization: {credentials: !!str hunter2-am}
      static_configs: [{targets: [am:9093]}]
"""
    out = redact_config(text)
    assert "hunter2" not in out, out
    assert out.count("<secret>") == 10, out
    doc = yaml.safe_load(out)  # still YAML, aliases and all
    a, b = doc["scrape_configs"]
    assert a["basic_auth"] == {"username": "u", "password": "<secret>"} == doc["x-anchors"]["auth"]
    assert b["basic_auth"]["password"] == "<secret>" and b["bearer_token"] == ""  # empty stays empty
    assert a["oauth2"] == {"client_id": "id", "client_secret": "<secret>", "token_url": "https://u:xxxxx@idp/token"}
    assert a["proxy_connect_header"] == {"Proxy-Authorization": ["<secret>", "<secret>"]}
    assert a["http_headers"]["X-Api-Key"] == {"values": ["visible-value"], "secrets": ["<secret>"],
                                               "files": ["/visible/path"]}
    assert a["tls_config"] == {"key": "<secret>", "key_file": "", "cert_file": "/visible.pem"}
    assert a["consul_sd_configs"][0]["token"] == "<secret>"
    assert a["ec2_sd_configs"][0] == {"region": "r", "access_key": "visible-access", "secret_key": "<secret>"}
    # keys the user names are labels, parameters, headers: never secrets
    assert doc["global"]["external_labels"] == {"token": "label-value-stays"}
    assert a["params"] == {"password": ["param-value-stays"]}
    assert a["relabel_configs"][0]["replacement"] == "relabel-value-stays"
    rw = doc["remote_write"][0]
    assert rw["url"] == "https://writer:xxxxx@mimir/api/v1/push" and rw["sigv4"]["secret_key"] == "<secret>"
    assert rw["headers"] == {"token": "header-value-stays"}
    assert doc["alerting"]["alertmanagers"][0]["authorization"] == {"credentials": "<secret>"}


def test_text_that_is_not_yaml_is_not_shown():
    assert "hunter2" not in redact_config("password: hunter2\n  bad: [indent\n")
    assert redact_config("") == ""


def _client_key_pair(tmp_path) -> str:
    """A key (returned, indented for the YAML block) and ``client.pem``, its certificate, in ``tmp_path``."""
    if shutil.which("openssl") is None:
        missing("openssl not on PATH (Debian package 'openssl')")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(tmp_path / "k.pem"),
                    "-out", str(tmp_path / "client.pem"), "-days", "2", "-subj", "/CN=promlite-test"],
                   check=True, capture_output=True)
    return "".join("        " + line for line in (tmp_path / "k.pem").read_text().splitlines(keepends=True))


def test_status_config_and_ui_show_no_secret(tmp_path):
    key = _client_key_pair(tmp_path)
    config = SERVED_CONFIG.replace("{inline_key}\n", key)
    p = ServeProc(str(tmp_path), f"--storage.tsdb.path={tmp_path / 'data'}", config=config)
    try:
        status, body = p.request("GET", "/api/v1/status/config")
        assert status == 200
        shown = json.loads(body)["data"]["yaml"]
        assert "hunter2" not in shown and "PRIVATE KEY" not in shown, shown
        assert shown.count("<secret>") == 4
        assert "password: <secret>          # a comment stays" in shown  # the file as written otherwise
        assert "proxy_url: http://proxyuser:xxxxx@127.0.0.1:3128" in shown
        assert "password_file: /etc/promlite/bob.password" in shown  # a path, not a secret
        assert "label-value-stays" in shown
        doc = yaml.safe_load(shown)
        assert doc["scrape_configs"][2]["tls_config"]["key"] == "<secret>"
        # the UI's status page renders this API answer; no other route serves the configuration
        status, page = p.request("GET", "/status")
        assert status == 200 and b"hunter2" not in page
        status, script = p.request("GET", "/static/app.js")
        assert status == 200 and b"load('config'" in script and b"hunter2" not in script
    finally:
        p.stop()
    assert "hunter2" not in p.text() and "PRIVATE KEY" not in p.text()  # nor in the log


# -- basic auth: the same work whether or not the user exists ---------------------------------

def _hash(password: str) -> str:
    bcrypt = pytest.importorskip("bcrypt")
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(8)).decode()


def test_unknown_user_is_checked_against_a_dummy_hash(monkeypatch):
    """An unknown user was answered in 19 ms, a known one with a wrong password in 260 ms: a user oracle."""
    import asyncio

    calls: list[tuple[str, str]] = []
    real = webconfig._bcrypt_check

    def spy(password: str, hashed: str) -> bool:
        calls.append((password, hashed))
        return real(password, hashed)

    monkeypatch.setattr(webconfig, "_bcrypt_check", spy)
    wc = webconfig.WebConfig(users={"alice": _hash("right")})
    check = webconfig.basic_auth_checker(wc)

    def header(user: str, password: str) -> str:
        return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    async def run() -> dict[str, list[float]]:
        times: dict[str, list[float]] = {"known user, wrong password": [], "unknown user": []}
        for _ in range(20):
            for label, user in (("known user, wrong password", "alice"), ("unknown user", "mallory")):
                t0 = time.process_time()
                assert await check(header(user, "wrong")) is False
                times[label].append(time.process_time() - t0)
        assert await check(header("alice", "right")) is True
        return times

    times = asyncio.run(run())
    assert len(calls) == 41  # every failed try ran bcrypt, unknown users against the dummy hash
    dummy = {h for pw, h in calls if pw == "wrong"} - {wc.users["alice"]}
    assert len(dummy) == 1 and dummy.pop().startswith("$2")
    # bcrypt runs on the default executor: process CPU covers it; medians within a factor of 3
    known, unknown = (statistics.median(v) for v in times.values())
    print(f"basic auth CPU per try: known user {known * 1000:.1f} ms, unknown user {unknown * 1000:.1f} ms")
    assert known / 3 < unknown < known * 3, times


def test_dummy_hash_follows_the_configured_cost():
    wc = webconfig.WebConfig(users={"a": "$2b$12$" + "x" * 53, "b": "$2y$10$" + "y" * 53})
    assert webconfig.dummy_hash(wc).startswith("$2b$12$")
    assert redact.SECRET == "<secret>"
