"""The parser against Prometheus's own PromQL test scripts and the benchmark queries.

* Every ``eval`` expression in ``promql-tests/*.test`` must parse, unless the
  block expects a failure whose message is a parse-time error; the blocks
  where we disagree are listed in ``known_parse_failures.txt`` (kept exact).
* Every expression survives print + re-parse.
* The ``.test`` format parser reads every file and agrees with
  ``manifest.json`` on where the eval blocks are and what they expect.
* The benchmark query set parses; the time per query is printed (``-s``),
  never asserted.

The shared directory lives outside the repository: these tests skip when it
is missing, but fail when the ``CI`` environment variable is set.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from _requirements import missing

from query.parser import ParseError, expr_to_string, format_expr, parse_expr
from query.promqltest_format import ClearCmd, EvalCmd, LoadCmd, parse_test_file

HERE = Path(__file__).resolve().parent
SHARED = Path(os.environ.get("PROMLITE_SHARED", HERE.parents[2] / "shared"))
TESTS_DIR = SHARED / "promql-tests"
QUERIES = SHARED / "datasets" / "queries.txt"
KNOWN = HERE / "known_parse_failures.txt"

# Messages that only the parser (or its static checks) produces; an expected
# failure with one of these is a parse-time failure.
PARSE_ERROR_MARKERS = (
    "parse error",
    "unexpected ",
    "expected type ",
    "expected label selectors only",
    "unknown function with name",
    "vector selector must contain at least one non-empty matcher",
    "bool modifier can only be used",
    "comparisons between scalars must use BOOL",
    "not allowed in binary scalar expression",
    "no grouping allowed for",
    "vector matching only allowed between instant vectors",
    "ranges only allowed for vector selectors",
    "no offset modifiers allowed before range",
    "no @ modifiers allowed before range",
    "offset may not be set multiple times",
    "may not be set multiple times",
    "subquery is only allowed on instant vector",
    "argument(s) in call to",
    "wrong number of arguments for aggregate expression",
    "no arguments for aggregate expression",
    "trailing commas not allowed",
    "invalid label name for grouping",
    "metric name must not be set twice",
    "anchored and smoothed modifiers cannot be used together",
)


def _require(path: Path) -> Path:
    if not path.exists():
        missing(f"{path} not found (set PROMLITE_SHARED to the shared reference directory)")
    return path


def _scripts() -> list[Path]:
    return sorted(_require(TESTS_DIR).glob("*.test"))


def _expects_parse_error(cmd: EvalCmd) -> bool:
    fail = cmd.fail_expectation
    if fail is None:
        return False
    text = fail.message or fail.regex or ""
    return any(marker in text for marker in PARSE_ERROR_MARKERS)


def _known() -> set[str]:
    out = set()
    for line in KNOWN.read_text().splitlines():
        entry = line.split("#", 1)[0].strip()
        if entry:
            out.add(entry)
    return out


def test_every_eval_expression_parses_as_the_script_expects() -> None:
    mismatches: dict[str, str] = {}
    total = 0
    for path in _scripts():
        for cmd in parse_test_file(path).evals:
            total += 1
            want_error = _expects_parse_error(cmd)
            try:
                parse_expr(cmd.expr)
                got = None
            except ParseError as e:
                got = str(e)
            key = f"{path.name}:{cmd.line}"
            if want_error and got is None:
                mismatches[key] = f"accepted, script expects failure: {cmd.expr}"
            elif not want_error and got is not None:
                mismatches[key] = f"{got}: {cmd.expr}"
    assert total > 1000
    known = _known()
    new = {k: v for k, v in mismatches.items() if k not in known}
    fixed = sorted(known - set(mismatches))
    assert not new, "parse outcome differs from the script (add a fix or a known_parse_failures.txt entry):\n" + "\n".join(
        f"{k}: {v}" for k, v in sorted(new.items())
    )
    assert not fixed, f"now parse as expected, remove from known_parse_failures.txt: {fixed}"


def test_every_eval_expression_round_trips() -> None:
    for path in _scripts():
        for cmd in parse_test_file(path).evals:
            e = parse_expr(cmd.expr)
            text = expr_to_string(e)
            assert expr_to_string(parse_expr(text)) == text, (path.name, cmd.line)
            assert expr_to_string(parse_expr(format_expr(e))) == text, (path.name, cmd.line)


def test_test_format_parser_matches_manifest() -> None:
    manifest = json.loads((_require(TESTS_DIR) / "manifest.json").read_text())
    by_file: dict[str, dict[int, dict]] = {}
    for entry in manifest:
        by_file.setdefault(entry["file"], {})[entry["line"]] = entry
    for path in _scripts():
        script = parse_test_file(path)
        evals = {c.line: c for c in script.evals}
        want = by_file.get(path.name, {})
        assert set(evals) == set(want), path.name
        for line, entry in want.items():
            cmd = evals[line]
            assert cmd.is_range == entry["range"], (path.name, line)
            assert cmd.expects_fail == entry["expect_fail"], (path.name, line)
            assert entry["eval"].endswith(cmd.expr), (path.name, line)
        for cmd in script.commands:
            assert isinstance(cmd, (ClearCmd, LoadCmd, EvalCmd))


def test_test_format_parser_counts() -> None:
    # Load/clear/eval counts from FORMAT.md's table for a few files.
    expected = {"aggregators.test": (20, 19, 125), "functions.test": (53, 46, 305), "native_histograms.test": (74, 55, 374)}
    for name, (loads, clears, evals) in expected.items():
        script = parse_test_file(_require(TESTS_DIR / name))
        got = (
            sum(isinstance(c, LoadCmd) for c in script.commands),
            sum(isinstance(c, ClearCmd) for c in script.commands),
            len(script.evals),
        )
        assert got == (loads, clears, evals), name


def test_benchmark_queries_parse_and_report_time() -> None:
    rows = [
        line.rstrip("\n").split("\t")
        for line in _require(QUERIES).read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    queries = [row[4] for row in rows]
    assert queries
    for q in queries:
        parse_expr(q)
    per_query = []
    for q in queries:
        start = time.perf_counter()
        for _ in range(20):
            parse_expr(q)
        per_query.append((time.perf_counter() - start) / 20)
    per_query.sort()
    print(
        f"\nparse time over {len(queries)} benchmark queries: median {per_query[len(per_query) // 2] * 1e6:.0f} us, "
        f"max {per_query[-1] * 1e6:.0f} us"
    )
