"""Instant-vector functions: math, clamp, time/date, labels, absence, classic histograms.

Element-wise functions are numpy ufuncs over the whole ``(series x steps)``
matrix. Label functions (``label_replace``/``label_join``) run once per
*series*. ``histogram_quantile`` groups bucket series once and computes
every (group, step) cell in a compiled kernel (``_histogram_kernels.pyx``) with Prometheus's
``BucketQuantile`` rules (coalesced buckets, forced monotonicity, linear
interpolation, ``+Inf`` bucket required).
"""

from __future__ import annotations

import math
import re

import numpy as np
import re2

from tsdb.labels import METRIC_NAME, Labels

from ._histogram_kernels import histogram_groups
from .eval_binary import merge_rows
from .limits import every
from .regex_errors import regex_error_message
from .values import SeriesMatrix, Steps


class FunctionError(ValueError):
    """An execution error of a function call (Prometheus's wording)."""


def _deg(x):
    return x * (180 / math.pi)


def _rad(x):
    return x * (math.pi / 180)


UNARY = {
    "abs": np.abs, "ceil": np.ceil, "floor": np.floor, "sqrt": np.sqrt, "exp": np.exp, "ln": np.log,
    "log2": np.log2, "log10": np.log10, "sgn": np.sign, "acos": np.arccos, "acosh": np.arccosh,
    "asin": np.arcsin, "asinh": np.arcsinh, "atan": np.arctan, "atanh": np.arctanh, "cos": np.cos,
    "cosh": np.cosh, "sin": np.sin, "sinh": np.sinh, "tan": np.tan, "tanh": np.tanh, "deg": _deg, "rad": _rad,
}

DATE_FUNCS = frozenset({"day_of_month", "day_of_week", "day_of_year", "days_in_month", "hour", "minute", "month",
                        "year"})


def _with_values(m: SeriesMatrix, values: np.ndarray, drop: bool = True) -> SeriesMatrix:
    d = np.ones(len(m), dtype=bool) if drop else m.drop_name
    return SeriesMatrix(list(m.labels), values, m.present, d)


def unary(name: str, m: SeriesMatrix) -> SeriesMatrix:
    with np.errstate(all="ignore"):
        return _with_values(m, UNARY[name](m.values))


def round_(m: SeriesMatrix, to: np.ndarray | None) -> SeriesMatrix:
    with np.errstate(all="ignore"):
        if to is None:
            v = np.floor(m.values + 0.5)
        else:
            inv = 1.0 / to[None, :]
            v = np.floor(m.values * inv + 0.5) / inv
    return _with_values(m, v)


def clamp(m: SeriesMatrix, lo: np.ndarray | None, hi: np.ndarray | None) -> SeriesMatrix:
    v = m.values
    present = m.present
    if lo is not None and hi is not None:
        present = present & ~(hi < lo)[None, :]
    if hi is not None:
        v = np.minimum(v, hi[None, :])
    if lo is not None:
        v = np.maximum(v, lo[None, :])
    return SeriesMatrix(list(m.labels), v, present, np.ones(len(m), dtype=bool)).compact()


