"""A real dataset: ``prometheus-node-exporter`` on 127.0.0.1, scraped and written as a bench dataset.

    python -m bench.node_exporter --scrapes 240 --out DIR

Strategy: start the exporter on a free loopback port, wait (bounded) until
``/metrics`` answers, scrape it ``scrapes`` times every ``scrape_every_s``
real seconds (bounded in total), stop it by its PID (SIGTERM, then SIGKILL;
always, also on error). Bodies are parsed by promlite's own exposition
parser (``scraper.exposition.parse``) and written as the shared generator's
files: OpenMetrics, timestamps in s (promlite's backfill, ``promtool tsdb
create-blocks-from openmetrics``), Prometheus text, timestamps in ms
(VictoriaMetrics' import API), and ``meta.json`` (the generator's keys plus
what the recording saw).

Time is re-based, values are not: scrape k is stamped ``start + k *
interval_s`` (15 s from 2024-01-01T00:00Z, the generator's start, so 1 h
fills one 2 h block alike on every run) -- what a Prometheus scraping every
15 s stores. Values are the exporter's, read ``scrape_every_s`` apart, so
counters grow less per step than at 15 s; 1 h of scrapes records in < 1 min.

Output invariants (promtool checks them): all lines of one metric name sit
under one ``# TYPE <name> unknown`` (a histogram's or summary's
``_bucket``/``_sum``/``_count`` are each their own family: no suffix rule
applies; blocks store no metadata, so no stored byte changes, and the
exporter's types are counted in ``meta.json``); a series' lines are
contiguous and in time order; ``# EOF`` ends the file. Nothing is dropped
silently: a series repeated within a scrape keeps its first value
(``duplicates_dropped``), exposition timestamps are replaced
(``explicit_timestamps_replaced``), NaNs are kept (``nan_samples``;
VictoriaMetrics stores none, so ``nan_only_series`` tells its loader how
many series it will lack).

Collectors: ``systemd`` is disabled: it needs the system D-Bus and fails on
every scrape without one (containers, CI). The rest keep their defaults;
none needs root, and all only read /proc and /sys.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field

from scraper.exposition import ExpositionError, parse

from .datasets import Dataset
from .harness import MeasureError
from .peers import _die_with_parent, free_port

BINARY = "prometheus-node-exporter"
DISABLED_COLLECTORS = ("systemd",)
DEFAULT_START_MS = 1_704_067_200_000  # 2024-01-01T00:00Z, as shared/datasets/gen_openmetrics.py
_SUFFIXES = ("_bucket", "_sum", "_count", "_total", "_created")


class NodeExporterError(MeasureError):
    """The exporter could not be started, scraped or parsed."""


class NodeExporterUnavailable(NodeExporterError):
    """The exporter binary is not on this machine."""


@dataclass
class Collected:
    """Scrapes parsed into series: name -> label set -> (scrape indexes, values), first-seen order."""

    families: dict[str, dict[tuple[tuple[str, str], ...], tuple[list[int], list[float]]]] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)  # sample name -> exporter's family type
    per_scrape: list[int] = field(default_factory=list)
    duplicates: int = 0
    explicit_timestamps: int = 0


def collect(bodies: list[tuple[bytes, str | None]]) -> Collected:
    """Parse scrape bodies (body, Content-Type) in order; scrape k is index k. Pure."""
    out = Collected()
    for k, (body, ctype) in enumerate(bodies):
        try:
            res = parse(body, ctype)
        except ExpositionError as e:
            raise NodeExporterError(f"scrape {k}: {e}") from None
        out.explicit_timestamps += int(res.has_timestamp.sum())
        seen: set[tuple[tuple[str, str], ...]] = set()
        for labels, v in zip(res.labels, res.values.tolist(), strict=True):
            if labels in seen:
                out.duplicates += 1
                continue
            seen.add(labels)
            name = dict(labels)["__name__"]
            if name not in out.types:
                out.types[name] = _type_of(name, res.metadata)
            ks, vs = out.families.setdefault(name, {}).setdefault(labels, ([], []))
            ks.append(k)
            vs.append(v)
        out.per_scrape.append(len(seen))
    return out


def _type_of(name: str, metadata) -> str:
    md = metadata.get(name)
    if md is not None and md.type:
        return md.type
    for suf in _SUFFIXES:
        base = metadata.get(name.removesuffix(suf)) if name.endswith(suf) else None
        if base is not None and base.type in ("histogram", "gaugehistogram", "summary", "counter"):
            return base.type
    return "unknown"


def _escape(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def series_text(labels: tuple[tuple[str, str], ...]) -> str:
    """``name{a="x",b="y"}`` (``name`` alone without labels): the form both text formats share."""
    name, pairs = "", []
    for k, v in labels:
        if k == "__name__":
            name = v
        else:
            pairs.append(f'{k}="{_escape(v)}"')
    return f"{name}{{{','.join(pairs)}}}" if pairs else name


def format_value(v: float) -> str:
    """Shortest round-trip decimal; ``NaN``/``+Inf``/``-Inf`` spelled as Go parses them."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return repr(v)


