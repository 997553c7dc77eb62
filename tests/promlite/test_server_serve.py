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
        deadline = time.monotonic() + 60  # ready in about 1 s on a quiet machine
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
            with urllib.request.urlopen(url, timeout=60) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def post(self, path: str, **form):
        req = urllib.request.Request(self.base + path, data=urllib.parse.urlencode(form).encode(), method="POST")
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
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
            rc = self.p.wait(60)
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
        # the default configuration: job "prometheus" scraping our own /metrics every 15 s (the first
        # scrape comes 0-15 s after the start)
        up = p.wait_for('up{job="prometheus"}', lambda r: len(r) == 1, timeout=150)
        assert up[0]["value"][1] == "1"
        assert up[0]["metric"]["instance"] == p.base.removeprefix("http://")
        targets = json.loads(p.get("/api/v1/targets")[1])["data"]["activeTargets"]
        assert [(t["scrapePool"], t["health"], t["scrapeInterval"]) for t in targets] == [("prometheus", "up", "15s")]
        assert p.wait_for("prometheus_tsdb_head_series", lambda r: len(r) == 1, timeout=60)
        n = p.wait_for('scrape_samples_scraped{job="prometheus"}', lambda r: len(r) == 1, timeout=60)
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
        p.wait_for('up{job="self"}', lambda r: len(r) == 1 and r[0]["value"][1] == "0", timeout=60)  # 1-2 s quiet
        json.loads(p.text().splitlines()[0])  # --log.format=json
        # a broken file keeps the running configuration
        cfg.write_text("scrape_configs: [{job_name: x, bogus: 1}]")
        code, body = p.post("/-/reload")
        assert code == 500 and "bogus" in body
        cfg.write_text(CONFIG.replace("{addr}", p.base.removeprefix("http://")))
        assert p.post("/-/reload")[0] == 200
        p.wait_for('up{job="self"}', lambda r: len(r) == 1 and r[0]["value"][1] == "1", timeout=60)
        # SIGHUP reloads too
        cfg.write_text(CONFIG.replace("{addr}", p.base.removeprefix("http://")).replace("job_name: self",
                                                                                         "job_name: again"))
        p.p.send_signal(signal.SIGHUP)
        p.wait_for('up{job="again"}', lambda r: len(r) == 1, timeout=60)
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
    from promlite.server.serve import ServeOptions, validate_options
    from scraper._yaml import ConfigError

    bad = [{"config_file": str(tmp_path / "missing.yml")}, {"retention_time": "forever"},
           {"retention_size": "lots"}, {"listen_address": "nowhere"}, {"query_timeout": "1x"},
           {"lookback_delta": ""}]
    for kw in bad:
        with pytest.raises((ValueError, ConfigError)):
            validate_options(ServeOptions(**kw))
    validate_options(ServeOptions())
    for args in (["--storage.tsdb.retention.time", "forever"], ["--web.enable-remote-write-receiver"]):
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


