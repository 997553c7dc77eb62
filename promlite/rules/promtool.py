"""promtool's rule tools: ``promlite check rules`` and ``promlite test rules``.

``check rules FILE...`` (``promtool check rules``): each file is parsed with
:func:`.rulefile.parse_rule_file` (every problem, one line each) and, with the
``duplicate-rules`` lint (the default; ``--lint=all`` too, ``none`` turns it
off), rules of the same name and the same labels (group labels merged under
the rule's own) are reported. Output as promtool's::

    Checking rules.yml
      SUCCESS: 4 rules found
    <blank>

or ``  FAILED:`` on stderr followed by each error (a parse failure prints no
blank line after it, as Prometheus 3). Exit status: 1 when a file has errors,
3 when only the lint failed and ``--lint-fatal`` is given, 0 otherwise (a lint
failure alone is printed but does not fail). No file: the rules are read from
standard input (``Checking standard input``).

``test rules TEST.yml...`` (``promtool test rules``), semantics of Prometheus
3's ``cmd/promtool/unittest.go``:

* ``rule_files`` are relative to the test file and globbed (no match: a
  ``  WARNING: no file match pattern ...`` on stderr, not an error);
  ``evaluation_interval`` defaults to 1m; a test group's ``interval`` (its
  input series' step) defaults to the evaluation interval.
* Each test group gets a fresh temporary tsdb and the real engine (lookback
  5m, the default subquery step is the evaluation interval). The input series
  (``values`` in the expanding notation of PromQL test scripts, parsed by
  :func:`query.series_desc.parse_series`) are appended lazily: before the
  evaluation at ``ts`` every sample at or before ``ts``, as promtool's lazy
  loader does.
* The groups of all rule files are evaluated at 0, interval, 2*interval, ...
  up to the largest ``eval_time`` of the group's tests, in ``group_eval_order``
  (groups not listed sort as the first listed one does, else file order).
  Alerting rules count as restored, so ``ALERTS`` is written from the first
  evaluation. A rule that fails ends the test group with
  ``    rule: NAME, time: 1m0s, err: ...``.
* ``alert_rule_test`` compares, after the last evaluation at or before its
  ``eval_time``, the *firing* alerts of every alerting rule of that name
  (labels and expanded annotations) with ``exp_alerts`` (``alertname`` is
  added to the expected labels); order does not matter.
* ``promql_expr_test`` queries ``expr`` at ``eval_time`` after all evaluations
  and compares the samples as sets: same labels, exactly equal values (NaN
  never equals NaN), or within one ulp with ``fuzzy_compare: true``.
* ``--run REGEX`` (repeatable, joined with ``|``) runs only the test groups
  whose ``name`` matches; ``--diff`` shows a mismatch as a line diff of the
  expected and actual alerts instead of the two listings.

Output is promtool's: ``Unit Testing:  FILE`` then ``  SUCCESS`` or
``  FAILED:`` (stderr) with each error; exit status 1 when any file failed.
"""

from __future__ import annotations

import difflib
import glob
import logging
import math
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from promlite.gofmt import format_e
from query.durations import format_duration, parse_prometheus_duration
from query.quoting import go_quote
from scraper._yaml import ConfigError, Doc, load_yaml

from .rulefile import GroupSpec, RuleFileError, parse_rule_file

SUCCESS_EXIT = 0
FAILURE_EXIT = 1
LINT_EXIT = 3
"""promtool's "one or more lint issues detected"."""

LINT_OPTIONS = ("all", "duplicate-rules", "none")

Labels = tuple[tuple[str, str], ...]


# -- formatting as Go does ---------------------------------------------------------------------

_LEGACY_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def go_labels(labels: Labels) -> str:
    """``labels.Labels.String()``: ``{__name__="x", job="a"}`` (sorted; names quoted when not legacy)."""
    parts = []
    for k, v in sorted(labels):
        name = k if _LEGACY_NAME.match(k) else go_quote(k)
        parts.append(f"{name}={go_quote(v)}")
    return "{" + ", ".join(parts) + "}"


