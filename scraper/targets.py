"""Targets: from discovered label sets to what a scrape loop scrapes.

A *target group* is what discovery yields: a list of per-target label sets
(each at least ``__address__``) plus labels shared by the group. For every
target, :func:`populate_labels` does what Prometheus's ``PopulateLabels``
does:

1. add the job's defaults where the target has no value: ``job``,
   ``__scrape_interval__``, ``__scrape_timeout__``, ``__metrics_path__``,
   ``__scheme__``, then ``__param_<name>`` for the first value of each
   ``params`` entry (params always win);
2. apply ``relabel_configs`` (the *discovered labels* are the set before
   this step, kept for ``/api/v1/targets``); a dropped target is reported as
   dropped, not as an error;
3. require ``__address__`` (no ``/`` in it), parse ``__scrape_interval__``
   and ``__scrape_timeout__`` (non-zero, timeout <= interval), delete every
   ``__meta_*`` label, and default ``instance`` to ``__address__``. As in
   Prometheus 3, no default port is appended to the address.

The resulting :class:`Target` keeps all labels (the ``__`` ones build the
URL); :meth:`Target.public_labels` -- the labels without the ``__`` prefix,
``__tmp*`` included -- are the labels attached to every scraped series.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from .config import ScrapeConfig, StaticConfig
from .durations import format_duration, parse_duration
from .relabel import process

Labels = tuple[tuple[str, str], ...]

ADDRESS = "__address__"
SCHEME = "__scheme__"
METRICS_PATH = "__metrics_path__"
SCRAPE_INTERVAL = "__scrape_interval__"
SCRAPE_TIMEOUT = "__scrape_timeout__"
PARAM_PREFIX = "__param_"
META_PREFIX = "__meta_"
RESERVED_PREFIX = "__"


@dataclass(frozen=True)
class TargetGroup:
    """Targets found together: ``targets[i]`` are target i's own labels, ``labels`` the shared ones."""

    source: str
    targets: tuple[Labels, ...]
    labels: Labels = ()


@dataclass(frozen=True)
class Target:
    """One endpoint to scrape, with its labels after relabeling. Immutable; identity is ``hash``."""

    job: str
    labels: Labels
    discovered_labels: Labels
    params: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def get(self, name: str, default: str = "") -> str:
        for n, v in self.labels:
            if n == name:
                return v
        return default

    def public_labels(self) -> Labels:
        """Labels attached to scraped series: those not starting with ``__``."""
        return tuple((n, v) for n, v in self.labels if not n.startswith(RESERVED_PREFIX))

    @property
    def interval_ms(self) -> int:
        return parse_duration(self.get(SCRAPE_INTERVAL))

    @property
    def timeout_ms(self) -> int:
        return parse_duration(self.get(SCRAPE_TIMEOUT))

    @property
    def url(self) -> str:
        """``scheme://address/path?params``; ``__param_x`` labels override the config's first value of x."""
        params = {k: list(vs) for k, vs in self.params}
        for n, v in self.labels:
            if n.startswith(PARAM_PREFIX):
                key = n[len(PARAM_PREFIX):]
                if params.get(key):
                    params[key][0] = v
                else:
                    params[key] = [v]
        path = self.get(METRICS_PATH)
        if path and not path.startswith("/"):
            path = "/" + path
        query = urlencode([(k, v) for k in sorted(params) for v in params[k]])
        url = f"{self.get(SCHEME)}://{self.get(ADDRESS)}{quote(path, safe='/:@!$&()*+,;=-._~')}"
        return f"{url}?{query}" if query else url

    @property
    def hash(self) -> int:
        """Stable 64-bit identity of labels + URL (Prometheus's ``Target.hash`` idea, FNV-1a)."""
        data = "\xff".join(f"{n}\xfe{v}" for n, v in self.labels) + "\xff" + self.url
        return fnv1a64(data.encode("utf-8", "surrogatepass"))


def fnv1a64(data: bytes) -> int:
    """64-bit FNV-1a, as Go's ``hash/fnv.New64a``."""
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def offset_seed(external_labels: Labels) -> int:
    """Per-server seed that shifts every target's scrape phase (Prometheus: hostname + external labels)."""
    text = socket.gethostname() + "{" + ", ".join(f'{n}="{v}"' for n, v in external_labels) + "}"
    return fnv1a64(text.encode("utf-8"))


