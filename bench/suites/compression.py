"""compression: bytes per sample on disk, the same dataset in each system.

The shared generator's dataset (``--series`` x ``--hours``, fixed seed) is
written as promlite blocks (``promlite``'s backfill), as Prometheus blocks
(``promtool tsdb create-blocks-from openmetrics``) and into VictoriaMetrics
(``/api/v1/import/prometheus``, measured after a graceful stop so every
part is on disk). "chunks" is the sample data (block ``chunks/`` files; VM's
``data/``), "index" the series index (block ``index``; VM's ``indexdb/``).
VictoriaMetrics rounds values to 12 significant digits, so its figure is
not lossless; promlite and Prometheus keep every float bit.
"""

from __future__ import annotations

from ..harness import MeasureError
from . import SYSTEMS, Context, Row, SuiteResult

NAME = "compression"
TITLE = "bytes per sample on disk (shared dataset)"


def load_all(ctx: Context, res: SuiteResult):
    """The dataset and each system's load of it (a str where a system has none)."""
    ds = ctx.workspace.dataset(ctx.series, ctx.hours)
    res.note = f"dataset: {ds.series} series x {ds.hours:g} h = {ds.samples:,} samples"
    task = ctx.task(f"loading {ds.samples:,} samples into each system", len(SYSTEMS))
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
    return ds, loads


def run(ctx: Context) -> SuiteResult:
    res = SuiteResult(NAME, TITLE)
    ds, loads = load_all(ctx, res)
    figures = (("chunks", "chunk_bytes"), ("index", "index_bytes"), ("total", "total_bytes"))
    plot = {}
    for label, attr in figures:
        vals = {}
        for s, ld in loads.items():
            vals[s] = ld if isinstance(ld, str) else getattr(ld, attr) / max(ld.samples, 1)
        res.rows.append(Row(f"{label} bytes/sample", "B/sample", vals))
        for s, v in vals.items():
            plot.setdefault(s, []).append(v if isinstance(v, float) else None)
    res.plots["bytes_per_sample"] = {
        "kind": "bars", "title": f"Bytes per sample on disk ({ds.series} series x {ds.hours:g} h, "
        f"{ds.samples / 1e6:.2f} M samples)", "ylabel": "bytes / sample",
        "groups": [f[0] for f in figures], "series": plot}
    return res
