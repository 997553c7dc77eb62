"""prometheus.yml loading: defaults, the error table (message, line, key), durations, promtool agreement."""

from __future__ import annotations

import os
import subprocess
import textwrap

import pytest

from scraper.config import (
    DEFAULT_SCRAPE_PROTOCOLS,
    ConfigError,
    load_config,
    load_config_file,
)
from scraper.durations import format_duration, parse_bytes, parse_duration
from scraper.relabel import RelabelConfig


def cfg(text: str):
    return load_config(textwrap.dedent(text), source="prometheus.yml")


# -- defaults -------------------------------------------------------------------------------

def test_empty_file_is_the_default_config():
    c = load_config("")
    assert c.scrape_configs == ()
    g = c.global_config
    assert (g.scrape_interval, g.scrape_timeout, g.evaluation_interval) == (60_000, 10_000, 60_000)


def test_job_defaults_and_inheritance():
    c = cfg("""
        global:
          scrape_interval: 5s
          sample_limit: 100
          external_labels: {region: eu}
        scrape_configs:
          - job_name: a
          - job_name: b
            scrape_interval: 1m
            scrape_timeout: 30s
            sample_limit: 7
            honor_labels: true
            honor_timestamps: false
    """)
    a, b = c.scrape_configs
    # global timeout defaults to min(10s, global interval); jobs inherit both
    assert (c.global_config.scrape_timeout, a.scrape_interval, a.scrape_timeout) == (5_000, 5_000, 5_000)
    assert (a.metrics_path, a.scheme, a.honor_labels, a.honor_timestamps) == ("/metrics", "http", False, True)
    assert a.enable_compression and a.scrape_protocols == DEFAULT_SCRAPE_PROTOCOLS
    assert a.sample_limit == 100 and b.sample_limit == 7
    assert (b.scrape_interval, b.scrape_timeout, b.honor_labels, b.honor_timestamps) == (60_000, 30_000, True, False)
    assert c.global_config.external_labels == (("region", "eu"),)
    assert c.job("b") is b and c.job("zz") is None


def test_job_timeout_defaults_to_global_capped_at_job_interval():
    c = cfg("""
        global: {scrape_interval: 1m, scrape_timeout: 20s}
        scrape_configs:
          - {job_name: fast, scrape_interval: 5s}
          - {job_name: slow}
    """)
    assert [j.scrape_timeout for j in c.scrape_configs] == [5_000, 20_000]


def test_full_job_is_parsed(tmp_path):
    (tmp_path / "sub").mkdir()
    text = textwrap.dedent("""
        scrape_configs:
          - job_name: full
            metrics_path: /probe
            scheme: https
            params: {module: [http_2xx, other], target: [x]}
            body_size_limit: 10MB
            label_limit: 30
            scrape_protocols: [PrometheusText0.0.4]
            fallback_scrape_protocol: OpenMetricsText1.0.0
            enable_compression: false
            basic_auth: {username: u, password_file: sub/pw}
            tls_config: {ca_file: ca.pem, insecure_skip_verify: true, server_name: example}
            static_configs:
              - targets: ['a:1', 'b:2']
                labels: {env: prod, empty: ""}
            file_sd_configs:
              - files: ['sd/*.json', /abs/x.yml]
                refresh_interval: 30s
            relabel_configs:
              - source_labels: [__address__]
                regex: '(.*):\\d+'
                target_label: host
            metric_relabel_configs:
              - action: labeldrop
                regex: tmp_.*
    """)
    path = tmp_path / "prometheus.yml"
    path.write_text(text)
    j = load_config_file(str(path)).scrape_configs[0]
    assert j.params == (("module", ("http_2xx", "other")), ("target", ("x",)))
    assert j.body_size_limit == 10 * 2**20 and j.label_limit == 30
    assert j.scrape_protocols == ("PrometheusText0.0.4",) and j.fallback_scrape_protocol == "OpenMetricsText1.0.0"
    assert not j.enable_compression
    # relative files resolve against the config file's directory
    assert j.http.basic_auth.password_file == str(tmp_path / "sub" / "pw")
    assert j.http.tls_config.ca_file == str(tmp_path / "ca.pem")
    assert j.http.tls_config.insecure_skip_verify and j.http.tls_config.server_name == "example"
    assert j.file_sd_configs[0].files == (str(tmp_path / "sd/*.json"), "/abs/x.yml")
    assert j.file_sd_configs[0].refresh_interval == 30_000
    assert j.static_configs[0].targets == ("a:1", "b:2")
    assert j.static_configs[0].labels == (("env", "prod"),)  # empty values are absent labels
    assert j.relabel_configs[0] == RelabelConfig(("__address__",), regex=r"(.*):\d+", target_label="host")
    assert j.metric_relabel_configs[0].action == "labeldrop"