def static_groups(job: str, statics: Iterable[StaticConfig]) -> list[TargetGroup]:
    """``static_configs`` as target groups (source ``"0"``, ``"1"``, ... like Prometheus)."""
    return [
        TargetGroup(source=str(i), targets=tuple(((ADDRESS, t),) for t in sc.targets), labels=sc.labels)
        for i, sc in enumerate(statics)
    ]


class TargetError(ValueError):
    """A discovered target cannot be scraped (no address, bad interval, ...)."""


def populate_labels(lset: Mapping[str, str], cfg: ScrapeConfig) -> tuple[dict[str, str] | None, dict[str, str]]:
    """Return ``(labels after relabeling or None if dropped, labels before relabeling)``.

    Raises :class:`TargetError` for a target that is kept but cannot be scraped.
    """
    lb = {k: v for k, v in lset.items() if v != ""}
    for name, value in (
        ("job", cfg.job_name),
        (SCRAPE_INTERVAL, format_duration(cfg.scrape_interval)),
        (SCRAPE_TIMEOUT, format_duration(cfg.scrape_timeout)),
        (METRICS_PATH, cfg.metrics_path),
        (SCHEME, cfg.scheme),
    ):
        if not lb.get(name):
            if value:
                lb[name] = value
    for k, vs in cfg.params:
        if vs and vs[0]:
            lb[PARAM_PREFIX + k] = vs[0]
    pre = dict(sorted(lb.items()))
    res = process(pre, cfg.relabel_configs)
    if res is None:
        return None, pre
    addr = res.get(ADDRESS, "")
    if not addr:
        raise TargetError("no address")
    if "/" in addr:
        raise TargetError(f'"{addr}" is not a valid hostname')
    interval = res.get(SCRAPE_INTERVAL, "")
    try:
        iv = parse_duration(interval)
    except ValueError as e:
        raise TargetError(f"error parsing scrape interval: {e}") from None
    if iv == 0:
        raise TargetError("scrape interval cannot be 0")
    timeout = res.get(SCRAPE_TIMEOUT, "")
    try:
        to = parse_duration(timeout)
    except ValueError as e:
        raise TargetError(f"error parsing scrape timeout: {e}") from None
    if to == 0:
        raise TargetError("scrape timeout cannot be 0")
    if to > iv:
        raise TargetError(f'scrape timeout cannot be greater than scrape interval ("{timeout}" > "{interval}")')
    if res.get(SCHEME) not in ("http", "https"):
        raise TargetError(f'invalid scheme: "{res.get(SCHEME, "")}"')
    out = {k: v for k, v in res.items() if not k.startswith(META_PREFIX)}
    if not out.get("instance"):
        out["instance"] = addr
    for k, v in out.items():
        try:
            v.encode("utf-8")
        except UnicodeEncodeError:
            raise TargetError(f'invalid label value for "{k}": {v!r}') from None
    return dict(sorted(out.items())), pre


@dataclass(frozen=True)
class GroupResult:
    """What :func:`targets_from_group` found: active targets, dropped label sets, errors."""

    active: tuple[Target, ...]
    dropped: tuple[Labels, ...]
    errors: tuple[str, ...]


def targets_from_group(group: TargetGroup, cfg: ScrapeConfig) -> GroupResult:
    """Build the targets of one group (Prometheus ``TargetsFromGroup``)."""
    active, dropped, errors = [], [], []
    shared = dict(group.labels)
    for i, own in enumerate(group.targets):
        lset = dict(shared)
        lset.update(own)  # a target's own labels win over the group's
        try:
            res, pre = populate_labels(lset, cfg)
        except TargetError as e:
            errors.append(f"instance {i} in group {group.source}: {e}")
            continue
        if res is None:
            dropped.append(tuple(pre.items()))
        else:
            active.append(Target(job=cfg.job_name, labels=tuple(res.items()),
                                 discovered_labels=tuple(pre.items()), params=cfg.params))
    return GroupResult(tuple(active), tuple(dropped), tuple(errors))
