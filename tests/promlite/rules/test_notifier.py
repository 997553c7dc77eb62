"""The alert notifier (issue 14): what it sends to Alertmanager, when, and what it counts.

Unit tests run against a fake Alertmanager (an aiohttp server on 127.0.0.1
recording each POST); the end-to-end test runs the real
``prometheus-alertmanager`` (Debian package; skipped locally when missing,
a failure under CI) with a webhook receiver served by the test.
Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import importlib.util
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import threading
import time

import aiohttp
import pytest
import yaml
from _requirements import missing, require_tool
from aiohttp import web
from timing import async_wait_until

from promlite.rules.notifier import Alert, Notifier, alerts_path, relabel_alerts, rfc3339
from promlite.server.redact import redact_config
from scraper.config import load_config

HERE = os.path.dirname(os.path.abspath(__file__))


def _scrape_helpers():
    path = os.path.join(HERE, "..", "..", "scraper", "_scrape_helpers.py")
    spec = importlib.util.spec_from_file_location("_scrape_helpers_for_notifier", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


async def until(pred, timeout: float = 20.0, what: str = "condition", step: float = 0.05):
    """Poll ``pred`` (sync or async) until it is truthy (``timing.async_wait_until`` with this file's defaults)."""
    return await async_wait_until(pred, timeout, what, step)


class FakeAM:
    """An Alertmanager stand-in: records every POST (path, headers, JSON body); answers ``status``."""

    def __init__(self, *, status: int = 200, delay: float = 0.0, ssl_context=None, path: str = "/api/v2/alerts"):
        self.status, self.delay, self.ssl_context, self.path = status, delay, ssl_context, path
        self.posts: list[tuple[str, dict, list]] = []
        self.address = ""

    @property
    def alerts(self) -> list[dict]:
        return [a for _, _, body in self.posts for a in body]

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        if self.delay:
            await asyncio.sleep(self.delay)
        self.posts.append((request.path, dict(request.headers), body))
        return web.Response(status=self.status, text="{}")

    async def __aenter__(self) -> FakeAM:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self.ssl_context)
        await site.start()
        self.address = f"127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
        return self

    async def __aexit__(self, *exc) -> None:
        await self._runner.cleanup()


def _config(text: str, tmp_path=None):
    return load_config(text, base_dir=str(tmp_path) if tmp_path else None)


def _am_config(*addresses: str, extra: str = "", top: str = "") -> str:
    targets = ", ".join(f"'{a}'" for a in addresses)
    return f"""
{top}
alerting:
  alertmanagers:
    - static_configs: [{{targets: [{targets}]}}]
      timeout: 2s
{extra}
"""


def _alerts(n: int, start: int = 0, **labels: str) -> list[Alert]:
    return [Alert({"alertname": "A", "i": str(i), **labels}, {"summary": f"alert {i}"}, starts_at=1_700_000_000.0)
            for i in range(start, start + n)]


def _metrics(n: Notifier) -> dict[tuple[str, tuple], float]:
    out = {}
    for fam in n.collect():
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


# -- the body, the times, the path --------------------------------------------------------------

def test_v2_body_is_prometheus_postable_alert():
    a = Alert({"alertname": "Down", "job": "api"}, {"summary": "it is down"},
              starts_at=dt.datetime(2026, 1, 2, 3, 4, 5, 678_000, tzinfo=dt.UTC),
              ends_at=1767323045.5, generator_url="http://promlite:9090/graph?g0.expr=up")
    assert a.to_v2() == {
        "labels": {"alertname": "Down", "job": "api"},
        "annotations": {"summary": "it is down"},
        "startsAt": "2026-01-02T03:04:05.678Z",
        "endsAt": "2026-01-02T03:04:05.500Z",
        "generatorURL": "http://promlite:9090/graph?g0.expr=up",
    }
    bare = Alert({"alertname": "X"}).to_v2()  # unset times are Go's zero time; empty fields are left out
    assert bare == {"labels": {"alertname": "X"}, "startsAt": "0001-01-01T00:00:00.000Z",
                    "endsAt": "0001-01-01T00:00:00.000Z"}
    assert rfc3339(0.0009) == "1970-01-01T00:00:00.001Z"
    assert Alert({}, ends_at=time.time() - 1).resolved() and not Alert({}, ends_at=time.time() + 60).resolved()
    assert not Alert({}).resolved()