def go_float_E(v: float) -> str:  # noqa: N802 - Go's verb is 'E'
    """``strconv.FormatFloat(v, 'E', -1, 64)``: ``1E+00``, ``2.5E-03``, ``NaN``, ``+Inf``."""
    return format_e(v, upper=True)


def go_time_duration(ms: int) -> str:
    """``time.Duration.String()`` of a millisecond count: ``0s``, ``500ms``, ``1m0s``, ``1h0m0.5s``."""
    if ms == 0:
        return "0s"
    sign = "-" if ms < 0 else ""
    ms = abs(ms)
    if ms < 1000:
        return f"{sign}{ms}ms"
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, frac = divmod(rest, 1000)
    secs = f"{s}" + (f".{frac:03d}".rstrip("0") if frac else "") + "s"
    if h:
        return f"{sign}{h}h{m}m{secs}"
    if m:
        return f"{sign}{m}m{secs}"
    return sign + secs


def _indent_lines(text: str, indent: str) -> str:
    """promtool's ``indentLines``: every line but the first gets ``indent``."""
    return ("\n" + indent).join(text.split("\n"))


# -- check rules --------------------------------------------------------------------------------


@dataclass(frozen=True)
class LintSettings:
    all: bool = False
    duplicate_rules: bool = False
    fatal: bool = False

    @property
    def lint_duplicate_rules(self) -> bool:
        return self.all or self.duplicate_rules


def lint_settings(value: str, fatal: bool, out: TextIO) -> LintSettings:
    """``--lint`` as promtool reads it: a comma-separated list; an unknown item is only warned about."""
    all_ = dup = False
    for item in value.split(","):
        if item == "all":
            all_ = True
        elif item == "duplicate-rules":
            dup = True
        elif item != "none":
            print(f"WARNING: unknown lint option: {go_quote(item)}", file=out)
    return LintSettings(all=all_, duplicate_rules=dup, fatal=fatal)


def template_checker() -> Callable[[str, str], str | None]:
    """The template parse check of alert labels and annotations (the one rule files load with)."""
    from .template_hooks import check_hook

    return check_hook


def duplicate_rules(groups: list[GroupSpec]) -> list[tuple[str, Labels]]:
    """promtool's ``checkDuplicates``: (name, labels) pairs that occur more than once, each listed once."""
    keys: list[tuple[str, Labels]] = []
    for g in groups:
        for r in g.rules:
            merged = dict(g.labels)
            merged.update(r.labels)
            keys.append((r.alert or r.record, tuple(sorted(merged.items()))))
    keys.sort()
    dups: list[tuple[str, Labels]] = []
    for prev, cur in zip(keys, keys[1:], strict=False):
        if prev == cur and (not dups or dups[-1] != cur):
            dups.append(cur)
    return dups


def _duplicates_message(dups: list[tuple[str, Labels]]) -> str:
    msg = f"lint error {len(dups)} duplicate rule(s) found.\n"
    for name, labels in dups:
        msg += f"Metric: {name}\nLabel(s):\n" + "".join(f"\t{k}: {v}\n" for k, v in labels)
    return msg + "Might cause inconsistency while recording expressions"


def _check_one(content: bytes, source: str, ls: LintSettings, out: TextIO, err: TextIO,
               check_template) -> tuple[bool, bool]:
    """One file or stdin: (failed, has_errors)."""
    try:
        groups = parse_rule_file(content, source, check_template)
    except RuleFileError as e:
        out.flush()  # stdout and stderr in promtool's order when both go to one place
        print("  FAILED:", file=err)
        for line in e.errors:
            print(line.removeprefix(":") if not source else line, file=err)  # stdin: no file name, as promtool
        return True, True
    n = sum(len(g.rules) for g in groups)
    if ls.lint_duplicate_rules:
        dups = duplicate_rules(groups)
        if dups:
            out.flush()  # stdout and stderr in promtool's order when both go to one place
            print("  FAILED:", file=err)
            print(_duplicates_message(dups), file=err)
            print(file=out)
            return True, False
    print(f"  SUCCESS: {n} rules found", file=out)
    print(file=out)
    return False, False


