"""Label matchers: ``=``, ``!=``, ``=~``, ``!~``.

Regexes use RE2 syntax and semantics through ``google-re2`` (linear time, so a
hostile pattern cannot backtrack catastrophically), fully anchored, with
``.`` matching newlines as in Prometheus 3 (the pattern is compiled as
``(?s:PATTERN)`` and matched with ``fullmatch``).

A missing label has the value ``""``: ``{foo=""}`` selects the series without
``foo``, and ``{foo=~".*"}`` selects every series. Callers that resolve
matchers against postings must honour that (see ``matches_empty``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from functools import lru_cache

import re2

from .errors import TSDBError


class InvalidMatcherError(TSDBError, ValueError):
    """A matcher cannot be built (bad regex, bad type)."""


class MatchType(enum.Enum):
    EQ = "="
    NEQ = "!="
    RE = "=~"
    NRE = "!~"


_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False
_RE2_OPTIONS.dot_nl = True


@lru_cache(maxsize=4096)
def _compile(pattern: str):
    try:
        return re2.compile(pattern, _RE2_OPTIONS)
    except re2.error as e:
        reason = e.args[0] if e.args else str(e)
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise InvalidMatcherError(f"invalid regular expression {pattern!r}: {reason}") from None


@dataclass(frozen=True)
class Matcher:
    """One label matcher. Build with :meth:`eq`, :meth:`neq`, :meth:`re`, :meth:`nre`."""

    type: MatchType
    name: str
    value: str
    _re: object = field(default=None, compare=False, repr=False, hash=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not isinstance(self.value, str):
            raise InvalidMatcherError("matcher name and value must be strings")
        if self.type in (MatchType.RE, MatchType.NRE):
            object.__setattr__(self, "_re", _compile(self.value))
            object.__setattr__(self, "_fast", _fast_path(self.value))
            object.__setattr__(self, "_literals", _literal_alternatives(self.value))
            object.__setattr__(self, "_seen", {})

    @classmethod
    def eq(cls, name: str, value: str) -> Matcher:
        return cls(MatchType.EQ, name, value)

    @classmethod
    def neq(cls, name: str, value: str) -> Matcher:
        return cls(MatchType.NEQ, name, value)

    @classmethod
    def re(cls, name: str, pattern: str) -> Matcher:
        return cls(MatchType.RE, name, pattern)

    @classmethod
    def nre(cls, name: str, pattern: str) -> Matcher:
        return cls(MatchType.NRE, name, pattern)

    @classmethod
    def parse_op(cls, name: str, op: str, value: str) -> Matcher:
        """Build from an operator string (``=``, ``!=``, ``=~``, ``!~``)."""
        try:
            return cls(MatchType(op), name, value)
        except ValueError:
            raise InvalidMatcherError(f"unknown match operator {op!r}") from None

    def matches(self, value: str) -> bool:
        """Whether a label value (``""`` when the label is absent) matches."""
        t = self.type
        if t is MatchType.EQ:
            return value == self.value
        if t is MatchType.NEQ:
            return value != self.value
        hit = self._regex_hit(value)
        return hit if t is MatchType.RE else not hit

    def _regex_hit(self, value: str) -> bool:
        # A call into re2 costs ~10 µs from Python; label values repeat across
        # blocks and queries, so remember answers (bounded) and take the
        # common shapes (`prefix.*`, `prefix.+`, `a|b|c`) without re2.
        fast = self._fast
        if fast is not None:
            return fast(value)
        seen = self._seen
        hit = seen.get(value)
        if hit is None:
            hit = self._re.fullmatch(value) is not None  # type: ignore[union-attr]
            if len(seen) > 100_000:
                seen.clear()
            seen[value] = hit
        return hit

    @property
    def matches_empty(self) -> bool:
        """Whether the matcher selects series that lack the label."""
        return self.matches("")

    @property
    def literal_values(self) -> frozenset[str] | None:
        """For ``=~``/``!~`` whose regex is literals joined by ``|`` (``a|b|c``, Grafana's multi-value
        variables): exactly the values it matches, so an index can look them up instead of testing
        every value of the label. None otherwise."""
        return getattr(self, "_literals", None)

    @property
    def is_positive(self) -> bool:
        """True for matchers that can only select series *having* the label."""
        return not self.matches_empty

    def __str__(self) -> str:
        v = self.value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'{self.name}{self.type.value}"{v}"'


_META = set("\\.+*?()|[]{}^$")


def _literal(text: str) -> bool:
    return not any(c in _META for c in text)


def _literal_alternatives(pattern: str) -> frozenset[str] | None:
    """The values a fully anchored ``a|b|c`` of literals matches, or None for any other regex."""
    alts = pattern.split("|")
    return frozenset(alts) if all(_literal(a) for a in alts) else None


def _fast_path(pattern: str):
    """A plain-Python predicate equal to fully anchored RE2 ``(?s:pattern)``, for the simplest shapes, or None."""
    if pattern.endswith(".*") and _literal(pattern[:-2]):
        prefix = pattern[:-2]
        return lambda v: v.startswith(prefix)
    if pattern.endswith(".+") and _literal(pattern[:-2]):
        prefix = pattern[:-2]
        n = len(prefix)
        return lambda v: len(v) > n and v.startswith(prefix)
    alts = pattern.split("|")
    if all(_literal(a) for a in alts):
        options = frozenset(alts)
        return options.__contains__
    return None
