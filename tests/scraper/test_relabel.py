"""Relabeling (every action, Go template expansion, RE2 anchoring) and target label population."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scraper.config import ScrapeConfig, StaticConfig, load_config
from scraper.relabel import (
    RelabelConfigError,
    compile_regex,
    expand,
    go_lower,
    go_upper,
    parse_relabel_config,
    process,
)
from scraper.targets import Target, TargetGroup, populate_labels, static_groups, targets_from_group


def rule(**kw):
    return parse_relabel_config(kw)


# (input labels, rules, expected output or None for dropped)
CASES = {
    "replace with groups": (
        {"a": "foo", "b": "bar"},
        [rule(source_labels=["a"], regex="f(.*)", target_label="d", replacement="ch${1}-ch${1}")],
        {"a": "foo", "b": "bar", "d": "choo-choo"}),
    "default regex and replacement copy the joined value": (
        {"a": "x", "b": "y"}, [rule(source_labels=["a", "b"], target_label="c")], {"a": "x", "b": "y", "c": "x;y"}),
    "custom separator": (
        {"a": "x", "b": "y"}, [rule(source_labels=["a", "b"], separator="/", target_label="c")],
        {"a": "x", "b": "y", "c": "x/y"}),
    "missing source label is the empty string": (
        {"a": "x"}, [rule(source_labels=["a", "zz"], target_label="c")], {"a": "x", "c": "x;"}),
    "regex is anchored: partial match does nothing": (
        {"a": "foo"}, [rule(source_labels=["a"], regex="o+", target_label="d", replacement="x")], {"a": "foo"}),
    "no match leaves labels alone": (
        {"a": "foo"}, [rule(source_labels=["a"], regex="bar", target_label="a", replacement="x")], {"a": "foo"}),
    "empty replacement deletes the target": (
        {"a": "foo", "b": "bar"}, [rule(source_labels=["a"], target_label="b", replacement="")], {"a": "foo"}),
    "fast path: empty input, default regex, literal replacement sets it": (
        {"a": "1"}, [rule(target_label="job", replacement="api")], {"a": "1", "job": "api"}),
    "named groups, $name and ${name}": (
        {"a": "k=v"}, [rule(source_labels=["a"], regex="(?P<key>[^=]+)=(?P<val>.*)", target_label="${key}",
                            replacement="$val!")], {"a": "k=v", "k": "v!"}),
    "$1x is group '1x' (empty), ${1}x is group 1 then x": (
        {"a": "q"}, [rule(source_labels=["a"], regex="(q)", target_label="t", replacement="[$1x][${1}x]")],
        {"a": "q", "t": "[][qx]"}),
    "$$ is a dollar, a lone $ is literal": (
        {"a": "q"}, [rule(source_labels=["a"], regex="(q)", target_label="t", replacement="$$1 $ $-")],
        {"a": "q", "t": "$1 $ $-"}),
    "expanded target label that is not a valid name skips the rule": (
        {"a": "1bad"}, [rule(source_labels=["a"], regex="(.*)", target_label="$1", replacement="v")],
        {"a": "1bad"}),
    "keep": ({"a": "foo"}, [rule(source_labels=["a"], regex="f.*", action="keep")], {"a": "foo"}),
    "keep drops non-matching": ({"a": "foo"}, [rule(source_labels=["a"], regex="b.*", action="keep")], None),
    "drop": ({"a": "foo"}, [rule(source_labels=["a"], regex="f.*", action="drop")], None),
    "drop on empty value matches the empty regex": (
        {"b": "x"}, [rule(source_labels=["a"], regex="", action="drop")], None),
    "keepequal keeps equal": ({"a": "1", "b": "1"}, [rule(source_labels=["a"], target_label="b", action="keepequal")],
                              {"a": "1", "b": "1"}),
    "keepequal drops different": ({"a": "1", "b": "2"},
                                  [rule(source_labels=["a"], target_label="b", action="keepequal")], None),
    "dropequal drops equal": ({"a": "1", "b": "1"},
                              [rule(source_labels=["a"], target_label="b", action="dropequal")], None),
    "hashmod (Prometheus test value)": (
        {"c": "baz"}, [rule(source_labels=["c"], modulus=1000, target_label="d", action="hashmod")],
        {"c": "baz", "d": "976"}),
    "labelmap copies matching names": (
        {"__meta_k8s_app": "web", "__meta_k8s_ns": "x", "keep": "1"},
        [rule(regex="__meta_k8s_(.+)", action="labelmap")],
        {"__meta_k8s_app": "web", "__meta_k8s_ns": "x", "keep": "1", "app": "web", "ns": "x"}),
    "labelmap with a prefix replacement": (
        {"foo": "1"}, [rule(regex="(.*)", replacement="p_${1}", action="labelmap")], {"foo": "1", "p_foo": "1"}),
    "labeldrop": ({"a": "1", "tmp_x": "2", "tmp_y": "3"}, [rule(regex="tmp_.*", action="labeldrop")], {"a": "1"}),
    "labelkeep": ({"a": "1", "b": "2", "__name__": "m"}, [rule(regex="__name__|a", action="labelkeep")],
                  {"a": "1", "__name__": "m"}),
    "lowercase": ({"a": "AbC"}, [rule(source_labels=["a"], target_label="l", action="lowercase")],
                  {"a": "AbC", "l": "abc"}),
    "uppercase keeps ß like Go": ({"a": "straße"}, [rule(source_labels=["a"], target_label="u", action="uppercase")],
                                  {"a": "straße", "u": "STRAßE"}),
    "rules apply in order": (
        {"a": "1"},
        [rule(source_labels=["a"], target_label="b"), rule(source_labels=["b"], regex="1", action="drop")], None),
    "action is case-insensitive": ({"a": "x"}, [rule(source_labels=["a"], regex="x", action="DROP")], None),
    "RE2 classes are ASCII like Go": (
        {"a": "é"}, [rule(source_labels=["a"], regex=r"\w+", target_label="w", replacement="word")], {"a": "é"}),
}


@pytest.mark.parametrize("name", list(CASES))
def test_relabel(name):
    labels, rules, want = CASES[name]
    before = dict(labels)
    assert process(labels, rules) == want
    assert labels == before  # the input is never modified


def test_process_drops_empty_values_and_empty_rules_copy():
    assert process({"a": "", "b": "1"}, []) == {"b": "1"}


@pytest.mark.parametrize("template, text, want", [
    ("$1", "ab", "a"), ("${2}", "ab", "b"), ("$0", "ab", "ab"), ("$3", "ab", ""), ("$01", "ab", ""),
    ("${x}", "ab", "a"), ("$x$2", "ab", "ab"), ("${1", "ab", "${1"), ("a$", "ab", "a$"), ("$$$1", "ab", "$a"),
    ("${}", "ab", "${}"), ("no refs", "ab", "no refs"), ("$1_$2", "ab", "b"), ("${1}_${2}", "ab", "a_b"),
])
def test_expand_like_go(template, text, want):
    r = compile_regex("(?P<x>a)(b)")
    assert expand(template, r.search(text), r.groupindex) == want


def test_go_case_mapping():
    assert go_lower("ÀB") == "àb" and go_upper("ß") == "ß" and go_upper("ﬁ") == "ﬁ"  # no multi-char expansions
    assert go_lower("İ") == "İ"  # Python would lengthen it; documented limitation (Go gives "i")


@pytest.mark.parametrize("raw, fragment", [
    ({"action": "hashmod", "target_label": "x"}, "requires non-zero modulus"),
    ({"action": "replace"}, "requires 'target_label' value"),
    ({"action": "lowercase", "source_labels": ["a"]}, "requires 'target_label' value"),
    ({"action": "uppercase", "target_label": "x", "replacement": "y"}, "'replacement' can not be set"),
    ({"action": "dropequal", "target_label": "x", "separator": ","}, "requires only 'source_labels'"),
    ({"action": "labelkeep", "source_labels": ["a"]}, "requires only 'regex'"),
    ({"action": "labelmap", "replacement": "a-b"}, "is invalid 'replacement'"),
    ({"target_label": "${1}-x", "regex": "(.*)"}, "is invalid 'target_label'"),
    ({"source_labels": ["a-b"]}, '"a-b" is not a valid label name'),
    ({"source_labels": "a"}, "must be a list"),
    ({"modulus": -1, "action": "hashmod", "target_label": "x"}, "non-negative integer"),
    ({"regex": "(?P<a>x)(?P<a>y)"}, "error parsing regexp"),
    ({"regex": "a{1001}"}, "error parsing regexp"),
])
def test_relabel_validation(raw, fragment):
    with pytest.raises(RelabelConfigError, match=re.escape(fragment)):
        parse_relabel_config(raw)


names = st.sampled_from(["a", "b", "__name__", "job", "x_y"])
label_sets = st.dictionaries(names, st.text(max_size=6))
rules_st = st.lists(st.sampled_from([
    {"source_labels": ["a"], "target_label": "b", "regex": "(.)(.*)", "replacement": "$2$1"},
    {"source_labels": ["a", "b"], "regex": ".*x.*", "action": "drop"},
    {"source_labels": ["job"], "target_label": "h", "action": "hashmod", "modulus": 7},
    {"regex": "(x)_(y)", "replacement": "$2_$1", "action": "labelmap"},
    {"regex": "b", "action": "labeldrop"},
    {"source_labels": ["a"], "target_label": "u", "action": "uppercase"},
    {"source_labels": ["a"], "target_label": "b", "action": "keepequal"},
]), max_size=4)


@settings(max_examples=200, deadline=None)
@given(label_sets, rules_st)
def test_process_is_total_and_clean(labels, raw_rules):
    out = process(labels, [parse_relabel_config(r) for r in raw_rules])
    if out is not None:
        assert all(v != "" for v in out.values())
        assert all(re.fullmatch(r"[a-zA-Z_][a-zA-Z0-9_]*", k) for k in out)


# -- targets -------------------------------------------------------------------------------

def job(**kw) -> ScrapeConfig:
    return ScrapeConfig(job_name=kw.pop("job_name", "node"), **kw)


def test_populate_defaults_and_instance():
    res, pre = populate_labels({"__address__": "h:9100", "__meta_x": "m"}, job(scrape_interval=15_000,
                                                                               scrape_timeout=5_000))
    assert pre == {"__address__": "h:9100", "__meta_x": "m", "__metrics_path__": "/metrics", "__scheme__": "http",
                   "__scrape_interval__": "15s", "__scrape_timeout__": "5s", "job": "node"}
    assert res == {"__address__": "h:9100", "__metrics_path__": "/metrics", "__scheme__": "http",
                   "__scrape_interval__": "15s", "__scrape_timeout__": "5s", "instance": "h:9100", "job": "node"}


def test_relabel_controls_url_interval_and_params():
    cfg = load_config("""