def check_rules(files: list[str], *, lint: str = "duplicate-rules", lint_fatal: bool = False,
                stdin: bytes | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """``promtool check rules``: see the module docstring. ``stdin`` is read when no file is given."""
    out = out or sys.stdout
    err = err or sys.stderr
    for f in files:
        if not os.path.exists(f):
            print(f"promlite: error: path {f!r} does not exist", file=err)
            return FAILURE_EXIT
    ls = lint_settings(lint, lint_fatal, out)
    check_template = template_checker()
    failed = has_errors = False
    if not files:
        print("Checking standard input", file=out)
        data = stdin if stdin is not None else sys.stdin.buffer.read()
        failed, has_errors = _check_one(data, "", ls, out, err, check_template)
    for f in files:
        print(f"Checking {f}", file=out)
        try:
            with open(f, "rb") as fh:
                content = fh.read()
        except OSError as e:
            out.flush()  # stdout and stderr in promtool's order when both go to one place
            print("  FAILED:", file=err)
            print(f"{f}: {e.strerror}", file=err)
            failed = has_errors = True
            continue
        fl, he = _check_one(content, f, ls, out, err, check_template)
        failed, has_errors = failed or fl, has_errors or he
    if failed and has_errors:
        return FAILURE_EXIT
    if failed and ls.fatal:
        return LINT_EXIT
    return SUCCESS_EXIT


# -- the unit-test file -------------------------------------------------------------------------


class UnitTestFileError(Exception):
    """The test file cannot be read as promtool's format (the message is promtool's, one error)."""


@dataclass
class SeriesInput:
    series: str = ""
    values: str = ""


@dataclass
class ExpAlert:
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)


@dataclass
class AlertTestCase:
    eval_time_ms: int = 0
    alertname: str = ""
    exp_alerts: list[ExpAlert] = field(default_factory=list)


@dataclass
class ExpSample:
    labels: str = ""
    value: float = 0.0
    histogram: str = ""


@dataclass
class PromQLTestCase:
    expr: str = ""
    eval_time_ms: int = 0
    exp_samples: list[ExpSample] = field(default_factory=list)


@dataclass
class TestGroup:
    interval_ms: int = 0
    input_series: list[SeriesInput] = field(default_factory=list)
    alert_rule_test: list[AlertTestCase] = field(default_factory=list)
    promql_expr_test: list[PromQLTestCase] = field(default_factory=list)
    external_labels: dict[str, str] = field(default_factory=dict)
    external_url: str = ""
    name: str = ""
    start_ms: int = 0

    def max_eval_time(self) -> int:
        return max([a.eval_time_ms for a in self.alert_rule_test] +
                   [p.eval_time_ms for p in self.promql_expr_test] + [0])


@dataclass
class UnitTestFile:
    rule_files: list[str] = field(default_factory=list)
    evaluation_interval_ms: int = 0
    group_eval_order: list[str] = field(default_factory=list)
    tests: list[TestGroup] = field(default_factory=list)
    fuzzy_compare: bool = False


_GO_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")


