"""Rule files, recording and alerting rules and groups, evaluated over a real tsdb with the real engine."""

from __future__ import annotations

import math

import pytest

import tsdb
from promlite.rules.group import EvalEnv, Group
from promlite.rules.manager import engine_query
from promlite.rules.rulefile import RuleFileError, parse_rule_file
from promlite.rules.rules import AlertState, Health, metric_dependencies
from query.engine import Engine

M = 60_000
T0 = 1_700_000_000_000 // M * M


@pytest.fixture
def db(tmp_path):
    with tsdb.open(str(tmp_path / "d")) as d:
        yield d


def _write(db, labels: dict, points: list[tuple[int, float]]) -> None:
    app = db.appender()
    app.append_series(labels, [t for t, _ in points], [v for _, v in points])
    app.commit()


def _series(db, name: str, mint: int = 0, maxt: int = 2**62) -> dict:
    with db.querier(mint, maxt) as q:
        labels, arrs = q.select_arrays(tsdb.Matcher.eq("__name__", name))
    return {lab: tuple(zip(*(a.tolist() for a in arrs.series(i)), strict=True)) for i, lab in enumerate(labels)}


def _group(text: str, **kw) -> Group:
    (spec,) = parse_rule_file(text, "rules.yml")
    return Group(spec, interval_ms=kw.pop("interval_ms", M), query_offset_ms=kw.pop("query_offset_ms", 0), **kw)


def test_rule_file_errors_are_all_reported_with_lines():
    text = """groups:
  - name: a
    rules:
      - record: "x{y}"
        expr: sum(up
        annotations: {a: b}
      - alert: A
        record: b
        expr: up
        labels: {__name__: x}
      - expr: up
        unknown: 1
  - name: a
    rules: []
"""
    with pytest.raises(RuleFileError) as ei:
        parse_rule_file(text, "r.yml")
    errs = ei.value.errors
    want = [
        ('r.yml:5: group "a", rule 1, "x{y}": could not parse expression'),
        ("r.yml:4: group \"a\", rule 1, \"x{y}\": invalid field 'annotations' in recording rule"),
        ('braces present in the recording rule name; should it be in expr?: x{y}'),
        ("r.yml:7: group \"a\", rule 2, \"A\": only one of 'record' and 'alert' must be set"),
        ('rule 2, "A": invalid label name: __name__'),
        ("r.yml:11: group \"a\", rule 3, \"\": one of 'record' or 'alert' must be set"),
        ('r.yml:12: group "a", rule 3, "": field unknown not found in type rulefmt.Rule'),
        ('r.yml:13: groupname: "a" is repeated in the same file'),
    ]
    for w in want:
        assert any(w in e for e in errs), (w, errs)


def test_dependencies_are_metric_names_or_unknown():
    assert metric_dependencies("sum(rate(a[5m])) / on() b") == {"a", "b"}
    assert metric_dependencies('{job="x"}') is None
    assert metric_dependencies("1 + 1") == frozenset()


def test_recording_rules_write_chains_and_staleness(db):
    for i in range(3):
        _write(db, {"__name__": "up", "job": "a", "instance": str(i)}, [(T0 - M, 1.0), (T0, 1.0)])
    g = _group("""groups:
  - name: g
    labels: {team: x}
    rules:
      - record: job:up:sum
        expr: sum by (job) (up)
      - record: job:up:double
        expr: job:up:sum * 2
        labels: {team: y}
      - record: scalar_rule
        expr: "1 + 1"
""")
    env = EvalEnv(db=db, query=engine_query(Engine(db)))
    res = g.evaluate(T0, env)
    assert res.failures == 0 and res.samples == 3
    assert _series(db, "job:up:sum") == {(("__name__", "job:up:sum"), ("job", "a"), ("team", "x")): ((T0, 3.0),)}
    # the second rule read the first one's output of the same evaluation
    assert _series(db, "job:up:double") == {
        (("__name__", "job:up:double"), ("job", "a"), ("team", "y")): ((T0, 6.0),)}
    assert _series(db, "scalar_rule") == {(("__name__", "scalar_rule"), ("team", "x")): ((T0, 2.0),)}
    # the input disappears: the recorded series gets a staleness marker at the next evaluation
    res = g.evaluate(T0 + 10 * M, env)
    (pts,) = _series(db, "job:up:sum").values()
    assert pts[0] == (T0, 3.0) and pts[1][0] == T0 + 10 * M and math.isnan(pts[1][1])
    assert all(r.state.health == Health.OK for r in g.rules)


