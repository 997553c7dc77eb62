"""Relabeling, as Prometheus's ``model/relabel`` does it: pure functions on label dicts.

A :class:`RelabelConfig` is one ``relabel_configs`` / ``metric_relabel_configs``
entry, validated when it is made (:func:`parse_relabel_config`), so that
:func:`process` never fails: it returns the new label dict, or None when a
``keep``/``drop``/``keepequal``/``dropequal`` rule dropped the set.

Semantics (Prometheus 2.42+/3.x ``relabel.go``):

* defaults: ``separator ";"``, ``regex "(.*)"``, ``replacement "$1"``,
  ``action replace``; the regex is RE2 and fully anchored (``^(?:re)$``);
* the rule's input is the values of ``source_labels`` joined by the
  separator, a missing label counting as the empty string;
* ``replace``: if the regex matches, ``target_label`` and ``replacement``
  are expanded with Go's template syntax (``$1``, ``${1}``, ``$name``,
  ``${name}``, ``$$``); an invalid expanded label name skips the rule, an
  empty result deletes the label. With the default regex, an empty input and
  no ``$`` anywhere, the replacement is set as is;
* ``lowercase``/``uppercase`` set ``target_label`` to the case-mapped input;
  ``hashmod`` to ``md5(input)[8:16]`` as big-endian uint64 modulo ``modulus``;
* ``labelmap`` copies every label whose *name* matches to the expanded
  ``replacement`` name; ``labeldrop``/``labelkeep`` delete labels whose names
  match / do not match. These three look at a snapshot of the labels as they
  were before the rule, like Go's ``Builder.Range``;
* setting a label to ``""`` deletes it, as in Prometheus.

Label names are checked with the classic rule ``[a-zA-Z_][a-zA-Z0-9_]*``
(Prometheus's legacy validation, which is what the exposition parser accepts).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import re2

ACTIONS = (
    "replace", "keep", "drop", "keepequal", "dropequal", "hashmod",
    "labelmap", "labeldrop", "labelkeep", "lowercase", "uppercase",
)
DEFAULT_REGEX = "(.*)"
DEFAULT_REPLACEMENT = "$1"
DEFAULT_SEPARATOR = ";"

_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
# A target_label (replace) or replacement (labelmap) that contains "$" must
# look like a label name with template references: Prometheus's relabelTarget.
_RELABEL_TARGET = re.compile(r"(?:(?:[a-zA-Z_]|\$(?:\{\w+\}|\w+))+\w*)+\Z", re.ASCII)
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False


class RelabelConfigError(ValueError):
    """An invalid relabel rule; ``key`` names the offending field when there is one."""

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


def is_label_name(name: str) -> bool:
    """Prometheus's legacy label-name rule."""
    return _LABEL_NAME.match(name) is not None


_GROUP_NAME = re.compile(r"\(\?P?<(\w+)>")


def compile_regex(pattern: str):
    """Compile ``pattern`` anchored, as Prometheus's ``relabel.NewRegexp`` does."""
    try:
        compiled = re2.compile(f"^(?:{pattern})$", _RE2_OPTIONS)
    except re2.error as e:
        msg = e.args[0].decode("utf-8", "replace") if e.args and isinstance(e.args[0], bytes) else str(e)
        raise RelabelConfigError(f"error parsing regexp: {msg}", "regex") from None
    names = _GROUP_NAME.findall(pattern)
    if len(names) != len(set(names)):  # Go rejects these; C++ RE2 keeps the first
        dup = next(n for n in names if names.count(n) > 1)
        raise RelabelConfigError(f"error parsing regexp: duplicate capture group name: `{dup}`", "regex")
    return compiled


@dataclass(frozen=True)
class RelabelConfig:
    """One validated relabel rule. Compare with ``==`` (the compiled regex is not compared)."""

    source_labels: tuple[str, ...] = ()
    separator: str = DEFAULT_SEPARATOR
    regex: str = DEFAULT_REGEX
    modulus: int = 0
    target_label: str = ""
    replacement: str = DEFAULT_REPLACEMENT
    action: str = "replace"
    compiled: Any = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.compiled is None:
            object.__setattr__(self, "compiled", compile_regex(self.regex))


_KEYS = ("source_labels", "separator", "regex", "modulus", "target_label", "replacement", "action")