def write_dataset(out_dir: str, col: Collected, *, start_ms: int, interval_ms: int) -> dict:
    """Write ``data.om`` and ``data.prom`` into ``out_dir``; return their meta (the caller adds to it
    and writes ``meta.json``)."""
    n = len(col.per_scrape)
    ts_ms = [start_ms + k * interval_ms for k in range(n)]
    ts_s = [f"{t // 1000}" if t % 1000 == 0 else f"{t // 1000}.{t % 1000:03d}" for t in ts_ms]
    om_path, pt_path = os.path.join(out_dir, "data.om"), os.path.join(out_dir, "data.prom")
    samples = nan_samples = nan_only = 0
    by_type: dict[str, int] = {}
    by_metric: dict[str, int] = {}
    with open(om_path, "w") as om, open(pt_path, "w") as pt:
        for name, series in col.families.items():
            om.write(f"# TYPE {name} unknown\n")
            by_metric[name] = len(series)
            by_type[col.types[name]] = by_type.get(col.types[name], 0) + len(series)
            for labels, (ks, vs) in series.items():
                sel = series_text(labels)
                vals = [format_value(v) for v in vs]
                om.write("".join(f"{sel} {x} {ts_s[k]}\n" for k, x in zip(ks, vals, strict=True)))
                pt.write("".join(f"{sel} {x} {ts_ms[k]}\n" for k, x in zip(ks, vals, strict=True)))
                nans = sum(1 for v in vs if v != v)
                samples += len(vs)
                nan_samples += nans
                nan_only += nans == len(vs)
        om.write("# EOF\n")
    n_series = sum(by_metric.values())
    per = col.per_scrape or [0]
    return {
        "series": n_series, "samples": samples, "points_per_series": n, "step_ms": interval_ms,
        "start_ms": start_ms, "end_ms": start_ms + n * interval_ms, "hours": n * interval_ms / 3_600_000,
        "instances": 1, "jitter_ms": 0, "series_by_type": by_type, "series_by_metric": by_metric,
        "samples_per_scrape": {"min": min(per), "median": statistics.median(per), "max": max(per)},
        "scrapes": n, "duplicates_dropped": col.duplicates, "explicit_timestamps_replaced": col.explicit_timestamps,
        "nan_samples": nan_samples, "nan_only_series": nan_only,
        "bytes_openmetrics": os.path.getsize(om_path), "bytes_promtext": os.path.getsize(pt_path),
    }


def _get(url: str, timeout_s: float) -> tuple[bytes, str | None]:
    req = urllib.request.Request(url, headers={"Accept": "text/plain;version=0.0.4"})
    with urllib.request.urlopen(req, timeout=timeout_s) as r:
        return r.read(), r.headers.get("Content-Type")


