"""Valid PromQL: structure, types and canonical form of parsed expressions.

Each case is ``(input, tree)`` where ``tree`` is a compact structural dump
(see ``tree``): binary operators, unary operators, parentheses, calls,
aggregations and subqueries show as s-expressions, selectors and literals in
their canonical printed form. That pins down precedence, associativity and
modifier attachment, which the printed form alone would hide.
"""

from __future__ import annotations

import math

import pytest

from query.ast import (
    AggregateExpr,
    BinaryExpr,
    Call,
    Cardinality,
    DurationExpr,
    MatrixSelector,
    NumberLiteral,
    ParenExpr,
    StringLiteral,
    SubqueryExpr,
    UnaryExpr,
    VectorMatching,
    VectorSelector,
    resolve_durations,
    walk,
)
from query.parser import ParseOptions, expr_to_string, parse_expr
from query.types import ValueType
from tsdb.matchers import Matcher, MatchType


def tree(e) -> str:
    """Structural dump: ``(+ a (* b c))``; leaves in printed form."""
    if isinstance(e, BinaryExpr):
        mod = " bool" if e.return_bool else ""
        vm = e.matching
        if vm is not None:
            if vm.on or vm.labels:
                mod += f" {'on' if vm.on else 'ignoring'}({','.join(vm.labels)})"
            if vm.card in (Cardinality.MANY_TO_ONE, Cardinality.ONE_TO_MANY):
                mod += f" {'group_left' if vm.card is Cardinality.MANY_TO_ONE else 'group_right'}({','.join(vm.include)})"
            if vm.fill_lhs is not None or vm.fill_rhs is not None:
                mod += f" fill({vm.fill_lhs},{vm.fill_rhs})"
        return f"({e.op}{mod} {tree(e.lhs)} {tree(e.rhs)})"
    if isinstance(e, UnaryExpr):
        return f"(u{e.op} {tree(e.expr)})"
    if isinstance(e, ParenExpr):
        return f"(paren {tree(e.expr)})"
    if isinstance(e, Call):
        return "(" + " ".join([e.func + "()"] + [tree(a) for a in e.args]) + ")"
    if isinstance(e, AggregateExpr):
        head = e.op
        if e.without or e.grouping:
            head += f" {'without' if e.without else 'by'}({','.join(e.grouping)})"
        args = ([tree(e.param)] if e.param is not None else []) + [tree(e.expr)]
        return f"({head} {' '.join(args)})"
    if isinstance(e, SubqueryExpr):
        full = expr_to_string(e)
        inner = expr_to_string(e.expr)
        return f"(subquery {tree(e.expr)} {full[len(inner):]})"
    return expr_to_string(e)


