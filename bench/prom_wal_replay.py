"""Replay of a WAL that Prometheus wrote: promlite's ``tsdb.open`` vs Prometheus's own start-up.

Usage: ``python -m bench.prom_wal_replay [--quick] [--targets N] [--series N] [--seconds S] [--runs N]``

Strategy:

1. **record** -- ``shared/datasets/target_server.py`` serves the synthetic
   targets of ``bench.scrape_e2e`` on 127.0.0.1; Prometheus scrapes them every
   second for ``--seconds`` after all are up (min = max block duration 2 h: no
   block is cut, the head keeps everything), then gets SIGTERM (a clean
   shutdown; no memory snapshot, which 2.x only writes with a feature flag).
   The run stays under 120 scrapes per series, so no head chunk is full and
   ``chunks_head/`` holds none: both systems rebuild the head from the WAL
   alone.
2. **count** -- the WAL's samples and series, decoded by promlite's reader
   (``bench.wal.wal_contents``); the same denominators for both systems.
3. **promlite**, per run: two fresh copies of the directory, one fresh
   interpreter (``run_isolated``) that imports ``tsdb`` and opens the first
   copy -- kernels cold, as a restarted server pays it: "process start to
   ready" -- then the second copy, kernels loaded: "replay time" (``tsdb.open``
   alone). Samples/s = samples in the WAL / replay time.
4. **Prometheus**, per run: a fresh copy, started with ``--log.level=info``
   until ``/-/ready`` answers 200 ("process start to ready"); its replay time is
   ``total_replay_duration`` of its log line ``msg="WAL replay completed"``
   (checkpoint + mmapped chunks + WAL). Its ``prometheus_tsdb_head_series``
   and promlite's head series are the cross-check.

Every copy is used once (opening a directory changes it: a new segment, a
lock file) and deleted after. Servers listen on 127.0.0.1 only, every wait is
bounded, and only processes started here are stopped, by PID.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from typing import Any

from . import scrape_e2e
from .harness import MeasureError, Stat, run_isolated
from .peers import PROMETHEUS, Server
from .wal import data_dir_bytes, wal_contents


@dataclass(frozen=True)
class Sizes:
    targets: int
    series: int  # per target
    interval_s: float
    seconds: float  # scraping time once every target is up
    runs: int

    @property
    def workload(self) -> scrape_e2e.Workload:
        return scrape_e2e.Workload(self.targets, self.series, self.interval_s, warmup_s=0.0, measure_s=self.seconds)


# 100,000 samples/s for 60 s: about 6 M samples, about 62 scrapes per series (< 120: no full head chunk)
FULL = Sizes(targets=10, series=10_000, interval_s=1.0, seconds=60.0, runs=5)
QUICK = Sizes(targets=2, series=2_500, interval_s=1.0, seconds=4.0, runs=3)

_GO_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|μs|ms|s|m|h)")
_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_REPLAY_LINE = re.compile(r'msg="WAL replay completed"(.*)')


def go_duration_s(text: str) -> float:
    """Seconds in a Go ``time.Duration`` string ("1.5s", "734.2ms", "37.22µs", "1m2.5s", "0s")."""
    parts = _GO_DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a Go duration: {text!r}")
    return sum(float(n) * _GO_UNITS[u] for n, u in parts)


def replay_durations(log_text: str) -> dict[str, float]:
    """``*_replay_duration`` fields (seconds) of Prometheus's "WAL replay completed" log line."""
    found = _REPLAY_LINE.findall(log_text)
    if not found:
        raise MeasureError('no "WAL replay completed" line in Prometheus\'s log (is --log.level info?)')
    return {k: go_duration_s(v) for k, v in re.findall(r"(\w+_replay_duration)=(\S+)", found[-1])}


def _metric(text: str, name: str) -> float | None:
    for line in text.splitlines():
        if line.startswith(name) and line[len(name):len(name) + 1] in (" ", "{"):
            return float(line.rsplit(None, 1)[1])
    return None


# ---------------------------------------------------------------- 1. record

