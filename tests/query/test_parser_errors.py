"""Invalid PromQL: the error message and position, Prometheus's ``{input, err}`` table.

``UPSTREAM`` holds the error cases of Prometheus's ``promql/parser/parse_test.go``
(message and start position copied from there; Prometheus counts bytes, all
inputs here are ASCII except one). ``OURS`` adds cases for rules the upstream
table does not cover, with the messages Prometheus's code produces for them.
Only the first error is compared: Prometheus reports ``errs[0]`` as well.
"""

from __future__ import annotations

import pytest

from query.parser import ParseError, parse_expr

UPSTREAM = [
    ('', 'no expression found in input', 0),
    ('# just a comment\n\n', 'no expression found in input', 0),
    ('1+', 'unexpected end of input', 2),
    ('.', "unexpected character: '.'", 0),
    ('2.5.', 'bad number or duration syntax: "2.5."', 0),
    ('100..4', 'bad number or duration syntax: "100.."', 0),
    ('0deadbeef', 'bad number or duration syntax: "0de"', 0),
    ('1 /', 'unexpected end of input', 3),
    ('*1', 'unexpected <op:*>', 0),
    ('(1))', "unexpected right parenthesis ')'", 4),
    ('((1)', 'unclosed left parenthesis', 4),
    ('(', 'unclosed left parenthesis', 1),
    ('1 and 1', 'set operator "and" not allowed in binary scalar expression', 0),
    ('1 == 1', 'comparisons between scalars must use BOOL modifier', 2),
    ('1 or 1', 'set operator "or" not allowed in binary scalar expression', 0),
    ('1 unless 1', 'set operator "unless" not allowed in binary scalar expression', 0),
    ('1 !~ 1', "unexpected character after '!': '~'", 2),
    ('1 =~ 1', "unexpected character after '=': '~'", 2),
    ('-"string"', 'unary expression only allowed on expressions of type scalar or instant vector, got "string"', 0),
    ('-test[5m]', 'unary expression only allowed on expressions of type scalar or instant vector, got "range vector"', 0),
    ('*test', 'unexpected <op:*>', 0),
    ('@@', 'unexpected <op:@>', 0),
    ('1 offset 1d', 'offset modifier must be preceded by an instant vector selector or range vector selector or a subquery', 0),
    ('foo offset 1s offset 2s', 'offset may not be set multiple times', 0),
    ('a - on(b) ignoring(c) d', 'unexpected <ignoring>', 10),
    ('foo and 1', 'set operator "and" not allowed in binary scalar expression', 0),
    ('1 or on(bar) foo', 'vector matching only allowed between instant vectors', 0),
    ('foo == on(bar) 10', 'vector matching only allowed between instant vectors', 0),
    ('foo + group_left(baz) bar', 'unexpected <group_left>', 6),
    ('foo and on(bar) group_left(baz) bar', 'no grouping allowed for "and" operation', 0),
    ('foo or on(bar) group_right(baz) bar', 'no grouping allowed for "or" operation', 0),
    ('http_requests{group="production"} + on(instance) group_left(job,instance) cpu_count{type="smp"}', 'label "instance" must not occur in ON and GROUP clause at once', 34),
    ('foo + bool bar', 'bool modifier can only be used on comparison operators', 4),
    ('foo + bool 10', 'bool modifier can only be used on comparison operators', 4),
    ('foo and bool 10', 'bool modifier can only be used on comparison operators', 4),
    ('foo @ +Inf', 'timestamp out of bounds for @ modifier: +Inf', 0),
    ('foo @ -Inf', 'timestamp out of bounds for @ modifier: -Inf', 0),
    ('foo @ NaN', 'timestamp out of bounds for @ modifier: NaN', 0),
    ('foo @ 9223372036854775808.000000', 'timestamp out of bounds for @ modifier: 9223372036854775808.000000', 0),
    ('{', 'unexpected end of input inside braces', 1),
    ('}', "unexpected character: '}'", 0),
    ('some{', 'unexpected end of input inside braces', 5),
    ('some}', "unexpected character: '}'", 4),
    ('some_metric{a=b}', 'unexpected identifier "b" in label matching, expected string', 14),
    ('some_metric{a:b="b"}', "unexpected character inside braces: ':'", 13),
    ('foo{a*"b"}', "unexpected character inside braces: '*'", 5),
    ('foo{a>="b"}', "unexpected character inside braces: '>'", 5),
    ('foo{gibberish}', 'unexpected "}" in label matching, expected label matching operator', 13),
    ('foo{1}', "unexpected character inside braces: '1'", 4),
    ('{}', 'vector selector must contain at least one non-empty matcher', 0),
    ('{x=""}', 'vector selector must contain at least one non-empty matcher', 0),
    ('{x=~".*"}', 'vector selector must contain at least one non-empty matcher', 0),
    ('{x!~".+"}', 'vector selector must contain at least one non-empty matcher', 0),
    ('{x!="a"}', 'vector selector must contain at least one non-empty matcher', 0),
    ('foo{__name__="bar"}', 'metric name must not be set twice: "foo" or "bar"', 0),
    ('foo{__name__= =}', 'unexpected "=" in label matching, expected string', 14),
    ('foo{,}', 'unexpected "," in label matching, expected identifier or "}"', 4),
    ('foo{__name__ == "bar"}', 'unexpected "=" in label matching, expected string', 14),
    ('foo{__name__="bar" lol}', 'unexpected identifier "lol" in label matching, expected "," or "}"', 19),
    ('foo{"a"=}', 'unexpected "}" in label matching, expected string', 8),
    ('foo[5mm]', 'bad number or duration syntax: "5mm"', 4),
    ('foo[5m1]', 'bad number or duration syntax: "5m1"', 4),
    ('foo[5m:1m1]', 'bad number or duration syntax: "1m1"', 7),
    ('foo[5y1hs]', 'unknown unit "hs" in duration "5y1hs"', 4),
    ('foo[5m1h]', 'not a valid duration string: "5m1h"', 4),
    ('foo[5m1m]', 'not a valid duration string: "5m1m"', 4),
    ('foo[0m]', 'duration must be greater than 0', 4),
    ('foo["5m"]', 'unexpected character in duration expression: \'"\'', 4),
    ('foo[]', 'unexpected "]" in subquery or range selector, expected number, duration, step(), or range()', 4),
    ('foo[-1]', 'duration must be greater than 0', 4),
    ('some_metric[5m] OFFSET 1mm', 'bad number or duration syntax: "1mm"', 23),
    ('some_metric[5m] OFFSET', 'unexpected end of input in offset, expected number, duration, step(), or range()', 22),
    ('some_metric OFFSET 1m[5m]', 'no offset modifiers allowed before range', 21),
    ('some_metric[5m] @', 'unexpected end of input in @, expected timestamp', 17),
    ('some_metric @ 1234 [5m]', 'no @ modifiers allowed before range', 19),
    ('some_metric @ start() [5m]', 'no @ modifiers allowed before range', 22),
    ('some_metric @ end()[5m]', 'no @ modifiers allowed before range', 19),
    ('some_metric offset step()[5m]', 'no offset modifiers allowed before range', 25),
    ('(foo + bar)[5m]', 'ranges only allowed for vector selectors', 11),
    ('sum by ("foo)(some_metric{})', 'unterminated quoted string', 8),
    ('sum without(==)(some_metric)', 'unexpected <op:==> in grouping opts, expected label', 12),
    ('sum without(,)(some_metric)', 'unexpected "," in grouping opts, expected label', 12),
    ('sum without(foo,,)(some_metric)', 'unexpected "," in grouping opts, expected label', 16),
    ('sum some_metric by (test)', 'unexpected identifier "some_metric"', 4),
    ('sum (some_metric) by test', 'unexpected identifier "test" in grouping opts, expected "("', 21),
    ('sum () by (test)', 'no arguments for aggregate expression provided', 0),
    ('MIN keep_common (some_metric)', 'unexpected identifier "keep_common"', 4),
    ('MIN (some_metric) keep_common', 'unexpected identifier "keep_common"', 18),
    ('sum (some_metric) without (test) by (test)', 'unexpected <by>', 33),
    ('sum without (test) (some_metric) by (test)', 'unexpected <by>', 33),
    ('topk(some_metric)', 'wrong number of arguments for aggregate expression provided, expected 2, got 1', 0),
    ('topk(some_metric,)', 'trailing commas not allowed in function call args', 16),
    ('topk(some_metric, other_metric)', 'expected type scalar in aggregation parameter, got instant vector', 5),
    ('count_values(5, other_metric)', 'expected type string in aggregation parameter, got scalar', 13),
    ('rate(some_metric[5m]) @ 1234', '@ modifier must be preceded by an instant vector selector or range vector selector or a subquery', 0),
    ('floor()', 'expected 1 argument(s) in call to "floor", got 0', 0),
    ('floor(some_metric, other_metric)', 'expected 1 argument(s) in call to "floor", got 2', 0),
    ('floor(1)', 'expected type instant vector in call to function "floor", got scalar', 6),
    ('hour(some_metric, some_metric, some_metric)', 'expected at most 1 argument(s) in call to "hour", got 3', 0),
    ('time(some_metric)', 'expected 0 argument(s) in call to "time", got 1', 0),
    ('non_existent_function_far_bar()', 'unknown function with name "non_existent_function_far_bar"', 0),
    ('rate(some_metric)', 'expected type range vector in call to function "rate", got instant vector', 5),
    ('-=', 'unexpected "="', 1),
    ('++-++-+-+-<', 'unexpected <op:<>', 10),
    ('e-+=/(0)', 'unexpected "="', 3),
    ('a>b()', 'unknown function with name "b"', 2),
    ('rate(avg)', 'expected type range vector in call to function "rate", got instant vector', 5),
    ('`\\``', 'unterminated raw string', 3),
    ('"\\', 'escape sequence not terminated', 0),
    ('"\\c"', "unknown escape sequence U+0063 'c'", 0),
    ('"\\x."', "illegal character U+002E '.' in escape sequence", 0),
    ('foo{bar="baz"}[', 'unexpected end of input in duration expression', 15),
    ('test[5d] OFFSET 10s [10m:5s]', 'subquery is only allowed on instant vector, got matrix instead', 0),
    ('(foo + bar{nm="val"})[5m:][10m:5s]', 'subquery is only allowed on instant vector, got matrix instead', 0),
    ('rate(food[1m])[1h] offset 1h', 'ranges only allowed for vector selectors', 14),
    ('rate(food[1m])[1h] @ 100', 'ranges only allowed for vector selectors', 14),
    ('info(rate(http_request_counter_total{}[5m]), target_info{foo="bar"})', 'expected label selectors only, got vector selector instead', 45),
    ('info(http_request_counter_total{namespace="zzz"}, {foo="bar"} == 1)', 'expected label selectors only', 50),
    ('foo[step]', 'unexpected "]" in subquery or range selector, expected number, duration, step(), or range()', 8),
    ('foo[step()/0d]', 'division by zero', 10),
    ('foo[5s/0d]', 'division by zero', 6),
    ('foo offset (4d/0)', 'division by zero', 14),
    ('foo[5s%0d]', 'modulo by zero', 6),
    ('foo offset 9.5e10', 'duration out of range', 11),
    ('foo[9.5e10]', 'duration out of range', 4),
    ('sum(', 'unclosed left parenthesis', 4),
    ('sum(rate(', 'unclosed left parenthesis', 9),
    ('foo[5s x 5s]', "unexpected character: 'x', expected ':'", 7),
    ('foo[5s s 5s]', "unexpected character: 's', expected ':'", 7),
    ('1[5m] smoothed', 'ranges only allowed for vector selectors', 1),
    ('1[5m] anchored', 'ranges only allowed for vector selectors', 1),
    ('label_replace(a, `b`, `c\ud800`, `d`, `.*`)', 'invalid UTF-8 rune', 22),
    ("9" * 309, 'error parsing number: strconv.ParseFloat: parsing "' + "9" * 309 + '": value out of range', 0),
]

