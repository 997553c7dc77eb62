"""``promlite serve``: the runtime that wires tsdb, scraper, engine and HTTP API together.

Defaults make a working server with no arguments: ``./prometheus.yml`` if
it exists, else a built-in configuration that scrapes promlite itself every
15 s (job ``prometheus``, as in Prometheus's example config), data under
``./data``, listening on ``127.0.0.1:9090``.

Lifecycle (one asyncio loop, uvloop when installed):

1. open the DB (WAL replay), build the engine and the HTTP app, bind;
2. load the configuration (the built-in one targets the bound address, so
   ``--web.listen-address=127.0.0.1:0`` works) and start the scrape manager;
3. mark ready (``/-/ready`` 200) and log ``Server is ready to receive web
   requests.`` with the address;
4. SIGHUP or ``POST /-/reload`` (``--web.enable-lifecycle``) reload the
   configuration; a bad file keeps the old one running and is logged;
5. SIGTERM/SIGINT: not ready, stop the scrape loops (appends in flight
   finish: the ingest pool is drained), stop HTTP, close the DB (WAL flushed,
   blocks closed); exit code 0.

Threads: the event loop does HTTP and scrape scheduling; scrape ingestion
runs on the manager's pool and PromQL on the server's query pool, so a
heavy query does not delay a scrape's start.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import re
import signal
import sys
from dataclasses import dataclass

from aiohttp import web

import tsdb
from promlite.rules.manager import RuleManager
from promlite.rules.notifier import DEFAULT_QUEUE_CAPACITY, Notifier
from promlite.rules.rulefile import load_rule_files
from query.durations import parse_prometheus_duration
from query.engine import Engine
from query.parser import parse_expr
from scraper._yaml import ConfigError
from scraper.config import load_config, load_config_file
from scraper.manager import ReloadError, ScrapeManager
from scraper.transport import ScrapeError, build_ssl_context

from .app import create_app
from .connections import DEFAULT_MAX_CONNECTIONS, LimitedAppRunner
from .logs import setup_logging
from .rules_runtime import (
    RuleCollector,
    add_rule_arguments,
    check_rule_flags,
    make_rule_manager,
    manager_options,
    start_rules,
)
from .state import DEFAULT_MAX_CONCURRENCY, DEFAULT_QUERY_TIMEOUT_S, ServerState
from .webconfig import WebConfig, load_web_config

log = logging.getLogger("serve")

DEFAULT_LISTEN = "127.0.0.1:9090"
MAX_REQUEST_LINE = 2**20
MAX_HEADER_FIELD = 64 * 2**10
_SIZE_UNITS = {"B": 1, "KB": 2**10, "MB": 2**20, "GB": 2**30, "TB": 2**40, "PB": 2**50, "EB": 2**60}


def self_scrape_config(target: str, tls: bool = False) -> str:
    """The built-in configuration: promlite scrapes its own ``/metrics`` every 15 s.

    With TLS (``--web.config.file``) it scrapes over https without checking
    its own certificate; with basic auth it cannot know a password (only the
    hash is configured), so give a ``--config.file`` with ``basic_auth`` then.
    """
    extra = "    scheme: https\n    tls_config:\n      insecure_skip_verify: true\n" if tls else ""
    return (
        "# built-in configuration of `promlite serve` (no --config.file, no ./prometheus.yml)\n"
        "global:\n"
        "  scrape_interval: 15s\n"
        "  evaluation_interval: 15s\n"
        "scrape_configs:\n"
        "  - job_name: prometheus\n"
        f"{extra}"
        "    static_configs:\n"
        f'      - targets: ["{target}"]\n'
    )


def parse_size(text: str) -> int:
    """``--storage.tsdb.retention.size``: ``512MB``, ``1GB``, ``0`` (units of 1024, like Prometheus)."""
    m = re.fullmatch(r"\s*(\d+)\s*([KMGTPE]?B)?\s*", text.upper())
    if not m:
        raise ValueError(f"invalid size {text!r}: use e.g. 512MB, 10GB")
    return int(m.group(1)) * _SIZE_UNITS[m.group(2) or "B"]


def split_listen_address(addr: str) -> tuple[str, int]:
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"invalid --web.listen-address {addr!r}: want HOST:PORT")
    return host.strip("[]") or "0.0.0.0", int(port)


def _dial_host(host: str) -> str:
    """Where the self-scrape connects for a bind host (wildcards mean loopback)."""
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


@dataclass
class ServeOptions:
    config_file: str | None = None
    data_path: str = "data"
    retention_time: str = "15d"
    retention_size: str = "0"
    listen_address: str = DEFAULT_LISTEN
    enable_lifecycle: bool = False
    enable_admin_api: bool = False
    query_timeout: str = "60s"
    query_max_samples: int = 50_000_000
    lookback_delta: str = "5m"
    query_workers: int = 2
    query_max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    web_config_file: str | None = None
    wal_compression: bool = True
    read_timeout: str = "5m"
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    #: ``--storage.tsdb.min-block-duration`` (Prometheus's hidden flag): the head is cut into blocks this long
    min_block_duration: str = "2h"
    notification_queue_capacity: int = DEFAULT_QUEUE_CAPACITY
    drain_notifications: bool = True
    rules_outage_tolerance: str = "1h"
    rules_grace_period: str = "10m"
    rules_resend_delay: str = "1m"
    external_url: str | None = None

    @classmethod
    def from_args(cls, a: argparse.Namespace) -> ServeOptions:
        return cls(a.config_file, a.data_path, a.retention_time, a.retention_size, a.listen_address,
                   a.enable_lifecycle, a.enable_admin_api, a.query_timeout, a.query_max_samples,
                   a.lookback_delta, web_config_file=a.web_config_file,
                   wal_compression=a.wal_compression, query_max_concurrency=a.query_max_concurrency,
                   min_block_duration=a.min_block_duration, read_timeout=a.read_timeout,
                   max_connections=a.max_connections,
                   notification_queue_capacity=a.notification_queue_capacity,
                   drain_notifications=a.drain_notifications,
                   rules_outage_tolerance=a.rules_outage_tolerance, rules_grace_period=a.rules_grace_period,
                   rules_resend_delay=a.rules_resend_delay, external_url=a.external_url)


def add_serve_arguments(p: argparse.ArgumentParser) -> None:
    """Prometheus's flag names (``--config.file`` ...); see ``docs/api.md``."""
    p.add_argument("--config.file", dest="config_file", default=None,
                   help="Prometheus configuration file (default: ./prometheus.yml if present, "
                        "else a built-in config that scrapes promlite itself every 15s)")
    p.add_argument("--storage.tsdb.path", dest="data_path", default="data", help="data directory (default: data)")
    p.add_argument("--storage.tsdb.retention.time", dest="retention_time", default="15d",
                   help="how long to keep samples (default: 15d; 0 = forever)")
    p.add_argument("--storage.tsdb.retention.size", dest="retention_size", default="0",
                   help="most bytes of blocks + WAL to keep, e.g. 10GB (default: 0 = no limit)")
    p.add_argument("--storage.tsdb.min-block-duration", dest="min_block_duration", default="2h",
                   help="length of the blocks the head is cut into (default: 2h; as Prometheus's hidden "
                        "flag, for tests: a short one makes head cuts and compactions frequent)")
    p.add_argument("--storage.tsdb.wal-compression", dest="wal_compression", action="store_true", default=True,
                   help="snappy-compress WAL records (default: on, as Prometheus)")
    p.add_argument("--no-storage.tsdb.wal-compression", dest="wal_compression", action="store_false",
                   help="write WAL records uncompressed")
    p.add_argument("--web.listen-address", dest="listen_address", default=DEFAULT_LISTEN,
                   help=f"address to listen on (default: {DEFAULT_LISTEN})")
    p.add_argument("--web.read-timeout", dest="read_timeout", default="5m",
                   help="close idle connections, and requests whose body has not arrived, after this "
                        "long (default: 5m); a request head must arrive within 30s")
    p.add_argument("--web.max-connections", dest="max_connections", type=int, default=DEFAULT_MAX_CONNECTIONS,
                   help=f"most simultaneous connections; more get a 503 (default: {DEFAULT_MAX_CONNECTIONS}, "
                        "0 = no limit)")
    p.add_argument("--web.enable-lifecycle", dest="enable_lifecycle", action="store_true",
                   help="enable POST /-/reload")
    p.add_argument("--web.enable-admin-api", dest="enable_admin_api", action="store_true",
                   help="enable /api/v1/admin/tsdb/{delete_series,clean_tombstones,snapshot}")
    p.add_argument("--web.enable-remote-write-receiver", dest="enable_remote_write", action="store_true",
                   help="reserved: not implemented yet")
    p.add_argument("--web.config.file", dest="web_config_file", default=None,
                   help="TLS and basic auth, in Prometheus's web-config format (bcrypt hashes)")
    p.add_argument("--query.timeout", dest="query_timeout", default="60s",
                   help="most time one query may take (default: 60s, Grafana's own limit)")
    p.add_argument("--query.max-samples", dest="query_max_samples", type=int, default=50_000_000,
                   help="most samples one query may hold in memory, loaded or produced (default: 50000000)")
    p.add_argument("--query.max-concurrency", dest="query_max_concurrency", type=int,
                   default=DEFAULT_MAX_CONCURRENCY,
                   help=f"most queries evaluated at once; more wait in a queue (default: {DEFAULT_MAX_CONCURRENCY})")
    p.add_argument("--query.lookback-delta", dest="lookback_delta", default="5m",
                   help="how far back an instant selector looks (default: 5m)")
    p.add_argument("--alertmanager.notification-queue-capacity", dest="notification_queue_capacity", type=int,
                   default=DEFAULT_QUEUE_CAPACITY,
                   help=f"alerts waiting to be sent; when full the oldest are dropped (default: {DEFAULT_QUEUE_CAPACITY})")
    p.add_argument("--alertmanager.drain-notification-queue-on-shutdown", dest="drain_notifications",
                   action=argparse.BooleanOptionalAction, default=True,
                   help="send the queued alerts before exiting (default: on)")
    add_rule_arguments(p)
    p.add_argument("--log.format", dest="log_format", default="logfmt", choices=["logfmt", "json"],
                   help="log line format (default: logfmt)")
    p.add_argument("--log.level", dest="serve_log_level", default=None,
                   choices=["debug", "info", "warn", "error"], help="log level (default: info)")


