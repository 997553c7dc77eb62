"""The PromQL abstract syntax tree: small frozen dataclasses.

Every node has a ``type`` (a ``ValueType``, computed once at construction, the
way Prometheus's ``Expr.Type()`` does) and a ``pos``: the ``(start, end)``
character range of its source text, used for error messages and for the
``(line:col)`` in warnings. ``pos`` takes no part in equality, so two parses
of equivalent text compare equal.

Conventions (all follow Prometheus's parser):

* Operators and aggregation names are lower-case strings: ``"+"``, ``"=="``,
  ``"and"``, ``"atan2"``, ``"sum"``, ``"count_values"``.
* A vector selector's metric name written outside the braces is ``name`` and
  is also the *last* matcher (``__name__="name"``); a name written inside the
  braces (``{"my.metric"}``) is only a matcher and ``name`` is ``None``.
* Durations are integer milliseconds. A duration written as an expression
  (``[5m+1m]``, ``offset (1h*2)``, ``[step()]``) is also kept as a
  ``DurationExpr`` (``*_expr``) so it prints as written; the matching
  ``*_ms`` field holds its value when it does not depend on the query's step
  or range, and is ``None`` (ranges, steps) or ``0`` (offsets) when it does.
  ``resolve_durations`` fills those in for one query.
* Modifiers of a range selector (``offset``, ``@``, ``anchored``,
  ``smoothed``) live on its inner ``VectorSelector``.
* A unary minus directly on a number literal is folded into the literal.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Iterator
from dataclasses import dataclass, field

from tsdb.matchers import Matcher

from .functions import FUNCTIONS, FunctionSpec
from .types import ValueType

Pos = tuple[int, int]

COMPARISON_OPS = frozenset({"==", "!=", "<=", "<", ">=", ">"})
SET_OPS = frozenset({"and", "or", "unless"})
AGGREGATORS_WITH_PARAM = frozenset({"topk", "bottomk", "count_values", "quantile", "limitk", "limit_ratio"})
EXPERIMENTAL_AGGREGATORS = frozenset({"limitk", "limit_ratio"})


class Cardinality(enum.StrEnum):
    """Vector matching cardinality (Prometheus ``VectorMatchCardinality``)."""

    ONE_TO_ONE = "one-to-one"
    MANY_TO_ONE = "many-to-one"
    ONE_TO_MANY = "one-to-many"
    MANY_TO_MANY = "many-to-many"


class Expr:
    """Base class of every expression node."""

    __slots__ = ()

    @property
    def type(self) -> ValueType:  # pragma: no cover - overridden
        raise NotImplementedError


def _set_type(node: object, t: ValueType) -> None:
    object.__setattr__(node, "_type", t)


def _type_property(self) -> ValueType:
    return self._type


def _type_field() -> ValueType:
    # A fresh Field per use: dataclasses mutate the Field objects they collect.
    return field(default=ValueType.NONE, init=False, compare=False, repr=False)


def _pos_field() -> Pos:
    return field(default=(0, 0), compare=False, repr=False)


@dataclass(frozen=True, eq=False)
class NumberLiteral(Expr):
    """A float literal. ``duration`` marks one written as a duration (``5m``)."""

    value: float
    duration: bool = False
    pos: Pos = _pos_field()

    type = property(lambda self: ValueType.SCALAR)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, NumberLiteral):
            return NotImplemented
        same = self.value == other.value or (math.isnan(self.value) and math.isnan(other.value))
        return same and self.duration == other.duration

    def __hash__(self) -> int:
        return hash(("num", "nan" if math.isnan(self.value) else self.value, self.duration))


@dataclass(frozen=True)
class StringLiteral(Expr):
    value: str
    pos: Pos = _pos_field()

    type = property(lambda self: ValueType.STRING)


@dataclass(frozen=True)
class DurationExpr(Expr):
    """Arithmetic on durations, in seconds: ``5m+1m``, ``step()*2``, ``min_of(a, b)``.

    ``op`` is one of ``+ - * / % ^`` (``lhs`` is ``None`` for unary ``-``/``+``),
    ``step``, ``range`` (no operands) or ``min_of``/``max_of``. Operands are
    ``NumberLiteral`` (seconds) or ``DurationExpr``. ``wrapped`` records
    parentheses so that the expression prints as written.
    """

    op: str
    lhs: DurationExpr | NumberLiteral | None = None
    rhs: DurationExpr | NumberLiteral | None = None
    wrapped: bool = False
    pos: Pos = _pos_field()

    type = property(lambda self: ValueType.SCALAR)

    @property
    def is_constant(self) -> bool:
        """False when the value depends on the query (``step()``, ``range()``)."""
        if self.op in ("step", "range"):
            return False
        return all(c is None or isinstance(c, NumberLiteral) or c.is_constant for c in (self.lhs, self.rhs))

    def evaluate(self, step_s: float = 0.0, range_s: float = 0.0) -> float:
        """Value in seconds, given the query's step and range (``end - start``).

        Raises ``ZeroDivisionError`` with Prometheus's text for ``x/0`` and ``x%0``.
        """
        op = self.op
        if op == "step":
            return step_s
        if op == "range":
            return range_s
        rhs = _dur_value(self.rhs, step_s, range_s)
        if self.lhs is None:
            return -rhs if op == "-" else rhs
        lhs = _dur_value(self.lhs, step_s, range_s)
        if op == "+":
            return lhs + rhs
        if op == "-":
            return lhs - rhs
        if op == "*":
            return lhs * rhs
        if op == "/":
            if rhs == 0:
                raise ZeroDivisionError("division by zero")
            return lhs / rhs
        if op == "%":
            if rhs == 0:
                raise ZeroDivisionError("modulo by zero")
            return math.fmod(lhs, rhs)
        if op == "^":
            return go_pow(lhs, rhs)
        if op == "min_of":
            return math.nan if math.isnan(lhs) or math.isnan(rhs) else min(lhs, rhs)
        if op == "max_of":
            return math.nan if math.isnan(lhs) or math.isnan(rhs) else max(lhs, rhs)
        raise RuntimeError(f"BUG: unknown duration operator {op!r}")

    def evaluate_ms(self, step_ms: int = 0, range_ms: int = 0) -> int:
        """``evaluate`` in milliseconds, truncated like Prometheus's ``time.Duration(x*1000)``."""
        seconds = self.evaluate(step_ms / 1000.0, range_ms / 1000.0)
        if not math.isfinite(seconds):
            raise OverflowError("duration is out of range")
        return int(seconds * 1000)


