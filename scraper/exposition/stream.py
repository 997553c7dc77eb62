"""Incremental (sans-IO) parsing: ``feed(bytes)`` as the body arrives, then ``close()``.

Like h11's readers, this object does no I/O: the transport hands it whatever
chunks it received, in any sizes, and gets the same result (or the same kind
of error) as parsing the whole body at once. Complete lines are parsed as soon
as their ``\\n`` arrives, so a bad line fails the scrape before the rest of the
body is read.

Complexity: each byte is copied at most twice (into the pending list, then
into the joined line), so feeding a body byte by byte is O(n), not O(n^2):
pieces without a newline are only appended to a list until one arrives.
OpenMetrics' UTF-8 rule is checked per line, which is equivalent to checking
the whole document because ``\\n`` never occurs inside a multi-byte sequence.
"""

from __future__ import annotations

from ._lex import TokenError, column_of
from .errors import ExpositionError
from .model import Format, ParseResult, SampleBuilder
from .om_rules import OMValidator
from .openmetrics import EOF_LINE, OMLineParser, OMMeta
from .text import TextLineParser


class StreamParser:
    """Parse an exposition fed in pieces. One instance per body."""

    def __init__(self, fmt: Format = "text", *, strict: bool = True):
        self.format: Format = fmt
        self._om = fmt == "openmetrics"
        self._parser = OMLineParser() if self._om else TextLineParser()
        self._validator = OMValidator() if self._om and strict else None
        self._out = SampleBuilder()
        self._pending: list[bytes] = []
        self._lineno = 0
        self._eof_line = 0  # line number of "# EOF", 0 while not seen
        self._closed = False

    def feed(self, data: bytes) -> None:
        """Take the next piece of the body. Raises :class:`ExpositionError` as
        soon as a complete line is bad."""
        if self._closed:
            raise ValueError("feed() after close()")
        if b"\n" not in data:
            if data:
                self._pending.append(data)
            return
        if self._pending:
            self._pending.append(data)
            data = b"".join(self._pending)
            self._pending.clear()
        lines = data.split(b"\n")
        tail = lines.pop()
        if tail:
            self._pending.append(tail)
        for line in lines:
            self._line(line)

    def close(self) -> ParseResult:
        """End of body: parse the last (unterminated) line and run the
        end-of-document checks."""
        if self._closed:
            raise ValueError("close() called twice")
        self._closed = True
        tail = b"".join(self._pending)
        self._pending.clear()
        if self._om:
            if tail:
                self._line(tail)
            if not self._eof_line:
                raise ExpositionError("data does not end with # EOF", max(self._lineno, 1))
            if self._validator is not None:
                self._validator.finish()
            return self._out.build("openmetrics", self._parser.metadata)
        self._line(tail)
        return self._out.build("text", self._parser.metadata)

    def _line(self, line: bytes) -> None:
        self._lineno += 1
        lineno = self._lineno
        if self._om:
            if self._eof_line:
                raise ExpositionError("unexpected data after # EOF", lineno, 1)
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as e:
                raise ExpositionError(
                    f"invalid UTF-8 (byte 0x{line[e.start]:02x})", lineno, column_of(line, e.start)
                ) from None
            if line == EOF_LINE:
                self._eof_line = lineno
                return
        try:
            r = self._parser.parse_line(line)
        except TokenError as e:
            raise ExpositionError(e.message, lineno, column_of(line, e.offset)) from None
        if r is None:
            return
        if not self._om:
            self._out.add(r[0], r[1], r[2], r[3])
            return
        if isinstance(r, OMMeta):
            if self._validator is not None:
                self._validator.on_meta(r, lineno)
            return
        if self._validator is not None:
            self._validator.on_sample(r, lineno)
        idx = self._out.add(r.series, r.labels, r.value, r.ts_ms)
        if r.exemplar is not None:
            self._out.exemplars[idx] = r.exemplar