def test_bearer_token_becomes_authorization():
    j = cfg("scrape_configs: [{job_name: a, bearer_token: secret}]").scrape_configs[0]
    assert (j.http.authorization.type, j.http.authorization.credentials) == ("Bearer", "secret")
    j = cfg("scrape_configs: [{job_name: a, authorization: {credentials: s}}]").scrape_configs[0]
    assert j.http.authorization.type == "Bearer"


def test_scalars_keep_their_yaml_spelling():
    j = cfg("""
        scrape_configs:
          - job_name: 007
            relabel_configs:
              - {source_labels: [a], regex: 010, target_label: b, replacement: 1e3}
    """).scrape_configs[0]
    assert j.job_name == "007"
    assert (j.relabel_configs[0].regex, j.relabel_configs[0].replacement) == ("010", "1e3")


def test_configs_compare_by_value():
    text = "scrape_configs: [{job_name: a, relabel_configs: [{regex: x, action: drop, source_labels: [a]}]}]"
    assert load_config(text) == load_config(text)
    assert load_config(text) != load_config(text.replace("regex: x", "regex: y"))


# -- errors: message, line and key ----------------------------------------------------------

ERRORS = [
    # (yaml, message fragment, line, key)
    ("foo: 1", "unknown key 'foo'", 1, "foo"),
    ("remote_write: []", "promlite does not support", 1, "remote_write"),
    ("alerting:\n  alertmanagers:\n    - api_version: v1", "alertmanager api v1 is no longer supported", 3,
     "alerting.alertmanagers[0].api_version"),
    ("alerting:\n  alertmanagers:\n    - api_version: v3", "expected Alertmanager api version to be one of [v2]",
     3, "alerting.alertmanagers[0].api_version"),
    ("alerting:\n  alertmanagers:\n    - sigv4: {region: r}", "promlite does not support", 3,
     "alerting.alertmanagers[0].sigv4"),
    ("alerting:\n  alertmanagers:\n    - dns_sd_configs: []", "promlite does not support", 3,
     "alerting.alertmanagers[0].dns_sd_configs"),
    ("alerting:\n  alertmanagers:\n    - timeout: 1x", 'not a valid duration string: "1x"', 3,
     "alerting.alertmanagers[0].timeout"),
    ("alerting:\n  alertmanagers:\n    - static_configs: [{targets: ['http://am/x']}]",
     '"http://am/x" is not a valid hostname', 3, "alerting.alertmanagers[0].static_configs[0].targets[0]"),
    ("alerting:\n  alert_relabel_configs: [~]", "empty or null alert relabeling rule", 2,
     "alerting.alert_relabel_configs[0]"),
    ("alerting:\n  alertmanagers:\n    - relabel_configs: [~]", "empty or null Alertmanager target relabeling rule",
     3, "alerting.alertmanagers[0].relabel_configs[0]"),
    ("alerting:\n  alertmanagers:\n    - basic_auth: {username: u}\n      bearer_token: t", "at most one of basic_auth",
     3, "alerting.alertmanagers[0].basic_auth"),
    ("alerting:\n  alertmanagers:\n    - scheme: ftp", "unknown scheme 'ftp'", 3, "alerting.alertmanagers[0].scheme"),
    ("alerting:\n  alertmanager: []", "unknown key 'alertmanager'", 2, "alerting.alertmanager"),
    ("rule_files: ['a[']", 'invalid rule file path "a[": syntax error in pattern', 1, "rule_files[0]"),
    ("rule_files: ['']", "empty rule file pattern", 1, "rule_files[0]"),
    ("global:\n  scrape_interval: 1x", 'not a valid duration string: "1x"', 2, "global.scrape_interval"),
    ("global:\n  scrape_interval: 5s\n  scrape_timeout: 6s", "global scrape timeout greater than scrape interval",
     3, "global.scrape_timeout"),
    ("global:\n  external_labels: {1a: b}", '"1a" is not a valid label name', 2, "global.external_labels.1a"),
    ("global:\n  query_log_file: x", "does not support", 2, "global.query_log_file"),
    ("scrape_configs:\n  - job_name: a\n  - job_name: b\n  - job_name: a",
     'found multiple scrape configs with job name "a" (first at line 2)', 4, "scrape_configs[2].job_name"),
    ("scrape_configs:\n  - scrape_interval: 5s", "job_name is empty", 2, "scrape_configs[0]"),
    ("scrape_configs:\n  -", "empty or null scrape config section", 2, "scrape_configs[0]"),
    ("scrape_configs:\n  - job_name: a\n    scrape_interval: 5s\n    scrape_timeout: 6s",
     'scrape timeout greater than scrape interval for scrape config with job name "a"', 4,
     "scrape_configs[0].scrape_timeout"),
    ("scrape_configs:\n  - job_name: a\n    kubernetes_sd_configs: []", "does not support", 3,
     "scrape_configs[0].kubernetes_sd_configs"),
    ("scrape_configs:\n  - job_name: a\n    scrape_intervall: 5s", "unknown key 'scrape_intervall'", 3,
     "scrape_configs[0].scrape_intervall"),
    ("scrape_configs:\n  - job_name: a\n    scheme: ftp", "unknown scheme 'ftp'", 3, "scrape_configs[0].scheme"),
    ("scrape_configs:\n  - job_name: a\n    honor_labels: maybe", "expected true or false", 3,
     "scrape_configs[0].honor_labels"),
    ("scrape_configs:\n  - job_name: a\n    sample_limit: -1", "non-negative integer", 3,
     "scrape_configs[0].sample_limit"),
    ("scrape_configs:\n  - job_name: a\n    body_size_limit: 10XB", "unknown unit XB", 3,
     "scrape_configs[0].body_size_limit"),
    ("scrape_configs:\n  - job_name: a\n    relabel_configs:\n      - source_labels: [a]\n        regex: 'a('",
     "error parsing regexp: missing )", 5, "scrape_configs[0].relabel_configs[0].regex"),
    ("scrape_configs:\n  - job_name: a\n    relabel_configs:\n      - action: hashmod\n        target_label: x",
     "relabel configuration for hashmod requires non-zero modulus", 4,
     "scrape_configs[0].relabel_configs[0].modulus"),  # a missing key: named, line of its mapping
    ("scrape_configs:\n  - job_name: a\n    metric_relabel_configs:\n      - action: keepequal\n"
     "        target_label: x\n        regex: '.*'",
     "keepequal action requires only 'source_labels' and `target_label`", 4,
     "scrape_configs[0].metric_relabel_configs[0]"),
    ("scrape_configs:\n  - job_name: a\n    relabel_configs:\n      - {action: labeldrop, regex: x, target_label: y}",
     "labeldrop action requires only 'regex', and no other fields", 4, "scrape_configs[0].relabel_configs[0]"),
    ("scrape_configs:\n  - job_name: a\n    relabel_configs:\n      - {action: labelmap, replacement: l-$1}",
     "\"l-$1\" is invalid 'replacement' for labelmap action", 4,
     "scrape_configs[0].relabel_configs[0].replacement"),
    ("scrape_configs:\n  - job_name: a\n    relabel_configs:\n      - {target_label: 1x}",
     "\"1x\" is invalid 'target_label' for replace action", 4, "scrape_configs[0].relabel_configs[0].target_label"),
    ("scrape_configs:\n  - job_name: a\n    relabel_configs:\n      - {action: lowercase, target_label: x,"
     " replacement: y}", "'replacement' can not be set for lowercase action", 4,
     "scrape_configs[0].relabel_configs[0].replacement"),
    ("scrape_configs:\n  - job_name: a\n    relabel_configs:\n      - {action: explode}",
     'unknown relabel action "explode"', 4, "scrape_configs[0].relabel_configs[0].action"),
    ("scrape_configs:\n  - job_name: a\n    relabel_configs:\n      - {sourcelabels: [a]}",
     "unknown key 'sourcelabels' in relabel config", 4, "scrape_configs[0].relabel_configs[0].sourcelabels"),
    ("scrape_configs:\n  - job_name: a\n    relabel_configs:\n      -", "empty or null target relabeling rule", 4,
     "scrape_configs[0].relabel_configs[0]"),
    ("scrape_configs:\n  - job_name: a\n    bearer_token: x\n    bearer_token_file: y",
     "at most one of bearer_token & bearer_token_file must be configured", 3, "scrape_configs[0].bearer_token"),
    ("scrape_configs:\n  - job_name: a\n    bearer_token: x\n    basic_auth: {username: u}",
     "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured", 4,
     "scrape_configs[0].basic_auth"),
    ("scrape_configs:\n  - job_name: a\n    basic_auth: {username: u, password: p, password_file: f}",
     "at most one of basic_auth password & password_file", 3, "scrape_configs[0].basic_auth"),
    ("scrape_configs:\n  - job_name: a\n    authorization: {type: Basic, credentials: x}",
     'authorization type cannot be set to "basic", use "basic_auth" instead', 3,
     "scrape_configs[0].authorization.type"),
    ("scrape_configs:\n  - job_name: a\n    authorization: {credentials: x}\n    bearer_token: y",
     "authorization is not compatible with bearer_token & bearer_token_file", 3, "scrape_configs[0].authorization"),
    ("scrape_configs:\n  - job_name: a\n    tls_config: {ca: x, ca_file: y}",
     "at most one of ca and ca_file must be configured", 3, "scrape_configs[0].tls_config"),
    ("scrape_configs:\n  - job_name: a\n    tls_config: {cert_file: c}",
     "exactly one of key or key_file must be configured when a client certificate is configured", 3,
     "scrape_configs[0].tls_config"),
    ("scrape_configs:\n  - job_name: a\n    tls_config: {min_version: TLS99}", "unknown TLS version: TLS99", 3,
     "scrape_configs[0].tls_config.min_version"),
    ("scrape_configs:\n  - job_name: a\n    oauth2: {client_id: x}", "does not support", 3, "scrape_configs[0].oauth2"),
    ("scrape_configs:\n  - job_name: a\n    static_configs:\n      - targets: ['http://h:80/metrics']",
     '"http://h:80/metrics" is not a valid hostname', 4, "scrape_configs[0].static_configs[0].targets[0]"),
    ("scrape_configs:\n  - job_name: a\n    static_configs:\n      - targets: [h:1]\n        labels: {a-b: c}",
     '"a-b" is not a valid label name', 5, "scrape_configs[0].static_configs[0].labels.a-b"),
    ("scrape_configs:\n  - job_name: a\n    file_sd_configs:\n      - files: [targets.txt]",
     'path name "targets.txt" is not valid for file discovery', 4, "scrape_configs[0].file_sd_configs[0].files[0]"),
    ("scrape_configs:\n  - job_name: a\n    file_sd_configs:\n      - refresh_interval: 1m",
     "must contain at least one path name", 4, "scrape_configs[0].file_sd_configs[0].files"),
    ("scrape_configs:\n  - job_name: a\n    scrape_protocols: [PrometheusProto]",
     "scrape protocol PrometheusProto is not supported by promlite", 3, "scrape_configs[0].scrape_protocols[0]"),
    ("scrape_configs:\n  - job_name: a\n    scrape_protocols: [Foo]", "unknown scrape protocol Foo", 3,
     "scrape_configs[0].scrape_protocols[0]"),
    ("scrape_configs:\n  - job_name: a\n    scrape_protocols: []", "scrape_protocols cannot be empty", 3,
     "scrape_configs[0].scrape_protocols"),
    ("scrape_configs:\n  - job_name: a\n    scrape_protocols: [PrometheusText0.0.4, PrometheusText0.0.4]",
     "duplicated protocol in scrape_protocols", 3, "scrape_configs[0].scrape_protocols[1]"),
    ("global:\n  scrape_interval: 1s\n  scrape_interval: 2s", "mapping key 'scrape_interval' already defined at line 2",
     3, None),
    ("scrape_configs:\n  - job_name: [a", "invalid YAML", 3, None),
    ("scrape_configs: 3", "scrape_configs must be a list", 1, "scrape_configs"),
    ("storage:\n  tsdb:\n    out_of_order_time_window: 1x", 'not a valid duration string: "1x"', 3,
     "storage.tsdb.out_of_order_time_window"),
    ("storage:\n  exemplars:\n    max_exemplars: 10", "does not support", 2, "storage.exemplars"),
    ("storage:\n  tsdb:\n    retention: 1d", "unknown key 'retention'", 3, "storage.tsdb.retention"),
]


