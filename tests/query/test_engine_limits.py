"""``max_samples`` bounds what a query produces, not only what it loads; queries stop when cancelled (issue 12).

Before: ``count_values`` over a range made one output series per distinct
value, each as long as the query (distinct values x steps cells), with no
check: 4.5 GiB for a 2 h range, numpy's "Unable to allocate 75.6 GiB" over
24 h. Many-to-many pairs and the step grid were not checked either. Now each
such allocation is checked first and fails with Prometheus's error.
"""

from __future__ import annotations

import threading
import tracemalloc

import numpy as np
import pytest

import tsdb
from query.engine import Engine, QueryTimeoutError
from query.limits import TOO_MANY_SAMPLES, SampleLimitError, cancellation

MIN = 60_000
N_SERIES = 200
N_SAMPLES = 241  # 4 h at 1 m


@pytest.fixture
def db(tmp_path):
    d = tsdb.open(str(tmp_path / "db"), wal_sync="never", auto_compact=False)
    app = d.appender()
    ts = np.arange(N_SAMPLES, dtype=np.int64) * MIN
    for i in range(N_SERIES):  # every sample a distinct value: count_values makes one series per sample
        app.append_series({"__name__": "distinct", "i": str(i)}, ts, np.arange(N_SAMPLES) + i * 1000.0)
    for i in range(40):  # one sample each, 10 m apart: never two at one step, so no many-to-many error
        app.append_series({"__name__": "sparse", "job": "j", "k": str(i)}, np.array([i * 10 * MIN]),
                          np.array([float(i)]))
    for i in range(40):
        app.append_series({"__name__": "dense", "job": "j", "n": str(i)}, ts, np.ones(N_SAMPLES))
    app.commit()
    yield d
    d.close()


def test_count_values_output_is_checked_before_it_is_allocated(db):
    # input: 200 x 241 = 48,200 cells; output: 48,200 distinct values x 241 steps = 11.6 M cells (~105 MB)
    e = Engine(db, max_samples=1_000_000)
    tracemalloc.start()
    try:
        with pytest.raises(SampleLimitError, match=TOO_MANY_SAMPLES):
            e.range('count_values("v", distinct)', 0, (N_SAMPLES - 1) * MIN, MIN)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 30 * 2**20, peak  # the 105 MB count matrix was never allocated
    # an instant query of the same expression fits (48,200 series x 1 step)
    assert len(e.instant('count_values("v", distinct)', (N_SAMPLES - 1) * MIN)) == N_SERIES


def test_count_values_within_the_limit_still_answers(db):
    res = Engine(db).range('count_values("v", distinct{i="0"})', 0, 10 * MIN, MIN)
    assert len(res) == 11


def test_many_to_many_pairs_are_checked(db):
    # every dense series pairs with every sparse one in range (40 x 25 rows x 241 steps = 241 k cells)
    q = "dense * on(job) group_left(k) sparse"
    assert len(Engine(db).range(q, 0, (N_SAMPLES - 1) * MIN, MIN)) == 1000
    with pytest.raises(SampleLimitError, match=TOO_MANY_SAMPLES):
        Engine(db, max_samples=100_000).range(q, 0, (N_SAMPLES - 1) * MIN, MIN)


def test_step_grid_is_checked(db):
    with pytest.raises(SampleLimitError, match=TOO_MANY_SAMPLES):
        Engine(db, max_samples=1000).range("1", 0, 10_000 * MIN, MIN)


def test_label_replace_result_counts(db):
    with pytest.raises(SampleLimitError, match=TOO_MANY_SAMPLES):
        Engine(db, max_samples=60_000).range('label_replace(distinct, "x", "$1", "i", "(.*)") + distinct',
                                             0, (N_SAMPLES - 1) * MIN, MIN)


def test_cancelled_query_stops():
    ev = threading.Event()
    ev.set()
    with cancellation(ev), pytest.raises(QueryTimeoutError, match="cancelled"):
        Engine(None).instant("1 + 1", 0)
    assert Engine(None).instant("1 + 1", 0).value == 2  # outside the block: no cancel event


def test_deadline_is_checked_inside_per_series_loops(db, monkeypatch):
    """A deadline passing during a per-series Python loop stops it there, not at the next node."""
    from query import limits

    calls = {"n": 0}
    real = limits.QueryContext.check

    def check(self):
        calls["n"] += 1
        if calls["n"] > 3:  # past the first few node checks: as if the deadline passed mid-node
            raise QueryTimeoutError("query timed out in expression evaluation")
        real(self)

    monkeypatch.setattr(limits, "CHECK_EVERY", 1)
    monkeypatch.setattr(limits.QueryContext, "check", check)
    with pytest.raises(QueryTimeoutError):
        Engine(db).instant('label_replace(distinct, "x", "$1", "i", "(.*)")', 10 * MIN)
