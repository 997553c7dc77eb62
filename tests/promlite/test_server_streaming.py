"""Large range answers are streamed in parts (issue 12): same bytes, gzip or not, and clients may leave."""

from __future__ import annotations

import gzip
import http.client
import json
import socket
import struct
import urllib.parse

import pytest
from serve_proc import ServeProc, seed

N_SERIES = 60  # x 11,000 steps: 660,000 points, over render_stream.STREAM_MIN_POINTS


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    d = tmp_path_factory.mktemp("stream")
    first, last = seed(str(d / "data"), N_SERIES, 2000)
    p = ServeProc(str(d), f"--storage.tsdb.path={d / 'data'}")
    p.range_path = lambda step: "/api/v1/query_range?" + urllib.parse.urlencode(
        {"query": "big_series", "start": first / 1000, "end": last / 1000, "step": f"{step:.3f}"})
    p.path = p.range_path((last - first) / 1000 / 10_999)
    yield p
    p.stop()


def _get(p: ServeProc, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    c = http.client.HTTPConnection("127.0.0.1", p.port, timeout=120)
    try:
        c.request("GET", path, headers=headers)
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        c.close()


def test_a_streamed_answer_is_one_valid_document_plain_or_gzipped(served):
    from promlite.server.render_stream import STREAM_MIN_POINTS

    status, headers, plain = _get(served, served.path, {})
    assert status == 200 and headers.get("transfer-encoding") == "chunked", headers
    doc = json.loads(plain)
    assert doc["status"] == "success" and len(doc["data"]["result"]) == N_SERIES
    points = sum(len(s["values"]) for s in doc["data"]["result"])
    assert points >= STREAM_MIN_POINTS
    status, headers, packed = _get(served, served.path, {"Accept-Encoding": "gzip"})
    assert status == 200 and headers.get("content-encoding") == "gzip"
    assert gzip.decompress(packed) == plain
    assert len(packed) < len(plain) / 3
    # the same query asked for fewer points is answered whole, and agrees
    status, headers, body = _get(served, served.range_path(600), {})
    assert status == 200 and "content-length" in headers
    whole = {s["metric"]["instance"]: s["values"] for s in json.loads(body)["data"]["result"]}
    assert len(whole) == N_SERIES and all(len(v) > 10 for v in whole.values())


def test_clients_leaving_a_streamed_answer_cost_nothing(served):
    p = served
    since = len(p.lines())
    request = f"GET {p.path} HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n".encode()
    for i in range(20):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        if i % 2:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.settimeout(60)
        s.connect(("127.0.0.1", p.port))
        s.sendall(request)
        assert s.recv(16)
        s.close()
    assert p.alive()
    assert p.request("GET", "/-/healthy")[0] == 200
    status, _, body = _get(p, p.path, {})
    assert status == 200 and json.loads(body)["status"] == "success"
    new = p.lines()[since:]
    assert not [line for line in new if "level=ERROR" in line or "Traceback" in line], new
