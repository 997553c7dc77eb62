"""Recording and alerting rules: what one evaluation at time ``ts`` produces, and the alert state machine.

Semantics are Prometheus 3's (``rules/recording.go``, ``rules/alerting.go``):

* A **recording rule** queries its expression at ``ts - query_offset`` and
  writes the result under its name, the rule's labels overriding the result's.
  A scalar result is one sample without labels. Two results with the same
  label set after relabelling, or more series than the group's ``limit``, fail
  the rule (nothing is written).
* An **alerting rule** queries at ``ts - query_offset``; each result is an
  alert instance keyed by its final label set (the result's labels without
  ``__name__``, the rule's labels expanded as templates, ``alertname``). A new
  instance is *pending* from ``ts``; it *fires* once it has been active for
  ``for``; one that disappears is deleted if pending, otherwise it stays
  firing for ``keep_firing_for`` and then becomes *inactive* (resolved) and is
  kept 15 minutes so that its resolution is sent again if a send was lost.
  Active instances are written as ``ALERTS{alertstate=...} 1`` and
  ``ALERTS_FOR_STATE <active since, unix seconds>`` at ``ts - query_offset``,
  but only once the rule's state was restored after a start (see
  :mod:`.group`). More active instances than ``limit`` clear the rule's state
  and fail it.

Everything here is synchronous and pure apart from the ``query`` and
``expand`` callbacks, so promtool-style unit tests drive it with a fake clock.
"""

from __future__ import annotations

import enum
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import quote_plus

from query.ast import VectorSelector, walk
from query.parser import parse_expr

from .rulefile import RuleSpec

log = logging.getLogger("rules")

Labels = tuple[tuple[str, str], ...]
QuerySample = tuple[Labels, float]
QueryFunc = Callable[[str, int], list[QuerySample]]
"""``query(expr, t_ms)``: an instant vector as (labels, value) pairs; raises on error."""
ExpandFunc = Callable[[str, str, dict], str]
"""``expand(template_name, text, data)``: a template expanded with ``data`` (see :mod:`.template`)."""

RESOLVED_RETENTION_MS = 15 * 60_000
ALERTS = "ALERTS"
ALERTS_FOR_STATE = "ALERTS_FOR_STATE"


class RuleError(Exception):
    """A rule's evaluation failed: shown as its ``lastError`` and counted; the group goes on."""


class AlertState(enum.IntEnum):
    INACTIVE = 0
    PENDING = 1
    FIRING = 2

    def __str__(self) -> str:
        return self.name.lower()


class Health(enum.Enum):
    UNKNOWN = "unknown"
    OK = "ok"
    ERR = "err"


@dataclass
class Alert:
    """One instance of an alerting rule (times in ms; 0 = never)."""

    labels: Labels
    annotations: Labels
    value: float
    active_at: int
    state: AlertState = AlertState.PENDING
    fired_at: int = 0
    resolved_at: int = 0
    last_sent_at: int = 0
    valid_until: int = 0
    keep_firing_since: int = 0

    def needs_sending(self, ts: int, resend_delay_ms: int) -> bool:
        """Prometheus's ``needsSending``: firing alerts every resend delay, a resolution at once."""
        if self.state == AlertState.PENDING:
            return False
        if self.resolved_at > self.last_sent_at:
            return True
        return self.last_sent_at + resend_delay_ms < ts


def _sorted(d: dict[str, str]) -> Labels:
    return tuple(sorted(d.items()))


def metric_dependencies(expr: str) -> frozenset[str] | None:
    """The metric names ``expr`` selects, or None when a selector may match any name."""
    names: set[str] = set()
    for node in walk(parse_expr(expr)):
        if isinstance(node, VectorSelector):
            eq = [m.value for m in node.matchers if m.name == "__name__" and m.type.value == "="]
            if not eq:
                return None
            names.add(eq[0])
    return frozenset(names)


@dataclass
class _RuleState:
    health: Health = Health.UNKNOWN
    last_error: str = ""
    last_evaluation_ms: int = 0  # wall clock of the last evaluation
    evaluation_seconds: float = 0.0