@pytest.mark.parametrize("prefix, path", [
    ("", "/api/v2/alerts"), ("/", "/api/v2/alerts"), ("/am", "/am/api/v2/alerts"), ("am/", "/am/api/v2/alerts"),
    ("//a//b/", "/a/b/api/v2/alerts"), ("/a/../b", "/b/api/v2/alerts"),
])
def test_alerts_path_joins_like_go(prefix, path):
    assert alerts_path(prefix) == path


def test_external_labels_never_override_and_relabel_drops():
    cfg = _config("""
alerting:
  alert_relabel_configs:
    - {source_labels: [alertname], regex: Noisy, action: drop}
    - {action: labeldrop, regex: tmp_.*}
""")
    alerts = [Alert({"alertname": "A", "dc": "mine", "tmp_x": "1"}), Alert({"alertname": "Noisy"}),
              Alert({"alertname": "B"})]
    out = relabel_alerts(alerts, cfg.alerting.alert_relabel_configs, (("dc", "eu"), ("env", "prod")))
    assert [a.labels for a in out] == [{"alertname": "A", "dc": "mine", "env": "prod"},
                                       {"alertname": "B", "dc": "eu", "env": "prod"}]
    assert alerts[0].labels == {"alertname": "A", "dc": "mine", "tmp_x": "1"}  # the caller's alert is not touched


# -- sending ------------------------------------------------------------------------------------

def test_batches_of_at_most_64_in_order():
    async def main():
        async with FakeAM() as am:
            n = Notifier()
            n.apply_config(_config(_am_config(am.address)))
            await n.start()
            try:
                n.send(_alerts(150))
                await until(lambda: len(am.alerts) == 150, what="150 alerts")
            finally:
                await n.stop()
            assert [len(body) for _, _, body in am.posts] == [64, 64, 22]
            assert [a["labels"]["i"] for a in am.alerts] == [str(i) for i in range(150)]
            path, headers, body = am.posts[0]
            assert path == "/api/v2/alerts"
            assert headers["Content-Type"] == "application/json"
            assert headers["User-Agent"].startswith("promlite/")
            assert body[0] == {"labels": {"alertname": "A", "i": "0"}, "annotations": {"summary": "alert 0"},
                               "startsAt": "2023-11-14T22:13:20.000Z", "endsAt": "0001-01-01T00:00:00.000Z"}
            m = _metrics(n)
            url = f"http://{am.address}/api/v2/alerts"
            assert m[("prometheus_notifications_sent_total", (("alertmanager", url),))] == 150
            assert m[("prometheus_notifications_errors_total", (("alertmanager", url),))] == 0
            assert m[("prometheus_notifications_latency_seconds_count", (("alertmanager", url),))] == 3
            assert m[("prometheus_notifications_dropped_total", ())] == 0
            assert m[("prometheus_notifications_queue_capacity", ())] == 10_000
            assert m[("prometheus_notifications_alertmanagers_discovered", ())] == 1
    asyncio.run(main())


def test_full_queue_drops_the_oldest_and_counts_them():
    async def main():
        async with FakeAM() as am:
            n = Notifier(queue_capacity=10)
            n.apply_config(_config(_am_config(am.address)))
            n.send(_alerts(5, 0))     # queued before start: sent at start
            n.send(_alerts(15, 5))    # larger than the queue: its first 5 go, then the 5 queued
            n.send(_alerts(3, 20))    # 3 more of the oldest go
            assert n.queue_length() == 10
            m = _metrics(n)
            assert m[("prometheus_notifications_dropped_total", ())] == 13
            assert m[("prometheus_notifications_queue_length", ())] == 10
            await n.start()
            try:
                await until(lambda: len(am.alerts) == 10, what="the 10 queued alerts")
            finally:
                await n.stop()
            assert [a["labels"]["i"] for a in am.alerts] == [str(i) for i in range(13, 23)]
    asyncio.run(main())


