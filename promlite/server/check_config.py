"""``promlite check config FILE...`` and ``promlite check metrics``, worded like promtool.

``check config`` loads each file with the scraper's loader (the same code
``promlite serve`` uses, so what passes here starts there) and prints::

    Checking prometheus.yml
     SUCCESS: prometheus.yml is valid prometheus config file syntax

or ``  FAILED: <reason>`` on stderr (as promtool); exit 1 when any file fails. ``check metrics``
reads an exposition on stdin and prints one problem a line (``error`` lines
first stop the check, as promtool's parse errors do): exit 1 on an error,
3 on lint warnings only (promtool's lint exit code), 0 when clean.
"""

from __future__ import annotations

import sys
from typing import TextIO

from scraper._yaml import ConfigError
from scraper.config import load_config_file

LINT_EXIT_CODE = 3


def check_config_files(paths: list[str], out: TextIO | None = None) -> int:
    out = out or sys.stdout
    failed = False
    for path in paths:
        print(f"Checking {path}", file=out)
        try:
            load_config_file(path)
        except ConfigError as e:
            print(file=out)
            print(f"  FAILED: {e}", file=sys.stderr if out is sys.stdout else out)
            failed = True
            continue
        print(f" SUCCESS: {path} is valid prometheus config file syntax", file=out)
        print(file=out)
    return 1 if failed else 0


def check_metrics_stream(data: bytes, fmt: str = "text", out: TextIO | None = None) -> int:
    # imported here: the exposition parser loads numpy, which ``check config`` does not need
    from scraper.exposition import check_metrics

    out = out or sys.stderr
    problems = check_metrics(data, fmt)  # type: ignore[arg-type]
    errors = [p for p in problems if p.severity == "error"]
    for p in problems:
        if p.severity == "error":
            print(f"error while linting: line {p.line}: {p.message}", file=out)
        else:
            print(f"{p.metric or '-'} {p.message} (line {p.line})", file=out)
    if errors:
        return 1
    return LINT_EXIT_CODE if problems else 0
