"""tsdb: an embeddable time-series database with Prometheus's data model and on-disk format.

Quick start::

    import tsdb

    with tsdb.open("data") as db:
        app = db.appender()
        app.append({"__name__": "up", "job": "api"}, 1_700_000_000_000, 1.0)
        app.commit()
        with db.querier(0, 2**62) as q:
            for s in q.select(tsdb.Matcher.eq("job", "api")):
                print(s.labels, s.timestamps, s.values)

See README.md ("Using tsdb as a library") and docs/format/ for the formats.
"""

from .appender import Appender
from .db import DB, Options, open
from .errors import (
    ClosedError,
    CorruptChunkError,
    CorruptError,
    DuplicateSampleError,
    InvalidLabelsError,
    InvalidSampleError,
    OutOfOrderError,
    StorageFullError,
    TSDBError,
)
from .head import AppendStats
from .labels import Labels, make_labels
from .matchers import InvalidMatcherError, Matcher, MatchType
from .querier import Querier, Series
from .samples import SampleArrays

STALE_NAN_BITS = 0x7FF0000000000002
"""Bit pattern of Prometheus's staleness marker (a NaN)."""

__all__ = [
    "open", "DB", "Options", "Appender", "AppendStats", "Querier", "Series", "SampleArrays",
    "Matcher", "MatchType", "Labels", "make_labels", "STALE_NAN_BITS",
    "TSDBError", "InvalidLabelsError", "InvalidSampleError", "InvalidMatcherError", "OutOfOrderError",
    "DuplicateSampleError", "CorruptError", "CorruptChunkError", "ClosedError", "StorageFullError",
]
