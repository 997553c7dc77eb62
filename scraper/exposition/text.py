"""Prometheus text exposition format 0.0.4, parsed as a Prometheus scrape does.

The model is Prometheus' ``model/textparse/promparse.go`` (what a real scrape
accepts), then the written format (``docs/instrumenting/exposition_formats.md``).
Where the two disagree our choice is listed in ``docs/exposition.md``; in short,
like Prometheus we accept: blanks and tabs around every token, leading and
trailing blanks, a trailing comma in a label set, unknown backslash escapes in
label values (kept verbatim), a missing final newline, TYPE after samples,
repeated HELP (last wins), ``inf``/``nan`` in any case. Like Prometheus we
reject: CR line endings, hex floats, ``_`` in numbers, out-of-range values and
timestamps, fractional timestamps, invalid UTF-8 in label values and HELP,
duplicate label names, unknown or upper-case TYPE words. Stricter than
Prometheus: a raw line feed inside a quoted label value (we are line based; the
spec forbids it), a missing comma between two labels, a metric name glued to
its value (``m+1``). More lenient: a negative timestamp (the spec's own example).

Strategy: the body is split on ``\\n`` and each line is parsed on its own by
:meth:`TextLineParser.parse_line`; no state crosses lines except metadata
(TYPE/HELP) and the family type used to normalise ``le``/``quantile``. Each
line is matched whole by one compiled regex for the common shape
(``name{a="b",...} value [ts]`` with single blanks); anything else -- and every
error -- goes through the token scanner, which is the reference behaviour
(``tests/scraper/test_exposition_fuzz.py`` checks both agree).
Cost is O(length of the line) per line; nothing is ever re-scanned.
"""

from __future__ import annotations

import re

from ._lex import (
    LABEL_NAME_RE,
    METRIC_NAME_RE,
    QUOTED_RE,
    TokenError,
    canonical_labels,
    decode_utf8,
    describe,
    fast_labels,
    format_om_float,
    parse_float,
    parse_int64,
    skip_ws,
    unescape_label_value,
    unescape_text_help,
)
from .model import Metadata, MetricType

_TEXT_TYPES: dict[bytes, MetricType] = {
    b"counter": "counter",
    b"gauge": "gauge",
    b"histogram": "histogram",
    b"summary": "summary",
    b"untyped": "unknown",
}

_META_RE = re.compile(rb"#[ \t]+(HELP|TYPE)[ \t]+")
_VALUE_TOKEN_RE = re.compile(rb"[^ \t{]+")
_TS_TOKEN_RE = re.compile(rb"[^ \t]+")
_PAIR_RE = re.compile(rb'([a-zA-Z_][a-zA-Z0-9_]*)="([^"\\]*(?:\\.[^"\\]*)*)"', re.S)
_L = rb'[a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*(?:\\.[^"\\]*)*"'
# The common line: one blank between series, value and optional timestamp.
_SIMPLE_RE = re.compile(
    rb"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:" + _L + rb"(?:," + _L + rb")*,?)?\})? ([^ \t{]+)(?: ([^ \t]+))?",
    re.S,
)

# What parse_line returns for a sample line:
#   (series text, labels, value, timestamp ms or None, cache key or None)
# The cache key is the prefix that fast.py's rpartition lookup will find for
# this line, or None when the line's spacing does not fit that lookup.
SampleLine = tuple[bytes, tuple[tuple[str, str], ...], float, "int | None", "bytes | None"]


