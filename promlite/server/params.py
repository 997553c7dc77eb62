"""Request parameters of the API, parsed and checked as Prometheus does.

Times (``time``, ``start``, ``end``) are unix seconds with decimals or RFC
3339 (``parseTime`` in ``web/api/v1/api.go``): a float keeps millisecond
precision (``math.Round(frac*1000)/1000``), an RFC 3339 time is truncated to
the millisecond. Durations (``step``, ``timeout``) are float seconds or
Prometheus durations (``query.durations.parse_duration``).

Every problem raises :class:`~promlite.server.envelope.APIError` of type
``bad_data`` with Prometheus's wording (``invalid parameter "start": cannot
parse "x" to a valid timestamp``), so handlers never see malformed input.

Limits (400 ``bad_data``, checked on the event loop before anything is parsed):

* a range query may have at most ``MAX_POINTS`` = 11,000 steps per series (Prometheus's own limit);
* a request may carry at most ``MAX_MATCH_SETS`` = 1,000 ``match[]`` selectors. Prometheus has no
  such limit; Grafana sends one selector per lookup and the largest label browsers a few dozen,
  while 1,000 selectors already cost seconds of parsing and index work: a huge list is refused
  instead of parsed;
* a PromQL expression (``query``) and each selector (``match[]``, ``match_target``) may be at most
  ``MAX_QUERY_BYTES`` = 256 KiB of UTF-8. Prometheus has no such limit either; the longest
  generated dashboard queries are tens of KiB, and parsing costs about 20 µs a token, so 256 KiB
  (~50,000 tokens) bounds one request's parse at about a second of a query worker.

The body (4 MiB, 413) and URL (512 KiB, 414) limits are in :mod:`.request`.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from query.ast import VectorSelector
from query.durations import parse_duration
from query.parser import ParseError, parse_expr
from tsdb.matchers import Matcher

from .envelope import bad_data

MAX_POINTS = 11_000
MAX_MATCH_SETS = 1_000
MAX_QUERY_BYTES = 256 * 2**10

# Prometheus's MinTime/MaxTime in ms (time.Unix(math.MinInt64/1000+62135596801, 0) and
# time.Unix(math.MaxInt64/1000-62135596801, 999999999)): what clients send to mean "unbounded".
MIN_TIME_MS = -9223309901257974000
MAX_TIME_MS = 9223309901257974999
_MIN_TIME_TEXT = "-292273086-05-16T16:47:06Z"
_MAX_TIME_TEXT = "292277025-08-18T07:12:54.999999999Z"

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})\Z"
)


def _cannot(text: str) -> str:
    return f"cannot parse {_go_quote(text)} to a valid timestamp"


def _go_quote(s: str) -> str:
    from query.quoting import go_quote

    return go_quote(s)


def parse_time_value(text: str) -> int:
    """Unix seconds (with decimals) or RFC 3339 -> ms; ``ValueError`` with Prometheus's message."""
    s = text
    if s and "_" not in s:
        try:
            f = float(s)
        except ValueError:
            f = None
        if f is not None:
            if not math.isfinite(f):
                raise ValueError(_cannot(text))
            frac, whole = math.modf(f)
            x = frac * 1000  # Go's math.Round: halves away from zero (Python's round() is to even)
            ms = int(whole) * 1000 + int(math.copysign(math.floor(abs(x) + 0.5), x))
            return max(MIN_TIME_MS, min(MAX_TIME_MS, ms))
    m = _RFC3339.match(s)
    if m:
        y, mo, d, h, mi, sec, frac, tz = m.groups()
        try:
            base = dt.datetime(int(y), int(mo), int(d), int(h), int(mi), int(sec), tzinfo=dt.UTC)
        except ValueError:
            raise ValueError(_cannot(text)) from None
        off = 0
        if tz not in ("Z", "z"):
            sign = 1 if tz[0] == "+" else -1
            off = sign * (int(tz[1:3]) * 3600 + int(tz[4:6]) * 60)
        secs = int((base - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)).total_seconds()) - off
        ms = int((frac or "0").ljust(3, "0")[:3])
        return secs * 1000 + ms
    if s == _MIN_TIME_TEXT:
        return MIN_TIME_MS
    if s == _MAX_TIME_TEXT:
        return MAX_TIME_MS
    raise ValueError(_cannot(text))


def get_time(params: Mapping[str, str], name: str, default: int | None) -> int:
    """Parameter ``name`` as ms; ``default`` when absent (None: required)."""
    text = params.get(name)
    if text is None or (text == "" and default is not None):
        if default is None:
            raise bad_data(f'invalid parameter "{name}": {_cannot("")}')
        return default
    try:
        return parse_time_value(text)
    except ValueError as e:
        raise bad_data(f'invalid parameter "{name}": {e}') from None


def get_duration_ms(params: Mapping[str, str], name: str) -> int | None:
    """Parameter ``name`` (float seconds or a duration) as ms, or None when absent."""
    text = params.get(name)
    if text is None or text == "":
        return None
    try:
        return parse_duration(text)
    except ValueError as e:
        raise bad_data(f'invalid parameter "{name}": {e}') from None


