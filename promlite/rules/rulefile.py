"""Rule files as Prometheus reads them (``model/rulefmt``): parse, validate, report every problem.

A rule file is YAML::

    groups:
      - name: example            # unique within the file
        interval: 30s            # default: global.evaluation_interval
        query_offset: 1m         # default: global.rule_query_offset
        limit: 0                 # most series a rule may produce, or alerts it may hold (0 = none)
        labels: {team: a}        # added to every rule of the group (a rule's own labels win)
        rules:
          - record: job:up:sum   # a metric name
            expr: sum by (job) (up)
            labels: {...}
          - alert: InstanceDown  # any non-empty text
            expr: up == 0
            for: 5m
            keep_firing_for: 10m
            labels: {severity: page}
            annotations: {summary: "{{ $labels.instance }} is down"}

Validation follows Prometheus 3 (UTF-8 names): one of ``record``/``alert``,
``expr`` set and valid PromQL, recording rules without ``annotations``,
``for`` or ``keep_firing_for`` and without braces in their name, label names
other than ``__name__``, and alert templates that parse. Unlike the server's
config (first error wins), every problem of a file is collected, as
``promtool check rules`` prints them: ``<file>:<line>: group "g", rule 2,
"name": <what>`` (promtool adds a column; PyYAML gives us lines).

Pure: :func:`parse_rule_file` takes bytes; :func:`load_rule_files` does the I/O.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from query.durations import parse_prometheus_duration
from query.parser import ParseError, parse_expr
from scraper._yaml import ConfigError, Doc, Path, load_yaml

_GROUP_KEYS = ("name", "interval", "query_offset", "limit", "rules", "labels")
_RULE_KEYS = ("record", "alert", "expr", "for", "keep_firing_for", "labels", "annotations")
TEMPLATE_DEFS = ("{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}"
                 "{{$externalURL := .ExternalURL}}{{$value := .Value}}")
"""What Prometheus prepends to every alert label and annotation template."""


@dataclass(frozen=True)
class RuleSpec:
    """One rule as written (labels and annotations in file order; durations in ms)."""

    expr: str
    record: str = ""
    alert: str = ""
    for_ms: int = 0
    keep_firing_for_ms: int = 0
    labels: tuple[tuple[str, str], ...] = ()
    annotations: tuple[tuple[str, str], ...] = ()
    line: int = 0

    @property
    def name(self) -> str:
        return self.alert or self.record


@dataclass(frozen=True)
class GroupSpec:
    """One group; ``interval_ms``/``query_offset_ms`` are None when the file leaves them to the config."""

    name: str
    file: str
    rules: tuple[RuleSpec, ...] = ()
    interval_ms: int | None = None
    query_offset_ms: int | None = None
    limit: int = 0
    labels: tuple[tuple[str, str], ...] = ()
    line: int = 0


class RuleFileError(ConfigError):
    """A rule file could not be loaded; ``errors`` lists every problem, one line each."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__("\n".join(errors))


@dataclass
class _Collector:
    doc: Doc
    source: str
    errors: list[str] = field(default_factory=list)

    def at(self, path: Path, message: str) -> None:
        line = self.doc.line(path)
        self.errors.append(f"{self.source}:{line}: {message}" if line else f"{self.source}: {message}")


def _duration(c: _Collector, path: Path, v: Any, where: str) -> int:
    if v is None:
        return 0
    if isinstance(v, int) and not isinstance(v, bool) and v == 0:
        return 0
    try:
        if not isinstance(v, str):
            raise ValueError(f'not a valid duration string: "{v}"')
        return parse_prometheus_duration(v)
    except ValueError as e:
        c.at(path, f"{where}{e}")
        return 0


def _text(v: Any) -> str | None:
    if v is None:
        return ""
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, str | int | float):
        return str(v)
    return None


def _pairs(c: _Collector, path: Path, v: Any, where: str, what: str) -> tuple[tuple[str, str], ...]:
    if v is None:
        return ()
    if not isinstance(v, dict):
        c.at(path, f"{where}{what} must be a mapping")
        return ()
    out = []
    for k, val in v.items():
        text = _text(val)
        if not isinstance(k, str) or text is None:
            c.at((*path, str(k)), f"{where}{what} {k!r} must map a name to a string")
            continue
        out.append((k, text))
    return tuple(out)


