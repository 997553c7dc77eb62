"""query: PromQL latency per query, per system, over the same backfilled data.

The fixed query set (``shared/datasets/queries.txt``: id, kind, window, step,
expression) runs against the dataset of the ``compression`` suite:

* promlite: ``query.engine.Engine(db)`` in-process over the promlite blocks
  (no HTTP, no JSON: the engine's own cost);
* Prometheus: ``/api/v1/query[_range]`` over the promtool blocks, with
  compaction held off (min = max block duration = 2 h);
* VictoriaMetrics: the same HTTP API over its imported copy, rollup cache off;
* promlite again through its own HTTP server (``promlite serve`` over a copy
  of its blocks), reported as a geometric mean and in the plot, so the
  HTTP-to-HTTP comparison is there too.

Peers are timed from request to the last response byte (JSON decoding is
done after the clock stops). Each query: one warm-up, then ``runs`` timed
runs (bounded in time), median and spread. ``END`` is the dataset's end
(meta ``end_ms``); a range query covers ``END - window .. END``. The
``check_*`` queries compare values across systems (exact integer data).
Where the engine has not landed, the promlite column says "engine not
available" and the peers are still measured.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass

from ..datasets import Dataset, find_shared
from ..harness import MeasureError, Stat, repeat
from ..peers import PROMETHEUS, PROMLITE, VICTORIAMETRICS, Server
from . import NA, SYSTEMS, Context, Row, SuiteResult
from .compression import load_all

NAME = "query"
TITLE = "PromQL query latency (same data, same queries)"


@dataclass
class Query:
    id: str
    kind: str  # "range" | "instant"
    window: str
    step: str
    expr: str

    def bounds(self, ds: Dataset) -> tuple[int, int, int]:
        """start_ms, end_ms, step_ms (start = end and step 0 for an instant query)."""
        end = ds.end_ms
        if self.kind == "instant":
            return end, end, 0
        start = ds.start_ms if self.window == "all" else end - _dur_ms(self.window)
        return max(start, ds.start_ms), end, _dur_ms(self.step)


def _dur_ms(s: str) -> int:
    return int(float(s[:-1]) * {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}[s[-1]])


def load_queries(path: str) -> list[Query]:
    out = []
    with open(path) as f:
        for line in f:
            if not line.strip() or line.startswith("#"):
                continue
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 5:
                raise MeasureError(f"{path}: bad query line {line!r}")
            out.append(Query(*parts))
    return out


def _http_timed(srv: Server, q: Query, ds: Dataset):
    start, end, step = q.bounds(ds)
    if q.kind == "instant":
        path, params = "/api/v1/query", {"query": q.expr, "time": f"{end / 1000:.3f}"}
    else:
        path, params = "/api/v1/query_range", {"query": q.expr, "start": f"{start / 1000:.3f}",
                                               "end": f"{end / 1000:.3f}", "step": f"{step / 1000:g}"}
    url = srv.url + path + "?" + urllib.parse.urlencode(params)
    box = {}

    def once():
        with urllib.request.urlopen(url, timeout=120) as r:
            box["body"] = r.read()

    return once, box


def _summary(kind: str, payload) -> tuple[int, float | None]:
    """(series returned, value of a one-element instant result) from either side."""
    if isinstance(payload, dict):  # Prometheus JSON
        if payload.get("status") != "success":
            raise MeasureError(f"{payload.get('errorType')}: {payload.get('error')}"[:80])
        res = payload["data"]["result"]
        one = float(res[0]["value"][1]) if kind == "instant" and len(res) == 1 and "value" in res[0] else None
        return len(res), one
    n = len(payload.labels) if hasattr(payload, "labels") else 1
    one = None
    if kind == "instant" and hasattr(payload, "values") and n == 1:
        one = float(payload.values[0])
    elif hasattr(payload, "value"):
        one = float(payload.value)
    return n, one


def run(ctx: Context) -> SuiteResult:
    res = SuiteResult(NAME, TITLE)
    shared = find_shared()
    qpath = os.path.join(shared, "queries.txt") if shared else None
    if not qpath or not os.path.isfile(qpath):
        res.status, res.note = "skipped", "queries.txt not found"
        return res
    queries = load_queries(qpath)
    ds, loads = load_all(ctx, res)
    per_query_budget = 4.0 if ctx.quick else 25.0
    lat: dict[str, dict[str, object]] = {q.id: {} for q in queries}
    counts: dict[str, dict[str, object]] = {q.id: {} for q in queries}
    cpu_total: dict[str, object] = {}
    task = ctx.task("queries", len(queries) * len(SYSTEMS))

    def measure(system: str, make_once) -> None:
        for q in queries:
            try:
                once, get_result = make_once(q)
                wall, _ = repeat(once, runs=ctx.runs, warmup=1, max_seconds=per_query_budget)
                lat[q.id][system] = wall.scaled(lambda s: s * 1e3, "ms")
                counts[q.id][system] = _summary(q.kind, get_result())
            except Exception as e:  # noqa: BLE001 - one failing query is a cell, not a failed suite
                lat[q.id][system] = f"error: {type(e).__name__}: {e}"[:70]
            ctx.advance(task)

    # promlite, in-process
    pl = loads["promlite"]
    try:
        from query.engine import Engine
    except ImportError as e:
        Engine = None  # noqa: N806
        why = "engine not available"
        res.note += f"; promlite: query.engine not importable ({e})"
    if isinstance(pl, str) or Engine is None:
        for q in queries:
            lat[q.id]["promlite"] = pl if isinstance(pl, str) else why
            ctx.advance(task)
    else:
        import tsdb

        with tsdb.open(pl.data_dir, retention_ms=0, auto_compact=False) as db:
            eng = Engine(db)

            def make_pl(q: Query):
                start, end, step = q.bounds(ds)
                box = {}

                def once():
                    box["r"] = eng.instant(q.expr, end) if q.kind == "instant" else eng.range(q.expr, start, end, step)

                return once, lambda: box["r"]

            c0 = time.process_time()
            measure("promlite", make_pl)
            cpu_total["promlite"] = time.process_time() - c0

    # promlite again, through its own HTTP server (JSON and HTTP included, like the peers)
    lat_http: dict[str, object] = {}
    if not isinstance(pl, str):
        d = ctx.workspace.copy_of(pl)
        try:
            with Server(PROMLITE, sys.executable, d) as srv:
                for q in queries:
                    try:
                        once, box = _http_timed(srv, q, ds)
                        wall, _ = repeat(once, runs=ctx.runs, warmup=1, max_seconds=per_query_budget)
                        lat_http[q.id] = wall.scaled(lambda s: s * 1e3, "ms")
                        counts[q.id]["promlite (HTTP)"] = _summary(q.kind, json.loads(box["body"]))
                    except Exception as e:  # noqa: BLE001 - a cell, not a failed suite
                        lat_http[q.id] = f"error: {type(e).__name__}: {e}"[:70]
        except MeasureError as e:
            lat_http = {q.id: f"promlite serve not available: {e}"[:70] for q in queries}
        finally:
            shutil.rmtree(d, ignore_errors=True)

    for system in (PROMETHEUS, VICTORIAMETRICS):
        ld = loads[system]
        if isinstance(ld, str):
            for q in queries:
                lat[q.id][system] = ld
                ctx.advance(task)
            cpu_total[system] = ld
            continue
        data_dir = ctx.workspace.copy_of(ld) if system == PROMETHEUS else ld.data_dir
        with Server(system, ctx.peers[system].binary, data_dir) as srv:
            c0, _, _ = srv.stats()

            def make_http(q: Query, srv=srv):
                once, box = _http_timed(srv, q, ds)
                return once, lambda: json.loads(box["body"])

            measure(system, make_http)
            cpu_total[system] = srv.stats()[0] - c0
    ctx.done(task)

    for q in queries:
        res.rows.append(Row(q.id, "ms", lat[q.id], note=q.expr))
    gm = _geomeans(lat)
    res.rows.append(Row("geometric mean over the queries every system answered", "ms", gm))
    if lat_http:
        http_rows = {qid: {**row, "promlite": lat_http.get(qid, "–")} for qid, row in lat.items()}
        res.rows.append(Row("same, promlite through its HTTP API (promlite serve)", "ms", _geomeans(http_rows),
                            note="request to last response byte, as for the peers"))
    res.rows.append(Row("CPU for the whole query set (warm-up + runs)", "CPU s", cpu_total,
                        note="promlite: this process; peers: the server process"))
    _parse_times(res, queries)
    _checks(res, queries, counts)
    res.plots["latency"] = {
        "kind": "bars", "horizontal": True, "log": True, "size": (8, 0.42 * len(queries) + 1.2),
        "title": f"Query latency, median of runs ({ds.series} series x {ds.hours:g} h)",
        "ylabel": "ms (log scale)", "groups": [q.id for q in queries],
        "series": {s: [(v.median if isinstance(v, Stat) else None) for v in (lat[q.id].get(s) for q in queries)]
                   for s in SYSTEMS}}
    if lat_http:
        res.plots["latency"]["series"]["promlite (HTTP)"] = [
            v.median if isinstance(v, Stat) else None for v in (lat_http.get(q.id) for q in queries)]
        res.extra["promlite_http_latency_ms"] = {qid: (v.to_json() if isinstance(v, Stat) else v) for qid, v in lat_http.items()}
    res.note += f"; {len(queries)} queries from queries.txt, END = {ds.end_ms // 1000}"
    return res


def _parse_times(res: SuiteResult, queries: list[Query]) -> None:
    """promlite's PromQL parse time per query (uncached: the engine memoises parsed text)."""
    try:
        from query.parser import parse_expr
    except ImportError:
        return
    per: dict[str, float] = {}
    for q in queries:
        wall, _ = repeat(lambda q=q: parse_expr(q.expr), runs=20, warmup=2, max_seconds=2.0)
        per[q.id] = wall.median * 1e3
    if not per:
        return
    vals = sorted(per.values())
    res.rows.append(Row("PromQL parse time, median over the queries (uncached)", "ms",
                        {"promlite": vals[len(vals) // 2], PROMETHEUS: NA, VICTORIAMETRICS: NA},
                        note=f"slowest: {max(per, key=per.get)} {vals[-1]:.3f} ms; per query in results.json"))
    res.extra["promlite_parse_ms"] = per


def _geomeans(lat) -> dict[str, object]:
    """Geometric mean latency per system over the queries that every measured system answered."""
    present = [s for s in SYSTEMS if any(isinstance(r.get(s), Stat) for r in lat.values())]
    ok = [qid for qid, row in lat.items() if all(isinstance(row.get(s), Stat) for s in present)]
    out: dict[str, object] = {}
    for s in SYSTEMS:
        if s not in present:  # say why (not installed, engine not available, ...)
            out[s] = next((v for r in lat.values() if isinstance(v := r.get(s), str)), "–")
            continue
        vals = [max(lat[q][s].median, 1e-9) for q in ok]
        out[s] = math.exp(sum(math.log(v) for v in vals) / len(vals)) if vals else "–"
    return out


def _checks(res: SuiteResult, queries: list[Query], counts) -> None:
    """Note where systems disagree on the series count or on a check query's value."""
    bad = []
    for q in queries:
        got = counts[q.id]
        if len({n for n, _ in got.values()}) > 1:
            bad.append(f"{q.id}: series {dict((s, n) for s, (n, _) in got.items())}")
        if q.id.startswith("check"):
            vals = {s: v for s, (_, v) in got.items()}
            if len({v for v in vals.values() if v is not None}) > 1:
                bad.append(f"{q.id}: values {vals}")
    compared = sum(1 for q in queries if len(counts[q.id]) > 1)
    if bad:
        res.note += "; disagreements: " + "; ".join(bad)[:400]
    elif compared:
        res.note += (f"; cross-check: the systems agree on the series count of {compared} queries "
                     "and on the check_* values")
