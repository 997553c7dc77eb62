"""The PromQL function table: names, argument types, return types, arity.

This is the data behind Prometheus's ``promql/parser/functions.go`` for the 90
functions listed in the upstream docs (FEATURES.md section 7), so the parser
can type-check calls and the engine can dispatch on ``FUNCTIONS[name]``.

Arity rules (``variadic``), as in Prometheus:

* ``0``: exactly ``len(arg_types)`` arguments;
* ``n > 0``: the last ``arg_types`` entry is optional and may repeat, so
  ``len(arg_types) - 1`` to ``len(arg_types) - 1 + n`` arguments;
* ``-1``: at least ``len(arg_types) - 1`` arguments, no upper bound.

Arguments beyond ``arg_types`` take the type of its last entry.
``experimental`` marks functions behind ``--enable-feature=promql-experimental-functions``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .types import ValueType

S = ValueType.SCALAR
V = ValueType.VECTOR
M = ValueType.MATRIX
STR = ValueType.STRING


@dataclass(frozen=True)
class FunctionSpec:
    """One PromQL function's signature."""

    name: str
    arg_types: tuple[ValueType, ...]
    return_type: ValueType
    variadic: int = 0
    experimental: bool = False

    @property
    def min_args(self) -> int:
        return len(self.arg_types) - (1 if self.variadic else 0)

    @property
    def max_args(self) -> int | None:
        """Upper bound on the argument count, ``None`` when unbounded."""
        if self.variadic < 0:
            return None
        if self.variadic == 0:
            return len(self.arg_types)
        return len(self.arg_types) - 1 + self.variadic

    def arg_type(self, i: int) -> ValueType:
        """Expected type of argument ``i`` (0-based); ``NONE`` for functions without arguments."""
        if not self.arg_types:
            return ValueType.NONE
        return self.arg_types[min(i, len(self.arg_types) - 1)]


def _f(name: str, args: tuple[ValueType, ...], ret: ValueType, variadic: int = 0, exp: bool = False) -> FunctionSpec:
    return FunctionSpec(name, args, ret, variadic, exp)


_TABLE = [
    # Counters and rates.
    _f("rate", (M,), V),
    _f("irate", (M,), V),
    _f("increase", (M,), V),
    _f("delta", (M,), V),
    _f("idelta", (M,), V),
    _f("deriv", (M,), V),
    _f("predict_linear", (M, S), V),
    _f("resets", (M,), V),
    _f("changes", (M,), V),
    # *_over_time.
    _f("avg_over_time", (M,), V),
    _f("min_over_time", (M,), V),
    _f("max_over_time", (M,), V),
    _f("sum_over_time", (M,), V),
    _f("count_over_time", (M,), V),
    _f("quantile_over_time", (S, M), V),
    _f("stddev_over_time", (M,), V),
    _f("stdvar_over_time", (M,), V),
    _f("last_over_time", (M,), V),
    _f("first_over_time", (M,), V),
    _f("present_over_time", (M,), V),
    _f("absent_over_time", (M,), V),
    _f("mad_over_time", (M,), V, exp=True),
    _f("ts_of_min_over_time", (M,), V, exp=True),
    _f("ts_of_max_over_time", (M,), V, exp=True),
    _f("ts_of_last_over_time", (M,), V, exp=True),
    _f("ts_of_first_over_time", (M,), V, exp=True),
    # Math.
    _f("abs", (V,), V),
    _f("ceil", (V,), V),
    _f("floor", (V,), V),
    _f("round", (V, S), V, variadic=1),
    _f("sqrt", (V,), V),
    _f("exp", (V,), V),
    _f("ln", (V,), V),
    _f("log2", (V,), V),
    _f("log10", (V,), V),
    _f("sgn", (V,), V),
    _f("clamp", (V, S, S), V),
    _f("clamp_max", (V, S), V),
    _f("clamp_min", (V, S), V),
    # Trigonometry.
    _f("acos", (V,), V),
    _f("acosh", (V,), V),
    _f("asin", (V,), V),
    _f("asinh", (V,), V),
    _f("atan", (V,), V),
    _f("atanh", (V,), V),
    _f("cos", (V,), V),
    _f("cosh", (V,), V),
    _f("sin", (V,), V),
    _f("sinh", (V,), V),
    _f("tan", (V,), V),
    _f("tanh", (V,), V),
    _f("deg", (V,), V),
    _f("rad", (V,), V),
    _f("pi", (), S),
    # Time and date.
    _f("time", (), S),
    _f("timestamp", (V,), V),
    _f("day_of_month", (V,), V, variadic=1),
    _f("day_of_week", (V,), V, variadic=1),
    _f("day_of_year", (V,), V, variadic=1),
    _f("days_in_month", (V,), V, variadic=1),
    _f("hour", (V,), V, variadic=1),
    _f("minute", (V,), V, variadic=1),
    _f("month", (V,), V, variadic=1),
    _f("year", (V,), V, variadic=1),
    # Type conversion, absence, labels.
    _f("vector", (S,), V),
    _f("scalar", (V,), S),
    _f("absent", (V,), V),
    _f("label_replace", (V, STR, STR, STR, STR), V),
    _f("label_join", (V, STR, STR, STR), V, variadic=-1),
    # Sorting.
    _f("sort", (V,), V),
    _f("sort_desc", (V,), V),
    _f("sort_by_label", (V, STR), V, variadic=-1, exp=True),
    _f("sort_by_label_desc", (V, STR), V, variadic=-1, exp=True),
    # Histograms.
    _f("histogram_quantile", (S, V), V),
    _f("histogram_quantiles", (V, STR, S, S), V, variadic=9, exp=True),
    _f("histogram_fraction", (S, S, V), V),
    _f("histogram_count", (V,), V),
    _f("histogram_sum", (V,), V),
    _f("histogram_avg", (V,), V),
    _f("histogram_stddev", (V,), V),
    _f("histogram_stdvar", (V,), V),
    # Query context and duration helpers.
    _f("start", (), S, exp=True),
    _f("end", (), S, exp=True),
    _f("range", (), S, exp=True),
    _f("step", (), S, exp=True),
    _f("min_of", (S, S), S, exp=True),
    _f("max_of", (S, S), S, exp=True),
    # Other experimental functions.
    _f("double_exponential_smoothing", (M, S, S), V, exp=True),
    _f("info", (V, V), V, variadic=1, exp=True),
    _f("start_timestamp", (V,), V, exp=True),
]

FUNCTIONS: dict[str, FunctionSpec] = {f.name: f for f in _TABLE}
"""Every PromQL function by name."""

ANCHORED_FUNCTIONS = frozenset({"changes", "delta", "increase", "rate", "resets"})
"""Functions that accept an ``anchored`` range selector (checked at evaluation)."""

SMOOTHED_FUNCTIONS = frozenset({"delta", "increase", "rate"})
"""Functions that accept a ``smoothed`` range selector (checked at evaluation)."""

# Functions whose result depends on the evaluation time itself; the upstream
# test harness skips its @-modifier cross-check for queries using them.
TIME_DEPENDENT_FUNCTIONS = frozenset(
    {"time", "timestamp", "day_of_month", "day_of_week", "day_of_year", "days_in_month",
     "hour", "minute", "month", "year", "predict_linear"}
)