class _Decoder:
    """``yaml.UnmarshalStrict`` into promtool's types: unknown fields and type errors are collected."""

    def __init__(self, doc: Doc) -> None:
        self.doc = doc
        self.errors: list[str] = []

    def _err(self, path, msg: str) -> None:
        self.errors.append(f"  line {self.doc.line(path) or 0}: {msg}")

    def _tag(self, v: Any) -> str:
        if isinstance(v, bool):
            return "!!bool"
        if isinstance(v, int):
            return "!!int"
        if isinstance(v, float):
            return "!!float"
        if isinstance(v, str):
            return "!!str"
        if isinstance(v, list):
            return "!!seq"
        if isinstance(v, dict):
            return "!!map"
        return "!!null"

    def _type_err(self, path, v: Any, into: str) -> None:
        raw = self.doc.raw.get(tuple(path))
        shown = raw if raw is not None else ("" if v is None else str(v))
        if isinstance(v, dict | list):
            self._err(path, f"cannot unmarshal {self._tag(v)} into {into}")
        else:
            self._err(path, f"cannot unmarshal {self._tag(v)} `{shown}` into {into}")

    def struct(self, path, v: Any, type_name: str, fields: dict[str, Callable]) -> dict[str, Any]:
        if v is None:
            return {}
        if not isinstance(v, dict):
            self._type_err(path, v, type_name)
            return {}
        out = {}
        for k, val in v.items():
            fn = fields.get(k) if isinstance(k, str) else None
            if fn is None:
                self._err((*path, k), f"field {k} not found in type {type_name}")
                continue
            out[k] = fn((*path, k), val)
        return out

    def string(self, path, v: Any) -> str:
        if v is None:
            return ""
        if isinstance(v, dict | list):
            self._type_err(path, v, "string")
            return ""
        raw = self.doc.raw.get(tuple(path))
        return raw if raw is not None else str(v)  # Go keeps a scalar's text (0x10 stays "0x10")

    def float64(self, path, v: Any) -> float:
        if v is None:
            return 0.0
        if isinstance(v, float | int) and not isinstance(v, bool):
            return float(v)
        if isinstance(v, str) and _GO_FLOAT.match(v) and self.doc.raw.get(tuple(path)) == v:
            return float(v)
        self._type_err(path, v, "float64")
        return 0.0

    def boolean(self, path, v: Any) -> bool:
        if v is None:
            return False
        if isinstance(v, bool):
            return v
        self._type_err(path, v, "bool")
        return False

    def duration(self, path, v: Any) -> int:
        if v is None:
            return 0
        if isinstance(v, dict | list):
            self._type_err(path, v, "string")
            return 0
        text = self.string(path, v)
        try:
            return parse_prometheus_duration(text)
        except ValueError as e:
            raise UnitTestFileError(str(e)) from None

    def timestamp(self, path, v: Any) -> int:
        if v is None:
            return 0
        text = self.string(path, v)
        try:
            return int(round(float(text) * 1000))
        except ValueError:
            pass
        import datetime as dt

        try:
            t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise UnitTestFileError(f"cannot parse {go_quote(text)} to a valid timestamp") from None
        if t.tzinfo is None:
            t = t.replace(tzinfo=dt.UTC)
        return int(round(t.timestamp() * 1000))

    def seq(self, item: Callable) -> Callable:
        def decode(path, v: Any) -> list:
            if v is None:
                return []
            if not isinstance(v, list):
                self._type_err(path, v, "[]" + getattr(item, "go_type", "string"))
                return []
            return [item((*path, i), x) for i, x in enumerate(v)]
        return decode

    def string_map(self, path, v: Any) -> dict[str, str]:
        if v is None:
            return {}
        if not isinstance(v, dict):
            self._type_err(path, v, "map[string]string")
            return {}
        return {str(k): self.string((*path, k), val) for k, val in v.items()}

    # -- promtool's types ------------------------------------------------------------------
    def series(self, path, v: Any) -> SeriesInput:
        d = self.struct(path, v, "main.series", {"series": self.string, "values": self.string})
        return SeriesInput(**d)

    def alert(self, path, v: Any) -> ExpAlert:
        d = self.struct(path, v, "main.alert", {"exp_labels": self.string_map, "exp_annotations": self.string_map})
        return ExpAlert(labels=d.get("exp_labels", {}), annotations=d.get("exp_annotations", {}))

    def alert_case(self, path, v: Any) -> AlertTestCase:
        d = self.struct(path, v, "main.alertTestCase", {
            "eval_time": self.duration, "alertname": self.string, "exp_alerts": self.seq(self.alert)})
        return AlertTestCase(eval_time_ms=d.get("eval_time", 0), alertname=d.get("alertname", ""),
                             exp_alerts=d.get("exp_alerts", []))

    def sample(self, path, v: Any) -> ExpSample:
        d = self.struct(path, v, "main.sample", {"labels": self.string, "value": self.float64,
                                                 "histogram": self.string})
        return ExpSample(**d)

    def promql_case(self, path, v: Any) -> PromQLTestCase:
        d = self.struct(path, v, "main.promqlTestCase", {
            "expr": self.string, "eval_time": self.duration, "exp_samples": self.seq(self.sample)})
        return PromQLTestCase(expr=d.get("expr", ""), eval_time_ms=d.get("eval_time", 0),
                              exp_samples=d.get("exp_samples", []))

    def test_group(self, path, v: Any) -> TestGroup:
        d = self.struct(path, v, "main.testGroup", {
            "interval": self.duration, "input_series": self.seq(self.series),
            "alert_rule_test": self.seq(self.alert_case), "promql_expr_test": self.seq(self.promql_case),
            "external_labels": self.string_map, "external_url": self.string, "name": self.string,
            "start_timestamp": self.timestamp})
        return TestGroup(interval_ms=d.get("interval", 0), input_series=d.get("input_series", []),
                         alert_rule_test=d.get("alert_rule_test", []),
                         promql_expr_test=d.get("promql_expr_test", []),
                         external_labels=d.get("external_labels", {}), external_url=d.get("external_url", ""),
                         name=d.get("name", ""), start_ms=d.get("start_timestamp", 0))

    def unit_test_file(self) -> UnitTestFile:
        d = self.struct((), self.doc.value, "main.unitTestFile", {
            "rule_files": self.seq(self.string), "evaluation_interval": self.duration,
            "group_eval_order": self.seq(self.string), "tests": self.seq(self.test_group),
            "fuzzy_compare": self.boolean})
        return UnitTestFile(rule_files=d.get("rule_files", []),
                            evaluation_interval_ms=d.get("evaluation_interval", 0),
                            group_eval_order=d.get("group_eval_order", []), tests=d.get("tests", []),
                            fuzzy_compare=d.get("fuzzy_compare", False))


