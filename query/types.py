"""PromQL value types, as the static type checker sees them."""

from __future__ import annotations

import enum


class ValueType(enum.Enum):
    """The type of a PromQL expression (Prometheus ``parser.ValueType``).

    ``str()`` gives Prometheus's internal name (``matrix``); ``documented``
    gives the name its error messages use (``range vector``).
    """

    NONE = "none"
    SCALAR = "scalar"
    VECTOR = "vector"
    MATRIX = "matrix"
    STRING = "string"

    @property
    def documented(self) -> str:
        """Prometheus's ``DocumentedType``: ``instant vector``, ``range vector``, ..."""
        if self is ValueType.VECTOR:
            return "instant vector"
        if self is ValueType.MATRIX:
            return "range vector"
        return self.value

    def __str__(self) -> str:
        return self.value
