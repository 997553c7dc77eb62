"""Datasets: the shared deterministic generator, and the same data loaded into each system.

Strategy: the samples come from ``shared/datasets/gen_openmetrics.py``
(called, not copied: same arguments and seed give byte-identical files), in
the two text formats the systems ingest -- OpenMetrics for ``promlite
backfill`` and ``promtool tsdb create-blocks-from openmetrics``, Prometheus
text with ms timestamps for VictoriaMetrics' ``/api/v1/import/prometheus``.
Loading is expensive (promtool needs about a minute for 5.76 M samples), so
``Workspace`` caches each load per (system, dataset directory) for the whole
run: the compression, ingest and query suites all read the same blocks, and the cost
of loading is itself measured once (CPU and peak RSS of the whole process:
promlite's backfill in a child interpreter, promtool reaped with ``wait4``,
VictoriaMetrics read from /proc).

A second, real dataset is recorded from ``prometheus-node-exporter`` on
127.0.0.1 (``bench/node_exporter.py``, ``Workspace.node_exporter``), cached
per scrape count and loaded the same way; where the exporter is missing it
raises ``NodeExporterUnavailable`` (a ``MeasureError``), which a suite shows
as a cell, not a skipped suite.

The generator is found at ``$PROMLITE_BENCH_SHARED/datasets``, then in a
``shared/`` beside or above the repository checkout; where it is missing the
suites that need it report "dataset generator not found".
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from . import peers
from .harness import MeasureError, ProcStats, run_command, run_isolated

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GENERATOR = "gen_openmetrics.py"


class DatasetUnavailable(MeasureError):
    """The dataset generator is not on this machine."""


def find_shared() -> str | None:
    """The ``shared/datasets`` directory holding the generator, or None."""
    candidates = []
    if os.environ.get("PROMLITE_BENCH_SHARED"):
        candidates.append(os.path.join(os.environ["PROMLITE_BENCH_SHARED"], "datasets"))
    candidates += [os.path.join(_REPO, "..", "shared", "datasets"), os.path.join(_REPO, "shared", "datasets"),
                   "/work/shared/datasets"]
    for c in candidates:
        if os.path.isfile(os.path.join(c, GENERATOR)):
            return os.path.abspath(c)
    return None


@dataclass
class Dataset:
    series: int
    hours: float
    openmetrics: str
    promtext: str
    meta: dict[str, Any]
    gen_seconds: float
    name: str = "synthetic"  # or "node-exporter"

    @property
    def samples(self) -> int:
        return int(self.meta["samples"])

    @property
    def end_ms(self) -> int:
        return int(self.meta["end_ms"])

    @property
    def start_ms(self) -> int:
        return int(self.meta["start_ms"])


@dataclass
class LoadResult:
    """One system's copy of a dataset and what loading it cost."""

    system: str
    data_dir: str
    stats: ProcStats
    chunk_bytes: int
    index_bytes: int
    total_bytes: int
    samples: int


