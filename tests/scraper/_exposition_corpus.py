"""Loads the shared exposition test corpora and compares parse results.

Two corpora live in ``shared/`` (outside the repo): the upstream OpenMetrics
parser cases (``openmetrics-tests/<case>/{metrics,test.json}``) and our
text-format cases (``exposition-cases/cases.txt``, format described at its
top). When ``shared/`` is absent the tests skip, except under CI, where they
fail. Known failures are listed, one case id a line, in
``exposition_known_failures.txt`` next to this file; an unlisted failure fails
the test and so does a listed case that passes (so the list only shrinks).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass

from _requirements import missing

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.normpath(os.path.join(HERE, "..", "..", "..", "shared"))
OM_DIR = os.path.join(SHARED, "openmetrics-tests")
CASES_TXT = os.path.join(SHARED, "exposition-cases", "cases.txt")
KNOWN_FAILURES = os.path.join(HERE, "exposition_known_failures.txt")


def require_shared(path: str) -> None:
    if not os.path.exists(path):
        missing(f"{path} is missing (shared/ test corpus)")


def known_failures() -> set[str]:
    out = set()
    with open(KNOWN_FAILURES) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                out.add(line)
    return out


@dataclass
class OMCase:
    id: str
    body: bytes
    should_parse: bool


@dataclass
class TextCase:
    id: str
    verdict: str  # ok | error | either
    prefer: str | None
    body: bytes
    samples: list | None
    meta: dict | None
    why: str

    @property
    def expect_ok(self) -> bool:
        v = self.prefer if self.verdict == "either" else self.verdict
        return v == "ok"


def om_cases() -> list[OMCase]:
    if not os.path.isdir(OM_DIR):
        return []
    out = []
    for name in sorted(os.listdir(OM_DIR)):
        d = os.path.join(OM_DIR, name)
        if not os.path.isdir(d):
            continue
        with open(os.path.join(d, "test.json")) as f:
            meta = json.load(f)
        with open(os.path.join(d, meta.get("file", "metrics")), "rb") as f:
            body = f.read()
        out.append(OMCase(f"om/{name}", body, bool(meta["shouldParse"])))
    return out


def text_cases() -> list[TextCase]:
    if not os.path.exists(CASES_TXT):
        return []
    with open(CASES_TXT, encoding="utf-8") as f:
        text = f.read()
    out = []
    for chunk in text.split("\n=== ")[1:]:
        head, _, rest = chunk.partition("\n")
        fields: dict[str, str] = {}
        for line in rest.split("\n"):
            if not line or line.startswith("#"):
                continue
            k, _, v = line.partition(": ")
            fields[k] = v
        expand = json.loads(fields["expand"]) if "expand" in fields else {}

        def sub(s: str, expand=expand) -> str:
            for tok, (piece, count) in expand.items():
                s = s.replace(tok, piece * count)
            return s

        if "input_hex" in fields:
            body = bytes.fromhex(fields["input_hex"])
        else:
            body = sub(json.loads(fields["input"])).encode("utf-8")
        samples = json.loads(sub(fields["samples"])) if "samples" in fields else None
        meta = json.loads(fields["meta"]) if "meta" in fields else None
        out.append(
            TextCase(
                f"text/{head.strip()}", fields["verdict"], fields.get("prefer"), body, samples, meta,
                fields.get("why", ""),
            )
        )
    return out


def _floats_equal(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def _label_values_equal(name: str, got: str, want: str) -> bool:
    """``le``/``quantile`` may be normalised to canonical float text (Prometheus 3)."""
    if got == want:
        return True
    if name in ("le", "quantile"):
        try:
            return _floats_equal(float(got), float(want))
        except ValueError:
            return False
    return False


def compare_samples(result, expected: list) -> list[str]:
    """Differences between a ParseResult and a cases.txt ``samples`` list."""
    got = list(result.samples())
    if len(got) != len(expected):
        return [f"{len(got)} samples, expected {len(expected)}"]
    diffs = []
    for i, (g, (name, labels, value, ts)) in enumerate(zip(got, expected, strict=True)):
        want = {"__name__": name, **{k: v for k, v in labels.items() if v != ""}}
        have = dict(g.labels)
        if have.keys() != want.keys() or not all(_label_values_equal(k, have[k], want[k]) for k in want):
            diffs.append(f"sample {i}: labels {have} != {want}")
        if not _floats_equal(g.value, float(value)):
            diffs.append(f"sample {i}: value {g.value!r} != {value}")
        if g.timestamp_ms != ts:
            diffs.append(f"sample {i}: timestamp {g.timestamp_ms} != {ts}")
    return diffs


def compare_meta(result, expected: dict) -> list[str]:
    diffs = []
    if set(result.metadata) != set(expected):
        diffs.append(f"metadata families {sorted(result.metadata)} != {sorted(expected)}")
    for fam, want in expected.items():
        md = result.metadata.get(fam)
        if md is None:
            continue
        if "type" in want and md.type != {"untyped": "unknown"}.get(want["type"], want["type"]):
            diffs.append(f"{fam}: type {md.type} != {want['type']}")
        if "help" in want and md.help != want["help"]:
            diffs.append(f"{fam}: help {md.help!r} != {want['help']!r}")
    return diffs


def same_result(a, b) -> list[str]:
    """Differences between two ParseResults (bit-exact values)."""
    diffs = []
    if a.series != b.series:
        diffs.append("series differ")
    if a.labels != b.labels:
        diffs.append("labels differ")
    if a.values.view("u8").tolist() != b.values.view("u8").tolist():
        diffs.append("values differ")
    if a.has_timestamp.tolist() != b.has_timestamp.tolist() or a.timestamps.tolist() != b.timestamps.tolist():
        diffs.append("timestamps differ")
    if a.metadata != b.metadata:
        diffs.append("metadata differ")
    if a.exemplars != b.exemplars:
        diffs.append("exemplars differ")
    return diffs


def chunked(body: bytes, size: int) -> list[bytes]:
    return [body[i : i + size] for i in range(0, len(body), size)] or [b""]


class Ref:
    """A stand-in for a TSDB series ref: remembers the labels it was made for."""

    __slots__ = ("labels",)

    def __init__(self, labels):
        self.labels = labels


def check_cached(body: bytes, fmt: str) -> list[str]:
    """Run ``parse_lines_cached`` cold, fill the cache from its misses, run it
    warm, and compare both with the plain (Prometheus-lenient) parse."""
    from scraper.exposition import (
        ExpositionError,
        parse_lines_cached,
        parse_openmetrics,
        parse_text,
    )

    try:
        ref = parse_openmetrics(body, strict=False) if fmt == "openmetrics" else parse_text(body)
        ref_err = None
    except ExpositionError as e:
        ref, ref_err = None, e
    cache: dict = {}
    diffs: list[str] = []
    for run in ("cold", "warm"):
        try:
            got = parse_lines_cached(body, cache, fmt=fmt)
        except ExpositionError as e:
            if ref_err is None:
                return [f"{run}: cached path rejected what parse accepts: {e}"]
            if e.line != ref_err.line:
                diffs.append(f"{run}: error on line {e.line}, parse says line {ref_err.line}")
            return diffs
        if ref_err is not None:
            return [f"{run}: cached path accepted what parse rejects: {ref_err}"]
        miss_at = {m.index: m for m in got.misses}
        labels = []
        for i, r in enumerate(got.refs):
            if r is None:
                if i not in miss_at:
                    return [f"{run}: sample {i} is neither a hit nor a miss"]
                labels.append(miss_at[i].labels)
            else:
                labels.append(r.labels)
        if run == "cold" and any(r is not None for r in got.refs):
            diffs.append("cold run had hits with an empty cache")
        if labels != ref.labels:
            diffs.append(f"{run}: labels differ")
        if got.values.view("u8").tolist() != ref.values.view("u8").tolist():
            diffs.append(f"{run}: values differ: {got.values} vs {ref.values}")
        mask = got.has_timestamp if got.has_timestamp is not None else [False] * len(got.values)
        if list(map(bool, mask)) != ref.has_timestamp.tolist():
            diffs.append(f"{run}: timestamp mask differs")
        elif got.timestamps is not None and got.timestamps.tolist() != ref.timestamps.tolist():
            diffs.append(f"{run}: timestamps differ")
        if got.metadata != ref.metadata:
            diffs.append(f"{run}: metadata differs")
        if got.exemplars != ref.exemplars:
            diffs.append(f"{run}: exemplars differ")
        for m in got.misses:
            if m.key is not None:
                cache[m.key] = Ref(m.labels)
    return diffs
