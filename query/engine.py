"""The PromQL engine: evaluate an expression over the tsdb for all steps at once.

Strategy: every node is evaluated once for the whole array of step times
(``times``, int64 ms, non-decreasing). An instant query is a range query with
one step. Instant vectors are ``SeriesMatrix`` (series x steps with a
presence mask), scalars are ``Steps``, range vectors are ``RangeData`` (CSR
samples plus each step's window end). ``@`` replaces a node's times by a
constant array, ``offset`` shifts them, and a subquery evaluates its inner
expression once on the union of its inner step grids (all multiples of the
subquery step) before turning the result into range data.

Prometheus 3 semantics: left-open windows ``(t - range, t]``, lookback 5 m,
delayed ``__name__`` removal (rows are flagged and lose the name when the
query finishes), Prometheus's error wording for execution errors.

Limits (``limits.py``): ``max_samples`` caps the samples loaded from
storage plus each intermediate result, checked before the allocation where a
query can blow one up and after every node; ``timeout_s`` and the caller's
cancel event (``limits.cancellation``) are checked per node and inside long
per-series loops.
"""

from __future__ import annotations

import time as _time

import numpy as np

from . import eval_binary as binop
from . import eval_functions as fn
from .ast import (
    SET_OPS,
    AggregateExpr,
    BinaryExpr,
    Call,
    Expr,
    MatrixSelector,
    NumberLiteral,
    ParenExpr,
    StringLiteral,
    SubqueryExpr,
    UnaryExpr,
    VectorSelector,
    resolve_durations,
)
from .eval_aggregations import AggregationError, aggregate
from .eval_binary import BinaryOpError, merge_rows
from .eval_errors import QueryError, QueryTimeoutError
from .eval_extended import (
    ExtendedRangeError,
    apply_extended,
    check_function,
    select_extended,
    select_smoothed_instant,
)
from .eval_functions import FunctionError
from .eval_info import InfoError, info, split_matchers
from .eval_range import OPS as RANGE_OPS
from .eval_range import apply as apply_range
from .eval_results import concat, finish, instant_order, range_vector, unwrap
from .eval_selectors import (
    matrix_to_range,
    select_instant,
    select_range,
)
from .limits import QueryContext, SampleBudget, SampleLimitError, active, current_cancel
from .parser import parse_expr_cached
from .types import ValueType
from .values import (
    InstantVector,
    Matrix,
    RangeData,
    Result,
    Scalar,
    SeriesMatrix,
    Steps,
    String,
    StringValue,
)

__all__ = ["Engine", "QueryError", "QueryTimeoutError", "SampleLimitError"]


NATIVE_ONLY = frozenset({"histogram_count", "histogram_sum", "histogram_avg", "histogram_stddev", "histogram_stdvar",
                         "start_timestamp"})
"""Functions of native histograms (and start timestamps) that yield nothing for float samples."""

_EXEC_ERRORS = (BinaryOpError, FunctionError, AggregationError, InfoError, ExtendedRangeError)