def freeze_startup_heap() -> None:
    """Move everything allocated so far out of the cyclic GC's reach (``gc.freeze``).

    A full collection stops every thread, the event loop included, for as long
    as it takes to traverse the heap, and the imported libraries and the storage leave
    ~130,000 long-lived objects: 60-110 ms per full collection here. A request
    that allocates a lot on a worker thread (a 20,000-term query's syntax tree)
    triggers several, and ``/-/healthy`` stalled for each. Frozen, those objects
    are no longer traversed (the pauses drop to ~30 ms); they live as long as the
    process anyway, and freeing by reference count is unaffected.
    """
    gc.collect()
    gc.freeze()


class Server:
    """One running ``promlite serve`` (usable from tests: ``await Server(opts).start()``)."""

    def __init__(self, opts: ServeOptions) -> None:
        self.opts = opts
        self.db: tsdb.DB | None = None
        self.state: ServerState | None = None
        self.runner: web.AppRunner | None = None
        self.manager: ScrapeManager | None = None
        self.notifier: Notifier | None = None
        self.rules: RuleManager | None = None
        self.address = ""
        self.stopping = asyncio.Event()
        self._config_text = ""
        self.web_config: WebConfig | None = None

    def _load_config(self):
        """``(Config, text)`` from ``--config.file``, ./prometheus.yml, or the built-in one."""
        path = self.opts.config_file
        if path is None and os.path.exists("prometheus.yml"):
            path = "prometheus.yml"
        if path is None:
            text = self_scrape_config(self.address, tls=self.web_config is not None
                                      and self.web_config.ssl_context is not None)
            return load_config(text, source="<built-in>"), text
        cfg = load_config_file(path)
        with open(path, encoding="utf-8", errors="replace") as f:
            return cfg, f.read()

    async def start(self) -> None:
        o = self.opts
        retention_ms = parse_prometheus_duration(o.retention_time)
        timeout_s = parse_prometheus_duration(o.query_timeout) / 1000 or DEFAULT_QUERY_TIMEOUT_S
        lookback_ms = parse_prometheus_duration(o.lookback_delta)
        host, port = split_listen_address(o.listen_address)
        if o.config_file is not None:
            load_config_file(o.config_file)  # fail before opening anything
        if o.web_config_file is not None:
            self.web_config = load_web_config(o.web_config_file)
        # HTTP first, not ready: /-/healthy answers during a long WAL replay, the API says 503
        self.state = st = ServerState(
            None, None, enable_admin_api=o.enable_admin_api, enable_lifecycle=o.enable_lifecycle,
            query_timeout_s=timeout_s, lookback_delta_ms=lookback_ms, max_samples=o.query_max_samples,
            retention=o.retention_time, reload=self.reload, ready=False, query_workers=o.query_workers,
            max_concurrency=o.query_max_concurrency,
            flags={k: str(v) for k, v in vars(o).items()},
        )
        st.metrics.ready.set(0)
        # request lines up to 1 MiB, like Go's http.DefaultMaxHeaderBytes: long GET match[] lists fit
        self.runner = LimitedAppRunner(create_app(st, self.web_config), access_log=None, handle_signals=False,
                                       max_line_size=MAX_REQUEST_LINE, max_field_size=MAX_HEADER_FIELD,
                                       read_timeout=parse_prometheus_duration(o.read_timeout) / 1000,
                                       max_connections=o.max_connections)
        await self.runner.setup()
        site = web.TCPSite(self.runner, host, port,
                           ssl_context=self.web_config.ssl_context if self.web_config else None)
        await site.start()
        bound = site._server.sockets[0].getsockname()  # type: ignore[union-attr]
        self.address = f"{_dial_host(host)}:{bound[1]}"
        log.info("listening on %s:%d; opening storage at %s", host, bound[1], os.path.abspath(o.data_path))
        # Ready means ready: each query worker builds its PromQL parser (per thread, ~0.1 s) while storage opens
        primed = asyncio.get_running_loop().run_in_executor(None, st.prime_workers, lambda: parse_expr("up"))
        cfg, self._config_text = self._load_config()  # storage settings come from it
        self.db = await asyncio.to_thread(tsdb.open, o.data_path, retention_ms=retention_ms,
                                          retention_bytes=parse_size(o.retention_size),
                                          wal_compression=o.wal_compression,
                                          block_range_ms=parse_prometheus_duration(o.min_block_duration),
                                          out_of_order_time_window_ms=cfg.storage.out_of_order_time_window)
        await primed
        st.db = self.db
        st.engine = Engine(self.db, lookback_delta_ms=lookback_ms, max_samples=o.query_max_samples,
                           timeout_s=timeout_s)
        st.config_text = self._config_text
        self.manager = ScrapeManager(self.db, cfg)
        await self.manager.start()
        st.scrape_manager = self.manager
        self.notifier = Notifier(queue_capacity=o.notification_queue_capacity,
                                 drain_on_shutdown=o.drain_notifications)
        self.notifier.apply_config(cfg)
        await self.notifier.start()
        st.notifier = self.notifier
        self.rules = make_rule_manager(self.db, st.engine, self.notifier)
        await start_rules(self.rules, cfg, vars(o), self.external_url())
        st.rule_manager = self.rules
        st.metrics.registry.register(RuleCollector(lambda: st.rule_manager))
        st.metrics.mark_reload(True)
        freeze_startup_heap()
        st.ready = True
        st.metrics.ready.set(1)
        log.info("Server is ready to receive web requests. address=%s:%d", host, bound[1])

    def external_url(self) -> str:
        """``--web.external-url``, or the listen address as a URL."""
        if self.opts.external_url:
            return self.opts.external_url.rstrip("/")
        scheme = "https" if self.web_config is not None and self.web_config.ssl_context is not None else "http"
        return f"{scheme}://{self.address}"

    async def reload(self) -> None:
        """Reload the configuration; on error the running one stays and the error is raised."""
        if self.manager is None or self.state is None:
            return
        try:
            cfg, text = self._load_config()
            if self.db is not None:
                await asyncio.to_thread(self.db.set_out_of_order_window, cfg.storage.out_of_order_time_window)
            if self.rules is not None:  # first: a broken rule file fails the reload before anything changes
                await self.rules.update(cfg.rule_files, manager_options(cfg, vars(self.opts), self.external_url()))
            await self.manager.reload(cfg)
            if self.notifier is not None:
                self.notifier.apply_config(cfg)
        except (ConfigError, ReloadError, OSError) as e:
            self.state.metrics.mark_reload(False)
            log.error("error reloading config: %s", e)
            raise
        self._config_text = self.state.config_text = text
        self.state.metrics.mark_reload(True)
        log.info("completed loading of configuration file")

    async def stop(self) -> None:
        """Graceful shutdown (see module docstring, step 5). Idempotent."""
        if self.state is not None:
            self.state.ready = False
        if self.rules is not None:
            log.info("stopping rule manager")
            await self.rules.stop()
            self.rules = None
        if self.manager is not None:
            log.info("stopping scrape manager")
            await self.manager.stop()
            self.manager = None
        if self.notifier is not None:
            log.info("stopping notification manager")
            await self.notifier.stop()
            self.notifier = None
        if self.runner is not None:
            await self.runner.cleanup()  # also shuts the query pool down
            self.runner = None
        if self.db is not None:
            log.info("closing storage")
            await asyncio.to_thread(self.db.close)
            self.db = None
        log.info("see you next time!")

    def install_signal_handlers(self) -> None:
        """SIGTERM/SIGINT stop (after startup finishes, if it is under way); SIGHUP reloads."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(self._reload_logged()))

    async def run_until_signal(self) -> None:
        await self.stopping.wait()
        log.info("received a stop signal, exiting gracefully")

    async def _reload_logged(self) -> None:
        try:
            await self.reload()
        except Exception:  # noqa: BLE001 - already logged; a bad reload must not stop the server
            pass


async def _main(opts: ServeOptions) -> int:
    server = Server(opts)
    server.install_signal_handlers()
    try:
        await server.start()
        await server.run_until_signal()
    finally:
        await server.stop()
    return 0


def validate_options(opts: ServeOptions) -> None:
    """Check every flag and file before anything starts; raise ``ValueError``/``ConfigError``."""
    split_listen_address(opts.listen_address)
    parse_size(opts.retention_size)
    for flag, v in (("--storage.tsdb.retention.time", opts.retention_time),
                    ("--storage.tsdb.min-block-duration", opts.min_block_duration),
                    ("--query.timeout", opts.query_timeout), ("--query.lookback-delta", opts.lookback_delta),
                    ("--web.read-timeout", opts.read_timeout)):
        try:
            parse_prometheus_duration(v)
        except ValueError as e:
            raise ValueError(f"{flag}: {e}") from None
    if parse_prometheus_duration(opts.min_block_duration) <= 0:
        raise ValueError("--storage.tsdb.min-block-duration: must be positive")
    check_rule_flags(argparse.Namespace(**vars(opts)))
    if opts.config_file is not None:
        cfg = load_config_file(opts.config_file)
        load_rule_files(cfg.rule_files)  # RuleFileError (a ConfigError): every problem, before storage opens
        for sc in cfg.scrape_configs:  # unreadable TLS files stop the start, before storage opens
            try:
                build_ssl_context(sc.http.tls_config)
            except ScrapeError as e:
                raise ConfigError(f'{opts.config_file}: job "{sc.job_name}": {e}') from None
    if opts.web_config_file is not None:
        load_web_config(opts.web_config_file)


GIL_SWITCH_INTERVAL_S = 0.0005
"""Python's thread switch interval in the server (default 0.005): see :func:`serve_main`."""


