"""Scrape loops end to end: ingestion rules, HTTP transport, schedule and staleness, on a real tsdb."""

from __future__ import annotations

import asyncio
import math
import shutil
import socket
import time

import _scrape_helpers as H  # noqa: E402 - beside the tests (see conftest.py)
import numpy as np
import pytest
from _requirements import missing
from timing import async_wait_until

import tsdb
from scraper.config import ScrapeConfig, StaticConfig, load_config
from scraper.config_http import Authorization, BasicAuth, HTTPClientConfig, TLSConfig
from scraper.exposition import parse_lines_cached
from scraper.ingest import DROPPED, IngestOptions, TargetIngester
from scraper.relabel import parse_relabel_config
from scraper.scrape_loop import ScrapeLoop, scrape_offset
from scraper.targets import TargetGroup, targets_from_group
from scraper.transport import ScrapeClient, ScrapeError, accept_header

TARGET = (("instance", "host:9100"), ("job", "node"))
TS = 1_700_000_000_000


@pytest.fixture
def db(tmp_path):
    d = tsdb.open(str(tmp_path / "data"), wal_sync="never")
    yield d
    d.close()


def ingester(db, **opts) -> TargetIngester:
    return TargetIngester(db, TARGET, IngestOptions(**opts))


# -- ingestion rules ----------------------------------------------------------------------------

def test_target_labels_and_exported_conflicts(db):
    ing = ingester(db)
    body = b'm{job="x",instance="y",exported_job="z",a="1"} 1\n'
    assert ing.ingest(body, "text/plain", TS).error is None
    (labels,) = H.series(db, "m")
    assert dict(labels) == {"__name__": "m", "a": "1", "job": "node", "instance": "host:9100",
                            "exported_job": "z", "exported_exported_job": "x", "exported_instance": "y"}


def test_honor_labels_keeps_exposed_values(db):
    ing = ingester(db, honor_labels=True)
    ing.ingest(b'm{job="x"} 1\n', "text/plain", TS)
    (labels,) = H.series(db, "m")
    assert dict(labels) == {"__name__": "m", "job": "x", "instance": "host:9100"}


def test_report_series(db):
    ing = ingester(db)
    r = ing.ingest(b"a 1\nb 2\nb 3\n", "text/plain", TS)
    assert (r.samples_scraped, r.samples_post_relabel, r.series_added, r.duplicates) == (3, 3, 2, 1)
    want = {"up": 1.0, "scrape_samples_scraped": 3.0, "scrape_samples_post_metric_relabeling": 3.0,
            "scrape_series_added": 2.0}
    for name, v in want.items():
        ts, vs = H.one(db, name, job="node", instance="host:9100")
        assert (ts.tolist(), vs.tolist()) == ([TS], [v])
    ts, vs = H.one(db, "scrape_duration_seconds")
    assert 0 < vs[0] < 5
    assert H.one(db, "b")[1].tolist() == [2.0]  # a repeated series: the first sample is kept


def test_disappearing_series_get_stale_markers(db):
    ing = ingester(db)
    ing.ingest(b"a 1\nb 1\n", "text/plain", TS)
    r = ing.ingest(b"a 2\n", "text/plain", TS + 1000)
    assert r.stale_markers == 1
    ing.ingest(b"a 3\nb 3\n", "text/plain", TS + 2000)
    ts, vs = H.one(db, "b")
    assert ts.tolist() == [TS, TS + 1000, TS + 2000]
    assert vs[0] == 1 and H.is_stale(vs[1]) and vs[2] == 3
    assert not any(H.is_stale(v) for v in H.one(db, "a")[1])


def test_scraped_nan_is_never_a_stale_marker(db):
    ing = ingester(db)
    ing.ingest(b"a NaN\n", "text/plain", TS)
    (v,) = H.one(db, "a")[1]
    assert math.isnan(v) and not H.is_stale(v)