@pytest.mark.parametrize("text, fragment, line, key", ERRORS, ids=[f"{e[3] or 'yaml'}:{e[1][:30]}" for e in ERRORS])
def test_config_errors(text, fragment, line, key):
    with pytest.raises(ConfigError) as ei:
        load_config(text, source="prometheus.yml")
    e = ei.value
    assert fragment in e.message
    assert (e.line, e.key) == (line, key)
    where = f"prometheus.yml:{line}: " + (f"{key}: " if key else "")
    assert str(e).startswith(where)


def test_alerting_is_parsed(tmp_path):
    cfg = load_config("""
alerting:
  alert_relabel_configs: [{action: labeldrop, regex: replica}]
  alertmanagers:
    - static_configs: [{targets: ['am1:9093', 'am2:9093']}]
      path_prefix: /am/
      timeout: 3s
      basic_auth: {username: u, password_file: pw}
      tls_config: {ca_file: ca.crt}
      file_sd_configs: [{files: [ams.json]}]
      relabel_configs: [{source_labels: [__address__], regex: 'am2.*', action: drop}]
      alert_relabel_configs: [{target_label: via, replacement: one}]
    - scheme: https
""", base_dir=str(tmp_path))
    a = cfg.alerting
    assert len(a.alert_relabel_configs) == 1 and a.alert_relabel_configs[0].action == "labeldrop"
    one, two = a.alertmanagers
    assert (one.path_prefix, one.timeout, one.api_version, one.scheme) == ("/am/", 3000, "v2", "http")
    assert one.static_configs[0].targets == ("am1:9093", "am2:9093")
    assert one.http.basic_auth.password_file == str(tmp_path / "pw")
    assert one.http.tls_config.ca_file == str(tmp_path / "ca.crt")
    assert one.file_sd_configs[0].files == (str(tmp_path / "ams.json"),)
    assert len(one.relabel_configs) == 1 and len(one.alert_relabel_configs) == 1
    assert (two.scheme, two.timeout, two.path_prefix, two.static_configs) == ("https", 10_000, "", ())
    assert load_config("alerting: {}").alerting == load_config("").alerting


