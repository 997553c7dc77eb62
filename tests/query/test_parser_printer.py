"""Printing: Prometheus's one-line form, the prettifier, and parse/print round trips."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from query.ast import Expr, VectorSelector
from query.parser import expr_to_string, format_expr, parse_expr


def normalize(node):
    """The AST with every selector's matchers sorted (the printer sorts them)."""
    if isinstance(node, VectorSelector):
        return dataclasses.replace(node, matchers=tuple(sorted(node.matchers, key=str)))
    if isinstance(node, tuple):
        return tuple(normalize(n) for n in node)
    if isinstance(node, Expr) and dataclasses.is_dataclass(node):
        changes = {}
        for f in dataclasses.fields(node):
            if not f.init:
                continue
            value = getattr(node, f.name)
            if isinstance(value, (Expr, tuple)):
                changes[f.name] = normalize(value)
        return dataclasses.replace(node, **changes) if changes else node
    return node


def assert_round_trip(text: str) -> None:
    e1 = parse_expr(text)
    s1 = expr_to_string(e1)
    e2 = parse_expr(s1)
    assert normalize(e2) == normalize(e1), (text, s1)
    assert expr_to_string(e2) == s1
    e3 = parse_expr(format_expr(e1))
    assert normalize(e3) == normalize(e1), (text, format_expr(e1))


STRINGS = [
    ("sum(rate(x[5m])) by (job)", "sum by (job) (rate(x[5m]))"),
    ("sum without() (x)", "sum without () (x)"),
    ("sum by() (x)", "sum(x)"),
    ('x{b="2",a="1"}', 'x{a="1",b="2"}'),
    ('{"a.b"="c", "utf8 name"}', '{"a.b"="c",__name__="utf8 name"}'),
    ('sum by ("a.b", c) (x)', 'sum by ("a.b", c) (x)'),
    ("a * on(x) group_left() b", "a * on (x) group_left () b"),
    ("a * ignoring(x) group_right(y, z) b", "a * ignoring (x) group_right (y, z) b"),
    ("a + fill(1) b", "a + fill (1) b"),
    ("a + fill_left(1) fill_right(2) b", "a + fill_left (1) fill_right (2) b"),
    ("a > bool 1", "a > bool 1"),
    ("foo offset -1m30s", "foo offset -1m30s"),
    ("foo offset 90", "foo offset 1m30s"),
    ("foo @ 1.5", "foo @ 1.500"),
    ("x[5m:]", "x[5m:]"),
    ("x[1h:5m] offset 1d @ start()", "x[1h:5m] @ start() offset 1d"),
    ("x[5m] smoothed offset 1m", "x[5m] smoothed offset 1m"),
    ("x[(2m+3m)*2]", "x[(2m + 3m) * 2]"),
    ("x offset ((1h))", "x offset (1h)"),
    ('label_replace(x, "a", "$1", "b", "(.*)")', 'label_replace(x, "a", "$1", "b", "(.*)")'),
    ("`raw\\`", '"raw\\\\"'),
    ("-x", "-x"),
    ("- 1", "-1"),
    ("(1)", "(1)"),
    ("1e-9", "0.000000001"),
    ("5m", "5m"),
]


@pytest.mark.parametrize("text,want", STRINGS, ids=[s[0] for s in STRINGS])
def test_expr_to_string(text: str, want: str) -> None:
    assert expr_to_string(parse_expr(text)) == want
    assert_round_trip(text)


LONG_A = "a_rather_long_metric_name_for_the_left_hand_side_of_the_operator_total"
LONG_B = "another_rather_long_metric_name_for_the_right_hand_side_total"


def test_pretty_short_expressions_stay_on_one_line() -> None:
    assert format_expr(parse_expr("sum by (job) (rate(x[5m]))")) == "sum by (job) (rate(x[5m]))"


def test_pretty_binary_split() -> None:
    e = parse_expr(f"{LONG_A} + on(job) {LONG_B}")
    assert format_expr(e) == f"  {LONG_A}\n+ on (job)\n  {LONG_B}"


def test_pretty_aggregation_and_call_split() -> None:
    e = parse_expr(f"topk(5, sum by (job) (rate({LONG_A}[5m]) / rate({LONG_B}[5m])))")
    assert format_expr(e) == (
        "topk(\n"
        "  5,\n"
        "  sum by (job) (\n"
        f"      rate({LONG_A}[5m])\n"
        "    /\n"
        f"      rate({LONG_B}[5m])\n"
        "  )\n"
        ")"
    )
    e = parse_expr(f'label_replace(rate({LONG_A}[5m]), "dst", "$1", "src", "(.*)")')
    assert format_expr(e) == (
        "label_replace(\n"
        f"  rate({LONG_A}[5m]),\n"
        '  "dst",\n'
        '  "$1",\n'
        '  "src",\n'
        '  "(.*)"\n'
        ")"
    )