def test_failed_parse_stores_nothing_and_stales_everything(db):
    ing = ingester(db)
    ing.ingest(b"a 1\nb 1\n", "text/plain", TS)
    r = ing.ingest(b"a 2\nc 5\nb{ 7\n", "text/plain", TS + 1000)
    assert r.error.startswith("line 3:")
    assert H.series(db, "c") == {}
    for name in ("a", "b"):
        ts, vs = H.one(db, name)
        assert ts.tolist() == [TS, TS + 1000] and H.is_stale(vs[1])
    assert H.one(db, "up")[1].tolist() == [1.0, 0.0]


def test_invalid_utf8_fails_with_the_line(db):
    r = ingester(db).ingest(b'a 1\nb{x="\xff"} 1\n', "text/plain", TS)
    assert r.error.startswith("line 2:") and H.series(db, "a") == {}


def test_transport_error_is_an_empty_scrape(db):
    ing = ingester(db)
    ing.ingest(b"a 1\n", "text/plain", TS)
    r = ing.ingest(None, None, TS + 1000, scrape_error="connection refused")
    assert r.error == "connection refused" and r.stale_markers == 1
    assert H.one(db, "up")[1].tolist() == [1.0, 0.0]


def test_empty_body_is_healthy_and_stales_everything(db):
    ing = ingester(db)
    ing.ingest(b"a 1\n", "text/plain", TS)
    r = ing.ingest(b"", "text/plain", TS + 1000)
    assert r.error is None and r.stale_markers == 1
    assert H.one(db, "up")[1].tolist() == [1.0, 1.0]


def test_sample_limit_counts_after_metric_relabeling(db):
    drop_b = parse_relabel_config({"source_labels": ["__name__"], "regex": "b", "action": "drop"})
    ing = ingester(db, sample_limit=2, metric_relabel_configs=(drop_b,))
    assert ing.ingest(b"a 1\nb 1\nc 1\n", "text/plain", TS).error is None
    assert H.series(db, "b") == {}
    r = ing.ingest(b"a 2\nb 2\nc 2\nd 2\n", "text/plain", TS + 1000)
    assert r.error == "sample limit exceeded"
    assert (r.samples_scraped, r.samples_post_relabel) == (4, 3)
    assert H.series(db, "d") == {}
    assert H.is_stale(H.one(db, "a")[1][-1]) and H.is_stale(H.one(db, "c")[1][-1])
    assert H.one(db, "scrape_samples_post_metric_relabeling")[1].tolist() == [2.0, 3.0]
    assert ing.cache[b"b"] == DROPPED


def _head_series(db) -> int:
    return db.head.num_series()


def test_sample_limit_fails_before_any_series_is_created(db):
    """Issue 12: a scrape over ``sample_limit`` created every series before failing (1 M series: 70 s, 1.5 GiB)."""
    n, limit = 200_000, 10_000
    body = b"".join(b'm_%d{a="x",b="%d"} %d\n' % (i % 100, i, i) for i in range(n))
    t0 = time.process_time()
    parse_lines_cached(body, {})  # what a failing scrape cannot avoid (Prometheus parses it all too)
    parse_cpu = time.process_time() - t0
    ing = ingester(db, sample_limit=limit)
    t0 = time.process_time()
    r = ing.ingest(body, "text/plain", TS)
    cpu = time.process_time() - t0
    assert r.error == "sample limit exceeded"
    assert (r.samples_scraped, r.samples_post_relabel, r.series_added) == (n, n, 0)
    assert _head_series(db) == 5  # the report series only: none of the scrape's
    assert ing.cache == {}
    assert H.one(db, "up")[1].tolist() == [0.0]
    assert H.one(db, "scrape_samples_post_metric_relabeling")[1].tolist() == [float(n)]
    # quiet machine: parse 0.9 s, ingest 1.0 s (5.2 s when every series was created first)
    assert cpu < 2.5 * parse_cpu + 0.5, (cpu, parse_cpu)


