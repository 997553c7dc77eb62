"""Print an AST back to PromQL, the way Prometheus does.

``expr_to_string`` is Prometheus's ``Expr.String()`` (one line: canonical
spacing, matchers sorted, ``sum by (job) (x)`` with the grouping first,
durations as ``1h30m``, ``@`` timestamps with three decimals).
``format_expr`` is ``parser.Prettify`` as used by ``/api/v1/format_query``:
a node that prints longer than 100 characters is split over several lines,
children indented by two spaces.

Round trip: ``parse_expr(expr_to_string(e))`` gives back ``e`` up to the
order of label matchers (which are printed sorted) and positions.

Cost: both are linear in the size of their output. Left-nested binary chains
(``1+1+...``, ``a or b or ...``) are walked with loops, not recursion, and
``format_expr`` decides which nodes to split from one bottom-up pass
(``_short_strings``) instead of printing every subtree again at every level,
which made it quadratic. Prettified output itself can be quadratic in the
input: each split level of a left-nested chain indents its operands two more
spaces, so 20,000 terms would print as 800 MB. ``format_expr`` therefore stops
at ``MAX_PRETTY_BYTES`` and answers the one-line form instead (Prometheus has
no such bound).
"""

from __future__ import annotations

from .ast import (
    AGGREGATORS_WITH_PARAM,
    AggregateExpr,
    BinaryExpr,
    Call,
    Cardinality,
    DurationExpr,
    Expr,
    MatrixSelector,
    NumberLiteral,
    ParenExpr,
    StringLiteral,
    SubqueryExpr,
    UnaryExpr,
    VectorMatching,
    VectorSelector,
    children,
)
from .durations import format_duration
from .quoting import format_float, go_quote

MAX_LINE = 100
_INDENT = "  "
MAX_PRETTY_BYTES = 1 << 20
"""Largest prettified text ``format_expr`` builds; beyond it, the one-line form (see the module docstring)."""


def _is_legacy_label(name: str) -> bool:
    if not name or not (name[0].isascii() and (name[0].isalpha() or name[0] == "_")):
        return False
    return all(c.isascii() and (c.isalnum() or c == "_") for c in name)


def _label(name: str) -> str:
    return name if _is_legacy_label(name) else go_quote(name)


def _labels(names: tuple[str, ...]) -> str:
    return ", ".join(_label(n) for n in names)


def _matcher(m) -> str:
    return f"{_label(m.name)}{m.type.value}{go_quote(m.value)}"


def _number(n: NumberLiteral) -> str:
    if n.duration:
        ms = round(abs(n.value) * 1000)
        return ("-" if n.value < 0 else "") + format_duration(ms)
    return format_float(n.value)


def _duration_node(d: DurationExpr | NumberLiteral) -> str:
    if isinstance(d, NumberLiteral):
        return _number(d)
    op = d.op
    if op in ("step", "range"):
        body = f"{op}()"
    elif op in ("min_of", "max_of"):
        body = f"{op}({_duration_node(d.lhs)}, {_duration_node(d.rhs)})"
    elif d.lhs is None:
        body = ("-" if op == "-" else "") + _duration_node(d.rhs)
    else:
        body = f"{_duration_node(d.lhs)} {op} {_duration_node(d.rhs)}"
    return f"({body})" if d.wrapped else body


def _offset(ms: int, expr: DurationExpr | None) -> str:
    if expr is not None:
        return " offset " + _duration_node(expr)
    if ms > 0:
        return " offset " + format_duration(ms)
    if ms < 0:
        return " offset -" + format_duration(-ms)
    return ""


def _at(at) -> str:
    if at is None:
        return ""
    if at == "start" or at == "end":
        return f" @ {at}()"
    return f" @ {at / 1000.0:.3f}"


def _range(ms: int | None, expr: DurationExpr | None) -> str:
    if expr is not None:
        return _duration_node(expr)
    return format_duration(ms or 0)


def _vector_selector(vs: VectorSelector, modifiers: bool = True) -> str:
    parts = []
    for m in vs.matchers:
        if m.name == "__name__" and m.type.value == "=" and m.value == vs.name and m.value != "":
            continue
        parts.append(_matcher(m))
    out = vs.name or ""
    if parts:
        out += "{" + ",".join(sorted(parts)) + "}"
    if not modifiers:
        return out
    out += _at(vs.at)
    if vs.anchored:
        out += " anchored"
    elif vs.smoothed:
        out += " smoothed"
    return out + _offset(vs.offset_ms, vs.offset_expr)


