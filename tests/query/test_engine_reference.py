"""Property test: the vectorised engine against a naive per-step reference.

Hypothesis draws a few series (irregular timestamps, staleness markers,
counter-like drops) and a range query; a plain-Python evaluator written from
the Prometheus documentation -- one step and one sample at a time -- must
agree with the engine on instant selection (lookback, left-open windows,
staleness) and on a handful of range functions. A second property checks
the grouped aggregations (and topk's per-group order) against ``math.fsum``
and sorted lists.
"""

from __future__ import annotations

import math
import struct
import tempfile

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tsdb
from query.engine import Engine

STALE = struct.unpack("<d", struct.pack("<Q", 0x7FF0000000000002))[0]
LOOKBACK = 300_000


def _is_stale(v: float) -> bool:
    return struct.pack("<d", v) == struct.pack("<d", STALE)


def _ref_instant(samples, t):
    prior = [(ts, v) for ts, v in samples if t - LOOKBACK < ts <= t]
    if not prior or _is_stale(prior[-1][1]):
        return None
    return prior[-1][1]


def _ref_window(samples, t, rng):
    return [v for ts, v in samples if t - rng < ts <= t and not _is_stale(v)]


REFERENCE = {
    "count_over_time": lambda w: float(len(w)),
    "max_over_time": lambda w: max(w),
    "last_over_time": lambda w: w[-1],
    "changes": lambda w: float(sum(1 for a, b in zip(w, w[1:], strict=False) if a != b)),
    "resets": lambda w: float(sum(1 for a, b in zip(w, w[1:], strict=False) if b < a)),
}

series_st = st.lists(
    st.tuples(st.integers(1, 90), st.one_of(st.integers(-5, 50).map(float), st.just(STALE))),
    min_size=1, max_size=40,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.lists(series_st, min_size=1, max_size=3),
    start=st.integers(0, 3000),
    n_steps=st.integers(1, 30),
    step=st.integers(1, 120),
    rng=st.sampled_from([30, 60, 300, 600]),
    func=st.sampled_from(sorted(REFERENCE)),
)
def test_engine_matches_reference(data, start, n_steps, step, rng, func):
    all_series = []
    with tempfile.TemporaryDirectory() as d, tsdb.open(d, wal_sync="never", auto_compact=False) as db:
        app = db.appender()
        for i, gaps in enumerate(data):
            ts = np.cumsum([g * 1000 for g, _ in gaps])
            samples = [(int(t), v) for t, (_, v) in zip(ts.tolist(), gaps, strict=True)]
            app.append_series({"__name__": "m", "i": str(i)}, ts, np.asarray([v for _, v in gaps]))
            all_series.append(samples)
        app.commit()
        e = Engine(db)
        start_ms, step_ms = start * 1000, step * 1000
        end_ms = start_ms + (n_steps - 1) * step_ms
        sel = e.range("m", start_ms, end_ms, step_ms)
        fn = e.range(f"{func}(m[{rng}s])", start_ms, end_ms, step_ms)
    by_label_sel = {dict(lab)["i"]: k for k, lab in enumerate(sel.labels)}
    by_label_fn = {dict(lab)["i"]: k for k, lab in enumerate(fn.labels)}
    for i, samples in enumerate(all_series):
        for j, t in enumerate(range(start_ms, end_ms + 1, step_ms)):
            want = _ref_instant(samples, t)
            k = by_label_sel.get(str(i))
            got = None if k is None or not sel.present[k, j] else sel.values[k, j]
            assert (want is None) == (got is None), (i, t)
            if want is not None:
                assert want == got
            window = _ref_window(samples, t, rng * 1000)
            k = by_label_fn.get(str(i))
            got = None if k is None or not fn.present[k, j] else fn.values[k, j]
            if not window:
                assert got is None, (func, i, t)
                continue
            want = REFERENCE[func](window)
            assert got is not None, (func, i, t)
            assert math.isclose(want, got), (func, i, t, want, got)


AGGREGATIONS = {
    "sum": lambda xs: math.fsum(xs),
    "avg": lambda xs: math.fsum(xs) / len(xs),
    "min": min,
    "max": max,
    "count": lambda xs: float(len(xs)),
    "stdvar": lambda xs: math.fsum((x - math.fsum(xs) / len(xs)) ** 2 for x in xs) / len(xs),
    "quantile": lambda xs: _ref_quantile(0.3, sorted(xs)),
}


def _ref_quantile(q, s):
    rank = q * (len(s) - 1)
    lo = int(math.floor(rank))
    hi = min(len(s) - 1, lo + 1)
    w = rank - lo
    return s[lo] * (1 - w) + s[hi] * w


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    values=st.lists(st.tuples(st.integers(0, 3), st.integers(-1000, 1000)), min_size=1, max_size=25),
    op=st.sampled_from(sorted(AGGREGATIONS)),
)
def test_aggregations_match_reference(values, op):
    with tempfile.TemporaryDirectory() as d, tsdb.open(d, wal_sync="never", auto_compact=False) as db:
        app = db.appender()
        for i, (g, v) in enumerate(values):
            app.append({"__name__": "m", "g": str(g), "i": str(i)}, 0, v / 8.0)
        app.commit()
        e = Engine(db)
        param = "0.3, " if op == "quantile" else ""
        res = e.instant(f"{op} by (g) ({param}m)", 0)
        top = e.instant("topk by (g) (2, m)", 0)
    groups: dict[str, list[float]] = {}
    for g, v in values:
        groups.setdefault(str(g), []).append(v / 8.0)
    got = {dict(lab)["g"]: v for lab, v in zip(res.labels, res.values.tolist(), strict=True)}
    assert set(got) == set(groups)
    for g, xs in groups.items():
        assert math.isclose(got[g], AGGREGATIONS[op](xs), rel_tol=1e-9, abs_tol=1e-9), (op, g)
    top_vals: dict[str, list[float]] = {}
    for lab, v in zip(top.labels, top.values.tolist(), strict=True):
        top_vals.setdefault(dict(lab)["g"], []).append(v)
    for g, xs in groups.items():
        assert top_vals[g] == sorted(xs, reverse=True)[:2]  # ordered by value within the group
