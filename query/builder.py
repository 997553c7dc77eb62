"""Parse-tree callbacks: build AST nodes and run Prometheus's grammar-action checks.

lark calls these methods bottom-up while it reduces (``transformer=`` on an
LALR parser), so no parse tree is ever built. Each method corresponds to a
rule or alias in ``grammar.lark`` and receives that rule's children: lexer
``Token``s and already-built values.

The checks here are the ones Prometheus performs inside its yacc actions
(``generated_parser.y`` and the helpers it calls in ``parse.go``): unknown
functions, aggregation argument counts, trailing commas, modifiers applied
to the wrong kind of expression, non-positive literal ranges, division by a
literal zero in durations. They raise ``ParseError`` at once; since LR
parsers reduce in input order, the first one raised is the first one
Prometheus records. Type checks that Prometheus runs after parsing
(``checkAST``) live in ``checker.py``; the callbacks for range selectors,
subqueries, modifiers and duration expressions in ``builder_modifiers.py``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from lark import Token, Transformer

from tsdb.matchers import InvalidMatcherError, Matcher

from .ast import (
    AGGREGATORS_WITH_PARAM,
    EXPERIMENTAL_AGGREGATORS,
    AggregateExpr,
    BinaryExpr,
    Call,
    Cardinality,
    Expr,
    NumberLiteral,
    ParenExpr,
    StringLiteral,
    UnaryExpr,
    VectorMatching,
    VectorSelector,
)
from .builder_modifiers import ModifierCallbacks
from .durations import parse_prometheus_duration
from .errors import ParseError
from .functions import FUNCTIONS
from .numbers import parse_number
from .quoting import go_quote, is_valid_utf8
from .regex_errors import regex_error_message

# Terminal -> operator spelling used in the AST.
OP_NAMES = {
    "ADD": "+", "SUB": "-", "MUL": "*", "DIV": "/", "MOD": "%", "POW": "^", "ATAN2": "atan2",
    "EQLC": "==", "NEQ": "!=", "LTE": "<=", "LSS": "<", "GTE": ">=", "GTR": ">",
    "TRIM_UPPER": "</", "TRIM_LOWER": ">/", "LAND": "and", "LOR": "or", "LUNLESS": "unless",
}
_MATCH_OPS = {"EQL": "=", "NEQ": "!=", "EQL_REGEX": "=~", "NEQ_REGEX": "!~"}
# Binding power of binary operators (higher binds tighter); ^ is right-associative.
_PRECEDENCE = {
    "LOR": 1, "LAND": 2, "LUNLESS": 2,
    "EQLC": 3, "NEQ": 3, "LTE": 3, "LSS": 3, "GTE": 3, "GTR": 3, "TRIM_UPPER": 3, "TRIM_LOWER": 3,
    "ADD": 4, "SUB": 4, "MUL": 5, "DIV": 5, "MOD": 5, "ATAN2": 5, "POW": 6,
}
_POW_PREC = 6


@dataclass(frozen=True)
class ParseOptions:
    """Which experimental PromQL features the parser accepts.

    All default to enabled: the upstream PromQL test suite, our referee,
    runs with every one of them on. Prometheus itself defaults to off.
    """

    experimental_functions: bool = True
    duration_expressions: bool = True
    extended_range_selectors: bool = True
    binop_fill_modifiers: bool = True


@dataclass(frozen=True)
class _Grouping:
    labels: tuple[str, ...]
    end: int


@dataclass(frozen=True)
class _Body:
    args: tuple[Expr, ...]
    end: int


class Builder(ModifierCallbacks, Transformer):
    """Turns reductions into AST nodes for one query (one instance per parse)."""

    def __init__(self, query: str, options: ParseOptions):
        super().__init__(visit_tokens=False)
        self.query = query
        self.options = options

    def _fail(self, message: str, pos: tuple[int, int]) -> ParseError:
        return ParseError(message, pos, self.query)

    def _tok_range(self, tok: Token) -> tuple[int, int]:
        return (tok.start_pos, tok.end_pos)

    # -- literals -------------------------------------------------------------

    def _num_value(self, tok: Token) -> float:
        if tok.type == "DURATION":
            try:
                return parse_prometheus_duration(tok.value) / 1000.0
            except ValueError as e:
                raise self._fail(str(e), self._tok_range(tok)) from None
        try:
            return parse_number(tok.value)
        except ValueError as e:
            raise self._fail(f"error parsing number: {e}", self._tok_range(tok)) from None

    def start(self, c):
        return c[0]

    def number_literal(self, c):
        tok = c[0]
        return NumberLiteral(self._num_value(tok), tok.type == "DURATION", pos=self._tok_range(tok))

    def string_literal(self, c):
        tok = c[0]
        return StringLiteral(tok.value, pos=self._tok_range(tok))

    def paren_expr(self, c):
        return ParenExpr(c[1], pos=(c[0].start_pos, c[2].end_pos))

    def _unary(self, op: Token, e: Expr) -> Expr:
        if isinstance(e, NumberLiteral):
            value = -e.value if op.type == "SUB" else e.value
            return NumberLiteral(value, e.duration, pos=(op.start_pos, e.pos[1]))
        return UnaryExpr(OP_NAMES[op.type], e, pos=(op.start_pos, e.pos[1]))

    def _prefixed(self, ops: list[Token], e: Expr) -> Expr:
        for op in reversed(ops):
            e = self._unary(op, e)
        return e

    def unary_expr(self, c):
        return self._prefixed(c[:-1], c[-1])

    # -- binary operators -------------------------------------------------------

    def operand(self, c):
        return (c[:-1], c[-1])

    def binary_chain(self, c):
        """``operand (op modifiers operand)+`` -> a tree, by precedence climbing.

        Precedence and associativity are Prometheus's (``%left``/``%right`` in
        generated_parser.y); a unary prefix applies to its operand together with
        any ``^`` that follows it (``-a ^ b`` is ``-(a ^ b)``), like yacc's
        ``unary_op expr %prec MUL``.
        """
        operands = c[0::3]
        ops = c[1::3]
        mods = c[2::3]
        n_ops = len(ops)
        pos = 0  # index of the next operator

        def parse(min_prec: int) -> Expr:
            nonlocal pos
            prefixes, node = operands[pos]
            if prefixes:
                node = self._prefixed(prefixes, climb(node, _POW_PREC))
            return climb(node, min_prec)

        def climb(lhs: Expr, min_prec: int) -> Expr:
            nonlocal pos
            while pos < n_ops:
                op = ops[pos]
                prec = _PRECEDENCE[op.type]
                if prec < min_prec:
                    break
                mod = mods[pos]
                pos += 1
                rhs = parse(prec if prec == _POW_PREC else prec + 1)
                lhs = self._binary(lhs, op, mod, rhs)
            return lhs

        result = parse(0)
        if pos != n_ops:
            raise RuntimeError("BUG: binary chain not fully consumed")
        return result

    def _binary(self, lhs: Expr, op: Token, mod, rhs: Expr) -> Expr:
        return_bool, matching = mod
        node = BinaryExpr(OP_NAMES[op.type], lhs, rhs, return_bool, matching, pos=(lhs.pos[0], rhs.pos[1]))
        if (matching.fill_lhs is not None or matching.fill_rhs is not None) and not self.options.binop_fill_modifiers:
            raise self._fail("binop fill modifiers are experimental and not enabled", node.pos)
        return node

    def bin_mod(self, c):
        bool_tok, vm, fill = c
        matching = vm if vm is not None else VectorMatching()
        if fill is not None:
            matching = dataclasses.replace(matching, fill_lhs=fill[0], fill_rhs=fill[1])
        return (bool_tok is not None, matching)

    def vector_matching(self, c):
        on_tok, grouping, side = c
        card, include = Cardinality.ONE_TO_ONE, ()
        if side is not None:
            card, include = side
        return VectorMatching(card, on_tok.type == "ON", grouping.labels, include)

    def group_side(self, c):
        tok, grouping = c
        card = Cardinality.MANY_TO_ONE if tok.type == "GROUP_LEFT" else Cardinality.ONE_TO_MANY
        return (card, grouping.labels if grouping is not None else ())

    def fill_both(self, c):
        return (c[1], c[1])

    def fill_left(self, c):
        return (c[1], None)

    def fill_right(self, c):
        return (None, c[1])

    def fill_left_right(self, c):
        return (c[1], c[3])

    def fill_right_left(self, c):
        return (c[3], c[1])

    def fill_value(self, c):
        if len(c) == 3:
            return self._num_value(c[1])
        value = self._num_value(c[2])
        return -value if c[1].type == "SUB" else value

    # -- grouping labels --------------------------------------------------------

    def grouping_labels(self, c):
        labels: tuple[str, ...] = tuple(c[1]) if len(c) > 2 else ()
        return _Grouping(labels, c[-1].end_pos)

    def grouping_label_list(self, c):
        if len(c) == 1:
            return [c[0]]
        c[0].append(c[2])
        return c[0]

    def grouping_label(self, c):
        tok = c[0]
        name = tok.value
        if not name or not is_valid_utf8(name):
            raise self._fail(f"invalid label name for grouping: {go_quote(name)}", self._tok_range(tok))
        return name

    def grouping_mod(self, c):
        return (c[0].type == "WITHOUT", c[1])

    # -- function calls and aggregations ------------------------------------------

    def call_args(self, c):
        if len(c) == 1:
            return [c[0]]
        c[0].append(c[2])
        return c[0]

    def call_body(self, c):
        args = tuple(c[1]) if len(c) == 3 else ()
        return _Body(args, c[-1].end_pos)

    def call_body_trailing_comma(self, c):
        raise self._fail("trailing commas not allowed in function call args", self._tok_range(c[2]))

    def function_call(self, c):
        name_tok, body = c
        name = name_tok.value
        spec = FUNCTIONS.get(name)
        if spec is None:
            raise self._fail(f"unknown function with name {go_quote(name)}", self._tok_range(name_tok))
        if spec.experimental and not self.options.experimental_functions:
            raise self._fail(f"function {go_quote(name)} is not enabled", self._tok_range(name_tok))
        return Call(name, body.args, pos=(name_tok.start_pos, body.end))

    def aggregate_pre(self, c):
        op_tok, (without, grouping), body = c
        return self._aggregate(op_tok, body, without, grouping, body.end)

    def aggregate_post(self, c):
        op_tok, body, mod = c
        if mod is None:
            return self._aggregate(op_tok, body, False, None, body.end)
        without, grouping = mod
        return self._aggregate(op_tok, body, without, grouping, grouping.end)

    def _aggregate(self, op_tok: Token, body: _Body, without: bool, grouping: _Grouping | None, end: int):
        op = op_tok.value.lower()
        pos = (op_tok.start_pos, end)
        args = body.args
        if not args:
            raise self._fail("no arguments for aggregate expression provided", pos)
        wanted = 1
        param = None
        if op in AGGREGATORS_WITH_PARAM:
            if op in EXPERIMENTAL_AGGREGATORS and not self.options.experimental_functions:
                raise self._fail(
                    f"{op}() is experimental and must be enabled with --enable-feature=promql-experimental-functions",
                    pos,
                )
            wanted = 2
            param = args[0]
        if len(args) != wanted:
            raise self._fail(
                f"wrong number of arguments for aggregate expression provided, expected {wanted}, got {len(args)}",
                pos,
            )
        labels = grouping.labels if grouping is not None else ()
        return AggregateExpr(op, args[wanted - 1], param, labels, without, pos=pos)

    # -- vector selectors -----------------------------------------------------------

    def metric_identifier(self, c):
        return c[0]

    def vector_selector(self, c):
        name_tok, braces = c
        name = name_tok.value
        matchers = list(braces[0]) if braces is not None else []
        matchers.append(Matcher.eq("__name__", name))
        end = braces[2] if braces is not None else name_tok.end_pos
        return VectorSelector(name, tuple(matchers), pos=(name_tok.start_pos, end))

    def vector_selector_braces(self, c):
        matchers, start, end = c[0]
        return VectorSelector(None, tuple(matchers), pos=(start, end))

    def label_matchers(self, c):
        matchers = c[1] if len(c) > 2 else []
        return (matchers, c[0].start_pos, c[-1].end_pos)

    def label_match_list(self, c):
        if len(c) == 1:
            return [c[0]]
        c[0].append(c[2])
        return c[0]

    def label_matcher(self, c):
        name_tok, op_tok, value_tok = c
        try:
            return Matcher.parse_op(name_tok.value, _MATCH_OPS[op_tok.type], value_tok.value)
        except InvalidMatcherError:
            message = regex_error_message(value_tok.value)
            raise self._fail(message, (name_tok.start_pos, value_tok.end_pos)) from None

    def name_matcher(self, c):
        return Matcher.eq("__name__", c[0].value)