def load_unit_test_file(content: bytes, source: str) -> UnitTestFile:
    """Decode a test file; raise :class:`UnitTestFileError` as ``yaml.UnmarshalStrict`` would fail."""
    try:
        doc = load_yaml(content, source)
    except ConfigError as e:
        raise UnitTestFileError(f"yaml: {e}") from None
    dec = _Decoder(doc)
    utf = dec.unit_test_file()
    if dec.errors:
        raise UnitTestFileError("yaml: unmarshal errors:\n" + "\n".join(dec.errors))
    return utf


# -- running the tests --------------------------------------------------------------------------


def _floats_equal(a: float, b: float, fuzzy: bool) -> bool:
    if a == b:
        return True
    return fuzzy and (math.nextafter(a, -math.inf) == b or math.nextafter(a, math.inf) == b)


@dataclass
class _Loader:
    """promtool's lazy loader: input samples are appended up to the evaluation time, no further."""

    db: Any
    series: list[tuple[Labels, list[int], list[float]]]
    pos: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.pos = [0] * len(self.series)

    def till(self, ts: int) -> None:
        app = None
        for i, (labels, times, values) in enumerate(self.series):
            j = self.pos[i]
            k = j
            while k < len(times) and times[k] <= ts:
                k += 1
            if k > j:
                if app is None:
                    app = self.db.appender()
                app.append_series(labels, times[j:k], values[j:k])
                self.pos[i] = k
        if app is not None:
            app.commit()


