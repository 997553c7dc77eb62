"""Parse callbacks for range selectors, subqueries, modifiers and durations.

A mixin of ``builder.Builder`` (which provides ``options``, ``_fail``,
``_tok_range`` and ``_num_value``); split out to keep each module small. The
checks mirror Prometheus's grammar actions: ``[...]`` only after a vector
selector without offset/@, literal ranges and steps > 0, ``offset`` and ``@``
only on selectors and subqueries and at most once, ``anchored``/``smoothed``
only on selectors, durations within int64 nanoseconds, no division by a
literal zero.

Duration expressions that do not depend on the query (no ``step()`` or
``range()``) are folded to milliseconds here; Prometheus folds them when the
query runs. Folding early means a non-positive constant range is reported
at parse time, with Prometheus's message.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from .ast import DurationExpr, Expr, MatrixSelector, NumberLiteral, SubqueryExpr, VectorSelector
from .durations import seconds_to_ms
from .quoting import format_go_f, go_quote

_MAX_DURATION_S = (1 << 63) / 1e9  # Prometheus keeps durations in int64 nanoseconds.
_DUR_OPS = {"ADD": "+", "SUB": "-", "MUL": "*", "DIV": "/", "MOD": "%", "POW": "^"}


@dataclass(frozen=True)
class _DurationValue:
    """The value after ``offset``: a (signed) literal, or an expression."""

    literal: NumberLiteral | None
    expr: DurationExpr | None

    @property
    def node(self) -> NumberLiteral | DurationExpr:
        return self.literal if self.literal is not None else self.expr  # type: ignore[return-value]


class ModifierCallbacks:
    """lark callbacks; see the module docstring."""

    # -- range selectors and subqueries ------------------------------------------

    def matrix_selector(self, c):
        e, lb, dur, rb = c
        bracket = (lb.start_pos, rb.end_pos)
        if not isinstance(e, VectorSelector):
            raise self._fail("ranges only allowed for vector selectors", bracket)
        if e.offset_ms != 0 or e.offset_expr is not None:
            raise self._fail("no offset modifiers allowed before range", bracket)
        if e.at is not None:
            raise self._fail("no @ modifiers allowed before range", bracket)
        range_ms, range_expr = self._positive_duration(dur)
        return MatrixSelector(e, range_ms, range_expr, pos=(e.pos[0], rb.end_pos))

    def subquery_expr(self, c):
        e, _lb, rng, _colon, step, rb = c
        range_ms, range_expr = self._positive_duration(rng)
        step_ms, step_expr = (None, None) if step is None else self._positive_duration(step)
        return SubqueryExpr(e, range_ms, step_ms, range_expr=range_expr, step_expr=step_expr, pos=(e.pos[0], rb.end_pos))

    def _positive_duration(self, d: NumberLiteral | DurationExpr) -> tuple[int | None, DurationExpr | None]:
        """Range or step: a literal must be > 0 (parse error, as in Prometheus)."""
        if isinstance(d, NumberLiteral):
            if d.value <= 0:
                raise self._fail("duration must be greater than 0", d.pos)
            return seconds_to_ms(d.value), None
        if not d.is_constant:
            return None, d
        ms = self._fold(d)
        if ms <= 0:
            # Prometheus only finds this when it evaluates the query.
            raise self._fail("duration must be greater than 0", d.pos)
        return ms, d

    def _fold(self, d: DurationExpr) -> int:
        try:
            return d.evaluate_ms()
        except ZeroDivisionError as e:
            raise self._fail(str(e), d.pos) from None
        except OverflowError:
            raise self._fail("duration out of range", d.pos) from None

    # -- offset, @, anchored, smoothed ----------------------------------------------

    def offset_value(self, c):
        if len(c) == 1:
            atom = c[0]
            start = atom.pos[0]
            sign = None
        else:
            sign, atom = c
            start = sign.start_pos
        if isinstance(atom, NumberLiteral):
            value = -atom.value if sign is not None and sign.type == "SUB" else atom.value
            if not -_MAX_DURATION_S <= value <= _MAX_DURATION_S:
                raise self._fail("duration out of range", (start, atom.pos[1]))
            return _DurationValue(NumberLiteral(value, atom.duration, pos=(start, atom.pos[1])), None)
        if sign is not None and sign.type == "SUB":
            atom = DurationExpr("-", None, atom, pos=(start, atom.pos[1]))
        return _DurationValue(None, atom)

    def offset_expr(self, c):
        e, _tok, value = c
        if value.literal is not None:
            offset_ms, offset_expr = seconds_to_ms(value.literal.value), None
        else:
            offset_expr = value.expr
            offset_ms = self._fold(offset_expr) if offset_expr.is_constant else 0
        end = value.node.pos[1]
        target = e.vector_selector if isinstance(e, MatrixSelector) else e
        if not isinstance(target, (VectorSelector, SubqueryExpr)):
            raise self._fail(
                "offset modifier must be preceded by an instant vector selector or range vector selector or a subquery",
                e.pos,
            )
        if target.offset_ms != 0 or target.offset_expr is not None:
            raise self._fail("offset may not be set multiple times", e.pos)
        if isinstance(e, MatrixSelector):
            vs = dataclasses.replace(target, offset_ms=offset_ms, offset_expr=offset_expr)
            return dataclasses.replace(e, vector_selector=vs, pos=(e.pos[0], end))
        return dataclasses.replace(e, offset_ms=offset_ms, offset_expr=offset_expr, pos=(e.pos[0], end))

    def at_value(self, c):
        if len(c) == 1:
            return (self._num_value(c[0]), c[0].end_pos)
        value = self._num_value(c[1])
        return (-value if c[0].type == "SUB" else value, c[1].end_pos)

    def at_start_end(self, c):
        return (c[0].type.lower(), c[2].end_pos)

    def at_expr(self, c):
        e, _tok, (value, end) = c
        if isinstance(value, float):
            if math.isinf(value) or math.isnan(value) or value >= 9.223372036854776e18 or value <= -9.223372036854776e18:
                raise self._fail(f"timestamp out of bounds for @ modifier: {format_go_f(value)}", e.pos)
            at = int(math.floor(abs(value) * 1000 + 0.5)) * (1 if value >= 0 else -1)
        else:
            at = value
        target = e.vector_selector if isinstance(e, MatrixSelector) else e
        if not isinstance(target, (VectorSelector, SubqueryExpr)):
            raise self._fail(
                "@ modifier must be preceded by an instant vector selector or range vector selector or a subquery",
                e.pos,
            )
        if target.at is not None:
            raise self._fail("@ <timestamp> may not be set multiple times", e.pos)
        if isinstance(e, MatrixSelector):
            return dataclasses.replace(e, vector_selector=dataclasses.replace(target, at=at), pos=(e.pos[0], end))
        return dataclasses.replace(e, at=at, pos=(e.pos[0], end))

    def anchored_expr(self, c):
        return self._extended(c[0], "anchored")

    def smoothed_expr(self, c):
        return self._extended(c[0], "smoothed")

    def _extended(self, e: Expr, which: str) -> Expr:
        if not self.options.extended_range_selectors:
            raise self._fail(f"{which} modifier is experimental and not enabled", e.pos)
        other = "smoothed" if which == "anchored" else "anchored"
        if isinstance(e, VectorSelector):
            if getattr(e, other):
                raise self._fail("anchored and smoothed modifiers cannot be used together", e.pos)
            return dataclasses.replace(e, **{which: True})
        if isinstance(e, MatrixSelector):
            vs = e.vector_selector
            if getattr(vs, other):
                raise self._fail("anchored and smoothed modifiers cannot be used together", e.pos)
            return dataclasses.replace(e, vector_selector=dataclasses.replace(vs, **{which: True}))
        if isinstance(e, SubqueryExpr):
            raise self._fail(f"{which} modifier is not supported for subqueries", e.pos)
        raise self._fail(f"{which} modifier not implemented", e.pos)

    # -- duration expressions ------------------------------------------------------

    def _experimental_duration(self, d: DurationExpr) -> DurationExpr:
        if not self.options.duration_expressions:
            raise self._fail("experimental duration expression is not enabled", d.pos)
        return d

    def dur_number(self, c):
        tok = c[0]
        value = self._num_value(tok)
        if not -_MAX_DURATION_S <= value <= _MAX_DURATION_S:
            raise self._fail("duration out of range", self._tok_range(tok))
        return NumberLiteral(value, tok.type == "DURATION", pos=self._tok_range(tok))

    def dur_unary(self, c):
        op, x = c
        pos = (op.start_pos, x.pos[1])
        if isinstance(x, NumberLiteral):
            value = -x.value if op.type == "SUB" else x.value
            return NumberLiteral(value, x.duration, pos=pos)
        if op.type == "SUB":
            return DurationExpr("-", None, x, pos=pos)
        return x

    def dur_binary(self, c):
        lhs, op, rhs = c
        sym = _DUR_OPS[op.type]
        if sym in ("/", "%") and isinstance(rhs, NumberLiteral) and rhs.value == 0:
            raise self._fail("division by zero" if sym == "/" else "modulo by zero", self._tok_range(op))
        return self._experimental_duration(DurationExpr(sym, lhs, rhs, pos=(lhs.pos[0], rhs.pos[1])))

    def dur_step_range(self, c):
        return self._experimental_duration(DurationExpr(c[0].type.lower(), pos=(c[0].start_pos, c[2].end_pos)))

    def dur_min_max(self, c):
        name_tok, _lp, lhs, _comma, rhs, rp = c
        name = name_tok.value.lower()
        if name not in ("min_of", "max_of"):
            raise self._fail(
                f"unexpected identifier {go_quote(name_tok.value)} in offset, expected number, duration, step(), or range()",
                self._tok_range(name_tok),
            )
        return self._experimental_duration(DurationExpr(name, lhs, rhs, pos=(name_tok.start_pos, rp.end_pos)))

    def dur_paren(self, c):
        lp, x, rp = c
        pos = (lp.start_pos, rp.end_pos)
        if isinstance(x, DurationExpr):
            # Prometheus marks the inner expression as wrapped (once).
            return self._experimental_duration(dataclasses.replace(x, wrapped=True, pos=pos))
        return self._experimental_duration(DurationExpr("+", None, x, wrapped=True, pos=pos))
