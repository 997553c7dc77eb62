"""Static checks after parsing: Prometheus's ``checkAST``, in its order.

Prometheus type-checks the finished tree only when parsing produced no error,
and reports the first error it records. ``check`` walks the tree in the same
order as ``checkAST`` (function argument counts before the arguments, binary
operands before the operator's own checks, ...) and raises the first error
as a ``ParseError``.

It also returns the tree in its final form, with the normalisations
``checkAST`` applies to binary expressions: vector matching is dropped when an
operand is not an instant vector, and set operators (``and``/``or``/``unless``)
get many-to-many cardinality.
"""

from __future__ import annotations

import dataclasses

from .ast import (
    COMPARISON_OPS,
    SET_OPS,
    AggregateExpr,
    BinaryExpr,
    Call,
    Cardinality,
    Expr,
    MatrixSelector,
    ParenExpr,
    SubqueryExpr,
    UnaryExpr,
    VectorSelector,
)
from .errors import ParseError
from .functions import FUNCTIONS
from .quoting import go_quote
from .types import ValueType

_SCALAR_PARAM_AGGS = frozenset({"topk", "bottomk", "quantile", "limitk", "limit_ratio"})
_SPACES = " \t\n\r"


class Checker:
    """Type-checks one parsed query (see module docstring)."""

    def __init__(self, query: str):
        self.query = query

    def _fail(self, message: str, pos: tuple[int, int]) -> ParseError:
        return ParseError(message, pos, self.query)

    def check(self, node: Expr, bypass_empty_matcher_check: bool = False) -> Expr:
        """Raise the first static error below ``node``; return the normalised node."""
        if isinstance(node, BinaryExpr):
            return self._binary(node)
        if isinstance(node, Call):
            return self._call(node)
        if isinstance(node, AggregateExpr):
            return self._aggregate(node)
        if isinstance(node, ParenExpr):
            inner = self.check(node.expr)
            return node if inner is node.expr else dataclasses.replace(node, expr=inner)
        if isinstance(node, UnaryExpr):
            inner = self.check(node.expr)
            t = inner.type
            if t is not ValueType.SCALAR and t is not ValueType.VECTOR:
                raise self._fail(
                    "unary expression only allowed on expressions of type scalar or instant vector, "
                    f"got {go_quote(t.documented)}",
                    node.pos,
                )
            return node if inner is node.expr else dataclasses.replace(node, expr=inner)
        if isinstance(node, SubqueryExpr):
            inner = self.check(node.expr)
            if inner.type is not ValueType.VECTOR:
                raise self._fail(f"subquery is only allowed on instant vector, got {inner.type} instead", node.pos)
            return node if inner is node.expr else dataclasses.replace(node, expr=inner)
        if isinstance(node, MatrixSelector):
            self._vector_selector(node.vector_selector, False)
            return node
        if isinstance(node, VectorSelector):
            self._vector_selector(node, bypass_empty_matcher_check)
            return node
        return node  # literals

    def _expect(self, node: Expr, want: ValueType, context: str) -> Expr:
        checked = self.check(node)
        if checked.type is not want:
            raise self._fail(
                f"expected type {want.documented} in {context}, got {checked.type.documented}", node.pos
            )
        return checked

    def _aggregate(self, node: AggregateExpr) -> Expr:
        expr = self._expect(node.expr, ValueType.VECTOR, "aggregation expression")
        param = node.param
        if node.op in _SCALAR_PARAM_AGGS:
            param = self._expect(node.param, ValueType.SCALAR, "aggregation parameter")
        elif node.op == "count_values":
            param = self._expect(node.param, ValueType.STRING, "aggregation parameter")
        if expr is node.expr and param is node.param:
            return node
        return dataclasses.replace(node, expr=expr, param=param)

    def _op_range(self, node: BinaryExpr) -> tuple[int, int]:
        """Range of the operator and its modifiers, spaces trimmed (Prometheus's ``opRange``)."""
        q = self.query
        start = node.lhs.pos[1]
        while start < len(q) and q[start] in _SPACES:
            start += 1
        end = node.rhs.pos[0] - 1
        while end > 0 and q[end] in _SPACES:
            end -= 1
        return (start, end)

    def _binary(self, node: BinaryExpr) -> Expr:
        # Walk the left spine iteratively: "a or b or c or ..." nests to the
        # left as deep as it is long, and must not hit Python's recursion limit.
        # The order of checks is unchanged (operands first, bottom-up).
        spine = [node]
        while isinstance(spine[-1].lhs, BinaryExpr):
            spine.append(spine[-1].lhs)
        lhs = self.check(spine[-1].lhs)
        for n in reversed(spine):
            lhs = self._binary_node(n, lhs)
        return lhs

    def _binary_node(self, node: BinaryExpr, lhs: Expr) -> Expr:
        rhs = self.check(node.rhs)
        lt, rt = lhs.type, rhs.type
        op = node.op
        matching = node.matching
        if node.return_bool and op not in COMPARISON_OPS:
            raise self._fail("bool modifier can only be used on comparison operators", self._op_range(node))
        if op in COMPARISON_OPS and not node.return_bool and lt is ValueType.SCALAR and rt is ValueType.SCALAR:
            raise self._fail("comparisons between scalars must use BOOL modifier", self._op_range(node))
        if matching is not None and op in SET_OPS and matching.card is Cardinality.ONE_TO_ONE:
            matching = dataclasses.replace(matching, card=Cardinality.MANY_TO_MANY)
        if matching is not None and matching.on:
            for label in matching.labels:
                if label in matching.include:
                    raise self._fail(
                        f"label {go_quote(label)} must not occur in ON and GROUP clause at once", self._op_range(node)
                    )
        if lt is not ValueType.SCALAR and lt is not ValueType.VECTOR:
            raise self._fail("binary expression must contain only scalar and instant vector types", node.lhs.pos)
        if rt is not ValueType.SCALAR and rt is not ValueType.VECTOR:
            raise self._fail("binary expression must contain only scalar and instant vector types", node.rhs.pos)
        has_fill = matching is not None and (matching.fill_lhs is not None or matching.fill_rhs is not None)
        if (lt is not ValueType.VECTOR or rt is not ValueType.VECTOR) and matching is not None:
            if matching.labels:
                raise self._fail("vector matching only allowed between instant vectors", node.pos)
            if has_fill:
                raise self._fail("filling in missing series only allowed between instant vectors", node.pos)
            matching = None
        elif op in SET_OPS and matching is not None:
            if matching.card in (Cardinality.ONE_TO_MANY, Cardinality.MANY_TO_ONE):
                raise self._fail(f"no grouping allowed for {go_quote(op)} operation", node.pos)
            if matching.card is not Cardinality.MANY_TO_MANY:
                raise self._fail("set operations must always be many-to-many", node.pos)
            if has_fill:
                raise self._fail("filling in missing series not allowed for set operators", node.pos)
        if (lt is ValueType.SCALAR or rt is ValueType.SCALAR) and op in SET_OPS:
            raise self._fail(f"set operator {go_quote(op)} not allowed in binary scalar expression", node.pos)
        if lhs is node.lhs and rhs is node.rhs and matching == node.matching:
            return node
        return dataclasses.replace(node, lhs=lhs, rhs=rhs, matching=matching)

    def _call(self, node: Call) -> Expr:
        spec = FUNCTIONS.get(node.func)
        if spec is None:
            raise RuntimeError(f"BUG: call to unknown function {node.func!r} survived parsing")
        nargs = len(node.args)
        expected = len(spec.arg_types)
        name = f'"{node.func}"'  # Go's %q of a function name (always a plain identifier)
        if spec.variadic == 0:
            if nargs != expected:
                raise self._fail(f"expected {expected} argument(s) in call to {name}, got {nargs}", node.pos)
        else:
            at_least = expected - 1
            if at_least > nargs:
                raise self._fail(f"expected at least {at_least} argument(s) in call to {name}, got {nargs}", node.pos)
            if spec.variadic > 0 and at_least + spec.variadic < nargs:
                raise self._fail(
                    f"expected at most {at_least + spec.variadic} argument(s) in call to {name}, got {nargs}", node.pos
                )
        info_labels = False
        if node.func == "info" and nargs > 1:
            second = node.args[1]
            if second.type is not ValueType.VECTOR:
                raise self._fail(
                    f"expected type instant vector in call to function {name}, got {second.type.documented}", node.pos
                )
            if isinstance(second, VectorSelector) and second.name:
                raise self._fail("expected label selectors only, got vector selector instead", second.pos)
            if not isinstance(second, VectorSelector):
                raise self._fail("expected label selectors only", second.pos)
            info_labels = True
        new_args = []
        for i, arg in enumerate(node.args):
            if i >= expected and spec.variadic == 0:
                break
            checked = self.check(arg, bypass_empty_matcher_check=info_labels and i == 1)
            want = spec.arg_type(i)
            if checked.type is not want:
                raise self._fail(
                    f"expected type {want.documented} in call to function {name}, got {checked.type.documented}",
                    arg.pos,
                )
            new_args.append(checked)
        if all(a is b for a, b in zip(new_args, node.args, strict=False)) and len(new_args) == nargs:
            return node
        return dataclasses.replace(node, args=tuple(new_args) + node.args[len(new_args):])

    def _vector_selector(self, node: VectorSelector, bypass: bool) -> None:
        if node.name:
            for m in node.matchers[:-1]:
                if m.name == "__name__":
                    raise self._fail(
                        f"metric name must not be set twice: {go_quote(node.name)} or {go_quote(m.value)}", node.pos
                    )
            return
        if bypass:
            return
        if not any(not m.matches("") for m in node.matchers):
            raise self._fail("vector selector must contain at least one non-empty matcher", node.pos)
