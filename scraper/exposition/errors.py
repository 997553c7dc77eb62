"""Errors of the exposition parser.

Bad input (a malformed or semantically invalid exposition) raises
:class:`ExpositionError`, which names the 1-based line and column where the
problem was found. The whole exposition is then rejected, as Prometheus fails
the whole scrape on the first bad line. A broken invariant inside the parser is
a bug and raises ``RuntimeError("BUG: ...")`` instead, never this class.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


class ExpositionError(ValueError):
    """An exposition could not be parsed.

    ``str(err)`` reads ``line 12: expected "=" after label name "foo", got "}"``.
    ``column`` is 1-based and counts characters (code points) of the line, or
    is ``None`` when the problem belongs to the line (or document) as a whole.
    """

    def __init__(self, message: str, line: int, column: int | None = None):
        super().__init__(f"line {line}: {message}")
        self.message = message
        self.line = line
        self.column = column

    def __reduce__(self):  # keep pickling (multiprocessing, hypothesis) working
        return (type(self), (self.message, self.line, self.column))


Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding of :func:`check_metrics`: a parse error or a lint warning.

    ``metric`` names the metric family the finding is about, when there is one.
    """

    line: int
    message: str
    severity: Severity = "error"
    metric: str | None = None

    def __str__(self) -> str:
        who = f"{self.metric} " if self.metric else ""
        return f"line {self.line}: {self.severity}: {who}{self.message}"
