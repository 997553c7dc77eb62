"""OpenMetrics 1.0 text format: the line syntax.

Grammar (the spec's ABNF, condensed)::

    exposition = *(descriptor / sample) "# EOF" [LF]
    descriptor = "# TYPE " name " " type LF / "# HELP " name " " escaped LF
               / "# UNIT " name " " *name-char LF
    sample     = name ["{" [label *("," label)] "}"] " " number [" " timestamp]
                 [" # {" [label *("," label)] "} " number [" " timestamp]] LF
    label      = label-name "=" DQUOTE escaped DQUOTE

Whitespace is exact: one blank between tokens, none leading or trailing, no
blank lines, no CR, no trailing comma. Numbers are Go-style decimals or
``inf``/``infinity``/``nan`` in any case; timestamps are decimal seconds
(no NaN/Inf). Unknown backslash escapes in label values are kept verbatim, as
Prometheus does. The document must be valid UTF-8 (checked once, up front,
by the driver) and end with ``# EOF``.

This module checks syntax only, line by line, like Prometheus'
``openmetricsparse.go``. The meaning of the lines -- family grouping, metadata
order, counter/histogram/summary/info/stateset rules -- is checked by
``om_rules.OMValidator`` when the caller asks for strict parsing.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from ._lex import (
    LABEL_NAME_RE,
    METRIC_NAME_RE,
    QUOTED_RE,
    TokenError,
    canonical_labels,
    decode_utf8,
    describe,
    format_om_float,
    parse_float,
    parse_om_timestamp,
    unescape_label_value,
)
from .model import Exemplar, Metadata, MetricType

OM_TYPES: dict[bytes, MetricType] = {
    t.encode(): t  # type: ignore[misc]
    for t in ("counter", "gauge", "histogram", "gaugehistogram", "summary", "info", "stateset", "unknown")
}

EOF_LINE = b"# EOF"
_META_RE = re.compile(rb"# (TYPE|HELP|UNIT) ")
_TOKEN_RE = re.compile(rb"[^ ]*")
_UNIT_RE = re.compile(rb"[a-zA-Z0-9_:]*")
_HELP_RE = re.compile(rb"[^\\]*(?:\\.[^\\]*)*", re.S)
_L = rb'[a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*(?:\\.[^"\\]*)*"'
_SIMPLE_RE = re.compile(
    rb"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:" + _L + rb"(?:," + _L + rb")*)?\})? ([^ ]+)(?: ([^ ]+))?", re.S
)
_PAIR_RE = re.compile(rb'([a-zA-Z_][a-zA-Z0-9_]*)="([^"\\]*(?:\\.[^"\\]*)*)"', re.S)


class OMSample(NamedTuple):
    """One parsed sample line (fields the validator needs included)."""

    series: bytes
    name: str
    raw_pairs: list[tuple[str, str, int]]  # as written (before le/quantile normalisation)
    labels: tuple[tuple[str, str], ...]
    value: float
    ts_seconds: float | None
    ts_ms: int | None
    exemplar: Exemplar | None
    exemplar_offset: int
    key: bytes | None  # cache key for fast.py, None when the line has an exemplar


class OMMeta(NamedTuple):
    kind: str  # "TYPE" | "HELP" | "UNIT"
    name: str
    value: str  # the type word, the unescaped help text, or the unit
    offset: int


class OMLineParser:
    """Parses OpenMetrics lines one at a time, keeping the last TYPE for
    ``le``/``quantile`` normalisation (as Prometheus 3 does)."""

    def __init__(self) -> None:
        self.metadata: dict[str, Metadata] = {}
        self._type_family = ""
        self._type: MetricType | None = None

    def parse_line(self, line: bytes) -> OMSample | OMMeta | None:
        """Parse one line; None means ``# EOF``. Raises :class:`TokenError`."""
        m = _SIMPLE_RE.fullmatch(line)
        if m is not None:
            return self._simple(line, m)
        if not line:
            raise TokenError("blank lines are not allowed in OpenMetrics", 0)
        if line[0] == 0x23:  # '#'
            return self._comment(line)
        return self._sample(line)

    # -- metadata --------------------------------------------------------------

    def _comment(self, line: bytes) -> OMMeta | None:
        if line == EOF_LINE:
            return None
        mm = _META_RE.match(line)
        if mm is None:
            raise TokenError(
                "invalid comment: only '# TYPE', '# HELP', '# UNIT' and '# EOF' lines may start with '#'", 0
            )
        kind = mm.group(1).decode()
        p = mm.end()
        nm = METRIC_NAME_RE.match(line, p)
        if nm is None:
            raise TokenError(f"expected metric name after {kind}, got {describe(line, p)}", p)
        name = nm.group().decode("ascii")
        p = nm.end()
        if p >= len(line) or line[p] != 0x20:
            raise TokenError(f'expected " " after metric name "{name}" in {kind} line, got {describe(line, p)}', p)
        p += 1
        rest = line[p:]
        if kind == "TYPE":
            t = OM_TYPES.get(rest)
            if t is None:
                raise TokenError(f'invalid metric type "{rest.decode("utf-8", "replace")}"', p)
            self._type_family, self._type = name, t
            value: str = t
        elif kind == "UNIT":
            um = _UNIT_RE.fullmatch(rest)
            if um is None:
                bad = _UNIT_RE.match(rest).end()
                raise TokenError(f"invalid character {describe(line, p + bad)} in unit", p + bad)
            value = rest.decode("ascii")
            if value and not (name.endswith("_" + value)):
                raise TokenError(f'unit "{value}" is not a suffix of metric "{name}"', p)
        else:
            if _HELP_RE.fullmatch(rest) is None:
                raise TokenError("help text ends with a lone backslash", len(line) - 1)
            value = unescape_label_value(decode_utf8(rest, p, "help text"))
        md = self.metadata.get(name)
        if md is None:
            md = self.metadata[name] = Metadata(name)
        if kind == "TYPE":
            md.type = value  # type: ignore[assignment]
        elif kind == "UNIT":
            md.unit = value or None  # an empty UNIT counts as no UNIT line
        else:
            md.help = value
        return OMMeta(kind, name, value, p)

    # -- samples ---------------------------------------------------------------

    def _simple(self, line: bytes, m: re.Match[bytes]) -> OMSample:
        name = m.group(1).decode("ascii")
        value = parse_float(m.group(3), m.start(3))
        ts_tok = m.group(4)
        sec = ms = None
        if ts_tok is not None:
            sec, ms = parse_om_timestamp(ts_tok, m.start(4))
        body = m.group(2)
        pairs: list[tuple[str, str, int]] = []
        if body is not None and len(body) > 2:
            for ln, lv in _PAIR_RE.findall(body):
                try:
                    v = lv.decode("utf-8")
                except UnicodeDecodeError:
                    return self._sample(line)  # the scanner reports it, with its column
                pairs.append((ln.decode("ascii"), unescape_label_value(v), 0))
        series_end = m.end(2) if body is not None else m.end(1)
        try:
            labels = self._canonical(name, pairs)
        except TokenError:
            return self._sample(line)  # a duplicate label: again for the column
        return OMSample(line[:series_end], name, pairs, labels, value, sec, ms, None, 0, line[:series_end])

    def _sample(self, line: bytes) -> OMSample:
        n = len(line)
        m = METRIC_NAME_RE.match(line)
        if m is None:
            if line[0] in (0x20, 0x09):
                raise TokenError("leading whitespace is not allowed in OpenMetrics", 0)
            if line[0] == 0x7B:
                raise TokenError("metric name missing before '{' (quoted metric names are not supported)", 0)
            raise TokenError(f"expected metric name at start of line, got {describe(line, 0)}", 0)
        name = m.group().decode("ascii")
        p = m.end()
        pairs: list[tuple[str, str, int]] = []
        if p < n and line[p] == 0x7B:
            pairs, p = _labels(line, p)
        series_end = p
        value, p = _space_token(line, p, f'metric "{name}"', "value")
        fvalue = parse_float(value, p - len(value))
        sec = ms = None
        exemplar = None
        ex_off = 0
        if p < n:
            if line.startswith(b" # ", p):
                ex_off = p + 1
                exemplar, p = _exemplar(line, p + 3)
            else:
                tok, p = _space_token(line, p, "value", "timestamp")
                sec, ms = parse_om_timestamp(tok, p - len(tok))
                if p < n:
                    if not line.startswith(b" # ", p):
                        raise TokenError(f"expected exemplar (\" # {{\") or end of line after timestamp, got {describe(line, p)}", p)
                    ex_off = p + 1
                    exemplar, p = _exemplar(line, p + 3)
        labels = self._canonical(name, pairs)
        key = line[:series_end] if exemplar is None else None
        return OMSample(line[:series_end], name, pairs, labels, fvalue, sec, ms, exemplar, ex_off, key)

    def _canonical(self, name: str, pairs: list[tuple[str, str, int]]) -> tuple[tuple[str, str], ...]:
        t = self._type
        if t is not None and pairs:
            if t == "histogram" and name == self._type_family + "_bucket":
                pairs = [_normalised(p) if p[0] == "le" else p for p in pairs]
            elif t == "summary" and name == self._type_family:
                pairs = [_normalised(p) if p[0] == "quantile" else p for p in pairs]
        return canonical_labels(name, pairs)


