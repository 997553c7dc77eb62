"""The web UI end to end: ``promlite serve`` and a real headless Chromium.

The browser is driven through the Chrome DevTools Protocol over a websocket
(aiohttp's client, already a dependency), so the only extra need is Debian's
``chromium`` package. Without it the test skips, unless ``CI`` is set, where a
missing browser is a failure (CI must install it).

Data: a few synthetic series are written with the tsdb library before the server
starts (a graph over the last hour at once), and the server scrapes itself every
second (a ``--config.file``), so ``up`` and the targets page have data within a
couple of seconds. Screenshots go to the test's tmp dir (``graph.png``,
``stacked.png``, ``targets.png``, ``status.png``) for a human to look at.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import aiohttp
import pytest
from _requirements import missing

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--window-size=1280,900"]


def _chromium() -> str:
    path = os.environ.get("PROMLITE_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if path:
        return path
    missing("chromium is not installed (Debian: apt-get install chromium); the UI e2e test needs it")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- fixtures: server and browser ---------------------------------------------

@pytest.fixture
def chromium() -> str:
    """The browser's path; asked first, so a missing browser skips before the server starts."""
    return _chromium()


@pytest.fixture
def server(tmp_path):
    """A ``promlite serve`` over pre-filled data, scraping itself every second; yields its base URL."""
    import numpy as np

    import tsdb

    data = tmp_path / "data"
    now_ms = int(time.time() * 1000)
    ts = np.arange(now_ms - 3_600_000, now_ms, 15_000, dtype=np.int64)
    with tsdb.open(str(data)) as db:
        app = db.appender()
        for k, name in enumerate(("a", "b", "c")):
            vs = 10 + 5 * k + 3 * np.sin(ts / 600_000 + k)  # three waves, apart
            app.append_series({"__name__": "ui_demo", "series": name}, ts, vs)
        app.commit()
    port = _free_port()
    cfg = tmp_path / "prometheus.yml"
    cfg.write_text("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: prometheus\n"
                   f"    static_configs:\n      - targets: ['127.0.0.1:{port}']\n")
    log = open(tmp_path / "serve.log", "w")  # noqa: SIM115 - closed below
    cmd = [sys.executable, "-m", "promlite.cli", "serve", f"--config.file={cfg}",
           f"--web.listen-address=127.0.0.1:{port}", f"--storage.tsdb.path={data}", "--web.enable-lifecycle"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60  # 1.8 s on a quiet machine
        while True:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(base + "/api/v1/query?query=up", timeout=30) as r:
                    if json.load(r)["data"]["result"]:
                        break  # ready, and the first self-scrape is in
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.2)
        yield base
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


