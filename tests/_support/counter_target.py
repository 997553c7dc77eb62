"""A loopback scrape target whose counters grow every scrape, and reading back what a server stored.

For tests that kill, starve or restart a ``promlite serve`` while it scrapes: the target keeps
answering (a killed server's broken connection prints no traceback), and ``raw_samples`` returns
every stored sample of the metric as ``{(i, t_ms): value}`` (a range selector returns raw samples).
"""

from __future__ import annotations

import http.server
import json
import threading
import time
import urllib.parse

from serve_proc import ServeProc


class QuietServer(http.server.ThreadingHTTPServer):
    """A scrape target that does not print a traceback when the killed server's connection breaks."""

    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        pass


class CounterTarget:
    """``<metric>{i="0".."n-1"}`` on 127.0.0.1:<port>; scrape number ``n`` answers ``n * step + i``."""

    def __init__(self, metric: str, n_series: int, step: int) -> None:
        self.scrapes = 0
        lock = threading.Lock()
        target = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                with lock:
                    target.scrapes += 1
                    n = target.scrapes
                body = "".join(f'{metric}{{i="{i}"}} {n * step + i}\n' for i in range(n_series)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a) -> None:
                pass

        self.httpd = QuietServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def raw_samples(srv: ServeProc, metric: str) -> dict[tuple[str, int], float]:
    """Every stored sample of ``metric`` as ``{(i, t_ms): value}``."""
    q = urllib.parse.urlencode({"query": f"{metric}[1d]", "time": f"{time.time() + 60:.3f}"})
    status, body = srv.request("GET", f"/api/v1/query?{q}", timeout=60)
    assert status == 200, body
    out: dict[tuple[str, int], float] = {}
    for s in json.loads(body)["data"]["result"]:
        for t, v in s["values"]:
            out[(s["metric"]["i"], round(float(t) * 1000))] = float(v)
    return out