def _dur_value(node: DurationExpr | NumberLiteral | None, step_s: float, range_s: float) -> float:
    if node is None:
        raise RuntimeError("BUG: duration expression without operand")
    if isinstance(node, NumberLiteral):
        return node.value
    return node.evaluate(step_s, range_s)


def go_pow(a: float, b: float) -> float:
    """``math.Pow`` with Go's results where Python raises (overflow, 0**-1, ...)."""
    odd_int = math.isfinite(b) and float(b).is_integer() and int(b) % 2 == 1
    try:
        return math.pow(a, b)
    except OverflowError:
        return -math.inf if a < 0 and odd_int else math.inf
    except ValueError:
        if a == 0 and b < 0:
            return -math.inf if odd_int and math.copysign(1.0, a) < 0 else math.inf
        return math.nan


AtValue = int | str | None
"""``@`` modifier: a timestamp in ms, ``"start"``, ``"end"``, or ``None``."""


@dataclass(frozen=True)
class VectorSelector(Expr):
    name: str | None
    matchers: tuple[Matcher, ...]
    offset_ms: int = 0
    at: AtValue = None
    offset_expr: DurationExpr | None = None
    anchored: bool = False
    smoothed: bool = False
    pos: Pos = _pos_field()

    type = property(lambda self: ValueType.VECTOR)


@dataclass(frozen=True)
class MatrixSelector(Expr):
    vector_selector: VectorSelector
    range_ms: int | None
    range_expr: DurationExpr | None = None
    pos: Pos = _pos_field()

    type = property(lambda self: ValueType.MATRIX)


@dataclass(frozen=True)
class SubqueryExpr(Expr):
    """``expr[range:step]``; ``step_ms`` ``None`` means the engine's default step."""

    expr: Expr
    range_ms: int | None
    step_ms: int | None = None
    offset_ms: int = 0
    at: AtValue = None
    range_expr: DurationExpr | None = None
    step_expr: DurationExpr | None = None
    offset_expr: DurationExpr | None = None
    pos: Pos = _pos_field()

    type = property(lambda self: ValueType.MATRIX)


