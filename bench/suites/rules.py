"""rules: 1,000 recording rules evaluated while scraping, promlite vs Prometheus (issue 14).

A rule file of 10 groups x 100 recording rules, ``interval: 15s``, over the
``target_server`` catalogue (``bench/rules_gen.py``: ``rate``/``increase``
summed by instance or job, ratios, ``histogram_quantile``, ``*_over_time``,
...), the same file for both servers and checked by ``promtool check rules``
and promlite's parser first. Each server scrapes the loopback targets of
``bench.scrape_e2e`` (10 targets x 10,000 series every 1 s) twice, with the
same workload and window: once **without** rules and once **with** them.

Figures, per server:

* **CPU s per evaluation round**: (server CPU/s with rules - CPU/s without)
  divided by rounds/s, a round being one evaluation of every group (the
  groups' ``prometheus_rule_group_iterations_total`` over the window,
  divided by the number of groups); and per rule (ms);
* the server's own view: ``prometheus_rule_group_last_duration_seconds``
  summed over groups at the end of the window, the mean wall time of one
  round from ``prometheus_rule_group_duration_seconds`` (sum / count, times
  the groups), ``prometheus_rule_evaluation_failures_total`` (must be 0) and
  missed iterations over the window;
* rule samples written per round (``prometheus_rule_group_last_evaluation_samples``
  summed over groups);
* scrape lateness p50/p99/max (share of the 1 s interval) and scrapes later
  than 10 % of it, without and with rules (``bench.scrape_e2e``'s figures);
* peak RSS without and with rules.

VictoriaMetrics evaluates rules in ``vmalert``, a separate process that
queries it over HTTP and writes results back through remote write: not the
same measurement (two processes, HTTP between them), so its column is "n/a".

Quick mode (tests, ``--quick``): 10 groups x 10 rules at ``interval: 3s``,
2 targets x 1,000 series, a 7 s window (about 2 rounds): a smoke test, not a measurement.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from typing import Any

from .. import rules_gen, scrape_e2e
from . import NA, Context, Row, SuiteResult

NAME = "rules"
TITLE = "recording rules while scraping (CPU per round, scrape lateness)"
VM_NOTE = "n/a: VictoriaMetrics evaluates rules in vmalert, a separate process (not measured)"


@dataclass(frozen=True)
class Plan:
    groups: int
    per_group: int
    interval: str  # the groups' interval
    workload: scrape_e2e.Workload

    @property
    def rules(self) -> int:
        return self.groups * self.per_group


FULL = Plan(10, 100, "15s", scrape_e2e.Workload(targets=10, series=10_000, interval_s=1.0, warmup_s=20.0,
                                                 measure_s=120.0))
QUICK = Plan(10, 10, "3s", scrape_e2e.Workload(targets=2, series=1_000, interval_s=1.0, warmup_s=3.0,
                                                measure_s=7.0))


def write_rule_file(path: str, plan: Plan) -> str:
    with open(path, "w") as f:
        f.write(rules_gen.rule_file_text(plan.groups, plan.per_group, plan.interval))
    return path


def check_rule_file(path: str) -> dict[str, Any]:
    """promlite's parser (raises ``RuleFileError``) and, when installed, ``promtool check rules`` (raises on failure)."""
    from promlite.rules.rulefile import parse_rule_file

    with open(path, "rb") as f:
        groups = parse_rule_file(f.read(), path)
    out: dict[str, Any] = {"promlite_rules": sum(len(g.rules) for g in groups)}
    promtool = shutil.which("promtool")
    if promtool:
        r = subprocess.run([promtool, "check", "rules", path], capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise RuntimeError(f"promtool check rules failed: {(r.stdout + r.stderr)[-1000:]}")
        out["promtool"] = (r.stdout.strip().splitlines() or [""])[-1].strip()
    return out


def _delta(r: dict[str, Any], name: str) -> float | None:
    t0, t1 = r["rules"]["t0"] or {}, r["rules"]["t1"] or {}
    return t1[name] - t0.get(name, 0.0) if name in t1 else None


def summarize(base: dict[str, Any], with_rules: dict[str, Any], groups: int, rules: int) -> dict[str, Any]:
    """The figures of one system from its run without rules (``base``) and with them."""
    iters = _delta(with_rules, "prometheus_rule_group_iterations_total") or 0.0
    rounds = iters / groups
    cpu_per_s = with_rules["cpu_s"] / with_rules["window_s"] - base["cpu_s"] / base["window_s"]
    cpu_round = cpu_per_s * with_rules["window_s"] / rounds if rounds else None
    t1 = with_rules["rules"]["t1"]
    dsum = _delta(with_rules, "prometheus_rule_group_duration_seconds_sum")
    dcount = _delta(with_rules, "prometheus_rule_group_duration_seconds_count")
    out = {
        "rounds": rounds, "cpu_s_per_round": cpu_round,
        "cpu_ms_per_rule": cpu_round / rules * 1000 if cpu_round is not None else None,
        "cpu_pct_no_rules": base["cpu_pct_of_core"], "cpu_pct_rules": with_rules["cpu_pct_of_core"],
        "last_duration_s_sum": t1.get("prometheus_rule_group_last_duration_seconds"),
        "round_duration_s_mean": dsum / dcount * groups if dsum is not None and dcount else None,
        "failures": t1.get("prometheus_rule_evaluation_failures_total"),
        "missed": _delta(with_rules, "prometheus_rule_group_iterations_missed_total"),
        "samples_per_round": t1.get("prometheus_rule_group_last_evaluation_samples"),
        "rss_mb_no_rules": base["peak_rss_mb"], "rss_mb_rules": with_rules["peak_rss_mb"],
    }
    for key in ("lateness_p50_pct", "lateness_p99_pct", "lateness_max_pct", "scrapes_late_over_10pct",
                "missed_ticks", "failed_scrapes"):
        out[f"{key}_no_rules"], out[f"{key}_rules"] = base.get(key), with_rules.get(key)
    return out


ROWS = (  # (figure, unit, key, better)
    ("CPU per evaluation round (with - without rules)", "s", "cpu_s_per_round", "lower"),
    ("CPU per rule evaluation", "ms", "cpu_ms_per_rule", "lower"),
    ("rule group duration per round (mean, own metric)", "s", "round_duration_s_mean", "lower"),
    ("rule_group_last_duration_seconds, sum over groups", "s", "last_duration_s_sum", "lower"),
    ("rule evaluation failures (must be 0)", "", "failures", "lower"),
    ("rule group iterations missed in window", "", "missed", "lower"),
    ("evaluation rounds in window", "", "rounds", "higher"),
    ("rule samples written per round", "", "samples_per_round", "higher"),
    ("server CPU without rules", "% of a core", "cpu_pct_no_rules", "lower"),
    ("server CPU with rules", "% of a core", "cpu_pct_rules", "lower"),
    ("scrape lateness p50 without rules", "% of interval", "lateness_p50_pct_no_rules", "lower"),
    ("scrape lateness p50 with rules", "% of interval", "lateness_p50_pct_rules", "lower"),
    ("scrape lateness p99 without rules", "% of interval", "lateness_p99_pct_no_rules", "lower"),
    ("scrape lateness p99 with rules", "% of interval", "lateness_p99_pct_rules", "lower"),
    ("scrape lateness max without rules", "% of interval", "lateness_max_pct_no_rules", "lower"),
    ("scrape lateness max with rules", "% of interval", "lateness_max_pct_rules", "lower"),
    ("scrapes > 10% late without rules", "", "scrapes_late_over_10pct_no_rules", "lower"),
    ("scrapes > 10% late with rules (target 0)", "", "scrapes_late_over_10pct_rules", "lower"),
    ("missed scrape ticks with rules", "", "missed_ticks_rules", "lower"),
    ("peak RSS without rules", "MB", "rss_mb_no_rules", "lower"),
    ("peak RSS with rules", "MB", "rss_mb_rules", "lower"),
)


def measure(system: str, plan: Plan, rule_file: str, work: str, log=lambda *a, **k: None) -> dict[str, Any]:
    """Two runs of ``system`` (without, then with ``rule_file``) and their figures (``summarize``)."""
    base = scrape_e2e.run_one(system, plan.workload, work, log=log, disk_figures=False)
    with_rules = scrape_e2e.run_one(system, plan.workload, work, log=log, disk_figures=False, rule_file=rule_file)
    for r in (base, with_rules):
        r.pop("up_timestamps_ms", None)
    return {"no_rules": base, "rules": with_rules,
            "figures": summarize(base, with_rules, plan.groups, plan.rules)}


def run(ctx: Context) -> SuiteResult:
    plan = QUICK if ctx.quick else FULL
    res = SuiteResult(NAME, TITLE)
    work = os.path.join(ctx.workspace.root, "rules")
    os.makedirs(work, exist_ok=True)
    rule_file = write_rule_file(os.path.join(work, "bench-rules.yml"), plan)
    res.extra["check"] = check_rule_file(rule_file)
    w = plan.workload
    res.extra["plan"] = {"rules": plan.rules, "groups": plan.groups, "rules_per_group": plan.per_group, "interval": plan.interval,
                         "targets": w.targets, "series_per_target": w.series, "scrape_interval_s": w.interval_s,
                         "warmup_s": w.warmup_s, "window_s": w.measure_s}
    res.note = (f"{plan.rules} recording rules ({plan.groups} groups, interval {plan.interval}); "
                f"{w.targets} targets x {w.series:,} series every {w.interval_s:g} s; "
                f"{w.measure_s:g} s window per run, without then with rules; "
                f"victoriametrics: {VM_NOTE[len('n/a: '):]}")
    systems = ["promlite"] + ([] if ctx.peer_value("prometheus") else ["prometheus"])
    task = ctx.task("rules: promlite and Prometheus, without and with rules", len(systems))
    figures: dict[str, dict[str, Any] | str] = {}
    for system in systems:
        try:
            m = measure(system, plan, rule_file, work)
            res.extra[system] = m
            figures[system] = m["figures"]
        except (scrape_e2e.E2EError, OSError, ValueError, KeyError, TypeError) as e:
            figures[system] = f"error: {type(e).__name__}: {e}"[:300]
            res.extra[system] = {"error": figures[system]}
        ctx.advance(task)
    ctx.done(task)
    if ctx.peer_value("prometheus"):
        figures["prometheus"] = ctx.peer_value("prometheus")
    for figure, unit, key, better in ROWS:
        vals: dict[str, Any] = {}
        for s in ("promlite", "prometheus"):
            f = figures.get(s)
            vals[s] = f.get(key) if isinstance(f, dict) else (f if isinstance(f, str) else None)
        vals["victoriametrics"] = NA
        res.rows.append(Row(figure, unit, vals, better))
    if all(isinstance(f, str) for f in figures.values()):
        res.status = "error"
        res.note += "; " + "; ".join(f"{s}: {f}" for s, f in figures.items())
    _plots(res, figures)
    return res


def _plots(res: SuiteResult, figures: dict[str, Any]) -> None:
    ok = {s: f for s, f in figures.items() if isinstance(f, dict)}
    if not ok:
        return
    res.plots["cpu_per_round"] = {
        "kind": "bars", "title": f"{res.extra['plan']['rules']:,} recording rules: one evaluation round",
        "groups": ["server CPU s per round\n(with - without rules)", "rule group duration per round, s\n(own metric)"],
        "ylabel": "seconds", "series": {s: [f.get("cpu_s_per_round"), f.get("round_duration_s_mean")]
                                        for s, f in ok.items()}}
    groups, keys = [], []
    for q in ("p50", "p99", "max"):
        for suffix, label in (("no_rules", "without"), ("rules", "with")):
            groups.append(f"{q}\n{label}")
            keys.append(f"lateness_{q}_pct_{suffix}")
    res.plots["lateness"] = {
        "kind": "bars", "title": "Scrape lateness without / with rules (1 s interval)", "groups": groups,
        "ylabel": "% of the scrape interval",
        "series": {s: [f.get(k) for k in keys] for s, f in ok.items()}}
