"""Fuzz the PromQL parser and engine: generated expressions, evaluated as instant and range queries.

tests/query/test_parser_fuzz.py feeds the parser token soup and arbitrary
text. This adds a grammar-based strategy (``exprs``): typed expressions built
from the function table (``query.functions.FUNCTIONS``), every aggregation
(with ``by``/``without`` and parameters), binary operators with ``bool``,
``on``/``ignoring`` and ``group_left``/``group_right``, subqueries,
``offset`` and ``@`` (numbers, ``start()``, ``end()``), number literals
(hex, Inf, NaN, durations), string literals and regex matchers -- with a
small chance, at every node, of a wrong type or a token-level mutation, so
that the type checker and the error paths are exercised as well as the
evaluator. Whatever the parser accepts is evaluated against a small tsdb
(counters with resets, gauges, histogram buckets, staleness markers, NaN and
±Inf values, an info metric) as an instant query and as a range query.

Oracle: a result, or a defined PromQL error -- ``ParseError`` (with a
position inside the query) from the parser, ``QueryError`` (execution,
including the timeout) or ``SampleLimitError`` from the engine -- never an
internal exception (TypeError, IndexError, KeyError, ZeroDivisionError,
numpy errors, RecursionError, ...).
"""

from __future__ import annotations

import shutil
import struct
import tempfile
import warnings

import numpy as np
import pytest
from fuzzkit import bounded, fuzz_settings, tried
from hypothesis import example, given
from hypothesis import strategies as st

import tsdb
from query.engine import Engine, QueryError, SampleLimitError
from query.functions import FUNCTIONS
from query.parser import ParseError, parse_expr
from query.printer import format_expr
from query.types import ValueType

S, V, M, STR = ValueType.SCALAR, ValueType.VECTOR, ValueType.MATRIX, ValueType.STRING
STALE = struct.unpack("<d", struct.pack("<Q", 0x7FF0000000000002))[0]
T0 = 1_700_000_000_000
STEP = 15_000
N = 120  # samples a series: 30 minutes


# --------------------------------------------------------------------------- the data


@pytest.fixture(scope="module")
def engine():
    d = tempfile.mkdtemp(prefix="promlite-promql-fuzz-")
    db = tsdb.open(d, wal_sync="never", auto_compact=False)
    rng = np.random.default_rng(5)
    ts = T0 + np.arange(N, dtype=np.int64) * STEP
    app = db.appender()
    for job in ("api", "db"):
        for inst in ("a:1", "b:2"):
            c = np.cumsum(rng.integers(0, 10, N)).astype(float)
            c[60:] -= c[60]  # a counter reset
            app.append_series({"__name__": "http_requests_total", "job": job, "instance": inst}, ts, c)
            g = rng.normal(size=N) * 10
            g[[5, 50]] = [np.nan, np.inf]
            g[90] = STALE
            app.append_series({"__name__": "temp", "job": job, "instance": inst}, ts, g)
            for le, f in (("0.1", 0.2), ("1", 0.7), ("+Inf", 1.0)):
                app.append_series({"__name__": "lat_bucket", "job": job, "instance": inst, "le": le},
                                  ts, np.floor(c * f))
            app.append_series({"__name__": "target_info", "job": job, "instance": inst, "ver": "1." + job},
                              ts, np.ones(N))
    app.append_series({"__name__": "sparse", "x": "é\n\""}, ts[::17], -np.arange(len(ts[::17]), dtype=float))
    app.commit()
    # a small limit and timeout: the fuzz must not be able to eat the machine
    yield Engine(db, max_samples=200_000, timeout_s=10)
    db.close()
    shutil.rmtree(d, ignore_errors=True)


# --------------------------------------------------------------------------- the grammar

METRICS = ["http_requests_total", "temp", "lat_bucket", "target_info", "sparse", "http_requests_total", "temp",
           "nope", "__name__"]
LABELS = ["job", "instance", "le", "ver", "x", "__name__", "nope"]
VALUES = ["api", "db", "a:1", "0.1", "+Inf", "", "é", ".*", "a.+|d.*", "(", "\\\\"]
DURATIONS = ["1s", "30s", "1m", "5m", "1h", "90s", "1m30s", "15s", "2d", "1ms", "0s", "3y", "1h2m3s4ms"]
NUMBERS = ["0", "1", "-1", "0.5", "2", "1e3", "-2.5e-3", "Inf", "-Inf", "NaN", "0x1F", "1e308", "100000",
           "1_000", ".5", "5.", "0.000001", "1m"]
ARITH = ["+", "-", "*", "/", "%", "^", "atan2"]
CMP = ["==", "!=", ">", "<", ">=", "<="]
SETS = ["and", "or", "unless"]
AGGS = ["sum", "avg", "min", "max", "count", "group", "stddev", "stdvar"]
PARAM_AGGS = ["topk", "bottomk", "quantile", "count_values", "limitk", "limit_ratio"]