def date_func(name: str, m: SeriesMatrix) -> SeriesMatrix:
    """Calendar fields (UTC) of values read as Unix seconds."""
    v = m.values
    ok = np.isfinite(v)
    secs = np.where(ok, np.trunc(np.where(ok, v, 0)), 0).astype(np.int64)
    dt = secs.astype("datetime64[s]")
    days = dt.astype("datetime64[D]")
    months = dt.astype("datetime64[M]")
    years = dt.astype("datetime64[Y]")
    if name == "year":
        out = years.astype(np.int64) + 1970
    elif name == "month":
        out = months.astype(np.int64) % 12 + 1
    elif name == "day_of_month":
        out = (days - months.astype("datetime64[D]")).astype(np.int64) + 1
    elif name == "day_of_year":
        out = (days - years.astype("datetime64[D]")).astype(np.int64) + 1
    elif name == "day_of_week":
        out = (days.astype(np.int64) + 4) % 7
    elif name == "days_in_month":
        out = ((months + 1).astype("datetime64[D]") - months.astype("datetime64[D]")).astype(np.int64)
    elif name == "hour":
        out = (secs // 3600) % 24
    elif name == "minute":
        out = (secs // 60) % 60
    else:
        raise RuntimeError(f"BUG: unknown date function {name!r}")
    res = np.where(ok, out.astype(np.float64), np.nan)
    return _with_values(m, res)


# -- labels ----------------------------------------------------------------------------

_EXPAND = re.compile(r"\$(\$|\{([A-Za-z0-9_]*)\}|([A-Za-z0-9_]+))")


def _expand(template: str, match) -> str:
    """Go's ``Regexp.ExpandString``: ``$1``, ``${1}``, ``$name``, ``$$``."""

    def repl(mo: re.Match) -> str:
        if mo.group(1) == "$":
            return "$"
        name = mo.group(2) if mo.group(2) is not None else mo.group(3)
        try:
            if name.isdigit():
                g = match.group(int(name))
            else:
                g = match.group(name)
        except (IndexError, KeyError, ValueError, TypeError):
            return ""
        return g or ""

    return _EXPAND.sub(repl, template)


def _valid_label_name(name: str) -> bool:
    return bool(name) and name.encode("utf-8", "surrogatepass").decode("utf-8", "replace") == name


def _set(labels: Labels, name: str, value: str) -> Labels:
    d = dict(labels)
    if value:
        d[name] = value
    else:
        d.pop(name, None)
    return tuple(sorted(d.items()))


_RE_OPTS = re2.Options()
_RE_OPTS.log_errors = False
_RE_OPTS.dot_nl = True


def label_replace(m: SeriesMatrix, dst: str, repl: str, src: str, regex: str) -> SeriesMatrix:
    try:
        rx = re2.compile(f"^(?s:{regex})$", _RE_OPTS)
    except re2.error:
        raise FunctionError(f"invalid regular expression in label_replace(): {regex_error_message(regex)}") from None
    if not _valid_label_name(dst):
        raise FunctionError(f"invalid destination label name in label_replace(): {dst}")
    labels = []
    drop = m.drop_name.copy()
    for i, lab in enumerate(m.labels):
        every(i)
        value = dict(lab).get(src, "")
        mo = rx.search(value)
        if mo is None:
            labels.append(lab)
            continue
        labels.append(_set(lab, dst, _expand(repl, mo)))
        if dst == METRIC_NAME:
            drop[i] = False
    return merge_rows(SeriesMatrix(labels, m.values, m.present, drop, m.sample_ts))


def label_join(m: SeriesMatrix, dst: str, sep: str, srcs: list[str]) -> SeriesMatrix:
    if not _valid_label_name(dst):
        raise FunctionError(f"invalid destination label name in label_join(): {dst}")
    labels = []
    drop = m.drop_name.copy()
    for i, lab in enumerate(m.labels):
        every(i)
        d = dict(lab)
        labels.append(_set(lab, dst, sep.join(d.get(s, "") for s in srcs)))
        if dst == METRIC_NAME:
            drop[i] = False
    return merge_rows(SeriesMatrix(labels, m.values, m.present, drop, m.sample_ts))


# -- absence ------------------------------------------------------------------------------


def absent_labels(matchers) -> Labels:
    """Labels of ``absent()``'s output: the equality matchers of the selector, names used twice dropped."""
    from tsdb.matchers import MatchType

    seen: dict[str, str] = {}
    dup: set[str] = set()
    for mt in matchers:
        if mt.name == METRIC_NAME:
            continue
        if mt.type is MatchType.EQ and mt.name not in dup:
            if mt.name in seen:
                dup.add(mt.name)
                del seen[mt.name]
            else:
                seen[mt.name] = mt.value
        elif mt.name in seen:
            dup.add(mt.name)
            del seen[mt.name]
    return tuple(sorted((k, v) for k, v in seen.items() if v))


def absent(present_any: np.ndarray, labels: Labels) -> SeriesMatrix:
    n_steps = len(present_any)
    return SeriesMatrix([labels], np.ones((1, n_steps)), ~present_any[None, :], np.zeros(1, dtype=bool)).compact()


def scalar_of(m: SeriesMatrix, n_steps: int) -> Steps:
    if len(m) == 0:
        return Steps(np.full(n_steps, np.nan))
    count = m.present.sum(axis=0)
    first = np.argmax(m.present, axis=0)
    v = m.values[first, np.arange(n_steps)]
    return Steps(np.where(count == 1, v, np.nan))


# -- classic histograms --------------------------------------------------------------------


def parse_le(text: str) -> float:
    """Go's ``strconv.ParseFloat`` for ``le`` values (``+Inf``, ``-.25``, ``1e0``, hex floats)."""
    s = text.strip()
    try:
        return float(s)
    except ValueError:
        return float.fromhex(s)


def histogram_quantile(q: np.ndarray, m: SeriesMatrix, upper: np.ndarray | None = None) -> SeriesMatrix:
    """Quantile ``q`` (per step) of classic ``le`` bucket series, grouped by their other labels.

    With ``upper`` given, ``histogram_fraction(q, upper, m)`` instead.
    """
    n_steps = len(q)
    ids: dict[Labels, int] = {}
    rows: list[int] = []
    gids: list[int] = []
    ubs: list[float] = []
    for i, lab in enumerate(m.labels):
        every(i)
        le = None
        key = []
        for k, v in lab:
            if k == "le":
                le = v
            elif k != METRIC_NAME:
                key.append((k, v))
        if le is None:
            continue
        try:
            bound = parse_le(le)
        except ValueError:
            continue
        rows.append(i)
        gids.append(ids.setdefault(tuple(key), len(ids)))
        ubs.append(bound)
    if not rows:
        return SeriesMatrix.empty(n_steps)
    rows_a = np.asarray(rows, dtype=np.int64)
    gid = np.asarray(gids, dtype=np.int64)
    ub = np.asarray(ubs)
    order = rows_a[np.lexsort((ub, gid))]
    ub_full = np.zeros(len(m))
    ub_full[rows_a] = ub
    starts = np.zeros(len(ids) + 1, dtype=np.int64)
    np.cumsum(np.bincount(gid, minlength=len(ids)), out=starts[1:])
    values = np.zeros((len(ids), n_steps))
    present = np.zeros((len(ids), n_steps), dtype=bool)
    q2 = np.zeros(0) if upper is None else np.ascontiguousarray(upper, dtype=np.float64)
    histogram_groups(np.ascontiguousarray(q, dtype=np.float64), q2, ub_full, np.asarray(m.values, dtype=np.float64),
                     m.present.view(np.uint8), np.ascontiguousarray(order, dtype=np.int64), starts, values,
                     present.view(np.uint8))
    return SeriesMatrix(list(ids), values, present).compact()


# -- ordering of instant results --------------------------------------------------------------

_NAT = re.compile(r"(\d+)")


def natural_key(s: str) -> tuple:
    return tuple((0, int(p), p) if p.isdigit() else (1, 0, p) for p in _NAT.split(s) if p != "")


def format_om_float(x: float) -> str:
    """OpenMetrics-style float text for label values: ``1.0``, ``0.25``, ``+Inf``, ``NaN``."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    if x.is_integer() and abs(x) < 1e21:
        return f"{int(x)}.0"
    return repr(x)
