"""One switch for the long versions of the fault, fuzz and load suites.

CI runs every suite bounded (a few seconds to a minute each) so that `.ci/run` stays well under
its budget. `PROMLITE_SOAK=1` runs the long versions whose figures `docs/reliability.md` quotes
(schemathesis over >= 10,000 requests, >= 50 kill -9 cycles, long fuzz runs).
"""

import os

SOAK = os.environ.get("PROMLITE_SOAK", "") not in ("", "0")


def scaled(ci: int, soak: int) -> int:
    """How many iterations to run: `ci` normally, `soak` with PROMLITE_SOAK=1."""
    return soak if SOAK else ci
