"""scrape: end-to-end scraping of local targets, promlite vs Prometheus (``bench.scrape_e2e``).

CPU seconds per million samples ingested, peak RSS, and scrape lateness
(as a share of the interval), plus promlite's lateness under query load.
VictoriaMetrics' scraping (vmagent) is not part of its Debian package
build here, so its column says "n/a".
"""

from __future__ import annotations

import os

from .. import scrape_e2e
from . import NA, Context, Row, SuiteResult

NAME = "scrape"
TITLE = "End-to-end scraping (local targets)"


# Figures where more is better; the others (CPU, memory, lateness, durations, failures) are costs.
_HIGHER_IS_BETTER = ("samples ingested", "ingest rate", "scrapes in window", "stored ", "under query load: queries")


def _num(cell: str):
    try:
        return float(cell.rstrip("%x").replace(",", ""))
    except ValueError:
        return cell


def run(ctx: Context) -> SuiteResult:
    res = SuiteResult(NAME, TITLE)
    task = ctx.task("scrape end to end (promlite, Prometheus, promlite under query load)", 1)
    out = os.path.join(ctx.workspace.root, "scrape")
    results = scrape_e2e.run(quick=ctx.quick, out_dir=out, progress=False)
    ctx.done(task)
    for figure, a, b, _ratio in scrape_e2e.table(results)[1:]:
        prom = ctx.peer_value("prometheus") or (_num(b) if b != "-" else NA)
        better = "higher" if figure.startswith(_HIGHER_IS_BETTER) else "lower"
        res.rows.append(Row(figure, "", {"promlite": _num(a), "prometheus": prom, "victoriametrics": NA}, better))
    res.extra["scrape_e2e"] = results
    return res