def test_sample_limit_with_relabeling_creates_no_series(db):
    keep_even = parse_relabel_config({"source_labels": ["i"], "regex": ".*[02468]", "action": "keep"})
    ing = ingester(db, sample_limit=3, metric_relabel_configs=(keep_even,))
    body = b"".join(b'm{i="%d"} 1\n' % i for i in range(10))
    r = ing.ingest(body, "text/plain", TS)
    assert (r.error, r.samples_scraped, r.samples_post_relabel, r.series_added) == (
        "sample limit exceeded", 10, 5, 0)
    assert _head_series(db) == 5
    assert sorted(ing.cache.values()) == [DROPPED] * 5  # the rules' verdicts are kept, no refs
    r = ing.ingest(body.replace(b"} 1", b"} 2")[:-len(b'm{i="9"} 2\n') * 4], "text/plain", TS + 1000)
    assert r.error is None and (r.samples_post_relabel, r.series_added) == (3, 3)
    assert len(H.series(db, "m")) == 3


def test_sample_limit_counts_out_of_bounds_and_repeated_samples(db):
    """Prometheus's limitAppender sits above the time limit and the duplicate check: they count."""
    far = int(time.time() * 1000) + 3_600_000
    body = b"a 1\na 2\nb 1 %d\n" % far
    r = ingester(db, sample_limit=2).ingest(body, "text/plain", TS)
    assert (r.error, r.samples_post_relabel) == ("sample limit exceeded", 3)
    assert _head_series(db) == 5
    r = ingester(db, sample_limit=3).ingest(body, "text/plain", TS)
    assert (r.error, r.samples_post_relabel, r.duplicates) == (None, 3, 1)


@pytest.mark.parametrize("opts, bad", [
    ({"label_limit": 3}, b'z{a="1",b="2"} 1\n'),
    ({"label_name_length_limit": 8}, b'z{abcdefghi="1"} 1\n'),
])
def test_label_limits_fail_before_any_series_is_created(db, opts, bad):
    """A label limit broken by a later series used to leave the earlier series created."""
    ing = ingester(db, **opts)
    r = ing.ingest(b"ok_a 1\nok_b 1\n" + bad + b"ok_c 1\n", "text/plain", TS)
    assert "limit exceeded" in r.error
    assert (r.samples_post_relabel, r.series_added) == (2, 0)  # Prometheus stops at the bad sample
    assert _head_series(db) == 5 and ing.cache == {}


@pytest.mark.parametrize("opts, body, fragment", [
    ({"label_limit": 3}, b'm{a="1",b="2"} 1\n', "label_limit exceeded (metric: m{a=\"1\",b=\"2\"}, number of labels: 5"),
    ({"label_name_length_limit": 4}, b'm{abcde="1"} 1\n', "label_name_length_limit exceeded"),
    ({"label_value_length_limit": 2}, b'm{a="123"} 1\n', 'value: "123", length: 3, limit: 2'),
    ({"metric_relabel_configs": (parse_relabel_config({"regex": "__name__", "action": "labeldrop"}),)},
     b"m 1\n", "missing metric name (__name__ label)"),
    ({"metric_relabel_configs": (parse_relabel_config({"target_label": "__name__", "replacement": "1x"}),)},
     b"m 1\n", "invalid metric name or label names"),
])
def test_bad_series_fail_the_scrape(db, opts, body, fragment):
    r = ingester(db, **opts).ingest(body, "text/plain", TS)
    assert fragment in r.error
    assert H.series(db, "m") == {} and H.one(db, "up")[1].tolist() == [0.0]


def test_explicit_timestamps(db):
    ing = ingester(db)
    ing.ingest(b"a 1 1600000000000\nb 1\n", "text/plain", TS)
    assert H.one(db, "a")[0].tolist() == [1_600_000_000_000]
    ing.ingest(b"b 2\n", "text/plain", TS + 1000)
    assert H.one(db, "a")[0].tolist() == [1_600_000_000_000]  # explicit-timestamp series are not staled
    far = int(time.time() * 1000) + 3_600_000
    r = ing.ingest(b"c 1 %d\n" % far, "text/plain", TS + 2000)
    assert r.error is None and H.series(db, "c") == {}  # more than 10 min ahead: out of bounds
    other = TargetIngester(db, (("instance", "x"), ("job", "j2")), IngestOptions(honor_timestamps=False))
    other.ingest(b"d 1 1600000000000\n", "text/plain", TS)
    assert H.one(db, "d")[0].tolist() == [TS]


