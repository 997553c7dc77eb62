"""The ScrapeManager: target state for the API, reloads (good and bad), file SD, shutdown."""

from __future__ import annotations

import asyncio
import json
import os

import _scrape_helpers as H  # noqa: E402 - beside the tests (see conftest.py)
import pytest
from timing import async_wait_until

import tsdb
from scraper.config import ConfigError, load_config
from scraper.file_sd import FileSD, FileSDError, parse_target_groups
from scraper.manager import ReloadError, ScrapeManager


@pytest.fixture
def db(tmp_path):
    d = tsdb.open(str(tmp_path / "data"), wal_sync="never")
    yield d
    d.close()


def config(jobs: str, interval: str = "100ms") -> object:
    return load_config(f"global: {{scrape_interval: {interval}, scrape_timeout: 80ms}}\nscrape_configs:\n{jobs}")


def job(name: str, *targets: str, extra: str = "") -> str:
    quoted = ", ".join(f"'{t}'" for t in targets)
    return f"  - job_name: {name}\n    static_configs: [{{targets: [{quoted}]}}]\n{extra}"


async def until(cond, timeout_s: float = 60.0):
    """A safety net, not a bound: each wait here takes 0.1-0.5 s on a quiet machine."""
    return await async_wait_until(cond, timeout_s)


def _runners():
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        return [asyncio.run]
    return [asyncio.run, uvloop.run]


@pytest.mark.parametrize("run", _runners(), ids=lambda r: r.__module__.split(".")[0])
def test_targets_api_shape(db, run):
    async def main():
        async with H.MetricsServer() as srv:
            srv.endpoint(body=b"a 1\n")
            relabel = ("    relabel_configs:\n"
                       "      - {source_labels: [__address__], regex: 'drop.*', action: drop}\n"
                       "      - {source_labels: [__address__], regex: 'noaddr.*', target_label: __address__,"
                       " replacement: ''}\n")
            cfg = config(job("web", srv.address, srv.address, "127.0.0.1:1", "drop:1", "noaddr:1", extra=relabel))
            mgr = ScrapeManager(db, cfg)
            await mgr.start()
            try:
                def scraped_both():  # a scrape of the good one may time out (80 ms) on a busy machine: wait for "up"
                    data = mgr.api_targets()
                    health = {t["labels"]["instance"]: t["health"] for t in data["activeTargets"]}
                    return data if health.get(srv.address) == "up" and "unknown" not in health.values() else None

                data = await until(scraped_both)
                active = {t["labels"]["instance"]: t for t in data["activeTargets"]}
                assert set(active) == {srv.address, "127.0.0.1:1"}  # the duplicate target is scraped once
                good, bad = active[srv.address], active["127.0.0.1:1"]
                assert good["health"] == "up" and good["lastError"] == ""
                assert good["labels"] == {"instance": srv.address, "job": "web"}
                assert good["discoveredLabels"]["__address__"] == srv.address
                assert good["scrapeUrl"] == f"http://{srv.address}/metrics"
                assert good["scrapePool"] == "web" and good["scrapeInterval"] == "100ms"
                assert good["scrapeTimeout"] == "80ms" and good["lastScrape"].endswith("Z")
                assert good["lastScrapeDuration"] > 0
                assert bad["health"] == "down" and "connection refused" in bad["lastError"]
                assert [d["discoveredLabels"]["__address__"] for d in data["droppedTargets"]] == ["drop:1"]
                assert data["droppedTargetCounts"] == {"web": 1}
                assert mgr.target_errors() == {"web": ["instance 4 in group 0: no address"]}
                assert mgr.api_targets(state="dropped")["activeTargets"] == []
                assert mgr.api_targets(scrape_pool="other")["activeTargets"] == []
            finally:
                await mgr.stop()
            assert H.one(db, "up", instance="127.0.0.1:1")[1].max() == 0.0
    run(main())  # the library runs on plain asyncio and on uvloop