def _input_series(tg: TestGroup, start_ms: int) -> list[tuple[Labels, list[int], list[float]]]:
    """The test group's series as promtool's ``load <interval>`` block would load them."""
    from query.series_desc import HistogramValue, SeriesDescError, parse_series

    merged: dict[Labels, dict[int, float]] = {}
    for s in tg.input_series:
        line = f"{s.series} {s.values}"
        try:
            labels, values = parse_series(line)
        except SeriesDescError as e:
            raise UnitTestFileError(f"invalid series {go_quote(s.series)}: {e}") from None
        points = merged.setdefault(labels, {})
        for i, v in enumerate(values):
            if isinstance(v, HistogramValue):
                raise UnitTestFileError(f"series {go_quote(s.series)}: native histograms are not supported")
            if v is not None:
                points[start_ms + i * tg.interval_ms] = v
    return [(labels, sorted(p), [p[t] for t in sorted(p)]) for labels, p in merged.items()]


def _labels_and_annotations_str(items: list[tuple[Labels, Labels]]) -> str:
    if not items:
        return "[]"
    parts = []
    for i, (labels, annos) in enumerate(items):
        body = "Labels:" + go_labels(labels) + "\nAnnotations:" + go_labels(annos)
        parts.append(f"{i}:" + _indent_lines("\n" + body, "  "))
    return "[\n" + ",\n".join(parts) + "\n]"


def _diff_alerts(exp: list[tuple[Labels, Labels]], got: list[tuple[Labels, Labels]]) -> str:
    """A readable line diff of the expected (-) and actual (+) alerts."""
    def lines(items):
        out = []
        for labels, annos in items:
            out.append("labels: " + go_labels(labels))
            out.append("  annotations: " + go_labels(annos))
        return out
    d = difflib.ndiff(lines(exp), lines(got))
    return "\n".join(x for x in d if not x.startswith("?"))


def _samples_str(samples: list[tuple[Labels, float]]) -> str:
    if not samples:
        return "nil"
    return ", ".join(go_labels(lab) + " " + go_float_E(v) for lab, v in samples)


def _parse_exp_labels(text: str) -> Labels:
    from query.series_desc import parse_metric

    if not text.strip():
        return ()
    labels, end = parse_metric(text)
    if text[end:].strip():
        from query.series_desc import SeriesDescError

        raise SeriesDescError(f"unexpected {text[end:].strip()!r} after the metric")
    return tuple(sorted(labels))


def _ordered_groups(specs: list[GroupSpec], order: dict[str, int]) -> list[GroupSpec]:
    return sorted(specs, key=lambda g: order.get(g.name, 0))  # stable: file order among equals