def parse_relabel_config(raw: Mapping[str, Any]) -> RelabelConfig:
    """Build and validate one rule from its YAML mapping (Prometheus's ``Config.Validate``).

    Raises :class:`RelabelConfigError` whose ``key`` names the field at fault.
    """
    if not isinstance(raw, Mapping):
        raise RelabelConfigError("relabel rule must be a mapping")
    for k in raw:
        if k not in _KEYS:
            raise RelabelConfigError(f"unknown key {k!r} in relabel config (allowed: {', '.join(_KEYS)})", str(k))
    kw: dict[str, Any] = {}
    if raw.get("source_labels") is not None:
        src = raw["source_labels"]
        if isinstance(src, str) or not isinstance(src, Sequence):
            raise RelabelConfigError("source_labels must be a list of label names", "source_labels")
        for n in src:
            if not isinstance(n, str) or not is_label_name(n):
                raise RelabelConfigError(f'"{n}" is not a valid label name', "source_labels")
        kw["source_labels"] = tuple(src)
    for k in ("separator", "regex", "target_label", "replacement"):
        if k in raw and raw[k] is not None:
            v = raw[k]
            if isinstance(v, Mapping | list):
                raise RelabelConfigError(f"{k} must be a string", k)
            kw[k] = v if isinstance(v, str) else _scalar_text(v)
    if raw.get("modulus") is not None:
        m = raw["modulus"]
        if isinstance(m, bool) or not isinstance(m, int) or m < 0:
            raise RelabelConfigError(f"modulus must be a non-negative integer, got {m!r}", "modulus")
        kw["modulus"] = m
    action = raw.get("action")
    if action is not None:
        a = str(action).lower()
        if a not in ACTIONS:
            raise RelabelConfigError(f'unknown relabel action "{action}"', "action")
        kw["action"] = a
    cfg = RelabelConfig(**kw)
    validate(cfg, regex_set="regex" in raw and raw["regex"] is not None,
             source_set="source_labels" in raw and raw["source_labels"] is not None)
    return cfg


def _scalar_text(v: Any) -> str:
    if v is True:
        return "true"
    if v is False:
        return "false"
    return str(v)


def validate(c: RelabelConfig, *, regex_set: bool = False, source_set: bool = False) -> None:
    """Prometheus's relabel ``Config.Validate``; raises :class:`RelabelConfigError`."""
    a = c.action
    if c.modulus == 0 and a == "hashmod":
        raise RelabelConfigError("relabel configuration for hashmod requires non-zero modulus", "modulus")
    needs_target = ("replace", "hashmod", "lowercase", "uppercase", "keepequal", "dropequal")
    if a in needs_target and c.target_label == "":
        raise RelabelConfigError(f"relabel configuration for {a} action requires 'target_label' value", "target_label")
    invalid_target = f'"{c.target_label}" is invalid \'target_label\' for {a} action'
    if a == "replace":
        if "$" in c.target_label:
            if not _RELABEL_TARGET.match(c.target_label):
                raise RelabelConfigError(invalid_target, "target_label")
        elif not is_label_name(c.target_label):
            raise RelabelConfigError(invalid_target, "target_label")
    if a in ("lowercase", "uppercase", "keepequal", "dropequal", "hashmod") and not is_label_name(c.target_label):
        raise RelabelConfigError(invalid_target, "target_label")
    if a in ("lowercase", "uppercase", "keepequal", "dropequal") and c.replacement != DEFAULT_REPLACEMENT:
        raise RelabelConfigError(f"'replacement' can not be set for {a} action", "replacement")
    if a == "labelmap" and not _RELABEL_TARGET.match(c.replacement):
        raise RelabelConfigError(f'"{c.replacement}" is invalid \'replacement\' for {a} action', "replacement")
    if a in ("keepequal", "dropequal") and (
        regex_set or c.modulus != 0 or c.separator != DEFAULT_SEPARATOR
    ):
        raise RelabelConfigError(f"{a} action requires only 'source_labels' and `target_label`, and no other fields")
    if a in ("labeldrop", "labelkeep") and (
        source_set or c.target_label != "" or c.modulus != 0
        or c.separator != DEFAULT_SEPARATOR or c.replacement != DEFAULT_REPLACEMENT
    ):
        raise RelabelConfigError(f"{a} action requires only 'regex', and no other fields")


# -- applying rules -------------------------------------------------------------

def process(labels: Mapping[str, str], rules: Iterable[RelabelConfig]) -> dict[str, str] | None:
    """Apply ``rules`` in order to a copy of ``labels``; None if the set was dropped.

    Empty values are never kept in the result (an empty value is an absent label).
    """
    lb = {k: v for k, v in labels.items() if v != ""}
    for rule in rules:
        if not _apply(rule, lb):
            return None
    return lb