OURS = [
    # Regular expressions are compiled at parse time (RE2), with Go's wording.
    ('foo{a=~"("}', "error parsing regexp: missing closing ): `^(?s:()$`", 4),
    ('foo{a=~"a**"}', "error parsing regexp: invalid nested repetition operator: `**`", 4),
    # Fill modifiers (experimental).
    ("a + fill(1) 2", "filling in missing series only allowed between instant vectors", 0),
    ("a and fill(1) b", "filling in missing series not allowed for set operators", 0),
    ("a + on(x) fill(1) 2", "vector matching only allowed between instant vectors", 0),
    # Modifiers on the wrong expression, or twice.
    ("foo @ 1 @ 2", "@ <timestamp> may not be set multiple times", 0),
    ("foo[5m] @ 1 @ 2", "@ <timestamp> may not be set multiple times", 0),
    ("sum(x) @ 5", "@ modifier must be preceded by an instant vector selector or range vector selector or a subquery", 0),
    ("(foo) anchored", "anchored modifier not implemented", 0),
    ("foo[5m:1m] anchored", "anchored modifier is not supported for subqueries", 0),
    ("foo[5m:1m] smoothed", "smoothed modifier is not supported for subqueries", 0),
    ("foo anchored smoothed", "anchored and smoothed modifiers cannot be used together", 0),
    ("foo[5m] smoothed anchored", "anchored and smoothed modifiers cannot be used together", 0),
    ("foo offset 1m offset 1m", "offset may not be set multiple times", 0),
    ("foo offset (1m) offset 1m", "offset may not be set multiple times", 0),
    ("foo[1m][1m]", "ranges only allowed for vector selectors", 7),
    ("1[5m:]", "subquery is only allowed on instant vector, got scalar instead", 0),
    # Durations.
    ("x[0]", "duration must be greater than 0", 2),
    ("x[5m:0s]", "duration must be greater than 0", 5),
    ("x[5m:-1m]", "duration must be greater than 0", 5),
    ("x[5m-5m]", "duration must be greater than 0", 2),
    ("x[1m:1m:1m]", "unexpected repeated colon in duration expression", 8),
    ("x[:1m]", "unexpected colon before duration in duration expression", 3),
    ("x offset 1e19", "duration out of range", 9),
    ("x[9223372036854775807ms]", "duration out of range", 2),
    ("foo offset bar", 'unexpected identifier "bar" in offset, expected number, duration, step(), or range()', 11),
    # Unterminated input.
    ('foo{a="b"', "unexpected end of input inside braces", 9),
    ("foo[5m", "unexpected end of input in duration expression", 6),
    ('"abc', "unterminated quoted string", 0),
    ("'abc\ndef'", "unterminated quoted string", 0),
    ("sum(a) by (x", "unclosed left parenthesis", 12),
    (")", "unexpected right parenthesis ')'", 1),
    ("]", "unexpected right bracket ']'", 0),
    ("foo[5m]]", "unexpected right bracket ']'", 7),
    # Escapes.
    ('"\\u12"', "illegal character U+0022 '\"' in escape sequence", 0),
    ('"\\ud800"', "escape sequence is an invalid Unicode code point", 0),
    ('"\\400"', "escape sequence is an invalid Unicode code point", 0),
    # Grouping.
    ("sum(a) by", 'unexpected end of input in grouping opts, expected "("', 9),
    ("sum(a) by (x y)", 'unexpected identifier "y" in grouping opts, expected "," or ")"', 13),
    ('sum by ("")(x)', 'invalid label name for grouping: ""', 8),
    ("sum by (a) foo", 'unexpected identifier "foo" in aggregation', 11),
    ("abs(x) by (y)", "unexpected <by>", 7),
    ("sum(x) without (a) by (b)", "unexpected <by>", 19),
    # Modifier keywords in the wrong place.
    ("foo offset", "unexpected end of input in offset, expected number, duration, step(), or range()", 10),
    ("foo @", "unexpected end of input in @, expected timestamp", 5),
    ("foo @ bar", 'unexpected identifier "bar" in @, expected timestamp', 6),
    ("a + bool on(b) c", "bool modifier can only be used on comparison operators", 2),
    ("a + group_left b", "unexpected <group_left>", 4),
    ("on", "unexpected <on>", 0),
    ("bool", "unexpected <bool>", 0),
    ("by(x)", 'unexpected "("', 2),
    # Label matching.
    ('foo{a="b",,}', 'unexpected "," in label matching, expected identifier or "}"', 10),
    ("foo{a}", 'unexpected "}" in label matching, expected label matching operator', 5),
    ("foo{=}", 'unexpected "=" in label matching, expected identifier or "}"', 4),
    ('foo{"a"}', 'metric name must not be set twice: "foo" or "a"', 0),
    ('{""}', "vector selector must contain at least one non-empty matcher", 0),
    ("x{a!b}", "unexpected character after '!' inside braces: 'b'", 3),
    # Function calls and types.
    ("info(x, 1)", 'expected type instant vector in call to function "info", got scalar', 0),
    ('info(x, y{a="b"})', "expected label selectors only, got vector selector instead", 8),
    ("info(x, rate(y[5m]))", "expected label selectors only", 8),
    ('label_replace(x, "a", "b", "c", 1)', 'expected type string in call to function "label_replace", got scalar', 32),
    ("histogram_quantile(x, 0.9)", 'expected type scalar in call to function "histogram_quantile", got instant vector', 19),
    ('vector("a")', 'expected type scalar in call to function "vector", got string', 7),
    ("round()", 'expected at least 1 argument(s) in call to "round", got 0', 0),
    ('label_join(x, "a")', 'expected at least 3 argument(s) in call to "label_join", got 2', 0),
    ("histogram_quantiles(x, \"q\", " + ", ".join(["0.5"] * 11) + ")",
     'expected at most 12 argument(s) in call to "histogram_quantiles", got 13', 0),
    ("foo[5m] + 1", "binary expression must contain only scalar and instant vector types", 0),
    ("1 + foo[5m]", "binary expression must contain only scalar and instant vector types", 4),
    ('"a" + 1', "binary expression must contain only scalar and instant vector types", 0),
    ('quantile("a", x)', "expected type scalar in aggregation parameter, got string", 9),
    ('sum("a")', "expected type instant vector in aggregation expression, got string", 4),
    ("sum(x[5m])", "expected type instant vector in aggregation expression, got range vector", 4),
    ("topk(1)", "wrong number of arguments for aggregate expression provided, expected 2, got 1", 0),
    ("RATE(x[5m])", 'unknown function with name "RATE"', 0),
    # Numbers.
    ("0x", 'error parsing number: strconv.ParseFloat: parsing "0x": invalid syntax', 0),
    ("1e", 'bad number or duration syntax: "1e"', 0),
    ("1__0", 'bad number or duration syntax: "1__"', 0),
    ("x[5q]", 'bad number or duration syntax: "5"', 2),
    ("== a", "unexpected <op:==>", 0),
    ("a ==", "unexpected end of input", 4),
]