def test_track_timestamps_staleness(db):
    ing = ingester(db, track_timestamps_staleness=True)
    ing.ingest(b"a 1 %d\n" % (TS - 5000), "text/plain", TS)
    ing.ingest(b"", "text/plain", TS + 1000)
    ts, vs = H.one(db, "a")
    assert ts.tolist() == [TS - 5000, TS + 1000] and H.is_stale(vs[1])


def test_formats_and_fallback(db):
    om = b"# TYPE a gauge\na 1\n# EOF\n"
    assert ingester(db).ingest(om, "application/openmetrics-text; version=1.0.0", TS).error is None
    r = ingester(db).ingest(b"a 1\n", "application/openmetrics-text", TS + 1)
    assert "# EOF" in r.error
    assert "# EOF" in ingester(db, fallback_format="openmetrics").ingest(b"a 1\n", None, TS + 2).error
    assert ingester(db, fallback_format="openmetrics").ingest(b"a 1\n", "text/plain", TS + 3).error is None
    assert ingester(db).ingest(b"a 1\n", "application/json", TS + 4).error is None  # unknown -> text


def test_cache_hits_and_dead_refs(db):
    ing = ingester(db)
    ing.ingest(b"a 1\n", "text/plain", TS)
    assert set(ing.cache) == {b"a"}

    class Flaky:  # the TSDB forgot a ref once (as after head garbage collection)
        def __init__(self):
            self.failed = False

        def series_ref(self, labels):
            return db.series_ref(labels)

        def appender(self):
            app = db.appender()
            if not self.failed:
                self.failed = True

                def boom(*a, **k):
                    raise tsdb.InvalidSampleError("unknown series ref 0")
                app.append_batch = boom
            return app

    ing.db = Flaky()
    r = ing.ingest(b"a 2\n", "text/plain", TS + 1000)
    assert r.error is None and H.one(db, "a")[1].tolist() == [1.0, 2.0]


def test_cache_is_bounded_under_churn(db):
    ing = ingester(db)
    for i in range(6):
        body = b"".join(b'm{i="%d"} 1\n' % (i * 1000 + k) for k in range(400))
        ing.ingest(body, "text/plain", TS + i * 1000)
    assert len(ing.cache) <= 2 * 400 + 1000


# -- transport -----------------------------------------------------------------------------------

def test_accept_header():
    assert accept_header(("OpenMetricsText1.0.0", "OpenMetricsText0.0.1", "PrometheusText0.0.4")) == (
        "application/openmetrics-text;version=1.0.0;escaping=underscores;q=0.6,"
        "application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=0.0.4;q=0.4,*/*;q=0.3")
    assert accept_header(("PrometheusText0.0.4",)) == "text/plain;version=0.0.4;q=0.6,*/*;q=0.5"


async def _fetch(client: ScrapeClient, url: str, **kw):
    try:
        # a safety net: a few ms on a quiet machine
        return await client.fetch(url, timeout_s=kw.pop("timeout_s", 30.0), accept="text/plain", **kw)
    finally:
        await client.close()


def test_request_headers_gzip_and_size_limit(tmp_path):
    async def main():
        async with H.MetricsServer() as srv:
            body = b"a 1\n" * 100
            ep = srv.endpoint(body=body, gzip=True)
            url = f"http://{srv.address}/metrics"
            got, ctype = await _fetch(ScrapeClient(), url, timeout_s=12.5)
            assert got == body and ctype.startswith("text/plain")
            h = ep.requests[-1]["headers"]
            assert h["Accept-Encoding"] == "gzip" and h["X-Prometheus-Scrape-Timeout-Seconds"] == "12.5"
            assert h["User-Agent"].startswith("promlite/")
            await _fetch(ScrapeClient(enable_compression=False), url)
            assert ep.requests[-1]["headers"]["Accept-Encoding"] == "identity"
            # the limit is on the uncompressed body, and reaching it fails (n >= limit, like Prometheus)
            with pytest.raises(ScrapeError, match="body size limit exceeded"):
                await _fetch(ScrapeClient(), url, body_size_limit=len(body))
            got, _ = await _fetch(ScrapeClient(), url, body_size_limit=len(body) + 1)
            assert got == body
            ep.status = 503
            with pytest.raises(ScrapeError, match="server returned HTTP status 503 Service Unavailable"):
                await _fetch(ScrapeClient(), url)
    asyncio.run(main())


