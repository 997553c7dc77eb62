"""Configuration: the supported subset of ``prometheus.yml``, loaded and validated.

Strategy: YAML is read into plain values with line numbers (``_yaml``), then
each section is checked by a pure function that returns frozen dataclasses.
The first problem raises :class:`ConfigError` naming the file, the line and
the key (``prometheus.yml:14: scrape_configs[1].scrape_timeout: scrape timeout
greater than scrape interval for scrape config with job name "api"``).
Because everything is frozen and compared by value, a reload can tell which
jobs changed with ``==``.

What is supported and how defaults are filled follows Prometheus's
``config/config.go``: global ``scrape_interval`` 1m and ``scrape_timeout``
10s (capped at the interval), per job ``metrics_path /metrics``, ``scheme
http``, ``honor_timestamps true``, ``enable_compression true``, limits
inherited from ``global``, timeout > interval and duplicate job names
rejected. Keys that Prometheus knows but promlite does not implement are an
error that says so; unknown keys are an error (``UnmarshalStrict``). The
list is in ``docs/config.md``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

from . import _fields as F
from ._yaml import ConfigError, Doc, Path, PathError, load_yaml
from .config_http import (
    HTTP_KEYS,
    UNSUPPORTED_HTTP_KEYS,
    HTTPClientConfig,
    parse_http_client_config,
)
from .relabel import RelabelConfig, RelabelConfigError, parse_relabel_config

__all__ = [
    "AlertingConfig", "AlertmanagerConfig",
    "Config", "ConfigError", "FileSDConfig", "GlobalConfig", "ScrapeConfig", "StaticConfig", "StorageConfig",
    "load_config", "load_config_file", "SCRAPE_PROTOCOLS", "DEFAULT_SCRAPE_PROTOCOLS",
]

# Media types of the protocols promlite can parse (config.ScrapeProtocolsHeaders).
SCRAPE_PROTOCOLS = {
    "OpenMetricsText1.0.0": "application/openmetrics-text;version=1.0.0",
    "OpenMetricsText0.0.1": "application/openmetrics-text;version=0.0.1",
    "PrometheusText0.0.4": "text/plain;version=0.0.4",
}
# Prometheus also knows these; promlite has no parser for them.
_UNPARSABLE_PROTOCOLS = ("PrometheusProto", "PrometheusText1.0.0")
DEFAULT_SCRAPE_PROTOCOLS = ("OpenMetricsText1.0.0", "OpenMetricsText0.0.1", "PrometheusText0.0.4")

_TOP_KEYS = ("global", "scrape_configs", "storage", "rule_files", "alerting")
_TOP_UNSUPPORTED = ("remote_write", "remote_read", "tracing",
                    "scrape_config_files", "otlp", "runtime")
_GLOBAL_KEYS = ("scrape_interval", "scrape_timeout", "evaluation_interval", "external_labels",
                "body_size_limit", "sample_limit", "label_limit", "label_name_length_limit",
                "label_value_length_limit", "scrape_protocols", "rule_query_offset")
_GLOBAL_UNSUPPORTED = ("query_log_file", "scrape_failure_log_file", "target_limit",
                       "keep_dropped_targets", "metric_name_validation_scheme", "metric_name_escaping_scheme",
                       "scrape_native_histograms", "convert_classic_histograms_to_nhcb",
                       "always_scrape_classic_histograms", "extra_scrape_metrics")
_SCRAPE_KEYS = ("job_name", "scrape_interval", "scrape_timeout", "metrics_path", "scheme", "params",
                "honor_labels", "honor_timestamps", "track_timestamps_staleness", "sample_limit",
                "label_limit", "label_name_length_limit", "label_value_length_limit", "body_size_limit",
                "scrape_protocols", "fallback_scrape_protocol", "enable_compression", "static_configs",
                "file_sd_configs", "relabel_configs", "metric_relabel_configs", *HTTP_KEYS)
_SCRAPE_UNSUPPORTED = (*UNSUPPORTED_HTTP_KEYS, "target_limit", "keep_dropped_targets",
                       "native_histogram_bucket_limit", "native_histogram_min_bucket_factor",
                       "scrape_native_histograms", "always_scrape_classic_histograms",
                       "convert_classic_histograms_to_nhcb", "scrape_failure_log_file",
                       "metric_name_validation_scheme", "metric_name_escaping_scheme", "extra_scrape_metrics",
                       "scrape_classic_histograms",
                       *(f"{sd}_sd_configs" for sd in (
                           "azure", "consul", "digitalocean", "docker", "dockerswarm", "dns", "ec2", "eureka",
                           "gce", "hetzner", "http", "ionos", "kubernetes", "kuma", "lightsail", "linode",
                           "marathon", "nerve", "nomad", "openstack", "ovhcloud", "puppetdb", "scaleway",
                           "serverset", "triton", "uyuni", "vultr", "stackit")))


@dataclass(frozen=True)
class GlobalConfig:
    """``global:``. Durations in ms, sizes in bytes; ``scrape_protocols`` None = job default."""

    scrape_interval: int = 60_000
    scrape_timeout: int = 10_000
    evaluation_interval: int = 60_000
    external_labels: tuple[tuple[str, str], ...] = ()
    body_size_limit: int = 0
    sample_limit: int = 0
    label_limit: int = 0
    label_name_length_limit: int = 0
    label_value_length_limit: int = 0
    scrape_protocols: tuple[str, ...] | None = None
    #: ``rule_query_offset``: rule groups without their own ``query_offset`` evaluate this far back (ms)
    rule_query_offset: int = 0


@dataclass(frozen=True)
class StorageConfig:
    """``storage:``; only ``tsdb.out_of_order_time_window`` (ms) so far. Applied on start and on reload."""

    out_of_order_time_window: int = 0


@dataclass(frozen=True)
class StaticConfig:
    """One ``static_configs`` entry: addresses plus labels shared by them."""

    targets: tuple[str, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class FileSDConfig:
    """One ``file_sd_configs`` entry: glob patterns (absolute) of JSON/YAML target files."""

    files: tuple[str, ...] = ()
    refresh_interval: int = 300_000


@dataclass(frozen=True)
class ScrapeConfig:
    """One ``scrape_configs`` entry with every default filled in (durations in ms)."""

    job_name: str
    scrape_interval: int = 60_000
    scrape_timeout: int = 10_000
    metrics_path: str = "/metrics"
    scheme: str = "http"
    params: tuple[tuple[str, tuple[str, ...]], ...] = ()
    honor_labels: bool = False
    honor_timestamps: bool = True
    track_timestamps_staleness: bool = False
    sample_limit: int = 0
    label_limit: int = 0
    label_name_length_limit: int = 0
    label_value_length_limit: int = 0
    body_size_limit: int = 0
    scrape_protocols: tuple[str, ...] = DEFAULT_SCRAPE_PROTOCOLS
    fallback_scrape_protocol: str = ""
    enable_compression: bool = True
    http: HTTPClientConfig = field(default_factory=HTTPClientConfig)
    static_configs: tuple[StaticConfig, ...] = ()
    file_sd_configs: tuple[FileSDConfig, ...] = ()
    relabel_configs: tuple[RelabelConfig, ...] = ()
    metric_relabel_configs: tuple[RelabelConfig, ...] = ()


@dataclass(frozen=True)
class AlertmanagerConfig:
    """One ``alerting.alertmanagers`` entry (Prometheus's ``AlertmanagerConfig``); ``timeout`` in ms."""

    scheme: str = "http"
    path_prefix: str = ""
    timeout: int = 10_000
    api_version: str = "v2"
    http: HTTPClientConfig = field(default_factory=HTTPClientConfig)
    static_configs: tuple[StaticConfig, ...] = ()
    file_sd_configs: tuple[FileSDConfig, ...] = ()
    #: applied to the discovered Alertmanagers (``__address__``, ``__scheme__``, ``__alerts_path__``)
    relabel_configs: tuple[RelabelConfig, ...] = ()
    #: applied to the alerts sent to these Alertmanagers only, after the global ``alert_relabel_configs``
    alert_relabel_configs: tuple[RelabelConfig, ...] = ()


@dataclass(frozen=True)
class AlertingConfig:
    """``alerting:``: alert relabeling for every Alertmanager, and where the Alertmanagers are."""

    alert_relabel_configs: tuple[RelabelConfig, ...] = ()
    alertmanagers: tuple[AlertmanagerConfig, ...] = ()


@dataclass(frozen=True)
class Config:
    """A whole configuration file."""

    global_config: GlobalConfig = field(default_factory=GlobalConfig)
    scrape_configs: tuple[ScrapeConfig, ...] = ()
    storage: StorageConfig = field(default_factory=StorageConfig)
    source: str = "<config>"
    #: ``rule_files``: glob patterns, made absolute against the config file's directory
    rule_files: tuple[str, ...] = ()
    alerting: AlertingConfig = field(default_factory=AlertingConfig)

    def job(self, name: str) -> ScrapeConfig | None:
        for sc in self.scrape_configs:
            if sc.job_name == name:
                return sc
        return None


def load_config_file(path: str) -> Config:
    """Load ``path``; relative file names inside resolve against its directory."""
    try:
        with open(path, "rb") as f:
            text = f.read()
    except OSError as e:
        raise ConfigError(f"cannot read config file: {e.strerror}", source=path) from None
    return load_config(text, source=path, base_dir=os.path.dirname(os.path.abspath(path)))


def load_config(text: str | bytes, *, source: str = "<config>", base_dir: str | None = None) -> Config:
    """Parse and validate a ``prometheus.yml``; raise :class:`ConfigError` on the first problem."""
    doc = load_yaml(text, source)
    try:
        return _parse(doc, base_dir or os.getcwd())
    except PathError as e:
        raise doc.error(e) from None


def _parse(doc: Doc, base_dir: str) -> Config:
    top = F.mapping((), doc.value, allowed=_TOP_KEYS, unsupported=_TOP_UNSUPPORTED, what="the configuration")
    g = _parse_global(doc, top.get("global"))
    raw_jobs = top.get("scrape_configs")
    if raw_jobs is not None and not isinstance(raw_jobs, list):
        raise PathError(("scrape_configs",), "scrape_configs must be a list")
    jobs: list[ScrapeConfig] = []
    seen: dict[str, int] = {}
    for i, rj in enumerate(raw_jobs or ()):
        sc = _parse_scrape_config(doc, ("scrape_configs", i), rj, g, base_dir)
        if sc.job_name in seen:
            raise PathError(("scrape_configs", i, "job_name"),
                            f'found multiple scrape configs with job name "{sc.job_name}" '
                            f"(first at line {doc.line(('scrape_configs', seen[sc.job_name]))})")
        seen[sc.job_name] = i
        jobs.append(sc)
    return Config(global_config=g, scrape_configs=tuple(jobs), storage=_parse_storage(top.get("storage")),
                  source=doc.source, rule_files=_rule_files(top.get("rule_files"), base_dir),
                  alerting=_parse_alerting(doc, top.get("alerting"), base_dir))


def _rule_files(v: Any, base_dir: str) -> tuple[str, ...]:
    """``rule_files``: glob patterns (Go's ``filepath.Match`` syntax, checked here as Prometheus checks it)."""
    out = []
    for i, pat in enumerate(F.string_list(("rule_files",), v) if v is not None else ()):
        if not pat:
            raise PathError(("rule_files", i), "empty rule file pattern")
        if re.search(r"\[[^\]]*$", pat):
            raise PathError(("rule_files", i), f'invalid rule file path "{pat}": syntax error in pattern')
        out.append(pat if os.path.isabs(pat) else os.path.join(base_dir, pat))
    return tuple(out)


_ALERTING_KEYS = ("alert_relabel_configs", "alertmanagers")
_AM_KEYS = ("scheme", "path_prefix", "timeout", "api_version", "static_configs", "file_sd_configs",
            "relabel_configs", "alert_relabel_configs", *HTTP_KEYS)
_AM_UNSUPPORTED = (*UNSUPPORTED_HTTP_KEYS, "sigv4",
                   *(k for k in _SCRAPE_UNSUPPORTED if k.endswith("_sd_configs")))
_AM_API_VERSIONS = ("v2",)


def _parse_alerting(doc: Doc, v: Any, base_dir: str) -> AlertingConfig:
    """``alerting:`` as Prometheus's ``AlertingConfig`` / ``AlertmanagerConfig`` read it."""
    p: Path = ("alerting",)
    m = F.mapping(p, v, allowed=_ALERTING_KEYS, what="alerting")
    relabel = _alert_relabel_list(doc, (*p, "alert_relabel_configs"), m.get("alert_relabel_configs"),
                                  "empty or null alert relabeling rule")
    raw_ams = m.get("alertmanagers")
    if raw_ams is not None and not isinstance(raw_ams, list):
        raise PathError((*p, "alertmanagers"), "alertmanagers must be a list")
    ams = tuple(_parse_alertmanager(doc, (*p, "alertmanagers", i), am, base_dir)
                for i, am in enumerate(raw_ams or ()))
    return AlertingConfig(alert_relabel_configs=relabel, alertmanagers=ams)


def _alert_relabel_list(doc: Doc, p: Path, v: Any, null_message: str) -> tuple[RelabelConfig, ...]:
    if isinstance(v, list):
        for i, item in enumerate(v):
            if item is None:
                raise PathError((*p, i), null_message)
    return _relabel_list(doc, p, v, "alert")


def _parse_alertmanager(doc: Doc, p: Path, v: Any, base_dir: str) -> AlertmanagerConfig:
    m = F.mapping(p, v, allowed=_AM_KEYS, unsupported=_AM_UNSUPPORTED, what="alertmanager config")
    raw = doc.raw
    scheme = F.string((*p, "scheme"), m.get("scheme", "http"), raw=raw)
    if scheme not in ("http", "https"):
        raise PathError((*p, "scheme"), f"unknown scheme {scheme!r}, must be http or https")
    api = F.string((*p, "api_version"), m.get("api_version", "v2"), raw=raw) or "v2"
    if api == "v1":
        raise PathError((*p, "api_version"), "alertmanager api v1 is no longer supported")
    if api not in _AM_API_VERSIONS:
        raise PathError((*p, "api_version"), f"expected Alertmanager api version to be one of "
                                             f"[{' '.join(_AM_API_VERSIONS)}] but got {api}")
    timeout = F.duration((*p, "timeout"), m["timeout"]) if "timeout" in m else AlertmanagerConfig.timeout
    relabel = _alert_relabel_list(doc, (*p, "relabel_configs"), m.get("relabel_configs"),
                                  "empty or null Alertmanager target relabeling rule")
    statics = _static_configs((*p, "static_configs"), m.get("static_configs"), raw)
    if not relabel:  # Prometheus's checkStaticTargets: a URL in a target is a mistake
        for i, sc in enumerate(statics):
            for j, t in enumerate(sc.targets):
                if "/" in t:
                    raise PathError((*p, "static_configs", i, "targets", j), f'"{t}" is not a valid hostname')
    return AlertmanagerConfig(
        scheme=scheme, path_prefix=F.string((*p, "path_prefix"), m.get("path_prefix"), raw=raw),
        timeout=timeout, api_version=api, http=parse_http_client_config(p, m, raw, base_dir),
        static_configs=statics,
        file_sd_configs=_file_sd_configs((*p, "file_sd_configs"), m.get("file_sd_configs"), raw, base_dir),
        relabel_configs=relabel,
        alert_relabel_configs=_alert_relabel_list(doc, (*p, "alert_relabel_configs"),
                                                  m.get("alert_relabel_configs"),
                                                  "empty or null alert relabeling rule"),
    )


def _parse_storage(v: Any) -> StorageConfig:
    p: Path = ("storage",)
    m = F.mapping(p, v, allowed=("tsdb",), unsupported=("exemplars",), what="storage")
    tsdb_m = F.mapping((*p, "tsdb"), m.get("tsdb"), allowed=("out_of_order_time_window",), what="storage.tsdb")
    key = (*p, "tsdb", "out_of_order_time_window")
    window = F.duration(key, tsdb_m["out_of_order_time_window"]) if "out_of_order_time_window" in tsdb_m else 0
    return StorageConfig(out_of_order_time_window=window)


def _protocols(path: Path, v: Any) -> tuple[str, ...]:
    protos = F.string_list(path, v)
    if not protos:
        raise PathError(path, "scrape_protocols cannot be empty")
    seen = set()
    for i, p in enumerate(protos):
        if p in _UNPARSABLE_PROTOCOLS:
            raise PathError((*path, i), f"scrape protocol {p} is not supported by promlite "
                                        f"(supported: {', '.join(sorted(SCRAPE_PROTOCOLS))})")
        if p not in SCRAPE_PROTOCOLS:
            raise PathError((*path, i), f"unknown scrape protocol {p}, supported: "
                                        f"[{' '.join(sorted((*SCRAPE_PROTOCOLS, *_UNPARSABLE_PROTOCOLS)))}]")
        if p.lower() in seen:
            raise PathError((*path, i), f"duplicated protocol in scrape_protocols, got [{' '.join(protos)}]")
        seen.add(p.lower())
    return protos


def _parse_global(doc: Doc, v: Any) -> GlobalConfig:
    p: Path = ("global",)
    m = F.mapping(p, v, allowed=_GLOBAL_KEYS, unsupported=_GLOBAL_UNSUPPORTED, what="global")
    interval = F.duration((*p, "scrape_interval"), m["scrape_interval"]) if "scrape_interval" in m else 0
    interval = interval or GlobalConfig.scrape_interval
    timeout = F.duration((*p, "scrape_timeout"), m["scrape_timeout"]) if "scrape_timeout" in m else 0
    if timeout > interval:
        raise PathError((*p, "scrape_timeout"), "global scrape timeout greater than scrape interval")
    timeout = timeout or min(GlobalConfig.scrape_timeout, interval)
    ev = F.duration((*p, "evaluation_interval"), m["evaluation_interval"]) if "evaluation_interval" in m else 0
    protos = _protocols((*p, "scrape_protocols"), m["scrape_protocols"]) if "scrape_protocols" in m else None
    return GlobalConfig(
        scrape_interval=interval, scrape_timeout=timeout,
        evaluation_interval=ev or GlobalConfig.evaluation_interval,
        external_labels=F.label_set((*p, "external_labels"), m.get("external_labels")),
        rule_query_offset=F.duration((*p, "rule_query_offset"), m["rule_query_offset"])
        if "rule_query_offset" in m else 0,
        body_size_limit=F.byte_size((*p, "body_size_limit"), m.get("body_size_limit", 0)),
        sample_limit=F.uint((*p, "sample_limit"), m.get("sample_limit", 0)),
        label_limit=F.uint((*p, "label_limit"), m.get("label_limit", 0)),
        label_name_length_limit=F.uint((*p, "label_name_length_limit"), m.get("label_name_length_limit", 0)),
        label_value_length_limit=F.uint((*p, "label_value_length_limit"), m.get("label_value_length_limit", 0)),
        scrape_protocols=protos,
    )


def _parse_scrape_config(doc: Doc, p: Path, v: Any, g: GlobalConfig, base_dir: str) -> ScrapeConfig:
    if v is None:
        raise PathError(p, "empty or null scrape config section")
    m = F.mapping(p, v, allowed=_SCRAPE_KEYS, unsupported=_SCRAPE_UNSUPPORTED, what="scrape config")
    raw = doc.raw
    job = F.string((*p, "job_name"), m.get("job_name"), raw=raw)
    if not job:
        raise PathError((*p, "job_name") if "job_name" in m else p, "job_name is empty")
    interval = F.duration((*p, "scrape_interval"), m["scrape_interval"]) if "scrape_interval" in m else 0
    interval = interval or g.scrape_interval
    timeout = F.duration((*p, "scrape_timeout"), m["scrape_timeout"]) if "scrape_timeout" in m else 0
    if timeout > interval:
        raise PathError((*p, "scrape_timeout") if "scrape_timeout" in m else (*p, "scrape_interval"),
                        f'scrape timeout greater than scrape interval for scrape config with job name "{job}"')
    timeout = timeout or min(g.scrape_timeout, interval)
    scheme = F.string((*p, "scheme"), m.get("scheme", "http"), raw=raw)
    if scheme not in ("http", "https"):
        raise PathError((*p, "scheme"), f"unknown scheme {scheme!r}, must be http or https")
    metrics_path = F.string((*p, "metrics_path"), m.get("metrics_path", "/metrics"), raw=raw)
    protos = (_protocols((*p, "scrape_protocols"), m["scrape_protocols"]) if "scrape_protocols" in m
              else g.scrape_protocols or DEFAULT_SCRAPE_PROTOCOLS)
    fallback = F.string((*p, "fallback_scrape_protocol"), m.get("fallback_scrape_protocol"), raw=raw)
    if fallback:
        _protocols((*p, "fallback_scrape_protocol"), [fallback])

    def limit(key: str, default: int) -> int:
        return F.uint((*p, key), m[key]) or default if key in m else default

    relabel = _relabel_list(doc, (*p, "relabel_configs"), m.get("relabel_configs"), "target")
    statics = _static_configs((*p, "static_configs"), m.get("static_configs"), raw)
    if not relabel:
        for i, sc in enumerate(statics):
            for j, t in enumerate(sc.targets):
                if "/" in t:
                    raise PathError((*p, "static_configs", i, "targets", j), f'"{t}" is not a valid hostname')
    return ScrapeConfig(
        job_name=job, scrape_interval=interval, scrape_timeout=timeout, metrics_path=metrics_path,
        scheme=scheme, params=_params((*p, "params"), m.get("params"), raw),
        honor_labels=F.boolean((*p, "honor_labels"), m.get("honor_labels", False)),
        honor_timestamps=F.boolean((*p, "honor_timestamps"), m.get("honor_timestamps", True)),
        track_timestamps_staleness=F.boolean((*p, "track_timestamps_staleness"),
                                             m.get("track_timestamps_staleness", False)),
        sample_limit=limit("sample_limit", g.sample_limit),
        label_limit=limit("label_limit", g.label_limit),
        label_name_length_limit=limit("label_name_length_limit", g.label_name_length_limit),
        label_value_length_limit=limit("label_value_length_limit", g.label_value_length_limit),
        body_size_limit=(F.byte_size((*p, "body_size_limit"), m["body_size_limit"]) if "body_size_limit" in m
                         else 0) or g.body_size_limit,
        scrape_protocols=protos, fallback_scrape_protocol=fallback,
        enable_compression=F.boolean((*p, "enable_compression"), m.get("enable_compression", True)),
        http=parse_http_client_config(p, m, raw, base_dir),
        static_configs=statics,
        file_sd_configs=_file_sd_configs((*p, "file_sd_configs"), m.get("file_sd_configs"), raw, base_dir),
        relabel_configs=relabel,
        metric_relabel_configs=_relabel_list(doc, (*p, "metric_relabel_configs"),
                                             m.get("metric_relabel_configs"), "metric"),
    )


def _params(p: Path, v: Any, raw: dict) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if v is None:
        return ()
    if not isinstance(v, dict):
        raise PathError(p, "params must be a mapping of names to lists of values")
    out = []
    for k, vals in v.items():
        if not isinstance(vals, list):
            raise PathError((*p, str(k)), f"params.{k} must be a list of strings")
        out.append((str(k), tuple(F.string((*p, str(k), i), x, raw=raw) for i, x in enumerate(vals))))
    return tuple(sorted(out))


def _relabel_list(doc: Doc, p: Path, v: Any, kind: str) -> tuple[RelabelConfig, ...]:
    if v is None:
        return ()
    if not isinstance(v, list):
        raise PathError(p, f"{p[-1]} must be a list")
    out = []
    for i, item in enumerate(v):
        ip = (*p, i)
        if item is None:
            raise PathError(ip, f"empty or null {kind} relabeling rule in scrape config")
        if isinstance(item, dict):  # keep YAML's spelling of non-string scalars ("010", "1e3")
            item = {k: doc.raw.get((*ip, k), x) if isinstance(x, int | float | bool) and k != "modulus" else x
                    for k, x in item.items()}
        try:
            out.append(parse_relabel_config(item))
        except RelabelConfigError as e:
            raise PathError((*ip, e.key) if e.key else ip, str(e)) from None
    return tuple(out)


def _static_configs(p: Path, v: Any, raw: dict) -> tuple[StaticConfig, ...]:
    if v is None:
        return ()
    if not isinstance(v, list):
        raise PathError(p, "static_configs must be a list")
    out = []
    for i, item in enumerate(v):
        m = F.mapping((*p, i), item, allowed=("targets", "labels"), what="static config")
        targets = tuple(F.string((*p, i, "targets", j), t, raw=raw)
                        for j, t in enumerate(_list((*p, i, "targets"), m.get("targets"))))
        out.append(StaticConfig(targets=targets, labels=F.label_set((*p, i, "labels"), m.get("labels"))))
    return tuple(out)


def _file_sd_configs(p: Path, v: Any, raw: dict, base_dir: str) -> tuple[FileSDConfig, ...]:
    if v is None:
        return ()
    if not isinstance(v, list):
        raise PathError(p, "file_sd_configs must be a list")
    out = []
    for i, item in enumerate(v):
        m = F.mapping((*p, i), item, allowed=("files", "refresh_interval"), what="file_sd_config")
        files = F.string_list((*p, i, "files"), m.get("files"))
        if not files:
            raise PathError((*p, i, "files"), "file service discovery config must contain at least one path name")
        for j, f in enumerate(files):
            if not f.endswith((".json", ".yml", ".yaml")):
                raise PathError((*p, i, "files", j), f'path name "{f}" is not valid for file discovery')
        refresh = (F.duration((*p, i, "refresh_interval"), m["refresh_interval"])
                   if "refresh_interval" in m else FileSDConfig.refresh_interval)
        out.append(FileSDConfig(files=tuple(f if os.path.isabs(f) else os.path.join(base_dir, f) for f in files),
                                refresh_interval=refresh))
    return tuple(out)


def _list(p: Path, v: Any) -> list:
    if v is None:
        return []
    if not isinstance(v, list):
        raise PathError(p, "expected a list")
    return v