def test_external_labels_and_relabeling_per_alertmanager():
    async def main():
        async with FakeAM() as one, FakeAM() as two:
            n = Notifier()
            n.apply_config(_config(f"""
global: {{external_labels: {{dc: eu, severity: none}}}}
alerting:
  alert_relabel_configs: [{{source_labels: [alertname], regex: Drop, action: drop}}]
  alertmanagers:
    - static_configs: [{{targets: ['{one.address}']}}]
    - static_configs: [{{targets: ['{two.address}']}}]
      alert_relabel_configs:
        - {{target_label: via, replacement: two}}
        - {{source_labels: [severity], regex: page, action: keep}}
"""))
            await n.start()
            try:
                n.send([Alert({"alertname": "Up", "severity": "page"}), Alert({"alertname": "Drop"}),
                        Alert({"alertname": "Low"})])
                await until(lambda: len(one.alerts) == 2 and len(two.alerts) == 1, what="both Alertmanagers")
            finally:
                await n.stop()
            assert [a["labels"] for a in one.alerts] == [
                {"alertname": "Up", "severity": "page", "dc": "eu"},
                {"alertname": "Low", "dc": "eu", "severity": "none"}]
            assert [a["labels"] for a in two.alerts] == [
                {"alertname": "Up", "severity": "page", "dc": "eu", "via": "two"}]
    asyncio.run(main())


def test_send_from_another_thread():
    async def main():
        async with FakeAM() as am:
            n = Notifier()
            n.apply_config(_config(_am_config(am.address)))
            await n.start()
            try:
                threads = [threading.Thread(target=n.send, args=(_alerts(10, 10 * k),)) for k in range(4)]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join(10)
                await until(lambda: len(am.alerts) == 40, what="alerts sent from threads")
            finally:
                await n.stop()
            assert sorted(int(a["labels"]["i"]) for a in am.alerts) == list(range(40))
    asyncio.run(main())


def test_failures_are_logged_once_without_traceback_and_counted(caplog):
    caplog.set_level(logging.INFO, logger="promlite.notifier")

    async def main():
        async with FakeAM(status=500) as bad, FakeAM(delay=5) as slow, FakeAM() as good:
            n = Notifier()
            n.apply_config(_config(f"""
alerting:
  alertmanagers:
    - static_configs: [{{targets: ['{bad.address}', '{good.address}']}}]
    - static_configs: [{{targets: ['{slow.address}']}}]
      timeout: 300ms
"""))
            await n.start()
            try:
                t0 = time.monotonic()
                n.send(_alerts(3))
                await until(lambda: _metrics(n)[("prometheus_notifications_dropped_total", ())] == 3,
                            what="the batch counted as dropped (the slow config got nothing)")
                assert time.monotonic() - t0 < 4  # cut at the 300ms timeout, not the 5s answer
            finally:
                await n.stop()
            assert len(good.alerts) == 3
            m = _metrics(n)
            bad_url, slow_url = (f"http://{am.address}/api/v2/alerts" for am in (bad, slow))
            assert m[("prometheus_notifications_errors_total", (("alertmanager", bad_url),))] == 3
            assert m[("prometheus_notifications_errors_total", (("alertmanager", slow_url),))] == 3
            assert m[("prometheus_notifications_sent_total", (("alertmanager", bad_url),))] == 3
            errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
            assert len(errors) == 2, [r.getMessage() for r in errors]
            text = "\n".join(r.getMessage() for r in errors)
            assert f"alertmanager={bad_url} count=3 err=bad response status 500 Internal Server Error: {{}}" in text
            assert f"alertmanager={slow_url} count=3 err=context deadline exceeded (timeout 0.3s)" in text
            assert all(r.exc_info is None for r in caplog.records)
    asyncio.run(main())


def test_unreachable_alertmanager_is_one_log_line(caplog):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{s.getsockname()[1]}"

    async def main():
        n = Notifier()
        n.apply_config(_config(_am_config(dead)))
        await n.start()
        try:
            n.send(_alerts(2))
            await until(lambda: _metrics(n)[("prometheus_notifications_dropped_total", ())] == 2, what="drop")
        finally:
            await n.stop()
    asyncio.run(main())
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [f"Error sending alerts: alertmanager=http://{dead}/api/v2/alerts count=2 "
                      f"err=dial tcp 127.0.0.1:{dead.split(':')[1]}: connection refused"]