@pytest.mark.parametrize("text,message,start", UPSTREAM, ids=[repr(c[0])[:50] for c in UPSTREAM])
def test_upstream_error_table(text: str, message: str, start: int) -> None:
    with pytest.raises(ParseError) as info:
        parse_expr(text)
    assert info.value.message == message
    assert info.value.position[0] == start
    assert 0 <= info.value.position[0] <= info.value.position[1] <= len(text)


@pytest.mark.parametrize("text,message,start", OURS, ids=[repr(c[0])[:50] for c in OURS])
def test_more_errors(text: str, message: str, start: int) -> None:
    with pytest.raises(ParseError) as info:
        parse_expr(text)
    assert (info.value.message, info.value.position[0]) == (message, start)


def test_error_string_and_type() -> None:
    with pytest.raises(ValueError) as info:
        parse_expr("foo +\n  *2")
    err = info.value
    assert isinstance(err, ParseError)
    assert str(err) == "2:3: parse error: unexpected <op:*>"
    assert err.position == (8, 9)
    assert err.query == "foo +\n  *2"
    with pytest.raises(ParseError) as info:
        parse_expr("")
    assert str(info.value) == "unknown position: parse error: no expression found in input"


def test_syntax_error_wins_over_later_lexer_error() -> None:
    # The lexer runs in step with the parser: an earlier syntax error is reported first.
    with pytest.raises(ParseError) as info:
        parse_expr("foo bar )))")
    assert info.value.message == 'unexpected identifier "bar"'