def record(sizes: Sizes, work: str, log=print) -> dict[str, Any]:
    """Prometheus scrapes the synthetic targets; returns where its (cleanly stopped) data dir is, and counts."""
    binary = shutil.which("prometheus")
    if binary is None:
        raise MeasureError("prometheus not installed")
    w = sizes.workload
    data = os.path.join(work, "prometheus-data")
    targets, ports, _status = scrape_e2e._start_targets(w, work, log)
    try:
        config = os.path.join(work, "prometheus.yml")
        with open(config, "w") as f:
            f.write(scrape_e2e._config_text(ports, w.interval_s))
        port = scrape_e2e._free_port()
        base = f"http://127.0.0.1:{port}"
        argv = scrape_e2e._server_argv("prometheus", config, data, port) + [
            "--storage.tsdb.min-block-duration=2h", "--storage.tsdb.max-block-duration=2h"]
        server = scrape_e2e._Proc("prometheus-record", argv, work)
        try:
            scrape_e2e._wait_ready(base, server, timeout=90)
            scrape_e2e._wait_scraping(base, server, len(ports), timeout=60)
            t0 = time.monotonic()
            time.sleep(sizes.seconds)
            server.check()
            appended = scrape_e2e._appended(base)
            scraped_s = time.monotonic() - t0
        finally:
            server.stop()
        if server.popen.returncode != 0:
            raise MeasureError(f"prometheus did not stop cleanly (exit {server.popen.returncode}): "
                               f"{server.log_tail(300)}")
    finally:
        targets.stop()
    contents = wal_contents(os.path.join(data, "wal"))
    return {"data_dir": data, "sizes": asdict(sizes), "scraped_s": scraped_s, "appended_total": appended,
            "wal": contents, "dir_bytes": data_dir_bytes(data)}


# ---------------------------------------------------------------- 2. promlite (child process)

def open_child(cold: str, warm: str, spawned: float) -> dict[str, Any]:
    """In a fresh interpreter: open ``cold`` (kernels not loaded yet), then ``warm``; times and head series."""
    import tsdb

    t0 = time.perf_counter()
    db = tsdb.open(cold, retention_ms=0, auto_compact=False)
    cold_s = time.perf_counter() - t0
    ready_s = time.time() - spawned
    cold_series = db.stats()["head_series"]
    db.close()
    del db
    t0 = time.perf_counter()
    db = tsdb.open(warm, retention_ms=0, auto_compact=False)
    warm_s = time.perf_counter() - t0
    series = db.stats()["head_series"]
    db.close()
    return {"cold_open_s": cold_s, "ready_s": ready_s, "open_s": warm_s, "head_series": series,
            "cold_head_series": cold_series}


def _copy(src: str, work: str, tag: str) -> str:
    dst = tempfile.mkdtemp(prefix=f"{tag}-", dir=work)
    os.rmdir(dst)
    shutil.copytree(src, dst)
    return dst


def measure_promlite(data: str, runs: int, work: str, progress=None) -> dict[str, Any]:
    opens, colds, readies, series = [], [], [], set()
    for _ in range(runs):
        cold, warm = _copy(data, work, "promlite-cold"), _copy(data, work, "promlite-warm")
        try:
            r, _st = run_isolated("bench.prom_wal_replay:open_child",
                                  {"cold": cold, "warm": warm, "spawned": time.time()}, timeout_s=600)
        finally:
            shutil.rmtree(cold, ignore_errors=True)
            shutil.rmtree(warm, ignore_errors=True)
        opens.append(r["open_s"])
        colds.append(r["cold_open_s"])
        readies.append(r["ready_s"])
        series.update((r["head_series"], r["cold_head_series"]))
        if progress:
            progress()
    if len(series) != 1:
        raise MeasureError(f"BUG: promlite's head series differ between opens: {sorted(series)}")
    return {"replay_s": Stat(opens, "s"), "cold_replay_s": Stat(colds, "s"), "ready_s": Stat(readies, "s"),
            "head_series": series.pop()}


# ---------------------------------------------------------------- 3. Prometheus