def test_auth_headers(tmp_path):
    secret = tmp_path / "token"
    secret.write_text("t1\n")

    async def main():
        async with H.MetricsServer() as srv:
            ep = srv.endpoint(body=b"a 1\n", auth="Basic dTpwdw==")  # u:pw
            url = f"http://{srv.address}/metrics"
            await _fetch(ScrapeClient(HTTPClientConfig(basic_auth=BasicAuth("u", "pw"))), url)
            with pytest.raises(ScrapeError, match="HTTP status 401"):
                await _fetch(ScrapeClient(HTTPClientConfig(basic_auth=BasicAuth("u", "no"))), url)
            bearer = HTTPClientConfig(authorization=Authorization("Bearer", credentials_file=str(secret)))
            ep.auth = "Bearer t1"
            await _fetch(ScrapeClient(bearer), url)
            secret.write_text("t2")  # rotated: read again at the next scrape
            ep.auth = "Bearer t2"
            await _fetch(ScrapeClient(bearer), url)
            missing = HTTPClientConfig(basic_auth=BasicAuth("u", password_file=str(tmp_path / "nope")))
            with pytest.raises(ScrapeError, match="unable to read basic auth password file"):
                await _fetch(ScrapeClient(missing), url)
    asyncio.run(main())


def test_timeout_and_refused():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]

    async def main():
        async with H.MetricsServer() as srv:
            srv.endpoint(body=b"a 1\n", delay=120)
            t0 = time.monotonic()
            with pytest.raises(ScrapeError, match=r"context deadline exceeded \(scrape timeout 0.2s\)"):
                await _fetch(ScrapeClient(), f"http://{srv.address}/metrics", timeout_s=0.2)
            # cut at the timeout, not at the answer 120 s later: 0.2 s on a quiet machine
            assert time.monotonic() - t0 < 20
        with pytest.raises(ScrapeError, match=f"dial tcp 127.0.0.1:{dead_port}: connection refused"):
            await _fetch(ScrapeClient(), f"http://127.0.0.1:{dead_port}/metrics")
    asyncio.run(main())


@pytest.fixture(scope="module")
def tls_certs(tmp_path_factory):
    if shutil.which("openssl") is None:
        missing("openssl CLI not on PATH (Debian package 'openssl')")
    return H.make_certs(str(tmp_path_factory.mktemp("certs")))


def test_tls(tls_certs):
    ca_pem = open(tls_certs["ca.crt"]).read()

    async def main():
        async with H.MetricsServer(ssl_context=H.server_ssl(tls_certs)) as srv:
            srv.endpoint(body=b"a 1\n")
            url = f"https://{srv.address}/metrics"
            for tls in (TLSConfig(ca_file=tls_certs["ca.crt"]), TLSConfig(ca=ca_pem),
                        TLSConfig(insecure_skip_verify=True)):
                body, _ = await _fetch(ScrapeClient(HTTPClientConfig(tls_config=tls)), url)
                assert body == b"a 1\n"
            with pytest.raises(ScrapeError, match="tls: certificate of 127.0.0.1.* not trusted"):
                await _fetch(ScrapeClient(), url)
            bad = ScrapeClient(HTTPClientConfig(tls_config=TLSConfig(ca_file=str(tls_certs["ca.crt"]) + ".missing")))
            assert bad.tls_error is not None
            with pytest.raises(ScrapeError, match="unable to load specified CA cert .*ca.crt.missing: No such file"):
                await _fetch(bad, url)
        async with H.MetricsServer(ssl_context=H.server_ssl(tls_certs, require_client_cert=True)) as srv:
            srv.endpoint(body=b"b 2\n")
            url = f"https://{srv.address}/metrics"
            with pytest.raises(ScrapeError):
                await _fetch(ScrapeClient(HTTPClientConfig(tls_config=TLSConfig(ca_file=tls_certs["ca.crt"]))), url)
            mtls = TLSConfig(ca_file=tls_certs["ca.crt"], cert_file=tls_certs["client.crt"],
                             key_file=tls_certs["client.key"])
            assert (await _fetch(ScrapeClient(HTTPClientConfig(tls_config=mtls)), url))[0] == b"b 2\n"
            inline = TLSConfig(ca_file=tls_certs["ca.crt"], cert=open(tls_certs["client.crt"]).read(),
                               key=open(tls_certs["client.key"]).read())
            assert (await _fetch(ScrapeClient(HTTPClientConfig(tls_config=inline)), url))[0] == b"b 2\n"
    asyncio.run(main())