def test_pretty_paren_and_unary() -> None:
    e = parse_expr(f"-({LONG_A} - {LONG_B})")
    assert format_expr(e) == f"-(\n    {LONG_A}\n  -\n    {LONG_B}\n)"


def test_pretty_subquery_keeps_suffix() -> None:
    e = parse_expr(f"max_over_time((rate({LONG_A}[5m]) + rate({LONG_B}[5m]))[1h:1m])")
    out = format_expr(e)
    assert out.startswith("max_over_time(\n  (\n")
    assert out.endswith(")[1h:1m]\n)")
    assert_round_trip(out)


# -- property: random well-typed expressions survive print + parse --------------

NAMES = st.sampled_from(["up", "http_requests_total", "sum", "by", "offset", "node:cpu:rate5m", "start"])
LABELS = st.sampled_from(["job", "instance", "le", "on", "bool", "a.b", "__name__x", "smoothed"])
VALUES = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=6)
DURATIONS = st.sampled_from(["1s", "30s", "5m", "1h30m", "2d", "10s53ms", "1.5", "90"])
NUMBERS = st.one_of(
    st.integers(-1000, 1000).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(lambda f: repr(f).replace("inf", "Inf").replace("nan", "NaN")),
    st.sampled_from(["0x1F", "1e3", ".5", "5.", "Inf", "NaN", "2m"]),
)


@st.composite
def matcher(draw):
    name = draw(LABELS)
    op = draw(st.sampled_from(["=", "!=", "=~", "!~"]))
    value = draw(VALUES) if op in ("=", "!=") else draw(st.sampled_from([".*", "a|b", "[0-9]+", "x.+"]))
    label = name if name.replace("_", "a").isalnum() and name[0].isalpha() else f'"{name}"'
    return f"{label}{op}{expr_to_string_literal(value)}"


def expr_to_string_literal(value: str) -> str:
    from query.quoting import go_quote

    return go_quote(value)


@st.composite
def selector(draw):
    name = draw(NAMES)
    ms = draw(st.lists(matcher(), max_size=3))
    text = name + ("{" + ", ".join(ms) + "}" if ms or draw(st.booleans()) else "")
    if draw(st.booleans()):
        text += f" offset {draw(st.sampled_from(['', '-']))}{draw(DURATIONS)}"
    if draw(st.booleans()):
        text += f" @ {draw(st.sampled_from(['100', '1.5', 'start()', 'end()']))}"
    return text


@st.composite
def matrix(draw, vector):
    if draw(st.booleans()):
        base = draw(NAMES) + "{job=\"x\"}"
        rng = draw(st.sampled_from(["5m", "1h", "30", "5m+1m", "step()*2", "(1m)"]))
        mod = draw(st.sampled_from(["", " anchored", " smoothed", " offset 1m", " @ 50"]))
        return f"{base}[{rng}]{mod}"
    step = draw(st.sampled_from(["", "1m", "10s", "step()"]))
    return f"({draw(vector)})[{draw(DURATIONS)}:{step}]"


def expressions():
    scalars = st.deferred(lambda: st.one_of(
        NUMBERS,
        st.just("time()"),
        vectors.map(lambda v: f"scalar({v})"),
        st.tuples(scalars, st.sampled_from(["+", "-", "*", "/", "%", "^", "atan2", "== bool", "> bool"]), scalars)
        .map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
    ))
    vectors = st.deferred(lambda: st.one_of(
        selector(),
        matrix(vectors).map(lambda m: f"rate({m})"),
        st.tuples(st.sampled_from(["sum", "avg", "max", "group", "count"]), st.sampled_from(["", " by (job)", " without (le, \"a.b\")"]), vectors)
        .map(lambda t: f"{t[0]}{t[1]} ({t[2]})"),
        st.tuples(scalars, vectors).map(lambda t: f"topk({t[0]}, {t[1]})"),
        st.tuples(vectors, st.sampled_from(["+", "*", "and", "or", "unless", "> bool", "/ on(job)",
                                            "* ignoring(le) group_left(x)", "- on() fill(0)"]), vectors)
        .map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(vectors, st.sampled_from(["+", "<", "^"]), scalars).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        vectors.map(lambda v: f"-({v})"),
        scalars.map(lambda s: f"vector({s})"),
        st.tuples(vectors, VALUES).map(lambda t: f'label_replace({t[0]}, "dst", {expr_to_string_literal(t[1])}, "src", "(.*)")'),
    ))
    return st.one_of(scalars, vectors)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expressions())
def test_round_trip_property(text: str) -> None:
    assert_round_trip(text)
