"""``promlite check rules`` and ``promlite test rules`` against promtool's verdicts and messages.

The cases are our own, modelled on promtool's test data (``cmd/promtool/testdata``
in the Prometheus repository: ``rules.yml``, ``unittest.yml``, ``failing.yml``,
``bad-input-series.yml``, ``bad-rules-error-test.yml``, ``bad-promql.yml``,
``long-period.yml``, ``rules_run*.yml``, ``rules_duplicates.yml``,
``no-test-group-interval.yml``, ...). Where ``promtool`` is installed (Debian's
``prometheus`` package, 2.42 here) each case is also run through the real
``promtool`` on the same files and must get the same exit code and, where the
text is stable, the same messages. Prometheus 3 semantics win where 2.42
differs; those cases say so and check promtool only where it agrees:

* left-open range and lookback windows (3.0): a sample exactly one window old
  is out, so the cases stay off those boundaries;
* a test group without ``interval`` loads its series at the evaluation
  interval (2.42 loads them all at 0);
* group ``labels``, ``fuzzy_compare``, ``--run``, ``--diff`` and rules from
  standard input do not exist in 2.42;
* rule-file error locations are ``file:line:`` (2.42: ``file: line:col:``).
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from _requirements import require_tool

from promlite.rules.promtool import check_rules, go_float_E, go_labels, go_time_duration, test_rules


def _write(d: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (d / name).write_text(textwrap.dedent(text).lstrip("\n"))


def _in(d: Path, fn, *args, **kw) -> tuple[int, str, str]:
    """Run ``fn`` in directory ``d`` (file names in messages are then relative, as promtool's are)."""
    out, err = io.StringIO(), io.StringIO()
    cwd = os.getcwd()
    os.chdir(d)
    try:
        rc = fn(list(args), out=out, err=err, **kw)
    finally:
        os.chdir(cwd)
    return rc, out.getvalue(), err.getvalue()


def _ours_check(d: Path, *args: str, **kw) -> tuple[int, str, str]:
    return _in(d, check_rules, *args, **kw)


def _ours_test(d: Path, *args: str, **kw) -> tuple[int, str, str]:
    return _in(d, test_rules, *args, **kw)


def _promtool(d: Path, *args: str) -> tuple[int, str, str]:
    tool = require_tool("promtool")
    p = subprocess.run([tool, *args], cwd=d, capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


RULES = """
    # modelled on promtool's testdata/rules.yml
    groups:
      - name: alerts
        rules:
          - alert: InstanceDown
            expr: up == 0
            for: 5m
            labels:
              severity: page
            annotations:
              summary: "Instance {{ $labels.instance }} down"
              description: "{{ $labels.instance }} ({{ $labels.job }}) unreachable for 5m"
          - alert: AlwaysFiring
            expr: 1

      - name: rules
        rules:
          - record: job:test:count_over_time1m
            expr: sum without(instance) (count_over_time(test[1m]))
          # a recording rule that doesn't depend on input series
          - record: fixed_data
            expr: 1
"""


# -- formatting helpers ---------------------------------------------------------------------------


def test_go_formatting():
    assert go_float_E(1) == "1E+00" and go_float_E(0) == "0E+00" and go_float_E(-0.0) == "-0E+00"
    assert go_float_E(61) == "6.1E+01" and go_float_E(1e-5) == "1E-05" and go_float_E(9218880000) == "9.21888E+09"
    assert go_float_E(float("nan")) == "NaN" and go_float_E(float("-inf")) == "-Inf"
    assert go_float_E(2.9999999999999996) == "2.9999999999999996E+00"
    assert go_labels((("job", "a"), ("__name__", "x"), ("a.b", 'q"'))) == '{__name__="x", "a.b"="q\\"", job="a"}'
    assert [go_time_duration(m) for m in (0, 999, 1000, 60_000, 3_600_000, 3_601_500)] == \
        ["0s", "999ms", "1s", "1m0s", "1h0m0s", "1h0m1.5s"]


# -- check rules ----------------------------------------------------------------------------------


def test_check_rules_success(tmp_path):
    _write(tmp_path, {"rules.yml": RULES})
    rc, out, err = _ours_check(tmp_path, "rules.yml")
    assert (rc, out, err) == (0, "Checking rules.yml\n  SUCCESS: 4 rules found\n\n", "")
    assert _promtool(tmp_path, "check", "rules", "rules.yml") == (rc, out, err)


DUPLICATES = """
    # modelled on promtool's testdata/rules_duplicates.yml
    groups:
      - name: base
        rules:
          - record: job:test:count_over_time1m
            expr: sum without(instance) (count_over_time(test[1m]))
          - record: fixed_data
            expr: 1
          - record: job:test:count_over_time1m
            expr: sum without(instance) (count_over_time(test[5m]))
          - record: c
            expr: 1
            labels: {z: "1", a: "2"}
      - name: duplicate
        rules:
          - record: job:test:count_over_time1m
            expr: sum without(instance) (count_over_time(test[1m]))
          - alert: c
            expr: vector(1)
            labels: {a: "2", z: "1"}
          - record: c
            expr: 2
            labels: {a: "2"}
"""

DUP_MESSAGE = """  FAILED:
lint error 2 duplicate rule(s) found.
Metric: c
Label(s):
\ta: 2
\tz: 1
Metric: job:test:count_over_time1m
Label(s):
Might cause inconsistency while recording expressions
"""


@pytest.mark.parametrize("flags,want_rc,want_out,want_err", [
    ((), 0, "Checking dup.yml\n\n", DUP_MESSAGE),
    (("--lint-fatal",), 3, "Checking dup.yml\n\n", DUP_MESSAGE),
    (("--lint=all", "--lint-fatal"), 3, "Checking dup.yml\n\n", DUP_MESSAGE),
    (("--lint=none", "--lint-fatal"), 0, "Checking dup.yml\n  SUCCESS: 7 rules found\n\n", ""),
], ids=["lint-not-fatal", "lint-fatal", "lint-all", "lint-none"])
def test_check_rules_duplicate_lint(tmp_path, flags, want_rc, want_out, want_err):
    _write(tmp_path, {"dup.yml": DUPLICATES})
    kw = {"lint_fatal": "--lint-fatal" in flags}
    for f in flags:
        if f.startswith("--lint="):
            kw["lint"] = f.split("=", 1)[1]
    assert _ours_check(tmp_path, "dup.yml", **kw) == (want_rc, want_out, want_err)
    assert _promtool(tmp_path, "check", "rules", *flags, "dup.yml") == (want_rc, want_out, want_err)


def test_check_rules_duplicates_merge_group_labels(tmp_path):
    """Prometheus 3: a group's labels count (2.42 has no group labels; it rejects the file)."""
    _write(tmp_path, {"g.yml": """
        groups:
          - name: a
            labels: {team: x}
            rules:
              - record: r
                expr: 1
          - name: b
            rules:
              - record: r
                expr: 1
                labels: {team: x}
              - record: r
                expr: 1
                labels: {team: y}
    """})
    rc, out, err = _ours_check(tmp_path, "g.yml", lint_fatal=True)
    assert rc == 3
    assert err == "  FAILED:\nlint error 1 duplicate rule(s) found.\nMetric: r\nLabel(s):\n\tteam: x\n" \
                  "Might cause inconsistency while recording expressions\n"


BAD_RULES = """
    groups:
      - name: a
        rules:
          - record: job:x
            expr: sum(up
          - record: job:y
            expr: up
            annotations: {a: b}
          - alert: A
            expr: up
            labels: {__name__: x}
          - expr: up
      - name: a
        rules: []
"""


def test_check_rules_errors(tmp_path):
    """Every problem of a file is listed; exit 1. Locations are ``file:line:`` (promtool 2.42: ``file: l:c:``)."""
    _write(tmp_path, {"bad.yml": BAD_RULES, "rules.yml": RULES})
    rc, out, err = _ours_check(tmp_path, "bad.yml", "rules.yml")
    assert rc == 1
    assert out == "Checking bad.yml\nChecking rules.yml\n  SUCCESS: 4 rules found\n\n"
    lines = err.splitlines()
    assert lines[0] == "  FAILED:"
    what = [re.sub(r"^bad\.yml:\d+: ", "", x) for x in lines[1:]]
    want = [
        'group "a", rule 1, "job:x": could not parse expression: 1:7: parse error: unclosed left parenthesis',
        'group "a", rule 2, "job:y": invalid field \'annotations\' in recording rule',
        'group "a", rule 3, "A": invalid label name: __name__',
        'group "a", rule 4, "": one of \'record\' or \'alert\' must be set',
        'groupname: "a" is repeated in the same file',
    ]
    assert what == want
    p_rc, p_out, p_err = _promtool(tmp_path, "check", "rules", "bad.yml", "rules.yml")
    assert p_rc == 1
    # promtool: 'bad.yml: 5:17: group ...' (and a group-level error has no location)
    p_what = [re.sub(r"^bad\.yml: (\d+:\d+: )?", "", x) for x in p_err.splitlines()[1:]]
    assert sorted(p_what) == sorted(want)


def test_check_rules_from_stdin(tmp_path):
    """Prometheus 3 reads standard input when no file is given (2.42 requires a file)."""
    rc, out, err = _ours_check(tmp_path, stdin=textwrap.dedent(RULES).encode())
    assert (rc, out, err) == (0, "Checking standard input\n  SUCCESS: 4 rules found\n\n", "")
    rc, out, err = _ours_check(tmp_path, stdin=b"groups:\n  - name: g\n    rules:\n      - record: x\n")
    assert rc == 1 and out == "Checking standard input\n"
    assert err == "  FAILED:\n4: group \"g\", rule 1, \"x\": field 'expr' must be set in rule\n"


def test_check_rules_missing_file(tmp_path):
    rc, out, err = _ours_check(tmp_path, "nothere.yml")
    assert rc == 1 and out == "" and "path 'nothere.yml' does not exist" in err
    p_rc, _, p_err = _promtool(tmp_path, "check", "rules", "nothere.yml")
    assert p_rc == 1 and "path 'nothere.yml' does not exist" in p_err


# -- test rules: passing --------------------------------------------------------------------------

PASSING = """
    # modelled on promtool's testdata/unittest.yml, off the window boundaries that 3.0 made left-open
    rule_files:
      - rules.yml

    evaluation_interval: 1m

    tests:
      - interval: 1m
        input_series:
          - series: test_full
            values: "0 0"
          - series: test_stale
            values: "0 stale"
          - series: test_missing
            values: "0 _ _ _ _ _ _ 0"
          - series: test_repeat
            values: "1x2"
          - series: test_increase
            values: "1+1x2 _x2 10-2x1"
        promql_expr_test:
          - expr: timestamp(test_full)
            eval_time: 0m
            exp_samples:
              - value: 0
          - expr: timestamp(test_full)
            eval_time: 2m
            exp_samples:
              - value: 60
          - expr: test_stale
            eval_time: 59s
            exp_samples:
              - value: 0
                labels: "test_stale"
          - expr: test_stale
            eval_time: 1m
            exp_samples: []
          - expr: timestamp(test_missing)
            eval_time: 4m59s
            exp_samples:
              - value: 0
          - expr: timestamp(test_missing)
            eval_time: 5m1s
            exp_samples: []
          - expr: test_repeat
            eval_time: 2m
            exp_samples:
              - value: 1
                labels: test_repeat
          - expr: test_increase
            eval_time: 6m
            exp_samples:
              - value: 8
                labels: test_increase
          - expr: sum(test_increase) + 0.5
            eval_time: 2m
            exp_samples:
              - value: 3.5

      - input_series:
          - series: test
            values: 1
        promql_expr_test:
          - expr: test
            eval_time: 0
            exp_samples:
              - value: 1
                labels: test

      # recording rules run without input series
      - promql_expr_test:
          - expr: count_over_time(fixed_data[1h])
            eval_time: 59m30s
            exp_samples:
              - value: 60
          - expr: timestamp(fixed_data)
            eval_time: 1h
            exp_samples:
              - value: 3600

      - interval: 1m
        name: alerts
        input_series:
          - series: 'up{job="prometheus", instance="localhost:9090"}'
            values: "0+0x1440"
        promql_expr_test:
          - expr: count(ALERTS) by (alertname, alertstate)
            eval_time: 4m
            exp_samples:
              - labels: '{alertname="AlwaysFiring",alertstate="firing"}'
                value: 1
              - labels: '{alertname="InstanceDown",alertstate="pending"}'
                value: 1
          - expr: ALERTS_FOR_STATE
            eval_time: 10m
            exp_samples:
              - labels: 'ALERTS_FOR_STATE{alertname="AlwaysFiring"}'
                value: 0
              - labels: 'ALERTS_FOR_STATE{alertname="InstanceDown",instance="localhost:9090",job="prometheus",severity="page"}'
                value: 0
        alert_rule_test:
          - eval_time: 1d
            alertname: AlwaysFiring
            exp_alerts:
              - {}
          - eval_time: 1d
            alertname: InstanceDown
            exp_alerts:
              - exp_labels:
                  severity: page
                  instance: localhost:9090
                  job: prometheus
                exp_annotations:
                  summary: "Instance localhost:9090 down"
                  description: "localhost:9090 (prometheus) unreachable for 5m"
          - eval_time: 0
            alertname: AlwaysFiring
            exp_alerts:
              - {}
          - eval_time: 0
            alertname: InstanceDown
            exp_alerts: []
          - eval_time: 4m59s   # compared after the evaluation at 4m: still pending
            alertname: InstanceDown
            exp_alerts: []
          - eval_time: 5m
            alertname: InstanceDown
            exp_alerts:
              - exp_labels: {severity: page, instance: "localhost:9090", job: prometheus}
                exp_annotations:
                  summary: "Instance localhost:9090 down"
                  description: "localhost:9090 (prometheus) unreachable for 5m"
          - eval_time: 3m
            alertname: NoSuchAlert
            exp_alerts: []

      # interval vs evaluation_interval: rules run once a minute over 1s data
      - interval: 1s
        input_series:
          - series: 'test{job="test", instance="x:0"}'
            values: "0+1x120"
        promql_expr_test:
          - expr: job:test:count_over_time1m
            eval_time: 0m
            exp_samples:
              - value: 1
                labels: 'job:test:count_over_time1m{job="test"}'
          - expr: timestamp(job:test:count_over_time1m)
            eval_time: 10s
            exp_samples:
              - value: 0
                labels: '{job="test"}'
          - expr: timestamp(job:test:count_over_time1m)
            eval_time: 1m10s
            exp_samples:
              - value: 60
                labels: '{job="test"}'
          - expr: timestamp(job:test:count_over_time1m)
            eval_time: 2m59s999ms
            exp_samples:
              - value: 120
                labels: '{job="test"}'
"""


@pytest.fixture
def suite(tmp_path):
    _write(tmp_path, {"rules.yml": RULES, "unittest.yml": PASSING})
    return tmp_path


def test_passing_suite(suite):
    rc, out, err = _ours_test(suite, "unittest.yml")
    assert (rc, out, err) == (0, "Unit Testing:  unittest.yml\n  SUCCESS\n\n", ""), err
    assert _promtool(suite, "test", "rules", "unittest.yml") == (rc, out, err)


LONG_PERIOD = """
    # modelled on promtool's testdata/long-period.yml (shorter: 200 steps of 100d)
    evaluation_interval: 100d
    rule_files:
      - rules.yml
    tests:
      - interval: 100d
        input_series:
          - series: test
            values: '0+1x200'
        promql_expr_test:
          - expr: timestamp(test)
            eval_time: 0m
            exp_samples:
              - value: 0
          - expr: test
            eval_time: 100d
            exp_samples:
              - labels: test
                value: 1
          - expr: timestamp(test)
            eval_time: 20000d
            exp_samples:
              - value: 1728000000
          - expr: fixed_data
            eval_time: 20000d
            exp_samples:
              - labels: fixed_data
                value: 1
"""


def test_long_period(tmp_path):
    _write(tmp_path, {"rules.yml": RULES, "long.yml": LONG_PERIOD})
    want = (0, "Unit Testing:  long.yml\n  SUCCESS\n\n", "")
    assert _ours_test(tmp_path, "long.yml") == want
    assert _promtool(tmp_path, "test", "rules", "long.yml") == want


def test_group_eval_order(tmp_path):
    """A group reading another group's output sees it at the same evaluation only when it runs after it."""
    _write(tmp_path, {
        "chain.yml": """
            groups:
              - name: second
                rules:
                  - record: doubled
                    expr: base * 2
              - name: first
                rules:
                  - record: base
                    expr: vector(21)
        """,
        "ordered.yml": """
            rule_files: [chain.yml]
            group_eval_order: [first, second]
            tests:
              - promql_expr_test:
                  - expr: doubled
                    eval_time: 0
                    exp_samples:
                      - labels: doubled
                        value: 42
        """,
        "unordered.yml": """
            rule_files: [chain.yml]
            group_eval_order: [second, first]
            tests:
              - promql_expr_test:
                  - expr: doubled
                    eval_time: 0
                    exp_samples:
                      - labels: doubled
                        value: 42
        """,
    })
    assert _ours_test(tmp_path, "ordered.yml")[0] == 0
    rc, _, err = _ours_test(tmp_path, "unordered.yml")
    assert rc == 1 and '    expr: "doubled", time: 0s,\n        exp: {__name__="doubled"} 4.2E+01\n' \
                       "        got: nil\n" in err
    assert _promtool(tmp_path, "test", "rules", "ordered.yml")[0] == 0
    assert _promtool(tmp_path, "test", "rules", "unordered.yml")[2] == err


def test_templates_external_labels_and_query(tmp_path):
    pytest.importorskip("promlite.rules.template", reason="the template engine (promlite/rules/template.py)")
    _write(tmp_path, {
        "t.yml": """
            groups:
              - name: g
                rules:
                  - alert: High
                    expr: load > 1
                    labels:
                      level: "{{ if gt $value 2.0 }}high{{ else }}low{{ end }}"
                    annotations:
                      where: "{{ $externalLabels.dc }} {{ $externalURL }}"
                      value: "{{ $value | humanize }}"
                      total: '{{ with query "sum(load)" }}{{ . | first | value }}{{ end }}'
        """,
        "test.yml": """
            rule_files: [t.yml]
            tests:
              - interval: 1m
                external_labels: {dc: eu1}
                external_url: https://prom.example.org
                input_series:
                  - series: 'load{host="a"}'
                    values: 3 3 3
                  - series: 'load{host="b"}'
                    values: 1.5 1.5 1.5
                alert_rule_test:
                  - eval_time: 2m
                    alertname: High
                    exp_alerts:
                      - exp_labels: {host: a, level: high}
                        exp_annotations: {where: "eu1 https://prom.example.org", value: "3", total: "4.5"}
                      - exp_labels: {host: b, level: low}
                        exp_annotations: {where: "eu1 https://prom.example.org", value: "1.5", total: "4.5"}
        """,
    })
    want = (0, "Unit Testing:  test.yml\n  SUCCESS\n\n", "")
    assert _ours_test(tmp_path, "test.yml") == want
    assert _promtool(tmp_path, "test", "rules", "test.yml") == want


# -- test rules: failing --------------------------------------------------------------------------

FAILING = """
    # modelled on promtool's testdata/failing.yml
    rule_files:
      - rules.yml

    tests:
      - interval: 1m
        name: "Failing test"
        input_series:
          - series: test
            values: '0'
        promql_expr_test:
          - expr: test
            eval_time: 0m
            exp_samples:
              - value: 1
                labels: test
          - expr: test * 2.5
            eval_time: 1m
            exp_samples:
              - value: 1
                labels: '{}'
          - expr: vector(0.5) + 1
            eval_time: 1m
        alert_rule_test:
          - eval_time: 0m
            alertname: Test
            exp_alerts:
              - exp_labels: {}

      - interval: 1m
        name: Failing alert test
        input_series:
          - series: 'up{job="test"}'
            values: 0x10
        alert_rule_test:
          - eval_time: 5m
            alertname: InstanceDown
            exp_alerts: []
          - eval_time: 5m
            alertname: AlwaysFiring
            exp_alerts:
              - exp_labels: {severity: none}
"""

FAILING_STDERR = """  FAILED:
    expr: "test", time: 0s,
        exp: {__name__="test"} 1E+00
        got: {__name__="test"} 0E+00
    expr: "test * 2.5", time: 1m,
        exp: {} 1E+00
        got: {} 0E+00
    expr: "vector(0.5) + 1", time: 1m,
        exp: nil
        got: {} 1.5E+00
    name: Failing test,
    alertname: Test, time: 0s,<sp>
        exp:[
            0:
              Labels:{alertname="Test"}
              Annotations:{}
            ],<sp>
        got:[]
    name: Failing alert test,
    alertname: InstanceDown, time: 5m,<sp>
        exp:[],<sp>
        got:[
            0:
              Labels:{alertname="InstanceDown", job="test", severity="page"}
              Annotations:{description=" (test) unreachable for 5m", summary="Instance  down"}
            ]
    name: Failing alert test,
    alertname: AlwaysFiring, time: 5m,<sp>
        exp:[
            0:
              Labels:{alertname="AlwaysFiring", severity="none"}
              Annotations:{}
            ],<sp>
        got:[
            0:
              Labels:{alertname="AlwaysFiring"}
              Annotations:{}
            ]
""".replace("<sp>", " ")  # promtool ends those lines with ", "


def _blocks(err: str) -> list[str]:
    """The error blocks of a FAILED listing, sorted (an alert failure starts with its test group's name)."""
    return sorted(re.split(r"\n(?=    (?:name|expr): )", err.removeprefix("  FAILED:\n")))


def test_failing_suite(tmp_path):
    pytest.importorskip("promlite.rules.template", reason="the annotations are expanded by the template engine")
    _write(tmp_path, {"rules.yml": RULES, "failing.yml": FAILING})
    rc, out, err = _ours_test(tmp_path, "failing.yml")
    assert rc == 1
    assert out == "Unit Testing:  failing.yml\n" + "\n" * 6 + "\n"  # a blank line per error, then one
    # promtool lists a group's alert failures before its promql ones; compare as a set of error blocks
    want = _blocks(FAILING_STDERR)
    assert _blocks(err) == want, err
    p_rc, p_out, p_err = _promtool(tmp_path, "test", "rules", "failing.yml")
    assert (p_rc, p_out) == (rc, out)
    assert _blocks(p_err) == want


def test_failure_order_is_promtools(tmp_path):
    """Within a test group, alert failures come first (during evaluation), then promql ones."""
    pytest.importorskip("promlite.rules.template")
    _write(tmp_path, {"rules.yml": RULES, "failing.yml": FAILING})
    _, _, err = _ours_test(tmp_path, "failing.yml")
    assert err.index("alertname: Test") < err.index('expr: "test"') < err.index("alertname: InstanceDown")


def test_rule_evaluation_error(tmp_path):
    """Modelled on bad-rules-error-test.yml: the first evaluation that fails a rule ends the test group."""
    _write(tmp_path, {
        "bad-rules-error.yml": """
            groups:
              - name: bad-example
                rules:
                  - record: joined
                    expr: join_1 + on(a) join_2
        """,
        "test.yml": """
            rule_files:
              - bad-rules-error.yml
            tests:
              - input_series:
                  - series: 'join_1{a="1",b="2"}'
                    values: 1
                  - series: 'join_2{a="1",b="3"}'
                    values: 2
                  - series: 'join_2{a="1",b="4"}'
                    values: 3
                promql_expr_test:
                  - expr: joined
                    eval_time: 5m
        """,
    })
    rc, out, err = _ours_test(tmp_path, "test.yml")
    assert rc == 1 and out == "Unit Testing:  test.yml\n\n\n"
    prefix = ("  FAILED:\n    rule: joined, time: 0s, err: found duplicate series for the match group {a=\"1\"} "
              "on the right hand-side of the operation: [")
    assert err.startswith(prefix) and err.endswith(
        "];many-to-many matching not allowed: matching labels must be unique on one side\n")
    p_rc, p_out, p_err = _promtool(tmp_path, "test", "rules", "test.yml")
    assert (p_rc, p_out) == (rc, out) and p_err.startswith(prefix)


@pytest.mark.parametrize("name,text,want_err", [
    ("bad-input-series", """
        tests:
          - input_series:
              - series: 'up{job="prometheus", instance="localhost:9090"'
                values: "0+0x1440"
     """, None),
    ("bad-values", """
        tests:
          - input_series:
              - series: 'up'
                values: "0+0x"
     """, None),
    ("bad-promql", """
        tests:
          - input_series:
              - series: 'join_1{a="1",b="2"}'
                values: 1
              - series: 'join_2{a="1",b="3"}'
                values: 2
              - series: 'join_2{a="1",b="4"}'
                values: 3
            promql_expr_test:
              - expr: "join_1 + on(a) group_left() join_2"
              - expr: "sum(join_1"
                eval_time: 1m
     """, None),
    ("bad-exp-labels", """
        tests:
          - input_series:
              - series: x
                values: 1
            promql_expr_test:
              - expr: x
                exp_samples:
                  - labels: 'x{a="1"'
                    value: 1
     """, None),
    ("unknown-field", """
        rule_files: [rules.yml]
        foo: 1
        tests:
          - name: x
            bar: 2
     """, "  FAILED:\nyaml: unmarshal errors:\n  line 2: field foo not found in type main.unitTestFile\n"
          "  line 5: field bar not found in type main.testGroup\n"),
    ("string-value", """
        tests:
          - promql_expr_test:
              - expr: vector(1)
                exp_samples:
                  - value: NaN
     """, "  FAILED:\nyaml: unmarshal errors:\n  line 5: cannot unmarshal !!str `NaN` into float64\n"),
    ("bad-duration", """
        tests:
          - promql_expr_test:
              - expr: vector(1)
                eval_time: 10
     """, '  FAILED:\nnot a valid duration string: "10"\n'),
    ("repeated-group-order", """
        rule_files: [rules.yml]
        group_eval_order: [alerts, rules, alerts]
        tests: []
     """, "  FAILED:\ngroup name repeated in evaluation order: alerts\n"),
    ("missing-alertname", """
        rule_files: [rules.yml]
        tests:
          - name: no name
            alert_rule_test:
              - eval_time: 1m
                exp_alerts: []
     """, "  FAILED:\nan item under alert_rule_test misses required attribute alertname at eval_time 1m "
          "(in TestGroup no name)\n"),
    ("bad-rule-file", """
        rule_files: [bad.yml]
        tests:
          - promql_expr_test:
              - expr: vector(1)
     """, None),
])
def test_failing_files(tmp_path, name, text, want_err):
    _write(tmp_path, {"rules.yml": RULES, "bad.yml": BAD_RULES, f"{name}.yml": text})
    rc, out, err = _ours_test(tmp_path, f"{name}.yml")
    assert rc == 1 and out.startswith(f"Unit Testing:  {name}.yml\n") and err.startswith("  FAILED:\n"), (out, err)
    if want_err is not None:
        assert err == want_err
    p_rc, p_out, p_err = _promtool(tmp_path, "test", "rules", f"{name}.yml")
    assert (p_rc, p_out) == (rc, out), p_err
    if want_err is not None:
        assert p_err == want_err


def test_promql_errors_are_reported_per_expression(tmp_path):
    _write(tmp_path, {"t.yml": """
        tests:
          - input_series:
              - series: x
                values: 1
            promql_expr_test:
              - expr: "sum(x"
                eval_time: 1m
              - expr: x
                exp_samples:
                  - labels: 'x{a="1"'
                    value: 1
              - expr: x
                exp_samples:
                  - labels: x
                    value: 1
    """})
    rc, out, err = _ours_test(tmp_path, "t.yml")
    assert rc == 1 and out == "Unit Testing:  t.yml\n\n\n\n"
    assert err.startswith('  FAILED:\n    expr: "sum(x", time: 1m, err: 1:6: parse error: unclosed left parenthesis\n'
                          '    expr: "x", time: 0s, err: labels "x{a=\\"1\\"": ')


def test_missing_rule_file_is_a_warning(tmp_path):
    _write(tmp_path, {"rules.yml": RULES, "t.yml": """
        rule_files: [rules.yml, nothere.yml, missing-*.yml]
        tests:
          - promql_expr_test:
              - expr: fixed_data
                exp_samples:
                  - labels: fixed_data
                    value: 1
    """})
    want = (0, "Unit Testing:  t.yml\n  SUCCESS\n\n",
            "  WARNING: no file match pattern nothere.yml\n  WARNING: no file match pattern missing-*.yml\n")
    assert _ours_test(tmp_path, "t.yml") == want
    assert _promtool(tmp_path, "test", "rules", "t.yml") == want


def test_rule_files_relative_to_the_test_file(tmp_path):
    (tmp_path / "sub").mkdir()
    _write(tmp_path / "sub", {"rules.yml": RULES, "t.yml": """
        rule_files: ['*.yml']
        tests:
          - promql_expr_test:
              - expr: fixed_data
                exp_samples:
                  - labels: fixed_data
                    value: 1
    """})
    # t.yml itself matches the glob and is not a rule file: promtool reports it as one
    rc, out, err = _ours_test(tmp_path, "sub/t.yml")
    assert rc == 1 and err.startswith("  FAILED:\nsub/t.yml:")
    p_rc, _, p_err = _promtool(tmp_path, "test", "rules", "sub/t.yml")
    assert p_rc == 1 and p_err.startswith("  FAILED:\nsub/t.yml:")


def test_at_modifier_and_negative_offset(tmp_path):
    """at-modifier-test.yml / negative-offset-test.yml: both always enabled (Prometheus 3; 2.42 too)."""
    _write(tmp_path, {
        "r.yml": """
            groups:
              - name: g
                rules:
                  - record: at
                    expr: requests @ 60
                  - record: ahead
                    expr: requests offset -1m
        """,
        "t.yml": """
            rule_files: [r.yml]
            tests:
              - interval: 1m
                input_series:
                  - series: requests
                    values: 1 2 3
                promql_expr_test:
                  - expr: at
                    eval_time: 2m
                    exp_samples:
                      - labels: at
                        value: 2
                  # the loader is lazy: at 1m the sample at 2m is not loaded yet
                  - expr: ahead
                    eval_time: 1m
                    exp_samples:
                      - labels: ahead
                        value: 2
                  - expr: ahead
                    eval_time: 0m
                    exp_samples:
                      - labels: ahead
                        value: 1
        """,
    })
    want = (0, "Unit Testing:  t.yml\n  SUCCESS\n\n", "")
    assert _ours_test(tmp_path, "t.yml") == want
    assert _promtool(tmp_path, "test", "rules", "t.yml") == want


# -- Prometheus 3 only ----------------------------------------------------------------------------


def test_no_test_group_interval_defaults_to_evaluation_interval(tmp_path):
    """no-test-group-interval.yml: Prometheus 3 passes it; promtool 2.42 loads the series at 0s and fails."""
    _write(tmp_path, {"t.yml": """
        tests:
          - input_series:
              - series: test
                values: 0 1
            promql_expr_test:
              - expr: test
                eval_time: 59s
                exp_samples:
                  - value: 0
                    labels: test
              - expr: test
                eval_time: 1m
                exp_samples:
                  - value: 1
                    labels: test
    """})
    assert _ours_test(tmp_path, "t.yml")[0] == 0
    assert _promtool(tmp_path, "test", "rules", "t.yml")[0] == 1  # 2.42's verdict differs: 3's is ours


RUN = """
    # modelled on promtool's testdata/rules_run.yml
    rule_files:
      - rules.yml
    evaluation_interval: 1m
    tests:
      - name: good group
        interval: 30s
        input_series:
          - series: probe_ok{target="a"}
            values: 1 1
        promql_expr_test:
          - expr: min(probe_ok)
            eval_time: 30s
            exp_samples:
              - value: 1
      - name: bad group
        input_series:
          - series: probe_ok{target="b"}
            values: 0
        promql_expr_test:
          - expr: probe_ok
            eval_time: 0
            exp_samples:
              - value: 1
                labels: probe_ok{target="b"}
"""


@pytest.mark.parametrize("run,want", [(None, 1), (["good", "bad"], 1), (["good"], 0), (["bad"], 1),
                                      (["^good group$"], 0), (["nothing"], 0)])
def test_run_selects_test_groups(tmp_path, run, want):
    """promtool's TestRulesUnitTestRun (the --run flag is Prometheus 2.45+)."""
    _write(tmp_path, {"rules.yml": RULES, "rules_run.yml": RUN})
    assert _ours_test(tmp_path, "rules_run.yml", run=run)[0] == want


FUZZY = """
    # modelled on promtool's testdata/rules_run_fuzzy.yml
    evaluation_interval: 1m
    fuzzy_compare: {fuzzy}
    tests:
      - name: correct fuzzy match
        input_series:
          - series: test_low
            values: 2.9999999999999996
          - series: test_high
            values: 3.0000000000000004
        promql_expr_test:
          - expr: test_low
            eval_time: 0
            exp_samples:
              - labels: test_low
                value: 3
          - expr: test_high
            eval_time: 0
            exp_samples:
              - labels: test_high
                value: 3
      - name: wrong fuzzy match
        input_series:
          - series: test_low
            values: 2.9999999999999987
        promql_expr_test:
          - expr: test_low
            eval_time: 0
            exp_samples:
              - labels: test_low
                value: 3
"""


@pytest.mark.parametrize("fuzzy,run,want", [("true", "correct", 0), ("true", "wrong", 1), ("false", "correct", 1)])
def test_fuzzy_compare(tmp_path, fuzzy, run, want):
    _write(tmp_path, {"fuzzy.yml": FUZZY.replace("{fuzzy}", fuzzy)})
    assert _ours_test(tmp_path, "fuzzy.yml", run=[run])[0] == want


def test_diff(tmp_path):
    _write(tmp_path, {"rules.yml": RULES, "failing.yml": FAILING})
    rc, _, err = _ours_test(tmp_path, "failing.yml", diff=True, run=["alert"])
    assert rc == 1
    assert ("    name: Failing alert test,\n    alertname: AlwaysFiring, time: 5m, \n        diff: "
            '- labels: {alertname="AlwaysFiring", severity="none"}\n'
            '            + labels: {alertname="AlwaysFiring"}\n'
            "                annotations: {}\n") in err


def test_group_query_offset_and_limit(tmp_path):
    """Group options apply as in the server: query_offset shifts the query and the write, limit fails the rule."""
    _write(tmp_path, {
        "r.yml": """
            groups:
              - name: offset
                query_offset: 1m
                rules:
                  - record: lagged
                    expr: x
              - name: limited
                limit: 1
                rules:
                  - record: many
                    expr: y
        """,
        "t.yml": """
            rule_files: [r.yml]
            tests:
              - input_series:
                  - series: x
                    values: 1 2 3
                promql_expr_test:
                  - expr: lagged
                    eval_time: 2m
                    exp_samples:
                      - labels: lagged
                        value: 2
                  - expr: timestamp(lagged)
                    eval_time: 2m
                    exp_samples:
                      - value: 60
              - input_series:
                  - series: y{a="1"}
                    values: 1
                  - series: y{a="2"}
                    values: 1
                promql_expr_test:
                  - expr: many
        """,
    })
    rc, _, err = _ours_test(tmp_path, "t.yml")
    assert rc == 1 and err == "  FAILED:\n    rule: many, time: 0s, err: exceeded limit of 1 with 2 series\n"


# -- the command line -----------------------------------------------------------------------------


def test_cli(tmp_path, monkeypatch, capsys):
    """``promlite check rules`` / ``promlite test rules`` parse promtool's flags."""
    from promlite.cli import main

    _write(tmp_path, {"rules.yml": RULES, "dup.yml": DUPLICATES, "rules_run.yml": RUN, "failing.yml": FAILING})
    monkeypatch.chdir(tmp_path)
    assert main(["check", "rules", "rules.yml", "dup.yml"]) == 0
    assert main(["check", "rules", "--lint-fatal", "rules.yml", "dup.yml"]) == 3
    assert main(["check", "rules", "--lint=none", "--lint-fatal", "dup.yml"]) == 0
    assert main(["test", "rules", "rules_run.yml"]) == 1
    assert main(["test", "rules", "--run", "good", "rules_run.yml"]) == 0
    assert main(["test", "rules", "--run", "nothing", "--run", "bad", "rules_run.yml"]) == 1
    capsys.readouterr()
    assert main(["test", "rules", "--diff", "--run", "alert test", "failing.yml"]) == 1
    assert "        diff: " in capsys.readouterr().err
    p = subprocess.run([sys.executable, "-m", "promlite.cli", "check", "rules"], input=textwrap.dedent(RULES),
                       capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert (p.returncode, p.stdout) == (0, "Checking standard input\n  SUCCESS: 4 rules found\n\n"), p.stderr


def test_combined_output_is_promtools(tmp_path):
    """stdout and stderr interleaved (``2>&1``): byte for byte promtool's, for a failing suite and a lint."""
    pytest.importorskip("promlite.rules.template")
    tool = require_tool("promtool")
    _write(tmp_path, {"rules.yml": RULES, "dup.yml": DUPLICATES, "failing.yml": FAILING})
    for args in (["test", "rules", "failing.yml"], ["check", "rules", "dup.yml", "rules.yml"]):
        ours = subprocess.run([sys.executable, "-m", "promlite.cli", *args], cwd=tmp_path, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=120)
        theirs = subprocess.run([tool, *args], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, timeout=120)
        assert (ours.returncode, ours.stdout) == (theirs.returncode, theirs.stdout)