def test_basic_auth_and_tls(tmp_path):
    if shutil.which("openssl") is None:
        missing("openssl CLI not on PATH (Debian package 'openssl')")
    helpers = _scrape_helpers()
    certs = helpers.make_certs(str(tmp_path))
    (tmp_path / "pw").write_text("s3cret\n")

    async def main():
        async with FakeAM(ssl_context=helpers.server_ssl(certs, require_client_cert=True)) as am:
            n = Notifier()
            n.apply_config(_config(f"""
alerting:
  alertmanagers:
    - scheme: https
      path_prefix: /am/
      basic_auth: {{username: prom, password_file: pw}}
      tls_config: {{ca_file: ca.crt, cert_file: client.crt, key_file: client.key}}
      static_configs: [{{targets: ['{am.address}']}}]
""", tmp_path))
            assert n.active_alertmanagers() == [f"https://{am.address}/am/api/v2/alerts"]
            await n.start()
            try:
                n.send(_alerts(1))
                await until(lambda: am.alerts, what="the alert over TLS")
            finally:
                await n.stop()
            path, headers, _ = am.posts[0]
            assert path == "/am/api/v2/alerts"
            assert headers["Authorization"] == "Basic " + base64.b64encode(b"prom:s3cret").decode()
    asyncio.run(main())


def test_unreadable_tls_file_is_a_config_error(tmp_path):
    from scraper._yaml import ConfigError
    n = Notifier()
    good = _config(_am_config("127.0.0.1:9"))
    n.apply_config(good)
    with pytest.raises(ConfigError, match=r"alerting.alertmanagers\[0\]: unable to load specified CA cert"):
        n.apply_config(_config(_am_config("127.0.0.1:10", extra="      tls_config: {ca_file: nope.crt}"),
                               tmp_path))
    assert n.active_alertmanagers() == ["http://127.0.0.1:9/api/v2/alerts"]  # the old config stays


def test_discovery_static_file_sd_and_relabeling(tmp_path):
    (tmp_path / "ams.json").write_text(json.dumps([{"targets": ["am-a:9093", "am-b:9093"], "labels": {"dc": "x"}}]))

    async def main():
        n = Notifier(file_sd_poll_interval=0.05)
        n.apply_config(_config("""
alerting:
  alertmanagers:
    - path_prefix: /p
      static_configs: [{targets: ['am-s:9093', 'am-s:9093']}]
      file_sd_configs: [{files: ['*.json'], refresh_interval: 1s}]
      relabel_configs:
        - {source_labels: [__address__], regex: 'am-b.*', action: drop}
        - {source_labels: [dc], regex: x, target_label: __alerts_path__, replacement: /x/api/v2/alerts}
        - {source_labels: [__address__], regex: 'am-s.*', target_label: __scheme__, replacement: https}
""", tmp_path))
        assert n.active_alertmanagers() == ["https://am-s:9093/p/api/v2/alerts", "http://am-a:9093/x/api/v2/alerts"]
        assert n.dropped_alertmanagers() == ["http://am-b:9093/p/api/v2/alerts"]
        assert n.api_alertmanagers() == {
            "activeAlertmanagers": [{"url": "https://am-s:9093/p/api/v2/alerts"},
                                    {"url": "http://am-a:9093/x/api/v2/alerts"}],
            "droppedAlertmanagers": [{"url": "http://am-b:9093/p/api/v2/alerts"}]}
        await n.start()
        try:
            time.sleep(0.01)  # a different mtime
            (tmp_path / "ams.json").write_text(json.dumps([{"targets": ["am-c:9093"]}]))
            await until(lambda: "http://am-c:9093/p/api/v2/alerts" in n.active_alertmanagers(), timeout=10,
                        what="the file change")
            assert n.active_alertmanagers() == ["https://am-s:9093/p/api/v2/alerts",
                                                "http://am-c:9093/p/api/v2/alerts"]
            assert n.dropped_alertmanagers() == []
        finally:
            await n.stop()
    asyncio.run(main())


def test_stop_drains_within_its_bound():
    async def main():
        async with FakeAM(delay=0.05) as am:
            n = Notifier()
            n.apply_config(_config(_am_config(am.address)))
            await n.start()
            n.send(_alerts(300))
            await n.stop()  # the batch in flight, then the rest
            assert len(am.alerts) == 300
        async with FakeAM(delay=30) as hung:
            n = Notifier(drain_timeout_s=0.5)
            n.apply_config(_config(_am_config(hung.address)))
            await n.start()
            n.send(_alerts(100))
            await asyncio.sleep(0.1)
            t0 = time.monotonic()
            await n.stop()
            assert time.monotonic() - t0 < 3
            assert _metrics(n)[("prometheus_notifications_dropped_total", ())] == 100
        n = Notifier(drain_on_shutdown=False)
        n.apply_config(_config(_am_config("127.0.0.1:9")))
        n.send(_alerts(7))
        await n.start()
        await n.stop()
        assert _metrics(n)[("prometheus_notifications_dropped_total", ())] == 7  # not drained, or failed
    asyncio.run(main())


