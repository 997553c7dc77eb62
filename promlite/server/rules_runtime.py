"""The rule manager inside ``promlite serve``: its flags, the engine and notifier it uses, reloads.

Kept apart from :mod:`.serve` so that the server's lifecycle reads as a list of
steps: ``start_rules`` after the scrape manager and the notifier,
``reload_rules`` on SIGHUP and ``/-/reload`` (before the scrape config is
applied: a broken rule file fails the whole reload and changes nothing),
``RuleManager.stop`` before the storage closes.
"""

from __future__ import annotations

import argparse
import logging

from promlite.rules.manager import ManagerOptions, RuleManager, engine_query
from promlite.rules.notifier import Alert as NotifierAlert
from promlite.rules.rules import Alert, AlertingRule
from promlite.rules.template_hooks import check_hook, expand_hook
from query.durations import parse_prometheus_duration
from scraper.config import Config

log = logging.getLogger("serve")

def add_rule_arguments(p: argparse.ArgumentParser) -> None:
    """Prometheus's ``--rules.alert.*`` flags and ``--web.external-url``."""
    p.add_argument("--rules.alert.for-outage-tolerance", dest="rules_outage_tolerance", default="1h",
                   help="max time to tolerate promlite being down and still restore the 'for' state of "
                        "alerts (default: 1h)")
    p.add_argument("--rules.alert.for-grace-period", dest="rules_grace_period", default="10m",
                   help="minimum duration between an alert and its restored 'for' state; kept only for "
                        "alerts with a 'for' longer than it (default: 10m)")
    p.add_argument("--rules.alert.resend-delay", dest="rules_resend_delay", default="1m",
                   help="minimum time to wait before resending an alert to Alertmanager (default: 1m)")
    p.add_argument("--web.external-url", dest="external_url", default=None,
                   help="the URL under which promlite is reached from outside, used in alert generator "
                        "links and templates (default: http://<listen address>)")


def check_rule_flags(args: argparse.Namespace) -> None:
    """``ValueError`` naming the flag for a bad duration."""
    for flag, dest in (("--rules.alert.for-outage-tolerance", "rules_outage_tolerance"),
                       ("--rules.alert.for-grace-period", "rules_grace_period"),
                       ("--rules.alert.resend-delay", "rules_resend_delay")):
        try:
            parse_prometheus_duration(getattr(args, dest))
        except ValueError as e:
            raise ValueError(f"{flag}: {e}") from None


def manager_options(cfg: Config, flags: dict[str, str], external_url: str) -> ManagerOptions:
    g = cfg.global_config
    return ManagerOptions(
        evaluation_interval_ms=g.evaluation_interval, rule_query_offset_ms=g.rule_query_offset,
        outage_tolerance_ms=parse_prometheus_duration(flags.get("rules_outage_tolerance") or "1h"),
        grace_period_ms=parse_prometheus_duration(flags.get("rules_grace_period") or "10m"),
        resend_delay_ms=parse_prometheus_duration(flags.get("rules_resend_delay") or "1m"),
        external_labels=g.external_labels, external_url=external_url)


def notify_hook(notifier):
    """Turn the instances a rule wants sent into the notifier's alerts (Prometheus's ``sendAlerts``)."""

    def notify(rule: AlertingRule, alerts: list[Alert], external_url: str) -> None:
        out = []
        url = rule.generator_url(external_url)
        for a in alerts:
            ends = a.resolved_at if a.resolved_at else a.valid_until
            out.append(NotifierAlert(labels=dict(a.labels), annotations=dict(a.annotations),
                                     starts_at=a.fired_at / 1000 if a.fired_at else None, ends_at=ends / 1000,
                                     generator_url=url))
        if out:
            notifier.send(out)

    return notify


def make_rule_manager(db, engine, notifier) -> RuleManager:
    query = engine_query(engine)
    return RuleManager(db, query, expand=expand_hook(query),
                       notify=notify_hook(notifier) if notifier is not None else None, check_template=check_hook)


async def start_rules(manager: RuleManager, cfg: Config, flags: dict[str, str], external_url: str) -> None:
    await manager.update(cfg.rule_files, manager_options(cfg, flags, external_url))


class RuleCollector:
    """Prometheus's ``prometheus_rule_*`` metrics, read from the manager at scrape time."""

    def __init__(self, manager_getter) -> None:
        self._manager = manager_getter

    def collect(self):
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            SummaryMetricFamily,
        )

        m = self._manager()
        if m is None:
            return
        lab = ["rule_group"]
        fams = {
            "evals": CounterMetricFamily("prometheus_rule_evaluations", "The total number of rule evaluations.",
                                         labels=lab),
            "fails": CounterMetricFamily("prometheus_rule_evaluation_failures",
                                         "The total number of rule evaluation failures.", labels=lab),
            "missed": CounterMetricFamily("prometheus_rule_group_iterations_missed",
                                          "The total number of rule group evaluations missed due to slow rule "
                                          "group evaluation.", labels=lab),
            "iters": CounterMetricFamily("prometheus_rule_group_iterations",
                                         "The total number of scheduled rule group evaluations, whether executed "
                                         "or missed.", labels=lab),
            "interval": GaugeMetricFamily("prometheus_rule_group_interval_seconds", "The interval of a rule group.",
                                          labels=lab),
            "last_ts": GaugeMetricFamily("prometheus_rule_group_last_evaluation_timestamp_seconds",
                                         "The timestamp of the last rule group evaluation in seconds.", labels=lab),
            "last_dur": GaugeMetricFamily("prometheus_rule_group_last_duration_seconds",
                                          "The duration of the last rule group evaluation.", labels=lab),
            "restore": GaugeMetricFamily("prometheus_rule_group_last_restore_duration_seconds",
                                         "The duration of the last alert rules alerts restoration using the "
                                         "`ALERTS_FOR_STATE` series.", labels=lab),
            "rules": GaugeMetricFamily("prometheus_rule_group_rules", "The number of rules.", labels=lab),
            "samples": GaugeMetricFamily("prometheus_rule_group_last_evaluation_samples",
                                         "The number of samples returned during the last rule group evaluation.",
                                         labels=lab),
        }
        for g in m.rule_groups():
            st = m.stats.get(g.key)
            if st is None:
                continue
            k = [g.key]
            fams["evals"].add_metric(k, st.evaluations)
            fams["fails"].add_metric(k, st.failures)
            fams["missed"].add_metric(k, st.missed)
            fams["iters"].add_metric(k, st.iterations)
            fams["interval"].add_metric(k, g.interval_ms / 1000)
            fams["last_ts"].add_metric(k, g.last_evaluation_ms / 1000)
            fams["last_dur"].add_metric(k, g.evaluation_seconds)
            fams["restore"].add_metric(k, st.restore_seconds)
            fams["rules"].add_metric(k, len(g.rules))
            fams["samples"].add_metric(k, g.last_samples)
        yield from fams.values()
        durs = list(m.eval_seconds)
        yield SummaryMetricFamily("prometheus_rule_group_duration_seconds", "The duration of rule group evaluations.",
                                  count_value=len(durs), sum_value=sum(durs))
