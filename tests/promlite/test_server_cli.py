"""``promlite check config``, ``check metrics`` and ``query``, with promtool as the referee where it applies."""

from __future__ import annotations

import http.server
import io
import json
import subprocess
import sys
import threading

import numpy as np
import pytest

import tsdb
from promlite.server.__main__ import main

GOOD = """
global:
  scrape_interval: 15s
scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: ["127.0.0.1:9090"]
"""
BAD = [
    "scrape_configs:\n  - job_name: a\n    scrape_interval: 5s\n    scrape_timeout: 10s\n",
    "scrape_configs:\n  - job_name: a\n  - job_name: a\n",
    "global:\n  scrape_interval: soon\n",
    "scrape_configs: [{job_name: a, bogus_key: 1}]\n",
]


def _run(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "promlite.server", *args], input=stdin, capture_output=True,
                          timeout=60)


def test_check_config(tmp_path, promtool, capsys):
    good = tmp_path / "good.yml"
    good.write_text(GOOD)
    r = _run("check", "config", str(good))  # once end to end
    assert r.returncode == 0, r.stderr
    assert f"SUCCESS: {good} is valid prometheus config file syntax" in r.stdout.decode()
    assert subprocess.run([promtool, "check", "config", str(good)], capture_output=True).returncode == 0
    for i, text in enumerate(BAD):
        bad = tmp_path / f"bad{i}.yml"
        bad.write_text(text)
        ours = main(["check", "config", str(good), str(bad)])
        theirs = subprocess.run([promtool, "check", "config", str(bad)], capture_output=True)
        assert ours == 1 and theirs.returncode == 1, (text, theirs.stdout)
        assert "FAILED" in capsys.readouterr().err


def test_check_metrics(monkeypatch, capsys):
    ok = b"# HELP x_total A counter.\n# TYPE x_total counter\nx_total 1\n"
    assert _run("check", "metrics", stdin=ok).returncode == 0  # once end to end

    def check(body: bytes) -> tuple[int, str]:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(body)))
        rc = main(["check", "metrics"])
        return rc, capsys.readouterr().err

    assert check(ok) == (0, "")
    rc, err = check(b"# TYPE x counter\nx 1\n")  # no HELP, counter without _total
    assert rc == 3 and "x" in err
    rc, err = check(b"x{ 1\n")
    assert rc == 1 and "error" in err


@pytest.fixture
def data_dir(tmp_path):
    path = str(tmp_path / "data")
    with tsdb.open(path) as db:
        app = db.appender()
        app.append_series({"__name__": "m", "job": "a"}, np.arange(0, 600_000, 15_000), np.arange(40.0))
        app.commit()
    return path


def test_query_data_dir(data_dir, capsys):
    assert main(["query", "--data", data_dir, "--time", "60", "m"]) == 0
    assert capsys.readouterr().out == 'm{job="a"} => 4 @[60]\n'
    assert main(["query", "--data", data_dir, "--start", "0", "--end", "30", "--step", "15", "--format", "json",
                 "m * 2"]) == 0
    assert json.loads(capsys.readouterr().out) == {"resultType": "matrix", "result": [
        {"metric": {"job": "a"}, "values": [[0, "0"], [15, "2"], [30, "4"]]}]}
    assert main(["query", "--data", data_dir, "sum("]) == 1
    assert "parse error" in capsys.readouterr().err


def test_query_server(capsys):
    seen: list = []

    class H(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers["Content-Length"])).decode()
            seen.append((self.path, body))
            if "bad" in body:
                out, code = {"status": "error", "errorType": "bad_data", "error": "nope"}, 400
            else:
                out, code = {"status": "success", "data": {"resultType": "vector", "result": [
                    {"metric": {"__name__": "up", "job": "x"}, "value": [4, "1"]}]}}, 200
            data = json.dumps(out).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *a):
            pass

    srv = http.server.HTTPServer(("127.0.0.1", 0), H)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    try:
        url = f"http://127.0.0.1:{srv.server_port}"
        assert main(["query", "--server", url, "--time", "4", "up"]) == 0
        assert capsys.readouterr().out == 'up{job="x"} => 1 @[4]\n'
        assert seen[-1] == ("/api/v1/query", "query=up&time=4")
        assert main(["query", "--server", url, "bad"]) == 1
        assert "bad_data: nope" in capsys.readouterr().err
    finally:
        srv.shutdown()