def serve_main(args: argparse.Namespace) -> int:
    """Entry point of ``promlite serve`` (argparse namespace from :func:`add_serve_arguments`)."""
    level = getattr(args, "serve_log_level", None) or getattr(args, "log_level", "info")
    setup_logging(level, getattr(args, "log_format", "logfmt"))
    if getattr(args, "enable_remote_write", False):
        log.error("--web.enable-remote-write-receiver: the remote-write receiver is not implemented yet")
        return 2
    opts = ServeOptions.from_args(args)
    try:
        validate_options(opts)
    except (ValueError, ConfigError) as e:
        log.error("%s", e)
        return 2
    # Scrape ingestion releases the GIL many times per scrape (syscalls, compiled kernels, lock
    # waits); with Python's default 5 ms switch interval a query thread then keeps it for up to
    # 5 ms each time (the convoy effect), and scrapes fall behind under query load.
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    try:
        import uvloop  # type: ignore[import-not-found]

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    try:
        return runner(_main(opts))
    except (ReloadError, ConfigError) as e:
        # as Prometheus: a configuration that cannot be applied at startup stops it (a reload keeps the old one)
        log.error("Error loading config (--config.file=%s): %s", opts.config_file or "prometheus.yml", e)
        return 1
    except OSError as e:
        log.error("cannot start: %s", e)
        return 1
    except tsdb.TSDBError as e:
        log.error("cannot open storage: %s", e)
        return 1
