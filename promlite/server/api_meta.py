"""Metadata endpoints: labels, label values, series, metadata, targets, status, rules.

Label and series lookups run on the query pool (they may decode blocks);
the answers are what ``prometheus/web/api/v1/api.go`` returns:

* ``labels`` / ``label/<name>/values``: sorted strings; ``match[]``
  (repeated) restricts to the union of the matching series; ``start`` and
  ``end`` default to all time; ``limit`` truncates with the warning
  ``results truncated due to limit``. ``data`` is ``[]``, never ``null``.
* ``series``: ``match[]`` required; a list of label objects.

Large answers stay off the event loop: the lookup runs on the query pool and,
when the answer has more than ``OFF_LOOP_ITEMS`` items, so do the sort and
the JSON encoding, in the same trip; smaller answers are encoded on the loop
(a few microseconds, and no bytes to hand back). On the pool every step is
cut into pieces of a few milliseconds (``_sorted_label_sets``, ``_encode_array``):
a worker thread holds the GIL for as long as one C call runs, so one
``sorted`` of 200,000 label tuples (2.3 s) or one ``json.dumps`` of their
dicts (0.3 s) froze ``/-/healthy`` and the scrapes as surely as running on
the loop did.
* ``status/buildinfo``: a semver ``version`` -- the Prometheus API level
  promlite implements -- and, deliberately, no ``features`` key (Grafana
  takes a ``features`` key for Mimir). ``status/flags`` is not served (404):
  Grafana's alerting reads a 2xx there as Thanos.
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
import os
import platform
import threading

from aiohttp import web

from promlite import __version__
from tsdb.matchers import Matcher

from . import api_rules
from .envelope import bad_data, dumps, json_response, success, success_text
from .params import (
    MAX_TIME_MS,
    MIN_TIME_MS,
    get_time,
    go_atoi,
    match_sets,
    parse_limit,
    parse_selector,
    unescape_label_name,
)
from .redact import redact_config
from .request import form
from .state import STATE, ServerState

# The Prometheus HTTP API level promlite answers like (for clients that gate features on it).
PROMETHEUS_API_VERSION = "2.53.0"
TRUNCATED = "results truncated due to limit"


def _range(params) -> tuple[int, int]:
    start = get_time(params, "start", MIN_TIME_MS)
    end = get_time(params, "end", MAX_TIME_MS)
    if end < start:
        raise bad_data('invalid parameter "end": end timestamp must not be before start time')
    return start, end


def _limited(items: list, limit: int) -> tuple[list, list[str] | None]:
    if limit and len(items) > limit:
        return items[:limit], [TRUNCATED]
    return items, None


def _label_names(db, start: int, end: int, sets: list[list[Matcher]]) -> list[str]:
    with db.querier(start, end) as q:
        if not sets:
            return q.label_names()
        names: set[str] = set()
        for ms in sets:
            names.update(q.label_names(*ms))
        return _sorted_in_pieces(list(names))


def _label_values(db, name: str, start: int, end: int, sets: list[list[Matcher]]) -> list[str]:
    with db.querier(start, end) as q:
        if not sets:
            return q.label_values(name)
        values: set[str] = set()
        for ms in sets:
            values.update(q.label_values(name, *ms))
        return _sorted_in_pieces(list(values))


OFF_LOOP_ITEMS = 2_000  # answers with more items are sorted and encoded on the query pool
_PIECE = 4_096  # items per C call (sort, encode) on the pool: a few ms of GIL each


def _sorted_label_sets(label_sets) -> list:
    """``sorted(label_sets)`` (tuples of ``(name, value)``) without one long C call.

    Each label set gets a string key, ``name\0value\0name...``, that sorts as the tuple does
    (string comparison is a memcmp, tuple comparison a rich compare per element: 5x faster);
    pieces of ``_PIECE`` are sorted and ``heapq.merge`` (Python code: the GIL changes hands)
    merges them. A value holding a NUL would break the key's order: then the tuples are sorted.
    """
    items = list(label_sets)
    if len(items) <= _PIECE:
        return sorted(items)
    keyed = [("\0".join(itertools.chain.from_iterable(lab)), lab) for lab in items]
    if any(k.count("\0") != 2 * len(lab) - 1 for k, lab in keyed):
        return sorted(items)
    return [lab for _, lab in _sorted_in_pieces(keyed)]


def _sorted_in_pieces(items: list) -> list:
    """``sorted(items)``: pieces of ``_PIECE`` sorted in C, merged by ``heapq.merge``."""
    if len(items) <= _PIECE:
        return sorted(items)
    return list(heapq.merge(*(sorted(items[i:i + _PIECE]) for i in range(0, len(items), _PIECE))))


def _encode_array(items: list, convert=None) -> bytes:
    """``dumps(items)`` as UTF-8 (same bytes), encoded ``_PIECE`` items per call (see module docstring)."""
    parts = []
    for i in range(0, len(items), _PIECE):
        piece = items[i:i + _PIECE]
        if convert is not None:
            piece = [convert(x) for x in piece]
        parts.append(dumps(piece)[1:-1].encode())
    return b"[" + b",".join(parts) + b"]"


def _answer(items: list, limit: int, convert=None):
    """The answer of a list endpoint: ``(data, warnings)`` to encode on the loop when small,
    else the whole response body (bytes), built here on the pool."""
    data, warnings = _limited(items, limit)
    if len(data) <= OFF_LOOP_ITEMS:
        return ([convert(x) for x in data] if convert is not None else data), warnings
    tail = success_text("", warnings)  # '{"status":"success","data":' + tail
    head, end = tail[: tail.index('"data":') + 7], tail[tail.index('"data":') + 7:]
    return head.encode() + _encode_array(data, convert) + end.encode()


def _respond(answer) -> web.Response:
    if isinstance(answer, bytes):
        return json_response(answer)
    return success(*answer)


def _series(db, start: int, end: int, sets: list[list[Matcher]]) -> list:
    seen: set = set()
    with db.querier(start, end) as q:
        for ms in sets:
            labels, _ = q.select_arrays(*ms)
            seen.update(labels)
    return _sorted_label_sets(seen)


def _series_answer(db, start: int, end: int, sets: list[list[Matcher]], limit: int):
    return _answer(_series(db, start, end, sets), limit, dict)


def _label_names_answer(db, start: int, end: int, sets: list[list[Matcher]], limit: int):
    return _answer(_label_names(db, start, end, sets), limit)


def _label_values_answer(db, name: str, start: int, end: int, sets: list[list[Matcher]], limit: int):
    return _answer(_label_values(db, name, start, end, sets), limit)


async def labels(request: web.Request) -> web.Response:
    state = request.app[STATE]
    params = await form(request)
    start, end = _range(params)
    sets = await match_sets(state.run, params.getall("match[]", []))
    limit = parse_limit(params)
    return _respond(await state.run(_label_names_answer, state.db, start, end, sets, limit))


async def label_values(request: web.Request) -> web.Response:
    state = request.app[STATE]
    name = unescape_label_name(request.match_info["name"])
    if not name or "\ufffd" in name:
        raise bad_data(f'invalid label name: "{name}"')
    params = await form(request)
    start, end = _range(params)
    sets = await match_sets(state.run, params.getall("match[]", []))
    limit = parse_limit(params)
    return _respond(await state.run(_label_values_answer, state.db, name, start, end, sets, limit))


async def series(request: web.Request) -> web.Response:
    state = request.app[STATE]
    params = await form(request)
    start, end = _range(params)
    sets = await match_sets(state.run, params.getall("match[]", []), required=True)
    limit = parse_limit(params)
    return _respond(await state.run(_series_answer, state.db, start, end, sets, limit))


def _metadata(state: ServerState, metric: str | None, limit: int, per_metric: int) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    mgr = state.scrape_manager
    if mgr is None:
        return out
    for a in mgr.active_targets():
        for name, md in list(a.status.metadata.items()):
            if metric and name != metric:
                continue
            entry = {"type": md.type or "unknown", "help": md.help or "", "unit": md.unit or ""}
            lst = out.setdefault(name, [])
            if entry not in lst and (per_metric <= 0 or len(lst) < per_metric):
                lst.append(entry)
    names = sorted(out)
    if limit >= 0:  # Prometheus: a negative limit is none, 0 answers {}
        names = names[:limit]
    return {n: out[n] for n in names}


def _int_param(params, name: str, default: int, message: str | None = None) -> int:
    """An integer parameter as Go's ``strconv.Atoi`` reads it (``message``: Prometheus's own error text)."""
    text = params.get(name, "")
    if text == "":
        return default
    try:
        return go_atoi(text)
    except ValueError as e:
        raise bad_data(message or f'invalid parameter "{name}": {e}') from None


async def metadata(request: web.Request) -> web.Response:
    state = request.app[STATE]
    params = await form(request)
    limit = _int_param(params, "limit", -1, "limit must be a number")
    per_metric = _int_param(params, "limit_per_metric", -1, "limit_per_metric must be a number")
    return success(_metadata(state, params.get("metric") or None, limit, per_metric))


async def targets(request: web.Request) -> web.Response:
    state = request.app[STATE]
    params = request.query
    # Prometheus: "", "any", "active", "dropped"; any other value shows neither list
    which = params.get("state", "").lower() or "any"
    mgr = state.scrape_manager
    if mgr is None:
        return success({"activeTargets": [], "droppedTargets": [], "droppedTargetCounts": {}})
    return success(mgr.api_targets(which, params.get("scrapePool") or None))


async def targets_metadata(request: web.Request) -> web.Response:
    """Prometheus's ``targetMetadata``: ``match_target`` (a selector of target labels), ``metric``,
    ``limit`` (targets read; negative: all)."""
    state = request.app[STATE]
    mgr = state.scrape_manager
    params = await form(request)
    limit = _int_param(params, "limit", -1, "limit must be a number")
    match_target = params.get("match_target", "")
    matchers = None
    if match_target:
        matchers = await state.run(parse_selector, match_target, "match_target")
    metric = params.get("metric") or None
    out: list[dict] = []
    if mgr is not None:
        for a in mgr.active_targets():
            if limit >= 0 and len(out) >= limit:
                break
            if matchers is not None:
                target_labels = dict(a.target.public_labels())
                if not all(m.matches(target_labels.get(m.name, "")) for m in matchers):
                    continue
            for name, md in sorted(a.status.metadata.items()):
                if metric and name != metric:
                    continue
                out.append({"target": dict(a.target.public_labels()), "metric": name,
                            "type": md.type or "unknown", "help": md.help or "", "unit": md.unit or ""})
    return success(out)


async def buildinfo(request: web.Request) -> web.Response:
    return success({
        "version": PROMETHEUS_API_VERSION,
        "revision": f"promlite-{__version__}",
        "branch": "HEAD",
        "buildUser": "promlite",
        "buildDate": "",
        "goVersion": f"python{platform.python_version()}",
    })


async def config(request: web.Request) -> web.Response:
    """The configuration file as loaded, with secrets as ``<secret>`` (Prometheus's marshalling; see ``redact``)."""
    return success({"yaml": redact_config(request.app[STATE].config_text)})


def _rfc3339(ts: float | None) -> str:
    if ts is None:
        return "0001-01-01T00:00:00Z"
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat().replace("+00:00", "Z")


async def runtimeinfo(request: web.Request) -> web.Response:
    state = request.app[STATE]
    # one source of truth with prometheus_config_last_reload_successful (they used to disagree)
    ok = state.metrics.last_reload_ok
    last = state.metrics.last_reload_at or state.start_time
    return success({
        "startTime": _rfc3339(state.start_time),
        "CWD": state.cwd,
        "reloadConfigSuccess": ok,
        "lastConfigTime": _rfc3339(last),
        "corruptionCount": 0,
        "goroutineCount": threading.active_count(),
        "GOMAXPROCS": os.cpu_count() or 1,
        "GOMEMLIMIT": 0,
        "GOGC": "",
        "GODEBUG": "",
        "storageRetention": state.retention,
    })


def _tsdb_status(db, limit: int) -> dict:
    head = db.head
    with db._lock:  # the head index is not safe to read during an append
        idx = head.index
        names = idx.label_names()
        value_counts = []
        memory = []
        pairs = []
        for n in names:
            vals = idx.label_values(n)
            value_counts.append({"name": n, "value": len(vals)})
            memory.append({"name": n, "value": sum(len(v.encode()) for v in vals)})
            for v in vals:
                pairs.append((n, v))
        by_name = [{"name": v, "value": len(idx.postings("__name__", v))} for v in idx.label_values("__name__")]
        by_pair = [{"name": f"{n}={v}", "value": len(idx.postings(n, v))} for n, v in pairs]
        st = db.stats()

    def top(items: list[dict]) -> list[dict]:
        return sorted(items, key=lambda d: (-d["value"], d["name"]))[:limit]

    return {
        "headStats": {
            "numSeries": st["head_series"],
            "numLabelPairs": len(pairs),
            "chunkCount": st["head_chunks"],
            "minTime": st["head_min_time"] if st["head_min_time"] is not None else 0,
            "maxTime": st["head_max_time"] if st["head_max_time"] is not None else 0,
        },
        "seriesCountByMetricName": top(by_name),
        "labelValueCountByLabelName": top(value_counts),
        "memoryInBytesByLabelName": top(memory),
        "seriesCountByLabelValuePair": top(by_pair),
    }


async def tsdb_status(request: web.Request) -> web.Response:
    state = request.app[STATE]
    params = await form(request)
    limit = _int_param(params, "limit", 10, "limit must be a positive number")
    if limit < 1:
        raise bad_data("limit must be a positive number")
    return success(await state.run(_tsdb_status, state.db, limit))


async def walreplay(request: web.Request) -> web.Response:
    return success({"min": 0, "max": 0, "current": 0})


async def alertmanagers(request: web.Request) -> web.Response:
    notifier = request.app[STATE].notifier
    if notifier is None:
        return success({"activeAlertmanagers": [], "droppedAlertmanagers": []})
    return success(notifier.api_alertmanagers())


def add_routes(app: web.Application) -> None:
    r = app.router
    for path, handler in (("/api/v1/labels", labels), ("/api/v1/series", series)):
        r.add_get(path, handler)
        r.add_post(path, handler)
    r.add_get("/api/v1/label/{name}/values", label_values)
    for path, handler in (
        ("/api/v1/metadata", metadata), ("/api/v1/targets", targets),
        ("/api/v1/targets/metadata", targets_metadata), ("/api/v1/status/buildinfo", buildinfo),
        ("/api/v1/status/config", config), ("/api/v1/status/runtimeinfo", runtimeinfo),
        ("/api/v1/status/tsdb", tsdb_status), ("/api/v1/status/walreplay", walreplay),
        ("/api/v1/rules", api_rules.rules), ("/api/v1/alerts", api_rules.alerts), ("/api/v1/alertmanagers", alertmanagers),
    ):
        r.add_get(path, handler)
