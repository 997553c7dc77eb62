"""``/api/v1/query``, ``/api/v1/query_range``, ``/api/v1/format_query``, exemplars.

Flow of a query: parameters are checked on the event loop (cheap, and
``bad_data`` answers never reach the pool); the expression is parsed there
too, so a syntax error is ``bad_data`` 400 as in Prometheus; evaluation then
runs on the server's query pool (``ServerState.run``) so the event loop
keeps serving and scraping. Engine errors map to Prometheus's types:
execution errors and the sample limit are ``execution`` (422), a timeout is
``timeout`` (503), a broken invariant is ``internal`` (500).

The per-request ``timeout`` parameter can only shorten the server's
``--query.timeout``. The engine checks its timeout between nodes; as a
backstop the handler stops waiting a little after the deadline and answers
``timeout`` (the evaluation thread then finishes on its own).
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time

from aiohttp import web

from query.engine import QueryError, QueryTimeoutError, SampleLimitError
from query.parser import ParseError, format_expr, parse_expr_cached

from .envelope import APIError, bad_data, json_response, success, success_bytes
from .params import get_duration_ms, get_time, range_params
from .render import render_result
from .request import form
from .state import STATE, ServerState

log = logging.getLogger("promlite.api")

_BACKSTOP_GRACE_S = 5.0


def _parse(text: str | None):
    if text is None:
        text = ""
    try:
        return parse_expr_cached(text)
    except ParseError as e:
        raise bad_data(f'invalid parameter "query": {e}') from None


def engine_error(exc: BaseException) -> APIError:
    """Prometheus's error type for an exception raised by the engine."""
    if isinstance(exc, QueryTimeoutError):
        return APIError("timeout", str(exc))
    if isinstance(exc, ParseError):
        return bad_data(str(exc))
    if isinstance(exc, SampleLimitError | QueryError):
        return APIError("execution", str(exc))
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return APIError("timeout", "query timed out in query execution")
    if isinstance(exc, asyncio.CancelledError):
        return APIError("canceled", "query was canceled in query execution")
    if isinstance(exc, RuntimeError):
        log.error("query failed with an internal error: %s", exc, exc_info=exc)
        return APIError("internal", str(exc))
    return APIError("execution", str(exc))


def _timeout_s(state: ServerState, params) -> float:
    ms = get_duration_ms(params, "timeout")
    t = state.query_timeout_s
    if ms is not None and ms > 0:
        t = min(t, ms / 1000)
    return t


async def _evaluate(state: ServerState, timeout_s: float, call, *args):
    engine = state.engine
    if timeout_s != getattr(engine, "timeout_s", timeout_s):
        engine = copy.copy(engine)
        engine.timeout_s = timeout_s
    m = state.metrics
    m.queries_concurrent.inc()
    evaluate = getattr(engine, call)

    def evaluate_and_render() -> tuple[bytes, float, float]:
        # one trip to the query pool, not two: a small query costs less than the hand-offs
        t1 = time.perf_counter()
        result = evaluate(*args)
        t2 = time.perf_counter()
        return render_result(result), t2 - t1, time.perf_counter() - t2

    try:
        async with asyncio.timeout(timeout_s + _BACKSTOP_GRACE_S):  # no extra Task, unlike wait_for
            text, eval_s, render_s = await state.run(evaluate_and_render)
        m.query_duration.labels("inner_eval").observe(eval_s)
        m.query_duration.labels("result_sort").observe(render_s)
        return text
    except APIError:
        raise
    except Exception as e:  # every engine error becomes an envelope
        raise engine_error(e) from None
    finally:
        m.queries_concurrent.dec()


async def query(request: web.Request) -> web.Response:
    state = request.app[STATE]
    params = await form(request)
    t = get_time(params, "time", int(time.time() * 1000))
    timeout_s = _timeout_s(state, params)
    expr = _parse(params.get("query"))
    data = await _evaluate(state, timeout_s, "instant", expr, t)
    return json_response(success_bytes(data))


async def query_range(request: web.Request) -> web.Response:
    state = request.app[STATE]
    params = await form(request)
    start, end, step = range_params(params)
    timeout_s = _timeout_s(state, params)
    expr = _parse(params.get("query"))
    if str(expr.type) not in ("scalar", "vector"):
        raise bad_data(f'invalid parameter "query": invalid expression type "{expr.type.documented}" for range '
                       "query, must be Scalar or instant Vector")
    data = await _evaluate(state, timeout_s, "range", expr, start, end, step)
    return json_response(success_bytes(data))


async def format_query(request: web.Request) -> web.Response:
    params = await form(request)
    expr = _parse(params.get("query"))
    return success(format_expr(expr))


async def query_exemplars(request: web.Request) -> web.Response:
    """promlite stores no exemplars: the parameters are checked, the answer is ``[]``."""
    params = await form(request)
    start = get_time(params, "start", -(2**62))
    end = get_time(params, "end", 2**62)
    if end < start:
        raise bad_data('invalid parameter "end": end timestamp must not be before start time')
    _parse(params.get("query"))
    return success([])


def add_routes(app: web.Application) -> None:
    for path, handler in (("/api/v1/query", query), ("/api/v1/query_range", query_range),
                          ("/api/v1/format_query", format_query), ("/api/v1/query_exemplars", query_exemplars)):
        app.router.add_get(path, handler)
        app.router.add_post(path, handler)