class Rule:
    """What both kinds share: the spec, the parsed dependencies, health and timings."""

    kind = ""

    def __init__(self, spec: RuleSpec, group_labels: Labels = ()) -> None:
        self.spec = spec
        merged = dict(group_labels)
        merged.update(spec.labels)  # a rule's own labels win over the group's
        self.labels: Labels = tuple(sorted(merged.items()))
        self.expr = spec.expr
        self.dependencies = metric_dependencies(spec.expr)
        self.state = _RuleState()
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.spec.name

    def identity(self) -> tuple:
        """What ``CopyState`` matches on across reloads: name and labels."""
        return (self.kind, self.name, self.labels)

    def set_result(self, error: str, wall_ms: int, seconds: float) -> None:
        with self._lock:
            self.state.health = Health.ERR if error else Health.OK
            self.state.last_error = error
            self.state.last_evaluation_ms = wall_ms
            self.state.evaluation_seconds = seconds


class RecordingRule(Rule):
    kind = "recording"

    def eval(self, query: QueryFunc, ts: int, query_offset_ms: int, limit: int) -> list[tuple[Labels, float]]:
        """The samples to write at ``ts - query_offset_ms``; raises :class:`RuleError`."""
        t = ts - query_offset_ms
        out: list[tuple[Labels, float]] = []
        seen: set[Labels] = set()
        for labels, value in query(self.expr, t):
            d = dict(labels)
            d["__name__"] = self.spec.record
            d.update(self.labels)
            lab = _sorted(d)
            if lab in seen:
                raise RuleError("vector contains metrics with the same labelset after applying rule labels")
            seen.add(lab)
            out.append((lab, value))
        if limit > 0 and len(out) > limit:
            raise RuleError(f"exceeded limit of {limit} with {len(out)} series")
        return out