def test_alerting_secrets_are_redacted():
    text = """\
alerting:
  alert_relabel_configs: [{target_label: password, replacement: relabel-value-stays}]
  alertmanagers:
    - basic_auth: {username: u, password: hunter2-basic}
      tls_config: {key: hunter2-key, key_file: ''}
      proxy_url: http://p:hunter2-proxy@127.0.0.1:3128
      static_configs: [{targets: ['am:9093'], labels: {password: label-stays}}]
    - authorization: {credentials: hunter2-cred}
      bearer_token: hunter2-token
"""
    out = redact_config(text)
    assert "hunter2" not in out, out
    doc = yaml.safe_load(out)
    a, b = doc["alerting"]["alertmanagers"]
    assert a["basic_auth"]["password"] == "<secret>" and a["tls_config"]["key"] == "<secret>"
    assert a["proxy_url"] == "http://p:xxxxx@127.0.0.1:3128"
    assert a["static_configs"][0]["labels"] == {"password": "label-stays"}
    assert b["authorization"]["credentials"] == "<secret>" and b["bearer_token"] == "<secret>"
    assert doc["alerting"]["alert_relabel_configs"][0]["replacement"] == "relabel-value-stays"


def test_server_serves_alertmanagers_and_metrics(tmp_path):
    from promlite.server.serve import ServeOptions, Server

    async def main():
        async with FakeAM() as am:
            cfg = tmp_path / "prometheus.yml"
            cfg.write_text(f"""
global: {{scrape_interval: 1h}}
alerting:
  alertmanagers:
    - static_configs: [{{targets: ['{am.address}', '127.0.0.1:10']}}]
      relabel_configs: [{{source_labels: [__address__], regex: '.*:10', action: drop}}]
""")
            s = Server(ServeOptions(config_file=str(cfg), data_path=str(tmp_path / "data"),
                                    listen_address="127.0.0.1:0"))
            await s.start()
            try:
                async with aiohttp.ClientSession() as c:
                    async with c.get(f"http://{s.address}/api/v1/alertmanagers") as r:
                        assert (await r.json())["data"] == {
                            "activeAlertmanagers": [{"url": f"http://{am.address}/api/v2/alerts"}],
                            "droppedAlertmanagers": [{"url": "http://127.0.0.1:10/api/v2/alerts"}]}
                    s.notifier.send(_alerts(2))
                    await until(lambda: len(am.alerts) == 2, what="alerts from the server's notifier")
                    async with c.get(f"http://{s.address}/metrics") as r:
                        text = await r.text()
                    for name in ("prometheus_notifications_sent_total", "prometheus_notifications_errors_total",
                                 "prometheus_notifications_dropped_total", "prometheus_notifications_queue_length",
                                 "prometheus_notifications_queue_capacity",
                                 "prometheus_notifications_alertmanagers_discovered",
                                 "prometheus_notifications_latency_seconds_count"):
                        assert name in text, name
                    assert f'prometheus_notifications_sent_total{{alertmanager="http://{am.address}/api/v2/alerts"}} 2.0' \
                        in text
                    cfg.write_text("global: {scrape_interval: 1h}\n")
                    await s.reload()
                    async with c.get(f"http://{s.address}/api/v1/alertmanagers") as r:
                        assert (await r.json())["data"] == {"activeAlertmanagers": [], "droppedAlertmanagers": []}
            finally:
                await s.stop()
    asyncio.run(main())