def measure_prometheus(data: str, runs: int, work: str, progress=None) -> dict[str, Any]:
    binary = shutil.which("prometheus")
    if binary is None:
        raise MeasureError("prometheus not installed")
    replays, wal_only, readies, series = [], [], [], set()
    for _ in range(runs):
        d = _copy(data, work, "prometheus")
        try:
            t0 = time.perf_counter()
            with Server(PROMETHEUS, binary, d, log_level="info", ready_timeout_s=300) as s:
                readies.append(time.perf_counter() - t0)
                durs = replay_durations(s.log_text())
                n = _metric(s.get_text("/metrics"), "prometheus_tsdb_head_series")
        finally:
            shutil.rmtree(d, ignore_errors=True)
        replays.append(durs["total_replay_duration"])
        wal_only.append(durs.get("wal_replay_duration", durs["total_replay_duration"]))
        series.add(n)
        if progress:
            progress()
    return {"replay_s": Stat(replays, "s"), "wal_replay_s": Stat(wal_only, "s"), "ready_s": Stat(readies, "s"),
            "head_series": series.pop() if len(series) == 1 else f"differs: {sorted(series)}"}


def run(sizes: Sizes, work: str | None = None, log=print, progress=None) -> dict[str, Any]:
    """Record, then measure both systems; figures as ``Stat``s (see ``to_json``)."""
    own = work is None
    work = work or tempfile.mkdtemp(prefix="prom-wal-replay-")
    try:
        rec = record(sizes, work, log)
        out: dict[str, Any] = {"recorded": {k: v for k, v in rec.items() if k != "data_dir"}}
        for name, fn in (("promlite", measure_promlite), ("prometheus", measure_prometheus)):
            try:
                out[name] = fn(rec["data_dir"], sizes.runs, work, progress)
            except MeasureError as e:
                out[name] = f"error: {e}"[:300]
        return out
    finally:
        if own:
            shutil.rmtree(work, ignore_errors=True)


def to_json(res: dict[str, Any]) -> dict[str, Any]:
    def conv(v):
        if isinstance(v, Stat):
            return v.to_json()
        if isinstance(v, dict):
            return {k: conv(x) for k, x in v.items()}
        return v
    return conv(res)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.prom_wal_replay", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help=f"small run: {QUICK}")
    ap.add_argument("--targets", type=int)
    ap.add_argument("--series", type=int, help="series per target")
    ap.add_argument("--seconds", type=float, help="scraping time once all targets are up")
    ap.add_argument("--runs", type=int)
    a = ap.parse_args(argv)
    base = QUICK if a.quick else FULL
    over = {k: v for k, v in (("targets", a.targets), ("series", a.series), ("seconds", a.seconds),
                              ("runs", a.runs)) if v is not None}
    sizes = Sizes(**{**asdict(base), **over})
    res = run(sizes)
    wal = res["recorded"]["wal"]
    n = wal["samples"]
    print(f"Prometheus's WAL: {n:,} samples, {wal['series_records_rows']:,} series, {wal['bytes']:,} bytes "
          f"({sizes.targets} targets x {sizes.series} series every {sizes.interval_s:g} s for {sizes.seconds:g} s)")
    print(f"{'figure':<40} {'promlite':>14} {'prometheus':>14}")

    def cell(system: str, key: str, f=lambda s: f"{s.median:.3f} s") -> str:
        r = res[system]
        return r if isinstance(r, str) else f(r[key])

    rate = lambda s: f"{n / s.median / 1e6:.2f} M/s"  # noqa: E731
    for label, key, f in (("replay samples/s", "replay_s", rate), ("replay time", "replay_s", None),
                          ("process start to ready", "ready_s", None),
                          ("head series after replay", "head_series", lambda v: f"{v:,.0f}")):
        args = (f,) if f else ()
        print(f"{label:<40} {cell('promlite', key, *args)[:14]:>14} {cell('prometheus', key, *args)[:14]:>14}")
    return 0 if all(isinstance(res[s], dict) for s in ("promlite", "prometheus")) else 1


if __name__ == "__main__":
    sys.exit(main())
