"""``promlite check rules`` and ``promlite test rules``: promtool's rule tools (:mod:`promlite.rules.promtool`).

Registered lazily like every command: the rule file parser (and with it the
PromQL parser) is imported only when one of these runs; ``test rules`` also
loads the storage and the engine.
"""

from __future__ import annotations

import argparse


def _cmd_check_rules(args: argparse.Namespace) -> int:
    from .rules.promtool import check_rules

    return check_rules(args.files, lint=args.lint, lint_fatal=args.lint_fatal)


def _cmd_test_rules(args: argparse.Namespace) -> int:
    from .rules.promtool import test_rules

    return test_rules(args.files, run=args.run, diff=args.diff)


def add_check_rules_command(csub) -> None:
    """``check rules`` under the ``check`` command's subparsers."""
    cr = csub.add_parser("rules", help="check rule files (like promtool check rules); no file: read stdin")
    cr.add_argument("files", nargs="*", metavar="FILE", help="rule files; none: the rules are read from stdin")
    cr.add_argument("--lint", default="duplicate-rules",
                    help="linting checks to apply, comma-separated: all, duplicate-rules, none "
                         "(default: duplicate-rules)")
    cr.add_argument("--lint-fatal", action="store_true", help="make lint errors exit with exit code 3")
    cr.set_defaults(func=_cmd_check_rules)


def add_test_command(sub) -> None:
    """``test rules`` (promtool's unit tests for rules)."""
    test = sub.add_parser("test", help="unit tests (like promtool test)")
    tsub = test.add_subparsers(dest="test_command", metavar="WHAT", required=True)
    tr = tsub.add_parser("rules", help="unit tests for rules (promtool's test file format)")
    tr.add_argument("files", nargs="+", metavar="TEST.yml", help="unit test files")
    tr.add_argument("--run", action="append", metavar="REGEX",
                    help="run only the test groups whose name matches (repeatable: any of them)")
    tr.add_argument("--diff", action="store_true", help="show a diff of expected and actual alerts")
    tr.set_defaults(func=_cmd_test_rules)