class Engine:
    """Evaluates PromQL over a ``tsdb.DB``.

    ``instant(expr, t_ms)`` returns ``Scalar``, ``String``, ``InstantVector``
    or ``RangeVector``; ``range(expr, start_ms, end_ms, step_ms)`` returns
    ``Matrix`` (a scalar expression gives a one-row, label-less matrix with
    ``is_scalar`` set). Expressions are text or parsed ``Expr`` trees.
    Raises ``ParseError`` for bad text, ``QueryError`` for execution errors,
    ``SampleLimitError`` past ``max_samples``.
    """

    def __init__(self, db, *, lookback_delta_ms: int = 300_000, max_samples: int = 50_000_000,
                 timeout_s: float = 120, subquery_step_ms: int = 60_000) -> None:
        self.db = db
        self.lookback_delta_ms = lookback_delta_ms
        self.max_samples = max_samples
        self.timeout_s = timeout_s
        self.subquery_step_ms = subquery_step_ms

    def instant(self, expr: str | Expr, t_ms: int) -> Result:
        node = self._prepare(expr, 0, 0)
        ev = _Evaluator(self, t_ms, t_ms)
        times = np.asarray([t_ms], dtype=np.int64)
        val = ev.run(node, times)
        if isinstance(val, Steps):
            return Scalar(t_ms, float(val.values[0]))
        if isinstance(val, StringValue):
            return String(t_ms, val.value)
        if isinstance(val, RangeData):
            return range_vector(val)
        m = finish(val)
        rows = np.flatnonzero(m.present[:, 0])
        order = instant_order(node, m, rows)
        return InstantVector([m.labels[i] for i in order], m.values[order, 0].copy(),
                             np.full(len(order), t_ms, dtype=np.int64))

    def range(self, expr: str | Expr, start_ms: int, end_ms: int, step_ms: int) -> Matrix:
        if step_ms <= 0:
            raise QueryError("zero or negative query resolution step widths are not accepted. "
                             "Try a positive integer")
        if end_ms < start_ms:
            raise QueryError("end timestamp must not be before start time")
        node = self._prepare(expr, step_ms, end_ms - start_ms)
        if node.type not in (ValueType.SCALAR, ValueType.VECTOR):
            raise QueryError(f'invalid expression type "{node.type.documented}" for range query, '
                             "must be Scalar or instant Vector")
        ev = _Evaluator(self, start_ms, end_ms, step_ms)
        ev.budget.would_hold((end_ms - start_ms) // step_ms + 1)  # the step grid itself, before allocating it
        times = np.arange(start_ms, end_ms + 1, step_ms, dtype=np.int64)
        val = ev.run(node, times)
        if isinstance(val, Steps):
            return Matrix([()], times, val.values[None, :].copy(), np.ones((1, len(times)), dtype=bool), True)
        m = finish(val)
        order = sorted(range(len(m)), key=lambda i: m.labels[i])
        return Matrix([m.labels[i] for i in order], times, m.values[order], m.present[order])

    def _prepare(self, expr: str | Expr, step_ms: int, range_ms: int) -> Expr:
        node = parse_expr_cached(expr) if isinstance(expr, str) else expr
        try:
            return resolve_durations(node, step_ms, range_ms)
        except ValueError as e:
            raise QueryError(str(e)) from None


class _Evaluator:
    def __init__(self, engine: Engine, start_ms: int, end_ms: int, step_ms: int = 0) -> None:
        self.engine = engine
        self.step_ms = step_ms
        self.db = engine.db
        self.start_ms = start_ms
        self.end_ms = end_ms
        self.budget = SampleBudget(engine.max_samples)
        self.deadline = _time.monotonic() + engine.timeout_s
        self.ctx = QueryContext(self.budget, self.deadline, current_cancel())
        # the vector selectors whose samples' own timestamps are asked for (``timestamp(x)``): only
        # they keep a (series x steps) int64 matrix of them, 8 of the 17 bytes a cell would cost
        self._want_sample_ts: set[int] = set()

    def run(self, node: Expr, times: np.ndarray):
        try:
            with active(self.ctx):
                return self.eval(node, times)
        except _EXEC_ERRORS as e:
            raise QueryError(str(e)) from None

    def _check_time(self) -> None:
        self.ctx.check()

    def eval(self, node: Expr, times: np.ndarray):
        val = self._eval(node, times)
        # the catch-all: whatever a node produced counts against the budget while it is held
        if isinstance(val, SeriesMatrix):
            self.budget.would_hold(val.values.size)
        self._check_time()
        return val

    def _times(self, at, offset_ms: int, times: np.ndarray) -> np.ndarray:
        if at is not None:
            t0 = self.start_ms if at == "start" else self.end_ms if at == "end" else int(at)
            times = np.full(len(times), t0, dtype=np.int64)
        return times - offset_ms if offset_ms else times

    def _eval(self, node: Expr, times: np.ndarray):
        self._check_time()
        n_steps = len(times)
        if isinstance(node, NumberLiteral):
            return Steps(np.full(n_steps, node.value))
        if isinstance(node, StringLiteral):
            return StringValue(node.value)
        if isinstance(node, ParenExpr):
            return self.eval(node.expr, times)
        if isinstance(node, UnaryExpr):
            val = self.eval(node.expr, times)
            if node.op != "-":
                return val
            if isinstance(val, Steps):
                return Steps(-val.values)
            return SeriesMatrix(list(val.labels), -val.values, val.present, np.ones(len(val), dtype=bool))
        if isinstance(node, VectorSelector):
            t = self._times(node.at, node.offset_ms, times)
            if node.smoothed:
                m = select_smoothed_instant(self.db, node.matchers, t, self.engine.lookback_delta_ms, self.budget)
            else:
                m = select_instant(self.db, node.matchers, t, self.engine.lookback_delta_ms, self.budget,
                                   keep_sample_ts=id(node) in self._want_sample_ts)
            return m
        if isinstance(node, MatrixSelector):
            vs = node.vector_selector
            ends = self._times(vs.at, vs.offset_ms, times)
            if vs.anchored or vs.smoothed:
                return select_extended(self.db, vs.matchers, ends, int(node.range_ms), self.engine.lookback_delta_ms,
                                       vs.smoothed, self.budget)
            return select_range(self.db, vs.matchers, ends, int(node.range_ms), self.budget)
        if isinstance(node, SubqueryExpr):
            return self._subquery(node, times)
        if isinstance(node, Call):
            return self._call(node, times)
        if isinstance(node, AggregateExpr):
            return self._aggregate(node, times)
        if isinstance(node, BinaryExpr):
            return self._binary(node, times)
        raise RuntimeError(f"BUG: cannot evaluate {type(node).__name__}")

    def _subquery(self, node: SubqueryExpr, times: np.ndarray) -> RangeData:
        ends = self._times(node.at, node.offset_ms, times)
        rng = int(node.range_ms)
        step = int(node.step_ms or self.engine.subquery_step_ms)
        uniq = np.unique(ends)
        k_lo = (uniq - rng) // step + 1
        k_hi = uniq // step
        counts = np.maximum(k_hi - k_lo + 1, 0)
        total = int(counts.sum())
        self.budget.charge(total)
        if total:
            starts = np.repeat(k_lo - np.cumsum(counts) + counts, counts)
            ks = np.unique(starts + np.arange(total))
        else:
            ks = np.zeros(0, dtype=np.int64)
        grid = (ks * step).astype(np.int64)
        if len(grid) == 0:
            inner = SeriesMatrix.empty(0)
        else:
            inner = self.eval(node.expr, grid)
        if isinstance(inner, Steps):
            inner = SeriesMatrix([()], inner.values[None, :], np.ones((1, len(grid)), dtype=bool))
        return matrix_to_range(inner, grid, ends, rng)

    def _scalar_arg(self, node: Expr, times: np.ndarray) -> np.ndarray:
        v = self.eval(node, times)
        if not isinstance(v, Steps):
            raise RuntimeError("BUG: scalar argument did not evaluate to a scalar")
        return v.values

    def _str_arg(self, node: Expr, times: np.ndarray) -> str:
        v = self.eval(node, times)
        if not isinstance(v, StringValue):
            raise RuntimeError("BUG: string argument did not evaluate to a string")
        return v.value

    def _call(self, node: Call, times: np.ndarray):
        name = node.func
        args = node.args
        n_steps = len(times)
        if name == "timestamp" and args:
            self._want_sample_ts.add(id(unwrap(args[0])))
        if name == "time":
            return Steps(times / 1000.0)
        if name == "pi":
            return Steps(np.full(n_steps, np.pi))
        if name in ("step", "range", "start", "end"):
            sec = {"step": self.step_ms, "range": self.end_ms - self.start_ms, "start": self.start_ms,
                   "end": self.end_ms}[name] / 1000.0
            return Steps(np.full(n_steps, sec))
        if name in ("min_of", "max_of"):
            vals = [self._scalar_arg(a, times) for a in args]
            out = vals[0]
            for v in vals[1:]:
                out = np.minimum(out, v) if name == "min_of" else np.maximum(out, v)
            return Steps(out)
        if name in ("absent_over_time", "absent"):
            arg = unwrap(args[0])
            val = self.eval(args[0], times)
            if isinstance(val, RangeData):
                pres = apply_range("present_over_time", val).present.any(axis=0) if len(val.labels) else \
                    np.zeros(n_steps, dtype=bool)
            else:
                pres = val.present.any(axis=0) if len(val) else np.zeros(n_steps, dtype=bool)
            sel = arg.vector_selector if isinstance(arg, MatrixSelector) else arg
            labels = fn.absent_labels(sel.matchers) if isinstance(sel, VectorSelector) else ()
            return fn.absent(pres, labels)
        if name in RANGE_OPS:
            for a in map(unwrap, args):
                if isinstance(a, MatrixSelector) and (a.vector_selector.anchored or a.vector_selector.smoothed):
                    check_function(name, a.vector_selector.anchored, a.vector_selector.smoothed)
                    return apply_extended(name, self.eval(a, times))
            if name == "quantile_over_time":
                p1 = self._scalar_arg(args[0], times)
                rd = self.eval(args[1], times)
                return apply_range(name, rd, p1)
            rd = self.eval(args[0], times)
            p1 = p2 = None
            if name == "predict_linear":
                p1 = self._scalar_arg(args[1], times)
                p2 = (times - rd.ends).astype(np.float64)  # intercept at the step time, whatever @/offset say
            elif name == "double_exponential_smoothing":
                p1 = self._scalar_arg(args[1], times)
                p2 = self._scalar_arg(args[2], times)
                for label, p in (("smoothing factor", p1), ("trend factor", p2)):
                    bad = ~((p > 0) & (p < 1))
                    if bad.any():
                        short = "sf" if label == "smoothing factor" else "tf"
                        raise QueryError(f"invalid {label}. Expected: 0 < {short} < 1, got: {p[bad][0]:f}")
            return apply_range(name, rd, p1, p2)
        if name == "info":
            return self._info(node, times)
        if name == "vector":
            v = self._scalar_arg(args[0], times)
            return SeriesMatrix([()], v[None, :].copy(), np.ones((1, n_steps), dtype=bool))
        if name == "scalar":
            return fn.scalar_of(self.eval(args[0], times), n_steps)
        if name == "histogram_quantile":
            q = self._scalar_arg(args[0], times)
            return fn.histogram_quantile(q, self.eval(args[1], times))
        if name == "histogram_quantiles":
            m = self.eval(args[0], times)
            label = self._str_arg(args[1], times)
            parts = []
            for a in args[2:]:
                q = self._scalar_arg(a, times)
                part = fn.histogram_quantile(q, m)
                qtext = fn.format_om_float(float(q[0]))
                part.labels = [tuple(sorted(dict(lab, **{label: qtext}).items())) for lab in part.labels]
                parts.append(part)
            return merge_rows(concat(parts, n_steps))
        if name == "histogram_fraction":
            lo = self._scalar_arg(args[0], times)
            hi = self._scalar_arg(args[1], times)
            return fn.histogram_quantile(lo, self.eval(args[2], times), hi)
        if name in fn.DATE_FUNCS:
            if args:
                m = self.eval(args[0], times)
            else:
                m = SeriesMatrix([()], (times / 1000.0)[None, :], np.ones((1, n_steps), dtype=bool))
            return fn.date_func(name, m)
        m = self.eval(args[0], times)
        if name in NATIVE_ONLY:
            # Float samples are ignored by these functions; storage holds only floats.
            return SeriesMatrix.empty(n_steps)
        if name in fn.UNARY:
            return fn.unary(name, m)
        if name == "round":
            return fn.round_(m, self._scalar_arg(args[1], times) if len(args) > 1 else None)
        if name == "clamp":
            return fn.clamp(m, self._scalar_arg(args[1], times), self._scalar_arg(args[2], times))
        if name == "clamp_min":
            return fn.clamp(m, self._scalar_arg(args[1], times), None)
        if name == "clamp_max":
            return fn.clamp(m, None, self._scalar_arg(args[1], times))
        if name == "timestamp":
            if m.sample_ts is not None and isinstance(unwrap(args[0]), VectorSelector):
                ts = m.sample_ts / 1000.0
            else:
                ts = np.broadcast_to(times / 1000.0, m.values.shape)
            return SeriesMatrix(list(m.labels), np.array(ts, dtype=np.float64), m.present,
                                np.ones(len(m), dtype=bool))
        if name == "label_replace":
            return fn.label_replace(m, *(self._str_arg(a, times) for a in args[1:5]))
        if name == "label_join":
            strs = [self._str_arg(a, times) for a in args[1:]]
            return fn.label_join(m, strs[0], strs[1], strs[2:])
        if name in ("sort", "sort_desc", "sort_by_label", "sort_by_label_desc"):
            return m
        raise QueryError(f"function {name!r} is not supported")

    def _ref_times(self, node: Expr, times: np.ndarray) -> np.ndarray:
        """The times at which ``node`` reads storage (its ``@``/``offset``), for ``info()``."""
        node = unwrap(node)
        if isinstance(node, VectorSelector):
            return self._times(node.at, node.offset_ms, times)
        if isinstance(node, MatrixSelector):
            return self._ref_times(node.vector_selector, times)
        if isinstance(node, SubqueryExpr):
            return self._ref_times(node.expr, self._times(node.at, node.offset_ms, times))
        if isinstance(node, Call):
            for a in node.args:
                if a.type is ValueType.MATRIX or a.type is ValueType.VECTOR:
                    return self._ref_times(a, times)
        return times

    def _info(self, node: Call, times: np.ndarray) -> SeriesMatrix:
        base = self.eval(node.args[0], times)
        sel = unwrap(node.args[1]) if len(node.args) > 1 else None
        names, data = split_matchers(sel.matchers if isinstance(sel, VectorSelector) else ())
        ref = self._ref_times(node.args[0], times)
        infos = select_instant(self.db, tuple(names + data), ref, self.engine.lookback_delta_ms, self.budget)
        return info(base, infos, names, data)

    def _aggregate(self, node: AggregateExpr, times: np.ndarray):
        n_steps = len(times)
        param = None
        if node.param is not None:
            pv = self.eval(node.param, times)
            param = pv.value if isinstance(pv, StringValue) else pv.values
        m = self.eval(node.expr, times)
        return aggregate(node.op, m, node.grouping, node.without, param, n_steps)

    def _binary(self, node: BinaryExpr, times: np.ndarray):
        # The left spine in a loop, bottom up: "a or b or c ..." and "1+1+..." nest to the left
        # as deep as they are long (see ast.nesting_depth); only right operands recurse.
        spine = [node]
        while isinstance(spine[-1].lhs, BinaryExpr):
            spine.append(spine[-1].lhs)
        lhs = self.eval(spine[-1].lhs, times)
        for n in reversed(spine):
            self._check_time()
            lhs = self._binary_step(n, lhs, self.eval(n.rhs, times), times)
        return lhs

    def _binary_step(self, node: BinaryExpr, lhs, rhs, times: np.ndarray):
        op = node.op
        if op in ("</", ">/"):
            # Trim operators act on native histograms only; float samples drop out.
            return SeriesMatrix.empty(len(times))
        if isinstance(lhs, Steps) and isinstance(rhs, Steps):
            return binop.scalar_scalar(op, lhs, rhs)
        if isinstance(rhs, Steps):
            return binop.vector_scalar(op, lhs, rhs, False, node.return_bool)
        if isinstance(lhs, Steps):
            return binop.vector_scalar(op, rhs, lhs, True, node.return_bool)
        if op in SET_OPS:
            return binop.set_op(op, lhs, rhs, node.matching)
        return binop.vector_vector(op, lhs, rhs, node.matching, node.return_bool)