# (input, structural dump). ids are the inputs themselves.
CASES = [
    # Literals.
    ("1", "1"),
    ("+Inf", "+Inf"),
    ("-Inf", "-Inf"),
    ("inF", "+Inf"),
    ("NaN", "NaN"),
    (".5", "0.5"),
    ("5.", "5"),
    ("123.4567", "123.4567"),
    ("5e-3", "0.005"),
    ("5e3", "5000"),
    ("0xc", "12"),
    ("0755", "493"),
    ("+5.5e-3", "0.0055"),
    ("-0755", "-493"),
    ("1_000", "1000"),
    ("1e100", "1" + "0" * 100),
    ("5m", "5m"),
    ("-1h30m", "-1h30m"),
    ('"double \\" quote"', '"double \\" quote"'),
    ("'single \\' quote'", "\"single ' quote\""),
    ("`raw \\n string`", '"raw \\\\n string"'),
    ('"\\a\\b\\f\\n\\r\\t\\v\\\\ \\x41\\101\\u00e9\\U0001F600"', '"\\a\\b\\f\\n\\r\\t\\v\\\\ AAé😀"'),
    ('"\\xff"', '"\\xff"'),
    # Arithmetic precedence and associativity.
    ("1 + 2 * 3", "(+ 1 (* 2 3))"),
    ("1 * 2 + 3", "(+ (* 1 2) 3)"),
    ("1 - 2 - 3", "(- (- 1 2) 3)"),
    ("2 ^ 3 ^ 2", "(^ 2 (^ 3 2))"),
    ("-1^2", "(u- (^ 1 2))"),
    ("-1*2", "(* -1 2)"),
    ("-1^-2", "(u- (^ 1 -2))"),
    ("+1 + -2 * 1", "(+ 1 (* -2 1))"),
    ("1 + 2/(3*1)", "(+ 1 (/ 2 (paren (* 3 1))))"),
    ("1 < bool 2 - 1 * 2", "(< bool 1 (- 2 (* 1 2)))"),
    ("2 atan2 3 * 4", "(* (atan2 2 3) 4)"),
    ("a % b ^ c", "(% a (^ b c))"),
    ("-a ^ b", "(u- (^ a b))"),
    ("-a * b", "(* (u- a) b)"),
    ("a ^ -b ^ c", "(^ a (u- (^ b c)))"),
    ("- - a", "(u- (u- a))"),
    ("-(1)", "(u- (paren 1))"),
    ("+some_metric", "(u+ some_metric)"),
    ("-some_metric offset 5m", "(u- some_metric offset 5m)"),
    ("-rate(x[5m])", "(u- (rate() x[5m]))"),
    # Comparison and set operators.
    ("foo == 1", "(== foo 1)"),
    ("foo == bool 1", "(== bool foo 1)"),
    ("1 == bool 1", "(== bool 1 1)"),
    ("foo > 2 or bar", "(or (> foo 2) bar)"),
    ("foo + bar or bla and blub", "(or (+ foo bar) (and bla blub))"),
    ("foo and bar unless baz or qux", "(or (unless (and foo bar) baz) qux)"),
    ("a < b == c", "(== (< a b) c)"),
    ("a </ b", "(</ a b)"),
    ("a >/ b", "(>/ a b)"),
    # Vector matching.
    ("foo * on(test,blub) bar", "(* on(test,blub) foo bar)"),
    ("foo * on(test,blub) group_left bar", "(* on(test,blub) group_left() foo bar)"),
    ("foo and on(test,blub) bar", "(and on(test,blub) foo bar)"),
    ("foo and on() bar", "(and on() foo bar)"),
    ("foo and ignoring(test,blub) bar", "(and ignoring(test,blub) foo bar)"),
    ("foo / on(test,blub) group_left(bar) bar", "(/ on(test,blub) group_left(bar) foo bar)"),
    ("foo - ignoring(test,blub) group_right(bar,foo) bar", "(- ignoring(test,blub) group_right(bar,foo) foo bar)"),
    ("bar + on(foo) bla / on(baz, buz) group_right(test) blub",
     "(+ on(foo) bar (/ on(baz,buz) group_right(test) bla blub))"),
    ("foo == bool on(x) bar", "(== bool on(x) foo bar)"),
    ("foo * on(a) group_left (b) bar", "(* on(a) group_left(b) foo bar)"),
    ("foo unless on(start) bar", "(unless on(start) foo bar)"),
    ("a + fill(0) b", "(+ fill(0.0,0.0) a b)"),
    ("a + fill_left(1) fill_right(-2) b", "(+ fill(1.0,-2.0) a b)"),
    ("a + fill_right(2) fill_left(1) b", "(+ fill(1.0,2.0) a b)"),
    ("a * on(x) group_left(y) fill_left(NaN) b", "(* on(x) group_left(y) fill(nan,None) a b)"),
    ("fill + fill", "(+ fill fill)"),
    # Selectors.
    ("foo", "foo"),
    ("min", "min"),
    ("sum", "sum"),
    ("offset", "offset"),
    ("start", "start"),
    ("end", "end"),
    ("foo:bar{a=\"bc\"}", 'foo:bar{a="bc"}'),
    ('foo{NaN=\'bc\'}', 'foo{NaN="bc"}'),
    ('foo{bar=\'}\'}', 'foo{bar="}"}'),
    ('foo{a="b", foo!="bar", test=~"test", bar!~"baz"}', 'foo{a="b",bar!~"baz",foo!="bar",test=~"test"}'),
    ('foo{a="b", foo!="bar",}', 'foo{a="b",foo!="bar"}'),
    ('{__name__=~"bar", __name__!~"baz"}', '{__name__!~"baz",__name__=~"bar"}'),
    ('{"foo"}', '{__name__="foo"}'),
    ('{"my.metric", "a.b"="c"}', '{"a.b"="c",__name__="my.metric"}'),
    ("{'foo\\'bar', 'a\\\\dos\\\\path'='boo\\\\urns'}", '{"a\\\\dos\\\\path"="boo\\\\urns",__name__="foo\'bar"}'),
    ('sum{job="x"}', 'sum{job="x"}'),
    ('{job=~".+"}', '{job=~".+"}'),
    ("foo # a comment\n", "foo"),
    # Range selectors and durations.
    ("test[5m]", "test[5m]"),
    ("test[1000ms]", "test[1s]"),
    ("test[1001ms]", "test[1s1ms]"),
    ("foo[5m30s]", "foo[5m30s]"),
    ("foo[4.18]", "foo[4s180ms]"),
    ("test[5]", "test[5s]"),
    ("test[5d] OFFSET 10s", "test[5d] offset 10s"),
    ("test[5w] offset 2w", "test[5w] offset 2w"),
    ('test{a="b"}[5y] OFFSET 3d', 'test{a="b"}[5y] offset 3d'),
    ('test{a="b"}[5m] OFFSET 3600', 'test{a="b"}[5m] offset 1h'),
    ("foo[3ms] @ 2.345", "foo[3ms] @ 2.345"),
    ("some_metric[5m] @ 1m", "some_metric[5m] @ 60.000"),
    ("foo[5m+1m]", "foo[5m + 1m]"),
    ("foo[(5s)]", "foo[(5s)]"),
    ("foo[11s+10s-5*2^2]", "foo[11s + 10s - 5 * 2 ^ 2]"),
    ("foo[-(10s-5s)+20s]", "foo[-(10s - 5s) + 20s]"),
    ("foo[-10s+15s]", "foo[-10s + 15s]"),
    ("foo[step()]", "foo[step()]"),
    ("foo[  -  step  (  )  ]", "foo[-step()]"),
    ("foo[STep()*2]", "foo[step() * 2]"),
    ("foo[max_of(step(),5s)]", "foo[max_of(step(), 5s)]"),
    ("foo[2m/range()]", "foo[2m / range()]"),
    ("foo[5m] anchored", "foo[5m] anchored"),
    ("foo[5m] smoothed", "foo[5m] smoothed"),
    ("foo anchored [5m]", "foo[5m] anchored"),
    ("foo smoothed", "foo smoothed"),
    ("foo[5m] anchored @ 10 offset 1m", "foo[5m] anchored @ 10.000 offset 1m"),
    # Offsets and @.
    ("foo offset 5m", "foo offset 5m"),
    ("foo offset -7m", "foo offset -7m"),
    ("foo OFFSET 1h30m", "foo offset 1h30m"),
    ("foo OFFSET 1m30ms", "foo offset 1m30ms"),
    ("foo offset +(5)", "foo offset (5)"),
    ("foo offset -(5)", "foo offset -(5)"),
    ("foo offset (5)", "foo offset (5)"),
    ("foo offset (1h*2)", "foo offset (1h * 2)"),
    ("foo offset step()", "foo offset step()"),
    ("foo offset -step()", "foo offset -step()"),
    ("foo offset max_of(step(),5s)", "foo offset max_of(step(), 5s)"),
    ("foo offset -min_of(5s,step()+8s)", "foo offset -min_of(5s, step() + 8s)"),
    ("foo offset 5s-8", "(- foo offset 5s 8)"),
    ("foo offset -1^1", "(^ foo offset -1s 1)"),
    ("foo offset -(1^2)", "foo offset -(1 ^ 2)"),
    ("foo offset (-1^2)", "foo offset (-1 ^ 2)"),
    ("metric1_total offset 100 + 2", "(+ metric1_total offset 1m40s 2)"),
    ("metric1_total offset -step()*2", "(* metric1_total offset -step() 2)"),
    ("a + b offset 5m", "(+ a b offset 5m)"),
    ("foo @ 1603774568", "foo @ 1603774568.000"),
    ("foo @ -100", "foo @ -100.000"),
    ("foo @ .3", "foo @ 0.300"),
    ("foo @ 3.3333", "foo @ 3.333"),
    ("foo @ 3.3335", "foo @ 3.334"),
    ("foo @ 0xA", "foo @ 10.000"),
    ("foo @ -3.3e1", "foo @ -33.000"),
    ("foo @ start()", "foo @ start()"),
    ("foo @ end()", "foo @ end()"),
    ("foo offset 5m @ 10", "foo @ 10.000 offset 5m"),
    ("test[5y] @ start()", "test[5y] @ start()"),
    # Subqueries.
    ('foo{bar="baz"}[10m:6s]', '(subquery foo{bar="baz"} [10m:6s])'),
    ('foo{bar="baz"}[10m5s:1h6ms]', '(subquery foo{bar="baz"} [10m5s:1h6ms])'),
    ("foo[10m:]", "(subquery foo [10m:])"),
    ('min_over_time(rate(foo{bar="baz"}[2s])[5m:5s])',
     '(min_over_time() (subquery (rate() foo{bar="baz"}[2s]) [5m:5s]))'),
    ('min_over_time(rate(foo{bar="baz"}[2s])[5m:] offset 4m)[4m:3s]',
     '(subquery (min_over_time() (subquery (rate() foo{bar="baz"}[2s]) [5m:] offset 4m)) [4m:3s])'),
    ("some_metric OFFSET 1m [10m:5s]", "(subquery some_metric offset 1m [10m:5s])"),
    ("some_metric @ 123 offset 1m [10m:5s]", "(subquery some_metric @ 123.000 offset 1m [10m:5s])"),
    ("some_metric[10m:5s] offset 1m @ 123", "(subquery some_metric [10m:5s] @ 123.000 offset 1m)"),
    ('(foo + bar{nm="val"})[5m:] offset 10m', '(subquery (paren (+ foo bar{nm="val"})) [5m:] offset 10m)'),
    ("foo[4s+4s:1s*2] offset (5s-8)", "(subquery foo [4s + 4s:1s * 2] offset (5s - 8))"),
    ("foo[10m:6s] @ start()", "(subquery foo [10m:6s] @ start())"),
    ("sum(foo)[5m:1m]", "(subquery (sum foo) [5m:1m])"),
    # Aggregations.
    ("sum by (foo)(some_metric)", "(sum by(foo) some_metric)"),
    ("sum (some_metric) without (foo)", "(sum without(foo) some_metric)"),
    ("sum by ()(some_metric)", "(sum some_metric)"),
    ("sum by (foo,bar,)(some_metric)", "(sum by(foo,bar) some_metric)"),
    ('sum by ("foo bar")({"some.metric"})', '(sum by(foo bar) {__name__="some.metric"})'),
    ("sum by (\"foo\", bar, 'baz')({\"some.metric\"})", '(sum by(foo,bar,baz) {__name__="some.metric"})'),
    ("sum without(and, by, avg, count, alert, annotations)(some_metric)",
     "(sum without(and,by,avg,count,alert,annotations) some_metric)"),
    ("sum by (anchored, smoothed, a:b)(x)", "(sum by(anchored,smoothed,a:b) x)"),
    ("topk(5, some_metric)", "(topk 5 some_metric)"),
    ('count_values("value", some_metric)', '(count_values "value" some_metric)'),
    ("quantile(0.9, x) by (le)", "(quantile by(le) 0.9 x)"),
    ("limitk(2, x)", "(limitk 2 x)"),
    ("limit_ratio(-0.5, x)", "(limit_ratio -0.5 x)"),
    ("stddev(some_metric)", "(stddev some_metric)"),
    ("SUM BY (group) (http_requests{job=\"api-server\"})", '(sum by(group) http_requests{job="api-server"})'),
    ("sum(sum)", "(sum sum)"),
    ("a + sum", "(+ a sum)"),
    ("group(x)", "(group x)"),
    # Function calls.
    ("time()", "(time())"),
    ('floor(some_metric{foo!="bar"})', '(floor() some_metric{foo!="bar"})'),
    ("round(some_metric, 5)", "(round() some_metric 5)"),
    ("hour()", "(hour())"),
    ('label_join(x, "d", ",", "a", "b", "c")', '(label_join() x "d" "," "a" "b" "c")'),
    ('sort_by_label(x)', "(sort_by_label() x)"),
    ('histogram_quantiles(x, "q", 0.1, 0.5, 0.9)', '(histogram_quantiles() x "q" 0.1 0.5 0.9)'),
    ("start()", "(start())"),
    ("end() - start()", "(- (end()) (start()))"),
    ("step()", "(step())"),
    ("range()", "(range())"),
    ("min_of(3, 5)", "(min_of() 3 5)"),
    ('info(rate(http_request_counter_total{}[5m]))', "(info() (rate() http_request_counter_total[5m]))"),
    ('info(m, {foo="bar", bar="baz"})', '(info() m {bar="baz",foo="bar"})'),
    ('info(m, {non_existent=~".*"})', '(info() m {non_existent=~".*"})'),
    ("vector(time())", "(vector() (time()))"),
    ("(sum(foo) by (bar))", "(paren (sum by(bar) foo))"),
]


