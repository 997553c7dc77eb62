"""The steady-state scrape path: a series cache in front of the line parser.

A scrape of an unchanged target repeats the same series text every time, so
the scrape loop keeps, per target and per format, a dict from the raw text
that precedes a line's value to whatever it resolved that series to (a TSDB
ref). :func:`parse_lines_cached` then costs, per sample line, one
``rpartition``, one dict lookup and one ``float``, all run by C-level
``map`` calls over the whole body: there is no Python-level loop per hit
line, only per miss (new series, comments, blank lines).

How a line is looked up (``line.rpartition(b" ")``):

1. ``key, " ", value`` -- the line is ``key value``, the common case.
2. If ``key`` misses, ``key.rpartition(b" ")`` gives ``key2, " ", value``
   and the old value token becomes the timestamp: ``key2 value ts``.
3. Otherwise the line goes to the full line parser (``text.py`` or
   ``openmetrics.py``), which also says under which key the line's series can
   be cached: the bytes before the value token, when the value (and
   timestamp) are each preceded by exactly one blank and end the line.

Why a hit is safe: a key only ever enters the cache as the exact bytes in
front of the value of a line that parsed as a sample, and a value token never
contains a blank, a tab or a brace, so *any* line ``key + " " + token`` has the
same series; the token is then checked like the full parser checks it (Go
float syntax, no overflow; ints or OpenMetrics seconds for timestamps). A token
that fails the check sends its line to the full parser, which raises the
proper error (or parses an unusual layout, e.g. a tab before the timestamp).
Comment lines never collide with keys (keys start with a name after optional
blanks). Cache values must not be None (None marks a miss).

What this path does not check, on hits: OpenMetrics' semantic rules (this is
the Prometheus-like ``strict=False`` parse) and anything that depends on
context, e.g. a changed TYPE line changing ``le`` normalisation of a cached
series. Keep one cache per target *and* format, and clear it when the
target's TYPE lines change if that matters (Prometheus' scrape cache has the
same property).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from operator import itemgetter, methodcaller
from typing import NamedTuple

import numpy as np

from ._lex import (
    FLOAT_RE,
    INT64_MAX,
    INT64_MIN,
    INT_RE,
    REAL_RE,
    TokenError,
    column_of,
    parse_om_timestamp,
)
from .errors import ExpositionError
from .model import NORMAL_NAN_BITS, Exemplar, Format, Labels, Metadata
from .openmetrics import OMLineParser, OMMeta
from .parse import check_document
from .text import TextLineParser

_split = methodcaller("rpartition", b" ")
_first = itemgetter(0)
_third = itemgetter(2)
# Bytes a value token may consist of when float() and Go's ParseFloat agree on
# it: digits, sign, dot, exponent, and the letters of inf/infinity/nan. Python
# also takes "+nan"/"-nan", which Go rejects; checked apart.
_VALUE_BYTES = b"0123456789+-.eEnNaAiIfFtTyY\n"
_SIGNED_NAN = re.compile(rb"[+-][nN]")


class Miss(NamedTuple):
    """A sample whose series was not in the cache, fully parsed.

    ``key`` is what to store in the cache for it (``cache[key] = ref``); None
    when the line's layout cannot be found by the lookup (store nothing).
    """

    index: int
    key: bytes | None
    series: bytes
    labels: Labels


@dataclass(slots=True)
class CachedParse:
    """Result of :func:`parse_lines_cached`, per sample in input order.

    ``refs[i]`` is the cached object for hits and None for misses (see
    ``misses``, which are in input order). ``timestamps`` and
    ``has_timestamp`` are None when no sample carried a timestamp.
    """

    refs: list[object]
    values: np.ndarray
    timestamps: np.ndarray | None
    has_timestamp: np.ndarray | None
    misses: list[Miss]
    metadata: dict[str, Metadata] = field(default_factory=dict)
    exemplars: dict[int, Exemplar] = field(default_factory=dict)


def parse_lines_cached(
    body: bytes, cache: dict[bytes, object], *, fmt: Format = "text"
) -> CachedParse:
    """Parse ``body`` using ``cache`` (key -> ref) for series seen before.

    The cache is read, never written: store ``cache[m.key] = ref`` for each
    ``m`` in ``misses`` whose key is not None. Raises :class:`ExpositionError`
    exactly where :func:`parse_text` / ``parse_openmetrics(strict=False)``
    would.
    """
    if fmt == "openmetrics":
        lines = check_document(body)
        run = _Run(lines, cache, OMLineParser(), om=True)
    else:
        lines = body.split(b"\n")
        run = _Run(lines, cache, TextLineParser(), om=False)
    return run.go()


class _Run:
    """One call of parse_lines_cached (keeps the locals of the walk together)."""

    def __init__(self, lines: list[bytes], cache: dict[bytes, object], parser, *, om: bool):
        self.lines = lines
        self.cache = cache
        self.parser = parser
        self.om = om
        self.refs: list[object] = []
        self.values: list[float] = []
        self.ts: dict[int, int] = {}
        self.misses: list[Miss] = []
        self.exemplars: dict[int, Exemplar] = {}

    def go(self) -> CachedParse:
        lines = self.lines
        parts = list(map(_split, lines))
        hits = list(map(self.cache.get, map(_first, parts)))
        n = len(lines)
        start = 0
        while start <= n:
            try:
                i = hits.index(None, start)
            except ValueError:
                i = n
            if i > start:
                self._hit_run(parts, hits, start, i)
            if i == n:
                break
            self._miss(i, parts[i])
            start = i + 1
        values = np.array(self.values, dtype=np.float64)
        nan = np.isnan(values)
        if nan.any():
            values.view(np.uint64)[nan] = NORMAL_NAN_BITS
        timestamps = mask = None
        if self.ts:
            idx = np.fromiter(self.ts.keys(), dtype=np.int64, count=len(self.ts))
            timestamps = np.zeros(len(values), dtype=np.int64)
            timestamps[idx] = np.fromiter(self.ts.values(), dtype=np.int64, count=len(self.ts))
            mask = np.zeros(len(values), dtype=bool)
            mask[idx] = True
        return CachedParse(self.refs, values, timestamps, mask, self.misses, self.parser.metadata, self.exemplars)

    def _hit_run(self, parts: list, hits: list, a: int, b: int) -> None:
        """Lines ``a..b-1`` all hit in stage 1: take refs and values in bulk."""
        toks = list(map(_third, parts[a:b]))
        floats = _bulk_floats(toks)
        if floats is not None:
            self.refs.extend(hits[a:b])
            self.values.extend(floats)
            return
        # Some token is unusual: check one by one, full-parse the odd lines.
        for j, tok in enumerate(toks):
            f = _one_float(tok)
            if f is None:
                self._slow(a + j)
            else:
                self.refs.append(hits[a + j])
                self.values.append(f)

    def _miss(self, i: int, part: tuple[bytes, bytes, bytes]) -> None:
        key, sp, ts_tok = part
        if sp:
            key2, sp2, vtok = key.rpartition(b" ")
            ref = self.cache.get(key2) if sp2 else None
            if ref is not None:
                f = _one_float(vtok)
                ms = self._one_ts(ts_tok)
                if f is not None and ms is not None:
                    self.ts[len(self.values)] = ms
                    self.refs.append(ref)
                    self.values.append(f)
                    return
        self._slow(i)

    def _one_ts(self, tok: bytes) -> int | None:
        if self.om:
            if REAL_RE.fullmatch(tok) is None:
                return None
            try:
                return parse_om_timestamp(tok, 0)[1]
            except TokenError:
                return None
        if INT_RE.fullmatch(tok) is None:
            return None
        v = int(tok)
        return v if INT64_MIN <= v <= INT64_MAX else None

    def _slow(self, i: int) -> None:
        line = self.lines[i]
        try:
            r = self.parser.parse_line(line)
        except TokenError as e:
            raise ExpositionError(e.message, i + 1, column_of(line, e.offset)) from None
        if r is None or isinstance(r, OMMeta):
            return
        idx = len(self.values)
        if self.om:
            series, labels, value, ms, key = r.series, r.labels, r.value, r.ts_ms, r.key
            if r.exemplar is not None:
                self.exemplars[idx] = r.exemplar
        else:
            series, labels, value, ms, key = r
        self.misses.append(Miss(idx, key, series, labels))
        self.refs.append(None)
        self.values.append(value)
        if ms is not None:
            self.ts[idx] = ms


def _bulk_floats(toks: list[bytes]) -> list[float] | None:
    """Convert value tokens at C speed, or None if any token needs a closer look."""
    joined = b"\n".join(toks)
    if joined.translate(None, _VALUE_BYTES) or _SIGNED_NAN.search(joined) is not None:
        return None
    try:
        floats = list(map(float, toks))
    except ValueError:
        return None
    if (
        (math.inf in floats or -math.inf in floats)
        # Only a literal with an exponent, or one of over 300 digits, can overflow.
        and (b"e" in joined or b"E" in joined or len(joined) > 300)
        and any(math.isinf(f) and b"n" not in t.lower() for f, t in zip(floats, toks, strict=True))
    ):
        return None  # an overflowing literal such as 1e309
    return floats


def _one_float(tok: bytes) -> float | None:
    if FLOAT_RE.fullmatch(tok) is None:
        return None
    f = float(tok)
    if math.isinf(f) and b"n" not in tok.lower():
        return None
    return f
