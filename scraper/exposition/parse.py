"""Whole-document parsing: bytes in, :class:`ParseResult` out.

``parse`` picks the format from the Content-Type like Prometheus'
``textparse.New``: ``application/openmetrics-text`` (any version, any
parameters, case-insensitive media type) is OpenMetrics; anything else --
``text/plain; version=0.0.4``, a missing or garbled header -- is the text
format. (Prometheus 3 fails a scrape with an unparsable Content-Type unless
``fallback_scrape_protocol`` is set; that policy belongs to the scrape loop,
which still sees the raw header.) Decompression is the transport's job.

The drivers split the body on ``\\n`` once and hand each line to the line
parser of the format; line numbers in errors are 1-based.
"""

from __future__ import annotations

from ._lex import TokenError, column_of
from .errors import ExpositionError
from .model import Format, ParseResult, SampleBuilder
from .om_rules import OMValidator
from .openmetrics import OMLineParser, OMMeta
from .text import TextLineParser

OPENMETRICS_MEDIA_TYPE = "application/openmetrics-text"


def format_for(content_type: str | None) -> Format:
    """The exposition format a scrape with this Content-Type is parsed as."""
    if content_type:
        media = content_type.split(";", 1)[0].strip().lower()
        if media == OPENMETRICS_MEDIA_TYPE:
            return "openmetrics"
    return "text"


def parse(body: bytes, content_type: str | None = None, *, strict: bool = True) -> ParseResult:
    """Parse a scraped body, choosing the format from ``content_type``.

    ``strict`` applies to OpenMetrics only: True checks the spec's semantic
    rules (``om_rules``), False checks syntax only, like Prometheus.
    """
    if format_for(content_type) == "openmetrics":
        return parse_openmetrics(body, strict=strict)
    return parse_text(body)


def parse_text(body: bytes) -> ParseResult:
    """Parse a Prometheus text format 0.0.4 exposition.

    Raises :class:`ExpositionError` on the first bad line.
    """
    parser = TextLineParser()
    out = SampleBuilder()
    add = out.add
    parse_line = parser.parse_line
    for i, line in enumerate(body.split(b"\n")):
        try:
            r = parse_line(line)
        except TokenError as e:
            raise ExpositionError(e.message, i + 1, column_of(line, e.offset)) from None
        if r is not None:
            add(r[0], r[1], r[2], r[3])
    return out.build("text", parser.metadata)


def parse_openmetrics(body: bytes, *, strict: bool = True) -> ParseResult:
    """Parse an OpenMetrics 1.0 text exposition.

    With ``strict`` (the default) the whole document must follow the spec,
    meaning included (see ``om_rules``); without it only the syntax and the
    ``# EOF`` terminator are checked, as Prometheus does.
    """
    lines = check_document(body)
    parser = OMLineParser()
    validator = OMValidator() if strict else None
    out = SampleBuilder()
    for i, line in enumerate(lines):
        try:
            r = parser.parse_line(line)
        except TokenError as e:
            raise ExpositionError(e.message, i + 1, column_of(line, e.offset)) from None
        if r is None:  # "# EOF", the last line by check_document
            break
        if isinstance(r, OMMeta):
            if validator is not None:
                validator.on_meta(r, i + 1)
            continue
        if validator is not None:
            validator.on_sample(r, i + 1)
        idx = out.add(r.series, r.labels, r.value, r.ts_ms)
        if r.exemplar is not None:
            out.exemplars[idx] = r.exemplar
    if validator is not None:
        validator.finish()
    return out.build("openmetrics", parser.metadata)


def check_document(body: bytes) -> list[bytes]:
    """Document-level OpenMetrics checks; returns the lines up to ``# EOF``.

    The body must be valid UTF-8 and its last line must be ``# EOF``,
    optionally followed by one ``\\n``; nothing may follow.
    """
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as e:
        line_start = body.rfind(b"\n", 0, e.start) + 1
        lineno = body.count(b"\n", 0, e.start) + 1
        col = column_of(body[line_start : e.start + 1], e.start - line_start)
        raise ExpositionError(f"invalid UTF-8 (byte 0x{body[e.start]:02x})", lineno, col) from None
    lines = body.split(b"\n")
    if lines[-1] == b"" and len(lines) > 1:
        lines.pop()
    if lines[-1] != b"# EOF":
        eof_at = _first_eof(lines)
        if eof_at is not None:
            raise ExpositionError("unexpected data after # EOF", eof_at + 2, 1)
        raise ExpositionError("data does not end with # EOF", len(lines))
    eof_at = _first_eof(lines)
    if eof_at is not None and eof_at != len(lines) - 1:
        raise ExpositionError("unexpected data after # EOF", eof_at + 2, 1)
    return lines


def _first_eof(lines: list[bytes]) -> int | None:
    try:
        return lines.index(b"# EOF")
    except ValueError:
        return None
