"""replay: WAL write and replay speed, replay of Prometheus's WAL, and start-up time over the dataset's blocks.

* WAL log (per fsync mode, compression on and off: wall-clock samples/s and
  process CPU seconds per million samples) and raw replay (read + CRC, then +
  decode), from ``bench.wal``: one commit = one scrape-like samples record.
* DB reopen after scrape-like appends (``bench.tsdb_head.measure``): the
  whole WAL replay into a fresh head, in samples/s.
* Replay of a WAL that Prometheus wrote (``bench.prom_wal_replay``):
  Prometheus scrapes the synthetic targets and is stopped; on copies of its
  directory, promlite's ``tsdb.open`` in a fresh interpreter against
  Prometheus's own start-up (its logged replay time, and time to ``/-/ready``).
* Start-up over the shared dataset's blocks, process start to ready, for
  each system: promlite is a fresh interpreter that opens the DB (imports
  and compiled-kernel loading included, as a user pays them); Prometheus
  until ``/-/ready``; VictoriaMetrics until ``/health``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import replace

from .. import prom_wal_replay, scrape_e2e
from ..datasets import DatasetUnavailable
from ..harness import MeasureError, Stat, run_isolated
from ..peers import PROMETHEUS, VICTORIAMETRICS, Server
from ..tsdb_head import measure
from ..wal import bench_log, bench_replay, make_batches
from . import NA, Context, Row, SuiteResult
from .compression import load_all

NAME = "replay"
TITLE = "WAL log/replay and start-up"
_NA = {"prometheus": NA, "victoriametrics": NA}


def open_db_child(path: str) -> dict[str, int]:
    """Run in a child: open the DB (replaying its WAL, loading its blocks) and report the series."""
    import tsdb

    with tsdb.open(path, retention_ms=0, auto_compact=False) as db:
        with db.querier(0, 2**62) as q:
            n = len(q.label_values("__name__"))
    return {"names": n}


def run(ctx: Context) -> SuiteResult:
    res = SuiteResult(NAME, TITLE)
    records, series = (30, 10_000) if ctx.quick else (200, 10_000)
    task = ctx.task("WAL log and replay", 6)
    base = os.path.join(ctx.workspace.root, "wal-bench")
    os.makedirs(base, exist_ok=True)
    batches = make_batches(records, series, 1)
    n = records * series
    cpu_rows, size_rows = [], {}
    for mode in ("batch", "never"):
        for compress in (True, False):
            path = os.path.join(base, f"wal-{mode}-{'on' if compress else 'off'}")
            bench_log(path, mode, batches[:2], series, 128 * 2**20, compress)  # warm-up: kernels, snappy
            runs = [bench_log(path, mode, batches, series, 128 * 2**20, compress) for _ in range(ctx.runs)]
            comp = "on" if compress else "off"
            res.rows.append(Row(f"WAL log, wal_sync={mode}, compression {comp}", "M samples/s",
                                {"promlite": Stat([n / r.wall_s / 1e6 for r in runs]), **_NA}, "higher"))
            cpu_rows.append(Row(f"WAL write CPU, wal_sync={mode}, compression {comp}", "CPU s / 1M samples",
                                {"promlite": Stat([r.cpu_s / n * 1e6 for r in runs]), **_NA}))
            size_rows[comp] = runs[-1].size_bytes / n
            ctx.advance(task)
    res.rows.extend(cpu_rows)
    for comp, bps in size_rows.items():
        res.rows.append(Row(f"WAL size, compression {comp} (random-walk 2-decimal gauges)", "bytes/sample",
                            {"promlite": bps, **_NA}))
    read, dec = [], []
    for _ in range(ctx.runs):
        r, d, got = bench_replay(os.path.join(base, "wal-never-on"))
        if got != n:
            raise RuntimeError(f"BUG: replayed {got} samples, logged {n}")
        read.append(n / r / 1e6)
        dec.append(n / d / 1e6)
    res.rows.append(Row("WAL replay, read + CRC", "M samples/s", {"promlite": Stat(read), **_NA}, "higher"))
    res.rows.append(Row("WAL replay, + decode", "M samples/s", {"promlite": Stat(dec), **_NA}, "higher"))
    ctx.advance(task)
    shutil.rmtree(base, ignore_errors=True)

    db_series, scrapes = (10_000, 20) if ctx.quick else (100_000, 60)
    r = measure(db_series, scrapes, wal_sync="never", head_only=False, replay=True)
    res.rows.append(Row(f"DB reopen: WAL replay into the head ({db_series:,} series)", "M samples/s",
                        {"promlite": r["replay_msps"], **_NA}, "higher"))
    ctx.advance(task)
    ctx.done(task)

    _prometheus_wal(ctx, res)

    try:
        ds, loads = load_all(ctx, res)
    except DatasetUnavailable as e:  # the WAL figures above stand on their own
        res.note = "; ".join(x for x in (res.note, f"start-up not measured: {e}") if x)
        return res
    task = ctx.task("start-up over the dataset's blocks", 3 * ctx.runs)
    startup: dict[str, object] = {}
    ld = loads["promlite"]
    if isinstance(ld, str):
        startup["promlite"] = ld
    else:
        walls = []
        for _ in range(ctx.runs):
            _, st = run_isolated("bench.suites.replay:open_db_child", {"path": ld.data_dir}, timeout_s=300)
            walls.append(st.wall_s)
            ctx.advance(task)
        startup["promlite"] = Stat(walls, "s")
    for system in (PROMETHEUS, VICTORIAMETRICS):
        ld = loads[system]
        if isinstance(ld, str):
            startup[system] = ld
            continue
        d = ctx.workspace.copy_of(ld)
        walls = []
        try:
            for _ in range(ctx.runs):
                t0 = time.perf_counter()
                with Server(system, ctx.peers[system].binary, d):
                    walls.append(time.perf_counter() - t0)
                ctx.advance(task)
            startup[system] = Stat(walls, "s")
        except MeasureError as e:
            startup[system] = f"error: {e}"[:60]
        finally:
            shutil.rmtree(d, ignore_errors=True)
    ctx.done(task)
    res.rows.append(Row(f"start-up to ready over {ds.samples / 1e6:.2f} M samples of blocks", "s", startup))
    return res


def _prometheus_wal(ctx: Context, res: SuiteResult) -> None:
    """Replay of a WAL Prometheus wrote (``bench.prom_wal_replay``): promlite's open vs Prometheus's start-up."""
    sizes = replace(prom_wal_replay.QUICK if ctx.quick else prom_wal_replay.FULL, runs=ctx.runs)
    what = "replay of a WAL Prometheus wrote"
    missing = ctx.peer_value(PROMETHEUS)
    if missing is None and time.monotonic() > ctx.deadline:
        missing = "skipped (time budget spent)"
    if missing is not None:
        res.rows.append(Row(f"{what}: samples/s", "M samples/s",
                            {"promlite": "no Prometheus WAL", PROMETHEUS: missing, VICTORIAMETRICS: NA}, "higher"))
        return
    task = ctx.task(f"{what} (Prometheus scrapes {sizes.targets} x {sizes.series:,} series for "
                    f"{sizes.seconds:g} s, then {sizes.runs} opens each)", 2 * sizes.runs)
    work = tempfile.mkdtemp(prefix="prom-wal-", dir=ctx.workspace.root)
    try:
        r = prom_wal_replay.run(sizes, work, log=lambda *a, **k: None, progress=lambda: ctx.advance(task))
    except (MeasureError, scrape_e2e.E2EError, OSError) as e:
        res.rows.append(Row(f"{what}: samples/s", "M samples/s",
                            {"promlite": f"error: {e}"[:60], PROMETHEUS: f"error: {e}"[:60], VICTORIAMETRICS: NA},
                            "higher"))
        res.note = "; ".join(x for x in (res.note, f"{what}: {e}"[:300]) if x)
        return
    finally:
        ctx.done(task)
        shutil.rmtree(work, ignore_errors=True)
    res.extra["prometheus_wal_replay"] = prom_wal_replay.to_json(r)
    wal = r["recorded"]["wal"]
    n = wal["samples"]
    label = f"{what} ({n / 1e6:.2f} M samples, {wal['series_records_rows']:,} series)"

    def col(key: str, f=None):
        out = {}
        for system in ("promlite", PROMETHEUS):
            v = r[system]
            out[system] = v if isinstance(v, str) else (f(v[key]) if f else v[key])
        return {**out, VICTORIAMETRICS: NA}

    rate = lambda st: st.scaled(lambda s: n / s / 1e6, "M samples/s")  # noqa: E731
    res.rows.append(Row(f"{label}: replay", "M samples/s", col("replay_s", rate), "higher",
                        note="promlite: tsdb.open (kernels loaded); Prometheus: total_replay_duration of its log"))
    res.rows.append(Row(f"{label}: replay time", "s", col("replay_s")))
    res.rows.append(Row(f"{label}: process start to ready", "s", col("ready_s"),
                        note="promlite: fresh interpreter, import, tsdb.open with cold kernels; Prometheus: /-/ready"))
    res.rows.append(Row(f"{label}: head series after replay (cross-check)", "series", col("head_series"), "higher"))
    rec = r["recorded"]
    note = (f"Prometheus's WAL: {sizes.targets} targets x {sizes.series:,} series every {sizes.interval_s:g} s "
            f"for {rec['scraped_s']:.0f} s, {wal['bytes'] / 2**20:.1f} MiB, clean stop")
    res.note = "; ".join(x for x in (res.note, note) if x)
