"""Smoke test of ``promlite bench --quick``: it completes and writes its files.

The figures are not asserted (they depend on the machine and its load);
what must hold is that every suite ran or said why not, that results.json
is well formed with the three system columns, and that plots were drawn.
Runs in a subprocess, as a user would, bounded in time.
"""

import json
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SYSTEMS = {"promlite", "prometheus", "victoriametrics"}


def test_bench_quick_completes_and_writes_results(tmp_path):
    out = tmp_path / "bench"
    proc = subprocess.run(
        [sys.executable, "-m", "promlite.cli", "bench", "--quick", "--out", str(out)],
        # a safety net only: the run takes about 2 min of wall time (1 min of CPU) on a quiet machine
        cwd=REPO, capture_output=True, text=True, timeout=1800,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    with open(out / "results.json") as f:
        results = json.load(f)
    assert results["meta"]["quick"] is True
    assert set(results["meta"]["peers"]) == SYSTEMS - {"promlite"}
    suites = results["suites"]
    assert set(suites) == {"codec", "compression", "ingest", "query", "scrape", "api", "replay", "memory", "startup",
                           "rules"}
    for name, suite in suites.items():
        assert suite["status"] in ("ok", "skipped"), (name, suite["note"])
        for row in suite["rows"]:
            assert set(row["values"]) == SYSTEMS, (name, row["figure"])
    assert suites["codec"]["status"] == "ok" and suites["codec"]["rows"]
    pngs = [p for p in os.listdir(out) if p.endswith(".png")]
    assert pngs, "no plot written"
    assert (out / "results.md").read_text().count("|") > 10


def test_bench_rejects_unknown_suite(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "no-such-suite", "--out", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2
    assert "unknown suite" in proc.stderr


# Fast checks of the pieces the smoke run relies on.

def test_stat_median_and_spread():
    from bench.harness import Stat

    s = Stat([3.0, 1.0, 2.0])
    assert s.median == 2.0 and s.lo == 1.0 and s.hi == 3.0
    assert s.spread_pct == 50.0
    assert s.scaled(lambda v: 1 / v, "Hz").values == [1 / 3, 1.0, 0.5]


def test_ratio_and_cells_keep_missing_peers_visible():
    from bench.harness import Stat
    from bench.report import fmt_value, ratio, to_markdown
    from bench.suites import NOT_INSTALLED, Row, SuiteResult

    assert ratio(Stat([2.0, 2.0]), 4.0) == "0.50×"
    assert ratio(1.0, NOT_INSTALLED) == "–"
    assert fmt_value(NOT_INSTALLED) == NOT_INSTALLED
    res = SuiteResult("x", "t", rows=[Row("f", "ms", {"promlite": 1.0, "prometheus": NOT_INSTALLED,
                                                       "victoriametrics": 2.0})])
    md = to_markdown([res])
    assert NOT_INSTALLED in md and "0.50×" in md


def test_run_isolated_reports_os_figures_and_failures():
    import pytest

    from bench.harness import MeasureError, run_isolated

    result, st = run_isolated("bench.suites.memory:baseline_child", {}, timeout_s=120)
    assert result == {}
    assert st.peak_rss_bytes > 10 * 2**20 and st.cpu_s > 0
    with pytest.raises(MeasureError):
        run_isolated("bench.harness:no_such_function", {}, timeout_s=60)


def test_peers_reported_not_installed_when_disabled():
    from bench.peers import PEER_NAMES, find_peers

    peers = find_peers(frozenset(PEER_NAMES))
    assert all(not p.available and p.to_json()["status"].startswith("not installed") for p in peers.values())


def test_query_set_parses_with_bounds():
    import pytest

    from bench.datasets import Dataset, find_shared
    from bench.suites.query import load_queries

    shared = find_shared()
    if shared is None:
        pytest.skip("shared/datasets not found")
    qs = load_queries(os.path.join(shared, "queries.txt"))
    assert len(qs) >= 10 and len({q.id for q in qs}) == len(qs)
    ds = Dataset(1, 24, "", "", {"start_ms": 0, "end_ms": 86_400_000, "samples": 1}, 0.0)
    by_id = {q.id: q for q in qs}
    assert by_id["rate_counter_1h"].bounds(ds) == (82_800_000, 86_400_000, 15_000)
    assert by_id["topk_gauge_instant"].bounds(ds) == (86_400_000, 86_400_000, 0)