def _normalised(pair: tuple[str, str, int]) -> tuple[str, str, int]:
    try:
        f = parse_float(pair[1].encode(), 0)
    except (TokenError, UnicodeEncodeError):
        return pair
    return (pair[0], format_om_float(f), pair[2])


def _space_token(line: bytes, p: int, after: str, what: str) -> tuple[bytes, int]:
    """Expect exactly one blank at ``p`` and a non-empty token after it."""
    if p >= len(line):
        raise TokenError(f"expected {what} after {after}, got end of line", p)
    if line[p] != 0x20:
        raise TokenError(f'expected " " before {what}, got {describe(line, p)}', p)
    tm = _TOKEN_RE.match(line, p + 1)
    if tm.end() == p + 1:
        raise TokenError(f"expected {what} after a single blank, got {describe(line, p + 1)}", p + 1)
    return tm.group(), tm.end()


def _labels(line: bytes, p: int) -> tuple[list[tuple[str, str, int]], int]:
    """Strict OpenMetrics label set at ``line[p] == '{'``; returns pairs and the
    index after ``}``."""
    n = len(line)
    pos = p + 1
    pairs: list[tuple[str, str, int]] = []
    if pos < n and line[pos] == 0x7D:
        return pairs, pos + 1
    while True:
        lm = LABEL_NAME_RE.match(line, pos)
        if lm is None:
            if pos < n and line[pos] == 0x7D and pairs:
                raise TokenError("trailing comma in label set is not allowed in OpenMetrics", pos - 1)
            raise TokenError(f"expected label name, got {describe(line, pos)}", pos)
        lname = lm.group().decode("ascii")
        pos = lm.end()
        if pos >= n or line[pos] != 0x3D:
            raise TokenError(f'expected "=" after label name "{lname}", got {describe(line, pos)}', pos)
        pos += 1
        qm = QUOTED_RE.match(line, pos)
        if qm is None:
            if pos < n and line[pos] == 0x22:
                raise TokenError(f'unterminated value of label "{lname}"', pos)
            raise TokenError(f'expected quoted value for label "{lname}", got {describe(line, pos)}', pos)
        v = unescape_label_value(decode_utf8(qm.group(1), pos + 1, f'value of label "{lname}"'))
        pairs.append((lname, v, lm.start()))
        pos = qm.end()
        if pos < n and line[pos] == 0x2C:
            pos += 1
            continue
        if pos < n and line[pos] == 0x7D:
            return pairs, pos + 1
        raise TokenError(f'expected "," or "}}" after value of label "{lname}", got {describe(line, pos)}', pos)


