"""``promlite serve`` as a user runs it: a subprocess, signals, reloads, data kept across restarts."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest


def _serve_cmd() -> list[str]:
    """``promlite serve`` through promlite.cli once it is wired to serve_cli, else ``python -m promlite.server``."""
    from promlite import cli

    parser = cli.build_parser()
    args = parser.parse_args(["serve"])
    if getattr(args.func, "__module__", "") == "promlite.serve_cli":
        return [sys.executable, "-m", "promlite.cli", "serve"]
    return [sys.executable, "-m", "promlite.server", "serve"]


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class Proc:
    def __init__(self, cwd, *args: str) -> None:
        self.log_path = os.path.join(cwd, "serve.log")
        self.log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.p = subprocess.Popen([*_serve_cmd(), *args], cwd=cwd, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        self.base = ""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            m = re.search(r"Server is ready to receive web requests\. address=([\d.]+):(\d+)", self.text())
            if m:
                self.base = f"http://127.0.0.1:{m.group(2)}"
                break
            assert self.p.poll() is None, self.text()
            time.sleep(0.1)
        assert self.base, self.text()

    def text(self) -> str:
        with open(self.log_path) as f:
            return f.read()

    def get(self, path: str, **params):
        url = self.base + path + ("?" + urllib.parse.urlencode(params) if params else "")
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def post(self, path: str, **form):
        req = urllib.request.Request(self.base + path, data=urllib.parse.urlencode(form).encode(), method="POST")
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def wait_for(self, query: str, pred, timeout: float) -> list:
        deadline = time.monotonic() + timeout
        res: list = []
        while time.monotonic() < deadline:
            code, body = self.get("/api/v1/query", query=query)
            assert code == 200, body
            res = json.loads(body)["data"]["result"]
            if pred(res):
                return res
            time.sleep(0.25)
        raise AssertionError(f"{query}: {res}\n{self.text()}")

    def stop(self, sig=signal.SIGTERM) -> int:
        self.p.send_signal(sig)
        try:
            rc = self.p.wait(15)
        finally:
            if self.p.poll() is None:
                self.p.kill()
            self.log.close()
        return rc


def test_serve_with_no_arguments_scrapes_itself(tmp_path):
    args = () if _port_free(9090) else ("--web.listen-address=127.0.0.1:0",)  # 9090 may be taken on a shared box
    p = Proc(str(tmp_path), *args)
    try:
        assert p.get("/-/ready")[0] == 200
        assert p.get("/-/healthy")[0] == 200
        # the default configuration: job "prometheus" scraping our own /metrics every 15 s
        up = p.wait_for('up{job="prometheus"}', lambda r: len(r) == 1, timeout=20)
        assert up[0]["value"][1] == "1"
        assert up[0]["metric"]["instance"] == p.base.removeprefix("http://")
        targets = json.loads(p.get("/api/v1/targets")[1])["data"]["activeTargets"]
        assert [(t["scrapePool"], t["health"], t["scrapeInterval"]) for t in targets] == [("prometheus", "up", "15s")]
        assert p.wait_for("prometheus_tsdb_head_series", lambda r: len(r) == 1, timeout=5)
        n = p.wait_for('scrape_samples_scraped{job="prometheus"}', lambda r: len(r) == 1, timeout=5)
        assert float(n[0]["value"][1]) > 50  # process_*, python_*, prometheus_* families
        assert "scrape_interval: 15s" in json.loads(p.get("/api/v1/status/config")[1])["data"]["yaml"]
    finally:
        rc = p.stop()
    assert rc == 0, p.text()
    assert "see you next time" in p.text()
    assert os.path.isdir(tmp_path / "data" / "wal")


CONFIG = """
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: self
    static_configs:
      - targets: ["{addr}"]
"""


def test_reload_signals_and_restart(tmp_path):
    cfg = tmp_path / "prometheus.yml"
    cfg.write_text(CONFIG.replace("{addr}", "127.0.0.1:1"))  # nothing listens there: the target is down
    args = ("--config.file", str(cfg), "--web.listen-address=127.0.0.1:0", "--web.enable-lifecycle",
            "--storage.tsdb.path", str(tmp_path / "d"), "--log.format=json")
    p = Proc(str(tmp_path), *args)
    try:
        p.wait_for('up{job="self"}', lambda r: len(r) == 1 and r[0]["value"][1] == "0", timeout=10)
        json.loads(p.text().splitlines()[0])  # --log.format=json
        # a broken file keeps the running configuration
        cfg.write_text("scrape_configs: [{job_name: x, bogus: 1}]")
        code, body = p.post("/-/reload")
        assert code == 500 and "bogus" in body
        cfg.write_text(CONFIG.replace("{addr}", p.base.removeprefix("http://")))
        assert p.post("/-/reload")[0] == 200
        p.wait_for('up{job="self"}', lambda r: len(r) == 1 and r[0]["value"][1] == "1", timeout=10)
        # SIGHUP reloads too
        cfg.write_text(CONFIG.replace("{addr}", p.base.removeprefix("http://")).replace("job_name: self",
                                                                                         "job_name: again"))
        p.p.send_signal(signal.SIGHUP)
        p.wait_for('up{job="again"}', lambda r: len(r) == 1, timeout=10)
        t_before = time.time()
    finally:
        rc = p.stop(signal.SIGINT)
    assert rc == 0, p.text()
    # restart on the same data: what was scraped before is still there (WAL replay)
    p = Proc(str(tmp_path), *args)
    try:
        code, body = p.get("/api/v1/query", query='count_over_time(up{job="again"}[1m])', time=f"{t_before:.3f}")
        res = json.loads(body)["data"]["result"]
        assert len(res) == 1 and float(res[0]["value"][1]) >= 1
    finally:
        assert p.stop() == 0


def test_bad_flags_exit_nonzero(tmp_path):
    for args in (["--config.file", str(tmp_path / "missing.yml")], ["--storage.tsdb.retention.time", "forever"],
                 ["--web.enable-remote-write-receiver"]):
        r = subprocess.run([*_serve_cmd(), *args, "--web.listen-address=127.0.0.1:0"], cwd=tmp_path,
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 2, (args, r.stderr)
        assert "level=ERROR" in r.stderr


@pytest.mark.skipif(not hasattr(signal, "SIGTERM"), reason="POSIX signals")
def test_sigterm_while_querying(tmp_path):
    p = Proc(str(tmp_path), "--web.listen-address=127.0.0.1:0")
    try:
        assert p.post("/api/v1/query", query="1+1", time="4") == (
            200, '{"status":"success","data":{"resultType":"scalar","result":[4,"2"]}}')
    finally:
        assert p.stop() == 0
