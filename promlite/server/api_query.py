"""``/api/v1/query``, ``/api/v1/query_range``, ``/api/v1/format_query``, exemplars.

Flow of a query: parameters are checked on the event loop (cheap, and
``bad_data`` answers for them never reach the pool); the expression is parsed
on the server's query pool (``ServerState.run``), in the same trip as its
evaluation and rendering, so the event loop keeps serving and scraping however
long the text is (parsing costs about 20 µs a token: a 20,000-term query took
the loop for most of a second when it was parsed there). A syntax error, or
a tree nested deeper than ``query.parser.MAX_NESTING``, is ``bad_data`` 400
as in Prometheus. ``format_query`` and ``query_exemplars`` parse (and
prettify) on the pool too. Engine errors map to Prometheus's types:
execution errors and the sample limit are ``execution`` (422), a timeout is
``timeout`` (503), a broken invariant is ``internal`` (500).

The per-request ``timeout`` parameter can only shorten the server's
``--query.timeout``; time spent queued behind ``--query.max-concurrency``
counts. The engine checks its deadline per node and inside long per-series
loops; as a backstop the handler stops waiting ``_BACKSTOP_GRACE_S`` after
the deadline and answers ``timeout`` 503, and it then sets the query's cancel
event, as it does when the client goes away, so the evaluation stops at its
next check and frees its worker (it used to run on: ``timeout=1s`` answered
after 6 s and kept one of the two workers busy).
"""

from __future__ import annotations

import asyncio
import copy
import logging
import threading
import time
from collections.abc import Callable

from aiohttp import web

from query.ast import Expr
from query.engine import QueryError, QueryTimeoutError, SampleLimitError
from query.limits import cancellation
from query.parser import ParseError, format_expr, parse_expr_cached

from .envelope import APIError, bad_data, json_response, success, success_bytes
from .params import get_duration_ms, get_query, get_time, range_params
from .render import render_result
from .render_stream import STREAM_MIN_POINTS, point_count, render_parts
from .request import form
from .state import STATE, ServerState
from .stream_response import Parts, stream_answer

log = logging.getLogger("promlite.api")

_BACKSTOP_GRACE_S = 0.25


def _parse(text: str | None):
    """The expression of parameter ``query`` (blocking: call it on the query pool)."""
    if text is None:
        text = ""
    try:
        return parse_expr_cached(text)
    except ParseError as e:
        raise bad_data(f'invalid parameter "query": {e}') from None


def _parse_range_expr(text: str | None):
    """:func:`_parse`, and Prometheus's check that a range query asks for a scalar or an instant vector."""
    expr = _parse(text)
    if str(expr.type) not in ("scalar", "vector"):
        raise bad_data(f'invalid parameter "query": invalid expression type "{expr.type.documented}" for range '
                       "query, must be Scalar or instant Vector")
    return expr


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


async def _evaluate(state: ServerState, timeout_s: float, parse: Callable[[str | None], Expr],
                    text: str | None, call: str, *args) -> bytes | Parts:
    """Parse ``text`` with ``parse``, evaluate it with ``engine.<call>(expr, *args)``, render: one pool trip.

    A large answer (``render_stream.STREAM_MIN_POINTS`` points or more) comes back as
    :class:`Parts`: its first part rendered, the others rendered while it is sent.

    At most ``--query.max-concurrency`` queries are in the pool at once; the others wait in a FIFO
    queue, and the wait counts against the query's timeout, as in Prometheus. When the handler stops
    waiting (timeout, or the client went away and aiohttp cancelled it) it sets the query's cancel
    event: the evaluation stops at its next check (``query.limits``) and frees its worker.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    m = state.metrics
    m.queries_concurrent.inc()
    cancel = threading.Event()
    evaluate_box: list = []

    def evaluate_and_render() -> tuple[bytes, float, float]:
        # one trip to the query pool, not three: a small query costs less than the hand-offs
        with cancellation(cancel):
            if cancel.is_set():  # abandoned while queued for a worker thread
                raise QueryTimeoutError("query timed out in query queue")
            expr = parse(text)
            t1 = time.perf_counter()
            result = evaluate_box[0](expr, *args)
            t2 = time.perf_counter()
            if cancel.is_set():
                raise QueryTimeoutError("query timed out in expression evaluation")
            if point_count(result) >= STREAM_MIN_POINTS:  # large: rendered part by part as it is sent
                rest = render_parts(result)
                answer: bytes | Parts = Parts(next(rest), rest)
            else:
                answer = render_result(result)
            return answer, t2 - t1, time.perf_counter() - t2

    try:
        async with asyncio.timeout_at(deadline + _BACKSTOP_GRACE_S):  # no extra Task, unlike wait_for
            gate = state.query_gate()
            try:
                async with asyncio.timeout_at(deadline):
                    await gate.acquire()
            except TimeoutError:
                raise QueryTimeoutError("query timed out in query queue") from None
            try:
                engine = state.engine
                remaining = max(deadline - loop.time(), 0.0)
                if remaining != getattr(engine, "timeout_s", remaining):
                    engine = copy.copy(engine)
                    engine.timeout_s = remaining
                evaluate_box.append(getattr(engine, call))
                body, eval_s, render_s = await state.run(evaluate_and_render)
            finally:
                gate.release()
        m.query_duration.labels("inner_eval").observe(eval_s)
        m.query_duration.labels("result_sort").observe(render_s)
        return body
    except APIError:
        raise
    except Exception as e:  # every engine error becomes an envelope
        raise engine_error(e) from None
    finally:
        cancel.set()  # done, timed out or abandoned: an evaluation still running stops at its next check
        m.queries_concurrent.dec()


async def _answer(request: web.Request, state: ServerState, data: bytes | Parts) -> web.StreamResponse:
    if isinstance(data, Parts):
        return await stream_answer(request, state, data)
    return json_response(success_bytes(data))


async def query(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    params = await form(request)
    t = get_time(params, "time", int(time.time() * 1000))
    timeout_s = _timeout_s(state, params)
    data = await _evaluate(state, timeout_s, _parse, get_query(params), "instant", t)
    return await _answer(request, state, data)


async def query_range(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    params = await form(request)
    start, end, step = range_params(params)
    timeout_s = _timeout_s(state, params)
    data = await _evaluate(state, timeout_s, _parse_range_expr, get_query(params), "range", start, end, step)
    return await _answer(request, state, data)


def _format(text: str | None) -> str:
    return format_expr(_parse(text))


async def format_query(request: web.Request) -> web.Response:
    """Prometheus's ``Prettify`` of ``query``; parsing and printing run on the query pool (see module docstring)."""
    state = request.app[STATE]
    params = await form(request)
    return success(await state.run(_format, get_query(params)))


async def query_exemplars(request: web.Request) -> web.Response:
    """promlite stores no exemplars: the parameters are checked, the answer is ``[]``."""
    params = await form(request)
    start = get_time(params, "start", -(2**62))
    end = get_time(params, "end", 2**62)
    if end < start:
        raise bad_data('invalid parameter "end": end timestamp must not be before start time')
    await request.app[STATE].run(_parse, get_query(params))
    return success([])


def add_routes(app: web.Application) -> None:
    for path, handler in (("/api/v1/query", query), ("/api/v1/query_range", query_range),
                          ("/api/v1/format_query", format_query), ("/api/v1/query_exemplars", query_exemplars)):
        app.router.add_get(path, handler)
        app.router.add_post(path, handler)