@dataclass(frozen=True)
class Call(Expr):
    func: str
    args: tuple[Expr, ...]
    pos: Pos = _pos_field()

    @property
    def function(self) -> FunctionSpec:
        return FUNCTIONS[self.func]

    @property
    def type(self) -> ValueType:
        spec = FUNCTIONS.get(self.func)
        return spec.return_type if spec is not None else ValueType.NONE


@dataclass(frozen=True)
class AggregateExpr(Expr):
    op: str
    expr: Expr
    param: Expr | None = None
    grouping: tuple[str, ...] = ()
    without: bool = False
    pos: Pos = _pos_field()

    type = property(lambda self: ValueType.VECTOR)


@dataclass(frozen=True)
class VectorMatching:
    """How a binary operation between two vectors pairs up their series.

    ``labels`` are the ``on``/``ignoring`` labels (``on`` tells which),
    ``include`` the ``group_left``/``group_right`` extra labels;
    ``fill_lhs``/``fill_rhs`` are the experimental ``fill*()`` values.
    """

    card: Cardinality = Cardinality.ONE_TO_ONE
    on: bool = False
    labels: tuple[str, ...] = ()
    include: tuple[str, ...] = ()
    fill_lhs: float | None = None
    fill_rhs: float | None = None


@dataclass(frozen=True)
class BinaryExpr(Expr):
    """``lhs op rhs``. ``matching`` is ``None`` unless both sides are vectors."""

    op: str
    lhs: Expr
    rhs: Expr
    return_bool: bool = False
    matching: VectorMatching | None = None
    pos: Pos = _pos_field()
    _type: ValueType = _type_field()

    def __post_init__(self) -> None:
        scalar = self.lhs.type is ValueType.SCALAR and self.rhs.type is ValueType.SCALAR
        _set_type(self, ValueType.SCALAR if scalar else ValueType.VECTOR)

    type = property(_type_property)


@dataclass(frozen=True)
class UnaryExpr(Expr):
    op: str
    expr: Expr
    pos: Pos = _pos_field()
    _type: ValueType = _type_field()

    def __post_init__(self) -> None:
        _set_type(self, self.expr.type)

    type = property(_type_property)


@dataclass(frozen=True)
class ParenExpr(Expr):
    expr: Expr
    pos: Pos = _pos_field()
    _type: ValueType = _type_field()

    def __post_init__(self) -> None:
        _set_type(self, self.expr.type)

    type = property(_type_property)


def children(node: Expr) -> Iterator[Expr]:
    """The direct sub-expressions of ``node`` (duration expressions excluded)."""
    if isinstance(node, BinaryExpr):
        yield node.lhs
        yield node.rhs
    elif isinstance(node, AggregateExpr):
        if node.param is not None:
            yield node.param
        yield node.expr
    elif isinstance(node, Call):
        yield from node.args
    elif isinstance(node, (ParenExpr, UnaryExpr, SubqueryExpr)):
        yield node.expr
    elif isinstance(node, MatrixSelector):
        yield node.vector_selector