# -- the loop ------------------------------------------------------------------------------------

def make_loop(db, address: str, *, interval="100ms", timeout="50ms", extra="", executor=None) -> ScrapeLoop:
    cfg = load_config(f"""
scrape_configs:
  - job_name: t
    scrape_interval: {interval}
    scrape_timeout: {timeout}
    static_configs: [{{targets: ['{address}']}}]
{extra}
""").scrape_configs[0]
    (target,) = targets_from_group(TargetGroup("0", ((("__address__", address),),)), cfg).active
    return ScrapeLoop(target, cfg, ScrapeClient(cfg.http), db, executor=executor)


def test_scrape_offset_is_stable_and_pinned_to_absolute_time():
    for h in (0, 12345, 2**64 - 1):
        for now in (1000.0, 1000.037, 1234.5):
            off = scrape_offset(h, 0.1, seed=99, now_s=now)
            assert 0 < off <= 0.1 + 1e-9
            phase_ns = (h ^ 99) % 100_000_000
            assert abs(((now + off) * 1e9 - phase_ns) % 1e8) < 1e3 or abs(((now + off) * 1e9 - phase_ns) % 1e8 - 1e8) < 1e3
    assert scrape_offset(1, 60, now_s=0) != scrape_offset(2, 60, now_s=0)


def test_loop_schedule_params_and_end_of_run_staleness(db):
    async def main():
        async with H.MetricsServer() as srv:
            ep = srv.endpoint(body=b"a 1\n")
            lp = make_loop(db, srv.address, extra="    params: {module: [m1]}")
            # the schedule's time even for a scrape late on a loaded test box (the default is 1 ms at 100 ms)
            lp.timestamp_tolerance_s = 0.099
            lp.start()
            await async_wait_until(lambda: len(ep.requests) >= 5, 60)  # 0.5-0.6 s on a quiet machine
            await lp.stop()
            n = len(ep.requests)
            assert ep.requests[0]["query"] == {"module": "m1"}
            assert ep.requests[0]["headers"]["Accept"] == accept_header(lp.cfg.scrape_protocols)
            assert lp.status.health == "up" and lp.status.last_error == ""
            ts, vs = H.one(db, "a")
            assert 4 <= len(ts) == n
            # aligned ticks: timestamps are the schedule, whole intervals apart (one, unless a busy
            # machine made the loop skip a tick)
            assert (np.diff(ts) > 0).all() and (np.diff(ts) % 100 == 0).all(), np.diff(ts)
            await asyncio.sleep(0.4)  # next tick + one interval + 10 %
            await lp.staleness_task
            ts2, vs2 = H.one(db, "a")
            assert len(ts2) == n + 1 and H.is_stale(vs2[-1])
            assert ts2[-1] == ts[-1] + 100  # at the time the next scrape would have had
            assert H.is_stale(H.one(db, "up")[1][-1])
    asyncio.run(main())


def test_scrape_timeout_fails_even_within_the_interval(db):
    """Prometheus: an answer later than ``scrape_timeout`` fails the scrape (up 0), however long the interval."""
    async def main():
        async with H.MetricsServer() as srv:
            srv.endpoint(body=b"a 1\n", delay=1.0)  # after the 200 ms timeout, inside the 5 s interval
            lp = make_loop(db, srv.address, interval="5s", timeout="200ms")
            try:
                res = await lp.scrape_once(TS)
            finally:
                await lp.client.close()
            assert "context deadline exceeded (scrape timeout 0.2s)" in res.error
            assert lp.status.health == "down" and "context deadline exceeded" in lp.status.last_error
            assert H.one(db, "up")[1].tolist() == [0.0] and H.series(db, "a") == {}
    asyncio.run(main())