def range_params(params: Mapping[str, str]) -> tuple[int, int, int]:
    """``(start_ms, end_ms, step_ms)`` of a range query, with Prometheus's checks."""
    start = get_time(params, "start", None)
    end = get_time(params, "end", None)
    if end < start:
        raise bad_data('invalid parameter "end": end timestamp must not be before start time')
    if "step" not in params:
        raise bad_data('invalid parameter "step": cannot parse "" to a valid duration')
    step = get_duration_ms(params, "step")
    if step is None or step <= 0:
        raise bad_data('invalid parameter "step": zero or negative query resolution step widths are not '
                       "accepted. Try a positive integer")
    if (end - start) // step > MAX_POINTS:
        raise bad_data("exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the "
                       "query resolution (?step=XX)")
    return start, end, step


def check_length(text: str | None, name: str) -> None:
    """``bad_data`` when ``text`` (parameter ``name``) is over ``MAX_QUERY_BYTES`` of UTF-8."""
    if text is None or len(text) * 4 <= MAX_QUERY_BYTES:
        return
    n = len(text.encode("utf-8", "surrogatepass"))
    if n > MAX_QUERY_BYTES:
        raise bad_data(f'invalid parameter "{name}": {n} bytes long, at most {MAX_QUERY_BYTES} '
                       f"({MAX_QUERY_BYTES // 1024} KiB)")


def get_query(params: Mapping[str, str]) -> str | None:
    """Parameter ``query`` (None when absent), refused when over ``MAX_QUERY_BYTES``."""
    text = params.get("query")
    check_length(text, "query")
    return text


_GO_INT = re.compile(r"[+-]?[0-9]+\Z")


def go_atoi(text: str) -> int:
    """Go's ``strconv.Atoi``: ASCII digits with an optional sign, within int64; ``ValueError`` with Go's
    message (``strconv.Atoi: parsing "x": invalid syntax``). Python's ``int`` also takes spaces,
    underscores and other scripts' digits."""
    if not _GO_INT.match(text):
        raise ValueError(f"strconv.Atoi: parsing {_go_quote(text)}: invalid syntax")
    n = int(text)
    if not -(2**63) <= n < 2**63:
        raise ValueError(f"strconv.Atoi: parsing {_go_quote(text)}: value out of range")
    return n


def parse_limit(params: Mapping[str, str]) -> int:
    """``limit`` (0 = none); Prometheus's ``parseLimitParam`` refuses negatives and non-integers."""
    text = params.get("limit", "")
    if text == "":
        return 0
    try:
        n = go_atoi(text)
    except ValueError as e:
        raise bad_data(f'invalid parameter "limit": {e}') from None
    if n < 0:
        raise bad_data('invalid parameter "limit": limit must be non-negative')
    return n


def parse_selector(text: str, param: str = "match[]") -> list[Matcher]:
    """The matchers of one series selector (``up{job="x"}``, ``{__name__=~"a.*"}``) of parameter ``param``."""
    check_length(text, param)
    try:
        expr = parse_expr(text)
    except ParseError as e:
        raise bad_data(f'invalid parameter "{param}": {e}') from None
    if not isinstance(expr, VectorSelector):
        raise bad_data(f'invalid parameter "{param}": 1:1: parse error: expected a series selector, got {text!r}')
    return list(expr.matchers)


def parse_match_sets(values: list[str], *, required: bool = False) -> list[list[Matcher]]:
    """Every ``match[]`` selector's matchers; each must have a matcher that rejects ``""``."""
    if not values:
        if required:
            raise bad_data("no match[] parameter provided")
        return []
    check_match_values(values)
    sets = [parse_selector(v) for v in values]
    for ms in sets:
        if all(m.matches("") for m in ms):
            raise bad_data("match[] must contain at least one non-empty matcher")
    return sets


def check_match_values(values: list[str]) -> None:
    """The ``match[]`` limits: at most ``MAX_MATCH_SETS`` selectors of at most ``MAX_QUERY_BYTES`` each."""
    if len(values) > MAX_MATCH_SETS:
        raise bad_data(f"too many match[] parameters: {len(values)} (at most {MAX_MATCH_SETS})")
    for v in values:
        check_length(v, "match[]")


async def match_sets(run: Callable[..., Awaitable[Any]], values: list[str], *,
                     required: bool = False) -> list[list[Matcher]]:
    """:func:`parse_match_sets` through ``run`` (the query pool): up to 1,000 selectors in a 4 MiB body
    are seconds of parsing, which must not hold the event loop. No selectors: no trip. The limits
    are checked here first, on the loop, so a refused request costs no trip either."""
    if not values:
        return parse_match_sets(values, required=required)
    check_match_values(values)
    return await run(functools.partial(parse_match_sets, values, required=required))


def unescape_label_name(name: str) -> str:
    """Undo Prometheus's ``U__`` escaping of a UTF-8 label name in a URL path (``model.UnescapeName``).

    ``U__`` then the name with ``_`` doubled and other non-legacy characters as
    ``_<hex code point>_``: ``U__my_2e_label`` is ``my.label``. Anything that
    does not decode is returned unchanged, as Prometheus does.
    """
    if not name.startswith("U__"):
        return name
    body, out, i = name[3:], [], 0
    while i < len(body):
        c = body[i]
        if c != "_":
            out.append(c)
            i += 1
        elif body[i + 1 : i + 2] == "_":
            out.append("_")
            i += 2
        else:
            j = body.find("_", i + 1)
            if j < 0:
                return name
            try:
                out.append(chr(int(body[i + 1 : j], 16)))
            except ValueError:
                return name
            i = j + 1
    return "".join(out)
