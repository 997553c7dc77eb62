"""Exposition formats: Prometheus text 0.0.4 and OpenMetrics 1.0, sans-IO.

Bytes in, samples out; no I/O, no asyncio/aiohttp (the transport decompresses
and hands over the body). Entry points:

* :func:`parse` -- choose the format from the Content-Type, like Prometheus.
* :func:`parse_text`, :func:`parse_openmetrics` -- one format explicitly.
* :func:`parse_lines_cached` -- the steady-state scrape path with a series cache.
* :class:`StreamParser` -- ``feed(bytes)`` / ``close()`` for bodies that arrive in pieces.
* :func:`check_metrics` -- errors and lint warnings, like ``promtool check metrics``.

All of them raise (or, for ``check_metrics``, report) :class:`ExpositionError`
with a 1-based line and column. See ``docs/exposition.md`` for how strict each
format is and why.
"""

from .check import check_metrics
from .errors import ExpositionError, Problem
from .fast import CachedParse, Miss, parse_lines_cached
from .model import NORMAL_NAN, NORMAL_NAN_BITS, Exemplar, Metadata, ParseResult, Sample
from .parse import format_for, parse, parse_openmetrics, parse_text
from .stream import StreamParser

__all__ = [
    "CachedParse",
    "Exemplar",
    "ExpositionError",
    "Metadata",
    "Miss",
    "NORMAL_NAN",
    "NORMAL_NAN_BITS",
    "ParseResult",
    "Problem",
    "Sample",
    "StreamParser",
    "check_metrics",
    "format_for",
    "parse",
    "parse_lines_cached",
    "parse_openmetrics",
    "parse_text",
]
