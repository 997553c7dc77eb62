"""Regressions found by schemathesis against docs/openapi.yaml, and the request limits (issue 12).

Each test pins one place where the server answered differently from
Prometheus's HTTP API (``web/api/v1/api.go``) or from its spec. The app runs
in-process over a small tsdb (aiohttp's test client on 127.0.0.1).
"""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace

import numpy as np
import pytest
from aiohttp.test_utils import TestClient, TestServer

import tsdb
from promlite.server import ServerState, create_app
from promlite.server.serve import MAX_HEADER_FIELD, MAX_REQUEST_LINE
from query.engine import Engine
from scraper.manager import ScrapeManager

T0 = 1_700_000_000_000


@pytest.fixture
def db(tmp_path):
    d = tsdb.open(str(tmp_path / "data"))
    app = d.appender()
    ts = np.arange(T0, T0 + 10 * 15_000, 15_000, dtype=np.int64)
    for i in range(3):
        app.append_series({"__name__": "up", "job": "j", "instance": f"h{i}"}, ts, np.ones(10))
    app.commit()
    yield d
    d.close()


class _FakeManager:
    """Just what the targets and metadata handlers read of a ScrapeManager: two targets with metadata."""

    api_targets = ScrapeManager.api_targets

    def __init__(self) -> None:
        md = SimpleNamespace(type="counter", help="h", unit="")
        self._targets = []
        for inst in ("a:1", "b:1"):
            target = SimpleNamespace(public_labels=lambda inst=inst: {"instance": inst, "job": "j"},
                                     discovered_labels={"__address__": inst}, url=f"http://{inst}/metrics",
                                     interval_ms=15_000, timeout_ms=10_000)
            status = SimpleNamespace(metadata={"m_total": md, "n_total": md}, last_error="", last_scrape=None,
                                     last_scrape_duration=0.0, health="up")
            self._targets.append(SimpleNamespace(job="j", target=target, status=status))
        self._jobs = {"j": SimpleNamespace(dropped=[{"__address__": "c:1"}])}

    def active_targets(self):
        return self._targets


def call(db, method: str, path: str, *, manager=None, data=None, headers=None, **state_kw):
    """One request to a fresh app; returns ``(status, content type, parsed JSON or text)``."""

    async def go():
        state = ServerState(db, Engine(db, timeout_s=30), **state_kw)
        state.scrape_manager = manager  # after the self-metrics registered (they read more of a manager)
        server = TestServer(create_app(state), host="127.0.0.1")
        await server.start_server(max_line_size=MAX_REQUEST_LINE, max_field_size=MAX_HEADER_FIELD)  # as serve.py
        client = TestClient(server)
        await client.start_server()
        try:
            r = await client.request(method, path, data=data, headers=headers)
            body = await r.read()
            ct = r.headers.get("Content-Type", "")
            return r.status, ct, json.loads(body) if ct.startswith("application/json") else body.decode()
        finally:
            await client.close()

    return asyncio.run(go())


def err(resp, status: int, typ: str, contains: str = ""):
    code, ct, doc = resp
    assert code == status, doc
    assert ct.startswith("application/json"), ct
    assert doc["status"] == "error" and doc["errorType"] == typ, doc
    assert contains in doc["error"], doc
    return doc


def ok(resp):
    code, ct, doc = resp
    assert code == 200 and ct.startswith("application/json"), (code, doc)
    assert doc["status"] == "success", doc
    return doc["data"]


# -- mismatches with Prometheus ------------------------------------------------------------------

def test_targets_with_an_unknown_state_lists_neither(db):
    """Prometheus shows active targets for "", any, active and dropped ones for "", any, dropped: any
    other ``state`` shows neither (promlite answered it as ``any``)."""
    m = _FakeManager()
    data = ok(call(db, "GET", "/api/v1/targets?state=bogus", manager=m))
    assert data["activeTargets"] == [] and data["droppedTargets"] == []
    data = ok(call(db, "GET", "/api/v1/targets?state=ACTIVE", manager=m))
    assert len(data["activeTargets"]) == 2 and data["droppedTargets"] == []


