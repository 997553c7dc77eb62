"""The server survives its clients (issue 12): ``promlite serve`` as a subprocess, hostile or unlucky clients.

One server over seeded data serves the whole module (starting one costs a
second or two of CPU); each test notes where the log stood before it and
checks only the lines its own requests caused. Loads are bounded in count,
and timings are generous: they catch a frozen or dead server, not a slow box.
"""

from __future__ import annotations

import socket
import struct
import subprocess
import sys

import pytest
from serve_proc import ServeProc, seed

N_SERIES = 150
N_SAMPLES = 1000


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    d = tmp_path_factory.mktemp("serve")
    first, last = seed(str(d / "data"), N_SERIES, N_SAMPLES)
    p = ServeProc(str(d), f"--storage.tsdb.path={d / 'data'}")
    p.first_ms, p.last_ms = first, last
    yield p
    p.stop()


def _new_lines(p: ServeProc, since: int) -> list[str]:
    return p.lines()[since:]


def _abort_after_first_bytes(port: int, request: bytes, reset: bool) -> None:
    """Send ``request``, read a few bytes of the answer, then close (``reset``: with an RST, like a killed client)."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # the answer cannot all sit in our buffer
    if reset:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.settimeout(30)
    try:
        s.connect(("127.0.0.1", port))
        s.sendall(request)
        assert s.recv(16)  # the answer has started
    finally:
        s.close()


def test_clients_closing_mid_answer_do_not_kill_the_server(served):
    """Grafana cancelling a query, a closed tab, a proxy timeout: ≥ 100 aborts, the server answers on."""
    p = served
    since = len(p.lines())
    path = (f"/api/v1/query_range?query=big_series&start={p.first_ms / 1000}&end={p.last_ms / 1000}"
            "&step=15")
    status, body = p.request("GET", path)
    assert status == 200 and len(body) > 4 * 2**20  # several socket buffers' worth
    aborts = 120
    for i in range(aborts):
        gzip = "Accept-Encoding: gzip\r\n" if i % 4 == 3 else ""  # the compressing path too
        req = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{gzip}\r\n".encode()
        try:
            _abort_after_first_bytes(p.port, req, reset=i % 2 == 1)
        except OSError:
            pass  # judged below: a refused or reset connection means the server is gone
        assert p.alive(), f"server died (status {p.p.returncode}) after {i + 1} aborted answers:\n{p.text()}"
    assert p.request("GET", "/-/healthy") == (200, b"Prometheus Server is Healthy.\n")
    status, body = p.request("GET", path)
    assert status == 200 and len(body) > 4 * 2**20
    lines = _new_lines(p, since)
    assert len(lines) <= aborts, lines[:20]
    assert not [ln for ln in lines if "Traceback" in ln or "level=ERROR" in ln], lines[:20]


def test_cli_output_to_a_closed_pipe_ends_quietly(tmp_path):
    """``promlite tsdb dump | head -1``: the dump stops without a traceback once ``head`` has left."""
    seed(str(tmp_path / "data"), 20, 1000)
    p = subprocess.Popen([sys.executable, "-m", "promlite.cli", "tsdb", "dump", str(tmp_path / "data")],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.stdout.readline().startswith(b'{__name__="big_series"')
    p.stdout.close()  # the reader leaves with 20,000 lines unread
    err = p.stderr.read().decode()
    assert p.wait(60) == 141, err
    assert "Traceback" not in err and "error" not in err.lower() and "Broken pipe" not in err, err