def test_slow_ingestion_within_the_timeout_is_up(db):
    """Prometheus bounds only the HTTP exchange by ``scrape_timeout``: a body fetched in time is up=1
    even when parsing and appending it overrun the interval; the duration shows the overrun."""
    class SlowSeries:  # creating series takes 0.3 s: three 100 ms intervals
        def appender(self):
            return db.appender()

        def series_ref(self, labels):
            if labels[0] == ("__name__", "a"):
                time.sleep(0.3)
            return db.series_ref(labels)

    async def main():
        async with H.MetricsServer() as srv:
            srv.endpoint(body=b"a 1\n")
            lp = make_loop(SlowSeries(), srv.address, interval="100ms", timeout="50ms")
            try:
                res = await lp.scrape_once(TS)
            finally:
                await lp.client.close()
            assert res.error is None and lp.status.health == "up"
            assert H.one(db, "up")[1].tolist() == [1.0] and H.one(db, "a")[1].tolist() == [1.0]
            (duration,) = H.one(db, "scrape_duration_seconds")[1]
            assert duration >= 0.3
    asyncio.run(main())


def test_cancel_writes_no_staleness_markers(db):
    async def main():
        async with H.MetricsServer() as srv:
            srv.endpoint(body=b"a 1\n")
            lp = make_loop(db, srv.address)
            lp.start()
            await async_wait_until(lambda: len(H.one(db, "a")[0]) >= 2 if H.series(db, "a") else False, 60)
            await lp.cancel()
            await asyncio.sleep(0.35)
            assert not any(H.is_stale(v) for v in H.one(db, "a")[1])
    asyncio.run(main())


def test_hanging_target_does_not_delay_another(db):
    async def main():
        async with H.MetricsServer() as srv:
            srv.endpoint("/slow", body=b"s 1\n", delay=120)
            fast_ep = srv.endpoint("/fast", body=b"f 1\n")
            # the slow scrape hangs 1.5 s: a fast loop waiting on it would show gaps of 1.5 s and more
            slow = make_loop(db, srv.address, interval="2s", timeout="1500ms",
                             extra="    metrics_path: /slow")
            fast = make_loop(db, srv.address, extra="    metrics_path: /fast")
            slow.start()
            fast.start()
            # 1.5-3.5 s on a quiet machine (the slow loop's offset, then its timeout)
            await async_wait_until(lambda: slow.status.last_error and len(fast_ep.requests) >= 7, 60)
            await asyncio.gather(slow.cancel(), fast.cancel())
            assert "context deadline exceeded" in slow.status.last_error and slow.status.health == "down"
            ts, _ = H.one(db, "f")
            # 100 ms apart on a quiet machine; 10x that for a busy one, still under the slow scrape's 1.5 s
            assert len(fast_ep.requests) >= 7 and np.diff(ts).max() <= 1000, np.diff(ts)
            assert H.series(db, "s") == {}
    asyncio.run(main())


def test_loop_survives_a_broken_tsdb(db):
    class Broken:
        def appender(self):
            raise RuntimeError("disk on fire")

        def series_ref(self, labels):
            raise RuntimeError("disk on fire")

    async def main():
        async with H.MetricsServer() as srv:
            srv.endpoint(body=b"a 1\n")
            lp = make_loop(db, srv.address)
            lp.ingester.db = Broken()
            await lp.scrape_once()
            assert lp.status.health == "down" and "disk on fire" in lp.status.last_error
            lp.ingester.db = db
            await lp.scrape_once()
            assert lp.status.health == "up"
    asyncio.run(main())


def test_scrape_config_defaults_feed_the_loop(db):
    cfg = ScrapeConfig(job_name="j", static_configs=(StaticConfig(("h:1",)),))
    (t,) = targets_from_group(TargetGroup("0", ((("__address__", "h:1"),),)), cfg).active
    lp = ScrapeLoop(t, cfg, ScrapeClient(), db)
    assert (lp.interval_s, lp.timeout_s, lp.url) == (60.0, 10.0, "http://h:1/metrics")
