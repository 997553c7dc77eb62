"""OpenMetrics 1.0 semantic rules, checked over a stream of parsed lines.

``openmetrics.py`` checks each line's syntax; this module checks what the
lines mean together, as the OpenMetrics spec requires ("partial or invalid
expositions MUST be considered erroneous in their entirety"). Prometheus'
own scrape parser checks none of this; ``strict=False`` skips this module.

Model (spec section "Text format"):

* A **family** starts with its first metadata line or, without metadata, with
  a sample whose name no current family can own (it is then ``unknown``).
  Its type decides which sample names it owns (``_SUFFIXES``): a counter
  ``a`` owns ``a_total`` and ``a_created``. Families never repeat, and no two
  families may own the same sample name (a gauge ``a_created`` and a counter
  ``a`` clash). Metadata comes before the family's samples, at most one line
  of each kind.
* Within a family, a **metric** (a group) is the label set minus ``le`` /
  ``quantile`` (or the stateset's state label); its lines are contiguous.
  A **MetricPoint** is a run of a metric's lines with one timestamp; a new
  timestamp, or a series seen again, starts the next point. Timestamps never
  decrease within a metric, and a series either always or never has one.
* Per type: counter totals and histogram/summary counts and sums are not NaN
  and not negative, counts are integers; histogram buckets have ``le``, are
  in increasing ``le`` order, cumulative, end with ``le="+Inf"`` (spelled so),
  ``_count`` equals the ``+Inf`` bucket and comes with ``_sum``; no ``_sum``
  when a bucket is negative (gauge histograms: ``_gsum`` may only be negative
  then). Summary quantiles are in [0, 1]; info values are 1 and stateset
  values 0 or 1, each stateset sample labelled with the family name. Exemplars
  only on counter ``_total`` and (gauge) histogram ``_bucket`` samples.

Invariants: O(1) work per line plus O(buckets) at the end of each point;
memory is O(series of the document) (the per-series timestamp flag).
"""

from __future__ import annotations

import math

from ._lex import FLOAT_RE
from .errors import ExpositionError
from .model import MetricType
from .openmetrics import OMMeta, OMSample

_SUFFIXES: dict[str, tuple[str, ...]] = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "unknown": ("",),
    "stateset": ("",),
    "info": ("_info",),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "gaugehistogram": ("_bucket", "_gcount", "_gsum"),
    "summary": ("", "_count", "_sum", "_created"),
}
_HISTOGRAMS = ("histogram", "gaugehistogram")


class _Point:
    __slots__ = ("ts", "seen", "buckets", "parts", "line")

    def __init__(self, ts: float | None, line: int):
        self.ts = ts
        self.seen: set[tuple[tuple[str, str], ...]] = set()
        self.buckets: list[tuple[float, str, float]] = []  # (le, le as written, value)
        self.parts: dict[str, float] = {}  # suffix -> value
        self.line = line


class _Family:
    __slots__ = (
        "name", "type", "meta_seen", "unit", "has_samples", "names", "groups_done",
        "group", "point", "group_last_ts", "series_ts",
    )

    def __init__(self, name: str):
        self.name = name
        self.type: MetricType = "unknown"
        self.meta_seen: set[str] = set()
        self.unit: str | None = None
        self.has_samples = False
        self.names: tuple[str, ...] = (name,)
        self.groups_done: set[tuple] = set()
        self.group: tuple | None = None
        self.point: _Point | None = None
        self.group_last_ts: float | None = None
        self.series_ts: dict[tuple, bool] = {}


