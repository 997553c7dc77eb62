"""``promlite serve`` with ``rule_files``: recording rules write, alerts show in the API, reload, metrics."""

from __future__ import annotations

import json
import time
import urllib.parse

import pytest
from serve_proc import ServeProc, seed

RULES = """groups:
  - name: fast
    interval: 1s
    rules:
      - record: job:big_series:count
        expr: count by (job) (big_series)
      - alert: AlwaysFiring
        expr: count by (job) (big_series) > 0
        labels: {severity: page, team: "{{ $labels.job }}-team"}
        annotations:
          summary: "{{ $value }} series of {{ $labels.job }} at {{ $externalURL }}"
          total: '{{ with query "count(big_series)" }}{{ . | first | value | humanize }}{{ end }}'
      - alert: NeverFiring
        expr: absent(big_series)
"""


def _get(p: ServeProc, path: str) -> dict:
    status, body = p.request("GET", path)
    assert status == 200, body[:300]
    return json.loads(body)["data"]


def _until(fn, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


@pytest.fixture
def served(tmp_path):
    seed(str(tmp_path / "data"), 5, 100, step_ms=5_000)
    (tmp_path / "rules.yml").write_text(RULES)
    cfg = "global:\n  scrape_interval: 1h\n  evaluation_interval: 1s\nrule_files: [rules.yml]\nscrape_configs: []\n"
    p = ServeProc(str(tmp_path), f"--storage.tsdb.path={tmp_path / 'data'}", "--web.enable-lifecycle",
                  "--web.external-url=http://promlite.example:9090/", config=cfg)
    p.dir = tmp_path
    yield p
    p.stop()


def test_rules_evaluate_and_show_in_the_api(served):
    p = served

    def recorded():
        q = urllib.parse.quote("job:big_series:count")
        res = _get(p, f"/api/v1/query?query={q}")["result"]
        return res

    (sample,) = _until(recorded)
    assert sample["metric"] == {"__name__": "job:big_series:count", "job": "seeded"}
    assert sample["value"][1] == "5"

    alerts = _until(lambda: _get(p, "/api/v1/alerts")["alerts"])
    (a,) = alerts
    assert a["labels"] == {"alertname": "AlwaysFiring", "job": "seeded", "severity": "page", "team": "seeded-team"}
    assert a["annotations"] == {"summary": "5 series of seeded at http://promlite.example:9090",
                                "total": "5"}
    assert a["state"] == "firing" and a["value"] == "5e+00" and a["activeAt"].endswith("Z")

    (group,) = _get(p, "/api/v1/rules")["groups"]
    assert group["name"] == "fast" and group["file"].endswith("rules.yml") and group["interval"] == 1
    kinds = [(r["type"], r["name"], r["health"]) for r in group["rules"]]
    assert kinds == [("recording", "job:big_series:count", "ok"), ("alerting", "AlwaysFiring", "ok"),
                     ("alerting", "NeverFiring", "ok")]
    firing = group["rules"][1]
    assert firing["state"] == "firing" and firing["duration"] == 0 and len(firing["alerts"]) == 1
    assert group["rules"][2]["state"] == "inactive" and group["rules"][2]["alerts"] == []
    only = _get(p, "/api/v1/rules?type=record")["groups"][0]["rules"]
    assert [r["name"] for r in only] == ["job:big_series:count"]
    assert _get(p, "/api/v1/rules?rule_name[]=nothing")["groups"] == []
    assert _get(p, "/api/v1/rules?exclude_alerts=true")["groups"][0]["rules"][1]["alerts"] == []

    # ALERTS is written once the 'for' state was restored (the second evaluation after the start)
    def alerts_series():
        return _get(p, "/api/v1/query?query=ALERTS")["result"]

    (s,) = _until(alerts_series)
    assert s["metric"] == {"__name__": "ALERTS", "alertname": "AlwaysFiring", "alertstate": "firing",
                           "job": "seeded", "severity": "page", "team": "seeded-team"}

    status, body = p.request("GET", "/metrics")
    text = body.decode()
    key = f'rule_group="{p.dir / "rules.yml"};fast"'
    assert f"prometheus_rule_group_rules{{{key}}} 3.0" in text
    assert f"prometheus_rule_evaluations_total{{{key}}}" in text
    assert f"prometheus_rule_group_interval_seconds{{{key}}} 1.0" in text


def test_a_broken_rule_file_fails_the_reload_and_keeps_the_rules(served):
    p = served
    _until(lambda: _get(p, "/api/v1/alerts")["alerts"])
    (p.dir / "rules.yml").write_text(RULES.replace("count by (job) (big_series) > 0", "count(big_series > 0"))
    status, body = p.request("POST", "/-/reload")
    assert status == 500 and b"could not parse expression" in body
    info = _get(p, "/api/v1/status/runtimeinfo")
    assert info["reloadConfigSuccess"] is False
    status, body = p.request("GET", "/metrics")
    assert "\nprometheus_config_last_reload_successful 0.0\n" in body.decode()
    (group,) = _get(p, "/api/v1/rules")["groups"]
    assert len(group["rules"]) == 3  # the running rules stay
    # a good file again: a new rule appears, the alert keeps its state (active since before)
    before = _get(p, "/api/v1/alerts")["alerts"][0]["activeAt"]
    (p.dir / "rules.yml").write_text(RULES + "      - record: extra\n        expr: vector(1)\n")
    status, _ = p.request("POST", "/-/reload")
    assert status == 200
    (group,) = _get(p, "/api/v1/rules")["groups"]
    assert [r["name"] for r in group["rules"]][-1] == "extra"
    assert _get(p, "/api/v1/alerts")["alerts"][0]["activeAt"] == before
    assert _get(p, "/api/v1/status/runtimeinfo")["reloadConfigSuccess"] is True


def test_a_broken_rule_file_stops_the_start_with_every_problem(tmp_path):
    import subprocess
    import sys

    (tmp_path / "rules.yml").write_text("groups:\n  - name: a\n    rules:\n      - record: x\n        expr: sum(\n"
                                        "      - alert: ''\n        expr: up\n")
    (tmp_path / "prometheus.yml").write_text("rule_files: [rules.yml]\n")
    r = subprocess.run([sys.executable, "-m", "promlite.cli", "serve", "--config.file=prometheus.yml",
                        "--web.listen-address=127.0.0.1:0", f"--storage.tsdb.path={tmp_path / 'data'}"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr
    assert "could not parse expression" in r.stderr and "one of 'record' or 'alert' must be set" in r.stderr
    assert not (tmp_path / "data").exists()  # refused before storage opened


def test_a_pending_alert_keeps_its_time_across_a_restart(tmp_path):
    """Issue 14: the 'for' state is restored from ALERTS_FOR_STATE after a restart (shifted by the downtime)."""
    import datetime as dt

    seed(str(tmp_path / "data"), 5, 100, step_ms=5_000)
    (tmp_path / "rules.yml").write_text("""groups:
  - name: slow
    interval: 1s
    rules:
      - alert: SlowToFire
        expr: count(big_series) > 0
        for: 10m
""")
    cfg = "global:\n  scrape_interval: 1h\n  evaluation_interval: 1s\nrule_files: [rules.yml]\nscrape_configs: []\n"
    args = (f"--storage.tsdb.path={tmp_path / 'data'}", "--rules.alert.for-grace-period=1s")

    def active_at(p: ServeProc) -> float:
        (a,) = _until(lambda: _get(p, "/api/v1/alerts")["alerts"])
        assert a["state"] == "pending"
        return dt.datetime.fromisoformat(a["activeAt"].replace("Z", "+00:00")).timestamp()

    p = ServeProc(str(tmp_path), *args, config=cfg)
    try:
        first = active_at(p)
        # wait until ALERTS_FOR_STATE has been written (after the restore of this first start)
        _until(lambda: _get(p, "/api/v1/query?query=ALERTS_FOR_STATE")["result"])
        time.sleep(1.5)
    finally:
        assert p.stop() == 0
    stopped = time.time()
    time.sleep(2)
    p = ServeProc(str(tmp_path), *args, config=cfg)
    try:
        restarted = time.time()
        assert active_at(p) >= restarted - 1  # the first evaluations after a start: pending from now

        def restored():
            t = active_at(p)
            return t if t < restarted - 1 else None

        t = _until(restored, timeout=30)
        # active since the first start, shifted forward by the downtime (about 2-3 s)
        downtime = restarted - stopped
        assert first < t < first + downtime + 5, (first, t, downtime)
    finally:
        p.stop()
