"""``check_metrics``: parse errors and lint warnings, like ``promtool check metrics``.

Errors are what would fail a scrape (the first one stops the check, as in
promtool). Warnings are the lints of client_golang's ``promlint`` that
promtool prints, with the same wording, attached to the line where the
family first appears:

* no help text; counter without ``_total`` / non-counter with ``_total``
  (text format; untyped families are exempt);
* ``_count``/``_sum``/``_bucket`` suffixes and ``le``/``quantile`` labels
  outside histograms and summaries;
* camelCase metric or label names; ``:`` in metric names (reserved for
  recording rules); abbreviated units (``_ms``, ``_sec``, ...); non-base units
  (``milliseconds`` -> ``seconds``); the type's name inside the metric name;
* one lint of ours: the same series exposed twice (Prometheus keeps the first
  and counts the rest as duplicates).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from ._lex import TokenError
from .errors import ExpositionError, Problem
from .openmetrics import EOF_LINE, OMLineParser, OMMeta
from .parse import check_document, parse_openmetrics, parse_text
from .text import TextLineParser

_CAMEL = re.compile(r"[a-z][A-Z]")
_ABBREVIATIONS = {"s", "ms", "us", "ns", "sec", "b", "kb", "mb", "gb", "tb", "pb", "m", "h", "d"}
_UNITS = {
    "amperes": "amperes", "bytes": "bytes", "celsius": "celsius", "grams": "grams",
    "joules": "joules", "kelvin": "kelvin", "meters": "meters", "metres": "metres",
    "seconds": "seconds", "volts": "volts",
    "minutes": "seconds", "hours": "seconds", "days": "seconds", "weeks": "seconds",
    "kelvins": "kelvin", "fahrenheit": "celsius", "rankine": "celsius",
    "inches": "meters", "yards": "meters", "miles": "meters", "bits": "bytes",
    "calories": "joules", "pounds": "grams", "ounces": "grams",
}
_PREFIXES = ("", "pico", "nano", "micro", "milli", "centi", "deci", "deca", "hecto", "kilo",
             "kibi", "mega", "mibi", "giga", "gibi", "tera", "tebi", "peta", "pebi")
_TYPE_WORDS = ("counter", "gauge", "summary", "histogram", "gauge_histogram")
# Sample-name suffixes a family of each type has in the *text* format.
_TEXT_SUFFIXES = {
    "counter": ("",), "gauge": ("",), "unknown": ("",),
    "histogram": ("_bucket", "_sum", "_count"), "summary": ("", "_sum", "_count"),
}
_OM_SUFFIXES = {
    "counter": ("_total", "_created"), "gauge": ("",), "unknown": ("",), "stateset": ("",),
    "info": ("_info",), "histogram": ("_bucket", "_count", "_sum", "_created"),
    "gaugehistogram": ("_bucket", "_gcount", "_gsum"), "summary": ("", "_count", "_sum", "_created"),
}


@dataclass
class _Fam:
    name: str
    line: int
    type: str = "unknown"
    help: bool = False
    label_names: set[str] = field(default_factory=set)


def check_metrics(body: bytes, fmt: Literal["text", "openmetrics"] = "text") -> list[Problem]:
    """Check an exposition; returns problems sorted by line (errors first on a tie).

    An empty list means the exposition parses and passes every lint.
    """
    try:
        if fmt == "openmetrics":
            parse_openmetrics(body, strict=True)
        else:
            parse_text(body)
    except ExpositionError as e:
        return [Problem(e.line, e.message, "error")]
    problems: list[Problem] = []
    fams, dups = _families(body, fmt)
    for f in fams:
        problems.extend(_lint(f, fmt))
    problems.extend(dups)
    problems.sort(key=lambda p: (p.line, p.severity != "error"))
    return problems


def _families(body: bytes, fmt: str) -> tuple[list[_Fam], list[Problem]]:
    """Group the (already valid) exposition into families with first lines."""
    om = fmt == "openmetrics"
    lines = check_document(body) if om else body.split(b"\n")
    parser = OMLineParser() if om else TextLineParser()
    suffixes = _OM_SUFFIXES if om else _TEXT_SUFFIXES
    fams: dict[str, _Fam] = {}
    owner: dict[str, _Fam] = {}
    seen: set = set()
    dups: list[Problem] = []
    for i, line in enumerate(lines, 1):
        if om and line == EOF_LINE:
            break
        try:
            r = parser.parse_line(line)
        except TokenError:  # pragma: no cover - the document parsed before
            raise RuntimeError("BUG: check_metrics re-parse failed on a valid document") from None
        if r is None and not om:
            mm = re.match(rb"[ \t]*#[ \t]+(?:HELP|TYPE)[ \t]+([a-zA-Z_:][a-zA-Z0-9_:]*)", line)
            if mm is None:
                continue
            name = mm.group(1).decode()
            md = parser.metadata[name]
            f = fams.setdefault(name, _Fam(name, i))
            f.type, f.help = md.type or "unknown", bool(md.help)
            for s in suffixes.get(f.type, ("",)):
                owner[name + s] = f
            continue
        if r is None:
            continue
        if isinstance(r, OMMeta):
            f = fams.setdefault(r.name, _Fam(r.name, i))
            if r.kind == "TYPE":
                f.type = r.value
                for s in suffixes[f.type]:
                    owner[r.name + s] = f
            elif r.kind == "HELP":
                f.help = bool(r.value)
            continue
        labels = r.labels if om else r[1]
        name = dict(labels)["__name__"]
        f = owner.get(name)
        if f is None:
            f = fams.get(name)
            if f is None:
                f = fams[name] = _Fam(name, i)
                owner[name] = f
        f.label_names.update(k for k, _ in labels if k != "__name__")
        if labels in seen:
            dups.append(Problem(i, f"series {_show(labels)} is exposed more than once", "warning", name))
        seen.add(labels)
    return list(fams.values()), dups


def _lint(f: _Fam, fmt: str) -> list[Problem]:
    out: list[str] = []
    n, t = f.name, f.type
    if not f.help:
        out.append("no help text")
    if fmt == "text":
        if t == "counter" and not n.endswith("_total"):
            out.append('counter metrics should have "_total" suffix')
        elif t not in ("unknown", "counter") and n.endswith("_total"):
            out.append('non-counter metrics should not have "_total" suffix')
    if t not in ("unknown", "histogram", "summary", "gaugehistogram"):
        for sfx in ("_count", "_sum", "_bucket"):
            if n.endswith(sfx):
                out.append(f'non-histogram and non-summary metrics should not have "{sfx}" suffix')
    if t not in ("unknown", "histogram", "gaugehistogram") and "le" in f.label_names:
        out.append('non-histogram metrics should not have "le" label')
    if t not in ("unknown", "summary") and "quantile" in f.label_names:
        out.append('non-summary metrics should not have "quantile" label')
    if _CAMEL.search(n):
        out.append("metric names should be written in 'snake_case' not 'camelCase'")
    if any(_CAMEL.search(ln) for ln in f.label_names):
        out.append("label names should be written in 'snake_case' not 'camelCase'")
    if ":" in n:
        out.append("metric names should not contain ':'")
    parts = n.split("_")
    if any(p.lower() in _ABBREVIATIONS for p in parts[1:]):
        out.append("metric names should not contain abbreviated units")
    for p in parts[1:]:
        for prefix in _PREFIXES:
            unit = p[len(prefix):] if p.startswith(prefix) else None
            if unit and unit in _UNITS and (prefix or _UNITS[unit] != unit):
                out.append(f'use base unit "{_UNITS[unit]}" instead of "{p}"')
                break
    low = n.lower()
    for word in _TYPE_WORDS:
        if f"_{word}_" in low or low.endswith(f"_{word}"):
            out.append(f"metric name should not include type '{word}'")
    return [Problem(f.line, msg, "warning", n) for msg in out]


def _show(labels) -> str:
    d = dict(labels)
    name = d.pop("__name__", "")
    inner = ",".join(f'{k}="{v}"' for k, v in d.items())
    return f"{name}{{{inner}}}" if inner else name