def _matching(vm: VectorMatching | None) -> str:
    if vm is None:
        return ""
    out = ""
    grouped = vm.card in (Cardinality.MANY_TO_ONE, Cardinality.ONE_TO_MANY)
    if vm.labels or vm.on or grouped:
        out = f" {'on' if vm.on else 'ignoring'} ({_labels(vm.labels)})"
    if grouped:
        side = "left" if vm.card is Cardinality.MANY_TO_ONE else "right"
        out += f" group_{side} ({_labels(vm.include)})"
    if vm.fill_lhs is not None or vm.fill_rhs is not None:
        if vm.fill_lhs is not None and vm.fill_lhs == vm.fill_rhs:
            out += f" fill ({format_float(vm.fill_lhs)})"
        else:
            if vm.fill_lhs is not None:
                out += f" fill_left ({format_float(vm.fill_lhs)})"
            if vm.fill_rhs is not None:
                out += f" fill_right ({format_float(vm.fill_rhs)})"
    return out


def _agg_prefix(node: AggregateExpr) -> str:
    if node.without:
        return f"{node.op} without ({_labels(node.grouping)}) "
    if node.grouping:
        return f"{node.op} by ({_labels(node.grouping)}) "
    return node.op


def _subquery_suffix(node: SubqueryExpr) -> str:
    if node.step_expr is not None:
        step = _duration_node(node.step_expr)
    elif node.step_ms:
        step = format_duration(node.step_ms)
    else:
        step = ""
    return f"[{_range(node.range_ms, node.range_expr)}:{step}]{_at(node.at)}{_offset(node.offset_ms, node.offset_expr)}"


def expr_to_string(node: Expr) -> str:
    """Prometheus's one-line ``String()`` of an expression."""
    if isinstance(node, NumberLiteral):
        return _number(node)
    if isinstance(node, StringLiteral):
        return go_quote(node.value)
    if isinstance(node, VectorSelector):
        return _vector_selector(node)
    if isinstance(node, MatrixSelector):
        vs = node.vector_selector
        ext = " anchored" if vs.anchored else (" smoothed" if vs.smoothed else "")
        return (
            f"{_vector_selector(vs, modifiers=False)}[{_range(node.range_ms, node.range_expr)}]{ext}"
            f"{_at(vs.at)}{_offset(vs.offset_ms, vs.offset_expr)}"
        )
    if isinstance(node, SubqueryExpr):
        return expr_to_string(node.expr) + _subquery_suffix(node)
    if isinstance(node, ParenExpr):
        return f"({expr_to_string(node.expr)})"
    if isinstance(node, UnaryExpr):
        return node.op + expr_to_string(node.expr)
    if isinstance(node, BinaryExpr):
        # Iterate down the left spine (long "a or b or c ..." chains nest deeply), joining once.
        spine = _left_spine(node)
        parts = [expr_to_string(spine[-1].lhs)]
        for n in reversed(spine):
            parts.append(f" {_binary_op(n)} ")
            parts.append(expr_to_string(n.rhs))
        return "".join(parts)
    if isinstance(node, Call):
        return f"{node.func}({', '.join(expr_to_string(a) for a in node.args)})"
    if isinstance(node, AggregateExpr):
        inner = expr_to_string(node.expr)
        if node.op in AGGREGATORS_WITH_PARAM and node.param is not None:
            inner = f"{expr_to_string(node.param)}, {inner}"
        return f"{_agg_prefix(node)}({inner})"
    if isinstance(node, DurationExpr):
        return _duration_node(node)
    raise RuntimeError(f"BUG: cannot print {type(node).__name__}")


def _left_spine(node: BinaryExpr) -> list[BinaryExpr]:
    """``node`` and its chain of left operands that are binary expressions, top first."""
    spine = [node]
    while isinstance(spine[-1].lhs, BinaryExpr):
        spine.append(spine[-1].lhs)
    return spine


def _binary_op(n: BinaryExpr) -> str:
    return n.op + (" bool" if n.return_bool else "") + _matching(n.matching)


