"""PromQL parser: text -> typed AST (``query.ast``), with Prometheus's checks.

Pipeline, one pass each:

1. ``lexing.Lexer`` tokenizes lazily (Prometheus's lexer rules and errors);
2. lark's LALR(1) parser (``grammar.lark``) drives ``builder.Builder``
   callbacks that build AST nodes and run the checks Prometheus performs in
   its grammar actions;
3. ``checker.Checker`` runs Prometheus's ``checkAST`` type checks and
   normalises binary-operator matching.

Every failure is a ``ParseError`` (a ``ValueError``) with Prometheus's message
and the offending character range; ``str(err)`` reads like Prometheus's
``1:5: parse error: unexpected <op:*>``. Syntax errors are phrased from the
unexpected token and its context, the way Prometheus's ``unexpected()`` does
(``unexpected "}" in label matching, expected string``).

The LALR tables are built once per thread (lark parser objects carry
per-parse state); parsing itself does not re-read the grammar.

Depth: lark's LALR parser keeps its stack in a list, so any text parses; the
passes after it recurse, except along left-nested binary chains
(``ast.nesting_depth``). A tree nested deeper than ``MAX_NESTING`` is refused
with "expression too deeply nested" (a ``ParseError``: 400 from the API), so
that no pass meets Python's recursion limit (Prometheus has no such limit; Go's
stacks grow). Chains like ``a or b or c ...`` or ``1+1+...`` may be as long as
the query-length limit allows. Parsing is linear in the text, about 20 µs a token
(a 20,000-term ``1+1+...`` takes 0.8 s), so a long query belongs on a worker
thread, not on an event loop.
"""

from __future__ import annotations

import functools
import threading
from pathlib import Path

from lark import Lark, Token
from lark.exceptions import UnexpectedInput, UnexpectedToken
from lark.lexer import Lexer as _LarkLexerBase

from .ast import Expr, nesting_depth
from .builder import OP_NAMES, Builder, ParseOptions
from .checker import Checker
from .durations import format_duration, parse_duration
from .errors import ParseError
from .lexing import Lexer
from .printer import expr_to_string, format_expr
from .quoting import go_quote, go_quote_truncated

__all__ = [
    "ParseError", "ParseOptions", "parse_expr", "parse_duration", "format_expr", "expr_to_string",
    "format_duration",
]

GRAMMAR_PATH = Path(__file__).with_name("grammar.lark")
MAX_NESTING = 200
"""Deepest nesting accepted (parentheses, calls, aggregations, right operands, ...).

Each level costs each recursive pass two to four Python frames; 200 levels
stay well inside the default recursion limit of 1,000 from any caller (a
worker thread, pytest, an aiohttp handler), and far beyond any real query."""
CACHE_MAX_TEXT = 4096
"""Longer texts are parsed on each call, not memoised: a cache of huge trees would hold memory for nothing."""
TOO_DEEP = "expression too deeply nested"
_DEFAULT_OPTIONS = ParseOptions()


class _Context(threading.local):
    lark: Lark | None = None
    builder: Builder | None = None
    lexer: Lexer | None = None


_ctx = _Context()


class _LexerAdapter(_LarkLexerBase):
    """Hands lark the tokens of ``lexing.Lexer`` and remembers the lexer for error messages."""

    __future_interface__ = 0

    def __init__(self, lexer_conf) -> None:  # lark's Lexer API; nothing to configure
        pass

    def lex(self, text: str):  # type: ignore[override]
        lexer = Lexer(text)
        _ctx.lexer = lexer
        return iter(lexer)


def _lark() -> tuple[Lark, Builder]:
    if _ctx.lark is None:
        builder = Builder("", _DEFAULT_OPTIONS)
        _ctx.lark = Lark(
            GRAMMAR_PATH.read_text(),
            parser="lalr",
            lexer=_LexerAdapter,
            transformer=builder,
            maybe_placeholders=True,
        )
        _ctx.builder = builder
    return _ctx.lark, _ctx.builder  # type: ignore[return-value]


@functools.lru_cache(maxsize=1024)
def _parse_expr_memo(text: str) -> Expr:
    return parse_expr(text)