def _set(lb: dict[str, str], name: str, value: str) -> None:
    if value == "":
        lb.pop(name, None)
    else:
        lb[name] = value


def _apply(c: RelabelConfig, lb: dict[str, str]) -> bool:
    val = c.separator.join([lb.get(n, "") for n in c.source_labels])
    a = c.action
    if a == "drop":
        return c.compiled.search(val) is None
    if a == "keep":
        return c.compiled.search(val) is not None
    if a == "dropequal":
        return lb.get(c.target_label, "") != val
    if a == "keepequal":
        return lb.get(c.target_label, "") == val
    if a == "replace":
        if (val == "" and c.regex == DEFAULT_REGEX and "$" not in c.target_label
                and "$" not in c.replacement):
            _set(lb, c.target_label, c.replacement)
            return True
        m = c.compiled.search(val)
        if m is None:
            return True
        target = expand(c.target_label, m, c.compiled.groupindex)
        if not is_label_name(target):
            return True
        _set(lb, target, expand(c.replacement, m, c.compiled.groupindex))
    elif a == "lowercase":
        _set(lb, c.target_label, go_lower(val))
    elif a == "uppercase":
        _set(lb, c.target_label, go_upper(val))
    elif a == "hashmod":
        digest = hashlib.md5(val.encode("utf-8")).digest()
        _set(lb, c.target_label, str(int.from_bytes(digest[8:], "big") % c.modulus))
    elif a == "labelmap":
        for name, value in list(lb.items()):
            m = c.compiled.search(name)
            if m is not None:
                _set(lb, expand(c.replacement, m, c.compiled.groupindex), value)
    elif a == "labeldrop":
        for name in [n for n in lb if c.compiled.search(n) is not None]:
            del lb[name]
    elif a == "labelkeep":
        for name in [n for n in lb if c.compiled.search(n) is None]:
            del lb[name]
    else:  # parse_relabel_config admits only ACTIONS
        raise RuntimeError(f"BUG: unknown relabel action {a!r}")
    return True


def expand(template: str, m, groupindex: Mapping[str, int]) -> str:
    """Go's ``Regexp.ExpandString``: substitute ``$1 ${1} $name ${name}``, ``$$`` -> ``$``.

    ``$name`` takes the longest run of letters, digits and ``_`` (``$1x`` is
    group "1x", not group 1 then "x"); a reference to a missing or unmatched
    group is empty; a ``$`` that starts no valid reference is kept literally.
    Numbers with a leading zero (``$01``) are names, hence empty.
    """
    if "$" not in template:
        return template
    out: list[str] = []
    i = 0
    n = len(template)
    while True:
        j = template.find("$", i)
        if j < 0:
            out.append(template[i:])
            return "".join(out)
        out.append(template[i:j])
        i = j + 1
        if i < n and template[i] == "$":
            out.append("$")
            i += 1
            continue
        name, rest = _extract(template, i)
        if name is None:
            out.append("$")
            continue
        i = rest
        if name.isdigit() and name.isascii() and (name == "0" or name[0] != "0") and len(name) <= 8:
            idx = int(name)
        else:
            idx = groupindex.get(name, -1)
        if 0 <= idx <= m.re.groups:
            s, e = m.span(idx)
            if s >= 0:
                out.append(m.string[s:e])


def _extract(t: str, i: int) -> tuple[str | None, int]:
    """Go's ``extract``: the reference name at ``t[i:]`` and where the template resumes."""
    brace = i < len(t) and t[i] == "{"
    start = i + 1 if brace else i
    k = start
    while k < len(t) and (t[k].isalpha() or t[k].isdigit() or t[k] == "_"):
        k += 1
    if k == start:
        return None, i
    name = t[start:k]
    if brace:
        if k >= len(t) or t[k] != "}":
            return None, i
        k += 1
    return name, k


def go_lower(s: str) -> str:
    """``strings.ToLower``: per-character simple case mapping (``str.lower`` may lengthen text)."""
    if s.isascii():
        return s.lower()
    return "".join(c if len(lc := c.lower()) != 1 else lc for c in s)


def go_upper(s: str) -> str:
    """``strings.ToUpper``: per-character simple case mapping (Python maps ``ß`` to ``SS``, Go keeps it)."""
    if s.isascii():
        return s.upper()
    return "".join(c if len(uc := c.upper()) != 1 else uc for c in s)