class AlertingRule(Rule):
    kind = "alerting"

    def __init__(self, spec: RuleSpec, group_labels: Labels = (), *, restored: bool = True) -> None:
        super().__init__(spec, group_labels)
        self.hold_ms = spec.for_ms
        self.keep_firing_for_ms = spec.keep_firing_for_ms
        self.annotations = spec.annotations
        self.active: dict[Labels, Alert] = {}
        # ALERTS / ALERTS_FOR_STATE are written only once the 'for' state was restored after a start
        self.restored = restored

    def eval(self, query: QueryFunc, ts: int, query_offset_ms: int, limit: int, *,
             expand: ExpandFunc | None = None, external_labels: Labels = (),
             external_url: str = "") -> list[tuple[Labels, float]]:
        """Advance every alert instance to ``ts``; the ALERTS samples to write. Raises :class:`RuleError`."""
        t = ts - query_offset_ms
        result = query(self.expr, t)
        fresh: dict[Labels, Alert] = {}
        tmpl_name = "__alert_" + self.name
        for labels, value in result:
            data = {"Labels": dict(labels), "ExternalLabels": dict(external_labels),
                    "ExternalURL": external_url, "Value": value, "_ts_ms": ts}

            def render(text: str, data: dict = data) -> str:
                if expand is None or "{{" not in text:
                    return text
                try:
                    return expand(tmpl_name, text, data)
                except Exception as e:  # noqa: BLE001 - a template error is shown in the value, as Prometheus does
                    msg = getattr(e, "expander_message", None) or str(e)
                    log.warning("expanding alert template failed: rule=%s err=%s", self.name, msg)
                    return f"<error expanding template: {msg}>"

            d = {k: v for k, v in labels if k != "__name__"}
            for k, v in self.labels:
                d[k] = render(v)
            d["alertname"] = self.name
            lab = _sorted(d)
            if lab in fresh:
                raise RuleError("vector contains metrics with the same labelset after applying alert labels")
            fresh[lab] = Alert(labels=lab, annotations=tuple((k, render(v)) for k, v in self.annotations),
                               value=value, active_at=ts)
        with self._lock:
            for lab, a in fresh.items():
                old = self.active.get(lab)
                if old is not None and old.state != AlertState.INACTIVE:
                    old.value = a.value
                    old.annotations = a.annotations
                    continue
                self.active[lab] = a
            samples: list[tuple[Labels, float]] = []
            n_active = 0
            for lab, a in list(self.active.items()):
                if lab not in fresh:
                    keep = False
                    if a.state == AlertState.FIRING and self.keep_firing_for_ms > 0:
                        if not a.keep_firing_since:
                            a.keep_firing_since = ts
                        keep = ts - a.keep_firing_since < self.keep_firing_for_ms
                    if a.state == AlertState.PENDING or (a.resolved_at and ts - a.resolved_at > RESOLVED_RETENTION_MS):
                        del self.active[lab]
                    if a.state != AlertState.INACTIVE and not keep:
                        a.state = AlertState.INACTIVE
                        a.resolved_at = ts
                    if not keep:
                        continue
                else:
                    a.keep_firing_since = 0
                n_active += 1
                if a.state == AlertState.PENDING and ts - a.active_at >= self.hold_ms:
                    a.state = AlertState.FIRING
                    a.fired_at = ts
                if a.state == AlertState.FIRING and ts - a.active_at < self.hold_ms:
                    # 'for' grew on a reload: back to pending
                    a.state, a.fired_at, a.last_sent_at, a.keep_firing_since = AlertState.PENDING, 0, 0, 0
                if self.restored:
                    samples.append((self._series(ALERTS, a, {"alertstate": str(a.state)}), 1.0))
                    samples.append((self._series(ALERTS_FOR_STATE, a, {}), float(a.active_at // 1000)))
            if limit > 0 and n_active > limit:
                self.active = {}
                raise RuleError(f"exceeded limit of {limit} with {n_active} alerts")
        return samples

    def _series(self, metric: str, a: Alert, extra: dict[str, str]) -> Labels:
        d = dict(self.labels)
        d.update(a.labels)
        d["__name__"] = metric
        d["alertname"] = self.name
        d.update(extra)
        return _sorted(d)

    def rule_state(self) -> AlertState:
        """The highest state of any instance (firing > pending > inactive)."""
        with self._lock:
            return max((a.state for a in self.active.values()), default=AlertState.INACTIVE)

    def alerts(self, include_resolved: bool = False) -> list[Alert]:
        """Copies of the instances (the active ones, or all the rule still holds)."""
        with self._lock:
            return [Alert(**vars(a)) for a in self.active.values() if include_resolved or not a.resolved_at]

    def to_send(self, ts: int, resend_delay_ms: int, interval_ms: int) -> list[Alert]:
        """Prometheus's ``sendAlerts``: the instances due for a notification, marked as sent at ``ts``."""
        out = []
        with self._lock:
            for a in self.active.values():
                if a.needs_sending(ts, resend_delay_ms):
                    a.last_sent_at = ts
                    # two evaluations or sends may fail before Alertmanager lets the alert expire
                    a.valid_until = ts + 4 * max(resend_delay_ms, interval_ms)
                    out.append(Alert(**vars(a)))
        return out

    def generator_url(self, external_url: str) -> str:
        return external_url.rstrip("/") + "/graph?g0.expr=" + quote_plus(self.expr, safe="") + "&g0.tab=1"

    def copy_state_from(self, other: AlertingRule) -> None:
        with other._lock:
            self.active = {k: Alert(**vars(a)) for k, a in other.active.items()}

    def restore(self, for_state: dict[Labels, tuple[int, float]], ts: int, grace_ms: int) -> None:
        """Prometheus's ``RestoreForState`` for this rule (see :meth:`.group.Group.restore`).

        ``for_state`` maps an alert's label set to the last ``ALERTS_FOR_STATE``
        sample before the restart: ``(sample time ms, active-since seconds)``.
        """
        with self._lock:
            for lab, a in self.active.items():
                found = for_state.get(lab)
                if found is None:
                    continue
                down_ms, since_s = found
                restored = int(since_s) * 1000
                remaining = self.hold_ms - (down_ms // 1000 * 1000 - restored)
                if remaining <= 0:
                    pass  # it was firing: the next evaluation fires it again
                elif remaining < grace_ms:
                    restored = ts + grace_ms - self.hold_ms
                else:
                    restored += ts - down_ms // 1000 * 1000
                a.active_at = restored
            self.restored = True


def make_rule(spec: RuleSpec, group_labels: Labels = (), *, restored: bool = True) -> Rule:
    return AlertingRule(spec, group_labels, restored=restored) if spec.alert else RecordingRule(spec, group_labels)


def rules_of(specs: Sequence[RuleSpec], group_labels: Labels, *, restored: bool) -> list[Rule]:
    return [make_rule(s, group_labels, restored=restored) for s in specs]


@dataclass
class GroupResult:
    """What one group evaluation did (for metrics and the API)."""

    samples: int = 0
    failures: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)
