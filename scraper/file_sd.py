"""File-based service discovery: target groups read from JSON/YAML files, re-read on change.

File format (Prometheus ``file_sd_configs``)::

    [ { "targets": ["host:9100", ...], "labels": { "name": "value", ... } }, ... ]

the same list in YAML for ``.yml``/``.yaml`` files. Each group gets the label
``__meta_filepath`` (the file's path) and the source ``<path>:<index>``.

Change detection polls: :meth:`FileSD.refresh` globs the patterns and
re-reads a file only when its ``(mtime_ns, size, inode)`` changed, so a
steady-state poll is one ``stat`` per file. A file that cannot be read or
parsed keeps the groups it had before (Prometheus does the same so a bad
edit does not drop live targets); its error is kept in ``errors``. A file
that disappears takes its groups with it.
"""

from __future__ import annotations

import glob
import json
import logging
import os
from collections.abc import Iterable
from typing import Any

from ._yaml import ConfigError, load_yaml
from .relabel import is_label_name
from .targets import ADDRESS, TargetGroup

FILEPATH_LABEL = "__meta_filepath"
log = logging.getLogger("scraper")


class FileSDError(ValueError):
    """A target file is not a valid list of target groups."""


def parse_target_groups(data: bytes, path: str) -> list[TargetGroup]:
    """Parse a target file's content (format chosen by the extension)."""
    if path.endswith(".json"):
        try:
            value = json.loads(data)
        except (ValueError, UnicodeDecodeError) as e:
            raise FileSDError(f"{path}: invalid JSON: {e}") from None
    else:
        try:
            value = load_yaml(data, path).value
        except ConfigError as e:
            raise FileSDError(str(e)) from None
    if value is None:
        return []
    if not isinstance(value, list):
        raise FileSDError(f"{path}: expected a list of target groups")
    return [_group(path, i, g) for i, g in enumerate(value)]


def _group(path: str, i: int, g: Any) -> TargetGroup:
    where = f"{path}: group {i}"
    if g is None:
        raise FileSDError(f"{where}: nil target group item found")
    if not isinstance(g, dict):
        raise FileSDError(f"{where}: expected a mapping with 'targets' and 'labels'")
    for k in g:
        if k not in ("targets", "labels"):
            raise FileSDError(f"{where}: unknown key {k!r}")
    targets = g.get("targets") or []
    if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
        raise FileSDError(f"{where}: targets must be a list of strings")
    labels = g.get("labels") or {}
    if not isinstance(labels, dict):
        raise FileSDError(f"{where}: labels must be a mapping")
    out = {}
    for n, v in labels.items():
        if not isinstance(n, str) or not is_label_name(n):
            raise FileSDError(f'{where}: "{n}" is not a valid label name')
        if not isinstance(v, str):
            raise FileSDError(f"{where}: value of label {n!r} must be a string")
        if v:
            out[n] = v
    out[FILEPATH_LABEL] = path
    return TargetGroup(source=f"{path}:{i}", targets=tuple(((ADDRESS, t),) for t in targets),
                       labels=tuple(sorted(out.items())))


class FileSD:
    """The current target groups of one set of glob patterns. Not thread-safe; cheap to poll."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns = tuple(patterns)
        self._stamp: dict[str, tuple[int, int, int]] = {}
        self._groups: dict[str, list[TargetGroup]] = {}
        self.errors: dict[str, str] = {}

    def files(self) -> list[str]:
        seen: dict[str, None] = {}
        for p in self.patterns:
            for f in sorted(glob.glob(p)):
                seen.setdefault(f, None)
        return list(seen)

    def refresh(self) -> bool:
        """Re-read what changed; True if the groups changed."""
        changed = False
        current = self.files()
        for path in list(self._groups):
            if path not in current:
                del self._groups[path]
                self._stamp.pop(path, None)
                self.errors.pop(path, None)
                changed = True
        for path in current:
            try:
                st = os.stat(path)
            except OSError:
                continue
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
            if self._stamp.get(path) == stamp:
                continue
            self._stamp[path] = stamp
            try:
                with open(path, "rb") as f:
                    groups = parse_target_groups(f.read(), path)
            except (OSError, FileSDError) as e:
                self.errors[path] = str(e)
                log.error("file_sd: cannot read %s, keeping its previous targets: %s", path, e)
                continue  # keep the previous groups of this file
            self.errors.pop(path, None)
            if self._groups.get(path) != groups:
                self._groups[path] = groups
                changed = True
        return changed

    def groups(self) -> list[TargetGroup]:
        return [g for path in sorted(self._groups) for g in self._groups[path]]