@pytest.mark.parametrize("text,expected", CASES, ids=[c[0] for c in CASES])
def test_parse_structure(text: str, expected: str) -> None:
    assert tree(parse_expr(text)) == expected


TYPES = [
    ("1", ValueType.SCALAR),
    ('"s"', ValueType.STRING),
    ("foo", ValueType.VECTOR),
    ("foo[5m]", ValueType.MATRIX),
    ("foo[5m:1m]", ValueType.MATRIX),
    ("1 + 2", ValueType.SCALAR),
    ("1 + foo", ValueType.VECTOR),
    ("-(1 + 2)", ValueType.SCALAR),
    ("(foo[5m])", ValueType.MATRIX),
    ("scalar(foo)", ValueType.SCALAR),
    ("rate(foo[5m])", ValueType.VECTOR),
    ("sum(foo)", ValueType.VECTOR),
    ("time() > bool 1", ValueType.SCALAR),
    ("step()", ValueType.SCALAR),
]


@pytest.mark.parametrize("text,want", TYPES, ids=[t[0] for t in TYPES])
def test_static_types(text: str, want: ValueType) -> None:
    assert parse_expr(text).type is want


def test_vector_selector_fields() -> None:
    vs = parse_expr('foo{a="b", c=~"d.*"} offset -5m @ 100')
    assert isinstance(vs, VectorSelector)
    assert vs.name == "foo"
    assert vs.matchers == (Matcher.eq("a", "b"), Matcher.re("c", "d.*"), Matcher.eq("__name__", "foo"))
    assert vs.offset_ms == -300_000
    assert vs.at == 100_000
    assert vs.pos == (0, 37)
    inside = parse_expr('{"foo", a="b"}')
    assert inside.name is None
    assert inside.matchers == (Matcher.eq("__name__", "foo"), Matcher.eq("a", "b"))
    assert parse_expr("foo @ start()").at == "start"
    assert parse_expr("foo @ end()").at == "end"