def test_storage_out_of_order_window():
    assert load_config("").storage.out_of_order_time_window == 0
    cfg = load_config("storage:\n  tsdb:\n    out_of_order_time_window: 1h30m\n")
    assert cfg.storage.out_of_order_time_window == 90 * 60 * 1000
    assert load_config("storage:\n  tsdb:\n").storage.out_of_order_time_window == 0


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config_file(str(tmp_path / "nope.yml"))


# -- durations and sizes --------------------------------------------------------------------

@pytest.mark.parametrize("text, ms, canonical", [
    ("0", 0, "0s"), ("0s", 0, "0s"), ("500ms", 500, "500ms"), ("15s", 15_000, "15s"), ("1m", 60_000, "1m"),
    ("90s", 90_000, "1m30s"), ("1h30m", 5_400_000, "1h30m"), ("1d", 86_400_000, "1d"), ("2w", 1_209_600_000, "2w"),
    ("90d", 7_776_000_000, "90d"), ("1y", 31_536_000_000, "1y"), ("1y2w", 32_745_600_000, "379d"),
    ("1s500ms", 1_500, "1s500ms"),
])
def test_durations(text, ms, canonical):
    assert parse_duration(text) == ms
    assert format_duration(ms) == canonical
    assert parse_duration(format_duration(ms)) == ms


