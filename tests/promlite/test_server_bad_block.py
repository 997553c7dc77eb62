"""A block the server cannot read is skipped, logged and counted in /metrics; the rest is served (issue 12)."""

from __future__ import annotations

import json
import os
import time
import urllib.parse

import numpy as np
from serve_proc import ServeProc

import tsdb

H = 3_600_000


def test_a_skipped_block_shows_in_metrics_and_the_others_answer(tmp_path):
    data = str(tmp_path / "data")
    end = (int(time.time() * 1000) // H) * H
    ts = np.arange(end - 6 * H, end, 60_000, dtype=np.int64)
    with tsdb.open(data, block_range_ms=2 * H) as db:
        app = db.appender()
        app.append_series({"__name__": "kept", "job": "x"}, ts, np.ones(len(ts)))
        app.commit()
        db.flush()
        assert len(db.blocks) >= 3
        bad = db.blocks[1]
        bdir, lost = bad.path, bad.meta.stats.num_samples
    meta = os.path.join(bdir, "meta.json")
    with open(meta, "rb") as f:
        broken = f.read().replace(b"{", b"z", 1)
    with open(meta, "wb") as f:
        f.write(broken)

    s = ServeProc(str(tmp_path), f"--storage.tsdb.path={data}")
    try:
        status, body = s.request("GET", "/metrics")
        assert status == 200
        text = body.decode()
        assert "\nprometheus_tsdb_reloads_failures_total 1.0\n" in text
        assert "\npromlite_tsdb_blocks_skipped 1.0\n" in text
        q = urllib.parse.quote(f"count_over_time(kept[1d] @ {end / 1000:.3f})")
        status, body = s.request("GET", f"/api/v1/query?query={q}&time={end / 1000:.3f}")
        assert status == 200, body
        (sample,) = json.loads(body)["data"]["result"]
        assert int(sample["value"][1]) == len(ts) - lost
        errors = [line for line in s.lines() if "level=ERROR" in line]
        assert len(errors) == 1 and bdir in errors[0] and "meta.json" in errors[0], errors
    finally:
        s.stop()
    with open(meta, "rb") as f:
        assert f.read() == broken  # left as it was