def test_reload_keeps_unchanged_jobs_and_hands_over_changed_ones(db):
    async def main():
        async with H.MetricsServer() as srv:
            srv.endpoint(body=b"a 1\nb 1\n")
            srv.endpoint("/other", body=b"o 1\n")
            other = job("other", srv.address, extra="    metrics_path: /other\n")
            mgr = ScrapeManager(db, config(job("app", srv.address) + other))
            await mgr.start()
            try:
                await until(lambda: len(H.series(db, "b")) == 1 and len(H.one(db, "b")[0]) >= 2)
                loops_before = {a.job: a for a in mgr.active_targets()}
                drop_b = "    metric_relabel_configs: [{source_labels: [__name__], regex: b, action: drop}]\n"
                await mgr.reload(config(job("app", srv.address, extra=drop_b) + other))
                assert mgr.last_reload_success is True
                after = {a.job: a for a in mgr.active_targets()}
                assert after["other"].status is loops_before["other"].status  # untouched loop
                assert after["app"].status is loops_before["app"].status  # state handed over
                await until(lambda: H.is_stale(H.one(db, "b")[1][-1]))
                n_a = len(H.one(db, "a")[0])
                await until(lambda: len(H.one(db, "a")[0]) >= n_a + 2)
                assert not any(H.is_stale(v) for v in H.one(db, "a")[1])  # a kept going, never staled
                assert not any(H.is_stale(v) for v in H.one(db, "up", job="app")[1])
            finally:
                await mgr.stop()
    asyncio.run(main())


def test_removed_job_gets_end_of_run_staleness(db):
    async def main():
        async with H.MetricsServer() as srv:
            srv.endpoint(body=b"a 1\n")
            mgr = ScrapeManager(db, config(job("app", srv.address)))
            await mgr.start()
            for lp in mgr._jobs["app"].loops.values():  # the schedule's time even for a scrape late on a busy machine
                lp.timestamp_tolerance_s = 0.099
            try:
                await until(lambda: len(H.series(db, "a")) == 1)
                await mgr.reload(config(""))
                assert mgr.active_targets() == []
                await until(lambda: H.is_stale(H.one(db, "a")[1][-1]) and H.is_stale(H.one(db, "up")[1][-1]))
                ts = H.one(db, "a")[0]
                assert ts[-1] - ts[-2] == 100  # at the time the next scrape would have had
            finally:
                await mgr.stop()
    asyncio.run(main())


def test_failed_reload_keeps_the_running_config(db, tmp_path):
    async def main():
        async with H.MetricsServer() as srv:
            srv.endpoint(body=b"a 1\n")
            cfg = config(job("app", srv.address))
            mgr = ScrapeManager(db, cfg)
            await mgr.start()
            try:
                await until(lambda: len(H.series(db, "a")) == 1)
                bad_tls = f"    tls_config: {{ca_file: {tmp_path / 'missing.pem'}}}\n"
                with pytest.raises(ReloadError, match='job "app": unable to load specified CA cert .*missing.pem'):
                    await mgr.reload(config(job("app", srv.address, extra=bad_tls)))
                assert mgr.config is cfg and mgr.last_reload_success is False
                bad_file = tmp_path / "prometheus.yml"
                bad_file.write_text("scrape_configs:\n  - job_name: [\n")
                with pytest.raises(ConfigError, match="prometheus.yml:3"):
                    await mgr.reload_file(str(bad_file))
                assert mgr.config is cfg
                n = len(H.one(db, "a")[0])
                await until(lambda: len(H.one(db, "a")[0]) >= n + 2)  # still scraping
                good = tmp_path / "good.yml"
                good.write_text("global: {scrape_interval: 100ms}\nscrape_configs:\n"
                                + job("app2", srv.address))
                await mgr.reload_file(str(good))
                assert [a.job for a in mgr.active_targets()] == ["app2"] and mgr.last_reload_success
            finally:
                await mgr.stop()
    asyncio.run(main())