def test_a_failing_rule_is_reported_and_the_others_go_on(db):
    _write(db, {"__name__": "a", "x": "1"}, [(T0, 1.0)])
    _write(db, {"__name__": "a", "x": "2"}, [(T0, 2.0)])
    g = _group("""groups:
  - name: g
    limit: 1
    rules:
      - record: dup
        expr: a
        labels: {x: same}
      - record: too_many
        expr: a
      - record: fine
        expr: sum(a)
""")
    res = g.evaluate(T0, EvalEnv(db=db, query=engine_query(Engine(db))))
    assert res.failures == 2
    assert g.rules[0].state.last_error == "vector contains metrics with the same labelset after applying rule labels"
    assert g.rules[1].state.last_error == "exceeded limit of 1 with 2 series"
    assert g.rules[2].state.health == Health.OK
    assert list(_series(db, "fine").values()) == [((T0, 3.0),)]


def test_alert_lifecycle_pending_firing_keep_firing_resolved(db):
    g = _group("""groups:
  - name: g
    rules:
      - alert: High
        expr: metric > 5
        for: 2m
        keep_firing_for: 2m
        labels: {severity: page}
        annotations: {summary: high}
""")
    rule = g.rules[0]
    sent = []
    env = EvalEnv(db=db, query=engine_query(Engine(db)), notify=lambda r, alerts: sent.extend(alerts),
                  resend_delay_ms=M)
    states = []
    values = {0: 10, 1: 10, 2: 10, 3: 10, 4: 0, 5: 0, 6: 0, 7: 0}
    for k, v in values.items():
        _write(db, {"__name__": "metric", "i": "1"}, [(T0 + k * M, float(v))])
        g.evaluate(T0 + k * M, env)
        states.append(str(rule.rule_state()))
    assert states == ["pending", "pending", "firing", "firing", "firing", "firing", "inactive", "inactive"]
    (a,) = rule.alerts(include_resolved=True)
    assert a.labels == (("alertname", "High"), ("i", "1"), ("severity", "page"))
    assert a.fired_at == T0 + 2 * M and a.resolved_at == T0 + 6 * M
    # notifications: firing at 2m, again once the resend delay has passed (strictly: at 4m, not 3m),
    # the resolution at once (6m)
    assert [(x.state, x.last_sent_at) for x in sent] == [
        (AlertState.FIRING, T0 + 2 * M), (AlertState.FIRING, T0 + 4 * M), (AlertState.INACTIVE, T0 + 6 * M)]
    assert sent[0].valid_until == T0 + 2 * M + 4 * M and sent[-1].resolved_at == T0 + 6 * M
    alerts = _series(db, "ALERTS")
    firing = alerts[(("__name__", "ALERTS"), ("alertname", "High"), ("alertstate", "firing"), ("i", "1"),
                     ("severity", "page"))]
    assert [t for t, v in firing if not math.isnan(v)] == [T0 + k * M for k in (2, 3, 4, 5)]
    assert math.isnan(firing[-1][1]) and firing[-1][0] == T0 + 6 * M  # stale once resolved
    for_state = _series(db, "ALERTS_FOR_STATE")
    (pts,) = for_state.values()
    assert {v for _, v in pts if not math.isnan(v)} == {T0 // 1000}


def test_pending_alert_that_clears_is_dropped_without_notification(db):
    g = _group("""groups:
  - name: g
    rules:
      - alert: Flappy
        expr: metric > 5
        for: 5m
""")
    sent = []
    env = EvalEnv(db=db, query=engine_query(Engine(db)), notify=lambda r, a: sent.extend(a))
    _write(db, {"__name__": "metric"}, [(T0, 10.0), (T0 + M, 0.0)])
    g.evaluate(T0, env)
    g.evaluate(T0 + M, env)
    assert g.rules[0].alerts(include_resolved=True) == [] and sent == []


def test_restore_gives_a_pending_alert_its_time_back(db):
    text = """groups:
  - name: g
    rules:
      - alert: Slow
        expr: metric > 5
        for: 10m
"""
    _write(db, {"__name__": "metric"}, [(T0 + k * M, 10.0) for k in range(30)])
    env = EvalEnv(db=db, query=engine_query(Engine(db)))
    before = _group(text)
    for k in range(4):  # active since T0, for 4 minutes, then "crash"
        before.evaluate(T0 + k * M, env)
    after = _group(text, restored=False)
    assert after.should_restore
    after.evaluate(T0 + 6 * M, env)  # the first evaluation after the restart: pending from now
    assert after.rules[0].alerts()[0].active_at == T0 + 6 * M
    assert _series(db, "ALERTS", T0 + 6 * M) == {}  # not written before the restore
    # restart 3 minutes after the last ALERTS_FOR_STATE sample; 6 of the 10 minutes are still to go
    after.restore(db, T0 + 6 * M, outage_tolerance_ms=3_600_000, grace_ms=2 * M)
    a = after.rules[0].alerts()[0]
    assert a.active_at == T0 + 3 * M  # since T0, shifted by the 3 minutes of downtime
    after.evaluate(T0 + 12 * M, env)
    assert after.rules[0].rule_state() == AlertState.PENDING
    after.evaluate(T0 + 13 * M, env)
    assert after.rules[0].rule_state() == AlertState.FIRING
    assert sorted(dict(k)["alertstate"] for k in _series(db, "ALERTS", T0 + 12 * M)) == ["firing", "pending"]


def test_reload_keeps_alert_state_of_unchanged_rules(db):
    text = """groups:
  - name: g
    rules:
      - alert: A
        expr: metric > 5
        for: 1m
"""
    _write(db, {"__name__": "metric"}, [(T0 + k * M, 10.0) for k in range(5)])
    env = EvalEnv(db=db, query=engine_query(Engine(db)))
    g = _group(text)
    g.evaluate(T0, env)
    g.evaluate(T0 + M, env)
    assert g.rules[0].rule_state() == AlertState.FIRING
    ng = _group(text.replace("for: 1m", "for: 3m"))
    assert not ng.same_as(g)
    ng.copy_state(g)
    ng.evaluate(T0 + 2 * M, env)  # 'for' grew: back to pending
    assert ng.rules[0].rule_state() == AlertState.PENDING
    ng.evaluate(T0 + 3 * M, env)
    assert ng.rules[0].rule_state() == AlertState.FIRING


def test_a_template_error_is_shown_in_the_annotation_and_the_alert_still_fires(db):
    from promlite.rules.template_hooks import expand_hook

    g = _group("""groups:
  - name: g
    rules:
      - alert: Bad
        expr: metric > 5
        annotations:
          ok: "{{ $value | humanize }} on {{ $labels.i }}"
          bad: '{{ humanize "x" }}'
""")
    _write(db, {"__name__": "metric", "i": "7"}, [(T0, 1234567.0)])
    query = engine_query(Engine(db))
    g.evaluate(T0, EvalEnv(db=db, query=query, expand=expand_hook(query)))
    (a,) = g.rules[0].alerts()
    ann = dict(a.annotations)
    assert ann["ok"] == "1.235M on 7"
    assert ann["bad"].startswith("<error expanding template: error executing template __alert_Bad: template: "
                                 "__alert_Bad:1:")
    assert 'error calling humanize: strconv.ParseFloat: parsing "x": invalid syntax>' in ann["bad"]
    assert a.state == AlertState.FIRING
