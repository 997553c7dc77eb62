"""PromQL tokenizer, shaped like Prometheus's ``promql/parser/lex.go``.

Strategy
--------
A hand-written, stateful scanner feeds lark's LALR parser (see
``grammar.lark``: every terminal there is ``%declare``d and produced here).
Like Prometheus's lexer it does not look at the parser state; it keeps its
own modes:

* statements: the normal mode. Words are looked up case-insensitively in
  ``KEYWORDS`` (``sum``, ``by``, ``offset``, ``and`` ...); ``inf``/``nan``
  become NUMBER; ``fill``/``fill_left``/``fill_right`` are keywords only when
  the next non-space character is ``(``. A word containing ``:`` is a
  METRIC_IDENTIFIER, any other word an IDENTIFIER.
* inside ``{...}``: every word is an IDENTIFIER (keywords are plain label
  names here) and only matcher operators, strings and commas are valid.
* inside ``[...]``: a duration expression -- numbers, durations, ``+ - * / %
  ^ ( ) , :`` and the words ``step``, ``range``, ``min_of``, ``max_of``.

Invariants
----------
* Tokens are lark ``Token`` objects whose ``start_pos``/``end_pos`` are
  character offsets into the query. STRING tokens carry the *unquoted* value;
  the raw text is always ``query[start_pos:end_pos]``.
* Lexer errors raise ``ParseError`` at once, with Prometheus's message and a
  range from the start of the bad item to the end of the input, exactly where
  Prometheus's parser would report them (the lexer runs lazily, token by token,
  in step with the parser, so a syntax error earlier in the input wins).
* ``history`` keeps every token handed out; the parser uses it to phrase
  "unexpected ..." messages with Prometheus's context words.

Complexity: one pass, O(len(query)); strings without escapes are sliced, not
rebuilt.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from lark import Token

from .errors import ParseError
from .numbers import accept_remaining_duration, scan_number
from .quoting import go_quote, go_quote_rune, go_unicode_verb

_new_token = Token._future_new  # skips the deprecation shim in Token.__new__

# Keywords (lower-case spelling -> terminal). Same table as lex.go's ``key``.
KEYWORDS = {
    "and": "LAND",
    "or": "LOR",
    "unless": "LUNLESS",
    "atan2": "ATAN2",
    "sum": "SUM",
    "avg": "AVG",
    "count": "COUNT",
    "min": "MIN",
    "max": "MAX",
    "group": "GROUP",
    "stddev": "STDDEV",
    "stdvar": "STDVAR",
    "topk": "TOPK",
    "bottomk": "BOTTOMK",
    "count_values": "COUNT_VALUES",
    "quantile": "QUANTILE",
    "limitk": "LIMITK",
    "limit_ratio": "LIMIT_RATIO",
    "offset": "OFFSET",
    "smoothed": "SMOOTHED",
    "anchored": "ANCHORED",
    "by": "BY",
    "without": "WITHOUT",
    "on": "ON",
    "ignoring": "IGNORING",
    "group_left": "GROUP_LEFT",
    "group_right": "GROUP_RIGHT",
    "fill": "FILL",
    "fill_left": "FILL_LEFT",
    "fill_right": "FILL_RIGHT",
    "bool": "BOOL",
    "start": "START",
    "end": "END",
    "step": "STEP",
    "range": "RANGE",
}
_FILL_KEYWORDS = ("FILL", "FILL_LEFT", "FILL_RIGHT")
# Words allowed inside [...]; min_of/max_of are handed out as IDENTIFIERs.
_DURATION_WORDS = {"step": "STEP", "range": "RANGE", "min_of": "IDENTIFIER", "max_of": "IDENTIFIER"}

_SINGLE = {
    ",": "COMMA",
    "*": "MUL",
    "/": "DIV",
    "%": "MOD",
    "+": "ADD",
    "-": "SUB",
    "^": "POW",
    "@": "AT",
}
_DURATION_SINGLE = {
    "+": "ADD",
    "-": "SUB",
    "*": "MUL",
    "/": "DIV",
    "%": "MOD",
    "^": "POW",
    ",": "COMMA",
}
_SPACE = " \t\n\r"
_DIGITS = "0123456789"
_ALPHA = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")

_WORD_RE = re.compile(r"[a-zA-Z0-9_:]*")
_LABEL_RE = re.compile(r"[a-zA-Z0-9_]*")
_SPACE_RE = re.compile(r"[ \t\n\r]*")
_DWORD_RE = re.compile(r"[a-zA-Z_]*")
_SIMPLE_ESC = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\"}


class Lexer:
    """Iterate over the tokens of one query; see the module docstring."""

    def __init__(self, query: str):
        self.query = query
        self.history: list[Token] = []
        self._paren_depth = 0
        self._brace_open = False
        self._bracket_open = False
        self._got_colon = False
        self._got_duration = False

    # -- errors ---------------------------------------------------------------

    def _error(self, message: str, start: int) -> ParseError:
        return ParseError(message, (start, len(self.query)), self.query)

    # -- main loop --------------------------------------------------------------

    def __iter__(self) -> Iterator[Token]:
        q = self.query
        n = len(q)
        pos = 0
        history = self.history
        while True:
            # Whitespace and comments are skipped in every mode.
            while pos < n:
                c = q[pos]
                if c in _SPACE:
                    pos = _SPACE_RE.match(q, pos).end()
                elif c == "#" and not self._bracket_open:  # lex.go has no comments inside [...]
                    nl = q.find("\n", pos)
                    cr = q.find("\r", pos)
                    ends = [e for e in (nl, cr) if e >= 0]
                    pos = min(ends) if ends else n
                else:
                    break
            if self._brace_open:
                tok, pos = self._lex_braces(q, pos)
            elif self._bracket_open:
                tok, pos = self._lex_duration(q, pos)
            else:
                tok, pos = self._lex_statement(q, pos)
            history.append(tok)
            yield tok
            if tok.type == "EOF":
                return

    # -- statement mode ---------------------------------------------------------

    def _lex_statement(self, q: str, pos: int) -> tuple[Token, int]:
        n = len(q)
        if pos >= n:
            if self._paren_depth != 0:
                raise self._error("unclosed left parenthesis", pos)
            if self._bracket_open:
                raise self._error("unclosed left bracket", pos)
            return _new_token("EOF", "", pos, None, None, None, None, pos), pos
        c = q[pos]
        kind = _SINGLE.get(c)
        if kind is not None:
            return _new_token(kind, c, pos, None, None, None, None, pos + 1), pos + 1
        nxt = q[pos + 1] if pos + 1 < n else ""
        if c == "=":
            if nxt == "=":
                return _new_token("EQLC", "==", pos, None, None, None, None, pos + 2), pos + 2
            if nxt == "~":
                raise self._error(f"unexpected character after '=': {go_quote_rune(nxt)}", pos)
            return _new_token("EQL", "=", pos, None, None, None, None, pos + 1), pos + 1
        if c == "!":
            if nxt != "=":
                raise self._error(f"unexpected character after '!': {go_quote_rune(nxt)}", pos)
            return _new_token("NEQ", "!=", pos, None, None, None, None, pos + 2), pos + 2
        if c == "<" or c == ">":
            base = "LSS" if c == "<" else "GTR"
            if nxt == "=":
                return _new_token(base[0] + "TE", c + "=", pos, None, None, None, None, pos + 2), pos + 2
            if nxt == "/":
                kind = "TRIM_UPPER" if c == "<" else "TRIM_LOWER"
                return _new_token(kind, c + "/", pos, None, None, None, None, pos + 2), pos + 2
            return _new_token(base, c, pos, None, None, None, None, pos + 1), pos + 1
        if c in _DIGITS or (c == "." and nxt != "" and nxt in _DIGITS):
            return self._lex_number_or_duration(q, pos)
        if c == '"' or c == "'":
            return self._lex_string(q, pos, c)
        if c == "`":
            return self._lex_raw_string(q, pos)
        if c in _ALPHA or c == ":":
            return self._lex_word(q, pos)
        if c == "(":
            self._paren_depth += 1
            return _new_token("LEFT_PAREN", c, pos, None, None, None, None, pos + 1), pos + 1
        if c == ")":
            self._paren_depth -= 1
            if self._paren_depth < 0:
                # lex.go emits the ')' and then overwrites it with the error,
                # whose start is therefore just after the ')'.
                raise self._error("unexpected right parenthesis ')'", pos + 1)
            return _new_token("RIGHT_PAREN", c, pos, None, None, None, None, pos + 1), pos + 1
        if c == "{":
            self._brace_open = True
            return _new_token("LEFT_BRACE", c, pos, None, None, None, None, pos + 1), pos + 1
        if c == "[":
            if self._bracket_open:
                raise self._error("unexpected left bracket '['", pos)
            self._got_colon = False
            self._got_duration = False
            self._bracket_open = True
            return _new_token("LEFT_BRACKET", c, pos, None, None, None, None, pos + 1), pos + 1
        if c == "]":
            raise self._error("unexpected right bracket ']'", pos)
        raise self._error(f"unexpected character: {go_quote_rune(c)}", pos)

    def _lex_word(self, q: str, pos: int) -> tuple[Token, int]:
        end = _WORD_RE.match(q, pos + 1).end()
        word = q[pos:end]
        lower = word.lower()
        kind = KEYWORDS.get(lower)
        if kind is not None:
            if kind in _FILL_KEYWORDS and not self._followed_by_paren(q, end):
                kind = "IDENTIFIER"
        elif lower == "inf" or lower == "nan":
            kind = "NUMBER"
        elif ":" in word:
            kind = "METRIC_IDENTIFIER"
        else:
            kind = "IDENTIFIER"
        return _new_token(kind, word, pos, None, None, None, None, end), end

    @staticmethod
    def _followed_by_paren(q: str, pos: int) -> bool:
        pos = _SPACE_RE.match(q, pos).end()
        return pos < len(q) and q[pos] == "("

    # -- braces -----------------------------------------------------------------

    def _lex_braces(self, q: str, pos: int) -> tuple[Token, int]:
        n = len(q)
        if pos >= n:
            raise self._error("unexpected end of input inside braces", pos)
        c = q[pos]
        nxt = q[pos + 1] if pos + 1 < n else ""
        if c in _ALPHA:
            end = _LABEL_RE.match(q, pos + 1).end()
            return _new_token("IDENTIFIER", q[pos:end], pos, None, None, None, None, end), end
        if c == ",":
            return _new_token("COMMA", c, pos, None, None, None, None, pos + 1), pos + 1
        if c == '"' or c == "'":
            return self._lex_string(q, pos, c)
        if c == "`":
            return self._lex_raw_string(q, pos)
        if c == "=":
            if nxt == "~":
                return _new_token("EQL_REGEX", "=~", pos, None, None, None, None, pos + 2), pos + 2
            return _new_token("EQL", "=", pos, None, None, None, None, pos + 1), pos + 1
        if c == "!":
            if nxt == "~":
                return _new_token("NEQ_REGEX", "!~", pos, None, None, None, None, pos + 2), pos + 2
            if nxt == "=":
                return _new_token("NEQ", "!=", pos, None, None, None, None, pos + 2), pos + 2
            raise self._error(f"unexpected character after '!' inside braces: {go_quote_rune(nxt)}", pos)
        if c == "{":
            raise self._error("unexpected left brace '{'", pos)
        if c == "}":
            self._brace_open = False
            return _new_token("RIGHT_BRACE", c, pos, None, None, None, None, pos + 1), pos + 1
        raise self._error(f"unexpected character inside braces: {go_quote_rune(c)}", pos)

    # -- brackets (duration expressions) ----------------------------------------

    def _lex_duration(self, q: str, pos: int) -> tuple[Token, int]:
        n = len(q)
        if pos >= n:
            raise self._error("unexpected end of input in duration expression", pos)
        c = q[pos]
        if c == "]":
            self._bracket_open = False
            self._got_colon = False
            return _new_token("RIGHT_BRACKET", c, pos, None, None, None, None, pos + 1), pos + 1
        if c == ":":
            if not self._got_duration:
                raise self._error("unexpected colon before duration in duration expression", pos + 1)
            if self._got_colon:
                raise self._error("unexpected repeated colon in duration expression", pos + 1)
            self._got_colon = True
            return _new_token("COLON", c, pos, None, None, None, None, pos + 1), pos + 1
        if c == "(":
            self._paren_depth += 1
            return _new_token("LEFT_PAREN", c, pos, None, None, None, None, pos + 1), pos + 1
        if c == ")":
            self._paren_depth -= 1
            if self._paren_depth < 0:
                raise self._error("unexpected right parenthesis ')'", pos + 1)
            return _new_token("RIGHT_PAREN", c, pos, None, None, None, None, pos + 1), pos + 1
        kind = _DURATION_SINGLE.get(c)
        if kind is not None:
            return _new_token(kind, c, pos, None, None, None, None, pos + 1), pos + 1
        if c in _ALPHA:
            end = _DWORD_RE.match(q, pos + 1).end()
            word = q[pos:end].lower()
            kind = _DURATION_WORDS.get(word)
            if kind is None:
                raise self._error(f"unexpected character: {go_quote_rune(c)}, expected ':'", pos)
            self._got_duration = True
            return _new_token(kind, word if kind == "IDENTIFIER" else q[pos:end], pos, None, None, None, None, end), end
        nxt = q[pos + 1] if pos + 1 < n else ""
        if c in _DIGITS or (c == "." and nxt != "" and nxt in _DIGITS):
            self._got_duration = True
            return self._lex_number_or_duration(q, pos)
        raise self._error(f"unexpected character in duration expression: {go_quote_rune(c)}", pos)

    # -- numbers and durations --------------------------------------------------

    def _lex_number_or_duration(self, q: str, start: int) -> tuple[Token, int]:
        ok, pos = scan_number(q, start)
        if ok:
            return _new_token("NUMBER", q[start:pos], start, None, None, None, None, pos), pos
        ok, pos = accept_remaining_duration(q, pos)
        if ok:
            return _new_token("DURATION", q[start:pos], start, None, None, None, None, pos), pos
        raise self._error(f"bad number or duration syntax: {go_quote(q[start:pos])}", start)

    # -- strings ----------------------------------------------------------------

    def _lex_string(self, q: str, start: int, quote: str) -> tuple[Token, int]:
        n = len(q)
        pos = start + 1
        chunks: list[str] | None = None
        seg = pos
        while True:
            if pos >= n:
                raise self._error("unterminated quoted string", start)
            c = q[pos]
            if c == quote:
                break
            if c == "\n":
                raise self._error("unterminated quoted string", start)
            if "\ud800" <= c <= "\udfff":
                raise self._error("invalid UTF-8 rune", start)
            if c == "\\":
                if chunks is None:
                    chunks = []
                chunks.append(q[seg:pos])
                piece, pos = self._escape(q, pos + 1, quote, start)
                chunks.append(piece)
                seg = pos
                continue
            pos += 1
        if chunks is None:
            value = q[start + 1 : pos]
        else:
            chunks.append(q[seg:pos])
            value = _join_escaped(chunks)
        end = pos + 1
        return _new_token("STRING", value, start, None, None, None, None, end), end

    def _escape(self, q: str, pos: int, quote: str, start: int) -> tuple[str | bytes, int]:
        """Decode one escape after a backslash; bytes for \\x and octal escapes."""
        n = len(q)
        if pos >= n:
            raise self._error("escape sequence not terminated", start)
        c = q[pos]
        if c in _SIMPLE_ESC:
            return _SIMPLE_ESC[c], pos + 1
        if c == quote:
            return c, pos + 1
        if c in "01234567":
            digits, base, maxval, first = 3, 8, 255, pos
        elif c in "xuU":
            digits = {"x": 2, "u": 4, "U": 8}[c]
            base, maxval, first = 16, 255 if c == "x" else 0x10FFFF, pos + 1
        else:
            raise self._error(f"unknown escape sequence {go_unicode_verb(c)}", start)
        value = 0
        p = first
        for _ in range(digits):
            if p >= n:
                raise self._error("escape sequence not terminated", start)
            d = _digit_val(q[p])
            if d >= base:
                raise self._error(f"illegal character {go_unicode_verb(q[p])} in escape sequence", start)
            value = value * base + d
            p += 1
        if value > maxval or 0xD800 <= value < 0xE000:
            raise self._error("escape sequence is an invalid Unicode code point", start)
        if c == "x" or c in "01234567":
            return bytes([value]), p
        return chr(value), p

    def _lex_raw_string(self, q: str, start: int) -> tuple[Token, int]:
        end = q.find("`", start + 1)
        if end < 0:
            raise self._error("unterminated raw string", start)
        value = q[start + 1 : end]
        for ch in value:
            if "\ud800" <= ch <= "\udfff":
                raise self._error("invalid UTF-8 rune", start)
        return _new_token("STRING", value, start, None, None, None, None, end + 1), end + 1


def _join_escaped(chunks: list[str | bytes]) -> str:
    """Join decoded pieces; raw bytes from \\x/octal escapes may be invalid UTF-8."""
    if not any(isinstance(c, bytes) for c in chunks):
        return "".join(chunks)  # type: ignore[arg-type]
    buf = bytearray()
    for c in chunks:
        buf += c if isinstance(c, bytes) else c.encode("utf-8")
    return buf.decode("utf-8", "surrogateescape")


def _digit_val(ch: str) -> int:
    if "0" <= ch <= "9":
        return ord(ch) - 48
    if "a" <= ch <= "f":
        return ord(ch) - 87
    if "A" <= ch <= "F":
        return ord(ch) - 55
    return 16
