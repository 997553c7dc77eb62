"""Admin endpoints (``--web.enable-admin-api``): delete_series, clean_tombstones, snapshot.

Without the flag every admin endpoint answers Prometheus's
``unavailable`` 503 ``admin APIs disabled``. ``delete_series`` needs at
least one ``match[]`` and answers 204 No Content, as Prometheus does.

A snapshot flushes the head into blocks (``DB.flush``) and hard-links
every block directory into ``<data>/snapshots/<YYYYMMDDTHHMMSSZ>-<hex>/``,
so it costs no copy and stays valid while compaction deletes the
originals; ``skip_head=true`` skips the flush.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets

from aiohttp import web

from query.quoting import go_quote

from .envelope import APIError, bad_data, success
from .params import MAX_TIME_MS, MIN_TIME_MS, get_time, match_sets
from .request import form
from .state import STATE

_GO_BOOLS = {"": False, **dict.fromkeys(("1", "t", "T", "TRUE", "true", "True"), True),
             **dict.fromkeys(("0", "f", "F", "FALSE", "false", "False"), False)}


def _check_enabled(request: web.Request) -> None:
    if not request.app[STATE].enable_admin_api:
        raise APIError("unavailable", "admin APIs disabled")


def _delete(db, sets, start: int, end: int) -> int:
    return sum(db.delete(ms, start, end) for ms in sets)


async def delete_series(request: web.Request) -> web.Response:
    _check_enabled(request)
    state = request.app[STATE]
    params = await form(request)
    sets = await match_sets(state.run, params.getall("match[]", []), required=True)
    start = get_time(params, "start", MIN_TIME_MS)
    end = get_time(params, "end", MAX_TIME_MS)
    if end < start:
        raise bad_data('invalid parameter "end": end timestamp must not be before start time')
    await state.run(_delete, state.db, sets, start, end)
    return web.Response(status=204)


async def clean_tombstones(request: web.Request) -> web.Response:
    _check_enabled(request)
    state = request.app[STATE]
    await state.run(state.db.clean_tombstones)
    return web.Response(status=204)


def _snapshot(db, skip_head: bool) -> str:
    if not skip_head:
        db.flush()
    name = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(8)
    root = os.path.join(db.path, "snapshots", name)
    os.makedirs(root)
    with db._lock:
        dirs = [b.path for b in db.blocks]
    for src in dirs:
        dst = os.path.join(root, os.path.basename(src))
        for dirpath, _, files in os.walk(src):
            rel = os.path.relpath(dirpath, src)
            os.makedirs(os.path.join(dst, rel), exist_ok=True)
            for f in files:
                os.link(os.path.join(dirpath, f), os.path.join(dst, rel, f))
    return name


async def snapshot(request: web.Request) -> web.Response:
    _check_enabled(request)
    state = request.app[STATE]
    params = await form(request)
    skip = params.get("skip_head", "")
    if skip not in _GO_BOOLS:  # Go's strconv.ParseBool
        raise bad_data(f"invalid parameter \"skip_head\": unable to parse boolean 'skip_head' argument: "
                       f"strconv.ParseBool: parsing {go_quote(skip)}: invalid syntax")
    name = await state.run(_snapshot, state.db, _GO_BOOLS[skip])
    return success({"name": name})


def add_routes(app: web.Application) -> None:
    for path, handler in (("/api/v1/admin/tsdb/delete_series", delete_series),
                          ("/api/v1/admin/tsdb/clean_tombstones", clean_tombstones),
                          ("/api/v1/admin/tsdb/snapshot", snapshot)):
        app.router.add_post(path, handler)
        app.router.add_put(path, handler)