def parse_rule_file(content: bytes | str, source: str,
                    check_template: Callable[[str, str], str | None] | None = None) -> list[GroupSpec]:
    """Every group of one rule file; raise :class:`RuleFileError` listing every problem found.

    ``check_template(name, text)`` returns an error message for a template that
    does not parse (None when it does); without it templates are not checked.
    """
    try:
        doc = load_yaml(content, source)
    except ConfigError as e:
        raise RuleFileError([str(e)]) from None
    c = _Collector(doc, source)
    top = doc.value
    if top is None:
        return []
    if not isinstance(top, dict):
        raise RuleFileError([f"{source}: a rule file must be a mapping with a 'groups' list"])
    for k in top:
        if k != "groups":
            c.at((k,), f"field {k} not found in type rulefmt.RuleGroups")
    raw_groups = top.get("groups") or []
    if not isinstance(raw_groups, list):
        c.at(("groups",), "groups must be a list")
        raw_groups = []
    groups: list[GroupSpec] = []
    seen: set[str] = set()
    for gi, rg in enumerate(raw_groups):
        gpath: Path = ("groups", gi)
        if not isinstance(rg, dict):
            c.at(gpath, "a group must be a mapping")
            continue
        for k in rg:
            if k not in _GROUP_KEYS:
                c.at((*gpath, k), f"field {k} not found in type rulefmt.RuleGroup")
        name = _text(rg.get("name")) or ""
        if not name:
            c.at(gpath, "Groupname must not be empty")
        elif name in seen:
            c.at(gpath, f'groupname: "{name}" is repeated in the same file')
        seen.add(name)
        interval = _duration(c, (*gpath, "interval"), rg.get("interval"), "") if "interval" in rg else None
        offset = _duration(c, (*gpath, "query_offset"), rg.get("query_offset"), "") \
            if "query_offset" in rg else None
        limit = rg.get("limit", 0) or 0
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            c.at((*gpath, "limit"), f"limit must be a non-negative integer, got {limit!r}")
            limit = 0
        glabels = _pairs(c, (*gpath, "labels"), rg.get("labels"), "", "label")
        for k, _ in glabels:
            if not k or k == "__name__":
                c.at((*gpath, "labels", k), f"invalid label name: {k}")
        raw_rules = rg.get("rules") or []
        if not isinstance(raw_rules, list):
            c.at((*gpath, "rules"), "rules must be a list")
            raw_rules = []
        rules = [r for ri, rr in enumerate(raw_rules)
                 if (r := _parse_rule(c, (*gpath, "rules", ri), rr, name, ri, check_template)) is not None]
        groups.append(GroupSpec(name=name, file=source, rules=tuple(rules), interval_ms=interval,
                                query_offset_ms=offset, limit=limit, labels=glabels, line=doc.line(gpath) or 0))
    if c.errors:
        raise RuleFileError(c.errors)
    return groups


def _parse_rule(c: _Collector, path: Path, rr: Any, group: str, ri: int,
                check_template: Callable[[str, str], str | None] | None) -> RuleSpec | None:
    if not isinstance(rr, dict):
        c.at(path, f'group "{group}", rule {ri + 1}: a rule must be a mapping')
        return None
    record = _text(rr.get("record")) or ""
    alert = _text(rr.get("alert")) or ""
    where = f'group "{group}", rule {ri + 1}, "{alert or record}": '
    for k in rr:
        if k not in _RULE_KEYS:
            c.at((*path, k), f"{where}field {k} not found in type rulefmt.Rule")
    if record and alert:
        c.at(path, where + "only one of 'record' and 'alert' must be set")
    if not record and not alert:
        c.at(path, where + "one of 'record' or 'alert' must be set")
    expr = _text(rr.get("expr")) or ""
    if not expr:
        c.at((*path, "expr"), where + "field 'expr' must be set in rule")
    else:
        try:
            parse_expr(expr)
        except ParseError as e:
            c.at((*path, "expr"), f"{where}could not parse expression: {e}")
    for_ms = _duration(c, (*path, "for"), rr.get("for"), where)
    keep_ms = _duration(c, (*path, "keep_firing_for"), rr.get("keep_firing_for"), where)
    labels = _pairs(c, (*path, "labels"), rr.get("labels"), where, "label")
    annotations = _pairs(c, (*path, "annotations"), rr.get("annotations"), where, "annotation")
    if record:
        if annotations:
            c.at((*path, "record"), where + "invalid field 'annotations' in recording rule")
        if for_ms:
            c.at((*path, "record"), where + "invalid field 'for' in recording rule")
        if keep_ms:
            c.at((*path, "record"), where + "invalid field 'keep_firing_for' in recording rule")
        if "{" in record or "}" in record:
            c.at((*path, "record"), f"{where}braces present in the recording rule name; should it be in expr?: "
                                    f"{record}")
    for k, _ in labels:
        if not k or k == "__name__":
            c.at((*path, "labels"), f"{where}invalid label name: {k}")
    for k, _ in annotations:
        if not k:
            c.at((*path, "annotations"), f"{where}invalid annotation name: {k}")
    if alert and check_template is not None:
        for kind, pairs in (("label", labels), ("annotation", annotations)):
            for k, text in pairs:
                err = check_template("__alert_" + alert, TEMPLATE_DEFS + text)
                if err:
                    c.at((*path, kind + "s", k), f'{where}{kind} "{k}": {err}')
    return RuleSpec(expr=expr, record=record, alert=alert, for_ms=for_ms, keep_firing_for_ms=keep_ms,
                    labels=labels, annotations=annotations, line=c.doc.line(path) or 0)


def expand_patterns(patterns: tuple[str, ...] | list[str]) -> list[str]:
    """The files the ``rule_files`` globs name, each once, in pattern order then name order."""
    out: list[str] = []
    seen: set[str] = set()
    for pat in patterns:
        for path in sorted(glob.glob(pat)):
            if path not in seen and os.path.isfile(path):
                seen.add(path)
                out.append(path)
    return out


def load_rule_files(patterns: tuple[str, ...] | list[str],
                    check_template: Callable[[str, str], str | None] | None = None) -> list[GroupSpec]:
    """Every group of every file the globs match; raise :class:`RuleFileError` with all problems."""
    groups: list[GroupSpec] = []
    errors: list[str] = []
    for path in expand_patterns(patterns):
        try:
            with open(path, "rb") as f:
                content = f.read()
        except OSError as e:
            errors.append(f"{path}: {e.strerror}")
            continue
        try:
            groups.extend(parse_rule_file(content, path, check_template))
        except RuleFileError as e:
            errors.extend(e.errors)
    if errors:
        raise RuleFileError(errors)
    return groups
