"""Idle, half-open and slow clients are let go; more connections than allowed get a 503 (issue 12).

Before: a connection that sent nothing, half a request head or half a body was
held for over 70 s (aiohttp's keep-alive timeout, an hour), and any number of
them could be open. The server here runs with ``--web.read-timeout=3s`` so the
deadlines pass quickly; the bounds on when a close happens are generous (a busy
machine delays timers, it does not make them early by seconds).
"""

from __future__ import annotations

import socket
import time

import pytest
from serve_proc import ServeProc

READ_TIMEOUT_S = 3.0


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("conn")
    s = ServeProc(str(cwd), f"--web.read-timeout={READ_TIMEOUT_S:g}s", "--web.max-connections=6",
                  "--storage.tsdb.path=data")
    yield s
    s.stop()


def _connect(server: ServeProc) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    return s


def _seconds_until_closed(s: socket.socket, start: float) -> tuple[float, bytes]:
    """Read until the server closes; return when that happened (from ``start``) and what it sent."""
    got = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return time.monotonic() - start, got
        got += chunk


def _healthy(server: ServeProc) -> bool:
    return server.request("GET", "/-/healthy", timeout=10)[0] == 200


@pytest.mark.parametrize("opening", [
    b"",  # connects and says nothing
    b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n",  # half a request head
    b"G",  # one byte of it
], ids=["silent", "half-head", "one-byte"])
def test_a_client_that_never_finishes_its_request_head_is_closed(server, opening):
    s = _connect(server)
    try:
        start = time.monotonic()
        if opening:
            s.sendall(opening)
        took, got = _seconds_until_closed(s, start)
    finally:
        s.close()
    assert got == b""  # closed without an answer: there was no request to answer
    assert READ_TIMEOUT_S - 0.5 <= took < READ_TIMEOUT_S + 15, took
    assert _healthy(server)


def test_a_request_body_that_stops_arriving_is_cut_off(server):
    s = _connect(server)
    try:
        start = time.monotonic()
        s.sendall(b"POST /api/v1/query HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n"
                  b"query=1%2B")
        took, got = _seconds_until_closed(s, start)
    finally:
        s.close()
    assert READ_TIMEOUT_S - 0.5 <= took < READ_TIMEOUT_S + 15, took
    assert b" 200 " not in got.split(b"\r\n", 1)[0]
    assert _healthy(server)


def test_an_idle_keep_alive_connection_is_closed_after_the_read_timeout(server):
    s = _connect(server)
    try:
        s.sendall(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
        first = s.recv(65536)
        assert first.startswith(b"HTTP/1.1 200"), first
        start = time.monotonic()
        took, _ = _seconds_until_closed(s, start)
    finally:
        s.close()
    assert READ_TIMEOUT_S - 0.5 <= took < READ_TIMEOUT_S + 15, took


def test_a_request_that_keeps_coming_is_served_on_a_kept_alive_connection(server):
    """The head deadline is per request head: a client sending requests back to back keeps its connection."""
    s = _connect(server)
    try:
        for _ in range(3):
            s.sendall(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
            assert s.recv(65536).startswith(b"HTTP/1.1 200")
            time.sleep(READ_TIMEOUT_S / 2)
    finally:
        s.close()


def test_connections_past_the_limit_get_a_503_and_the_others_are_served(server):
    held = []
    try:
        # the fixture allows 6; the health probes of other tests are closed by now
        for _ in range(6):
            held.append(_connect(server))
        time.sleep(0.2)
        extra = _connect(server)
        try:
            _, got = _seconds_until_closed(extra, time.monotonic())
        finally:
            extra.close()
        assert got.startswith(b"HTTP/1.1 503"), got
        assert b"--web.max-connections=6" in got
        # a held connection is still served
        held[0].sendall(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
        assert held[0].recv(65536).startswith(b"HTTP/1.1 200")
    finally:
        for s in held:
            s.close()
    time.sleep(0.3)
    assert _healthy(server)  # slots come back when clients leave


def test_connection_limits_log_no_errors(server):
    assert server.alive()
    bad = [line for line in server.lines() if "level=ERROR" in line or "Traceback" in line]
    assert bad == []


def test_the_head_deadline_follows_a_short_read_timeout_and_defaults_to_30s():
    from aiohttp import web

    from promlite.server.connections import HEAD_TIMEOUT_S, LimitedAppRunner

    assert HEAD_TIMEOUT_S == 30
    assert LimitedAppRunner(web.Application())._limits == {
        "head_timeout": 30.0, "body_timeout": 300.0, "max_connections": 512}
    assert LimitedAppRunner(web.Application(), read_timeout=2)._limits["head_timeout"] == 2