@dataclass
class Workspace:
    """Per-run cache of generated datasets and loaded copies, under ``root``.

    Datasets live in one directory each (``data-<series>x<hours>h``,
    ``node-exporter-<scrapes>``); loads are keyed by (system, that directory),
    so two datasets of equal size never share a load.
    """

    root: str
    node_scrapes: int = 240
    datasets: dict[tuple[Any, ...], Dataset] = field(default_factory=dict)
    loads: dict[tuple[str, str], LoadResult] = field(default_factory=dict)

    def dataset(self, series: int, hours: float) -> Dataset:
        key = (series, hours)
        if key in self.datasets:
            return self.datasets[key]
        shared = find_shared()
        if shared is None:
            raise DatasetUnavailable("dataset generator not found (set PROMLITE_BENCH_SHARED to the "
                                     "directory holding datasets/gen_openmetrics.py)")
        d = os.path.join(self.root, f"data-{series}x{hours:g}h")
        os.makedirs(d, exist_ok=True)
        om, pt, meta = (os.path.join(d, n) for n in ("data.om", "data.prom", "meta.json"))
        t0 = time.perf_counter()
        subprocess.run([sys.executable, os.path.join(shared, GENERATOR), "--series", str(series),
                        "--hours", str(hours), "--out-openmetrics", om, "--out-promtext", pt, "--meta", meta],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=900)
        with open(meta) as f:
            ds = Dataset(series, hours, om, pt, json.load(f), time.perf_counter() - t0)
        self.datasets[key] = ds
        return ds

    def node_exporter(self, scrapes: int | None = None) -> Dataset:
        """The dataset recorded from ``prometheus-node-exporter`` (``scrapes`` at 15 s), cached.

        Raises ``NodeExporterUnavailable`` when the exporter is not installed.
        """
        from .node_exporter import record_node_exporter

        n = scrapes or self.node_scrapes
        key = ("node-exporter", n)
        if key not in self.datasets:
            d = os.path.join(self.root, f"node-exporter-{n}")
            shutil.rmtree(d, ignore_errors=True)
            self.datasets[key] = record_node_exporter(d, n)
        return self.datasets[key]

    def load(self, system: str, ds: Dataset) -> LoadResult:
        """The dataset loaded into ``system`` (promlite, prometheus or victoriametrics), cached."""
        src = os.path.dirname(os.path.abspath(ds.openmetrics))
        key = (system, src)
        if key not in self.loads:
            out = os.path.join(self.root, f"{system}-{os.path.basename(src)}")
            shutil.rmtree(out, ignore_errors=True)
            loader = {"promlite": _load_promlite, peers.PROMETHEUS: _load_promtool,
                      peers.VICTORIAMETRICS: _load_vm}[system]
            self.loads[key] = loader(ds, out)
        return self.loads[key]

    def copy_of(self, load: LoadResult) -> str:
        """A scratch copy of a loaded data dir (servers write into their dir)."""
        dst = load.data_dir + "-copy"
        shutil.rmtree(dst, ignore_errors=True)
        shutil.copytree(load.data_dir, dst)
        return dst


def block_sizes(data_dir: str) -> dict[str, int]:
    """Chunk, index and total bytes over the Prometheus-format blocks of a data dir."""
    from .tsdb_blocks import block_sizes as sizes

    return sizes(data_dir)


def backfill_child(om: str, out: str) -> dict[str, Any]:
    """Run in a child by ``run_isolated``: promlite's backfill of one file."""
    from promlite.backfill import backfill_openmetrics

    rep = backfill_openmetrics(om, out)
    return {"samples": rep.samples, "series": rep.series, "blocks": len(rep.blocks)}


def _load_promlite(ds: Dataset, out: str) -> LoadResult:
    _, st = run_isolated("bench.datasets:backfill_child", {"om": ds.openmetrics, "out": out}, timeout_s=1200)
    s = block_sizes(out)
    return LoadResult("promlite", out, st, s["chunks"], s["index"], s["total"], s["samples"])


def _load_promtool(ds: Dataset, out: str) -> LoadResult:
    tool = peers.promtool()
    if tool is None:
        raise MeasureError("promtool not installed")
    st = run_command([tool, "tsdb", "create-blocks-from", "openmetrics", ds.openmetrics, out])
    s = block_sizes(out)
    return LoadResult(peers.PROMETHEUS, out, st, s["chunks"], s["index"], s["total"], s["samples"])


def _load_vm(ds: Dataset, out: str) -> LoadResult:
    info = peers.find_peers()[peers.VICTORIAMETRICS]
    if not info.available:
        raise MeasureError("victoria-metrics not installed")
    with peers.Server(peers.VICTORIAMETRICS, info.binary, out) as srv:
        cpu0, _, _ = srv.stats()
        t0 = time.perf_counter()
        peers.vm_import(srv, ds.promtext)
        # The import is acknowledged before everything is searchable: wait (bounded)
        # until the series count is complete, so the time covers the whole ingest.
        # VictoriaMetrics stores no NaN sample: a series of NaNs only never appears.
        want = ds.series - int(ds.meta.get("nan_only_series", 0))
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            r = srv.get_json("/api/v1/series/count")
            if int(r.get("data", [0])[0]) >= want:
                break
            time.sleep(0.05)
        wall = time.perf_counter() - t0
        cpu1, _, hwm = srv.stats()
    # Stopped gracefully: every in-memory part is now on disk.
    data, index = peers.dir_bytes(os.path.join(out, "data")), peers.dir_bytes(os.path.join(out, "indexdb"))
    st = ProcStats(cpu1 - cpu0, hwm, wall)
    return LoadResult(peers.VICTORIAMETRICS, out, st, data, index, data + index, ds.samples)