def _exemplar(line: bytes, p: int) -> tuple[Exemplar, int]:
    """Parse ``{labels} value [ts]`` starting at ``p`` (just after ``" # "``)."""
    n = len(line)
    if p >= n or line[p] != 0x7B:
        raise TokenError(f"expected '{{' to start the exemplar label set, got {describe(line, p)}", p)
    pairs, pos = _labels(line, p)
    names = set()
    chars = 0
    for lname, v, off in pairs:
        if lname in names:
            raise TokenError(f'duplicate label name "{lname}" in exemplar', off)
        names.add(lname)
        chars += len(lname) + len(v)
    if chars > 128:
        raise TokenError(f"exemplar label set has {chars} characters, more than the 128 allowed", p)
    tok, pos = _space_token(line, pos, "exemplar labels", "exemplar value")
    value = parse_float(tok, pos - len(tok), "exemplar value")
    ms = None
    if pos < n:
        tok, pos = _space_token(line, pos, "exemplar value", "exemplar timestamp")
        _, ms = parse_om_timestamp(tok, pos - len(tok), "exemplar timestamp")
        if pos < n:
            raise TokenError(f"unexpected {describe(line, pos)} after exemplar timestamp", pos)
    labels = tuple(sorted((k, v) for k, v, _ in pairs if v != ""))
    return Exemplar(labels, value, ms), pos
