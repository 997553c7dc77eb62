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
        client = TestClient(TestServer(create_app(state), host="127.0.0.1"))
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
