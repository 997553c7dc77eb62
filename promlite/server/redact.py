"""The configuration as ``/api/v1/status/config`` shows it: secrets replaced by ``<secret>``.

Prometheus marshals its parsed configuration back to YAML, and every field
of type ``config.Secret`` marshals as ``<secret>`` (an empty one stays
empty); a URL (``url``, ``proxy_url``) marshals with its password as
``xxxxx`` (Go's ``url.Redacted``). promlite shows the file as written, comments
included, so it edits the text instead: PyYAML composes the document (each
node knows where its text starts and ends) and the text of every secret
scalar is replaced in place. Nothing else changes.

Secret fields, wherever they appear (scrape configs, service discovery,
remote write/read, alerting -- as promlite grows them):

* ``password`` (``basic_auth`` and the SD configs that have one),
  ``credentials`` (``authorization``), ``bearer_token``, ``client_secret``
  (``oauth2``, Azure), ``secret_key`` (``sigv4``, EC2, Scaleway), ``token``
  (Consul), ``auth_token`` (Marathon), ``application_credential_secret``
  (OpenStack);
* ``key`` inside a ``tls_config`` (an inline private key; ``key_file`` is a
  path and stays);
* every value of ``proxy_connect_header`` and the ``secrets`` of an
  ``http_headers`` entry.

``*_file`` fields are paths and are shown. Maps whose keys are chosen by the
user (``labels``, ``params``, ``headers``, ...) are not searched, so a label
named ``password`` keeps its value. Anchors and tags on a secret are kept, so
aliases still resolve; the secret text is redacted where the anchor defines it.
"""

from __future__ import annotations

import functools
import json
import re
import urllib.parse

import yaml

SECRET = "<secret>"
URL_PASSWORD = "xxxxx"  # Go's url.URL.Redacted()

SECRET_KEYS = frozenset({
    "password", "credentials", "bearer_token", "client_secret", "secret_key", "token", "auth_token",
    "application_credential_secret",
})
URL_KEYS = frozenset({"url", "proxy_url"})  # and every other "*_url" (token_url, ...): a password there is one too
# maps whose keys the user chooses: never searched for secret-looking keys
USER_KEYED = frozenset({
    "labels", "external_labels", "params", "headers", "endpoint_params", "tags", "static_configs",
    "relabel_configs", "metric_relabel_configs", "write_relabel_configs", "alert_relabel_configs",
})
_PROPERTIES = re.compile(r"(?:[&!][^\s]*\s+)*")  # anchor / tag tokens before a scalar's text


def _secret_scalars(root: yaml.Node) -> tuple[list[yaml.ScalarNode], list[yaml.ScalarNode]]:
    """``(secrets, urls)``: the scalar nodes to redact whole, and the URL scalars to check for a password."""
    secrets: list[yaml.ScalarNode] = []
    urls: list[yaml.ScalarNode] = []
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, str]] = [(root, "")]  # (node, key of the mapping entry it is the value of)
    while stack:
        node, parent_key = stack.pop()
        if id(node) in seen:  # an alias: the same node again
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                key = k.value if isinstance(k, yaml.ScalarNode) else ""
                if key in USER_KEYED:
                    continue
                if key in SECRET_KEYS and isinstance(v, yaml.ScalarNode):
                    secrets.append(v)
                elif key == "key" and parent_key == "tls_config" and isinstance(v, yaml.ScalarNode):
                    secrets.append(v)
                elif (key in URL_KEYS or key.endswith("_url")) and isinstance(v, yaml.ScalarNode):
                    urls.append(v)
                elif key == "proxy_connect_header" and isinstance(v, yaml.MappingNode):
                    for _, values in v.value:
                        secrets.extend(_scalars(values))
                elif key == "http_headers" and isinstance(v, yaml.MappingNode):
                    for _, header in v.value:
                        if isinstance(header, yaml.MappingNode):
                            for hk, hv in header.value:
                                if isinstance(hk, yaml.ScalarNode) and hk.value == "secrets":
                                    secrets.extend(_scalars(hv))
                else:
                    stack.append((v, key))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, parent_key) for item in node.value)
    return secrets, urls


def _scalars(node: yaml.Node) -> list[yaml.ScalarNode]:
    if isinstance(node, yaml.ScalarNode):
        return [node]
    if isinstance(node, yaml.SequenceNode):
        return [n for n in node.value if isinstance(n, yaml.ScalarNode)]
    return []


def _redacted_url(text: str) -> str | None:
    """``text`` with its password replaced as Go's ``url.Redacted`` does, or None when it has none."""
    try:
        u = urllib.parse.urlsplit(text)
        password = u.password
    except ValueError:
        return None
    if not password:
        return None
    userinfo, _, hostport = u.netloc.rpartition("@")
    netloc = f"{userinfo.split(':', 1)[0]}:{URL_PASSWORD}@{hostport}"
    return urllib.parse.urlunsplit(u._replace(netloc=netloc))


def _quoted_like(node: yaml.ScalarNode, value: str) -> str:
    """``value`` written in the quoting style of ``node`` (plain, single or double quotes)."""
    if node.style == "'":
        return "'" + value.replace("'", "''") + "'"
    if node.style == '"':
        return json.dumps(value)
    return value


@functools.lru_cache(maxsize=4)
def redact_config(text: str) -> str:
    """``text`` (a Prometheus YAML configuration) with every secret shown as Prometheus shows it.

    A text that is not YAML (never the case for a loaded configuration) is
    replaced entirely rather than shown unredacted.
    """
    if not text.strip():
        return text
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)  # the pure loader: marks index characters
    except yaml.YAMLError:
        return "# (the configuration is not valid YAML; not shown, it may hold secrets)\n"
    if root is None:
        return text
    secrets, urls = _secret_scalars(root)
    edits: dict[int, tuple[int, str]] = {}  # start -> (end, replacement)
    for node in secrets:
        if node.value == "":
            continue  # Prometheus marshals an empty Secret as empty
        edits[node.start_mark.index] = (node.end_mark.index, SECRET)
    for node in urls:
        redacted = _redacted_url(node.value)
        if redacted is not None:
            edits[node.start_mark.index] = (node.end_mark.index, _quoted_like(node, redacted))
    out: list[str] = []
    pos = 0
    for start in sorted(edits):
        end, replacement = edits[start]
        if start < pos:
            continue  # nested in an earlier edit (cannot happen for scalars; kept safe)
        span = text[start:end]
        props = _PROPERTIES.match(span).group(0) if span[:1] in "&!" else ""
        trailing = span[len(span.rstrip("\n")):]  # a block scalar's span ends after its newline(s)
        out.append(text[pos:start])
        out.append(props + replacement + trailing)
        pos = end
    out.append(text[pos:])
    return "".join(out)