def _quoted(s: str, draw) -> str:
    q = draw(st.sampled_from(['"', "'", "`"]))
    if q == "`":
        return "`" + s.replace("`", "") + "`"
    return q + s.replace("\\", "\\\\").replace(q, "\\" + q).replace("\n", "\\n") + q


@st.composite
def selectors(draw) -> str:
    name = draw(st.sampled_from(METRICS + [""]))
    ms = []
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 1, 2, 3]))):
        op = draw(st.sampled_from(["=", "!=", "=~", "!~"]))
        label = draw(st.sampled_from(LABELS if not name else LABELS[:-2] + ["nope"]))
        value = draw(st.sampled_from(["api", "db", "a:1"] if draw(st.booleans()) else VALUES))
        ms.append(f"{label}{op}{_quoted(value, draw)}")
    if not name and not ms:
        ms.append('job=~".+"')
    sel = name if name and name != "__name__" else ""
    if ms or not sel:
        sel += "{" + ", ".join(ms) + (", " if ms and draw(st.booleans()) else "") + "}"
    return sel


@st.composite
def modifiers(draw, expr: str) -> str:
    if draw(st.integers(0, 4)) == 0:
        expr += " offset " + draw(st.sampled_from(["-", ""])) + draw(st.sampled_from(DURATIONS))
    if draw(st.integers(0, 5)) == 0:
        at = draw(st.sampled_from([str(T0 / 1000 + 600), "start()", "end()", "0", "-1", "1e10",
                                   str(T0 // 1000 + 900)]))
        expr += " @ " + at
    return expr


@st.composite
def matrix(draw, depth: int) -> str:
    if depth <= 0 or draw(st.integers(0, 3)):
        return draw(modifiers(draw(selectors()) + f"[{draw(st.sampled_from(DURATIONS))}]"))
    inner = draw(expr_of(V, depth - 1))
    step = draw(st.sampled_from(["", "1m", "15s", "5m", "7s"]))
    return draw(modifiers(f"({inner})[{draw(st.sampled_from(DURATIONS))}:{step}]"))


@st.composite
def grouping(draw) -> str:
    if draw(st.booleans()):
        return ""
    labels = draw(st.lists(st.sampled_from(LABELS), max_size=3))
    return f" {draw(st.sampled_from(['by', 'without']))} ({', '.join(labels)})"


def _arg(t: ValueType, depth: int):
    if t == STR:
        return st.builds(lambda s: '"' + s + '"', st.sampled_from(["job", "dst", "le", "x", ",", "$1", "(.*)",
                                                                   "a${1}b", "", "[", "é", "0.5"]))
    if t == M:
        return matrix(depth)
    return expr_of(t, depth)


@st.composite
def call(draw, ret: ValueType, depth: int) -> str:
    names = sorted(n for n, f in FUNCTIONS.items() if f.return_type == ret)
    f = FUNCTIONS[draw(st.sampled_from(names))]
    n = f.min_args
    if f.max_args is None or f.max_args > n:
        n += draw(st.integers(0, min(2, (f.max_args or n + 2) - n)))
    args = [draw(_arg(f.arg_type(i), depth - 1)) for i in range(n)]
    if f.name == "label_replace":
        args[4] = draw(st.sampled_from(['"(.*)"', '"a(.+)"', '"["', '"(?P<x>.)"', '""']))
    return f"{f.name}({', '.join(args)})"


@st.composite
def aggregation(draw, depth: int) -> str:
    inner = draw(expr_of(V, depth - 1))
    g = draw(grouping())
    if draw(st.booleans()):
        op = draw(st.sampled_from(AGGS))
        body = f"({inner})"
    else:
        op = draw(st.sampled_from(PARAM_AGGS))
        param = draw(_arg(STR, 0)) if op == "count_values" else draw(expr_of(S, depth - 1))
        body = f"({param}, {inner})"
    return f"{op}{g}{body}" if draw(st.booleans()) else f"{op}{body}{g}"


@st.composite
def binary(draw, ret: ValueType, depth: int) -> str:
    if ret == S:
        op = draw(st.sampled_from(ARITH + CMP))
        return f"{draw(expr_of(S, depth - 1))} {op}{' bool' if op in CMP else ''} {draw(expr_of(S, depth - 1))}"
    lt, rt = draw(st.sampled_from([(V, V), (V, S), (S, V)]))
    ops = ARITH + CMP + (SETS if (lt, rt) == (V, V) else [])
    op = draw(st.sampled_from(ops))
    mod = ""
    if op in CMP and draw(st.booleans()):
        mod += " bool"
    if (lt, rt) == (V, V) and draw(st.booleans()):
        mod += f" {draw(st.sampled_from(['on', 'ignoring']))}({', '.join(draw(st.lists(st.sampled_from(LABELS), max_size=2)))})"
        if op not in SETS and draw(st.booleans()):
            extra = draw(st.lists(st.sampled_from(LABELS), max_size=2))
            mod += f" {draw(st.sampled_from(['group_left', 'group_right']))}"
            mod += f"({', '.join(extra)})" if extra or draw(st.booleans()) else ""
    return f"{draw(expr_of(lt, depth - 1))} {op}{mod} {draw(expr_of(rt, depth - 1))}"


@st.composite
def expr_of(draw, t: ValueType, depth: int) -> str:
    if draw(st.integers(0, 30)) == 0:  # a wrong type now and then: the checker's errors
        t = draw(st.sampled_from([S, V, M, STR]))
    if t == STR:
        return draw(_arg(STR, 0))
    if t == M:
        return draw(matrix(depth))
    if depth <= 0:
        if t == S:
            return draw(st.sampled_from(NUMBERS))
        return draw(modifiers(draw(selectors())))
    kind = draw(st.sampled_from(["leaf", "call", "binary", "paren", "unary"] + (["agg", "agg"] if t == V else [])))
    if kind == "leaf":
        return draw(expr_of(t, 0))
    if kind == "call":
        return draw(call(t, depth))
    if kind == "agg":
        return draw(aggregation(depth))
    if kind == "binary":
        return draw(binary(t, depth))
    if kind == "unary":
        return draw(st.sampled_from(["-", "+"])) + draw(expr_of(t, depth - 1))
    return f"({draw(expr_of(t, depth - 1))})"


TOKENS = ["(", ")", "[", "]", "{", "}", ",", " by ", " offset ", "@", "5m", ":", "bool", "on()", "group_left",
          '"', "=~", "1", "-", "sum", "rate(", "[1m:]", "\\", "\x00", "é"]


@st.composite
def queries(draw) -> str:
    text = draw(expr_of(draw(st.sampled_from([V, V, V, V, S, M, STR])), draw(st.sampled_from([0, 1, 2, 2, 3, 3, 4]))))
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2]))):  # token-level damage
        pos = draw(st.integers(0, len(text)))
        if draw(st.booleans()):
            text = text[:pos] + draw(st.sampled_from(TOKENS)) + text[pos:]
        else:
            text = text[:pos] + text[pos + draw(st.integers(1, 4)):]
    return text


