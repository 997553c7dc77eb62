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
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    with open(out / "results.json") as f:
        results = json.load(f)
    assert results["meta"]["quick"] is True
    assert set(results["meta"]["peers"]) == SYSTEMS - {"promlite"}
    suites = results["suites"]
    assert set(suites) == {"codec", "compression", "ingest", "query", "replay", "memory"}
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