def parse_expr_cached(text: str) -> Expr:
    """``parse_expr`` with default options, memoised: dashboards repeat the same queries and the AST is immutable.

    Only texts up to ``CACHE_MAX_TEXT`` characters are kept (see there).
    """
    if len(text) > CACHE_MAX_TEXT:
        return parse_expr(text)
    return _parse_expr_memo(text)


def _too_deep(text: str) -> ParseError:
    return ParseError(f"{TOO_DEEP} (at most {MAX_NESTING} levels)", (0, len(text)), text)


def parse_expr(text: str, options: ParseOptions | None = None) -> Expr:
    """Parse a PromQL expression; raise ``ParseError`` where Prometheus would.

    ``options`` selects the experimental features (all enabled by default,
    as in Prometheus's own PromQL test suite).
    """
    lark, builder = _lark()
    builder.query = text
    builder.options = options or _DEFAULT_OPTIONS
    try:
        tree = lark.parse(text)
    except UnexpectedToken as e:
        raise _unexpected(text, e) from None
    except UnexpectedInput as e:  # pragma: no cover - the custom lexer never raises these
        raise ParseError(f"unexpected input: {e}", (0, len(text)), text) from None
    except RecursionError:  # backstop: lark itself does not recurse per level
        raise _too_deep(text) from None
    if nesting_depth(tree, MAX_NESTING) > MAX_NESTING:
        raise _too_deep(text)
    try:
        return Checker(text).check(tree)
    except RecursionError:  # backstop: nesting_depth bounds the Checker's recursion
        raise _too_deep(text) from None


# -- "unexpected ..." messages -----------------------------------------------------

_KEYWORD_TYPES = frozenset(
    {"BOOL", "BY", "WITHOUT", "ON", "IGNORING", "GROUP_LEFT", "GROUP_RIGHT", "OFFSET", "ANCHORED",
     "SMOOTHED", "FILL", "FILL_LEFT", "FILL_RIGHT"}
)
_AGGREGATOR_TYPES = frozenset(
    {"AVG", "BOTTOMK", "COUNT", "COUNT_VALUES", "GROUP", "MAX", "MIN", "QUANTILE", "STDDEV", "STDVAR",
     "SUM", "TOPK", "LIMITK", "LIMIT_RATIO"}
)
_OPERATOR_TYPES = frozenset(OP_NAMES) | {"EQL_REGEX", "NEQ_REGEX", "AT"}
_PUNCTUATION = frozenset(
    {"LEFT_PAREN", "RIGHT_PAREN", "LEFT_BRACE", "RIGHT_BRACE", "LEFT_BRACKET", "RIGHT_BRACKET",
     "COMMA", "EQL", "COLON", "START", "END", "STEP", "RANGE"}
)
_TYPE_DESC = {
    "IDENTIFIER": "identifier",
    "METRIC_IDENTIFIER": "metric identifier",
    "STRING": "string",
    "NUMBER": "number",
    "DURATION": "duration",
}
_GROUPING_KEYWORDS = frozenset({"BY", "WITHOUT", "ON", "IGNORING", "GROUP_LEFT", "GROUP_RIGHT"})
_MATCH_OP_TYPES = frozenset({"EQL", "NEQ", "EQL_REGEX", "NEQ_REGEX"})
_DURATION_EXPECTED = "number, duration, step(), or range()"


def describe_token(tok: Token, query: str) -> str:
    """Prometheus's ``Item.desc()``: ``<op:*>``, ``identifier "foo"``, ``"("``, ``end of input``."""
    t = tok.type
    raw = query[tok.start_pos : tok.end_pos]
    if t == "EOF":
        return "end of input"
    if t in ("IDENTIFIER", "METRIC_IDENTIFIER"):
        return f"{_TYPE_DESC[t]} {go_quote(raw)}"
    if t in _KEYWORD_TYPES:
        return f"<{raw}>"
    if t in _OPERATOR_TYPES:
        return f"<op:{raw}>"
    if t in _AGGREGATOR_TYPES:
        return f"<aggr:{raw}>"
    quoted = go_quote_truncated(raw) + "..." if len(raw) > 10 else go_quote(raw)
    if t in _PUNCTUATION:
        return quoted
    return f"{_TYPE_DESC.get(t, t.lower())} {quoted}"


