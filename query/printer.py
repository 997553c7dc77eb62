"""Print an AST back to PromQL, the way Prometheus does.

``expr_to_string`` is Prometheus's ``Expr.String()`` (one line: canonical
spacing, matchers sorted, ``sum by (job) (x)`` with the grouping first,
durations as ``1h30m``, ``@`` timestamps with three decimals).
``format_expr`` is ``parser.Prettify`` as used by ``/api/v1/format_query``:
a node that prints longer than 100 characters is split over several lines,
children indented by two spaces.

Round trip: ``parse_expr(expr_to_string(e))`` gives back ``e`` up to the
order of label matchers (which are printed sorted) and positions.
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
)
from .durations import format_duration
from .quoting import format_float, go_quote

MAX_LINE = 100
_INDENT = "  "


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
        # Iterate down the left spine (long "a or b or c ..." chains nest deeply).
        spine = [node]
        while isinstance(spine[-1].lhs, BinaryExpr):
            spine.append(spine[-1].lhs)
        out = expr_to_string(spine[-1].lhs)
        for n in reversed(spine):
            out = f"{out} {n.op}{' bool' if n.return_bool else ''}{_matching(n.matching)} {expr_to_string(n.rhs)}"
        return out
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


def _pretty(node: Expr, level: int) -> str:
    ind = _INDENT * level
    flat = expr_to_string(node)
    if isinstance(node, SubqueryExpr):
        # Prometheus quirk: a short subquery is printed without indentation.
        if len(flat) <= MAX_LINE:
            return flat
        return _pretty(node.expr, level) + _subquery_suffix(node)
    if isinstance(node, UnaryExpr):
        return ind + node.op + _pretty(node.expr, level).strip()
    if len(flat) <= MAX_LINE or not isinstance(node, (AggregateExpr, BinaryExpr, Call, ParenExpr)):
        return ind + flat
    if isinstance(node, AggregateExpr):
        out = ind + _agg_prefix(node) + "(\n"
        if node.op in AGGREGATORS_WITH_PARAM and node.param is not None:
            out += _pretty(node.param, level + 1) + ",\n"
        return out + _pretty(node.expr, level + 1) + "\n" + ind + ")"
    if isinstance(node, BinaryExpr):
        op = node.op + (" bool" if node.return_bool else "") + _matching(node.matching)
        return f"{_pretty(node.lhs, level + 1)}\n{ind}{op}\n{_pretty(node.rhs, level + 1)}"
    if isinstance(node, Call):
        args = ",\n".join(_pretty(a, level + 1) for a in node.args)
        return f"{ind}{node.func}(\n{args}\n{ind})"
    return f"{ind}(\n{_pretty(node.expr, level + 1)}\n{ind})"


def format_expr(node: Expr) -> str:
    """Prometheus's ``Prettify``: what ``/api/v1/format_query`` returns.

    Expressions nested too deeply for Python's recursion limit (thousands of
    levels) are returned on one line instead.
    """
    try:
        return _pretty(node, 0)
    except RecursionError:
        return expr_to_string(node)
