"""api: HTTP API latency and throughput, promlite vs Prometheus (``bench.api_bench``).

query_range of ~1,000 series × 240 points and bounded concurrent load on
``labels``, ``label/__name__/values`` and small instant queries, with and
without gzip, each server measured alone. VictoriaMetrics is not part of
this suite ("n/a").
"""

from __future__ import annotations

import os

from .. import api_bench
from . import NA, Context, Row, SuiteResult

NAME = "api"
TITLE = "HTTP API (query_range, labels, instant queries)"


def run(ctx: Context) -> SuiteResult:
    res = SuiteResult(NAME, TITLE)
    task = ctx.task("HTTP API, promlite then Prometheus", 1)
    out = os.path.join(ctx.workspace.root, "api")
    doc = api_bench.run(quick=ctx.quick, out_dir=out, progress=False)
    ctx.done(task)
    for r in doc.get("rows", []):
        prom = ctx.peer_value("prometheus") or r.get(api_bench.PROMETHEUS)
        better = "higher" if "req/s" in str(r["test"]) else "lower"
        res.rows.append(Row(str(r["test"]), "", {"promlite": r.get(api_bench.PROMLITE),
                                                  "prometheus": prom if prom is not None else NA,
                                                  "victoriametrics": NA}, better))
    res.extra["api_bench"] = {k: v for k, v in doc.items() if k != "rows"}
    return res