scrape_configs:
  - job_name: blackbox
    metrics_path: /probe
    params: {module: [http_2xx]}
    relabel_configs:
      - {source_labels: [__address__], target_label: __param_target}
      - {source_labels: [__param_target], target_label: instance}
      - {target_label: __address__, replacement: 'exporter:9115'}
      - {target_label: __scrape_interval__, replacement: 30s}
      - {source_labels: [__address__], target_label: __tmp_keep}
      - {source_labels: [__meta_env], target_label: env}
""").scrape_configs[0]
    g = TargetGroup("0", ((("__address__", "https://example.com/a b"),),), (("__meta_env", "prod"),))
    r = targets_from_group(g, cfg)
    assert r.errors == () and r.dropped == ()
    (t,) = r.active
    assert t.url == "http://exporter:9115/probe?module=http_2xx&target=https%3A%2F%2Fexample.com%2Fa+b"
    assert t.interval_ms == 30_000 and t.timeout_ms == 10_000
    assert t.public_labels() == (("env", "prod"), ("instance", "https://example.com/a b"), ("job", "blackbox"))
    assert t.get("__tmp_keep") == "exporter:9115"  # kept on the target, never on series
    assert ("__meta_env", "prod") not in t.labels and ("__meta_env", "prod") in t.discovered_labels


def test_dropped_and_broken_targets():
    cfg = job(relabel_configs=(parse_relabel_config({"source_labels": ["drop"], "regex": "yes", "action": "drop"}),
                               parse_relabel_config({"source_labels": ["noaddr"], "regex": "yes",
                                                     "target_label": "__address__", "replacement": ""}),
                               parse_relabel_config({"source_labels": ["slow"], "regex": "yes",
                                                     "target_label": "__scrape_timeout__", "replacement": "2m"})))
    g = TargetGroup("g", (
        (("__address__", "a:1"),),
        (("__address__", "b:1"), ("drop", "yes")),
        (("__address__", "c:1"), ("noaddr", "yes")),
        (("__address__", "d:1"), ("slow", "yes")),
        (("__address__", "e/x:1"),),
    ))
    r = targets_from_group(g, cfg)
    assert [t.get("__address__") for t in r.active] == ["a:1"]
    assert [dict(d)["__address__"] for d in r.dropped] == ["b:1"]
    assert r.errors == (
        "instance 2 in group g: no address",
        'instance 3 in group g: scrape timeout cannot be greater than scrape interval ("2m" > "1m")',
        'instance 4 in group g: "e/x:1" is not a valid hostname',
    )


def test_target_labels_win_over_group_labels_and_hash_is_stable():
    groups = static_groups("j", [StaticConfig(targets=("a:1", "b:2"), labels=(("env", "x"),))])
    assert groups[0].source == "0"
    g = TargetGroup("s", ((("__address__", "a:1"), ("env", "own")),), (("env", "group"),))
    (t,) = targets_from_group(g, job()).active
    assert t.get("env") == "own"
    t2 = Target(job=t.job, labels=t.labels, discovered_labels=(), params=())
    assert t2.hash == t.hash  # identity is labels + URL, not discovery details
    t3 = Target(job=t.job, labels=(*t.labels, ("zone", "b")), discovered_labels=())
    assert t3.hash != t.hash


def test_job_label_from_discovery_is_kept():
    (t,) = targets_from_group(TargetGroup("s", ((("__address__", "a:1"), ("job", "custom")),)), job()).active
    assert t.get("job") == "custom"
