"""``storage: tsdb: out_of_order_time_window`` in prometheus.yml: promlite serve takes late scraped samples."""

from __future__ import annotations

import json
import time
import urllib.parse

from prometheus import StaticTarget
from serve_proc import ServeProc

CONFIG = """
global:
  scrape_interval: 200ms
  scrape_timeout: 200ms
scrape_configs:
  - job_name: late
    static_configs:
      - targets: ["{addr}"]
{storage}
"""
STORAGE = "storage:\n  tsdb:\n    out_of_order_time_window: 30m\n"


def body(n: int, base_ms: int) -> str:
    """A series going forward in time and one going back (late after its first sample)."""
    return f"fwd_metric {n} {base_ms + n * 1000}\nback_metric {n} {base_ms - n * 1000}\n"


def run(tmp_path, storage: str, reload_to: str | None = None,
        enough=lambda n_back, found: True) -> tuple[int, dict, str]:
    """Scrape until 15 scrapes were answered and ``enough(n_back, found)`` holds (60 s at most), then stop.

    Waiting on what was stored and not only on scrapes answered: a scrape that timed out (200 ms) on a busy
    machine is answered but not stored. 15 scrapes take 3 s on a quiet machine.
    """
    base_ms = int(time.time() * 1000) // 1000 * 1000
    with StaticTarget(body_fn=lambda n: body(n, base_ms)) as target:
        config = CONFIG.replace("{addr}", target.address)
        p = ServeProc(str(tmp_path), "--storage.tsdb.path", str(tmp_path / "data"), "--web.enable-lifecycle",
                      config=config.replace("{storage}", storage))

        def stored() -> tuple[int, dict]:
            q = urllib.parse.urlencode({"query": "back_metric[1h]", "time": f"{base_ms / 1000 + 60:.3f}"})
            code, text = p.request("GET", f"/api/v1/query?{q}")
            assert code == 200, text
            res = json.loads(text)["data"]["result"]
            metrics = p.request("GET", "/metrics")[1].decode()
            found = {}
            for name in ("prometheus_tsdb_head_out_of_order_samples_appended_total",
                         "prometheus_tsdb_out_of_order_samples_total"):
                line = next(ln for ln in metrics.splitlines() if ln.startswith(name + "{"))
                found[name] = float(line.rsplit(" ", 1)[1])
            return len(res[0]["values"]) if res else 0, found

        try:
            if reload_to is not None:
                target.wait_scrapes(target.scrapes + 5, timeout_s=60)
                (tmp_path / "prometheus.yml").write_text(config.replace("{storage}", reload_to))
                assert p.request("POST", "/-/reload")[0] == 200
            target.wait_scrapes(target.scrapes + 15, timeout_s=60)
            deadline = time.monotonic() + 60
            while not enough(*(got := stored())) and time.monotonic() < deadline:
                time.sleep(0.2)
            n_back, found = got
        finally:
            assert p.stop() == 0, p.text()
    return n_back, found, p.text()


def test_late_samples_are_rejected_without_a_window(tmp_path):
    n_back, found, _ = run(tmp_path, "", enough=lambda n, f: f["prometheus_tsdb_out_of_order_samples_total"] >= 10)
    assert n_back == 1  # only the first sample of the series that goes back in time
    assert found["prometheus_tsdb_out_of_order_samples_total"] >= 10
    assert found["prometheus_tsdb_head_out_of_order_samples_appended_total"] == 0


def test_late_samples_are_kept_with_a_window(tmp_path):
    n_back, found, _ = run(tmp_path, STORAGE, enough=lambda n, f: n >= 15 and (
        f["prometheus_tsdb_head_out_of_order_samples_appended_total"] >= 14))
    assert n_back >= 15
    assert found["prometheus_tsdb_head_out_of_order_samples_appended_total"] >= 14
    assert (tmp_path / "data" / "wbl").is_dir()


def test_a_reload_turns_the_window_on(tmp_path):
    n_back, found, log = run(tmp_path, "", reload_to=STORAGE, enough=lambda n, f: n >= 11 and (
        f["prometheus_tsdb_head_out_of_order_samples_appended_total"] >= 10))
    assert found["prometheus_tsdb_head_out_of_order_samples_appended_total"] >= 10
    assert n_back >= 11
