"""Deployed as a system service is: installed by root, not writable, run as an unprivileged user.

The project is built into a wheel and installed into a fresh venv owned by
root; ``promlite serve`` then runs as uid/gid 65534 (nobody, as in the usual
Kubernetes pod) with no HOME and only its data directory writable. It must
start, scrape itself, answer a query and stop cleanly, writing nothing but
its data directory (no compile cache, no .pyc next to the code, nothing in
HOME). ``promlite --version`` and ``promlite query --data`` run the same way.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

import pytest
from _requirements import missing

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NOBODY = 65534
READY = re.compile(r"Server is ready to receive web requests\. address=[\d.]+:(\d+)")


def _system_python() -> str:
    """A Python of our minor version that any user may run (pyenv's under /root is not)."""
    path = f"/usr/bin/python3.{sys.version_info.minor}"
    if not os.access(path, os.X_OK):
        missing(f"{path} not found: the unprivileged-user test needs a system Python 3.{sys.version_info.minor}")
    return path


def _tree_snapshot(root: str) -> set[str]:
    return {os.path.join(d, f) for d, _, files in os.walk(root) for f in files}


@pytest.fixture(scope="module")
def install():
    """``(root dir, venv dir)``: the wheel of this checkout installed in a root-owned venv, readable by all."""
    if os.geteuid() != 0:
        missing("switching to uid 65534 needs root")
    py = _system_python()
    root = tempfile.mkdtemp(prefix="promlite-unpriv-", dir="/tmp")
    os.chmod(root, 0o755)
    try:
        wheels = os.path.join(root, "wheels")
        subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", wheels, REPO],
                       check=True, capture_output=True, timeout=900)
        venv = os.path.join(root, "venv")
        subprocess.run([py, "-m", "venv", venv], check=True, capture_output=True, timeout=300)
        (wheel,) = glob.glob(os.path.join(wheels, "promlite-*.whl"))
        res = subprocess.run([os.path.join(venv, "bin", "pip"), "install", "-q", wheel],
                             capture_output=True, text=True, timeout=900)
        assert res.returncode == 0, res.stderr[-3000:]
        shutil.rmtree(os.path.join(root, "wheels"))
        subprocess.run(["chmod", "-R", "a+rX,go-w", venv], check=True)
        yield root, venv
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _as_nobody(cmd: list[str], cwd: str, **kw) -> subprocess.Popen:
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}  # no HOME
    return subprocess.Popen(cmd, cwd=cwd, env=env, user=NOBODY, group=NOBODY, extra_groups=[], **kw)


def _get(base: str, path: str, **params) -> dict:
    url = f"{base}{path}?{urllib.parse.urlencode(params)}"
    with urllib.request.urlopen(url, timeout=30) as r:
        return json.loads(r.read())


def test_version_as_nobody(install):
    root, venv = install
    p = _as_nobody([os.path.join(venv, "bin", "promlite"), "--version"], cwd=root,
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    assert "promlite" in out.lower() or re.search(r"\d+\.\d+", out), out


def test_serve_as_nobody_from_a_read_only_install(install):
    root, venv = install
    data = os.path.join(root, "data")
    os.mkdir(data)
    os.chown(data, NOBODY, NOBODY)
    before = _tree_snapshot(venv)
    log_path = os.path.join(root, "serve.log")
    with open(log_path, "w") as log:
        p = _as_nobody([os.path.join(venv, "bin", "promlite"), "serve", "--web.listen-address=127.0.0.1:0",
                        f"--storage.tsdb.path={data}"], cwd=root, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while not (m := READY.search(open(log_path).read())):
            assert p.poll() is None, open(log_path).read()
            assert time.monotonic() < deadline, open(log_path).read()
            time.sleep(0.1)
        base = f"http://127.0.0.1:{m.group(1)}"
        # the built-in configuration scrapes the server itself every 15 s, the first scrape 0-15 s after
        # the start: a safety net of 10x the longest wait
        deadline = time.monotonic() + 180
        while True:
            res = _get(base, "/api/v1/query", query="up")["data"]["result"]
            if res:
                break
            assert time.monotonic() < deadline, open(log_path).read()
            time.sleep(0.5)
        assert res[0]["value"][1] == "1"
        rate = _get(base, "/api/v1/query", query="rate(prometheus_http_requests_total[5m])")
        assert rate["status"] == "success"
    finally:
        p.send_signal(signal.SIGTERM)
        rc = p.wait(60)
    text = open(log_path).read()
    assert rc == 0, text
    assert "Traceback" not in text and "cannot cache" not in text, text
    assert _tree_snapshot(venv) == before  # nothing written next to the code (no caches, no .pyc)
    assert os.path.isdir(os.path.join(data, "wal"))
    # and a read-only query of what it stored, as the same user
    q = _as_nobody([os.path.join(venv, "bin", "promlite"), "query", "--data", data, "count(up)"], cwd=root,
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = q.communicate(timeout=120)
    assert q.returncode == 0, err
    assert "1" in out, out
