"""The engine's public API over a real tsdb: result types, errors, limits, our own scripts.

The upstream scripts (test_engine_upstream.py) check semantics case by case;
this file checks what a library user sees: ``Engine.instant`` / ``Engine.range``
result types and shapes, execution errors with Prometheus's wording, the
sample limit and timeout, our own ``testdata/*.test`` scripts, the
``promlite promqltest`` command, and that range evaluation agrees with
step-by-step instant evaluation on generated data.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import tsdb
from promlite.promqltest_cli import add_promqltest_command
from query.engine import Engine, QueryError, QueryTimeoutError
from query.eval_selectors import SampleLimitError
from query.parser import ParseError
from query.promqltest_runner import run_file
from query.values import InstantVector, Matrix, RangeVector, Scalar, String

HERE = Path(__file__).resolve().parent
TESTDATA = HERE / "testdata"
MIN = 60_000


@pytest.fixture
def db(tmp_path):
    d = tsdb.open(str(tmp_path / "db"), wal_sync="never", auto_compact=False)
    app = d.appender()
    ts = np.arange(0, 11) * MIN
    app.append_series({"__name__": "up", "job": "a", "instance": "1"}, ts, np.ones(11))
    app.append_series({"__name__": "up", "job": "a", "instance": "2"}, ts, np.zeros(11))
    app.append_series({"__name__": "req_total", "job": "a"}, ts, np.arange(11) * 60.0)
    app.append_series({"__name__": "req_total", "job": "b"}, ts, np.arange(11) * 120.0)
    app.commit()
    yield d
    d.close()


def test_instant_vector_result(db):
    res = Engine(db).instant('up{job="a"}', 5 * MIN)
    assert isinstance(res, InstantVector)
    assert [dict(lab)["instance"] for lab in res.labels] == ["1", "2"]
    assert res.values.tolist() == [1.0, 0.0]
    assert res.timestamps.tolist() == [5 * MIN, 5 * MIN]


def test_rate_and_aggregation(db):
    res = Engine(db).instant("sum by (job) (rate(req_total[5m]))", 10 * MIN)
    got = {dict(lab)["job"]: v for lab, v in zip(res.labels, res.values.tolist(), strict=True)}
    assert got == pytest.approx({"a": 1.0, "b": 2.0})


def test_scalar_string_and_range_vector_results(db):
    e = Engine(db)
    s = e.instant("1 + 2 * 3", 0)
    assert isinstance(s, Scalar) and s.value == 7.0
    st = e.instant('"hello"', 0)
    assert isinstance(st, String) and st.value == "hello"
    rv = e.instant('req_total{job="a"}[2m]', 5 * MIN)
    assert isinstance(rv, RangeVector)
    assert rv.timestamps[0].tolist() == [4 * MIN, 5 * MIN]  # left-open window
    assert rv.values[0].tolist() == [240.0, 300.0]


def test_range_matrix_with_presence_mask(db):
    m = Engine(db).range('req_total{job="a"} > 200', 0, 10 * MIN, MIN)
    assert isinstance(m, Matrix)
    assert m.values.shape == (1, 11) and m.present.shape == (1, 11)
    assert m.present[0].tolist() == [False] * 4 + [True] * 7
    t, v = m.series(0)
    assert t.tolist() == [i * MIN for i in range(4, 11)]
    assert v.tolist() == [i * 60.0 for i in range(4, 11)]


def test_range_of_scalar_is_one_labelless_row(db):
    m = Engine(db).range("time()", 0, 2 * MIN, MIN)
    assert m.is_scalar and m.labels == [()]
    assert m.values[0].tolist() == [0.0, 60.0, 120.0]


def test_range_rejects_range_vector_and_bad_step(db):
    e = Engine(db)
    with pytest.raises(QueryError, match="range vector"):
        e.range("up[5m]", 0, MIN, MIN)
    with pytest.raises(QueryError, match="zero or negative"):
        e.range("up", 0, MIN, 0)


def test_parse_error_is_raised_as_parse_error(db):
    with pytest.raises(ParseError):
        Engine(db).instant("sum(", 0)


def test_execution_errors_have_prometheus_wording(db):
    e = Engine(db)
    with pytest.raises(QueryError, match="many-to-many matching not allowed"):
        e.instant("req_total * on(job) up", 5 * MIN)
    with pytest.raises(QueryError, match="many-to-one matching must be explicit"):
        e.instant("up * on(job) req_total", 5 * MIN)
    with pytest.raises(QueryError, match="invalid regular expression in label_replace"):
        e.instant('label_replace(up, "a", "b", "job", "(")', 5 * MIN)
    with pytest.raises(QueryError, match="vector cannot contain metrics with the same labelset"):
        e.instant("sum by (__name__) (rate({job=\"a\"}[5m]))", 5 * MIN)


def test_sample_limit(db):
    with pytest.raises(SampleLimitError, match="too many samples"):
        Engine(db, max_samples=10).range("up", 0, 10 * MIN, MIN)


def test_timeout(db):
    with pytest.raises(QueryTimeoutError):
        Engine(db, timeout_s=-1).instant("up", 0)


def test_lookback_delta_is_configurable(db):
    assert len(Engine(db).instant("up", 14 * MIN)) == 2
    assert len(Engine(db, lookback_delta_ms=MIN).instant("up", 14 * MIN)) == 0


def test_range_equals_instant_at_every_step(tmp_path):
    """All-steps-at-once evaluation agrees with one instant query per step (random data)."""
    rng = np.random.default_rng(7)
    with tsdb.open(str(tmp_path / "r"), wal_sync="never", auto_compact=False) as d:
        app = d.appender()
        for i in range(6):
            ts = np.sort(rng.choice(np.arange(0, 3600) * 1000, size=200, replace=False))
            vs = np.cumsum(rng.integers(0, 5, size=200)).astype(float)
            vs[rng.integers(0, 200, size=3)] = 0.0  # counter resets
            app.append_series({"__name__": "c", "g": str(i % 2), "i": str(i)}, ts, vs)
        app.commit()
        e = Engine(d)
        queries = [
            "rate(c[2m])", "sum by (g) (increase(c[5m]))", "max_over_time(c[3m])", "irate(c[1m])",
            "deriv(c[10m])", "quantile_over_time(0.3, c[4m])", "topk(2, c)", "c - on(i) group_left c offset 1m",
            "stddev by (g) (c)", "avg_over_time(c[5m:30s])", "changes(c[5m]) > 3",
        ]
        for q in queries:
            m = e.range(q, 600_000, 3_000_000, 60_000)
            for j, t in enumerate(m.times.tolist()):
                inst = e.instant(q, t)
                want = dict(zip(inst.labels, inst.values.tolist(), strict=True))
                got = {lab: m.values[k, j] for k, lab in enumerate(m.labels) if m.present[k, j]}
                assert set(got) == set(want), (q, t)
                for lab, v in want.items():
                    assert math.isclose(got[lab], v, rel_tol=1e-9) or (math.isnan(v) and math.isnan(got[lab])), (q, t)


@pytest.mark.parametrize("script", sorted(TESTDATA.glob("*.test")), ids=lambda p: p.name)
def test_own_scripts(script):
    results = run_file(script, manifest={})
    failures = [f"{r.key}: {r.expr}: {r.message}" for r in results if r.status == "fail"]
    assert results and not failures


def test_promqltest_command_output(tmp_path, capsys):
    import argparse

    good = tmp_path / "good.test"
    good.write_text("load 1m\n  m 1 2 3\n\neval instant at 2m m\n  m 3\n")
    bad = tmp_path / "bad.test"
    bad.write_text("load 1m\n  m 1 2 3\n\neval instant at 2m m\n  m 4\n")
    parser = argparse.ArgumentParser()
    add_promqltest_command(parser.add_subparsers())
    args = parser.parse_args(["promqltest", str(good)])
    assert args.func(args) == 0
    assert capsys.readouterr().out.strip().endswith("1 passed, 0 failed")
    args = parser.parse_args(["promqltest", str(good), str(bad)])
    assert args.func(args) == 1
    out = capsys.readouterr().out.strip().splitlines()
    assert out[0].startswith("bad.test:4: m: ")
    assert out[-1] == "1 passed, 1 failed"


def test_xxhash64_vectors():
    from query.xxhash64 import labels_hash, xxh64

    assert xxh64(b"") == 0xEF46DB3751D8E999
    assert xxh64(b"a") == 0xD24EC4F1A98C6E5B
    assert xxh64(b"abc") == 0x44BC2CF5AD770999
    assert xxh64(b"Nobody inspects the spammish repetition") == 0xFBCEA83C8A378BF1
    assert labels_hash((("a", "b"),)) == xxh64(b"a\xffb\xff")
