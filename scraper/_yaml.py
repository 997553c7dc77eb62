"""YAML with line numbers, and the one error type of configuration loading.

Strategy: PyYAML composes the document into nodes (which carry marks), and
:func:`load_yaml` turns the nodes into plain Python values -- dicts, lists,
str/int/float/bool/None -- while recording, per *path* (a tuple of mapping
keys and list indexes from the root), the 1-based line of the key or item
and the raw scalar text. Validators then work on plain values and raise
:class:`ConfigError` with the path; :meth:`Doc.error` adds the line.

Like Go's ``yaml.UnmarshalStrict`` (what Prometheus uses), a key repeated in
one mapping is an error; merge keys (``<<: *anchor``) and aliases work.
"""

from __future__ import annotations

from typing import Any

import yaml

try:  # the C loader is ~10x faster; the pure one gives the same nodes
    _Loader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Loader = yaml.SafeLoader

Path = tuple[str | int, ...]


def path_str(path: Path) -> str:
    """``("scrape_configs", 0, "regex")`` -> ``scrape_configs[0].regex``."""
    out = ""
    for p in path:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += ("." if out else "") + p
    return out


class ConfigError(ValueError):
    """A configuration file is invalid.

    ``str()`` is ``prometheus.yml:12: scrape_configs[0].scrape_timeout: <what>``
    (source, line and key are left out when unknown).
    """

    def __init__(self, message: str, *, source: str | None = None, line: int | None = None,
                 key: str | None = None) -> None:
        self.message = message
        self.source = source
        self.line = line
        self.key = key
        where = ""
        if source:
            where = source + (f":{line}" if line else "") + ": "
        elif line:
            where = f"line {line}: "
        if key:
            where += f"{key}: "
        super().__init__(where + message)


class PathError(Exception):
    """Raised by validators: ``message`` about the value at ``path`` (converted by Doc.error)."""

    def __init__(self, path: Path, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


class Doc:
    """A loaded document: its value, and where each path came from."""

    def __init__(self, value: Any, lines: dict[Path, int], raw: dict[Path, str], source: str) -> None:
        self.value = value
        self.lines = lines
        self.raw = raw
        self.source = source

    def line(self, path: Path) -> int | None:
        """Line of ``path``, or of its closest ancestor that has one."""
        p = tuple(path)
        while p:
            if p in self.lines:
                return self.lines[p]
            p = p[:-1]
        return self.lines.get((), None)

    def error(self, e: PathError) -> ConfigError:
        return ConfigError(e.message, source=self.source, line=self.line(e.path),
                           key=path_str(e.path) or None)


def load_yaml(text: str | bytes, source: str = "<config>") -> Doc:
    """Parse one YAML document; raise :class:`ConfigError` with the line on bad syntax."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        lines: dict[Path, int] = {}
        raw: dict[Path, str] = {}
        value = None if node is None else _convert(loader, node, (), lines, raw)
        if node is not None:
            lines[()] = node.start_mark.line + 1
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        msg = " ".join(x for x in (e.context, e.problem) if x)
        raise ConfigError(f"invalid YAML: {msg}", source=source,
                          line=mark.line + 1 if mark else None) from None
    except yaml.YAMLError as e:
        raise ConfigError(f"invalid YAML: {e}", source=source) from None
    finally:
        loader.dispose()
    return Doc(value, lines, raw, source)


def _convert(loader, node, path: Path, lines: dict, raw: dict) -> Any:
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)  # resolves "<<" merge keys into plain pairs
        out: dict[Any, Any] = {}
        for knode, vnode in node.value:
            if not isinstance(knode, yaml.ScalarNode):
                raise yaml.MarkedYAMLError(problem="mapping keys must be scalars",
                                           problem_mark=knode.start_mark)
            key = loader.construct_object(knode, deep=True)
            if not isinstance(key, str | int | float | bool) and key is not None:
                raise yaml.MarkedYAMLError(problem=f"unsupported key {key!r}",
                                           problem_mark=knode.start_mark)
            if key in out:
                raise yaml.MarkedYAMLError(
                    problem=f"mapping key {knode.value!r} already defined at line {lines[(*path, key)]}",
                    problem_mark=knode.start_mark)
            sub = (*path, key)
            lines[sub] = knode.start_mark.line + 1
            out[key] = _convert(loader, vnode, sub, lines, raw)
        return out
    if isinstance(node, yaml.SequenceNode):
        items = []
        for i, item in enumerate(node.value):
            sub = (*path, i)
            lines[sub] = item.start_mark.line + 1
            items.append(_convert(loader, item, sub, lines, raw))
        return items
    raw[path] = node.value
    return loader.construct_object(node, deep=True)