@pytest.mark.parametrize("bad", ["", "1", "1.5s", "-1s", "1m1h", "1mm", "1 s", "s", "1S"])
def test_bad_durations(bad):
    with pytest.raises(ValueError, match="not a valid duration string"):
        parse_duration(bad)


@pytest.mark.parametrize("value, size", [
    (0, 0), ("0", 0), (1000, 1000), ("1KB", 1024), ("1KiB", 1024), ("10MB", 10 << 20), ("1.5GB", 3 << 29),
    ("1GB512MB", (1 << 30) + (512 << 20)), ("7B", 7),
])
def test_byte_sizes(value, size):
    assert parse_bytes(value) == size


@pytest.mark.parametrize("bad", ["10", "1XB", "MB", "-1MB", -5, True])
def test_bad_byte_sizes(bad):
    with pytest.raises(ValueError):
        parse_bytes(bad)


# -- agreement with promtool (Prometheus 2.42) on keys both know ------------------------------

PROMTOOL_CASES = [
    ("global: {scrape_interval: 15s}\nscrape_configs:\n  - job_name: a\n    static_configs: [{targets: ['h:1']}]",
     True),
    ("scrape_configs:\n  - job_name: a\n    scrape_interval: 5s\n    scrape_timeout: 6s", False),
    ("scrape_configs:\n  - job_name: a\n  - job_name: a", False),
    ("scrape_configs:\n  - job_name: a\n    relabel_configs: [{regex: 'a(', source_labels: [x]}]", False),
    ("scrape_configs:\n  - job_name: a\n    relabel_configs: [{action: hashmod, target_label: x}]", False),
    ("scrape_configs:\n  - job_name: a\n    relabel_configs: [{action: labelmap, replacement: 'l-$1'}]", False),
    ("scrape_configs:\n  - job_name: a\n    metric_relabel_configs: [{action: keepequal, source_labels: [a],"
     " target_label: b}]", True),
    ("scrape_configs:\n  - job_name: a\n    bearer_token: x\n    basic_auth: {username: u}", False),
    ("scrape_configs:\n  - job_name: a\n    scrape_intervall: 5s", False),
    ("scrape_configs:\n  - job_name: a\n    static_configs: [{targets: ['http://h/x']}]", False),
    ("scrape_configs:\n  - job_name: a\n    file_sd_configs: [{files: [x.txt]}]", False),
    ("global: {scrape_interval: 1y2w}\nscrape_configs:\n  - {job_name: a, scrape_timeout: 1m}", True),
    ("alerting:\n  alert_relabel_configs: [{action: labeldrop, regex: r}]\n  alertmanagers:\n"
     "    - {static_configs: [{targets: ['h:9093']}], timeout: 5s, path_prefix: /am, api_version: v2}", True),
    ("alerting:\n  alertmanagers:\n    - static_configs: [{targets: ['http://h:9093']}]", False),
    ("alerting:\n  alertmanagers:\n    - api_version: v3", False),
]


@pytest.mark.parametrize("text, valid", PROMTOOL_CASES)
def test_promtool_agrees(text, valid, tmp_path, promtool):
    path = tmp_path / "prometheus.yml"
    path.write_text(text)
    r = subprocess.run([promtool, "check", "config", str(path)], capture_output=True, text=True, timeout=30,
                       env={**os.environ, "HOME": str(tmp_path)})
    assert (r.returncode == 0) == valid, r.stdout + r.stderr
    try:
        load_config(text)
        ours = True
    except ConfigError:
        ours = False
    assert ours == valid