# -- end to end: the real Alertmanager ----------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RealAM:
    """``prometheus-alertmanager`` on 127.0.0.1, no gossip, state in ``tmp``; a webhook receiver at ``hook_url``."""

    def __init__(self, binary: str, tmp, port: int, hook_url: str) -> None:
        self.binary, self.tmp, self.port = binary, tmp, port
        self.config = tmp / "alertmanager.yml"
        self.config.write_text(f"""
route:
  receiver: hook
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: {hook_url}
        send_resolved: true
""")
        self.proc: subprocess.Popen | None = None
        self.runs = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.runs += 1
        storage = self.tmp / f"storage-{self.runs}"
        storage.mkdir()
        self.log = open(self.tmp / f"alertmanager-{self.runs}.log", "wb")
        self.proc = subprocess.Popen(
            [self.binary, f"--config.file={self.config}", f"--storage.path={storage}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--cluster.listen-address=", "--log.level=info"],
            stdout=self.log, stderr=subprocess.STDOUT)

        async def ready():
            if self.proc.poll() is not None:
                raise AssertionError(f"alertmanager exited: {(self.tmp / f'alertmanager-{self.runs}.log').read_text()}")
            try:
                async with aiohttp.ClientSession() as c, c.get(f"{self.base}/-/ready") as r:
                    return r.status == 200
            except aiohttp.ClientError:
                return False
        await until(ready, timeout=30, what="alertmanager ready", step=0.1)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None
        with contextlib.suppress(Exception):
            self.log.close()

    async def alerts(self) -> list[dict]:
        async with aiohttp.ClientSession() as c, c.get(f"{self.base}/api/v2/alerts") as r:
            assert r.status == 200
            return await r.json()


def test_real_alertmanager_end_to_end(tmp_path):
    binary = require_tool("prometheus-alertmanager", "prometheus-alertmanager")

    async def main():
        hooks: list[dict] = []

        async def hook(request: web.Request) -> web.Response:
            hooks.append(await request.json())
            return web.Response(text="ok")
        app = web.Application()
        app.router.add_post("/hook", hook)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        hook_port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        am = RealAM(binary, tmp_path, _free_port(), f"http://127.0.0.1:{hook_port}/hook")
        n = Notifier()
        resend: asyncio.Task | None = None
        try:
            await am.start()
            n.apply_config(_config(f"""
global: {{external_labels: {{replica: r1}}}}
alerting:
  alertmanagers:
    - static_configs: [{{targets: ['127.0.0.1:{am.port}']}}]
      timeout: 5s
"""))
            await n.start()
            started = time.time() - 60  # the alert has been pending for a minute
            firing = Alert({"alertname": "InstanceDown", "job": "api", "severity": "page"},
                           {"summary": "api is down", "description": "since {{ $value }}"},
                           starts_at=started, ends_at=started + 240,
                           generator_url="http://promlite:9090/graph?g0.expr=up%3D%3D0")
            n.send([firing])

            def find(alerts):
                return [a for a in alerts if a["labels"].get("alertname") == "InstanceDown"]
            got = await until(lambda: _find_async(am, find), what="the alert in Alertmanager's /api/v2/alerts")
            a = got[0]
            assert a["labels"] == {"alertname": "InstanceDown", "job": "api", "severity": "page", "replica": "r1"}
            assert a["annotations"] == {"summary": "api is down", "description": "since {{ $value }}"}
            assert a["generatorURL"] == "http://promlite:9090/graph?g0.expr=up%3D%3D0"
            assert a["status"]["state"] == "active"
            assert abs(dt.datetime.fromisoformat(a["startsAt"].replace("Z", "+00:00")).timestamp() - started) < 0.01

            def hook_alerts(status):
                return [x for h in hooks for x in h["alerts"]
                        if x["status"] == status and x["labels"].get("alertname") == "InstanceDown"]
            await until(lambda: hook_alerts("firing"), what="the firing notification at the webhook")
            assert hook_alerts("firing")[0]["annotations"]["summary"] == "api is down"

            # resolved: the same alert with ends_at in the past
            resolved_at = time.time()  # (after starts_at: Alertmanager answers 400 otherwise)
            n.send([Alert(firing.labels, firing.annotations, starts_at=started, ends_at=resolved_at,
                          generator_url=firing.generator_url)])
            await until(lambda: hook_alerts("resolved"), what="the resolved notification at the webhook")
            await until(lambda: _find_async(am, lambda al: not find(al)), what="the alert gone from /api/v2/alerts")

            # a restarted Alertmanager (no state kept) gets the firing alert again at the next resend
            hooks.clear()
            am.stop()
            second = Alert({"alertname": "InstanceDown", "job": "db"}, {"summary": "db is down"},
                           starts_at=started, ends_at=time.time() + 240)

            async def resend_loop():  # what the rule manager does, with a 0.5s resend delay
                while True:
                    n.send([Alert(second.labels, second.annotations, starts_at=started, ends_at=time.time() + 240)])
                    await asyncio.sleep(0.5)
            resend = asyncio.create_task(resend_loop())
            await asyncio.sleep(1)  # some resends fail while it is down: errors, logged, not fatal
            await am.start()
            got = await until(lambda: _find_async(am, find), what="the alert in the restarted Alertmanager")
            assert got[0]["labels"] == {"alertname": "InstanceDown", "job": "db", "replica": "r1"}
            await until(lambda: hook_alerts("firing"), what="the firing notification after the restart")
            resend.cancel()
            m = _metrics(n)
            url = f"http://127.0.0.1:{am.port}/api/v2/alerts"
            assert m[("prometheus_notifications_errors_total", (("alertmanager", url),))] >= 1

            # throughput: distinct alerts until all are acknowledged by Alertmanager
            before = m[("prometheus_notifications_sent_total", (("alertmanager", url),))]
            errors_before = m[("prometheus_notifications_errors_total", (("alertmanager", url),))]
            total = 5000
            t0 = time.monotonic()
            n.send([Alert({"alertname": "Load", "i": str(i)}, {"summary": "load"}, starts_at=started,
                          ends_at=time.time() + 240) for i in range(total)])
            await until(lambda: _metrics(n)[("prometheus_notifications_sent_total", (("alertmanager", url),))]
                        - before >= total, timeout=120, what="5000 alerts sent")
            took = time.monotonic() - t0
            m = _metrics(n)
            assert m[("prometheus_notifications_errors_total", (("alertmanager", url),))] == errors_before
            listed = await am.alerts()
            assert len([x for x in listed if x["labels"]["alertname"] == "Load"]) == total
            print(f"\nnotifier -> alertmanager 0.25: {total} alerts in {took:.2f}s = {total / took:.0f} alerts/s "
                  f"(batches of 64, one connection)")
        finally:
            if resend is not None:
                resend.cancel()
            await n.stop()
            am.stop()
            await runner.cleanup()
    asyncio.run(main())