def run_test_group(tg: TestGroup, *, eval_interval_ms: int, order: dict[str, int], rule_files: list[str],
                   fuzzy: bool = False, diff: bool = False) -> list[str]:
    """One test group (``testGroup.test``): the failures, in promtool's words (empty: it passed)."""
    import tsdb
    from query.engine import Engine

    from .group import EvalEnv, Group
    from .manager import engine_query
    from .rules import AlertingRule, AlertState
    from .template_hooks import expand_hook

    mint = tg.start_ms
    try:
        series = _input_series(tg, mint)
    except UnitTestFileError as e:
        return [str(e)]

    check_template = template_checker()
    specs: list[GroupSpec] = []
    for path in rule_files:
        try:
            with open(path, "rb") as f:
                content = f.read()
            specs.extend(parse_rule_file(content, path, check_template))
        except OSError as e:
            return [f"{path}: {e.strerror}"]
        except RuleFileError as e:
            return list(e.errors)
    groups = [Group(s, interval_ms=s.interval_ms or tg.interval_ms or eval_interval_ms,
                    query_offset_ms=s.query_offset_ms or 0, restored=True)
              for s in _ordered_groups(specs, order)]

    alert_tests: dict[int, list[AlertTestCase]] = {}
    for a in tg.alert_rule_test:
        if not a.alertname:
            where = f" (in TestGroup {tg.name})" if tg.name else ""
            return [f"an item under alert_rule_test misses required attribute alertname at eval_time "
                    f"{format_duration(a.eval_time_ms)}{where}"]
        alert_tests.setdefault(a.eval_time_ms, []).append(a)
    alert_times = sorted(alert_tests)
    test_name = f"    name: {tg.name},\n" if tg.name else ""

    tmp = tempfile.mkdtemp(prefix="promlite-test-rules-")
    db = tsdb.open(tmp, wal_sync="never", auto_compact=False)
    try:
        engine = Engine(db, subquery_step_ms=eval_interval_ms)
        query = engine_query(engine)
        expand = expand_hook(query)  # the rules pass their evaluation time to the template's `query`
        loader = _Loader(db, series)
        ext_labels = tuple(sorted(tg.external_labels.items()))
        errs: list[str] = []
        maxt = mint + tg.max_eval_time()
        curr = 0
        ts = mint
        while ts <= maxt:
            loader.till(ts)
            env = EvalEnv(db=db, query=query, expand=expand,
                          external_labels=ext_labels, external_url=tg.external_url)
            eval_errs = []
            for g in groups:
                g.evaluate(ts, env)
                for r in g.rules:
                    if r.state.last_error:
                        eval_errs.append(f"    rule: {r.name}, time: {go_time_duration(ts)}, "
                                         f"err: {r.state.last_error}")
            if eval_errs:
                return errs + eval_errs
            while (curr < len(alert_times) and ts - mint <= alert_times[curr]
                   and alert_times[curr] < ts - mint + eval_interval_ms):
                t = alert_times[curr]
                names = {a.alertname for a in alert_tests[t]}
                got_by_name: dict[str, list[tuple[Labels, Labels]]] = {}
                for g in groups:
                    for r in g.rules:
                        if isinstance(r, AlertingRule) and r.name in names:
                            got_by_name.setdefault(r.name, []).extend(
                                (tuple(sorted(a.labels)), tuple(sorted(a.annotations)))
                                for a in r.alerts() if a.state == AlertState.FIRING)
                for case in alert_tests[t]:
                    got = sorted(got_by_name.get(case.alertname, []))
                    exp = sorted((tuple(sorted({**e.labels, "alertname": case.alertname}.items())),
                                  tuple(sorted(e.annotations.items()))) for e in case.exp_alerts)
                    if exp == got:
                        continue
                    head = f"{test_name}    alertname: {case.alertname}, time: {format_duration(case.eval_time_ms)}, "
                    if diff:
                        errs.append(head + "\n        diff: " + _indent_lines(_diff_alerts(exp, got), "            "))
                    else:
                        errs.append(head + "\n        exp:" + _indent_lines(_labels_and_annotations_str(exp),
                                                                           "            ")
                                    + ", \n        got:" + _indent_lines(_labels_and_annotations_str(got),
                                                                         "            "))
                curr += 1
            ts += eval_interval_ms

        for case in tg.promql_expr_test:
            when = format_duration(case.eval_time_ms)
            qexpr = go_quote(case.expr)
            try:
                got_samples = [(tuple(sorted(lab)), v) for lab, v in query(case.expr, mint + case.eval_time_ms)]
            except Exception as e:  # noqa: BLE001 - a parse or execution error is the test's failure
                errs.append(f"    expr: {qexpr}, time: {when}, err: {e}")
                continue
            exp_samples: list[tuple[Labels, float]] = []
            bad = None
            for s in case.exp_samples:
                try:
                    if s.histogram:
                        raise ValueError("native histograms are not supported")
                    exp_samples.append((_parse_exp_labels(s.labels), s.value))
                except ValueError as e:
                    bad = f"    expr: {qexpr}, time: {when}, err: labels {go_quote(s.labels)}: {e}"
                    break
            if bad:
                errs.append(bad)
                continue
            exp_samples.sort(key=lambda x: x[0])
            got_samples.sort(key=lambda x: x[0])
            same = len(exp_samples) == len(got_samples) and all(
                el == gl and _floats_equal(ev, gv, fuzzy)
                for (el, ev), (gl, gv) in zip(exp_samples, got_samples, strict=True))
            if not same:
                errs.append(f"    expr: {qexpr}, time: {when},\n        exp: {_samples_str(exp_samples)}\n"
                            f"        got: {_samples_str(got_samples)}")
        return errs
    finally:
        db.close()
        shutil.rmtree(tmp, ignore_errors=True)


