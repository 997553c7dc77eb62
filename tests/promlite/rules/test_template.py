"""The alert template engine: Go text/template semantics and Prometheus's template functions.

Cases follow Prometheus's template tests (``template/template_test.go``) and
Go's ``text/template`` documentation; expected strings are what Prometheus
prints for the same template.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promlite.rules.template import (
    ALERT_TEMPLATE_DEFS,
    MAX_OUTPUT_BYTES,
    GoFunc,
    QuerySample,
    Template,
    TemplateError,
    check_alert_template,
    expand_alert,
    prometheus_funcs,
)
from promlite.rules.template_fmt import sprintf

EXT_URL = "http://testhost:9090/path/prefix"


def run(text: str, data=None, *, query_result=None, name: str = "test", missingkey: str = "zero") -> str:
    qr = list(query_result or [])
    funcs = prometheus_funcs(query=lambda _e: qr, ts_ms=0, external_url=EXT_URL)
    return Template.parse(name, text, missingkey=missingkey).execute(data, funcs)


def err(text: str, data=None, **kw) -> str:
    with pytest.raises(TemplateError) as ei:
        run(text, data, **kw)
    return str(ei.value)


METRIC_A = QuerySample({"__name__": "metric", "instance": "a"}, 11.0)
METRIC_B = QuerySample({"__name__": "metric", "instance": "b"}, 21.0)


# --------------------------------------------------------------------------- Prometheus's cases

PROMETHEUS_CASES = [
    ("plain text", None, None, "plain text"),
    ("{{ 1 }}", None, None, "1"),
    ('{{ "<b>" }}', None, None, "<b>"),
    ('{{ "<b>" | safeHtml }}', None, None, "<b>"),
    ('{{define "x"}}{{.arg0}} {{.arg1}}{{end}}{{template "x" (args 1 "2")}}', None, None, "1 2"),
    ('{{ query "1.5" | first | value }}', None, [QuerySample({}, 1.5)], "1.5"),
    ("{{ query \"metric{instance='a'}\" | first | value }}", None, [METRIC_A], "11"),
    ("{{ query \"metric{instance='a'}\" | first | label \"instance\" }}", None, [METRIC_A], "a"),
    ("{{ query \"metric{instance='a'}\" | first | label \"foo\" }}", None, [METRIC_A], ""),
    ('{{ $x := query "metric" | first }}{{ $x.Labels.foo }}', None, [METRIC_A], ""),
    ('{{ range query "metric" | sortByLabel "instance" }}{{.Labels.instance}}:{{.Value}}: {{end}}',
     None, [METRIC_B, METRIC_A], "a:11: b:21: "),
    ('{{ reReplaceAll "(a)b" "x$1" "ab" }}', None, None, "xa"),
    ("{{ range . }}{{ humanize . }}:{{ end }}", [0.0, 1.0, 1234567.0, 0.12], None, "0:1:1.235M:120m:"),
    ("{{ range . }}{{ humanize1024 . }}:{{ end }}", [0.0, 1.0, 1048576.0, 0.12], None, "0:1:1Mi:0.12:"),
    ("{{ range . }}{{ humanizeDuration . }}:{{ end }}",
     [0, 1, 60, 3600, 86400, 86400 + 3600, -(86400 * 2 + 3600 * 3 + 60 * 4 + 5), 899.99], None,
     "0s:1s:1m 0s:1h 0m 0s:1d 0h 0m 0s:1d 1h 0m 0s:-2d 3h 4m 5s:14m 59s:"),
    ("{{ range . }}{{ humanizeDuration . }}:{{ end }}", [0.1, 0.0001, 0.12345, 60.1, 60.5, 1.2345, 12.345],
     None, "100ms:100us:123.5ms:1m 0s:1m 0s:1.234s:12.35s:"),
    ("{{ range . }}{{ humanize . }}:{{ humanize1024 . }}:{{ humanizeDuration . }}:{{humanizeTimestamp .}}:{{ end }}",
     [math.inf, -math.inf, math.nan], None, "+Inf:+Inf:+Inf:+Inf:-Inf:-Inf:-Inf:-Inf:NaN:NaN:NaN:NaN:"),
    ("{{ -0.22222 | humanizePercentage }}:{{ 0.0 | humanizePercentage }}:{{ 0.1234567 | humanizePercentage }}:"
     "{{ 1.23456 | humanizePercentage }}", None, None, "-22.22%:0%:12.35%:123.5%"),
    ("{{ 1435065584.128 | humanizeTimestamp }}", None, None, "2015-06-23 13:19:44.128 +0000 UTC"),
    ('{{ "1435065584.128" | humanizeTimestamp }}', None, None, "2015-06-23 13:19:44.128 +0000 UTC"),
    ('{{ "aa bb CC" | title }}', None, None, "Aa Bb CC"),
    ('{{ "aa bb CC" | toUpper }}', None, None, "AA BB CC"),
    ('{{ "aA bB CC" | toLower }}', None, None, "aa bb cc"),
    ('{{ match "a+" "aa" }} {{ match "a+" "b" }}', None, None, "true false"),
    ('{{ graphLink "up" }}', None, None, "/graph?g0.expr=up&g0.tab=0"),
    ('{{ tableLink "up" }}', None, None, "/graph?g0.expr=up&g0.tab=1"),
    ('{{ graphLink "rate(x[5m]) > 1" }}', None, None, "/graph?g0.expr=rate%28x%5B5m%5D%29+%3E+1&g0.tab=0"),
    ('{{ define "a" }}x{{ end }}{{ $name := "a"}}{{ tmpl $name . }}', None, None, "x"),
    ("{{ pathPrefix }}", None, None, "/path/prefix"),
    ("{{ externalURL }}", None, None, EXT_URL),
    ('{{ "localhost:9090" | stripPort }}', None, None, "localhost"),
    ('{{ "localhost" | stripPort }}', None, None, "localhost"),
    ('{{ "127.0.0.1:9090" | stripPort }}', None, None, "127.0.0.1"),
    ('{{ "foo.example.com:12345" | stripPort }}', None, None, "foo.example.com"),
    ('{{ "[2001:0DB8::1]:12345" | stripPort }}', None, None, "2001:0DB8::1"),
    ('{{ "2001:0DB8::1" | stripPort }}', None, None, "2001:0DB8::1"),
    ('{{ "localhost:9090" | stripDomain }}', None, None, "localhost:9090"),
    ('{{ "foo.example.com" | stripDomain }}', None, None, "foo"),
    ('{{ "foo.example.com:12345" | stripDomain }}', None, None, "foo:12345"),
    ('{{ "192.0.2.1:12345" | stripDomain }}', None, None, "192.0.2.1:12345"),
    ('{{ "[2001:0DB8::1]:12345" | stripDomain }}', None, None, "[2001:0DB8::1]:12345"),
    ('{{ "2001:0DB8::1" | stripDomain }}', None, None, "2001:0DB8::1"),
    ('{{ "1h2m10ms" | parseDuration }}', None, None, "3720.01"),
    ('{{ parseDuration "0" }}', None, None, "0"),
    ("{{ 1435065584.128 | toTime }}", None, None, "2015-06-23 13:19:44.128 +0000 UTC"),
    ('{{ "1435065584.128" | toTime }}', None, None, "2015-06-23 13:19:44.128 +0000 UTC"),
    ("{{ (1435065584.128 | toTime).Unix }}", None, None, "1435065584"),
    ('{{ (1435065584.128 | toTime).Format "2006-01-02 15:04:05.000" }}', None, None, "2015-06-23 13:19:44.128"),
    ("{{ toTime 0 }}", None, None, "1970-01-01 00:00:00 +0000 UTC"),
    ("{{ (toTime 0).Month }} {{ (toTime 0).Weekday }} {{ printf \"%d %T\" (toTime 0).Month (toTime 0) }}",
     None, None, "January Thursday 1 *time.Time"),
    ('{{ (toTime 1435065584.128).Format "Mon Jan _2 03:04:05.999 PM MST 2006" }}', None, None,
     "Tue Jun 23 01:19:44.128 PM UTC 2015"),
    ("{{ humanizeTimestamp -1.5 }}", None, None, "1969-12-31 23:59:58.5 +0000 UTC"),
    ('{{ with query "x" }}{{ . | first | value }}{{ end }}', None, [METRIC_A], "11"),
    ('{{ with query "x" }}{{ . | first | value }}{{ else }}none{{ end }}', None, [], "none"),
    ('{{ range query "x" }}{{ .Labels.instance }},{{ end }}', None, [METRIC_A, METRIC_B], "a,b,"),
    ('{{ query "x" | first | strvalue }}', None, [QuerySample({"__value__": "v"}, 0.0)], "v"),
    ('{{ len (query "x") }}', None, [METRIC_A, METRIC_B], "2"),
    # an action prints the struct a pointer points to; fmt prints the pointer as &{...}
    ('{{ query "x" | first }}|{{ print (query "x" | first) }}', None, [METRIC_A],
     "{map[__name__:metric instance:a] 11}|&{map[__name__:metric instance:a] 11}"),
    # inputs of other Go types, as in Prometheus's tests (ints and numeric strings)
    ("{{ range . }}{{ humanize . }}:{{ end }}", ["0.0", "1.0", "1234567.0", ".12"], None, "0:1:1.235M:120m:"),
    ("{{ range . }}{{ humanize . }}:{{ end }}", [0, -1, 1, 1234567, 2**63 - 1], None, "0:-1:1:1.235M:9.223E:"),
    ("{{ range . }}{{ humanize . }}:{{ end }}", [2**64 - 1], None, "18.45E:"),
    ("{{ range . }}{{ humanize1024 . }}:{{ end }}", ["0.0", "1.0", "1048576.0", ".12"], None, "0:1:1Mi:0.12:"),
    ("{{ range . }}{{ humanize1024 . }}:{{ end }}", [0, -1, 1, 1234567, 2**63 - 1, 2**64 - 1], None,
     "0:-1:1:1.177Mi:8Ei:16Ei:"),
    ("{{ range . }}{{ humanizeDuration . }}:{{ end }}", ["0", "1", "60", "3600", "86400"], None,
     "0s:1s:1m 0s:1h 0m 0s:1d 0h 0m 0s:"),
    ("{{ range . }}{{ humanizeDuration . }}:{{ end }}", [".1", ".0001", ".12345", "60.1", "60.5", "1.2345", "12.345"],
     None, "100ms:100us:123.5ms:1m 0s:1m 0s:1.234s:12.35s:"),
    ("{{ range . }}{{ humanizeDuration . }}:{{ end }}", [0, -1, 1, 1234567], None, "0s:-1s:1s:14d 6h 56m 7s:"),
    ("{{ range . }}{{ humanize . }}:{{ humanize1024 . }}:{{ humanizeDuration . }}:{{humanizeTimestamp .}}:{{ end }}",
     ["+Inf", "-Inf", "NaN"], None, "+Inf:+Inf:+Inf:+Inf:-Inf:-Inf:-Inf:-Inf:NaN:NaN:NaN:NaN:"),
    ("{{ range . }}{{ humanizePercentage . }}:{{ end }}", [0, -1, 1, 1234567, 2**63 - 1], None,
     "0%:-100%:100%:1.235e+08%:9.223e+20%:"),
    ("{{ range . }}{{ humanizePercentage . }}:{{ end }}", [2**64 - 1], None, "1.845e+21%:"),
    ('{{ "-0.22222" | humanizePercentage }}:{{ "0.0" | humanizePercentage }}:{{ "0.1234567" | humanizePercentage }}',
     None, None, "-22.22%:0%:12.35%"),
    ("{{ range . }}{{ humanizeTimestamp . }}:{{ end }}", [0, -1, 1, 1234567, 9223372036], None,
     "1970-01-01 00:00:00 +0000 UTC:1969-12-31 23:59:59 +0000 UTC:1970-01-01 00:00:01 +0000 UTC:"
     "1970-01-15 06:56:07 +0000 UTC:2262-04-11 23:47:16 +0000 UTC:"),
    ('{{ ("1435065584.128" | toTime).Format "2006" }}', None, None, "2015"),
    ('{{ printf "%0.2f" (parseDuration "1h2m10ms") }}', None, None, "3720.01"),
    ('{{ "[2001:0DB8::1]::12345" | stripPort }}', None, None, "[2001:0DB8::1]::12345"),
    ('{{ "[2001:0DB8::1]::12345" | stripDomain }}', None, None, "[2001:0DB8::1]::12345"),
    ('{{ "192.0.2.1" | stripDomain }}', None, None, "192.0.2.1"),
    ("{{ .Foo }}", None, None, "<no value>"),
    ('{{ (index (query "x") 1).Labels.instance }}', None, [METRIC_A, METRIC_B], "b"),
]


@pytest.mark.parametrize(("text", "data", "qr", "want"), PROMETHEUS_CASES)
def test_prometheus_cases(text, data, qr, want):
    assert run(text, data, query_result=qr) == want


PROMETHEUS_ERRORS = [
    ("{{\u00a0}}", None, "template: test:1: unrecognized character in action: U+00A0"),
    ("{{", None, "template: test:1: unclosed action"),
    ('{{ query "missing" | first }}', [],
     'template: test:1:21: executing "test" at <first>: error calling first: '
     "first() called on vector with no elements"),
    ('{{ (query "missing").banana }}', [],
     'template: test:1:10: executing "test" at <"missing">: can\'t evaluate field banana in type '
     "template.queryResult"),
    ('{{ humanize "x" }}', None,
     'template: test:1:3: executing "test" at <humanize "x">: error calling humanize: '
     'strconv.ParseFloat: parsing "x": invalid syntax'),
    ('{{ humanizeDuration "1e999" }}', None,
     'template: test:1:3: executing "test" at <humanizeDuration "1e999">: error calling humanizeDuration: '
     'strconv.ParseFloat: parsing "1e999": value out of range'),
    ("{{ humanize true }}", None,
     'template: test:1:3: executing "test" at <humanize true>: error calling humanize: '
     "can't convert bool to float"),
    ("{{ toTime 1e30 }}", None,
     'template: test:1:3: executing "test" at <toTime 1e30>: error calling toTime: '
     "1e+30 cannot be represented as a nanoseconds timestamp since it overflows int64"),
    ('{{ "NaN" | toTime }}', None,
     'template: test:1:11: executing "test" at <toTime>: error calling toTime: value is NaN or Inf'),
    ('{{ "one" | humanizePercentage }}', None,
     'template: test:1:11: executing "test" at <humanizePercentage>: error calling humanizePercentage: '
     'strconv.ParseFloat: parsing "one": invalid syntax'),
    ("{{ range . }}{{ humanizeTimestamp . }}:{{ end }}", [-(2**63), 2**63 - 1],
     'template: test:1:16: executing "test" at <humanizeTimestamp .>: error calling humanizeTimestamp: '
     "-9.223372036854776e+18 cannot be represented as a nanoseconds timestamp since it overflows int64"),
    ("{{ range . }}{{ humanizeTimestamp . }}:{{ end }}", [2**64 - 1],
     'template: test:1:16: executing "test" at <humanizeTimestamp .>: error calling humanizeTimestamp: '
     "1.8446744073709552e+19 cannot be represented as a nanoseconds timestamp since it overflows int64"),
    ('{{ parseDuration "1y2x" }}', None,
     'template: test:1:3: executing "test" at <parseDuration "1y2x">: error calling parseDuration: '
     'unknown unit "x" in duration "1y2x"'),
]


@pytest.mark.parametrize(("text", "data", "want"), PROMETHEUS_ERRORS)
def test_prometheus_errors(text, data, want):
    assert err(text, data, query_result=[]) == want


def test_missingkey_error_on_nil_data():
    with pytest.raises(TemplateError) as ei:
        Template.parse("test", "{{ .Foo }}", missingkey="error").execute(None)
    assert str(ei.value) == 'template: test:1:3: executing "test" at <.Foo>: nil data; no entry for key "Foo"'


# --------------------------------------------------------------------------- humanize family

HUMANIZE = [
    ("humanize", 0.0, "0"), ("humanize", -0.0, "-0"), ("humanize", 1.0, "1"), ("humanize", 999.9, "999.9"),
    ("humanize", 999.99, "1000"), ("humanize", 1000.0, "1k"), ("humanize", 1234567.0, "1.235M"),
    ("humanize", -1234567.0, "-1.235M"), ("humanize", 0.001234, "1.234m"), ("humanize", 0.12, "120m"),
    ("humanize", 1e-30, "1e-06y"), ("humanize", 1e30, "1e+06Y"), ("humanize", 1e27, "1000Y"),
    ("humanize", 123456789012.0, "123.5G"), ("humanize", -0.000001, "-1u"), ("humanize", 5e-324, "4.941e-300y"),
    ("humanize", "1234567", "1.235M"), ("humanize", "0x10p0", "16"), ("humanize", "Inf", "+Inf"),
    ("humanize", "-inf", "-Inf"), ("humanize", "nan", "NaN"), ("humanize", 12, "12"), ("humanize", 100000, "100k"),
    ("humanize1024", 0.0, "0"), ("humanize1024", 1.0, "1"), ("humanize1024", -1.0, "-1"),
    ("humanize1024", 1024.0, "1ki"), ("humanize1024", 1048576.0, "1Mi"), ("humanize1024", 1023.0, "1023"),
    ("humanize1024", 1.5 * 1024**3, "1.5Gi"), ("humanize1024", -2048.0, "-2ki"), ("humanize1024", 0.5, "0.5"),
    ("humanize1024", 2.0**90, "1024Yi"), ("humanize1024", "1048576", "1Mi"),
    ("humanizeDuration", 0, "0s"), ("humanizeDuration", 3661, "1h 1m 1s"), ("humanizeDuration", "3661", "1h 1m 1s"),
    ("humanizeDuration", -3661.5, "-1h 1m 1s"), ("humanizeDuration", 59.999, "60s"),
    ("humanizeDuration", 1.0, "1s"), ("humanizeDuration", -0.5, "-500ms"), ("humanizeDuration", 1e-10, "100ps"),
    ("humanizeDuration", 86400 * 400, "400d 0h 0m 0s"), ("humanizeDuration", 0.0005, "500us"),
    ("humanizeDuration", math.nan, "NaN"), ("humanizeDuration", -math.inf, "-Inf"),
    ("humanizePercentage", 0.1234, "12.34%"), ("humanizePercentage", 0, "0%"), ("humanizePercentage", 1, "100%"),
    ("humanizePercentage", 0.5, "50%"), ("humanizePercentage", -0.001, "-0.1%"),
    ("humanizePercentage", 12345.0, "1.234e+06%"), ("humanizePercentage", math.nan, "NaN%"),
    ("humanizePercentage", math.inf, "+Inf%"), ("humanizePercentage", "0.25", "25%"),
    ("humanizeTimestamp", 0, "1970-01-01 00:00:00 +0000 UTC"),
    ("humanizeTimestamp", 1435065584.1, "2015-06-23 13:19:44.1 +0000 UTC"),
    ("humanizeTimestamp", 1435065584.0001, "2015-06-23 13:19:44 +0000 UTC"),
    ("humanizeTimestamp", math.inf, "+Inf"), ("humanizeTimestamp", math.nan, "NaN"),
]


@pytest.mark.parametrize(("fn", "arg", "want"), HUMANIZE)
def test_humanize_family(fn, arg, want):
    assert run("{{ " + fn + " . }}", arg) == want


# --------------------------------------------------------------------------- Go language

GO_CASES = [
    # literals
    ("{{ 1.5 }} {{ 1e6 }} {{ 1e3 }} {{ 0x10 }} {{ 0o17 }} {{ 017 }} {{ 0b101 }} {{ 1_000 }}", None,
     "1.5 1e+06 1000 16 15 15 5 1000"),
    ("{{ 'a' }} {{ '\\n' }} {{ -1 }} {{ +2 }} {{ .5 }} {{ 0x1p4 }}", None, "97 10 -1 2 0.5 16"),
    ('{{ "a\\tb\\x41\\u00e9\\101\\"" }}', None, 'a\tbAéA"'),
    ("{{ `raw\\n` }}", None, "raw\\n"),
    ("{{ true }} {{ false }}", None, "true false"),
    # printing Go values
    ("{{ . }}", 1e6, "1e+06"), ("{{ . }}", 0.5, "0.5"), ("{{ . }}", 1.0, "1"), ("{{ . }}", math.nan, "NaN"),
    ("{{ . }}", math.inf, "+Inf"), ("{{ . }}", -math.inf, "-Inf"), ("{{ . }}", 123456.7, "123456.7"),
    ("{{ . }}", 1234567.8, "1.2345678e+06"), ("{{ . }}", 1e-5, "1e-05"), ("{{ . }}", -0.0, "-0"),
    ("{{ . }}", [1, "a", 2.5], "[1 a 2.5]"), ("{{ . }}", {"b": 1, "a": [1, 2]}, "map[a:[1 2] b:1]"),
    ("{{ . }}", None, "<no value>"), ("{{ print . }}", None, "<nil>"), ("{{ .missing }}", {}, "<no value>"),
    # trim markers and comments
    ("a  {{- 1 -}}  b", None, "a1b"),
    ("a \n {{- 1 }} \n b", None, "a1 \n b"),
    ("a {{ 1 -}} \n\t b", None, "a 1b"),
    ("{{- 1 -}}", None, "1"),
    ("x {{- /* comment */ -}} y", None, "xy"),
    ("x {{/* multi\nline */}} y", None, "x  y"),
    ("{{-3}}", None, "-3"),
    # if / else if / else
    ("{{ if . }}yes{{ else }}no{{ end }}", 0, "no"),
    ("{{ if . }}yes{{ else }}no{{ end }}", 0.0, "no"),
    ("{{ if . }}yes{{ else }}no{{ end }}", math.nan, "yes"),
    ("{{ if . }}yes{{ else }}no{{ end }}", "", "no"),
    ("{{ if . }}yes{{ else }}no{{ end }}", [], "no"),
    ("{{ if . }}yes{{ else }}no{{ end }}", {}, "no"),
    ("{{ if . }}yes{{ else }}no{{ end }}", {"a": 1}, "yes"),
    ("{{ if eq . 1 }}one{{ else if eq . 2 }}two{{ else if eq . 3 }}three{{ else }}many{{ end }}", 2, "two"),
    ("{{ if eq . 1 }}one{{ else if eq . 2 }}two{{ else }}many{{ end }}", 9, "many"),
    ("{{ if and .a .b }}both{{ end }}{{ if or .a .b }}either{{ end }}", {"a": 1, "b": 0}, "either"),
    ("{{ if not .a }}no a{{ end }}", {}, "no a"),
    # with
    ("{{ with .a }}{{ . }}{{ else }}none{{ end }}", {"a": "x"}, "x"),
    ("{{ with .a }}{{ . }}{{ else }}none{{ end }}", {}, "none"),
    ("{{ with .a }}a{{ else with .b }}{{ . }}{{ else }}none{{ end }}", {"b": "B"}, "B"),
    ("{{ with $x := .a }}{{ $x }}{{ . }}{{ end }}", {"a": 5}, "55"),
    # range
    ("{{ range . }}[{{ . }}]{{ end }}", [1, 2, 3], "[1][2][3]"),
    ("{{ range $i, $x := . }}{{ $i }}={{ $x }};{{ end }}", ["a", "b"], "0=a;1=b;"),
    ("{{ range $x := . }}{{ $x }}{{ end }}", ["a", "b"], "ab"),
    ("{{ range $k, $v := . }}{{ $k }}:{{ $v }} {{ end }}", {"z": 1, "a": 2, "m": 3}, "a:2 m:3 z:1 "),
    ("{{ range . }}x{{ else }}empty{{ end }}", [], "empty"),
    ("{{ range . }}x{{ else }}empty{{ end }}", None, "empty"),
    ("{{ range . }}x{{ else }}empty{{ end }}", {}, "empty"),
    ("{{ range . }}{{ if eq . 3 }}{{ break }}{{ end }}{{ . }}{{ end }}", [1, 2, 3, 4], "12"),
    ("{{ range . }}{{ if eq . 2 }}{{ continue }}{{ end }}{{ . }}{{ end }}", [1, 2, 3], "13"),
    ("{{ range 3 }}{{ . }}{{ end }}", None, "012"),
    ("{{ range $i, $e := . }}{{ range $e }}{{ $i }}{{ . }}{{ end }}{{ end }}", [[1, 2], [3]], "010213"),
    # variables
    ("{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }}", None, "2"),
    ("{{ $x := 1 }}{{ if true }}{{ $x := 2 }}{{ $x }}{{ end }}{{ $x }}", None, "21"),
    ("{{ $x := 1 }}{{ range . }}{{ $x = . }}{{ end }}{{ $x }}", [5, 6], "6"),
    ("{{ range . }}{{ $.name }}{{ . }}{{ end }}", None, ""),
    ("{{ $.a }}{{ with .b }}{{ $.a }}{{ . }}{{ end }}", {"a": "A", "b": "B"}, "AAB"),
    ('{{ define "t" }}{{ $ }}{{ . }}{{ end }}{{ template "t" 7 }}', None, "77"),
    ('{{ define "t" }}[{{ . }}]{{ end }}{{ template "t" }}', "x", "[<no value>]"),
    ('{{ block "b" . }}default {{ . }}{{ end }}', "d", "default d"),
    ('{{ template `t` . }}{{ define "t" }}{{ .a }}{{ end }}', {"a": 1}, "1"),
    # pipelines, parentheses, fields
    ("{{ .a.b.c }}", {"a": {"b": {"c": "deep"}}}, "deep"),
    ("{{ (index . \"a\").b }}", {"a": {"b": 2}}, "2"),
    ('{{ "x" | printf "%s-%s" "y" }}', None, "y-x"),
    ('{{ printf "%s" (printf "%d" (len .)) }}', [1, 2], "2"),
    ("{{ .a | len }}", {"a": "héllo"}, "6"),
    # builtins
    ('{{ index . "k" }}|{{ index . "missing" }}', {"k": "v"}, "v|<no value>"),
    ("{{ index . 1 }} {{ index . 0 1 }}", [[1, 2], [3, 4]], "[3 4] 2"),
    ('{{ index "abc" 1 }}', None, "98"),
    ('{{ slice "abcdef" 1 3 }} {{ slice "abcdef" 2 }} {{ slice . 1 }}', [1, 2, 3], "bc cdef [2 3]"),
    ("{{ len . }}", {"a": 1, "b": 2}, "2"),
    ('{{ print 1 2 "a" "b" 3 nil }}', None, "1 2ab3 <nil>"),
    ('{{ println 1 "a" }}', None, "1 a\n"),
    ("{{ html . }}", "<a href='x'>&\"", "&lt;a href=&#39;x&#39;&gt;&amp;&#34;"),
    ("{{ js . }}", "a'b\"<c>&=\\\n", "a\\'b\\\"\\u003Cc\\u003E\\u0026\\u003D\\\\\\u000A"),
    ("{{ urlquery . }}", "a b&c/é~", "a+b%26c%2F%C3%A9~"),
    ("{{ html nil }}|{{ urlquery 1 2 }}|{{ js \"a\" 1 }}", None, "&lt;no value&gt;|1+2|a1"),
    ("{{ and 1 0 2 }} {{ and 1 2 }} {{ or 0 \"\" 3 }} {{ or 0 \"\" }} {{ not 0 }} {{ not 1 }}", None,
     "0 2 3  true false"),
    ("{{ and 1 .a.b }}", {}, "<no value>"),
    ("{{ eq 1 2 3 1 }} {{ eq \"a\" \"b\" }} {{ ne 1 2 }} {{ eq .x nil }}", {}, "true false true true"),
    ("{{ lt 1 2 }} {{ le 2 2 }} {{ gt 1.5 2.5 }} {{ ge \"b\" \"a\" }}", None, "true true false true"),
    ("{{ eq . 1.0 }} {{ gt . 0.5 }}", 1.0, "true true"),
    ("{{ 1 | printf \"%d\" }}", None, "1"),
    ("{{ title . }}", "hello wORLD-foo_bar don't", "Hello WORLD-Foo_bar Don't"),
    ("{{ toUpper . }}|{{ toLower . }}", "Straße ÉTÉ", "STRASSE ÉTÉ|straße été".replace("STRASSE", "STRAßE")),
    ('{{ reReplaceAll "a*" "X" "baaac" }}', None, "XbXcX"),
    ('{{ reReplaceAll "(?P<w>\\\\w+)@(\\\\w+)" "${2}:$w$$" "me@host" }}', None, "host:me$"),
    ('{{ reReplaceAll "(a)" "$1x" "a" }}|{{ reReplaceAll "(a)" "${1}x" "a" }}', None, "|ax"),
    ('{{ reReplaceAll "^(.+):\\\\d+$" "$1" "host:9100" }}', None, "host"),
    ('{{ reReplaceAll "x" "y" "" }}', None, ""),
    ('{{ reReplaceAll "|a" "X" "a" }}', None, "XaX"),  # Go moves on after an empty match (Python would say XXX)
    ('{{ reReplaceAll "" "-" "héllo" }}', None, "-h-é-l-l-o-"),
    ('{{ reReplaceAll "é" "$0-" "xéyé" }}', None, "xé-yé-"),
    ('{{ reReplaceAll "\\\\b" "|" "ab cd" }}', None, "|ab| |cd|"),
    ('{{ match "^a" "ba" }} {{ match "(?i)A" "a" }} {{ match "a.b" "a\\nb" }}', None, "false true false"),
]


@pytest.mark.parametrize(("text", "data", "want"), GO_CASES)
def test_go_semantics(text, data, want):
    assert run(text, data) == want


def test_missingkey_options():
    assert Template.parse("t", "{{ .a }}").execute({}) == "<no value>"
    assert Template.parse("t", "{{ .a }}", missingkey="zero").execute({}) == "<no value>"
    with pytest.raises(TemplateError, match='map has no entry for key "a"'):
        Template.parse("t", "{{ .a }}", missingkey="error").execute({})
    # Prometheus's labels are map[string]string: a missing label is "" under missingkey=zero
    out = expand_alert("[{{ $labels.nope }}][{{ .Labels.nope }}][{{ index $labels \"nope\" }}]",
                       name="__alert_A", labels={}, external_labels={}, external_url="", value=1.0,
                       ts_ms=0, query=None)
    assert out == "[][][]"


PRINTF = [
    ("%s|%5s|%-5s|%.2s", ["abc", "ab", "ab", "abc"], "abc|   ab|ab   |ab"),
    ("%d|%5d|%-5d|%05d|%+d|% d|%x|%X|%o|%O|%b|%#x|%c|%U", [42, 42, 42, -42, 42, 42, 255, 255, 8, 8, 5, 255, 65, 65],
     "42|   42|42   |-0042|+42| 42|ff|FF|10|0o10|101|0xff|A|U+0041"),
    ("%f|%.2f|%8.3f|%-8.1f|%e|%E|%.3e|%g|%G|%.3g|%v", [1.5, 3.14159, 2.0, 2.0, 1234.5678, 0.000123, 1e21, 1e21,
                                                       1e-7, 1234.5, 0.1],
     "1.500000|3.14|   2.000|2.0     |1.234568e+03|1.230000E-04|1.000e+21|1e+21|1E-07|1.23e+03|0.1"),
    ("%.4g|%.4g|%.4g|%.4g|%.4g", [1.0, 100000.0, 123456.0, 0.0001, 0.00001234], "1|1e+05|1.235e+05|0.0001|1.234e-05"),
    ("%f|%.1f|%5.1f|%v|%+.1f|%08.2f", [math.inf, -math.inf, math.nan, math.nan, math.inf, -1.5],
     "+Inf|-Inf|  NaN|NaN|+Inf|-0001.50"),
    ("%q|%q|%#q|%+q", ["a\"b\n", 97, "x", "é"], '"a\\"b\\n"|\'a\'|`x`|"\\u00e9"'),
    ("%t|%v|%T|%T|%T|%T", [True, False, 1, 1.0, "s", [1]], "true|false|int|float64|string|[]interface {}"),
    ("%x|% x|%X", ["hi", "hi", "é"], "6869|68 69|C3A9"),
    ("%v|%d|%s", [[1, 2], [1, 2], ["a", "b"]], "[1 2]|[1 2]|[a b]"),
    ("%v", [{"b": 2, "a": 1}], "map[a:1 b:2]"),
    ("%d|%s|%f|%t", ["x", 1, 1, 1], "%!d(string=x)|%!s(int=1)|%!f(int=1)|%!t(int=1)"),
    ("%d %d", [1], "1 %!d(MISSING)"),
    ("%d", [1, "a", 2.5], "1%!(EXTRA string=a, float64=2.5)"),
    ("100%%|%", [], "100%|%!(NOVERB)"),
    ("%z", [1], "%!z(int=1)"),
    ("%s", [None], "%!s(<nil>)"),
    ("%v", [None], "<nil>"),
    ("%#v|%+v|%+.1e", ["a\tb", 1.5, 12345.678], '"a\\tb"|+1.5|+1.2e+04'),
    ("%[2]d %[1]d", [1, 2], "2 1"),
    ("%*d|%-*d|%.*f", [4, 7, 3, 7, 2, 3.14159], "   7|7  |3.14"),
    ("%99999999d", [1], "%!(NOVERB)%!(EXTRA int=1)"),
    ("%*d", [10_000_000, 1], "%!(BADWIDTH)1"),
    ("%x|%.2x", [1.0, 1.5], "0x1p+00|0x1.80p+00"),
]


@pytest.mark.parametrize(("fmt", "args", "want"), PRINTF)
def test_printf_verbs(fmt, args, want):
    assert sprintf(fmt, args) == want


def test_printf_in_template():
    assert run('{{ printf "%.2f%%" . }}', 12.3456) == "12.35%"
    assert run('{{ printf "%s is %v" .a .b }}', {"a": "x", "b": 1.5}) == "x is 1.5"
    assert run('{{ printf "%d" 3 }}') == "3"


# --------------------------------------------------------------------------- errors

GO_ERRORS = [
    ("{{ end }}", "template: test:1: unexpected {{end}}"),
    ("{{ else }}", "template: test:1: unexpected {{else}}"),
    ("{{ if }}{{ end }}", "template: test:1: missing value for if"),
    ("{{ range }}{{ end }}", "template: test:1: missing value for range"),
    ("{{ }}", "template: test:1: missing value for command"),
    ("{{ foo }}", 'template: test:1: function "foo" not defined'),
    ("{{ call . }}", 'template: test:1: function "call" not defined'),
    ("{{ $x }}", 'template: test:1: undefined variable "$x"'),
    ("{{ if true }}{{ $y := 1 }}{{ end }}{{ $y }}", 'template: test:1: undefined variable "$y"'),
    ("a\n{{ if true }}", "template: test:2: unexpected EOF"),
    ("{{ . | 1 }}", "template: test:1: non executable command in pipeline stage 2"),
    ("{{ (1 }}", "template: test:1: unclosed left paren"),
    ("{{ ) }}", "template: test:1: unexpected right paren U+0029 ')'"),
    ("{{ 1x }}", 'template: test:1: bad number syntax: "1x"'),
    ('{{ "abc }}', "template: test:1: unterminated quoted string"),
    ("{{ `abc }}", "template: test:1: unterminated raw quoted string"),
    ('{{ "\\q" }}', "template: test:1: invalid syntax"),
    ("{{/* c */ }}", "template: test:1: comment ends before closing delimiter"),
    ("{{/* c ", "template: test:1: unclosed comment"),
    ('{{define "x"}}a{{end}}{{define "x"}}b{{end}}', 'template: test:1: template: multiple definition of template "x"'),
    ("{{ break }}", "template: test:1: {{break}} outside {{range}}"),
    ("{{ 99999999999999999999 }}", 'template: test:1: integer overflow: "99999999999999999999"'),
    ("{{ true.x }}", 'template: test:1: unexpected . after term "true"'),
    ('{{ define "b" }}x{{ end }}{{ block "b" . }}y{{ end }}', 'template: test:1: template: multiple definition of template "b"'),
    ("{{ $x, $y := 1 }}", "template: test:1: too many declarations in command"),
    ("{{ range $x, $y, $z := . }}{{ end }}", "template: test:1: too many declarations in range"),
    ("{{ $x=1 }}", "template: test:1: bad character U+003D '='"),
    ("{{ if 1 }}{{ else }}{{ else }}{{ end }}", "template: test:1: expected end; found {{else}}"),
    ("{{ template }}", 'template: test:1: unexpected "}}" in template clause'),
    ("{{ define \"a\" }}{{ else }}{{ end }}", "template: test:1: unexpected {{else}} in define clause"),
    ("{{ if true }}{{ define \"a\" }}{{ end }}{{ end }}", "template: test:1: unexpected <define> in command"),
]


@pytest.mark.parametrize(("text", "want"), GO_ERRORS)
def test_parse_errors(text, want):
    with pytest.raises(TemplateError) as ei:
        Template.parse("test", text)
    assert str(ei.value) == want


EXEC_ERRORS = [
    ('{{ template "nope" }}', None, 'template: test:1:12: executing "test" at <{{template "nope"}}>: '
     'template "nope" not defined'),
    ("{{ 1 2 }}", None, "template: test:1:3: executing \"test\" at <1>: can't give argument to non-function 1"),
    ("{{ nil }}", None, 'template: test:1:3: executing "test" at <nil>: nil is not a command'),
    ("{{ gt . 1 }}", 1.5, 'template: test:1:3: executing "test" at <gt . 1>: error calling gt: '
     "incompatible types for comparison"),
    ("{{ lt true false }}", None, 'template: test:1:3: executing "test" at <lt true false>: error calling lt: '
     "invalid type for comparison"),
    ("{{ eq 1 }}", None, 'template: test:1:3: executing "test" at <eq 1>: error calling eq: '
     "missing argument for comparison"),
    ("{{ eq . . }}", {"a": 1}, 'template: test:1:3: executing "test" at <eq . .>: error calling eq: '
     "non-comparable type map[a:1]: map[string]interface {}"),
    ("{{ humanize }}", None, 'template: test:1:3: executing "test" at <humanize>: '
     "wrong number of args for humanize: want 1 got 0"),
    ("{{ toUpper 1 }}", None, 'template: test:1:11: executing "test" at <1>: expected string; found 1'),
    ("{{ toUpper . }}", 1, 'template: test:1:11: executing "test" at <.>: wrong type for value; '
     "expected string; got int"),
    ("{{ index . 5 }}", [1], 'template: test:1:3: executing "test" at <index . 5>: error calling index: '
     "index out of range: 5"),
    ("{{ len 3 }}", None, 'template: test:1:3: executing "test" at <len 3>: error calling len: len of type int'),
    ("{{ range . }}{{ end }}", "abc", 'template: test:1:9: executing "test" at <.>: range can\'t iterate over abc'),
    # Go reports a field chain at its last-but-first field (the chain's position)
    ("line1\n  {{ .a.b }}", {"a": 1}, 'template: test:2:7: executing "test" at <.a.b>: '
     "can't evaluate field b in type int"),
    ('{{ define "t" }}{{ humanize "z" }}{{ end }}{{ template "t" }}',
     None, 'template: test:1:19: executing "t" at <humanize "z">: error calling humanize: '
     'strconv.ParseFloat: parsing "z": invalid syntax'),
    ('{{ "x" | safeHtml | toUpper }}', None, 'template: test:1:20: executing "test" at <toUpper>: '
     "wrong type for value; expected string; got template.HTML"),
    ('{{ reReplaceAll "(a" "X" "baaac" }}', None, 'template: test:1:3: executing "test" at '
     '<reReplaceAll "(a" "X" "baaac">: error calling reReplaceAll: regexp: Compile(`(a`): '
     "error parsing regexp: missing closing ): `(a`"),
    ('{{ match "[a" "x" }}', None, 'template: test:1:3: executing "test" at <match "[a" "x">: error calling '
     "match: error parsing regexp: missing closing ]: `[a`"),
    ('{{ .Labels.x }}', None, "<no value>"),
]


@pytest.mark.parametrize(("text", "data", "want"), EXEC_ERRORS)
def test_exec_errors(text, data, want):
    if not want.startswith("template:"):
        assert run(text, data) == want
        return
    assert err(text, data) == want


def test_query_error_and_missing_callback():
    def bad(_expr):
        raise ValueError("parse error: unexpected end of input")

    funcs = prometheus_funcs(query=bad, ts_ms=0)
    with pytest.raises(TemplateError, match="error calling query: parse error: unexpected end of input"):
        Template.parse("t", '{{ query "x(" }}').execute(None, funcs)
    with pytest.raises(TemplateError, match="error calling query: no query function available"):
        Template.parse("t", '{{ query "x" }}').execute(None, prometheus_funcs())
    # (labels, value) pairs are accepted from a callback too
    funcs = prometheus_funcs(query=lambda e: [({"instance": "i"}, 2.0)])
    assert Template.parse("t", '{{ range query "up" }}{{ .Labels.instance }}={{ .Value }}{{ end }}').execute(
        None, funcs) == "i=2"


# --------------------------------------------------------------------------- alert expansion


def test_expand_alert():
    labels = {"__name__": "up", "instance": "host.example.com:9100", "job": "node"}
    text = ("{{ $labels.instance | stripPort }} of {{ .Labels.job }} down: value={{ $value }} "
            "({{ $value | humanizePercentage }}) env={{ $externalLabels.env }} {{ $externalURL }}")
    out = expand_alert(text, name="__alert_InstanceDown", labels=labels, external_labels={"env": "prod"},
                       external_url="http://prom:9090", value=0.5, ts_ms=1_000, query=None)
    assert out == "host.example.com of node down: value=0.5 (50%) env=prod http://prom:9090"


@pytest.mark.parametrize(("value", "want"), [(1.0, "1"), (0.5, "0.5"), (1e6, "1e+06"), (math.nan, "NaN"),
                                             (math.inf, "+Inf"), (-math.inf, "-Inf"), (1234567.0, "1.234567e+06"),
                                             (0.1 + 0.2, "0.30000000000000004")])
def test_alert_value_prints_like_go(value, want):
    assert expand_alert("{{ $value }}", name="__alert_A", labels={}, external_labels={}, external_url="",
                        value=value, ts_ms=0, query=None) == want


def test_expand_alert_query_and_now():
    seen = []

    def q(expr):
        seen.append(expr)
        return [QuerySample({"instance": "b"}, 2.0), QuerySample({"instance": "a"}, 1.0)]

    text = ('{{ range query (printf "up{job=%q}" $labels.job) | sortByLabel "instance" }}'
            "{{ .Labels.instance }}:{{ .Value }} {{ end }}{{ now | humanizeTimestamp }}")
    out = expand_alert(text, name="__alert_A", labels={"job": "node"}, external_labels={}, external_url="",
                       value=1.0, ts_ms=1435065584128, query=q)
    assert out == "a:1 b:2 2015-06-23 13:19:44.128 +0000 UTC"
    assert seen == ['up{job="node"}']


def test_expand_alert_error_shape():
    with pytest.raises(TemplateError) as ei:
        expand_alert('{{ humanize "x" }}', name="__alert_HighLatency", labels={}, external_labels={},
                     external_url="", value=1.0, ts_ms=0, query=None)
    col = len(ALERT_TEMPLATE_DEFS) + 3
    assert str(ei.value) == (f'template: __alert_HighLatency:1:{col}: executing "__alert_HighLatency" at '
                             '<humanize "x">: error calling humanize: strconv.ParseFloat: parsing "x": '
                             "invalid syntax")


def test_expander_message_as_prometheus_reports_it():
    kw = dict(name="__alert_A", labels={}, external_labels={}, external_url="", value=1.0, ts_ms=0, query=None)
    with pytest.raises(TemplateError) as ei:
        expand_alert("{{ nope }}", **kw)
    assert ei.value.phase == "parsing"
    assert ei.value.expander_message == 'error parsing template __alert_A: template: __alert_A:1: function "nope" not defined'
    with pytest.raises(TemplateError) as ei:
        expand_alert('{{ query "x" }}', **kw)
    assert ei.value.expander_message.startswith("error executing template __alert_A: template: __alert_A:1:")


def test_expand_alert_path_prefix():
    kw = dict(name="__alert_A", labels={}, external_labels={}, value=1.0, ts_ms=0, query=None)
    assert expand_alert("{{ pathPrefix }}", external_url="http://h:9090/prom", **kw) == "/prom"
    assert expand_alert("{{ pathPrefix }}", external_url="http://h:9090/prom", path_prefix="/x", **kw) == "/x"


def test_check_alert_template():
    assert check_alert_template("__alert_A", "{{ $labels.instance }}") is None
    assert check_alert_template("__alert_A", "{{ $labels.instance") == "template: __alert_A:1: unclosed action"
    assert check_alert_template("__alert_A", "{{ nope }}") == 'template: __alert_A:1: function "nope" not defined'
    # tmpl only exists in console templates, as in Prometheus
    assert check_alert_template("__alert_A", '{{ tmpl "x" . }}') == 'template: __alert_A:1: function "tmpl" not defined'


def test_user_funcs_and_template_reuse():
    t = Template.parse("t", "{{ double . }}|{{ .A }}", funcs={"double"})

    class Obj:
        A = "attr"

    out = t.execute(Obj(), {"double": lambda v: "x2"})
    assert out == "x2|attr"
    # GoFunc adds Go's argument checks
    with pytest.raises(TemplateError, match="wrong number of args for double: want 2 got 1"):
        t.execute(Obj(), {"double": GoFunc(lambda a, b: a, ("any", "any"))})
    # a function raising is an "error calling" error
    with pytest.raises(TemplateError, match="error calling double: boom"):
        t.execute(Obj(), {"double": GoFunc(lambda a: 1 / 0 if False else (_ for _ in ()).throw(
            RuntimeError("boom")), ("any",))})


# --------------------------------------------------------------------------- limits


def test_template_cycle_is_an_error():
    text = '{{ define "a" }}{{ template "b" . }}{{ end }}{{ define "b" }}{{ template "a" . }}{{ end }}{{ template "a" }}'
    with pytest.raises(TemplateError, match=r"exceeded maximum template depth \(100\)"):
        run(text)


def test_tmpl_cycle_is_an_error():
    with pytest.raises(TemplateError, match="exceeded maximum template depth"):
        run('{{ define "a" }}{{ tmpl "a" . }}{{ end }}{{ tmpl "a" . }}')


def test_deep_nesting_is_an_error():
    deep_if = "{{ if true }}" * 150 + "x" + "{{ end }}" * 150
    with pytest.raises(TemplateError, match="max depth exceeded"):
        Template.parse("t", deep_if)
    deep_paren = "{{ " + "(" * 200 + "1" + ")" * 200 + " }}"
    with pytest.raises(TemplateError, match="max depth exceeded"):
        Template.parse("t", deep_paren)
    ok = "{{ if true }}" * 50 + "x" + "{{ end }}" * 50
    assert run(ok) == "x"


def test_output_is_bounded():
    with pytest.raises(TemplateError, match="output exceeds"):
        run("{{ range . }}" + "x" * 1024 + "{{ end }}", list(range(2000)))
    with pytest.raises(TemplateError, match="exceeds"):
        run('{{ $s := "xxxxxxxxxxxxxxxx" }}{{ range 40 }}{{ $s = printf "%s%s" $s $s }}{{ end }}')
    t = Template.parse("t", "{{ . }}")
    assert t.execute("y" * 100, max_output=100) == "y" * 100
    with pytest.raises(TemplateError, match="output exceeds 99 bytes"):
        t.execute("y" * 100, max_output=99)
    assert MAX_OUTPUT_BYTES == 1 << 20


def test_regex_replace_is_linear():
    # 100k matches: re2's search(str, pos) re-encodes the string per call (quadratic); bytes do not
    assert run('{{ reReplaceAll "a" "b" . }}', "a" * 100_000) == "b" * 100_000
    with pytest.raises(TemplateError, match="result exceeds 1048576 bytes"):
        run('{{ reReplaceAll "" "xx" . }}', "a" * 400_000)


def test_steps_are_bounded():
    with pytest.raises(TemplateError, match="steps"):
        run("{{ range 100000000 }}{{ end }}")
    # work on large strings is charged too: 100k x len of 1 MiB would otherwise take minutes
    with pytest.raises(TemplateError, match="execution exceeded 1000000 steps"):
        run("{{ $s := . }}{{ range 100000 }}{{ len $s }}{{ end }}", "x" * (1 << 20))


# --------------------------------------------------------------------------- fuzz

_PIECES = st.sampled_from([
    "{{", "}}", "{{-", "-}}", " ", "\n", ".", "$", "$x", ":=", "=", "|", "(", ")", '"', "`", "'", "/*", "*/",
    "if", "else", "end", "range", "with", "define", "template", "block", "break", "continue", "nil", "true",
    "1", "-1", "1.5e3", "0x1F", "'a'", '"s"', "`r`", ".a", ".A.b", "$.x", "len", "index", "printf", "print",
    "humanize", "query", "first", "value", "eq", "lt", "and", "or", "not", ",", "\u00a0", "é", "\\",
])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=60), st.lists(_PIECES, max_size=30).map("".join)))
def test_fuzz_parse_and_execute_raise_only_template_error(text):
    try:
        t = Template.parse("fuzz", text)
    except TemplateError:
        return
    funcs = prometheus_funcs(query=lambda e: [QuerySample({"a": "1"}, 1.0)], ts_ms=0)
    try:
        t.execute({"a": [1, 2], "A": {"b": "c"}, "x": 1.5}, funcs, max_output=10_000)
    except TemplateError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="%sdvfegqxXt.0123456789-+# *[]", max_size=20),
       st.lists(st.one_of(st.integers(), st.floats(), st.text(max_size=5), st.booleans(), st.none()), max_size=4))
def test_fuzz_sprintf_never_raises(fmt, args):
    assert isinstance(sprintf(fmt, args), str)