def _short_strings(root: Expr) -> dict[int, str]:
    """``expr_to_string`` of every node that prints in at most ``MAX_LINE`` characters, by ``id``.

    One bottom-up pass: a node with a long child is long itself (its text
    contains the child's), so only nodes whose children are all short are
    printed, each once, at a cost bounded by its (short) length -- except a
    node whose own parts (many arguments, a long duration expression) make it
    long, printed once to find out. Linear in the size of the tree.
    """
    short: dict[int, str] = {}
    # iterative post-order: children (by id) are decided before their parent
    order: list[Expr] = []
    stack = [root]
    while stack:
        n = stack.pop()
        order.append(n)
        stack.extend(children(n))
    for n in reversed(order):
        if all(id(c) in short for c in children(n)):
            text = expr_to_string(n)
            if len(text) <= MAX_LINE:
                short[id(n)] = text
    return short


class _TooLarge(Exception):
    """The prettified text would pass ``MAX_PRETTY_BYTES``."""


class _Pretty:
    """Prometheus's ``Pretty(level)`` methods, writing pieces into one list with a running size."""

    def __init__(self, root: Expr) -> None:
        self.short = _short_strings(root)
        self.parts: list[str] = []
        self.size = 0

    def emit(self, text: str) -> None:
        self.size += len(text)
        if self.size > MAX_PRETTY_BYTES:
            raise _TooLarge
        self.parts.append(text)

    def text(self, node: Expr, level: int) -> str:
        """The pretty form of ``node`` as one string (for the rare callers that must edit it)."""
        sub = _Pretty.__new__(_Pretty)
        sub.short, sub.parts, sub.size = self.short, [], self.size
        sub.node(node, level)
        self.size = sub.size
        return "".join(sub.parts)

    def node(self, node: Expr, level: int) -> None:
        ind = _INDENT * level
        flat = self.short.get(id(node))
        if isinstance(node, SubqueryExpr):
            # Prometheus quirk: a short subquery is printed without indentation.
            if flat is not None:
                self.emit(flat)
                return
            self.node(node.expr, level)
            self.emit(_subquery_suffix(node))
            return
        if isinstance(node, UnaryExpr):
            self.emit(ind + node.op + self.text(node.expr, level).strip())
            return
        if flat is not None or not isinstance(node, (AggregateExpr, BinaryExpr, Call, ParenExpr)):
            self.emit(ind + (flat if flat is not None else expr_to_string(node)))
            return
        if isinstance(node, AggregateExpr):
            self.emit(ind + _agg_prefix(node) + "(\n")
            if node.op in AGGREGATORS_WITH_PARAM and node.param is not None:
                self.node(node.param, level + 1)
                self.emit(",\n")
            self.node(node.expr, level + 1)
            self.emit("\n" + ind + ")")
            return
        if isinstance(node, BinaryExpr):
            self.binary(node, level)
            return
        if isinstance(node, Call):
            self.emit(f"{ind}{node.func}(\n")
            for i, a in enumerate(node.args):
                if i:
                    self.emit(",\n")
                self.node(a, level + 1)
            self.emit(f"\n{ind})")
            return
        self.emit(f"{ind}(\n")
        self.node(node.expr, level + 1)
        self.emit(f"\n{ind})")

    def binary(self, node: BinaryExpr, level: int) -> None:
        """``lhs`` one level deeper, the operator, ``rhs`` one level deeper; the left spine in a loop."""
        spine = [node]  # the split (long) part of the left spine: each is printed as lhs / op / rhs
        while isinstance(spine[-1].lhs, BinaryExpr) and id(spine[-1].lhs) not in self.short:
            spine.append(spine[-1].lhs)
        bottom = level + len(spine)
        self.node(spine[-1].lhs, bottom)
        for depth, n in zip(range(bottom - 1, level - 1, -1), reversed(spine), strict=True):
            self.emit(f"\n{_INDENT * depth}{_binary_op(n)}\n")
            self.node(n.rhs, depth + 1)


def format_expr(node: Expr) -> str:
    """Prometheus's ``Prettify``: what ``/api/v1/format_query`` returns.

    A text that would pass ``MAX_PRETTY_BYTES`` (long left-nested chains,
    whose indentation grows by two spaces per term) is returned on one line
    instead, as is a tree nested too deeply for Python's recursion limit
    (the parser refuses those).
    """
    try:
        p = _Pretty(node)
        p.node(node, 0)
        return "".join(p.parts)
    except (_TooLarge, RecursionError):
        return expr_to_string(node)
