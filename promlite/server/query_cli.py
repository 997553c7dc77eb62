"""``promlite query``: an instant or range query against a running server or a data directory.

Both paths produce the same Prometheus JSON ``data`` object (the server's
answer, or ``render_result`` of a local evaluation), so the table printer
has one input shape. ``--format json`` prints that object as is.
Exit codes: 0 ok, 1 query error (the API's ``error`` text is printed),
2 usage or connection problem.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, TextIO

from .params import parse_time_value


class QueryFailed(Exception):
    pass


def add_query_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("expr", help="PromQL expression")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--server", default=None,
                       help="URL of a running promlite/Prometheus (default: http://127.0.0.1:9090)")
    where.add_argument("--data", default=None, help="query this data directory directly (server stopped)")
    p.add_argument("--time", default=None, help="instant query time: unix seconds or RFC 3339 (default: now)")
    p.add_argument("--start", default=None, help="range query start (with --end)")
    p.add_argument("--end", default=None, help="range query end (default: now)")
    p.add_argument("--step", default=None, help="range query step: seconds or duration (default: range/250)")
    p.add_argument("--format", choices=["table", "json"], default="table")


def _http(base: str, path: str, params: dict[str, str]) -> Any:
    body = urllib.parse.urlencode(params).encode()
    req = urllib.request.Request(base.rstrip("/") + path, data=body, method="POST",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            doc = json.loads(r.read())
    except urllib.error.HTTPError as e:
        try:
            doc = json.loads(e.read())
        except ValueError:
            raise QueryFailed(f"HTTP {e.code} from {base}") from None
    if doc.get("status") != "success":
        raise QueryFailed(f"{doc.get('errorType', 'error')}: {doc.get('error', '')}")
    return doc["data"]


def _local(data_dir: str, params: dict[str, str], path: str) -> Any:
    import tsdb
    from query.durations import parse_duration
    from query.engine import Engine

    from .render import render_result

    if not os.path.isdir(data_dir):
        raise QueryFailed(f"{data_dir}: no such directory")
    with tsdb.open(data_dir, read_only=True) as db:  # changes nothing; works beside a running server
        eng = Engine(db)
        try:
            if path == "/api/v1/query":
                res = eng.instant(params["query"], parse_time_value(params["time"]))
            else:
                res = eng.range(params["query"], parse_time_value(params["start"]), parse_time_value(params["end"]),
                                parse_duration(params["step"]))
        except ValueError as e:
            raise QueryFailed(str(e)) from None
        return json.loads(render_result(res))


def print_table(data: dict, out: TextIO) -> None:
    kind, result = data["resultType"], data["result"]

    def fmt_metric(m: dict) -> str:
        name = m.get("__name__", "")
        rest = ", ".join(f'{k}="{v}"' for k, v in m.items() if k != "__name__")
        return f"{name}{{{rest}}}" if rest or not name else name

    if kind in ("scalar", "string"):
        print(f"{result[1]} @[{result[0]}]", file=out)
    elif kind == "vector":
        for s in result:
            print(f"{fmt_metric(s['metric'])} => {s['value'][1]} @[{s['value'][0]}]", file=out)
    else:
        for s in result:
            print(f"{fmt_metric(s['metric'])} =>", file=out)
            for t, v in s["values"]:
                print(f"  {v} @[{t}]", file=out)


def query_main(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    now = time.time()
    params = {"query": args.expr}
    try:
        if args.start is not None:
            end = args.end if args.end is not None else f"{now:.3f}"
            step = args.step
            if step is None:
                span = (parse_time_value(end) - parse_time_value(args.start)) / 1000
                step = f"{max(span / 250, 1):.3f}"
            params.update(start=args.start, end=end, step=step)
            path = "/api/v1/query_range"
        else:
            params["time"] = args.time if args.time is not None else f"{now:.3f}"
            path = "/api/v1/query"
        if args.data is not None:
            data = _local(args.data, params, path)
        else:
            data = _http(args.server or "http://127.0.0.1:9090", path, params)
    except QueryFailed as e:
        print(f"query failed: {e}", file=sys.stderr)
        return 1
    except (OSError, ValueError) as e:
        print(f"promlite query: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # a storage problem (tsdb.TSDBError): one line, never a traceback
        if type(e).__module__.split(".")[0] != "tsdb":
            raise
        print(f"promlite query: {e}", file=sys.stderr)
        return 1
    if args.format == "json":
        print(json.dumps(data), file=out)
    else:
        print_table(data, out)
    return 0
