"""replay: WAL write and replay speed, and start-up time over the dataset's blocks.

* WAL log (per fsync mode) and raw replay (read + CRC, then + decode), from
  ``bench.wal``: one commit = one scrape-like samples record.
* DB reopen after scrape-like appends (``bench.tsdb_head.measure``): the
  whole WAL replay into a fresh head, in samples/s.
* Start-up over the shared dataset's blocks, process start to ready, for
  each system: promlite is a fresh interpreter that opens the DB (imports
  and compiled-kernel loading included, as a user pays them); Prometheus
  until ``/-/ready``; VictoriaMetrics until ``/health``.
"""

from __future__ import annotations

import os
import shutil
import time

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
    task = ctx.task("WAL log and replay", 4)
    base = os.path.join(ctx.workspace.root, "wal-bench")
    os.makedirs(base, exist_ok=True)
    batches = make_batches(records, series, 1)
    n = records * series
    for mode in ("batch", "never"):
        runs = []
        for _ in range(ctx.runs):
            secs, size = bench_log(os.path.join(base, f"wal-{mode}"), mode, batches, series, 128 * 2**20)
            runs.append(n / secs / 1e6)
        res.rows.append(Row(f"WAL log, wal_sync={mode}", "M samples/s", {"promlite": Stat(runs), **_NA}, "higher"))
        ctx.advance(task)
    read, dec = [], []
    for _ in range(ctx.runs):
        r, d, got = bench_replay(os.path.join(base, "wal-never"))
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

    try:
        ds, loads = load_all(ctx, res)
    except DatasetUnavailable as e:  # the WAL figures above stand on their own
        res.note = f"start-up not measured: {e}"
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