def _bcrypt_hash(password: str) -> str:
    try:
        import bcrypt

        return bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).decode()
    except ImportError:
        pass
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt
    if not hasattr(crypt, "METHOD_BLOWFISH"):
        pytest.skip("no bcrypt implementation (install the bcrypt package)")
    return crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)).replace("$2b$", "$2y$")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_web_config_tls_and_basic_auth(tmp_path):
    import base64
    import shutil
    import ssl

    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(tmp_path / "k.pem"),
                    "-out", str(tmp_path / "c.pem"), "-days", "2", "-subj", "/CN=127.0.0.1"],
                   check=True, capture_output=True)
    (tmp_path / "web.yml").write_text(
        "tls_server_config:\n  cert_file: c.pem\n  key_file: k.pem\n"
        f"basic_auth_users:\n  alice: '{_bcrypt_hash('s3cret')}'\n"
        "http_server_config:\n  headers:\n    X-Frame-Options: deny\n")
    port = _free_port()
    (tmp_path / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s, scrape_timeout: 1s}\n"
        "scrape_configs:\n  - job_name: self\n    scheme: https\n"
        "    tls_config: {insecure_skip_verify: true}\n"
        "    basic_auth: {username: alice, password: s3cret}\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{port}']}}]\n")
    log = open(tmp_path / "serve.log", "w")  # noqa: SIM115
    p = subprocess.Popen([*_serve_cmd(), "--web.config.file", str(tmp_path / "web.yml"),
                          f"--web.listen-address=127.0.0.1:{port}"], cwd=tmp_path, stdout=log,
                         stderr=subprocess.STDOUT)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE

    def get(path: str, auth: str | None):
        hdrs = {"Authorization": "Basic " + base64.b64encode(auth.encode()).decode()} if auth else {}
        req = urllib.request.Request(f"https://127.0.0.1:{port}{path}", headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=60, context=ctx) as r:
                return r.status, r.headers, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read().decode()

    try:
        deadline = time.monotonic() + 60
        while "Server is ready" not in (tmp_path / "serve.log").read_text():
            assert time.monotonic() < deadline and p.poll() is None, (tmp_path / "serve.log").read_text()
            time.sleep(0.1)
        code, h, body = get("/-/healthy", None)
        assert code == 401 and h["WWW-Authenticate"].startswith("Basic")
        assert json.loads(body)["status"] == "error"
        assert get("/-/healthy", "alice:wrong")[0] == 401
        assert get("/-/healthy", "bob:s3cret")[0] == 401
        code, h, _ = get("/-/healthy", "alice:s3cret")
        assert code == 200 and h["X-Frame-Options"] == "deny"
        deadline = time.monotonic() + 60  # the first scrape, 0-1 s after the start
        while True:
            res = json.loads(get("/api/v1/query?query=up", "alice:s3cret")[2])["data"]["result"]
            if res and res[0]["value"][1] == "1":
                break
            assert time.monotonic() < deadline, (res, (tmp_path / "serve.log").read_text())
            time.sleep(0.25)
    finally:
        p.send_signal(signal.SIGTERM)
        assert p.wait(60) == 0
        log.close()


def test_bad_web_config_is_refused(tmp_path):
    from promlite.server.webconfig import load_web_config
    from scraper._yaml import ConfigError

    for text, why in (("tls_server_config:\n  cert_file: missing.pem\n  key_file: missing.pem\n", "cannot load"),
                      ("basic_auth_users:\n  alice: plaintext\n", "not a bcrypt hash"),
                      ("unknown_key: 1\n", "unknown key"),
                      ("tls_server_config:\n  cert_file: a\n  key_file: b\n  cipher_suites: [x]\n", "does not support"),
                      ("tls_server_config:\n  key_file: b\n", "cert_file and key_file are required")):
        (tmp_path / "web.yml").write_text(text)
        with pytest.raises(ConfigError, match=why) as ei:
            load_web_config(str(tmp_path / "web.yml"))
        assert "web.yml" in str(ei.value)
    r = subprocess.run([*_serve_cmd(), "--web.config.file", str(tmp_path / "web.yml"),
                        "--web.listen-address=127.0.0.1:0"], cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "web.yml" in r.stderr, r.stderr


def test_a_missing_scrape_tls_file_stops_the_start_with_one_line(tmp_path):
    """Issue 12: a scrape job's missing TLS file made `promlite serve` exit with a traceback."""
    cfg = ("scrape_configs:\n  - job_name: secure\n    scheme: https\n"
           f"    tls_config:\n      ca_file: {tmp_path / 'nope' / 'ca.pem'}\n"
           "    static_configs:\n      - targets: ['127.0.0.1:1']\n")
    (tmp_path / "prometheus.yml").write_text(cfg)
    for args, status in ((["--config.file=prometheus.yml"], 2), ([], 1)):  # named, or found in the cwd
        r = subprocess.run([*_serve_cmd(), *args, "--web.listen-address=127.0.0.1:0",
                            f"--storage.tsdb.path={tmp_path / 'data'}"], cwd=tmp_path,
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == status, r.stderr
        assert "Traceback" not in r.stderr
        errors = [line for line in r.stderr.splitlines() if "level=ERROR" in line]
        assert len(errors) == 1, r.stderr
        assert 'job \\"secure\\"' in errors[0] and "unable to load specified CA cert" in errors[0]
        assert str(tmp_path / "nope" / "ca.pem") in errors[0] and "prometheus.yml" in errors[0]