def resolve_rule_files(base_dir: str, patterns: list[str], err: TextIO) -> list[str]:
    """promtool's ``resolveAndGlobFilepaths``: relative to the test file, globbed, a warning for no match."""
    out: list[str] = []
    for rf in patterns:
        if rf and not os.path.isabs(rf):
            rf = os.path.normpath(os.path.join(base_dir, rf))
        matches = sorted(glob.glob(rf))
        if not matches:
            print(f"  WARNING: no file match pattern {rf}", file=err)
        out.extend(matches)
    return out


def unit_test_file(filename: str, *, run: re.Pattern | None = None, diff: bool = False,
                   err: TextIO | None = None) -> list[str]:
    """promtool's ``ruleUnitTest``: every failure of one test file (empty: it passed)."""
    err = err or sys.stderr
    try:
        with open(filename, "rb") as f:
            content = f.read()
    except OSError as e:
        return [f"open {filename}: {e.strerror.lower() if e.strerror else e}"]
    try:
        utf = load_unit_test_file(content, filename)
    except UnitTestFileError as e:
        return [str(e)]
    rule_files = resolve_rule_files(os.path.dirname(filename) or ".", utf.rule_files, err)
    interval = utf.evaluation_interval_ms or 60_000
    order: dict[str, int] = {}
    for i, name in enumerate(utf.group_eval_order):
        if name in order:
            return [f"group name repeated in evaluation order: {name}"]
        order[name] = i
    errs: list[str] = []
    for tg in utf.tests:
        if run is not None and not run.search(tg.name):
            continue
        if tg.interval_ms == 0:
            tg.interval_ms = interval
        errs.extend(run_test_group(tg, eval_interval_ms=interval, order=order, rule_files=rule_files,
                                   fuzzy=utf.fuzzy_compare, diff=diff))
    return errs


def test_rules(files: list[str], *, run: list[str] | None = None, diff: bool = False,
               out: TextIO | None = None, err: TextIO | None = None) -> int:
    """``promtool test rules``: see the module docstring."""
    out = out or sys.stdout
    err = err or sys.stderr
    for f in files:
        if not os.path.exists(f):
            print(f"promlite: error: path {f!r} does not exist", file=err)
            return FAILURE_EXIT
    try:
        run_re = re.compile("|".join(run)) if run else None
    except re.error as e:
        print(f"promlite: error: --run: {e}", file=err)
        return FAILURE_EXIT
    failed = False
    rules_log = logging.getLogger("rules")
    was_disabled, rules_log.disabled = rules_log.disabled, True  # promtool's rule manager logs nothing
    try:
        for f in files:
            failed = _test_one(f, run_re, diff, out, err) or failed
    finally:
        rules_log.disabled = was_disabled
    return FAILURE_EXIT if failed else SUCCESS_EXIT


def _test_one(f: str, run_re: re.Pattern | None, diff: bool, out: TextIO, err: TextIO) -> bool:
    """One test file, printed as promtool prints it; True when it failed."""
    print(f"Unit Testing:  {f}", file=out)
    out.flush()
    errs = unit_test_file(f, run=run_re, diff=diff, err=err)
    if errs:
        out.flush()  # stdout and stderr in promtool's order when both go to one place
        print("  FAILED:", file=err)
        for e in errs:
            print(e, file=err)
            err.flush()
            print(file=out)
            out.flush()
    else:
        print("  SUCCESS", file=out)
    print(file=out)
    return bool(errs)


test_rules.__test__ = False  # type: ignore[attr-defined]  # not a pytest test
