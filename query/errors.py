"""The error type of the PromQL front end (lexer, parser, static checks).

``ParseError`` carries Prometheus's message text and the character range it
is about, and renders like Prometheus's ``ParseErr``::

    1:5: parse error: unexpected <op:*>

The position is a character offset into the query (Prometheus counts bytes;
the two differ only for non-ASCII input). ``line:col`` is 1-based, with the
column counted from the last newline before the error, as in
``posrange.PositionRange.StartPosInput``.
"""

from __future__ import annotations


class ParseError(ValueError):
    """A query that Prometheus's parser (or its static type checks) rejects.

    Attributes
    ----------
    message:
        The bare message, e.g. ``unexpected end of input``.
    position:
        ``(start, end)`` character offsets of the offending part of ``query``.
    query:
        The full query text.
    """

    def __init__(self, message: str, position: tuple[int, int] = (0, 0), query: str = ""):
        self.message = message
        self.position = position
        self.query = query
        super().__init__(self.__str__())

    def location(self) -> str:
        """``line:col`` of the error start, as Prometheus prints it."""
        if self.query == "":
            return "unknown position"
        pos = self.position[0]
        if pos < 0 or pos > len(self.query):
            return "invalid position:"
        head = self.query[:pos]
        line = head.count("\n") + 1
        col = pos - head.rfind("\n")
        return f"{line}:{col}"

    def __str__(self) -> str:
        return f"{self.location()}: parse error: {self.message}"

    def __repr__(self) -> str:
        return f"ParseError({self.message!r}, position={self.position!r})"
