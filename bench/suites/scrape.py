"""scrape: end-to-end scraping of local targets, promlite vs Prometheus (``bench.scrape_e2e``).

CPU seconds per million samples ingested, peak RSS, and scrape lateness
(as a share of the interval), plus promlite's lateness under query load.
At the end of each run the server is stopped cleanly and its data directory
measured: total bytes, WAL bytes (``wal/`` with checkpoints), the samples the
WAL holds (decoded by promlite's reader: both WALs have Prometheus's format)
and WAL bytes per sample; WAL compression is on in both (their default).
VictoriaMetrics' scraping (vmagent) is not part of its Debian package
build here, so its column says "n/a".

A full run also sweeps the load (``SWEEP_SERIES`` series per target, 10
targets every 1 s, shorter windows, no query load) for the plot "scrape
CPU vs load": both servers' CPU share of one core against samples/s, with
the main run's 100,000 samples/s as the last point.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import replace

from .. import scrape_e2e
from . import NA, Context, Row, SuiteResult

SWEEP_SERIES = (1_000, 2_500, 5_000)
"""Series per target of the lighter loads of the CPU-vs-load sweep (10k, 25k, 50k samples/s)."""

NAME = "scrape"
TITLE = "End-to-end scraping (local targets)"


# Figures where more is better; the others (CPU, memory, lateness, durations, failures) are costs.
_HIGHER_IS_BETTER = ("samples ingested", "ingest rate", "scrapes in window", "stored ", "under query load: queries",
                     "samples in the WAL", "WAL records snappy")


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
    if not ctx.quick:
        if time.monotonic() < ctx.deadline:
            _sweep(ctx, res, results)
        else:
            res.note += "; CPU-vs-load sweep skipped (the run's time budget is spent)"
    return res


def _sweep(ctx: Context, res: SuiteResult, main: dict) -> None:
    """CPU share of one core vs samples/s for promlite and Prometheus (lighter loads + the main run)."""
    systems = ["promlite"] + ([] if ctx.peer_value("prometheus") else ["prometheus"])
    base = replace(scrape_e2e.FULL, warmup_s=5.0, measure_s=20.0)
    loads = [replace(base, series=n) for n in SWEEP_SERIES]
    task = ctx.task("scrape CPU vs load (lighter loads, both servers)", len(loads) * len(systems))
    points: dict[str, dict[int, float]] = {s: {} for s in systems}
    work = tempfile.mkdtemp(prefix="scrape-sweep-", dir=ctx.workspace.root)
    for w in loads:
        for system in systems:
            try:
                r = scrape_e2e.run_one(system, w, work, log=lambda *a, **k: None)
                points[system][int(w.samples_per_s)] = r["cpu_pct_of_core"]
            except (scrape_e2e.E2EError, OSError, ValueError, KeyError) as e:
                res.note += f"; sweep {system} at {w.samples_per_s:,.0f} samples/s failed: {e}"[:200]
            ctx.advance(task)
    ctx.done(task)
    for system in systems:
        r = main.get(system)
        if isinstance(r, dict) and "cpu_pct_of_core" in r:
            points[system][int(scrape_e2e.FULL.samples_per_s)] = r["cpu_pct_of_core"]
    xs = sorted({x for p in points.values() for x in p})
    if not xs:
        return
    res.extra["cpu_vs_load"] = {s: {str(x): v for x, v in sorted(p.items())} for s, p in points.items()}
    res.plots["cpu_vs_load"] = {
        "kind": "lines", "title": "Scrape CPU vs load (10 targets every 1 s, server process only)",
        "x": xs, "xlabel": "samples scraped per second", "ylabel": "CPU, % of one core", "logx": True,
        "series": {s: [points[s].get(x) for x in xs] for s in systems}}