def test_rules_type_must_be_alert_or_record(db):
    ok(call(db, "GET", "/api/v1/rules?type=Alert"))
    ok(call(db, "GET", "/api/v1/rules?type=record"))
    err(call(db, "GET", "/api/v1/rules?type=bogus"), 400, "bad_data", 'invalid parameter "type": not supported value "bogus"')


def test_metadata_limit_zero_is_empty_and_bad_limits_use_prometheus_wording(db):
    m = _FakeManager()
    assert ok(call(db, "GET", "/api/v1/metadata?limit=0", manager=m)) == {}
    assert list(ok(call(db, "GET", "/api/v1/metadata?limit=1", manager=m))) == ["m_total"]
    assert len(ok(call(db, "GET", "/api/v1/metadata?limit=-1", manager=m))) == 2
    err(call(db, "GET", "/api/v1/metadata?limit=null", manager=m), 400, "bad_data", "limit must be a number")
    err(call(db, "GET", "/api/v1/metadata?limit_per_metric=1.5", manager=m), 400, "bad_data",
        "limit_per_metric must be a number")


def test_targets_metadata_is_a_list_with_match_target_and_limit(db):
    m = _FakeManager()
    data = ok(call(db, "GET", "/api/v1/targets/metadata", manager=m))
    assert isinstance(data, list) and len(data) == 4
    assert data[0] == {"target": {"instance": "a:1", "job": "j"}, "metric": "m_total", "type": "counter",
                       "help": "h", "unit": ""}
    data = ok(call(db, "GET", '/api/v1/targets/metadata?match_target={instance="b:1"}&metric=n_total', manager=m))
    assert [(d["target"]["instance"], d["metric"]) for d in data] == [("b:1", "n_total")]
    assert len(ok(call(db, "GET", "/api/v1/targets/metadata?limit=1", manager=m))) == 2  # targets, not entries
    err(call(db, "GET", "/api/v1/targets/metadata?match_target=%7B", manager=m), 400, "bad_data",
        'invalid parameter "match_target"')
    err(call(db, "GET", "/api/v1/targets/metadata?limit=x", manager=m), 400, "bad_data", "limit must be a number")


def test_format_query_and_exemplars_answer_post(db):
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert ok(call(db, "POST", "/api/v1/format_query", data="query=a%2Bb", headers=form)) == "a + b"
    assert ok(call(db, "POST", "/api/v1/query_exemplars", data="query=up", headers=form)) == []


# -- request limits: JSON answers, 400/413/414 -------------------------------------------------

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def test_body_over_4_mib_is_413_json(db):
    from promlite.server.request import MAX_BODY_BYTES

    body = b"query=" + b"1" * MAX_BODY_BYTES
    doc = err(call(db, "POST", "/api/v1/query", data=body, headers=FORM), 413, "bad_data", "request body too large")
    assert "4194304" in doc["error"]


def test_url_over_512_kib_is_414_json(db):
    from promlite.server.request import MAX_URL_BYTES

    err(call(db, "GET", "/api/v1/labels?match[]=" + "a" * MAX_URL_BYTES), 414, "bad_data", "request URL too long")
    # just under the limit the request reaches its handler (and the selector-length limit answers)
    err(call(db, "GET", "/api/v1/labels?match[]=" + "a" * (MAX_URL_BYTES - 100)), 400, "bad_data",
        'invalid parameter "match[]"')


