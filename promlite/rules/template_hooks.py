"""The template engine as the rule manager and the rule checks call it.

``check_hook(name, text)`` takes what :func:`.rulefile.parse_rule_file` passes
(the alert definitions already prepended) and returns Go's parse error or None.
``expand_hook(query)`` makes the manager's ``expand(name, text, data)``: the
template's ``query`` function runs at the evaluation time the rule puts in
``data["_ts_ms"]``, through the same engine as the rule itself.
"""

from __future__ import annotations

from .rulefile import TEMPLATE_DEFS
from .rules import ExpandFunc, QueryFunc
from .template import check_alert_template, expand_alert


def check_hook(name: str, text: str) -> str | None:
    return check_alert_template(name, text.removeprefix(TEMPLATE_DEFS))  # it prepends them itself


def expand_hook(query: QueryFunc) -> ExpandFunc:
    def expand(name: str, text: str, data: dict) -> str:
        ts = int(data.get("_ts_ms", 0))

        def query_at_ts(expr: str) -> list:
            return [(dict(labels), value) for labels, value in query(expr, ts)]

        return expand_alert(text, name=name, labels=data["Labels"], external_labels=data["ExternalLabels"],
                            external_url=data.get("ExternalURL", ""), value=data["Value"], ts_ms=ts,
                            query=query_at_ts)

    return expand