# --------------------------------------------------------------------------- the oracle

ACCEPTED = (ParseError, QueryError, SampleLimitError)


def _run(fn, query: str):
    try:
        with warnings.catch_warnings():
            # a float cast to an integer out of range is undefined behaviour in numpy (and C): a bug
            warnings.filterwarnings("error", message="invalid value encountered in cast", category=RuntimeWarning)
            return fn()
    except ParseError as e:
        assert 0 <= e.position[0] <= len(query) + 1, (e.position, query)
        return e
    except ACCEPTED as e:
        assert str(e), type(e)
        return e


@fuzz_settings(300, 30_000)
@given(queries(), st.integers(0, N * STEP // 1000), st.sampled_from([1, 15, 60, 137]), st.integers(1, 40))
@example('sum by (job) (rate(http_requests_total[5m]))', 600, 15, 20)
@example('histogram_quantile(0.9, sum by (le) (rate(lat_bucket[5m])))', 900, 60, 10)
@example('count_values("le", temp) * on(le) group_left lat_bucket', 900, 60, 10)
@example('label_replace(temp, "a", "$1", "job", "(.*)") / ignoring(a) temp', 0, 1, 1)
@example('limit_ratio(1e300, temp)', 0, 1, 1)  # was: an out-of-range float-to-int64 cast
@example('max_over_time((rate(http_requests_total[1m]) > bool 0)[10m:7s] @ end() offset -1m)', 300, 15, 40)
@bounded()
def test_generated_queries_evaluate_or_raise_promql_errors(engine, query, t_s, step_s, n_steps):
    tried("promql generated expressions")
    try:
        node = parse_expr(query)
    except ParseError as e:
        assert 0 <= e.position[0] <= len(query) + 1, (e.position, query)
        return
    tried("promql evaluated (parsed ok)")
    pretty = format_expr(node)  # /api/v1/format_query: what it prints must parse back to the same tree
    assert format_expr(parse_expr(pretty)) == pretty, (query, pretty)
    t = T0 + t_s * 1000
    _run(lambda: engine.instant(query, t), query)
    if node.type in (S, V):
        _run(lambda: engine.range(query, t - (n_steps - 1) * step_s * 1000, t, step_s * 1000), query)


@fuzz_settings(400, 40_000)
@given(st.text(max_size=80))
@example("\ud800")
@example("1" + "+1" * 700)
@example("-" * 3000 + "1")
@example("((((((((((((((((((((((((((((((((((((((((((((((((((1))))))))))))))))))))))))))))))))))))))))))))))))))")
@bounded()
def test_arbitrary_text_parses_or_raises_parse_error(text):
    tried("promql arbitrary text")
    try:
        parse_expr(text)
    except ParseError as e:
        assert isinstance(e.position, tuple) and str(e)