def test_matrix_and_subquery_fields() -> None:
    m = parse_expr("foo[5m] offset 1m @ end() anchored")
    assert isinstance(m, MatrixSelector)
    assert (m.range_ms, m.range_expr) == (300_000, None)
    vs = m.vector_selector
    assert (vs.offset_ms, vs.at, vs.anchored, vs.smoothed) == (60_000, "end", True, False)
    sq = parse_expr("rate(x[1m])[1h:] offset 2m @ 5")
    assert isinstance(sq, SubqueryExpr)
    assert (sq.range_ms, sq.step_ms, sq.offset_ms, sq.at) == (3_600_000, None, 120_000, 5_000)
    assert isinstance(sq.expr, Call) and sq.expr.func == "rate"


def test_duration_expressions_keep_form_and_value() -> None:
    m = parse_expr("foo[5m+1m]")
    assert m.range_ms == 360_000
    assert m.range_expr == DurationExpr("+", NumberLiteral(300.0, True), NumberLiteral(60.0, True))
    dyn = parse_expr("foo[step()*2:max_of(step(), 1s)] offset -range()")
    assert dyn.range_ms is None and dyn.step_ms is None and dyn.offset_ms == 0
    resolved = resolve_durations(dyn, step_ms=15_000, range_ms=3_600_000)
    assert (resolved.range_ms, resolved.step_ms, resolved.offset_ms) == (30_000, 15_000, -3_600_000)
    assert resolve_durations(parse_expr("x[1h30m % 1h]"), 0, 0).range_ms == 1_800_000
    with pytest.raises(ValueError, match="duration must be greater than 0"):
        resolve_durations(parse_expr("x[step()]"), step_ms=0, range_ms=0)
    off = parse_expr("foo offset (20*(((((8 - 2) / 3) * 7s) % 4) + 8000ms))")
    assert off.offset_ms == 20 * (((((8 - 2) / 3) * 7) % 4) + 8) * 1000