class Page:
    """A minimal CDP client for one page target: evaluate, wait, input, screenshot."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.next_id = 0
        self.pending: dict[int, asyncio.Future] = {}
        self.errors: list[str] = []  # uncaught JS exceptions, console errors, CSP violations
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for msg in self.ws:
            data = json.loads(msg.data)
            self._note(data.get("method"), data.get("params", {}))
            fut = self.pending.pop(data.get("id"), None)
            if fut is not None and not fut.done():
                if "error" in data:
                    fut.set_exception(RuntimeError(f"CDP error: {data['error']}"))
                else:
                    fut.set_result(data.get("result", {}))

    def _note(self, method: str | None, p: dict) -> None:
        if method == "Runtime.exceptionThrown":
            self.errors.append(f"exception: {p['exceptionDetails']}")
        elif method == "Runtime.consoleAPICalled" and p.get("type") == "error":
            self.errors.append(f"console.error: {p.get('args')}")
        elif method == "Log.entryAdded" and p["entry"]["level"] == "error":
            e = p["entry"]
            # the 400 of the deliberately broken query is expected; anything else is not
            if not (e.get("source") == "network" and "/api/v1/query" in e.get("url", "")):
                self.errors.append(f"log: {e}")

    async def send(self, method: str, **params):
        self.next_id += 1
        fut = asyncio.get_running_loop().create_future()
        self.pending[self.next_id] = fut
        await self.ws.send_str(json.dumps({"id": self.next_id, "method": method, "params": params}))
        return await asyncio.wait_for(fut, 60)  # a safety net: milliseconds on a quiet machine

    async def eval(self, expr: str):
        r = await self.send("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise AssertionError(f"JS error in {expr!r}: {r['exceptionDetails']}")
        return r["result"].get("value")

    async def wait_for(self, expr: str, what: str, timeout: float = 30.0):  # each 0.1-0.5 s quiet
        deadline = time.monotonic() + timeout
        while True:
            v = await self.eval(expr)
            if v:
                return v
            if time.monotonic() > deadline:
                body = await self.eval("document.getElementById('main').innerText")
                raise AssertionError(f"timed out waiting for {what} ({expr}); page text:\n{body}")
            await asyncio.sleep(0.1)

    async def goto(self, url: str) -> None:
        await self.send("Page.navigate", url=url)
        await self.wait_for(f"location.href.startsWith({json.dumps(url.split('?')[0])}) && document.readyState === 'complete'", "page load")

    async def key(self, key: str, code: int) -> None:
        for typ in ("rawKeyDown", "keyUp"):
            await self.send("Input.dispatchKeyEvent", type=typ, key=key, code=key, windowsVirtualKeyCode=code)

    async def mouse(self, typ: str, x: float, y: float) -> None:
        extra = {"button": "left", "clickCount": 1} if typ != "mouseMoved" else {}
        await self.send("Input.dispatchMouseEvent", type=typ, x=x, y=y, **extra)

    async def screenshot(self, path) -> None:
        r = await self.send("Page.captureScreenshot", format="png")
        path.write_bytes(base64.b64decode(r["data"]))


@contextlib.asynccontextmanager
async def browser(chromium: str, tmp_path):
    profile = tmp_path / "chromium-profile"
    port_file = profile / "DevToolsActivePort"
    port_file.unlink(missing_ok=True)  # a stale one from an earlier run would point nowhere
    proc = subprocess.Popen([chromium, *CHROMIUM_ARGS, "--remote-debugging-port=0",
                             f"--user-data-dir={profile}", "about:blank"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not (port_file.exists() and port_file.read_text().count("\n") >= 1):
            assert proc.poll() is None, "chromium exited at startup"
            assert time.monotonic() < deadline, "chromium did not open its DevTools port"
            await asyncio.sleep(0.1)
        port = port_file.read_text().split("\n")[0]
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/json/list") as r:
                targets = [t for t in await r.json() if t["type"] == "page"]
            async with http.ws_connect(targets[0]["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                page = Page(ws)
                await page.send("Runtime.enable")
                await page.send("Log.enable")
                await page.send("Emulation.setDeviceMetricsOverride", width=1280, height=900,
                                deviceScaleFactor=1, mobile=False)
                yield page
                page.reader.cancel()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)  # chromium and its helpers: the group we started
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


# JS: how many pixels of the base canvas are strongly coloured (series, not grey grid/axes/text)
COLOURED_PIXELS = """(() => {
  const c = document.querySelector('.graph canvas.base');
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 0; i < d.length; i += 4) {
    const hi = Math.max(d[i], d[i + 1], d[i + 2]), lo = Math.min(d[i], d[i + 1], d[i + 2]);
    if (hi - lo > 60) n++;
  }
  return n;
})()"""


# ---- the test ---------------------------------------------------------------------

def test_ui_graph_table_targets_status(chromium, server, tmp_path):
    # a safety net over the whole scenario (2.6 s on a quiet machine); each step has its own
    asyncio.run(asyncio.wait_for(_scenario(chromium, server, tmp_path), 300))


async def _scenario(chromium: str, base: str, tmp_path) -> None:
    async with browser(chromium, tmp_path) as page:
        # "/" redirects to the graph page; metric names autocomplete
        await page.goto(base + "/")
        assert (await page.eval("location.pathname")) == "/graph"
        await page.wait_for("document.querySelector('#expr') !== null", "the expression box")
        await page.wait_for("fetch('api/v1/label/__name__/values').then(r => r.ok)", "the names API")
        await page.eval("document.querySelector('#expr').focus()")
        await page.send("Input.insertText", text="ui_de")
        items = await page.wait_for(
            "(() => { const l = document.querySelector('.complete'); return l && !l.hidden && [...l.children].map(li => li.textContent); })()",
            "the autocomplete list")
        assert items[0] == "ui_demo", items
        await page.key("Tab", 9)
        assert (await page.eval("document.querySelector('#expr').value")) == "ui_demo"

        # Execute: the graph (default tab) draws three series with a legend
        await page.key("Enter", 13)
        await page.wait_for("document.querySelectorAll('#legend li').length === 3", "a legend of three series")
        legend = await page.eval("[...document.querySelectorAll('#legend li')].map(li => li.textContent)")
        assert legend == [f'ui_demo{{series="{s}"}}' for s in "abc"], legend
        coloured = await page.eval(COLOURED_PIXELS)
        assert coloured > 1500, f"the graph drew only {coloured} coloured pixels"
        assert "Result series: 3" in await page.eval("document.getElementById('stats').textContent")
        assert "expr=ui_demo" in await page.eval("location.search")

        # hover: a tooltip names the nearest series and its value
        box = await page.eval("(() => { const r = document.querySelector('.graph canvas.overlay').getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; })()")
        x0, y0, w, h = box
        await page.mouse("mouseMoved", x0 + w * 0.6, y0 + h * 0.3)
        tip = await page.wait_for("(() => { const t = document.querySelector('.tooltip'); return !t.hidden && t.textContent; })()", "a tooltip")
        assert "ui_demo" in tip and re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", tip), tip
        await page.screenshot(tmp_path / "graph.png")

        # stacked: the topmost series' values become sums, so the filled area covers much more
        await page.eval("document.getElementById('stacked').click()")
        await page.wait_for(f"({COLOURED_PIXELS}) > {coloured * 3}", "stacked areas")
        assert "stacked=1" in await page.eval("location.search")
        await page.screenshot(tmp_path / "stacked.png")

        # zoom: dragging over the middle third of the plot shrinks the range from 1h
        await page.mouse("mousePressed", x0 + w * 0.4, y0 + h * 0.5)
        await page.mouse("mouseMoved", x0 + w * 0.55, y0 + h * 0.5)
        await page.mouse("mouseReleased", x0 + w * 0.6, y0 + h * 0.5)
        await page.wait_for("document.getElementById('range').value !== '1h'", "the zoomed range")
        rng = await page.eval("document.getElementById('range').value")
        assert re.fullmatch(r"(\d+m)?(\d+s)?", rng) and rng != "", rng
        assert not await page.eval("document.getElementById('resetzoom').hidden")
        await page.wait_for("document.querySelectorAll('#legend li').length === 3", "the zoomed graph")
        await page.eval("document.getElementById('resetzoom').click()")
        await page.wait_for("document.getElementById('range').value === '1h'", "the range after reset")
        await page.wait_for("document.querySelectorAll('#legend li').length === 3", "the graph after reset")
        assert await page.eval("document.querySelectorAll('#result .legend, #result .hint').length") == 2

        # legend: a click shows only that series, a second click all of them again
        await page.eval("document.getElementById('stacked').click()")  # back to lines
        await page.wait_for("!location.search.includes('stacked=1')", "stacked off")
        lines = await page.eval(COLOURED_PIXELS)
        await page.eval("document.querySelector('#legend li').click()")
        assert await page.eval("[...document.querySelectorAll('#legend li')].map(li => li.classList.contains('off'))") == [False, True, True]
        one = await page.eval(COLOURED_PIXELS)
        assert 0 < one < lines * 0.6, (one, lines)
        await page.eval("document.querySelector('#legend li').click()")
        assert await page.eval(COLOURED_PIXELS) == lines

        # table view: an instant query of the self-scrape's `up`
        await page.eval("document.querySelector('[data-tab=table]').click()")
        await page.eval("(() => { const t = document.querySelector('#expr'); t.value = 'up'; })()")
        await page.eval("document.getElementById('execute').click()")
        row = await page.wait_for("(() => { const r = document.querySelector('#resulttable tbody tr'); return r && r.innerText.startsWith('up{') && r.innerText; })()", "a table row of up")
        port = base.rsplit(":", 1)[1]
        assert f'up{{instance="127.0.0.1:{port}", job="prometheus"}}' in row and row.rstrip().endswith("1"), row

        # Format asks the server to prettify the expression
        await page.eval("(() => { const t = document.querySelector('#expr'); t.value = 'sum(rate(up[5m]))by(job)'; })()")
        await page.eval("document.getElementById('format').click()")
        await page.wait_for("document.querySelector('#expr').value === 'sum by (job) (rate(up[5m]))'", "the formatted expression")

        # an API error is shown to the user
        await page.eval("(() => { const t = document.querySelector('#expr'); t.value = 'rate(up[5m]'; })()")
        await page.eval("document.getElementById('execute').click()")
        err = await page.wait_for("(() => { const a = document.querySelector('.alert.error'); return a && a.textContent; })()", "an error message")
        assert "bad_data" in err and "parse error" in err, err

        # a rate() over the self-scrape draws on the graph tab
        q = "rate(prometheus_http_request_duration_seconds_count[1m])"
        await page.goto(base + "/graph?" + urllib.parse.urlencode({"expr": q, "tab": "graph", "range": "1m"}))
        await page.wait_for("document.querySelectorAll('#legend li').length > 0", "the rate graph")
        # the server has run only a few seconds: a short line or a dot per series at the right edge
        assert await page.eval(COLOURED_PIXELS) > 0
        assert "handler=" in await page.eval("document.getElementById('legend').textContent")
        await page.screenshot(tmp_path / "rate.png")

        # targets: the self-scrape is up
        await page.goto(base + "/targets")
        tr = await page.wait_for("(() => { const r = document.querySelector('tr.target'); return r && r.innerText; })()", "a target row")
        assert f"http://127.0.0.1:{port}/metrics" in tr, tr
        assert await page.eval("document.querySelector('tr.target .health').textContent") == "up"
        assert 'job="prometheus"' in tr and "ago" in tr, tr
        await page.screenshot(tmp_path / "targets.png")

        # status: build, runtime and tsdb figures
        await page.goto(base + "/status")
        await page.wait_for("document.querySelector('#status-tsdb table') !== null && document.querySelector('#status-buildinfo table') !== null", "the status tables")
        text = await page.eval("document.getElementById('main').innerText")
        # the top-10 tables list metric names (which ones depends on the self-metrics: do not pin one)
        assert "2.53.0" in text and "numSeries" in text and "prometheus_" in text and "storageRetention" in text, text
        await page.screenshot(tmp_path / "status.png")
        assert page.errors == []


RULES = """groups:
  - name: demo
    interval: 1s
    rules:
      - record: ui_demo:sum
        expr: sum(ui_demo)
      - alert: DemoHigh
        expr: ui_demo > 0
        labels: {severity: page}
        annotations: {summary: "demo is high"}
      - alert: DemoSlow
        expr: ui_demo > 0
        for: 1h
      - alert: DemoNever
        expr: ui_demo < 0
      - record: broken
        expr: ui_demo + on(series) group_left ui_demo + on() ui_demo
