"""Sending alerts to Alertmanager, as Prometheus's notifier does (``notifier/`` in Prometheus).

What it does, with Prometheus's defaults:

* :meth:`Notifier.send` takes a list of :class:`Alert` from any thread and
  returns at once. It adds the ``external_labels`` an alert does not have
  (never overriding one), applies ``alerting.alert_relabel_configs`` (an alert
  they drop is not sent) and appends the alerts to a queue of
  ``queue_capacity`` alerts (``--alertmanager.notification-queue-capacity``,
  10000). When the queue is full the *oldest* alerts are dropped and counted
  in ``prometheus_notifications_dropped_total``.
* One sender task on the event loop takes batches of at most
  ``max_batch_size`` (64) alerts and POSTs each batch, concurrently, to every
  discovered Alertmanager at ``<scheme>://<address><path_prefix>/api/v2/alerts``
  with the v2 body (``labels``, ``annotations``, ``startsAt``, ``endsAt``,
  ``generatorURL``; times RFC 3339 with milliseconds, UTC). An Alertmanager
  config's own ``alert_relabel_configs`` apply to the alerts sent to it only.
  Each POST is bounded by that config's ``timeout`` (10s). Any 2xx is
  success. A failure is logged once, as one line with the Alertmanager's URL
  and the status or error -- never a traceback -- and counted in
  ``prometheus_notifications_errors_total``; a batch that reached no
  Alertmanager of some config is counted as dropped. There is no retry: the
  next resend is the retry (below).
* Alertmanagers are discovered from ``static_configs`` and ``file_sd_configs``
  (polled every few seconds, at least every ``refresh_interval``). Each
  target gets ``__scheme__`` (the config's ``scheme``) and ``__alerts_path__``
  (``path_prefix`` + ``/api/v2/alerts``) before the config's
  ``relabel_configs``, which may rewrite them or drop the Alertmanager (it is
  then listed under ``droppedAlertmanagers``). The same URL twice is one
  Alertmanager.
* :meth:`Notifier.stop` stops discovery, lets the batch in flight finish and,
  with ``drain_on_shutdown`` (``--alertmanager.drain-notification-queue-on-shutdown``,
  on by default), sends what is still queued, within ``drain_timeout_s``; what
  is left then is dropped and counted.

What the caller (the rule manager) must do -- the notifier keeps no alert
state, like Prometheus's, whose rule manager does this:

* send every *firing* alert again at least every ``--rules.alert.resend-delay``
  (1m), with ``ends_at`` set to a time in the future (Prometheus: evaluation
  time + 4 × max(resend delay, evaluation interval)), so that Alertmanager
  keeps it firing and a restarted Alertmanager gets it back at the next
  resend;
* when an alert resolves, send it with ``ends_at`` = the resolution time, and
  keep sending it as resolved at each resend for 15 minutes, so that an
  Alertmanager that missed one send still learns it resolved;
* keep ``starts_at`` the time the alert started firing (``activeAt``), and the
  label set stable while it fires (Alertmanager identifies an alert by its
  labels).

Metrics, under Prometheus's names (:meth:`Notifier.collect`, read by the
server's ``/metrics``): ``prometheus_notifications_sent_total{alertmanager}``
(alerts attempted, as Prometheus counts them), ``..._errors_total{alertmanager}``
(alerts in failed requests), ``..._dropped_total``, ``..._queue_length``,
``..._queue_capacity``, ``..._alertmanagers_discovered`` and the summary
``..._latency_seconds{alertmanager}``.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import datetime as dt
import json
import logging
import os
import re
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, SummaryMetricFamily

from promlite import __version__
from scraper._yaml import ConfigError
from scraper.config import AlertmanagerConfig, Config
from scraper.file_sd import FileSD
from scraper.relabel import RelabelConfig, process
from scraper.targets import ADDRESS, SCHEME, TargetGroup, static_groups
from scraper.transport import ScrapeError, authorization_header, build_ssl_context

__all__ = ["Alert", "Notifier", "ALERTS_PATH_LABEL", "alerts_path", "relabel_alerts", "DEFAULT_QUEUE_CAPACITY",
           "DEFAULT_MAX_BATCH_SIZE"]

log = logging.getLogger("promlite.notifier")

ALERTS_PATH_LABEL = "__alerts_path__"
API_V2_PATH = "/api/v2/alerts"
DEFAULT_QUEUE_CAPACITY = 10_000
DEFAULT_MAX_BATCH_SIZE = 64
USER_AGENT = f"promlite/{__version__}"
_ZERO_TIME = "0001-01-01T00:00:00.000Z"  # Go's zero time, as Prometheus marshals an unset time
_LATENCY_WINDOW = 512  # latencies kept per Alertmanager for the summary's quantiles
_QUANTILES = (0.5, 0.9, 0.99)  # Prometheus's objectives


def _epoch(t: float | dt.datetime | None) -> float | None:
    if t is None or isinstance(t, int | float):
        return t
    if isinstance(t, dt.datetime):
        return (t if t.tzinfo else t.replace(tzinfo=dt.UTC)).timestamp()
    raise TypeError(f"a time must be seconds since the epoch or a datetime, got {t!r}")


def rfc3339(t: float | None) -> str:
    """``2026-01-02T03:04:05.678Z`` (Go's strfmt.DateTime, as Prometheus sends times); None is Go's zero time."""
    if t is None:
        return _ZERO_TIME
    ms = round(t * 1000)
    s, ms = divmod(ms, 1000)
    return dt.datetime.fromtimestamp(s, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{ms:03d}Z"


@dataclass
class Alert:
    """One alert as the notifier sends it (Prometheus's ``notifier.Alert``).

    Times are seconds since the epoch (a ``datetime`` is converted); None is
    unset: Alertmanager then takes the time it receives the alert as the start
    and keeps the alert firing until its resolve timeout.
    """

    labels: dict[str, str]
    annotations: dict[str, str] = field(default_factory=dict)
    starts_at: float | None = None
    ends_at: float | None = None
    generator_url: str = ""

    def __post_init__(self) -> None:
        self.starts_at = _epoch(self.starts_at)
        self.ends_at = _epoch(self.ends_at)

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "")

    def resolved(self, now: float | None = None) -> bool:
        """True if ``ends_at`` is set and not after ``now``."""
        return self.ends_at is not None and self.ends_at <= (time.time() if now is None else now)

    def to_v2(self) -> dict[str, Any]:
        """The ``PostableAlert`` of Alertmanager's v2 API."""
        d: dict[str, Any] = {"labels": dict(self.labels)}
        if self.annotations:
            d["annotations"] = dict(self.annotations)
        d["startsAt"] = rfc3339(self.starts_at)
        d["endsAt"] = rfc3339(self.ends_at)
        if self.generator_url:
            d["generatorURL"] = self.generator_url
        return d


def relabel_alerts(alerts: Iterable[Alert], rules: Sequence[RelabelConfig],
                   external_labels: Iterable[tuple[str, str]] = ()) -> list[Alert]:
    """Add the external labels an alert lacks, then apply ``rules``; dropped alerts are left out.

    An alert whose labels change is copied: the caller's object is never modified.
    """
    ext = tuple(external_labels)
    if not ext and not rules:
        return list(alerts)
    out = []
    for a in alerts:
        lb = {k: v for k, v in a.labels.items() if v != ""}
        for n, v in ext:
            if not lb.get(n):
                lb[n] = v
        if rules:
            lb = process(lb, rules)
            if lb is None:
                continue
        out.append(a if lb == a.labels else dataclasses.replace(a, labels=lb))
    return out


def alerts_path(path_prefix: str) -> str:
    """``path_prefix`` + ``/api/v2/alerts``, cleaned as Go's ``path.Join`` does."""
    joined = "/" + path_prefix.rstrip("/") + API_V2_PATH
    parts: list[str] = []
    for seg in re.split(r"/+", joined):
        if seg in ("", "."):
            continue
        if seg == "..":
            if parts:
                parts.pop()
            continue
        parts.append(seg)
    return "/" + "/".join(parts)


def _am_url(labels: dict[str, str]) -> str:
    return f"{labels.get(SCHEME, '')}://{labels.get(ADDRESS, '')}{labels.get(ALERTS_PATH_LABEL, '')}"


class _SendError(Exception):
    pass


class _AMSet:
    """The Alertmanagers of one ``alertmanagers`` entry, its HTTP client and its discovery."""

    def __init__(self, key: str, cfg: AlertmanagerConfig) -> None:
        self.key = key
        self.cfg = cfg
        self.ssl = build_ssl_context(cfg.http.tls_config)  # ScrapeError: the config cannot be applied
        self.file_sds = [FileSD(f.files) for f in cfg.file_sd_configs]
        self.urls: list[str] = []
        self.dropped: list[str] = []
        self._session: aiohttp.ClientSession | None = None

    def poll_interval(self, default: float) -> float:
        return min([default] + [f.refresh_interval / 1000 for f in self.cfg.file_sd_configs])

    def refresh(self) -> bool:
        """Re-read the file SD files; True if anything changed (then :meth:`sync` again)."""
        changed = False
        for fsd in self.file_sds:
            changed |= fsd.refresh()
        return changed

    def sync(self) -> None:
        """Recompute the Alertmanagers from the static and file-discovered target groups."""
        groups: list[TargetGroup] = static_groups(self.key, self.cfg.static_configs)
        for fsd in self.file_sds:
            groups.extend(fsd.groups())
        urls: dict[str, None] = {}
        dropped: list[str] = []
        path = alerts_path(self.cfg.path_prefix)
        for g in groups:
            found, gone = [], []
            try:
                for t in g.targets:
                    lb = dict(t)
                    lb[SCHEME] = self.cfg.scheme
                    lb[ALERTS_PATH_LABEL] = path
                    for n, v in g.labels:
                        if n not in dict(t):
                            lb[n] = v
                    before = {k: v for k, v in lb.items() if v != ""}
                    after = process(lb, self.cfg.relabel_configs)
                    if after is None:
                        gone.append(_am_url(before))
                        continue
                    addr = after.get(ADDRESS, "")
                    if "/" in addr:
                        raise _SendError(f'"{addr}" is not a valid hostname')
                    found.append(_am_url(after))
            except _SendError as e:  # Prometheus drops the whole group
                log.error("Creating discovered Alertmanagers failed: config=%s group=%s err=%s",
                          self.key, g.source, e)
                continue
            urls.update(dict.fromkeys(found))
            dropped.extend(gone)
        self.urls, self.dropped = list(urls), dropped

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=0, ssl=self.ssl)
            self._session = aiohttp.ClientSession(connector=connector)
        return self._session

    def auth_header(self) -> str | None:
        """The ``Authorization`` header; secret files are read at each request (rotation without reload)."""
        try:
            return authorization_header(self.cfg.http)
        except ScrapeError as e:
            raise _SendError(str(e)) from None

    async def post(self, url: str, payload: bytes) -> None:
        """POST ``payload`` to ``url`` within the config's timeout; raise :class:`_SendError` with why not."""
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
        auth = self.auth_header()
        if auth is not None:
            headers["Authorization"] = auth
        kwargs: dict[str, Any] = {}
        http = self.cfg.http
        if http.tls_config.server_name:
            kwargs["server_hostname"] = http.tls_config.server_name
        if http.proxy_url:
            kwargs["proxy"] = http.proxy_url
        timeout_s = self.cfg.timeout / 1000
        try:
            async with asyncio.timeout(timeout_s):
                async with self.session().post(url, data=payload, headers=headers,
                                               allow_redirects=http.follow_redirects, **kwargs) as resp:
                    body = await resp.read()
                    if resp.status // 100 != 2:
                        why = body[:200].decode("utf-8", "replace").strip().replace("\n", " ")
                        raise _SendError(f"bad response status {resp.status} {resp.reason or ''}".rstrip()
                                         + (f": {why}" if why else ""))
        except TimeoutError:
            raise _SendError(f"context deadline exceeded (timeout {timeout_s:g}s)") from None
        except aiohttp.ClientConnectorCertificateError as e:
            raise _SendError(f"tls: certificate not trusted: {e.certificate_error}") from None
        except aiohttp.ClientConnectorError as e:
            err = e.os_error
            reason = (os.strerror(err.errno) if err.errno and err.errno > 0 else err.strerror or str(err)).lower()
            raise _SendError(f"dial tcp {e.host}:{e.port}: {reason}") from None
        except (aiohttp.ClientError, OSError, ValueError) as e:
            raise _SendError(str(e) or type(e).__name__) from None

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None


class Notifier:
    """Queues alerts and sends them to the configured Alertmanagers (see the module docstring).

    Lifecycle, on the server's event loop::

        n = Notifier()
        n.apply_config(cfg)   # also on every reload; raises ConfigError if it cannot be applied
        await n.start()
        n.send([Alert({"alertname": "Down"}, starts_at=t0)])   # from any thread
        await n.stop()
    """

    def __init__(self, *, queue_capacity: int = DEFAULT_QUEUE_CAPACITY,
                 max_batch_size: int = DEFAULT_MAX_BATCH_SIZE, drain_on_shutdown: bool = True,
                 drain_timeout_s: float = 30.0, file_sd_poll_interval: float = 5.0) -> None:
        self.queue_capacity = max(1, queue_capacity)
        self.max_batch_size = max(1, max_batch_size)
        self.drain_on_shutdown = drain_on_shutdown
        self.drain_timeout_s = drain_timeout_s
        self.file_sd_poll_interval = file_sd_poll_interval
        self._lock = threading.Lock()
        self._queue: collections.deque[Alert] = collections.deque()
        self._external_labels: tuple[tuple[str, str], ...] = ()
        self._relabel: tuple[RelabelConfig, ...] = ()
        self._sets: dict[str, _AMSet] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._more: asyncio.Event | None = None
        self._stopping = False
        self._tasks: list[asyncio.Task] = []
        self._closing: set[asyncio.Task] = set()
        # metrics
        self._sent: dict[str, int] = {}
        self._errors: dict[str, int] = {}
        self._dropped = 0
        self._latency: dict[str, tuple[collections.deque[float], list[float]]] = {}  # url -> (recent, [sum, n])

    # -- configuration ---------------------------------------------------------------------------

    def apply_config(self, cfg: Config) -> None:
        """Take ``external_labels`` and ``alerting`` from ``cfg``; all or nothing.

        Raises :class:`ConfigError` (the running configuration stays) when an
        Alertmanager's TLS files cannot be loaded. Discovery runs at once, so
        the Alertmanagers are known when this returns.
        """
        sets: dict[str, _AMSet] = {}
        for i, am in enumerate(cfg.alerting.alertmanagers):
            key = f"config-{i}"
            try:
                s = _AMSet(key, am)
            except ScrapeError as e:
                raise ConfigError(f"alerting.alertmanagers[{i}]: {e}", source=cfg.source) from None
            s.refresh()
            s.sync()
            sets[key] = s
        with self._lock:
            old = self._sets
            self._sets = sets
            self._external_labels = cfg.global_config.external_labels
            self._relabel = cfg.alerting.alert_relabel_configs
        for s in old.values():
            self._close_later(s)

    def _close_later(self, s: _AMSet) -> None:
        if s._session is None:
            return
        if self._loop is not None and not self._loop.is_closed():
            def close() -> None:
                t = self._loop.create_task(s.close())  # type: ignore[union-attr]
                self._closing.add(t)
                t.add_done_callback(self._closing.discard)
            if threading.get_ident() == self._loop_thread:
                close()
            else:
                self._loop.call_soon_threadsafe(close)

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start sending (and polling file SD) on the running loop. Alerts queued before are sent now."""
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._more = asyncio.Event()
        self._stopping = False
        self._tasks = [asyncio.create_task(self._send_loop(), name="notifier-send"),
                       asyncio.create_task(self._discovery_loop(), name="notifier-discovery")]
        if self.queue_length():
            self._more.set()

    async def stop(self) -> None:
        """Stop; with ``drain_on_shutdown`` send what is queued within ``drain_timeout_s``. Idempotent."""
        if self._loop is None or self._more is None:
            return
        deadline = time.monotonic() + self.drain_timeout_s
        self._stopping = True
        self._more.set()
        sender, discovery = self._tasks
        discovery.cancel()
        try:
            await asyncio.wait_for(asyncio.shield(sender), max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            sender.cancel()
        await asyncio.gather(sender, discovery, return_exceptions=True)
        n = self.queue_length()
        if n and self.drain_on_shutdown:
            log.info("Draining any remaining notifications... count=%d", n)
            while self.queue_length():
                left = deadline - time.monotonic()
                batch = self._next_batch()
                try:
                    if left <= 0:
                        raise TimeoutError
                    ok = await asyncio.wait_for(self._send_all(batch), left)
                except TimeoutError:
                    rest = len(batch) + self._clear()
                    log.warning("Draining notifications timed out after %gs, dropping alerts: num_dropped=%d",
                                self.drain_timeout_s, rest)
                    self._count_dropped(rest)
                    break
                if not ok:
                    self._count_dropped(len(batch))
            else:
                log.info("Remaining notifications drained")
        elif n:
            log.warning("Draining remaining notifications on shutdown is disabled, and some notifications "
                        "have been dropped: count=%d", n)
            self._count_dropped(self._clear())
        with self._lock:
            sets = list(self._sets.values())
        await asyncio.gather(*(s.close() for s in sets), *self._closing, return_exceptions=True)
        self._loop = self._more = None
        self._tasks = []
        log.info("Notification manager stopped")

    # -- the queue -------------------------------------------------------------------------------

    def send(self, alerts: Iterable[Alert]) -> None:
        """Queue ``alerts`` (relabeled, external labels added); never blocks. Safe from any thread."""
        with self._lock:
            batch = relabel_alerts(alerts, self._relabel, self._external_labels)
            if not batch:
                return
            cap = self.queue_capacity
            if (d := len(batch) - cap) > 0:
                batch = batch[d:]
                log.warning("Alert batch larger than queue capacity, dropping alerts: num_dropped=%d", d)
                self._dropped += d
            if (d := len(self._queue) + len(batch) - cap) > 0:
                for _ in range(d):
                    self._queue.popleft()
                log.warning("Alert notification queue full, dropping alerts: num_dropped=%d", d)
                self._dropped += d
            self._queue.extend(batch)
        self._signal()

    def _signal(self) -> None:
        loop, more = self._loop, self._more
        if loop is None or more is None:
            return  # not started: start() sends what is queued
        if threading.get_ident() == self._loop_thread:
            more.set()
        else:
            try:
                loop.call_soon_threadsafe(more.set)
            except RuntimeError:  # the loop is closed: the notifier is stopped
                pass

    def queue_length(self) -> int:
        with self._lock:
            return len(self._queue)

    def _next_batch(self) -> list[Alert]:
        with self._lock:
            n = min(self.max_batch_size, len(self._queue))
            return [self._queue.popleft() for _ in range(n)]

    def _clear(self) -> int:
        with self._lock:
            n = len(self._queue)
            self._queue.clear()
            return n

    def _count_dropped(self, n: int) -> None:
        with self._lock:
            self._dropped += n

    # -- sending ---------------------------------------------------------------------------------

    async def _send_loop(self) -> None:
        assert self._more is not None
        while not self._stopping:
            await self._more.wait()
            self._more.clear()
            while not self._stopping and self.queue_length():
                batch = self._next_batch()
                try:
                    ok = await self._send_all(batch)
                except asyncio.CancelledError:  # stop() ran out of time with this batch in flight
                    self._count_dropped(len(batch))
                    raise
                if not ok:
                    self._count_dropped(len(batch))

    async def _send_all(self, alerts: list[Alert]) -> bool:
        """Send one batch to every Alertmanager; True if each config that had some got it at least once."""
        if not alerts:
            return True
        begin = time.monotonic()
        with self._lock:
            sets = list(self._sets.values())
        shared: bytes | None = None
        jobs = []
        for s in sets:
            if not s.urls:
                continue
            if s.cfg.alert_relabel_configs:
                mine = relabel_alerts(alerts, s.cfg.alert_relabel_configs)
                if not mine:
                    continue
                payload = json.dumps([a.to_v2() for a in mine]).encode()
            else:
                mine = alerts
                if shared is None:
                    shared = json.dumps([a.to_v2() for a in alerts]).encode()
                payload = shared
            jobs.append((s, [self._send_one(s, url, payload, len(mine), begin) for url in s.urls]))
        if not jobs:
            return True
        results = await asyncio.gather(*(asyncio.gather(*posts) for _, posts in jobs))
        return all(any(oks) for oks in results)

    async def _send_one(self, s: _AMSet, url: str, payload: bytes, count: int, begin: float) -> bool:
        ok = True
        try:
            await s.post(url, payload)
        except _SendError as e:
            ok = False
            log.error("Error sending alerts: alertmanager=%s count=%d err=%s", url, count, e)
        with self._lock:
            if not ok:
                self._errors[url] = self._errors.get(url, 0) + count
            self._sent[url] = self._sent.get(url, 0) + count
            recent, acc = self._latency.setdefault(url, (collections.deque(maxlen=_LATENCY_WINDOW), [0.0, 0]))
            took = time.monotonic() - begin
            recent.append(took)
            acc[0] += took
            acc[1] += 1
        return ok

    async def _discovery_loop(self) -> None:
        while True:
            with self._lock:
                sets = list(self._sets.values())
            polled = [s for s in sets if s.file_sds]
            interval = min([s.poll_interval(self.file_sd_poll_interval) for s in polled] or
                           [self.file_sd_poll_interval])
            await asyncio.sleep(max(0.05, interval))
            for s in polled:
                if s.refresh():
                    s.sync()
                    log.info("Alertmanagers of %s changed: %s", s.key, s.urls)

    # -- what the API and /metrics show ----------------------------------------------------------

    def active_alertmanagers(self) -> list[str]:
        """URLs of the Alertmanagers alerts go to (``/api/v1/alertmanagers``'s ``activeAlertmanagers``)."""
        with self._lock:
            sets = list(self._sets.values())
        return [u for s in sets for u in s.urls]

    def dropped_alertmanagers(self) -> list[str]:
        """URLs (before relabeling) of the Alertmanagers ``relabel_configs`` dropped."""
        with self._lock:
            sets = list(self._sets.values())
        return [u for s in sets for u in s.dropped]

    def api_alertmanagers(self) -> dict[str, list[dict[str, str]]]:
        """The ``data`` of ``GET /api/v1/alertmanagers``, in Prometheus's shape."""
        return {"activeAlertmanagers": [{"url": u} for u in self.active_alertmanagers()],
                "droppedAlertmanagers": [{"url": u} for u in self.dropped_alertmanagers()]}

    def collect(self):
        """The ``prometheus_notifications_*`` metric families (for a prometheus_client collector)."""
        with self._lock:
            sent, errors, dropped = dict(self._sent), dict(self._errors), self._dropped
            latency = {u: (sorted(r), acc[0], acc[1]) for u, (r, acc) in self._latency.items()}
            qlen = len(self._queue)
        for u in self.active_alertmanagers():
            sent.setdefault(u, 0)
            errors.setdefault(u, 0)
        fam = SummaryMetricFamily("prometheus_notifications_latency_seconds",
                                  "Latency quantiles for sending alert notifications.", labels=["alertmanager"])
        for u, (recent, total, n) in sorted(latency.items()):
            for q in _QUANTILES:
                v = recent[min(len(recent) - 1, int(q * len(recent)))] if recent else float("nan")
                fam.add_sample("prometheus_notifications_latency_seconds", {"alertmanager": u, "quantile": str(q)}, v)
            fam.add_metric([u], count_value=n, sum_value=total)
        yield fam
        for name, help_, values in (
            ("prometheus_notifications_errors", "Total number of sent alerts affected by errors.", errors),
            ("prometheus_notifications_sent", "Total number of alerts sent.", sent),
        ):
            c = CounterMetricFamily(name, help_, labels=["alertmanager"])
            for u, v in sorted(values.items()):
                c.add_metric([u], v)
            yield c
        yield CounterMetricFamily("prometheus_notifications_dropped",
                                  "Total number of alerts dropped due to errors when sending to Alertmanager.",
                                  value=dropped)
        yield GaugeMetricFamily("prometheus_notifications_queue_length",
                                "The number of alert notifications in the queue.", value=qlen)
        yield GaugeMetricFamily("prometheus_notifications_queue_capacity",
                                "The capacity of the alert notifications queue.", value=self.queue_capacity)
        yield GaugeMetricFamily("prometheus_notifications_alertmanagers_discovered",
                                "The number of alertmanagers discovered and active.",
                                value=len(self.active_alertmanagers()))