class TextLineParser:
    """Parses one line at a time, keeping the metadata seen so far."""

    def __init__(self) -> None:
        self.metadata: dict[str, Metadata] = {}
        # Family of the last TYPE line and its type, for le/quantile normalisation.
        self._type_family: str = ""
        self._type: MetricType | None = None

    def parse_line(self, line: bytes) -> SampleLine | None:
        """Parse one line (without its ``\\n``). Returns a sample, or None for
        blank, comment and metadata lines. Raises :class:`TokenError`."""
        m = _SIMPLE_RE.fullmatch(line)
        if m is not None:
            return self._simple(line, m)
        pos = skip_ws(line, 0)
        if pos == len(line):
            return None
        if line[pos] == 0x23:  # '#'
            self._comment(line, pos)
            return None
        return self._sample(line, pos)

    # -- samples ---------------------------------------------------------------

    def _simple(self, line: bytes, m: re.Match[bytes]) -> SampleLine:
        # Same order of checks as the scanner (labels, value, timestamp), so
        # that both report the same first error.
        name = m.group(1).decode("ascii")
        body = m.group(2)
        if body is None or len(body) == 2:
            labels: tuple[tuple[str, str], ...] = (("__name__", name),)
        else:
            labels = fast_labels(name, _PAIR_RE.findall(body))
            if labels is None:  # an error or a rare case: let the scanner handle it
                return self._sample(line, 0)
            if self._type is not None and len(labels) > 1:
                labels = self._normalise_all(name, labels)
        vstart = m.start(3)
        value = parse_float(m.group(3), vstart)
        ts_tok = m.group(4)
        ts = None if ts_tok is None else parse_int64(ts_tok, m.start(4))
        return (line[: m.end(2) if body is not None else m.end(1)], labels, value, ts, line[: vstart - 1])

    def _normalise_all(self, name: str, labels: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
        out = []
        changed = False
        for k, v in labels:
            if k == "le" or k == "quantile":
                nv = self._normalise(name, k.encode(), v)
                changed = changed or nv != v
                v = nv
            out.append((k, v))
        return tuple(out) if changed else labels

    def _sample(self, line: bytes, pos: int) -> SampleLine:
        n = len(line)
        m = METRIC_NAME_RE.match(line, pos)
        if m is None:
            if line[pos] == 0x7B:  # '{'
                raise TokenError("metric name missing before '{' (quoted metric names are not supported)", pos)
            raise TokenError(f"expected metric name at start of line, got {describe(line, pos)}", pos)
        start, name_end = pos, m.end()
        name = m.group().decode("ascii")
        p = skip_ws(line, name_end)
        pairs: list[tuple[str, str, int]] = []
        if p < n and line[p] == 0x7B:
            pairs, series_end = self._labels(line, p, name)
            p = skip_ws(line, series_end)
        else:
            series_end = name_end
            if p == name_end and p < n:
                raise TokenError(f'invalid character {describe(line, p)} in metric name "{name}"', p)
        labels = canonical_labels(name, pairs)
        if p >= n:
            raise TokenError(f'expected value after metric "{name}", got end of line', p)
        vm = _VALUE_TOKEN_RE.match(line, p)
        if vm is None:
            raise TokenError(f"expected value after metric, got {describe(line, p)}", p)
        vstart, vend = p, vm.end()
        value = parse_float(vm.group(), vstart)
        p = skip_ws(line, vend)
        ts = None
        key = None
        if p < n:
            tm = _TS_TOKEN_RE.match(line, p)
            ts = parse_int64(tm.group(), p)
            tend = tm.end()
            q = skip_ws(line, tend)
            if q < n:
                raise TokenError(f"unexpected {describe(line, q)} after timestamp", q)
            if tend == n and line[p - 1] == 0x20 and p - 1 == vend and line[vstart - 1] == 0x20:
                key = line[: vstart - 1]
        elif vend == n and line[vstart - 1] == 0x20:
            key = line[: vstart - 1]
        return line[start:series_end], labels, value, ts, key

    def _labels(self, line: bytes, p: int, name: str) -> tuple[list[tuple[str, str, int]], int]:
        """Scan ``{...}`` starting at the brace; return the pairs and the index
        just past ``}``."""
        n = len(line)
        pos = skip_ws(line, p + 1)
        pairs: list[tuple[str, str, int]] = []
        while True:
            if pos >= n:
                raise TokenError("unexpected end of line in label set, expected '}'", pos)
            if line[pos] == 0x7D:  # '}'
                return pairs, pos + 1
            lm = LABEL_NAME_RE.match(line, pos)
            if lm is None:
                if line[pos] == 0x22:
                    raise TokenError("quoted label names are not supported in the text format", pos)
                raise TokenError(f"expected label name or '}}', got {describe(line, pos)}", pos)
            lname = lm.group()
            lstart = pos
            pos = skip_ws(line, lm.end())
            if pos >= n or line[pos] != 0x3D:  # '='
                raise TokenError(
                    f'expected "=" after label name "{lname.decode()}", got {describe(line, pos)}', pos
                )
            pos = skip_ws(line, pos + 1)
            qm = QUOTED_RE.match(line, pos)
            if qm is None:
                if pos < n and line[pos] == 0x22:
                    raise TokenError(f'unterminated value of label "{lname.decode()}"', pos)
                raise TokenError(
                    f'expected quoted value for label "{lname.decode()}", got {describe(line, pos)}', pos
                )
            value = self._value(name, lname, qm.group(1), pos + 1)
            pairs.append((lname.decode("ascii"), value, lstart))
            pos = skip_ws(line, qm.end())
            if pos < n and line[pos] == 0x2C:  # ','
                pos = skip_ws(line, pos + 1)
            elif pos < n and line[pos] != 0x7D:
                raise TokenError(
                    f'expected "," or "}}" after value of label "{lname.decode()}", got {describe(line, pos)}',
                    pos,
                )

    def _value(self, name: str, lname: bytes, raw: bytes, offset: int) -> str:
        v = unescape_label_value(decode_utf8(raw, offset, f'value of label "{lname.decode()}"'))
        if (lname == b"le" or lname == b"quantile") and self._type is not None:
            v = self._normalise(name, lname, v)
        return v

    def _normalise(self, name: str, lname: bytes, v: str) -> str:
        """Prometheus 3 rewrites ``le`` of histograms and ``quantile`` of
        summaries to the canonical float text (``1`` -> ``1.0``), so that
        series stay the same whatever float formatting the exporter uses. We do
        it only for samples of the family the last TYPE line named."""
        fam = self._type_family
        if lname == b"le":
            if self._type != "histogram" or name != fam + "_bucket":
                return v
        elif self._type != "summary" or name != fam:
            return v
        try:
            f = parse_float(v.encode(), 0)
        except (TokenError, UnicodeEncodeError):
            return v
        return format_om_float(f)

    # -- comments and metadata -------------------------------------------------

    def _comment(self, line: bytes, pos: int) -> None:
        mm = _META_RE.match(line, pos)
        if mm is None:
            return  # a plain comment: ignored, like Prometheus (bytes not checked)
        kind = mm.group(1)
        p = mm.end()
        nm = METRIC_NAME_RE.match(line, p)
        if nm is None:
            raise TokenError(f"expected metric name after {kind.decode()}, got {describe(line, p)}", p)
        fam = nm.group().decode("ascii")
        p = nm.end()
        if p == len(line):
            text = b""
        elif line[p] in (0x20, 0x09):
            text = line[p + 1 :]
        else:
            raise TokenError(
                f'expected blank after metric name "{fam}" in {kind.decode()} line, got {describe(line, p)}', p
            )
        md = self.metadata.get(fam)
        if md is None:
            md = self.metadata[fam] = Metadata(fam)
        if kind == b"TYPE":
            t = _TEXT_TYPES.get(text)
            if t is None:
                shown = text.decode("utf-8", "replace")
                raise TokenError(f'invalid metric type "{shown}"', p + 1)
            md.type = t
            self._type_family, self._type = fam, t
        else:
            md.help = unescape_text_help(decode_utf8(text, p + 1, "help text"))