def test_file_sd_follows_the_files(db, tmp_path):
    sd = tmp_path / "targets.json"

    async def main():
        async with H.MetricsServer() as srv:
            srv.endpoint(body=b"a 1\n")
            sd.write_text(json.dumps([{"targets": [srv.address], "labels": {"team": "x"}}]))
            cfg = config(f"  - job_name: sd\n    file_sd_configs: [{{files: ['{tmp_path}/*.json']}}]\n")
            mgr = ScrapeManager(db, cfg, file_sd_poll_interval=0.05)
            await mgr.start()
            try:
                (t,) = mgr.active_targets()
                assert dict(t.target.public_labels()) == {"instance": srv.address, "job": "sd", "team": "x"}
                assert dict(t.target.discovered_labels)["__meta_filepath"] == str(sd)
                await until(lambda: len(H.series(db, "a")) == 1)
                sd.write_text(json.dumps([{"targets": [srv.address, "127.0.0.1:1"], "labels": {"team": "x"}}]))
                await until(lambda: len(mgr.active_targets()) == 2)
                sd.write_text("[{not json")
                await until(lambda: "sd" in mgr.target_errors())
                assert "invalid JSON" in mgr.target_errors()["sd"][0]
                assert len(mgr.active_targets()) == 2  # a bad edit keeps the previous targets
                sd.unlink()
                await until(lambda: mgr.active_targets() == [])
                await until(lambda: H.is_stale(H.one(db, "a")[1][-1]))
            finally:
                await mgr.stop()
    asyncio.run(main())


def test_stop_writes_no_staleness_and_is_final(db):
    async def main():
        async with H.MetricsServer() as srv:
            srv.endpoint(body=b"a 1\n")
            mgr = ScrapeManager(db, config(job("app", srv.address)))
            await mgr.reload(config(job("app2", srv.address)))  # before start: just replaces the config
            await mgr.start()
            await until(lambda: len(H.series(db, "a")) == 1)
            await mgr.stop()
            n = len(H.one(db, "a")[0])
            await asyncio.sleep(0.35)
            ts, vs = H.one(db, "a")
            assert len(ts) == n and not any(H.is_stale(v) for v in vs)
            assert dict(next(iter(H.series(db, "a"))))["job"] == "app2"
    asyncio.run(main())


# -- file SD parsing --------------------------------------------------------------------------

def test_parse_target_groups_json_and_yaml():
    groups = parse_target_groups(b'[{"targets": ["a:1", "b:2"], "labels": {"env": "x", "e": ""}}, {"targets": []}]',
                                 "/sd/t.json")
    assert [g.source for g in groups] == ["/sd/t.json:0", "/sd/t.json:1"]
    assert groups[0].targets == ((("__address__", "a:1"),), (("__address__", "b:2"),))
    assert groups[0].labels == (("__meta_filepath", "/sd/t.json"), ("env", "x"))
    (g,) = parse_target_groups(b"- targets: [c:3]\n  labels: {zone: z}\n", "/sd/t.yml")
    assert g.targets == ((("__address__", "c:3"),),) and ("zone", "z") in g.labels
    assert parse_target_groups(b"", "/sd/empty.yaml") == []


@pytest.mark.parametrize("data, path, fragment", [
    (b"{}", "x.json", "expected a list of target groups"),
    (b"[null]", "x.json", "nil target group item found"),
    (b'[{"targets": "a:1"}]', "x.json", "targets must be a list of strings"),
    (b'[{"targets": [], "labels": {"a-b": "c"}}]', "x.json", '"a-b" is not a valid label name'),
    (b'[{"targets": [], "lables": {}}]', "x.json", "unknown key 'lables'"),
    (b"- targets: [a\n", "x.yml", "invalid YAML"),
    (b"[1,", "x.json", "invalid JSON"),
])
def test_parse_target_groups_errors(data, path, fragment):
    with pytest.raises(FileSDError, match=fragment):
        parse_target_groups(data, path)


def test_file_sd_refresh_only_rereads_changed_files(tmp_path):
    (tmp_path / "a.json").write_text('[{"targets": ["a:1"]}]')
    fsd = FileSD([str(tmp_path / "*.json")])
    assert fsd.refresh() is True and len(fsd.groups()) == 1
    assert fsd.refresh() is False
    (tmp_path / "b.json").write_text('[{"targets": ["b:1"]}]')
    assert fsd.refresh() is True and len(fsd.groups()) == 2
    os.unlink(tmp_path / "a.json")
    assert fsd.refresh() is True and [g.source for g in fsd.groups()] == [f"{tmp_path}/b.json:0"]
