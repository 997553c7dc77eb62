"""``/api/v1/rules`` and ``/api/v1/alerts`` in Prometheus's shapes (``web/api/v1/api.go``).

Grafana reads both for data-source-managed rules and recording-rule hints, so
field names, number and time formats follow Prometheus exactly: durations in
seconds, times in RFC 3339 with nanoseconds (Go's zero time before a first
evaluation), alert values as Go's ``strconv.FormatFloat(v, 'e', -1, 64)``
(``1e+00``), ``lastError`` and ``keepFiringSince`` only when set.

Filters of ``/api/v1/rules``: ``type`` (``alert``/``record``), ``rule_name[]``,
``rule_group[]``, ``file[]``, ``match[]`` (label matchers on the rule's
labels), ``exclude_alerts``. Groups with no rule left after filtering are
omitted.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import web

from promlite.gofmt import format_e
from promlite.rules.group import Group
from promlite.rules.rules import Alert, AlertingRule, Rule

from .envelope import bad_data, success
from .params import match_sets
from .request import form
from .state import STATE

_ZERO_TIME = "0001-01-01T00:00:00Z"


def rfc3339_nano(ms: int) -> str:
    """Go's ``time.RFC3339Nano`` of a millisecond time (trailing zeros of the fraction dropped)."""
    if not ms:
        return _ZERO_TIME
    s, frac = divmod(int(ms), 1000)
    base = dt.datetime.fromtimestamp(s, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return base + (f".{frac:03d}".rstrip("0") if frac else "") + "Z"


def _labels(pairs) -> dict[str, str]:
    return dict(pairs)


def _alert_json(a: Alert) -> dict[str, Any]:
    out: dict[str, Any] = {"labels": _labels(a.labels), "annotations": _labels(a.annotations),
                           "state": str(a.state), "activeAt": rfc3339_nano(a.active_at)}
    if a.keep_firing_since:
        out["keepFiringSince"] = rfc3339_nano(a.keep_firing_since)
    out["value"] = format_e(a.value)
    return out


def _rule_json(r: Rule, with_alerts: bool) -> dict[str, Any]:
    st = r.state
    if isinstance(r, AlertingRule):
        out: dict[str, Any] = {
            "state": str(r.rule_state()), "name": r.name, "query": r.expr, "duration": r.hold_ms / 1000,
            "keepFiringFor": r.keep_firing_for_ms / 1000, "labels": _labels(r.labels),
            "annotations": _labels(r.annotations),
            "alerts": [_alert_json(a) for a in r.alerts()] if with_alerts else [],
            "health": st.health.value}
    else:
        out = {"name": r.name, "query": r.expr, "labels": _labels(r.labels), "health": st.health.value}
    if st.last_error:
        out["lastError"] = st.last_error
    out["evaluationTime"] = st.evaluation_seconds
    out["lastEvaluation"] = rfc3339_nano(st.last_evaluation_ms)
    out["type"] = r.kind
    return out


def _group_json(g: Group, rules: list[dict]) -> dict[str, Any]:
    return {"name": g.name, "file": g.file, "rules": rules, "interval": g.interval_ms / 1000, "limit": g.limit,
            "evaluationTime": g.evaluation_seconds, "lastEvaluation": rfc3339_nano(g.last_evaluation_ms)}


async def rules(request: web.Request) -> web.Response:
    state = request.app[STATE]
    params = await form(request)
    typ = params.get("type", "").lower()
    if typ not in ("", "alert", "record"):
        raise bad_data(f'invalid parameter "type": not supported value "{typ}"')
    names = set(params.getall("rule_name[]", []))
    groups_f = set(params.getall("rule_group[]", []))
    files = set(params.getall("file[]", []))
    excl = params.get("exclude_alerts", "false").lower()
    if excl not in ("true", "false", "1", "0", "t", "f"):
        raise bad_data(f'invalid parameter "exclude_alerts": {excl}')
    with_alerts = excl in ("false", "0", "f")
    sets = await match_sets(state.run, params.getall("match[]", []))
    filtered = bool(typ or names or groups_f or files or sets)
    manager = getattr(state, "rule_manager", None)
    out = []
    for g in manager.rule_groups() if manager is not None else []:
        if (groups_f and g.name not in groups_f) or (files and g.file not in files):
            continue
        rs = []
        for r in g.rules:
            if typ == "alert" and not isinstance(r, AlertingRule) or typ == "record" and isinstance(r, AlertingRule):
                continue
            if names and r.name not in names:
                continue
            if sets:
                lab = dict(r.labels)
                if not any(all(m.matches(lab.get(m.name, "")) for m in ms) for ms in sets):
                    continue
            rs.append(_rule_json(r, with_alerts))
        if rs or not filtered:
            out.append(_group_json(g, rs))
    return success({"groups": out})


async def alerts(request: web.Request) -> web.Response:
    manager = getattr(request.app[STATE], "rule_manager", None)
    out = []
    for r in manager.alerting_rules() if manager is not None else []:
        out.extend(_alert_json(a) for a in r.alerts())
    return success({"alerts": out})