async def _find_async(am: RealAM, pred):
    try:
        return pred(await am.alerts())
    except aiohttp.ClientError:
        return None


def test_promlite_serve_rules_to_real_alertmanager(tmp_path):
    """The whole path: a rule in ``promlite serve`` fires, Alertmanager gets it with its labels and annotations, it resolves."""
    binary = require_tool("prometheus-alertmanager", "prometheus-alertmanager")
    from promlite.server.serve import ServeOptions, Server

    async def main():
        hooks: list[dict] = []

        async def hook(request: web.Request) -> web.Response:
            hooks.append(await request.json())
            return web.Response(text="ok")
        app = web.Application()
        app.router.add_post("/hook", hook)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        hook_port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        am = RealAM(binary, tmp_path, _free_port(), f"http://127.0.0.1:{hook_port}/hook")
        # fires during the first 6 s of every 12 s, resolved during the other 6
        (tmp_path / "rules.yml").write_text("""
groups:
  - name: flap
    interval: 1s
    rules:
      - alert: Flapping
        expr: vector(time() % 12) < 6
        labels: {severity: page}
        annotations: {summary: 'phase {{ $value }}'}
""")
        (tmp_path / "prometheus.yml").write_text(f"""
global: {{scrape_interval: 1h, evaluation_interval: 1s, external_labels: {{replica: r1}}}}
rule_files: [rules.yml]
alerting:
  alertmanagers:
    - static_configs: [{{targets: ['127.0.0.1:{am.port}']}}]
""")
        server = Server(ServeOptions(config_file=str(tmp_path / "prometheus.yml"), data_path=str(tmp_path / "data"),
                                     listen_address="127.0.0.1:0", rules_resend_delay="1s"))

        def hook_alerts(status):
            return [x for h in hooks for x in h["alerts"]
                    if x["status"] == status and x["labels"].get("alertname") == "Flapping"]
        try:
            await am.start()
            await server.start()
            firing = await until(lambda: hook_alerts("firing"), 30, "a firing notification from the rule")
            x = firing[0]
            assert x["labels"] == {"alertname": "Flapping", "severity": "page", "replica": "r1"}
            assert x["annotations"]["summary"].startswith("phase ")
            assert x["generatorURL"]
            listed = await am.alerts()
            assert any(a["labels"].get("alertname") == "Flapping" for a in listed) or hook_alerts("resolved")
            await until(lambda: hook_alerts("resolved"), 30, "the resolved notification from the rule")
        finally:
            await server.stop()
            am.stop()
            await runner.cleanup()
    asyncio.run(main())
