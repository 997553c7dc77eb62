"""Errors of query evaluation (not parsing: that is ``query.errors.ParseError``).

``QueryError`` carries Prometheus's message for an execution error; the HTTP
layer reports it as ``errorType: execution``. ``QueryTimeoutError`` is the
``--query.timeout`` case (``errorType: timeout``).
"""

from __future__ import annotations


class QueryError(ValueError):
    """An execution error of a query (Prometheus's wording)."""


class QueryTimeoutError(QueryError):
    """The query ran longer than the engine's timeout."""
