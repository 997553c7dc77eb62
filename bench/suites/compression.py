"""compression: bytes per sample on disk, the same datasets in each system.

Two datasets, each written as promlite blocks (``promlite``'s backfill), as
Prometheus blocks (``promtool tsdb create-blocks-from openmetrics``) and into
VictoriaMetrics (``/api/v1/import/prometheus``, measured after a graceful
stop so every part is on disk):

* synthetic: the shared generator's (``--series`` x ``--hours``, fixed seed);
* node-exporter: a real recording of ``prometheus-node-exporter`` on
  127.0.0.1 (``--node-scrapes`` scrapes re-based onto a 15 s grid, see
  ``bench/node_exporter.py``). Where the exporter is missing its rows say
  so in every cell; the synthetic rows stand on their own.

"chunks" is the sample data (block ``chunks/`` files; VM's ``data/``),
"index" the series index (block ``index``; VM's ``indexdb/``). Every figure
is divided by the dataset's sample count. VictoriaMetrics rounds values to
12 significant digits and drops NaN samples, so its figure is not
lossless; promlite and Prometheus keep every float bit.
"""

from __future__ import annotations

from ..datasets import Dataset
from ..harness import MeasureError
from . import SYSTEMS, Context, Row, SuiteResult

NAME = "compression"
TITLE = "bytes per sample on disk (synthetic and node-exporter datasets)"
_FIGURES = (("chunks", "chunk_bytes"), ("index", "index_bytes"), ("total", "total_bytes"))


def load_dataset(ctx: Context, ds: Dataset, what: str) -> dict[str, object]:
    """Each system's load of ``ds`` (a str where a system has none), cached by the workspace."""
    task = ctx.task(f"loading {what} ({ds.samples:,} samples) into each system", len(SYSTEMS))
    loads: dict[str, object] = {}
    for system in SYSTEMS:
        missing = None if system == "promlite" else ctx.peer_value(system)
        if missing:
            loads[system] = missing
        else:
            try:
                loads[system] = ctx.workspace.load(system, ds)
            except MeasureError as e:
                loads[system] = f"error: {e}"[:60]
        ctx.advance(task)
    ctx.done(task)
    return loads


def load_all(ctx: Context, res: SuiteResult):
    """The synthetic dataset and each system's load of it (a str where a system has none)."""
    ds = ctx.workspace.dataset(ctx.series, ctx.hours)
    note = f"dataset: {ds.series} series x {ds.hours:g} h = {ds.samples:,} samples"
    res.note = f"{note}; {res.note}" if res.note else note  # a suite's earlier notes are kept
    return ds, load_dataset(ctx, ds, "synthetic dataset")


def _node_exporter(ctx: Context, res: SuiteResult) -> tuple[str, dict[str, object]]:
    """Row label and loads of the node-exporter dataset, or a reason in every cell."""
    n = ctx.workspace.node_scrapes
    task = ctx.task(f"recording {n} node-exporter scrapes", 1)
    try:
        ds = ctx.workspace.node_exporter()
    except MeasureError as e:
        res.note += f"; node-exporter dataset: {e}"
        return "node-exporter", {s: str(e)[:60] for s in SYSTEMS}
    finally:
        ctx.done(task)
    m = ds.meta
    res.note += (f"; node-exporter: {ds.series} series x {m['scrapes']} scrapes = {ds.samples:,} samples "
                 f"({m['samples_per_scrape']['median']:g}/scrape, recorded in {m['recording_seconds']:.0f} s)")
    res.extra["node_exporter"] = {k: v for k, v in m.items() if k != "series_by_metric"}
    label = f"node-exporter ({ds.series} series x {m['scrapes']} scrapes)"
    return label, load_dataset(ctx, ds, "node-exporter dataset")


def _rows(res: SuiteResult, label: str, loads: dict[str, object]) -> dict[str, float | None]:
    """Append chunks/index/total rows for one dataset; return its totals per system."""
    totals: dict[str, float | None] = {}
    for fig, attr in _FIGURES:
        vals = {s: ld if isinstance(ld, str) else getattr(ld, attr) / max(ld.samples, 1)
                for s, ld in loads.items()}
        res.rows.append(Row(f"{label}: {fig} bytes/sample", "B/sample", vals))
        if fig == "total":
            totals = {s: v if isinstance(v, float) else None for s, v in vals.items()}
    return totals


def run(ctx: Context) -> SuiteResult:
    res = SuiteResult(NAME, TITLE)
    ds, loads = load_all(ctx, res)
    per_dataset = [_rows(res, "synthetic", loads)]
    label, node_loads = _node_exporter(ctx, res)
    per_dataset.append(_rows(res, label, node_loads))
    res.plots["bytes_per_sample"] = {
        "kind": "bars", "title": "Bytes per sample on disk, per dataset (total: chunks + index)",
        "ylabel": "bytes / sample",
        "groups": [f"synthetic\n({ds.series} series x {ds.hours:g} h)", label.replace(" (", "\n(")],
        "series": {s: [d.get(s) for d in per_dataset] for s in SYSTEMS}}
    return res