def scrape_bodies(binary: str, scrapes: int, every_s: float, log_path: str, *,
                  ready_timeout_s: float = 15.0) -> tuple[list[tuple[bytes, str | None]], str]:
    """Run the exporter and take ``scrapes`` bodies ``every_s`` apart; returns them and its version line."""
    version = _version(binary)
    port = free_port()
    cmd = [binary, f"--web.listen-address=127.0.0.1:{port}", *(f"--no-collector.{c}" for c in DISABLED_COLLECTORS)]
    url = f"http://127.0.0.1:{port}/metrics"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                preexec_fn=_die_with_parent)
    try:
        deadline = time.monotonic() + ready_timeout_s
        while True:
            if proc.poll() is not None:
                raise NodeExporterError(f"{BINARY} exited {proc.returncode} at start-up: {_tail(log_path)}")
            try:
                _get(url, 2.0)
                break
            except (urllib.error.URLError, OSError):
                if time.monotonic() > deadline:
                    raise NodeExporterError(f"{BINARY} not answering after {ready_timeout_s:.0f} s: "
                                            f"{_tail(log_path)}") from None
                time.sleep(0.05)
        bodies = []
        t0 = time.monotonic()
        deadline = t0 + scrapes * every_s + 30.0
        for k in range(scrapes):
            time.sleep(max(0.0, t0 + k * every_s - time.monotonic()))
            if time.monotonic() > deadline:
                raise NodeExporterError(f"only {k} of {scrapes} scrapes within {deadline - t0:.0f} s")
            try:
                bodies.append(_get(url, 10.0))
            except (urllib.error.URLError, OSError) as e:
                raise NodeExporterError(f"scrape {k} of {url} failed: {e}") from None
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
    return bodies, version


def _version(binary: str) -> str:
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError) as e:
        raise NodeExporterError(f"cannot run {binary}: {e}") from None
    lines = (out.stdout or out.stderr).strip().splitlines()
    return lines[0] if lines else ""


def _tail(path: str) -> str:
    try:
        with open(path, "rb") as f:
            return f.read()[-400:].decode(errors="replace").strip().replace("\n", " | ")
    except OSError:
        return ""


def record_node_exporter(out_dir: str, scrapes: int, *, interval_s: float = 15.0, scrape_every_s: float = 0.2,
                         binary: str | None = None, start_ms: int = DEFAULT_START_MS) -> Dataset:
    """Record ``scrapes`` scrapes of a fresh exporter into ``out_dir`` as a bench ``Dataset``.

    Raises ``NodeExporterUnavailable`` when the binary is missing and
    ``NodeExporterError`` when it cannot be started, scraped or parsed.
    """
    if scrapes < 1:
        raise ValueError("scrapes must be >= 1")
    exe = binary or shutil.which(BINARY)
    if exe is None or not os.path.isfile(exe):
        raise NodeExporterUnavailable(f"{BINARY} not installed (apt-get install {BINARY})")
    os.makedirs(out_dir, exist_ok=True)
    t0 = time.perf_counter()
    bodies, version = scrape_bodies(exe, scrapes, scrape_every_s, os.path.join(out_dir, "node_exporter.log"))
    recorded = time.perf_counter() - t0
    meta = write_dataset(out_dir, collect(bodies), start_ms=start_ms, interval_ms=round(interval_s * 1000))
    meta.update(source=BINARY, version=version, binary=exe, scrape_every_s=scrape_every_s,
                disabled_collectors=list(DISABLED_COLLECTORS), recording_seconds=round(recorded, 2),
                gen_seconds=round(time.perf_counter() - t0, 2))
    with open(os.path.join(out_dir, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    return Dataset(meta["series"], meta["hours"], os.path.join(out_dir, "data.om"),
                   os.path.join(out_dir, "data.prom"), meta, time.perf_counter() - t0, name="node-exporter")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.node_exporter", description=__doc__.split("\n\n")[0])
    p.add_argument("--scrapes", type=int, default=240, help="scrapes to record (default 240: 1 h at 15 s)")
    p.add_argument("--out", required=True, help="output directory (data.om, data.prom, meta.json)")
    p.add_argument("--interval", type=float, default=15.0, help="seconds between stored timestamps (default 15)")
    p.add_argument("--every", type=float, default=0.2, help="real seconds between scrapes (default 0.2)")
    p.add_argument("--binary", help=f"exporter binary (default: {BINARY} on PATH)")
    a = p.parse_args(argv)
    try:
        ds = record_node_exporter(a.out, a.scrapes, interval_s=a.interval, scrape_every_s=a.every, binary=a.binary)
    except (MeasureError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    m = ds.meta
    print(f"{m['series']} series, {m['samples']} samples in {m['scrapes']} scrapes "
          f"({m['samples_per_scrape']['median']:g} samples/scrape), recorded in {m['recording_seconds']:.1f} s; "
          f"{m['duplicates_dropped']} duplicates dropped, {m['nan_samples']} NaN samples; "
          f"wrote {ds.openmetrics}, {ds.promtext}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
