"""The HTTP API over a real tsdb, driven the way Grafana's Prometheus data source drives it.

A real aiohttp server runs on 127.0.0.1:<free port> in a background thread
(its own event loop) over a tsdb in ``tmp_path``; requests go through
``urllib`` like any outside client. Grafana's requests are replayed as its
code sends them (``pkg/promlib/client/client.go``: form-encoded POSTs for
queries, float-second times formatted with ``'f', -1``; ``healthcheck.go``:
``1+1`` at ``time=4``; ``resource_clients.ts``: label values with
``match[]`` and ``limit=40000``, series with ``{__name__!=""}``), and the
answers are checked field by field against what Grafana reads.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import numpy as np
import pytest
from aiohttp import web

import tsdb
from promlite.server import ServerState, api_query, create_app
from query.engine import Engine, QueryTimeoutError

T0 = 1_700_000_000_000  # ms; a multiple of 15 s
STEP = 15_000
N = 40  # samples per series: [T0, T0 + 585 s]


def _fill(db: tsdb.DB) -> None:
    app = db.appender()
    ts = np.arange(T0, T0 + N * STEP, STEP, dtype=np.int64)
    for job, inst, scale in (("api", "a:1", 1.0), ("api", "b:1", 2.0), ("db", "c:1", 3.0)):
        app.append_series({"__name__": "http_requests_total", "job": job, "instance": inst}, ts,
                          np.arange(N, dtype=np.float64) * scale)
    app.append_series({"__name__": "temperature", "room": "kitchen"}, ts, np.full(N, 21.5))
    app.commit()


class Server:
    """An app on a background loop; ``call`` makes one HTTP request and returns its parts."""

    def __init__(self, state: ServerState) -> None:
        self.state = state
        self.loop = asyncio.new_event_loop()
        self.port = 0
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.runner = web.AppRunner(create_app(state))
            self.loop.run_until_complete(self.runner.setup())
            site = web.TCPSite(self.runner, "127.0.0.1", 0)
            self.loop.run_until_complete(site.start())
            self.port = site._server.sockets[0].getsockname()[1]
            ready.set()
            self.loop.run_forever()
            self.loop.run_until_complete(self.runner.cleanup())
            self.loop.close()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        assert ready.wait(10)

    def call(self, method: str, path: str, query: dict | list | None = None, form: dict | list | None = None,
             headers: dict | None = None):
        url = f"http://127.0.0.1:{self.port}{path}"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = None
        hdrs = dict(headers or {})
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            hdrs["Content-Type"] = "application/x-www-form-urlencoded"
        req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                status, h, body = r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            status, h, body = e.code, e.headers, e.read()
        text = body.decode()
        doc = json.loads(text) if h.get("Content-Type", "").startswith("application/json") else None
        return status, h, text, doc

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def db(tmp_path):
    d = tsdb.open(str(tmp_path / "data"))
    _fill(d)
    yield d
    d.close()


@pytest.fixture
def server(db):
    s = Server(ServerState(db, Engine(db, timeout_s=60)))
    yield s
    s.stop()


def _ok(resp, status=200):
    code, h, text, doc = resp
    assert code == status, text
    assert h["Content-Type"].startswith("application/json")
    assert doc["status"] == "success"
    return doc


def _err(resp, status: int, typ: str, contains: str = ""):
    code, h, text, doc = resp
    assert code == status, text
    assert h["Content-Type"].startswith("application/json"), h["Content-Type"]
    assert doc["status"] == "error" and doc["errorType"] == typ, doc
    assert contains in doc["error"], doc["error"]
    return doc


def grafana_time(ms: int) -> str:
    """Grafana's formatTime: strconv.FormatFloat(seconds, 'f', -1, 64)."""
    s = repr(ms / 1000)
    return s[:-2] if s.endswith(".0") else s


# -- Grafana: "Save & test", buildinfo, status/flags -------------------------------------

def test_grafana_health_check(server):
    resp = server.call("POST", "/api/v1/query", form={"query": "1+1", "time": "4", "timeout": "60s"})
    doc = _ok(resp)
    assert resp[2].index('"resultType"') < resp[2].index('"result"')
    assert doc == {"status": "success", "data": {"resultType": "scalar", "result": [4, "2"]}}


