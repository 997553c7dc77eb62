"""Runs Prometheus's PromQL test scripts (``*.test``) against the engine over a real tsdb.

Each script gets a fresh tsdb in a temporary directory (``clear`` starts a
new one); ``load`` blocks are appended with ``Appender.append_series`` and
every ``eval`` is run through ``Engine.instant`` / ``Engine.range`` and
compared the way Prometheus's harness does (``float_close``, full label
sets, order only under ``expect ordered``, errors under ``expect fail``).

Native-histogram cases are skipped: files that are all about them
(``native_histograms.test``, ``limit.test``), evals flagged in the
directory's ``manifest.json``, and evals whose expected values are
histograms. An eval without a manifest entry (another directory) is
flagged with FORMAT.md's heuristic: one of its selectors could select a
series that held histogram samples (or a ``load_with_nhcb`` histogram).
Histogram samples in ``load`` blocks are dropped; a series listed twice in
one block keeps the later value at a shared timestamp. Annotations
(``expect warn``/``info``) are not checked.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import re2

import tsdb

from .engine import Engine
from .promqltest_format import ClearCmd, EvalCmd, LoadCmd, parse_test_file
from .series_desc import HistogramValue, float_close, is_stale
from .values import InstantVector, Matrix, RangeVector, Scalar, String

SKIP_FILES = frozenset({"native_histograms.test", "limit.test"})


@dataclass
class CaseResult:
    file: str
    line: int
    expr: str
    status: str  # "pass" | "fail" | "skip"
    message: str = ""

    @property
    def key(self) -> str:
        return f"{self.file}:{self.line}"


def load_manifest(directory: Path) -> dict[tuple[str, int], bool]:
    """``(file, line) -> native_histogram`` from ``manifest.json`` when the directory has one."""
    p = directory / "manifest.json"
    if not p.exists():
        return {}
    return {(e["file"], int(e["line"])): bool(e["native_histogram"]) for e in json.loads(p.read_text())}


class _Store:
    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="promqltest-")
        self.db = tsdb.open(self.dir, wal_sync="never", auto_compact=False)

    def close(self) -> None:
        self.db.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def _load(db, cmd: LoadCmd) -> None:
    """Append a load block; a series listed twice keeps the later value at a shared timestamp."""
    merged: dict = {}
    for s in cmd.series:
        points = merged.setdefault(s.labels, {})
        for i, v in enumerate(s.values):
            if v is not None and not isinstance(v, HistogramValue):
                points[i * cmd.interval_ms] = v
    app = db.appender()
    for labels, points in merged.items():
        if points:
            ts = np.asarray(sorted(points), dtype=np.int64)
            vs = np.asarray([points[t] for t in ts.tolist()], dtype=np.float64)
            app.append_series(labels, ts, vs)
    app.commit()


def _histogram_series(cmd: LoadCmd) -> list[dict[str, str]]:
    """Label sets that hold native histograms after ``cmd`` (incl. ``load_with_nhcb`` conversions)."""
    out = [dict(s.labels) for s in cmd.series if s.has_histograms]
    if cmd.with_nhcb:
        for s in cmd.series:
            d = dict(s.labels)
            name = d.get("__name__", "")
            for suffix in ("_bucket", "_count", "_sum"):
                if name.endswith(suffix):
                    d = {k: v for k, v in d.items() if k != "le"}
                    d["__name__"] = name[: -len(suffix)]
                    out.append(d)
    return out


def _may_select(expr: str, hist_series: list[dict[str, str]]) -> bool:
    """Whether a selector of ``expr`` could select one of ``hist_series`` (FORMAT.md section 5)."""
    if not hist_series:
        return False
    from .ast import VectorSelector, walk
    from .parser import ParseError, parse_expr

    try:
        node = parse_expr(expr)
    except ParseError:
        return False
    for n in walk(node):
        if isinstance(n, VectorSelector):
            for labels in hist_series:
                if all(m.matches(labels.get(m.name, "")) for m in n.matchers):
                    return True
    return False


def run_file(path: str | Path, manifest: dict[tuple[str, int], bool] | None = None) -> list[CaseResult]:
    """Run one script; one ``CaseResult`` per eval."""
    path = Path(path)
    if manifest is None:
        manifest = load_manifest(path.parent)
    script = parse_test_file(path)
    skip_all = path.name in SKIP_FILES
    results: list[CaseResult] = []
    hist_series: list[dict[str, str]] = []
    store = _Store()
    try:
        engine = Engine(store.db, max_samples=50_000_000, timeout_s=100)
        for cmd in script.commands:
            if isinstance(cmd, ClearCmd):
                hist_series = []
                store.close()
                store = _Store()
                engine = Engine(store.db, max_samples=50_000_000, timeout_s=100)
            elif isinstance(cmd, LoadCmd):
                _load(store.db, cmd)
                hist_series.extend(_histogram_series(cmd))
            elif isinstance(cmd, EvalCmd):
                flagged = manifest.get((path.name, cmd.line))
                if flagged is None:  # no manifest entry: use FORMAT.md's heuristic ourselves
                    flagged = _may_select(cmd.expr, hist_series)
                if skip_all or flagged or cmd.has_histograms:
                    results.append(CaseResult(path.name, cmd.line, cmd.expr, "skip", "native histograms"))
                    continue
                msg = run_eval(engine, cmd)
                results.append(CaseResult(path.name, cmd.line, cmd.expr, "fail" if msg else "pass", msg or ""))
    finally:
        store.close()
    return results


def run_eval(engine: Engine, cmd: EvalCmd) -> str | None:
    """Run one eval; ``None`` when it passes, else what went wrong."""
    try:
        if cmd.is_range:
            res = engine.range(cmd.expr, cmd.start_ms, cmd.end_ms, cmd.step_ms)
        else:
            res = engine.instant(cmd.expr, cmd.time_ms)
    except Exception as e:  # noqa: BLE001 - any failure of the engine is a test outcome
        exp = cmd.fail_expectation
        if exp is None:
            return f"unexpected error: {type(e).__name__}: {e}"
        text = str(e)
        if exp.message is not None and exp.message != text:
            return f"expected error {exp.message!r}, got {text!r}"
        if exp.regex is not None and not re2.search(exp.regex, text):
            return f"expected error matching {exp.regex!r}, got {text!r}"
        return None
    if cmd.expects_fail:
        return f"expected an error, got {_short(res)}"
    if isinstance(res, Matrix):
        return _check_matrix(cmd, res)
    if cmd.expected_scalar is not None:
        if not isinstance(res, Scalar):
            return f"expected scalar {cmd.expected_scalar}, got {_short(res)}"
        if not float_close(cmd.expected_scalar, res.value):
            return f"expected scalar {cmd.expected_scalar}, got {res.value}"
        return None
    if cmd.expected_string is not None:
        if not isinstance(res, String) or res.value != cmd.expected_string:
            return f"expected string {cmd.expected_string!r}, got {_short(res)}"
        return None
    if cmd.range_vector is not None:
        return _check_range_vector(cmd, res)
    if isinstance(res, Scalar):
        if cmd.expected:
            return f"expected a vector, got scalar {res.value}"
        return None
    if not isinstance(res, InstantVector):
        return f"expected a vector, got {_short(res)}"
    return _check_vector(cmd, res)


def _short(res) -> str:
    if isinstance(res, Scalar):
        return f"scalar {res.value}"
    if isinstance(res, String):
        return f"string {res.value!r}"
    if isinstance(res, InstantVector):
        return f"vector of {len(res)} series"
    if isinstance(res, RangeVector):
        return f"range vector of {len(res)} series"
    return f"matrix of {len(res)} series"


def _fmt(labels) -> str:
    return tsdb.labels.format_labels(labels)


def _same(expected: float, actual: float) -> bool:
    if is_stale(expected):
        return is_stale(actual)
    return float_close(expected, actual)


def _norm(labels) -> tuple:
    """Expected label sets as the storage keeps them: an empty value means no label."""
    return tuple(p for p in labels if p[1] != "")


def _check_vector(cmd: EvalCmd, res: InstantVector) -> str | None:
    got = {lab: float(v) for lab, v in zip(res.labels, res.values.tolist(), strict=True)}
    want = {}
    for e in cmd.expected:
        if e.values and e.values[0] is not None:
            want[_norm(e.labels)] = e.values[0]
    missing = [lab for lab in want if lab not in got]
    extra = [lab for lab in got if lab not in want]
    if missing or extra:
        parts = []
        if missing:
            parts.append("missing " + ", ".join(f"{_fmt(lab)} {want[lab]}" for lab in missing[:3]))
        if extra:
            parts.append("unexpected " + ", ".join(f"{_fmt(lab)} {got[lab]}" for lab in extra[:3]))
        return "; ".join(parts)
    for lab, v in want.items():
        if not _same(v, got[lab]):
            return f"{_fmt(lab)}: expected {v}, got {got[lab]}"
    if cmd.ordered:
        order = [_norm(e.labels) for e in cmd.expected]
        if list(res.labels) != order:
            return f"expected order {[_fmt(x) for x in order]}, got {[_fmt(x) for x in res.labels]}"
    return None


def _expected_points(values, start: int, step: int) -> dict[int, float]:
    return {start + i * step: v for i, v in enumerate(values) if v is not None}


def _compare_points(lab, want: dict[int, float], got: dict[int, float]) -> str | None:
    if set(want) != set(got):
        return f"{_fmt(lab)}: expected points at {sorted(want)}, got {sorted(got)}"
    for t, v in want.items():
        if not _same(v, got[t]):
            return f"{_fmt(lab)} @{t}: expected {v}, got {got[t]}"
    return None


def _check_matrix(cmd: EvalCmd, res: Matrix) -> str | None:
    got = {}
    for i, lab in enumerate(res.labels):
        t, v = res.series(i)
        got[lab] = dict(zip(t.tolist(), v.tolist(), strict=True))
    want = {_norm(e.labels): _expected_points(e.values, cmd.start_ms, cmd.step_ms) for e in cmd.expected}
    want = {k: v for k, v in want.items() if v}
    missing = [lab for lab in want if lab not in got]
    extra = [lab for lab in got if lab not in want]
    if missing or extra:
        parts = []
        if missing:
            parts.append("missing " + ", ".join(_fmt(lab) for lab in missing[:3]))
        if extra:
            parts.append("unexpected " + ", ".join(f"{_fmt(lab)} {list(got[lab].values())[:5]}" for lab in extra[:3]))
        return "; ".join(parts)
    for lab, pts in want.items():
        msg = _compare_points(lab, pts, got[lab])
        if msg:
            return msg
    return None


def _check_range_vector(cmd: EvalCmd, res) -> str | None:
    if not isinstance(res, RangeVector):
        return f"expected a range vector, got {_short(res)}"
    start, _, step = cmd.range_vector
    got = {lab: dict(zip(t.tolist(), v.tolist(), strict=True))
           for lab, t, v in zip(res.labels, res.timestamps, res.values, strict=True)}
    want = {_norm(e.labels): _expected_points(e.values, start, step) for e in cmd.expected}
    if set(want) != set(got):
        return f"expected series {[_fmt(x) for x in want]}, got {[_fmt(x) for x in got]}"
    for lab, pts in want.items():
        msg = _compare_points(lab, pts, got[lab])
        if msg:
            return msg
    return None


def format_failure(r: CaseResult) -> str:
    return f"{r.key}: {r.expr}: {r.message}"


def summary(results: list[CaseResult]) -> str:
    passed = sum(r.status == "pass" for r in results)
    failed = sum(r.status == "fail" for r in results)
    skipped = sum(r.status == "skip" for r in results)
    text = f"{passed} passed, {failed} failed"
    return text + (f", {skipped} skipped" if skipped else "")


__all__ = ["CaseResult", "run_file", "run_eval", "load_manifest", "format_failure", "summary"]
