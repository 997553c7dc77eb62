"""``promlite promqltest FILE...``: run Prometheus's PromQL test scripts against the engine.

Prints one line per failing case (``file:line: expression: expected vs got``)
and ends with ``N passed, M failed`` (``, K skipped`` for native-histogram
cases). Exit status 0 only when nothing failed. ``-v`` also lists skipped
cases.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def cmd_promqltest(args: argparse.Namespace) -> int:
    from query.promqltest_format import TestScriptError
    from query.promqltest_runner import CaseResult, format_failure, run_file, summary

    results: list[CaseResult] = []
    broken = 0
    for name in args.files:
        path = Path(name)
        if not path.is_file():
            print(f"{name}: no such file", file=sys.stderr)
            broken += 1
            continue
        try:
            file_results = run_file(path)
        except TestScriptError as e:
            print(f"{e}", file=sys.stderr)
            broken += 1
            continue
        for r in file_results:
            if r.status == "fail" or (args.verbose and r.status == "skip"):
                print(format_failure(r) if r.status == "fail" else f"{r.key}: skipped: {r.expr}")
        results.extend(file_results)
    print(summary(results))
    failed = any(r.status == "fail" for r in results)
    return 1 if failed or broken else 0


def add_promqltest_command(sub) -> None:
    p = sub.add_parser("promqltest", help="run PromQL test scripts (*.test) against the engine")
    p.add_argument("files", nargs="+", metavar="FILE", help="test script(s) in Prometheus's promqltest format")
    p.add_argument("-v", "--verbose", action="store_true", help="also list skipped cases")
    p.set_defaults(func=cmd_promqltest)
