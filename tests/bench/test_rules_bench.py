"""The ``rules`` bench suite: its generated rule file, its arithmetic, and one small promlite run.

The rule file must load in promlite and in Prometheus (``promtool check
rules`` when installed); the small run (1 target, 10 rules, 1 s group
interval, a few seconds) checks that a server with ``rule_files`` evaluates
every group, without failures, and that the suite's figures come out.
"""

import os
import shutil

import pytest

from bench import rules_gen, scrape_e2e
from bench.suites import rules as suite
from promlite.rules.rulefile import parse_rule_file
from query.parser import parse_expr


def test_full_rule_file_is_1000_distinct_valid_rules(tmp_path):
    text = rules_gen.rule_file_text(10, 100, "15s")
    groups = parse_rule_file(text, "bench-rules.yml")
    assert len(groups) == 10 and {g.interval_ms for g in groups} == {15_000}
    rules = [r for g in groups for r in g.rules]
    assert len(rules) == 1000
    assert len({r.record for r in rules}) == 1000
    assert len({r.expr for r in rules}) == 1000
    for r in rules:
        parse_expr(r.expr)  # raises on invalid PromQL
    path = suite.write_rule_file(str(tmp_path / "r.yml"), suite.FULL)
    got = suite.check_rule_file(path)  # promlite's parser, and promtool when installed (raises on failure)
    assert got["promlite_rules"] == 1000
    if shutil.which("promtool"):
        assert got["promtool"] == "SUCCESS: 1000 rules found"


def test_quick_plan_is_small():
    assert suite.QUICK.rules <= 100 and suite.FULL.rules == 1000
    assert suite.QUICK.workload.measure_s <= 15


def _run(cpu_s, window_s=10.0, iters=None, **kw):
    r = {"cpu_s": cpu_s, "window_s": window_s, "cpu_pct_of_core": 100 * cpu_s / window_s, "peak_rss_mb": 100.0,
         "lateness_p50_pct": 0.0, "lateness_p99_pct": 1.0, "lateness_max_pct": 2.0, "scrapes_late_over_10pct": 0,
         "missed_ticks": 0, "failed_scrapes": 0, **kw}
    if iters is not None:
        r["rules"] = {"t0": {"prometheus_rule_group_iterations_total": 10.0,
                             "prometheus_rule_group_duration_seconds_sum": 1.0,
                             "prometheus_rule_group_duration_seconds_count": 10.0},
                      "t1": {"prometheus_rule_group_iterations_total": 10.0 + iters,
                             "prometheus_rule_group_duration_seconds_sum": 1.0 + 0.1 * iters,
                             "prometheus_rule_group_duration_seconds_count": 10.0 + iters,
                             "prometheus_rule_evaluation_failures_total": 0.0,
                             "prometheus_rule_group_last_duration_seconds": 0.5,
                             "prometheus_rule_group_last_evaluation_samples": 400.0}}
    return r


def test_summarize_subtracts_the_no_rules_cpu_per_round():
    # 2 groups, 4 iterations = 2 rounds in 10 s; 1 CPU s more with rules: 0.5 s per round
    f = suite.summarize(_run(2.0), _run(3.0, iters=4), groups=2, rules=20)
    assert f["rounds"] == 2
    assert f["cpu_s_per_round"] == pytest.approx(0.5)
    assert f["cpu_ms_per_rule"] == pytest.approx(25.0)
    assert f["round_duration_s_mean"] == pytest.approx(0.2)  # 0.1 s per group evaluation x 2 groups
    assert f["failures"] == 0 and f["samples_per_round"] == 400
    assert f["lateness_max_pct_no_rules"] == 2.0 and f["lateness_max_pct_rules"] == 2.0


def test_config_names_the_rule_file():
    assert "rule_files" not in scrape_e2e._config_text([1234], 1.0)
    text = scrape_e2e._config_text([1234], 1.0, "/x/r.yml")
    assert 'rule_files:\n  - "/x/r.yml"\n' in text


@pytest.mark.skipif(scrape_e2e.find_target_server() is None, reason="shared/datasets/target_server.py not found")
def test_promlite_evaluates_the_rules_while_scraping(tmp_path):
    plan = suite.Plan(2, 5, "1s", scrape_e2e.Workload(targets=1, series=300, interval_s=1.0, warmup_s=3.0,
                                                        measure_s=4.0))
    path = suite.write_rule_file(str(tmp_path / "r.yml"), plan)
    m = suite.measure("promlite", plan, path, str(tmp_path))
    rules = m["rules"]["rules"]
    assert "rules" not in m["no_rules"]
    f = m["figures"]
    assert f["rounds"] >= 2, rules
    assert f["failures"] == 0, rules
    assert f["samples_per_round"] > 0, rules
    assert f["cpu_s_per_round"] is not None and f["last_duration_s_sum"] > 0
    assert os.path.isfile(path)
