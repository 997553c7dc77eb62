"""Smoke test of the HTTP API benchmark (``bench/api_bench.py``).

``run(quick=True)`` must complete against real servers, fill both columns (a
figure, an error that says why, or "not installed" for Prometheus) and write
its JSON. The figures are not asserted: they depend on the machine and its
load. The /proc parsing and the table are checked on hand-made input.

Needs ``shared/datasets/gen_openmetrics.py``: skipped when it is absent,
failed when env ``CI`` is set (CI must have it).
"""

import json
import shutil

import pytest
from _requirements import missing

from bench import api_bench


def test_cpu_seconds_from_stat_counts_fields_after_the_name():
    # a command name with spaces and a ")" must not shift the fields
    fields = ["S", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "250", "50", "7", "8"]
    stat = "4242 (weird ) name) " + " ".join(fields) + " 20 0 1 0"
    assert api_bench.cpu_seconds_from_stat(stat, 100) == pytest.approx(3.0)


def test_status_kib_and_summaries():
    status = "Name:\tx\nVmHWM:\t  123456 kB\nVmRSS:\t   1000 kB\n"
    assert api_bench.status_kib(status, "VmHWM") == 123456
    assert api_bench.status_kib(status, "VmRSS") == 1000
    assert api_bench.status_kib(status, "VmSwap") is None
    s = api_bench.summarize([0.001 * i for i in range(1, 11)])
    assert s["median_ms"] == pytest.approx(5.5) and s["p90_ms"] == pytest.approx(9.1)
    assert api_bench.summarize([]) == {"median_ms": None, "p90_ms": None}
    assert api_bench.ratio(3.0, 2.0) == 1.5
    assert api_bench.ratio("not installed", 2.0) is None and api_bench.ratio(1.0, 0) is None


def test_workload_range_has_the_requested_steps_aligned_to_step():
    p = api_bench.Params.for_mode(quick=True)
    wl = api_bench.make_workload({"end_ms": 1704074399954}, 'up{job="a"}', p)
    q = wl.range_query
    start, end, step = int(q["start"]), int(q["end"]), int(q["step"])
    assert end % step == 0 and end <= 1704074399
    assert (end - start) // step + 1 == p.steps
    assert wl.load["instant_one_series"][1]["query"] == 'up{job="a"}'


def test_table_has_one_line_per_row_and_the_missing_peer():
    rows = [{"test": "labels req/s", "promlite": 1234.5, "prometheus": "not installed", "ratio": None}]
    text = api_bench.format_table(rows)
    assert "not installed" in text and "1,234.5" in text and len(text.splitlines()) == 3


def test_quick_run_completes_and_writes_json(tmp_path):
    if api_bench.find_shared_datasets() is None:
        missing("shared/datasets/gen_openmetrics.py not found (set PROMLITE_BENCH_SHARED)")
    doc = api_bench.run(quick=True, out_dir=str(tmp_path), progress=False)
    with open(tmp_path / api_bench.JSON_NAME) as f:
        on_disk = json.load(f)
    assert on_disk["rows"] == json.loads(json.dumps(doc["rows"]))
    assert on_disk["loadavg_start"] is None or len(on_disk["loadavg_start"]) == 3
    pl = on_disk["systems"]["promlite"]
    assert "error" not in pl, pl
    for enc in api_bench.ENCODINGS:
        qr = pl["query_range"][enc]
        assert qr["series"] == on_disk["dataset"]["series"]
        assert qr["points_per_series_max"] == on_disk["params"]["steps"]
        for name, by_enc in pl["load"].items():
            assert by_enc[enc]["requests"] > 0 and by_enc[enc]["errors"] == 0, (name, by_enc)
    # the decoded JSON is the same whatever the transfer encoding
    assert pl["query_range"]["gzip"]["response_bytes"] == pl["query_range"]["identity"]["response_bytes"]
    prom = on_disk["systems"]["prometheus"]
    if shutil.which("prometheus") is None:
        assert prom == {"error": "not installed"}
    else:
        assert "error" not in prom, prom
        assert prom["query_range"]["identity"]["response_bytes"] > 0
    tests = [r["test"] for r in on_disk["rows"]]
    assert "query_range gzip median ms" in tests and "labels identity req/s" in tests
    assert all(r["promlite"] is not None for r in on_disk["rows"])


def test_missing_prometheus_is_reported_not_dropped(tmp_path, monkeypatch, capsys):
    if api_bench.find_shared_datasets() is None:
        pytest.skip("shared/datasets/gen_openmetrics.py not found (set PROMLITE_BENCH_SHARED)")
    real_which = shutil.which
    monkeypatch.setattr(api_bench.shutil, "which",
                        lambda name, *a, **k: None if name == "prometheus" else real_which(name, *a, **k))
    # only the Prometheus column is asked for: nothing is started, promlite says "not run"
    doc = api_bench.run(quick=True, out_dir=str(tmp_path), progress=True, systems=(api_bench.PROMETHEUS,))
    assert doc["systems"]["prometheus"] == {"error": "not installed"}
    assert doc["systems"]["promlite"] == {"error": "not run"}
    assert all(r["prometheus"] == "not installed" and r["ratio"] is None for r in doc["rows"])
    assert "not installed" in capsys.readouterr().out
    assert (tmp_path / api_bench.JSON_NAME).exists()
