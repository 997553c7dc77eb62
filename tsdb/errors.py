"""Typed errors of the storage engine.

Bad input (a caller's mistake, a corrupt file) raises a subclass of
:class:`TSDBError` that says what was wrong and where. A broken internal
invariant is a bug and raises ``RuntimeError("BUG: ...")`` instead, so the two
never get confused in logs or in ``except`` clauses.
"""

from __future__ import annotations


class TSDBError(Exception):
    """Base class of every error the storage engine raises on bad input."""


class InvalidLabelsError(TSDBError, ValueError):
    """A label set breaks Prometheus's rules (bad name, non-UTF-8 value, duplicate name)."""


class InvalidSampleError(TSDBError, ValueError):
    """A sample cannot be stored at all (NaN or out-of-range timestamp, wrong dtype)."""


class OutOfOrderError(TSDBError):
    """A sample is older than the newest sample of its series (Prometheus: out of order)."""


class DuplicateSampleError(TSDBError):
    """Same timestamp as the newest sample of its series, with a different value."""


class CorruptError(TSDBError):
    """A file on disk is not what its format says it must be.

    ``path`` and ``offset`` say where; the message says what was found.
    """

    def __init__(self, message: str, path: str | None = None, offset: int | None = None):
        where = ""
        if path is not None:
            where = f"{path}"
            if offset is not None:
                where += f" at offset {offset}"
            where += ": "
        super().__init__(where + message)
        self.path = path
        self.offset = offset


class CorruptChunkError(CorruptError):
    """An encoded chunk cannot be decoded (truncated, bad header, bad bit stream)."""


class ClosedError(TSDBError):
    """The database (or appender) was used after ``close()``."""


class StorageFullError(TSDBError, OSError):
    """The disk is full (or a file-size limit was hit); the write was not acknowledged."""
