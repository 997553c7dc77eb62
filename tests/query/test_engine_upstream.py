"""The engine against Prometheus's own PromQL test scripts (the referee).

Every eval block of every ``promql-tests/*.test`` file runs through
``query.promqltest_runner`` (a real tsdb in a temporary directory per script).
A failing case must be listed in ``known_failures.txt`` (``file:line``), and a
listed case that now passes is also an error, so the list only shrinks.
Native-histogram cases are skipped by the runner.

The shared directory lives outside the repository: the test skips when it
is missing, but fails when the ``CI`` environment variable is set.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from _requirements import missing

from query.promqltest_runner import CaseResult, format_failure, run_file, summary

HERE = Path(__file__).resolve().parent
SHARED = Path(os.environ.get("PROMLITE_SHARED", HERE.parents[2] / "shared"))
TESTS_DIR = SHARED / "promql-tests"
KNOWN = HERE / "known_failures.txt"


def _known() -> set[str]:
    out = set()
    for line in KNOWN.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            out.add(line)
    return out


@pytest.fixture(scope="module")
def upstream_results() -> list[CaseResult]:
    if not TESTS_DIR.is_dir():
        missing(f"{TESTS_DIR} is missing")
    results: list[CaseResult] = []
    for path in sorted(TESTS_DIR.glob("*.test")):
        results.extend(run_file(path))
    return results


def test_upstream_scripts_match_known_failures(upstream_results: list[CaseResult]) -> None:
    known = _known()
    failing = {r.key: r for r in upstream_results if r.status == "fail"}
    new = [format_failure(failing[k]) for k in sorted(failing) if k not in known]
    fixed = sorted(k for k in known if k not in failing)
    print(summary(upstream_results))
    assert not new, "new failures (fix them, or list them in known_failures.txt):\n" + "\n".join(new)
    assert not fixed, "listed in known_failures.txt but now passing (remove them):\n" + "\n".join(fixed)


def test_most_float_cases_pass(upstream_results: list[CaseResult]) -> None:
    ran = [r for r in upstream_results if r.status != "skip"]
    passed = sum(r.status == "pass" for r in ran)
    assert len(ran) > 900
    assert passed / len(ran) > 0.95