def walk(node: Expr) -> Iterator[Expr]:
    """All nodes of the tree, parents before children (iterative, any depth)."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(list(children(n))))


def _duration_operands(node: Expr) -> Iterator[DurationExpr | NumberLiteral]:
    """The duration expressions a node carries (``offset (1h*2)``, ``[5m+1m]``, ``[1h:step()]``) or combines."""
    if isinstance(node, DurationExpr):
        for c in (node.lhs, node.rhs):
            if c is not None:
                yield c
    elif isinstance(node, VectorSelector):
        if node.offset_expr is not None:
            yield node.offset_expr
    elif isinstance(node, MatrixSelector):
        if node.range_expr is not None:
            yield node.range_expr
    elif isinstance(node, SubqueryExpr):
        for c in (node.range_expr, node.step_expr, node.offset_expr):
            if c is not None:
                yield c


def nesting_depth(node: Expr, limit: int) -> int:
    """How deeply the passes over ``node`` recurse, counted iteratively; stops early past ``limit``.

    Every pass over the tree (type checks, duration resolution, evaluation,
    printing) recurses into children, except along the *left spine* of binary
    expressions, which each pass walks with a loop: ``a or b or c or ...``
    nests to the left as deep as it is long, and Grafana builds such chains by
    the thousand. So a binary node's ``lhs`` counts at its parent's depth and
    everything else (``rhs``, arguments, operands, duration expressions) one
    deeper. The parser refuses trees deeper than its limit, which keeps every
    recursive pass far from Python's recursion limit whatever the input.
    Returns the depth, or the first depth found above ``limit``.
    """
    deepest = 0
    stack: list[tuple[Expr, int]] = [(node, 1)]
    while stack:
        n, d = stack.pop()
        if d > deepest:
            deepest = d
            if d > limit:
                return d
        if isinstance(n, BinaryExpr):
            stack.append((n.lhs, d))
            stack.append((n.rhs, d + 1))
            continue
        for c in children(n):
            stack.append((c, d + 1))
        for c in _duration_operands(n):
            stack.append((c, d + 1))
    return deepest


def resolve_durations(node: Expr, step_ms: int, range_ms: int) -> Expr:
    """Evaluate every ``DurationExpr`` for one query; return the updated tree.

    This is Prometheus's ``PreprocessExpr`` duration step: ``step()`` is the
    query step and ``range()`` its ``end - start`` (both 0 for an instant
    query). Raises ``ValueError`` with Prometheus's messages ("duration must be
    greater than 0", "division by zero", ...) when a value is invalid.
    """

    def dur(e: DurationExpr, allow_negative: bool) -> int:
        try:
            ms = e.evaluate_ms(step_ms, range_ms)
        except ZeroDivisionError as err:
            raise ValueError(str(err)) from None
        except OverflowError as err:
            raise ValueError(str(err)) from None
        if ms <= 0 and not allow_negative:
            raise ValueError("duration must be greater than 0")
        return ms

    def rec(n: Expr) -> Expr:
        if isinstance(n, (NumberLiteral, StringLiteral)):
            return n
        if isinstance(n, VectorSelector):
            if n.offset_expr is not None:
                return dataclasses.replace(n, offset_ms=dur(n.offset_expr, True))
            return n
        if isinstance(n, MatrixSelector):
            vs = rec(n.vector_selector)
            rng = dur(n.range_expr, False) if n.range_expr is not None else n.range_ms
            if vs is n.vector_selector and rng == n.range_ms:
                return n
            return dataclasses.replace(n, vector_selector=vs, range_ms=rng)
        if isinstance(n, SubqueryExpr):
            return dataclasses.replace(
                n,
                expr=rec(n.expr),
                range_ms=dur(n.range_expr, False) if n.range_expr is not None else n.range_ms,
                step_ms=dur(n.step_expr, False) if n.step_expr is not None else n.step_ms,
                offset_ms=dur(n.offset_expr, True) if n.offset_expr is not None else n.offset_ms,
            )
        if isinstance(n, BinaryExpr):  # the left spine in a loop (see nesting_depth)
            spine = [n]
            while isinstance(spine[-1].lhs, BinaryExpr):
                spine.append(spine[-1].lhs)
            lhs = rec(spine[-1].lhs)
            for b in reversed(spine):
                lhs = dataclasses.replace(b, lhs=lhs, rhs=rec(b.rhs))
            return lhs
        if isinstance(n, AggregateExpr):
            return dataclasses.replace(n, expr=rec(n.expr), param=None if n.param is None else rec(n.param))
        if isinstance(n, Call):
            return dataclasses.replace(n, args=tuple(rec(a) for a in n.args))
        if isinstance(n, (ParenExpr, UnaryExpr)):
            return dataclasses.replace(n, expr=rec(n.expr))
        return n

    if not any(_has_duration_expr(n) for n in walk(node)):
        return node
    return rec(node)


def _has_duration_expr(n: Expr) -> bool:
    if isinstance(n, VectorSelector):
        return n.offset_expr is not None
    if isinstance(n, MatrixSelector):
        return n.range_expr is not None or n.vector_selector.offset_expr is not None
    if isinstance(n, SubqueryExpr):
        return n.range_expr is not None or n.step_expr is not None or n.offset_expr is not None
    return False


__all__ = [
    "AggregateExpr", "AtValue", "BinaryExpr", "Call", "Cardinality", "DurationExpr", "Expr",
    "MatrixSelector", "NumberLiteral", "ParenExpr", "StringLiteral", "SubqueryExpr", "UnaryExpr",
    "ValueType", "VectorMatching", "VectorSelector", "children", "go_pow", "resolve_durations", "walk",
    "COMPARISON_OPS", "SET_OPS", "AGGREGATORS_WITH_PARAM", "EXPERIMENTAL_AGGREGATORS",
]