class OMValidator:
    """Feed it every metadata and sample line in order, then :meth:`finish`."""

    def __init__(self) -> None:
        self.families: dict[str, _Family] = {}
        self.claims: dict[str, _Family] = {}
        self.cur: _Family | None = None

    # -- metadata --------------------------------------------------------------

    def on_meta(self, m: OMMeta, line: int) -> None:
        cur = self.cur
        if cur is not None and cur.name == m.name:
            if cur.has_samples:
                raise ExpositionError(f'{m.kind} line for metric family "{m.name}" after its samples', line)
            if m.kind in cur.meta_seen:
                raise ExpositionError(f'second {m.kind} line for metric family "{m.name}"', line)
        else:
            cur = self._start_family(m.name, line)
        cur.meta_seen.add(m.kind)
        if m.kind == "TYPE":
            cur.type = m.value  # type: ignore[assignment]
            self._claim(cur, line)
        elif m.kind == "UNIT":
            cur.unit = m.value or None
        if cur.unit and cur.type in ("info", "stateset"):
            raise ExpositionError(f'{cur.type} metric family "{cur.name}" must not have a unit', line)

    def _start_family(self, name: str, line: int) -> _Family:
        self._finish_family()
        if name in self.families:
            raise ExpositionError(
                f'metric family "{name}" appears twice; a family\'s lines must be contiguous', line
            )
        f = _Family(name)
        self.families[name] = f
        self.cur = f
        self._claim(f, line)
        return f

    def _claim(self, f: _Family, line: int) -> None:
        """Re-register the sample names ``f`` owns under its (new) type."""
        for n in f.names:
            if self.claims.get(n) is f:
                del self.claims[n]
        f.names = tuple(f.name + s for s in _SUFFIXES[f.type])
        for n in f.names:
            owner = self.claims.get(n)
            if owner is not None and owner is not f:
                raise ExpositionError(
                    f'metric family "{f.name}" ({f.type}) clashes with family "{owner.name}": '
                    f'both would own samples named "{n}"',
                    line,
                )
            self.claims[n] = f

    # -- samples ---------------------------------------------------------------

    def on_sample(self, s: OMSample, line: int) -> None:
        fam = self.cur
        if fam is None or s.name not in fam.names:
            if fam is not None and s.name == fam.name:
                allowed = ", ".join(fam.name + x for x in _SUFFIXES[fam.type])
                raise ExpositionError(
                    f'sample "{s.name}" is not valid in {fam.type} family "{fam.name}" (expected {allowed})', line
                )
            owner = self.claims.get(s.name)
            if owner is not None:
                raise ExpositionError(
                    f'sample "{s.name}" of metric family "{owner.name}" is not grouped with the rest of its family',
                    line,
                )
            fam = self._start_family(s.name, line)
        fam.has_samples = True
        suffix = s.name[len(fam.name):]
        t = fam.type
        raw = {k: v for k, v, _ in s.raw_pairs}
        where = f'"{s.name}"'

        if s.exemplar is not None and not (
            (t == "counter" and suffix == "_total") or (t in _HISTOGRAMS and suffix == "_bucket")
        ):
            raise ExpositionError(
                f"exemplars are only allowed on counter _total and histogram _bucket samples, not on {where}", line
            )

        # Group (metric) and point bookkeeping.
        drop = "le" if t in _HISTOGRAMS else "quantile" if t == "summary" else fam.name if t == "stateset" else None
        group = tuple(kv for kv in s.labels if kv[0] != "__name__" and kv[0] != drop)
        if group != fam.group:
            if fam.group is not None:
                self._finish_point(fam)
                fam.groups_done.add(fam.group)
            if group in fam.groups_done:
                raise ExpositionError(
                    f"metric {where}{_show(group)} is interleaved with another metric of its family", line
                )
            fam.group, fam.point, fam.group_last_ts = group, None, None
        ts = s.ts_seconds
        had = fam.series_ts.setdefault(s.labels, ts is not None)
        if had != (ts is not None):
            raise ExpositionError(f"series {where} has samples both with and without a timestamp", line)
        if ts is not None:
            if fam.group_last_ts is not None and ts < fam.group_last_ts:
                raise ExpositionError(f"timestamp of {where} goes backwards within its metric", line)
            fam.group_last_ts = ts
        pt = fam.point
        if pt is None or pt.ts != ts or s.labels in pt.seen:
            self._finish_point(fam)
            pt = fam.point = _Point(ts, line)
        pt.seen.add(s.labels)
        pt.line = line

        v = s.value
        if t == "counter":
            if suffix == "_total":
                _counter_value(v, where, line, integer=False)
        elif t in _HISTOGRAMS:
            le_raw = raw.get("le")
            if suffix == "_bucket":
                if le_raw is None:
                    raise ExpositionError(f'{t} bucket {where} has no "le" label', line)
                le = _number(le_raw)
                if le is None or math.isnan(le):
                    raise ExpositionError(f'invalid "le" value "{le_raw}" in {where}', line)
                _counter_value(v, where, line, integer=True)
                pt.buckets.append((le, le_raw, v))
            else:
                if le_raw is not None:
                    raise ExpositionError(f'"le" label is only allowed on _bucket samples, not on {where}', line)
                if suffix in ("_count", "_gcount"):
                    _counter_value(v, where, line, integer=True)
                elif suffix in ("_sum", "_gsum") and math.isnan(v):
                    raise ExpositionError(f"{where} must not be NaN", line)
                pt.parts[suffix] = v
        elif t == "summary":
            q_raw = raw.get("quantile")
            if suffix == "":
                if q_raw is None:
                    raise ExpositionError(f'summary quantile sample {where} has no "quantile" label', line)
                q = _number(q_raw)
                if q is None or not 0.0 <= q <= 1.0:
                    raise ExpositionError(f'quantile "{q_raw}" of {where} is not a number in [0, 1]', line)
                if v < 0:
                    raise ExpositionError(f"quantile value of {where} must not be negative", line)
            else:
                if q_raw is not None:
                    raise ExpositionError(f'"quantile" label is not allowed on {where}', line)
                if suffix in ("_sum", "_count"):
                    _counter_value(v, where, line, integer=suffix == "_count")
        elif t == "info":
            if v != 1.0:
                raise ExpositionError(f"info sample {where} must have the value 1, got {_fmt(v)}", line)
        elif t == "stateset":
            if fam.name not in raw:
                raise ExpositionError(f'stateset sample {where} has no "{fam.name}" label naming its state', line)
            if v != 0.0 and v != 1.0:
                raise ExpositionError(f"stateset sample {where} must be 0 or 1, got {_fmt(v)}", line)

    # -- end of points, families, document ----------------------------------------

    def _finish_point(self, fam: _Family) -> None:
        pt = fam.point
        fam.point = None
        if pt is None or fam.type not in _HISTOGRAMS:
            return
        what = f'{fam.type} "{fam.name}"{_show(fam.group or ())}'
        line = pt.line
        b = pt.buckets
        if not b or b[-1][1] != "+Inf":
            raise ExpositionError(f'{what} has no le="+Inf" bucket (it must be the last one)', line)
        for (le0, _, v0), (le1, raw1, v1) in zip(b, b[1:], strict=False):
            if not le1 > le0:
                raise ExpositionError(f'{what}: bucket le="{raw1}" is not in increasing order of le', line)
            if v1 < v0:
                raise ExpositionError(f'{what}: bucket le="{raw1}" is smaller than the bucket before it', line)
        cnt, sm = ("_count", "_sum") if fam.type == "histogram" else ("_gcount", "_gsum")
        parts = pt.parts
        if (cnt in parts) != (sm in parts):
            raise ExpositionError(f"{what}: {cnt} and {sm} must both be present or both absent", line)
        if cnt in parts and parts[cnt] != b[-1][2]:
            raise ExpositionError(
                f'{what}: {cnt} {_fmt(parts[cnt])} differs from the le="+Inf" bucket {_fmt(b[-1][2])}', line
            )
        negative = b[0][0] < 0
        if sm in parts:
            if fam.type == "histogram" and negative:
                raise ExpositionError(f"{what} has negative buckets, so it must not have {sm}", line)
            if parts[sm] < 0 and not negative:
                raise ExpositionError(f"{what}: {sm} is negative but no bucket is", line)

    def _finish_family(self) -> None:
        if self.cur is not None:
            self._finish_point(self.cur)

    def finish(self) -> None:
        """Run the checks that wait for the end of the document (the last point)."""
        self._finish_family()
        self.cur = None


def _counter_value(v: float, where: str, line: int, *, integer: bool) -> None:
    if math.isnan(v):
        raise ExpositionError(f"{where} must not be NaN", line)
    if v < 0:
        raise ExpositionError(f"{where} must not be negative, got {_fmt(v)}", line)
    if integer and not (math.isfinite(v) and v == int(v)):
        raise ExpositionError(f"{where} must be an integer, got {_fmt(v)}", line)


def _number(s: str) -> float | None:
    b = s.encode("utf-8", "replace")
    if not FLOAT_RE.fullmatch(b):
        return None
    return float(b)


def _fmt(v: float) -> str:
    return repr(v) if not math.isnan(v) else "NaN"


def _show(group: tuple) -> str:
    if not group:
        return ""
    return "{" + ",".join(f'{k}="{v}"' for k, v in group) + "}"