def _open_group(history: list[Token], closer: str, opener: str) -> int | None:
    """Index of the innermost unclosed ``opener`` before the last token, if any."""
    depth = 0
    for i in range(len(history) - 2, -1, -1):
        t = history[i].type
        if t == closer:
            depth += 1
        elif t == opener:
            if depth == 0:
                return i
            depth -= 1
    return None


def _context(history: list[Token], expected: set[str]) -> tuple[str, str]:
    """``(context, expected)`` words for the last token of ``history``, as Prometheus phrases them."""
    prev = history[-2].type if len(history) >= 2 else ""
    prev2 = history[-3].type if len(history) >= 3 else ""
    if _open_group(history, "RIGHT_BRACE", "LEFT_BRACE") is not None:
        if prev in ("LEFT_BRACE", "COMMA"):
            return "label matching", 'identifier or "}"'
        if prev == "IDENTIFIER":
            return "label matching", "label matching operator"
        if prev in _MATCH_OP_TYPES:
            return "label matching", "string"
        return "label matching", '"," or "}"'
    bracket = _open_group(history, "RIGHT_BRACKET", "LEFT_BRACKET")
    if bracket is not None:
        inside = [tok.type for tok in history[bracket + 1 : -1]]
        if "COLON" not in inside:
            if "RIGHT_BRACKET" in expected:
                return "subquery or range", '":" or "]"'
            return "subquery or range selector", _DURATION_EXPECTED
        if prev != "COLON" and "RIGHT_BRACKET" in expected:
            return "subquery selector", '"]"'
        return "subquery selector", 'number, duration, step(), range(), or "]"'
    paren = _open_group(history, "RIGHT_PAREN", "LEFT_PAREN")
    if paren is not None and paren > 0 and history[paren - 1].type in _GROUPING_KEYWORDS:
        if prev in ("LEFT_PAREN", "COMMA"):
            return "grouping opts", "label"
        return "grouping opts", '"," or ")"'
    if prev in ("ON", "IGNORING") or (prev in ("BY", "WITHOUT") and prev2 in _AGGREGATOR_TYPES | {"RIGHT_PAREN"}):
        return "grouping opts", '"("'
    if prev == "OFFSET" or (prev in ("ADD", "SUB") and prev2 == "OFFSET"):
        return "offset", _DURATION_EXPECTED
    if prev == "AT" or (prev in ("ADD", "SUB", "START", "END") and prev2 == "AT"):
        return "@", "timestamp"
    if prev == "RIGHT_PAREN":
        opener = _open_group(history[:-1], "RIGHT_PAREN", "LEFT_PAREN")
        if opener is not None and opener >= 2 and history[opener - 1].type in ("BY", "WITHOUT"):
            if history[opener - 2].type in _AGGREGATOR_TYPES:
                return "aggregation", ""
    return "", ""


def _unexpected(query: str, e: UnexpectedToken) -> ParseError:
    tok = e.token
    history = _ctx.lexer.history if _ctx.lexer is not None else [tok]
    # After "offset" an identifier can only start min_of(...)/max_of(...);
    # Prometheus rejects any other word right there.
    for k in (len(history) - 2, len(history) - 3):
        if k >= 1 and history[k].type == "IDENTIFIER" and history[k].value not in ("min_of", "max_of"):
            before = [t.type for t in history[max(0, k - 2) : k]]
            if before[-1:] == ["OFFSET"] or (before[-1:] in (["ADD"], ["SUB"]) and before[:1] == ["OFFSET"]):
                history = history[: k + 1]
                tok = history[k]
                break
    if tok.type == "EOF" and len(history) == 1:
        return ParseError("no expression found in input", (0, 0), query)
    context, expected = _context(history, set(e.expected))
    message = "unexpected " + describe_token(tok, query)
    if context:
        message += " in " + context
    if expected:
        message += ", expected " + expected
    return ParseError(message, (tok.start_pos, tok.end_pos), query)