def test_buildinfo_is_prometheus_not_mimir(server):
    data = _ok(server.call("GET", "/api/v1/status/buildinfo"))["data"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", data["version"])
    assert "features" not in data
    for k in ("revision", "branch", "buildUser", "buildDate", "goVersion"):
        assert isinstance(data[k], str)


def test_status_flags_is_not_2xx(server):
    code = _err(server.call("GET", "/api/v1/status/flags"), 404, "not_found")
    assert code


# -- Grafana: metric browser and label lookups ------------------------------------------------

def test_metric_names_and_label_lookups(server):
    start, end = str(T0 // 1000), str(T0 // 1000 + 3600)
    names = _ok(server.call("GET", "/api/v1/label/__name__/values",
                            {"start": start, "end": end, "limit": "40000"}))["data"]
    assert names == ["http_requests_total", "temperature"]
    keys = _ok(server.call("POST", "/api/v1/labels", form={"limit": "40000", "start": start, "end": end}))
    assert keys["data"] == ["__name__", "instance", "job", "room"] and "warnings" not in keys
    keys = _ok(server.call("POST", "/api/v1/labels", form={"limit": "40000", "start": start, "end": end,
                                                            "match[]": "temperature"}))
    assert keys["data"] == ["__name__", "room"]
    vals = _ok(server.call("GET", "/api/v1/label/instance/values",
                           [("match[]", 'http_requests_total{job="api"}'), ("match[]", '{room="kitchen"}'),
                            ("start", start), ("end", end), ("limit", "40000")]))
    assert vals["data"] == ["a:1", "b:1"]
    # repeated match[] is a union
    vals = _ok(server.call("GET", "/api/v1/label/job/values",
                           [("match[]", '{instance="a:1"}'), ("match[]", '{instance="c:1"}')]))
    assert vals["data"] == ["api", "db"]
    # limit truncates and says so
    lim = _ok(server.call("GET", "/api/v1/label/instance/values", {"limit": "2"}))
    assert lim["data"] == ["a:1", "b:1"] and lim["warnings"] == ["results truncated due to limit"]
    # nothing matches: [] not null
    none = _ok(server.call("GET", "/api/v1/label/job/values", {"match[]": "nope"}))
    assert none["data"] == []
    # a time range with no data
    assert _ok(server.call("GET", "/api/v1/labels", {"start": "1", "end": "2"}))["data"] == []


def test_series_like_grafana(server):
    doc = _ok(server.call("POST", "/api/v1/series", form={
        "start": str(T0 // 1000), "end": str(T0 // 1000 + 600), "match[]": '{__name__!=""}', "limit": "40000"}))
    assert doc["data"] == [
        {"__name__": "http_requests_total", "instance": "a:1", "job": "api"},
        {"__name__": "http_requests_total", "instance": "b:1", "job": "api"},
        {"__name__": "http_requests_total", "instance": "c:1", "job": "db"},
        {"__name__": "temperature", "room": "kitchen"},
    ]
    lim = _ok(server.call("GET", "/api/v1/series", {"match[]": '{__name__!=""}', "limit": "1"}))
    assert len(lim["data"]) == 1 and lim["warnings"] == ["results truncated due to limit"]
    _err(server.call("GET", "/api/v1/series"), 400, "bad_data", "no match[] parameter provided")
    _err(server.call("GET", "/api/v1/series", {"match[]": '{job=~".*"}'}), 400, "bad_data",
         "at least one non-empty matcher")


# -- Grafana: queries --------------------------------------------------------------------

def test_query_range_step_aligned_float_times(server):
    step_s = 30
    start = (T0 + 61_000) // (step_s * 1000) * step_s * 1000  # Grafana aligns start/end down to the step
    end = (T0 + 400_000) // (step_s * 1000) * step_s * 1000
    resp = server.call("POST", "/api/v1/query_range", form={
        "query": 'http_requests_total{job="api"}', "start": grafana_time(start), "end": grafana_time(end),
        "step": "30", "timeout": "60s"})
    doc = _ok(resp)
    data = doc["data"]
    assert list(data) == ["resultType", "result"] and data["resultType"] == "matrix"
    assert [r["metric"] for r in data["result"]] == [
        {"__name__": "http_requests_total", "instance": "a:1", "job": "api"},
        {"__name__": "http_requests_total", "instance": "b:1", "job": "api"},
    ]
    want_t = list(range(start, end + 1, step_s * 1000))
    for r, scale in zip(data["result"], (1, 2), strict=True):
        assert list(r) == ["metric", "values"]
        assert [p[0] for p in r["values"]] == [t / 1000 for t in want_t]
        assert all(isinstance(p[0], int | float) and isinstance(p[1], str) for p in r["values"])
        assert [float(p[1]) for p in r["values"]] == [(t - T0) // STEP * scale for t in want_t]


def test_query_range_scalar_and_functions(server):
    doc = _ok(server.call("GET", "/api/v1/query_range", {"query": "2*3", "start": "4", "end": "64", "step": "30"}))
    assert doc["data"] == {"resultType": "matrix", "result": [{"metric": {}, "values": [[4, "6"], [34, "6"], [64, "6"]]}]}
    doc = _ok(server.call("POST", "/api/v1/query_range", form={
        "query": "sum by (job) (rate(http_requests_total[1m]))", "start": grafana_time(T0 + 120_000),
        "end": grafana_time(T0 + 180_000), "step": "1m"}))
    res = {r["metric"]["job"]: [float(v) for _, v in r["values"]] for r in doc["data"]["result"]}
    assert res == {"api": pytest.approx([0.2, 0.2]), "db": pytest.approx([0.2, 0.2])}


def test_instant_queries(server):
    t = T0 + 150_000
    doc = _ok(server.call("POST", "/api/v1/query", form={"query": "temperature", "time": grafana_time(t)}))
    assert doc["data"] == {"resultType": "vector", "result": [
        {"metric": {"__name__": "temperature", "room": "kitchen"}, "value": [t / 1000, "21.5"]}]}
    iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t // 1000)) + ".000Z"
    doc = _ok(server.call("GET", "/api/v1/query", {"query": 'http_requests_total{instance="c:1"} / 0', "time": iso}))
    assert doc["data"]["result"][0]["value"] == [t / 1000, "+Inf"]
    doc = _ok(server.call("GET", "/api/v1/query", {"query": "temperature[31s]", "time": grafana_time(t)}))
    assert doc["data"]["resultType"] == "matrix"
    assert doc["data"]["result"][0]["values"] == [[(t - 30_000) / 1000, "21.5"], [(t - 15_000) / 1000, "21.5"],
                                                  [t / 1000, "21.5"]]
    doc = _ok(server.call("GET", "/api/v1/query", {"query": '"hello"', "time": "10"}))
    assert doc["data"] == {"resultType": "string", "result": [10, "hello"]}
    doc = _ok(server.call("GET", "/api/v1/query", {"query": "nothing_here", "time": "10"}))
    assert doc["data"] == {"resultType": "vector", "result": []}
    doc = _ok(server.call("GET", "/api/v1/query", {"query": "0/0", "time": "10"}))
    assert doc["data"]["result"] == [10, "NaN"]


def test_format_query_and_exemplars(server):
    doc = _ok(server.call("GET", "/api/v1/format_query", {"query": "sum(rate(x[5m]))by(job)"}))
    assert doc["data"] == "sum by (job) (rate(x[5m]))"
    assert _ok(server.call("POST", "/api/v1/query_exemplars", form={"query": "x", "start": "1", "end": "2"}))["data"] == []


# -- errors ------------------------------------------------------------------------------------

def test_errors_are_json_envelopes(server):
    _err(server.call("GET", "/api/v1/nope"), 404, "not_found")
    _err(server.call("GET", "/nope"), 404, "not_found")
    resp = server.call("DELETE", "/api/v1/query")
    _err(resp, 405, "bad_data")
    assert set(resp[1]["Allow"].split(",")) == {"GET", "HEAD", "POST"}
    _err(server.call("PUT", "/api/v1/labels"), 405, "bad_data")
    _err(server.call("GET", "/api/v1/query", {"query": "sum("}), 400, "bad_data", 'invalid parameter "query"')
    _err(server.call("GET", "/api/v1/query", {}), 400, "bad_data", 'invalid parameter "query"')
    _err(server.call("GET", "/api/v1/query", {"query": "1", "time": "yesterday"}), 400, "bad_data",
         'invalid parameter "time": cannot parse "yesterday" to a valid timestamp')
    _err(server.call("GET", "/api/v1/query", {"query": "1", "timeout": "soon"}), 400, "bad_data", "timeout")
    _err(server.call("GET", "/api/v1/query_range", {"query": "1", "start": "0", "end": "1000000", "step": "1"}),
         400, "bad_data", "exceeded maximum resolution of 11,000 points per timeseries")
    _err(server.call("GET", "/api/v1/query_range", {"query": "1", "start": "10", "end": "0", "step": "1"}),
         400, "bad_data", "end timestamp must not be before start time")
    _err(server.call("GET", "/api/v1/query_range", {"query": "1", "start": "0", "end": "10", "step": "0"}),
         400, "bad_data", "zero or negative query resolution step widths are not accepted")
    _err(server.call("GET", "/api/v1/query_range", {"query": "temperature[5m]", "start": "0", "end": "10", "step": "1"}),
         400, "bad_data", 'invalid expression type "range vector" for range query')
    _err(server.call("GET", "/api/v1/labels", {"match[]": "rate(x[5m])"}), 400, "bad_data", "match[]")
    _err(server.call("GET", "/api/v1/labels", {"limit": "-3"}), 400, "bad_data", "limit")
    # an execution error: two series end up with the same label set
    _err(server.call("GET", "/api/v1/query", {"query": 'label_replace(http_requests_total, "instance", "x", "", "")',
                                              "time": grafana_time(T0 + 60_000)}), 422, "execution")
    # the server keeps serving
    _ok(server.call("POST", "/api/v1/query", form={"query": "1+1", "time": "4"}))


def test_sample_limit_is_execution_error(db):
    s = Server(ServerState(db, Engine(db, max_samples=5)))
    try:
        _err(s.call("GET", "/api/v1/query", {"query": "http_requests_total[10m]", "time": grafana_time(T0 + 600_000)}),
             422, "execution", "too many samples")
    finally:
        s.stop()


class _SlowEngine:
    """A stand-in engine: blocks (in the query pool) until ``gate`` is set, or raises, to test the plumbing around it."""

    timeout_s = 60.0

    def __init__(self, gate: threading.Event | None = None, exc: Exception | None = None) -> None:
        self.gate, self.exc = gate, exc
        self.entered = threading.Semaphore(0)  # released by every evaluation as it starts

    def instant(self, expr, t_ms):
        self.entered.release()
        if self.gate is not None:
            self.gate.wait(120)  # a safety net only: the test sets the gate
        if self.exc is not None:
            raise self.exc
        from query.values import Scalar

        return Scalar(t_ms, 1.0)


def test_timeouts_and_off_loop_evaluation(db, monkeypatch):
    s = Server(ServerState(db, _SlowEngine(exc=QueryTimeoutError("query timed out in query execution"))))
    try:
        _err(s.call("GET", "/api/v1/query", {"query": "1"}), 503, "timeout", "query timed out")
    finally:
        s.stop()
    monkeypatch.setattr(api_query, "_BACKSTOP_GRACE_S", 0.0)
    gate = threading.Event()
    engine = _SlowEngine(gate=gate)
    s = Server(ServerState(db, engine, query_timeout_s=0.3))
    try:
        # the backstop answers while the evaluation is still blocked (no wall-time race: it never ends by itself)
        _err(s.call("GET", "/api/v1/query", {"query": "1"}), 503, "timeout")
        assert engine.entered.acquire(timeout=60)
        # evaluation runs in the pool: the loop answers while a slow query is in flight. A query on the
        # loop would block it until the gate opens, and /-/healthy would time out instead.
        result: dict = {}
        th = threading.Thread(target=lambda: result.setdefault("r", s.call("GET", "/api/v1/query",
                                                                             {"query": "1", "timeout": "120s"})))
        s.state.query_timeout_s = 120
        th.start()
        assert engine.entered.acquire(timeout=60)  # the second query is being evaluated
        assert s.call("GET", "/-/healthy")[0] == 200
        assert th.is_alive() and "r" not in result  # ... and still is
        gate.set()
        th.join(60)
        assert _ok(result["r"])["data"]["result"][1] == "1"
    finally:
        gate.set()
        s.stop()


# -- metadata, status, targets, rules ----------------------------------------------------------

def test_status_and_empty_endpoints(server):
    tsdb_status = _ok(server.call("GET", "/api/v1/status/tsdb"))["data"]
    assert tsdb_status["headStats"]["numSeries"] == 4
    assert tsdb_status["headStats"]["minTime"] == T0
    assert tsdb_status["seriesCountByMetricName"][0] == {"name": "http_requests_total", "value": 3}
    assert {"name": "job=api", "value": 2} in tsdb_status["seriesCountByLabelValuePair"]
    rt = _ok(server.call("GET", "/api/v1/status/runtimeinfo"))["data"]
    assert rt["storageRetention"] == "15d" and rt["reloadConfigSuccess"] is True
    assert _ok(server.call("GET", "/api/v1/status/config"))["data"] == {"yaml": ""}
    assert _ok(server.call("GET", "/api/v1/rules"))["data"] == {"groups": []}
    assert _ok(server.call("GET", "/api/v1/alerts"))["data"] == {"alerts": []}
    assert _ok(server.call("GET", "/api/v1/metadata"))["data"] == {}
    t = _ok(server.call("GET", "/api/v1/targets"))["data"]
    assert t == {"activeTargets": [], "droppedTargets": [], "droppedTargetCounts": {}}


def test_health_ready_reload_metrics(server):
    assert server.call("GET", "/-/healthy")[0] == 200
    assert server.call("HEAD", "/-/ready")[0] == 200
    server.state.ready = False  # starting up (WAL replay) or shutting down
    assert server.call("GET", "/-/ready")[0] == 503
    assert server.call("GET", "/-/healthy")[0] == 200
    _err(server.call("GET", "/api/v1/labels"), 503, "unavailable")
    server.state.ready = True
    assert server.call("POST", "/-/reload")[0] == 403  # --web.enable-lifecycle not given
    server.call("POST", "/api/v1/query", form={"query": "1+1", "time": "4"})
    code, h, text, _ = server.call("GET", "/metrics")
    assert code == 200 and h["Content-Type"].startswith("text/plain")
    assert re.search(r"^prometheus_tsdb_head_series 4(\.0)?$", text, re.M)
    assert re.search(r'^prometheus_tsdb_head_samples_appended_total\{type="float"\} 160(\.0)?$', text, re.M)
    assert re.search(r'^prometheus_http_request_duration_seconds_count\{handler="/api/v1/query"\} 1(\.0)?$', text, re.M)
    assert re.search(r'^prometheus_http_requests_total\{code="200",handler="/api/v1/query"\} 1(\.0)?$', text, re.M)
    assert "process_resident_memory_bytes" in text
    code, h, text, _ = server.call("GET", "/metrics", headers={"Accept": "application/openmetrics-text;version=1.0.0"})
    assert h["Content-Type"].startswith("application/openmetrics-text") and text.endswith("# EOF\n")


# -- admin -----------------------------------------------------------------------------------

def test_admin_api_disabled(server):
    _err(server.call("POST", "/api/v1/admin/tsdb/delete_series", form={"match[]": "temperature"}), 503,
         "unavailable", "admin APIs disabled")
    _err(server.call("POST", "/api/v1/admin/tsdb/snapshot"), 503, "unavailable")


def test_admin_api(db):
    s = Server(ServerState(db, Engine(db), enable_admin_api=True))
    try:
        _err(s.call("POST", "/api/v1/admin/tsdb/delete_series"), 400, "bad_data", "no match[]")
        code, _, text, _ = s.call("POST", "/api/v1/admin/tsdb/delete_series", form={"match[]": "temperature"})
        assert code == 204 and text == ""
        assert _ok(s.call("GET", "/api/v1/query", {"query": "temperature", "time": grafana_time(T0 + 60_000)})
                   )["data"]["result"] == []
        assert s.call("PUT", "/api/v1/admin/tsdb/clean_tombstones")[0] == 204
        name = _ok(s.call("POST", "/api/v1/admin/tsdb/snapshot"))["data"]["name"]
        snap = os.path.join(db.path, "snapshots", name)
        blocks = [d for d in os.listdir(snap) if os.path.exists(os.path.join(snap, d, "meta.json"))]
        assert blocks, os.listdir(snap)
        # the data is still queryable after the flush the snapshot did
        doc = _ok(s.call("GET", "/api/v1/query", {"query": "count(http_requests_total)",
                                                  "time": grafana_time(T0 + 60_000)}))
        assert doc["data"]["result"][0]["value"][1] == "3"
    finally:
        s.stop()


# -- docs and deploy files stay in step with the server ---------------------------------------

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_openapi_lists_every_route(server):
    yaml = pytest.importorskip("yaml")
    with open(os.path.join(ROOT, "docs", "openapi.yaml")) as f:
        doc = yaml.safe_load(f)
    app = create_app(ServerState(server.state.db, None))
    routes = {r.resource.canonical for r in app.router.routes()}
    documented = set(doc["paths"])
    assert documented - routes == set()
    from promlite.server import ui_routes

    # the UI's pages and assets are not API: everything else must be documented
    assert {r for r in routes if r not in ui_routes.ROUTES} - documented == set()


def test_dashboard_queries_parse_and_use_exposed_metrics(server):
    from query.ast import VectorSelector, walk
    from query.parser import parse_expr

    with open(os.path.join(ROOT, "deploy", "grafana", "dashboards", "promlite.json")) as f:
        dash = json.load(f)
    server.call("POST", "/api/v1/query", form={"query": "1+1", "time": "4"})  # labelled metrics appear once used
    _, _, exposition, _ = server.call("GET", "/metrics")
    exposed = {line.split("{")[0].split(" ")[0] for line in exposition.splitlines() if line and line[0] != "#"}
    exposed |= {"up", "scrape_duration_seconds"}  # written by the scraper, not /metrics
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    assert len(exprs) >= 10
    for e in exprs:
        node = parse_expr(e.replace("$__rate_interval", "1m").replace("$job", ".*").replace("$instance", ".*"))
        for n in walk(node):
            if isinstance(n, VectorSelector):
                assert n.name in exposed, (n.name, e)


def test_large_answers_are_compressed_when_accepted(server):
    import gzip

    long_names = [("match[]", '{__name__!=""}')]
    q = {"query": 'label_replace(http_requests_total, "pad", "' + "x" * 200 + '$1", "instance", "(.*)")',
         "start": grafana_time(T0), "end": grafana_time(T0 + 585_000), "step": "0.2"}
    url = f"http://127.0.0.1:{server.port}/api/v1/query_range?" + urllib.parse.urlencode(q)
    req = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(req, timeout=30) as r:
        assert r.headers["Content-Encoding"] == "gzip"
        doc = json.loads(gzip.decompress(r.read()))
    assert len(doc["data"]["result"]) == 3 and len(doc["data"]["result"][0]["values"]) == 2926
    assert _ok(server.call("GET", "/api/v1/query_range", q))["data"] == doc["data"]  # identity when not asked
    assert _ok(server.call("GET", "/api/v1/series", long_names))


def test_prime_workers_runs_once_on_every_query_thread():
    """``serve`` primes each query worker (its PromQL parser) before ready: once per thread, all of them."""
    st = ServerState(None, None, query_workers=3)
    try:
        seen: list[int] = []
        st.prime_workers(lambda: seen.append(threading.get_ident()))
        assert len(seen) == 3 and len(set(seen)) == 3
        assert set(seen) == {t.ident for t in st.executor._threads}  # the pool's own threads, no more
    finally:
        st.close()


def test_max_concurrency_queues_and_the_wait_counts_against_the_timeout(db):
    """``--query.max-concurrency``: past it queries wait (not in the pool); one that times out there answers 503."""
    gate = threading.Event()
    engine = _SlowEngine(gate=gate)
    s = Server(ServerState(db, engine, max_concurrency=1))
    try:
        first: dict = {}
        th = threading.Thread(target=lambda: first.setdefault("r", s.call("GET", "/api/v1/query", {"query": "1"})))
        th.start()
        assert engine.entered.acquire(timeout=60)  # the one slot is taken
        _err(s.call("GET", "/api/v1/query", {"query": "1", "timeout": "300ms"}), 503, "timeout", "query queue")
        assert not engine.entered.acquire(timeout=0)  # the queued query never reached the engine
        metrics = s.call("GET", "/metrics")[2]
        assert "prometheus_engine_queries_concurrent_max 1.0" in metrics
        assert "prometheus_engine_queries 1.0" in metrics
        gate.set()
        th.join(60)
        assert _ok(first["r"])["data"]["result"][1] == "1"
    finally:
        gate.set()
        s.stop()