def test_query_over_256_kib_is_400_before_parsing(db):
    from promlite.server.params import MAX_QUERY_BYTES

    long_query = "1+" * (MAX_QUERY_BYTES // 2) + "1"
    for path in ("/api/v1/query", "/api/v1/query_range", "/api/v1/format_query", "/api/v1/query_exemplars"):
        extra = "&start=1&end=2&step=1" if path.endswith("range") else ""
        err(call(db, "POST", path, data=f"query={long_query}{extra}".replace("+", "%2B"), headers=FORM), 400,
            "bad_data", f'invalid parameter "query": {len(long_query)} bytes long, at most {MAX_QUERY_BYTES}')
    # multi-byte characters count as their UTF-8 bytes
    text = '"' + "é" * (MAX_QUERY_BYTES // 2) + '"'
    err(call(db, "POST", "/api/v1/query", data="query=" + text, headers=FORM), 400, "bad_data", "bytes long")
    ok(call(db, "POST", "/api/v1/query", data="query=" + "1%2B" * 1000 + "1", headers=FORM))


def test_more_than_1000_match_selectors_is_400(db):
    many = "&".join(["match[]=up"] * 1001)
    for path in ("/api/v1/series", "/api/v1/labels", "/api/v1/label/job/values"):
        method = "GET" if "label/" in path else "POST"
        resp = call(db, method, f"{path}?{many}") if method == "GET" else call(db, method, path, data=many, headers=FORM)
        err(resp, 400, "bad_data", "too many match[] parameters: 1001 (at most 1000)")
    assert len(ok(call(db, "POST", "/api/v1/series", data="&".join(["match[]=up"] * 1000), headers=FORM))) == 3


def test_options_and_cors_as_prometheus(db):
    """Prometheus answers ``OPTIONS`` on every API path (CORS preflight) with success, ``data`` null,
    and sets its CORS headers on API answers to requests with an Origin (default ``--web.cors.origin``)."""
    code, ct, doc = call(db, "OPTIONS", "/api/v1/query")
    assert (code, doc) == (200, {"status": "success", "data": None})

    async def go():
        state = ServerState(db, Engine(db, timeout_s=30))
        client = TestClient(TestServer(create_app(state), host="127.0.0.1"))
        await client.start_server()
        try:
            r = await client.get("/api/v1/query?query=1", headers={"Origin": "http://grafana:3000"})
            plain = await client.get("/api/v1/query?query=1")
            return r.status, dict(r.headers), dict(plain.headers)
        finally:
            await client.close()

    status, with_origin, without = asyncio.run(go())
    assert status == 200
    assert with_origin["Access-Control-Allow-Origin"] == "*"
    assert with_origin["Access-Control-Allow-Methods"] == "GET, POST, OPTIONS"
    assert "Access-Control-Allow-Origin" not in without
    # methods a route does not have are still 405 in JSON
    err(call(db, "DELETE", "/api/v1/query"), 405, "bad_data", "method DELETE not allowed")


def test_integer_parameters_parse_as_go_strconv_atoi(db):
    for bad in ("1_0", " 1", "١", "1.5", "null"):
        err(call(db, "GET", f"/api/v1/labels?limit={bad}"), 400, "bad_data", 'invalid parameter "limit": strconv.Atoi')
    err(call(db, "GET", "/api/v1/labels?limit=99999999999999999999"), 400, "bad_data", "value out of range")
    assert ok(call(db, "GET", "/api/v1/labels?limit=%2B2")) == ["__name__", "instance"]
    err(call(db, "GET", "/api/v1/status/tsdb?limit=x"), 400, "bad_data", "limit must be a positive number")


def test_snapshot_skip_head_parses_as_go_strconv_parsebool(db):
    err(call(db, "POST", "/api/v1/admin/tsdb/snapshot?skip_head=yes", enable_admin_api=True), 400, "bad_data",
        'invalid parameter "skip_head": unable to parse boolean \'skip_head\' argument: strconv.ParseBool: '
        'parsing "yes": invalid syntax')
    err(call(db, "POST", "/api/v1/admin/tsdb/snapshot?skip_head=tRuE", enable_admin_api=True), 400, "bad_data")
    assert ok(call(db, "POST", "/api/v1/admin/tsdb/snapshot?skip_head=TRUE", enable_admin_api=True))["name"]