"""


def test_ui_alerts_and_rules_pages(chromium, server, tmp_path):
    """Issue 14: the Alerts and Rules pages show states, instances, health and errors."""
    (tmp_path / "rules.yml").write_text(RULES)
    cfg = tmp_path / "prometheus.yml"
    cfg.write_text(cfg.read_text().replace("global:\n", "global:\n  evaluation_interval: 1s\n")
                   + "rule_files: [rules.yml]\n")
    with urllib.request.urlopen(urllib.request.Request(server + "/-/reload", method="POST"), timeout=30):
        pass
    asyncio.run(asyncio.wait_for(_rules_scenario(chromium, server, tmp_path), 300))


async def _rules_scenario(chromium: str, base: str, tmp_path) -> None:
    async with browser(chromium, tmp_path) as page:
        await page.goto(base + "/alerts")
        await page.wait_for("document.querySelectorAll('details.alert-rule').length === 3", "three alerting rules")
        await page.wait_for("document.querySelectorAll('tr.alert-instance').length >= 6", "the alert instances")
        counts = await page.eval("document.getElementById('alert-counts').innerText")
        assert "FIRING (1)" in counts.upper() and "PENDING (1)" in counts.upper() and "INACTIVE (1)" in counts.upper(), counts
        names = await page.eval("[...document.querySelectorAll('details.alert-rule .rule-name')].map(e => e.textContent)")
        assert sorted(names) == ["DemoHigh", "DemoNever", "DemoSlow"], names
        firing = await page.eval("document.querySelector('details.alert-rule.firing').innerText")
        assert "demo is high" in firing and 'severity="page"' in firing and 'series="a"' in firing, firing
        # the state filter hides inactive rules
        await page.eval("document.getElementById('show-inactive').click()")
        await page.wait_for("document.querySelectorAll('details.alert-rule').length === 2", "the filtered list")
        await page.screenshot(tmp_path / "alerts.png")

        await page.goto(base + "/rules")
        await page.wait_for("document.querySelectorAll('tr.rule-row').length === 5", "five rule rows")
        await page.wait_for("document.querySelector('#rules').innerText.includes('ERR')", "the broken rule's error")
        text = await page.eval("document.getElementById('rules').innerText")
        assert "demo" in text and "record: ui_demo:sum" in text and "alert: DemoHigh" in text, text
        assert "many-to-many" in text or "multiple matches" in text or "duplicate" in text, text
        await page.screenshot(tmp_path / "rules.png")
        assert page.errors == []


# ---- the routes alone (no browser needed) ---------------------------------------------

def test_ui_routes_serve_assets_and_keep_api_404s():
    from aiohttp.test_utils import TestClient, TestServer

    from promlite.server.app import create_app
    from promlite.server.state import ServerState

    async def run() -> None:
        async with TestClient(TestServer(create_app(ServerState(db=None, engine=None)))) as c:
            r = await c.get("/", allow_redirects=False)
            assert (r.status, r.headers["Location"]) == (302, "graph")
            for path in ("/graph", "/alerts", "/rules", "/targets", "/status"):
                r = await c.get(path)
                html = await r.text()
                assert r.status == 200 and r.content_type == "text/html", path
                assert "script-src 'self'" in r.headers["Content-Security-Policy"]
            scripts = re.findall(r'<script src="([^"]+)"', html) + re.findall(r'href="(static/[^"]+)"', html)
            assert "static/app.js" in scripts and "static/style.css" in scripts
            for src in scripts:
                r = await c.get("/" + src)
                body = await r.read()
                assert r.status == 200 and body, src
                assert r.content_type == ("text/css" if src.endswith(".css") else "text/javascript"), src
                r = await c.get("/" + src, headers={"If-None-Match": r.headers["ETag"]})
                assert r.status == 304, src
            for path in ("/static/nope.js", "/static/index.html", "/static/__init__.py", "/api/v1/nope"):
                r = await c.get(path)
                assert r.status == 404 and r.content_type == "application/json", path
                assert (await r.json())["errorType"] == "not_found"

    asyncio.run(run())