def test_binary_expr_matching_normalised() -> None:
    e = parse_expr("a and b")
    assert e.matching == VectorMatching(Cardinality.MANY_TO_MANY)
    assert parse_expr("a + 1").matching is None
    assert parse_expr("a + on() 1").matching is None
    e = parse_expr("a * on(x) group_right(y) b")
    assert e.matching == VectorMatching(Cardinality.ONE_TO_MANY, True, ("x",), ("y",))
    assert parse_expr("a + b").matching == VectorMatching(Cardinality.ONE_TO_ONE)


def test_number_literal_folding_and_nan_equality() -> None:
    n = parse_expr("-5m")
    assert n == NumberLiteral(-300.0, True) and n.pos == (0, 3)
    assert parse_expr("NaN") == NumberLiteral(math.nan)
    assert math.isnan(parse_expr("nan").value)
    assert parse_expr("-(1)") == UnaryExpr("-", ParenExpr(NumberLiteral(1.0)))


def test_aggregate_and_call_fields() -> None:
    a = parse_expr('count_values("v", x) without (a, "b.c")')
    assert isinstance(a, AggregateExpr)
    assert (a.op, a.grouping, a.without) == ("count_values", ("a", "b.c"), True)
    assert a.param == StringLiteral("v")
    c = parse_expr('label_replace(x, "a", "b", "c", "d")')
    assert c.function.return_type is ValueType.VECTOR
    assert len(c.args) == 5


