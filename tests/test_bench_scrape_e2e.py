"""Smoke test of the end-to-end scrape benchmark (``bench/scrape_e2e.py``).

``run(quick=True)`` must complete, fill every column (a figure, an error
that says why, or "not installed" for Prometheus) and write its JSON. The
figures are not asserted: they depend on the machine and its load. The
lateness arithmetic is checked on its own, on hand-made timestamps.

Needs ``shared/datasets/target_server.py``: skipped when it is absent,
failed when env ``CI`` is set (CI must have it).
"""

import json

import numpy as np
from _requirements import missing

from bench import scrape_e2e


def test_lateness_against_the_grid():
    iv = 1000.0
    ts = np.array([5000, 6000, 7030, 8000, 10000, 11250], dtype=np.float64)  # 9000 skipped
    late, missed = scrape_e2e.lateness(ts, iv)
    assert late.tolist() == [0, 0, 30, 0, 0, 250]
    assert missed == 1
    # the earliest scrape is the reference, even when the first one was late
    late, missed = scrape_e2e.lateness(np.array([1040.0, 2000.0, 3000.0]), iv)
    assert late.tolist() == [40, 0, 0] and missed == 0
    # later than half an interval: no aliasing, the on-time scrapes give the phase
    late, missed = scrape_e2e.lateness(np.array([300.0, 1300.0, 3000.0, 3300.0, 4300.0]), iv)
    assert late.tolist() == [0, 0, 700, 0, 0] and missed == 0
    # none exactly on time: the phase is the earliest residual on the circle
    late, missed = scrape_e2e.lateness(np.array([1040.0, 2060.0, 3050.0, 5020.0]), iv)
    assert late.tolist() == [20, 40, 30, 0] and missed == 1
    # always a few ms late: wall-clock stamps that repeat by chance do not set the phase
    late, _ = scrape_e2e.lateness(np.array([266.0, 1274, 2274, 3270, 4266, 5274]), iv)
    assert late.tolist() == [0, 8, 8, 4, 0, 8]


def test_quick_run_completes_and_writes_json(tmp_path):
    if scrape_e2e.find_target_server() is None:
        missing("shared/datasets/target_server.py not found (set PROMLITE_SHARED)")
    res = scrape_e2e.run(quick=True, out_dir=str(tmp_path), progress=False)
    with open(tmp_path / scrape_e2e.RESULT_FILE) as f:
        on_disk = json.load(f)
    assert on_disk["meta"]["quick"] is True
    for key in ("promlite", "prometheus", "promlite_query_load"):
        col = on_disk[key]
        assert col == "not installed" or isinstance(col, dict), (key, col)
    for key in ("promlite", "promlite_query_load"):
        assert "error" not in on_disk[key], on_disk[key]["error"]
        assert on_disk[key]["samples"] > 0 and on_disk[key]["scrapes"] > 0
    assert on_disk["promlite_query_load"]["query_load"]["queries"] > 0
    assert res["table"][0] == ["figure", "promlite", "prometheus", "ratio"]
    assert len(res["table"]) > 10