def test_positions_cover_source() -> None:
    text = 'sum by (job) (rate(http_requests_total{code="500"}[5m] offset 1m)) / 2'
    e = parse_expr(text)
    assert e.pos == (0, len(text))
    spans = {expr_to_string(n): text[n.pos[0] : n.pos[1]] for n in walk(e)}
    assert spans['rate(http_requests_total{code="500"}[5m] offset 1m)'] == (
        'rate(http_requests_total{code="500"}[5m] offset 1m)'
    )
    assert spans['http_requests_total{code="500"}[5m] offset 1m'] == 'http_requests_total{code="500"}[5m] offset 1m'
    assert spans["2"] == "2"


def test_options_disable_experimental_features() -> None:
    off = ParseOptions(False, False, False, False)
    for text, msg in [
        ("mad_over_time(x[5m])", 'function "mad_over_time" is not enabled'),
        ("limitk(1, x)", "limitk() is experimental and must be enabled with --enable-feature=promql-experimental-functions"),
        ("x[5m+1m]", "experimental duration expression is not enabled"),
        ("x offset step()", "experimental duration expression is not enabled"),
        ("x[5m] anchored", "anchored modifier is experimental and not enabled"),
        ("x smoothed", "smoothed modifier is experimental and not enabled"),
        ("a + fill(1) b", "binop fill modifiers are experimental and not enabled"),
    ]:
        with pytest.raises(ValueError) as info:
            parse_expr(text, off)
        assert info.value.message == msg, text
    assert parse_expr("x[5m] offset 1m", off).range_ms == 300_000


def test_matcher_types() -> None:
    vs = parse_expr('{a="1", b!="2", c=~"3", d!~"4"}')
    assert [m.type for m in vs.matchers] == [MatchType.EQ, MatchType.NEQ, MatchType.RE, MatchType.NRE]


def test_long_operator_chains() -> None:
    # Generated queries can chain thousands of terms; the left-deep tree must
    # not run into Python's recursion limit in the checker or the printer.
    text = " or ".join(f'up{{job="{i}"}}' for i in range(3000))
    e = parse_expr(text)
    assert e.op == "or" and e.pos == (0, len(text))
    assert expr_to_string(e) == text


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    text = "(" * 5000 + "1" + ")" * 5000
    with pytest.raises(ValueError):
        parse_expr(text)
    assert tree(parse_expr("(" * 50 + "1" + ")" * 50)).count("paren") == 50
