"""What the exposition parser hands out: samples, metadata, exemplars.

Strategy: a parse produces a struct of arrays (``ParseResult``), not one object
per sample, because the consumer (the scrape loop) appends whole batches to the
TSDB. Per sample, in input order, it keeps

* ``series``: the raw series text, the bytes of the line from the first byte
  of the metric name to the end of the name or of the closing ``}``. It is the
  key of the scrape loop's series cache (see ``fast.py``).
* ``labels``: the canonical label set of ``tsdb.labels`` -- sorted
  ``(name, value)`` str pairs with ``__name__`` included and empty-valued
  labels dropped, as Prometheus treats an empty value as an absent label.
* ``values``: float64. Every NaN is stored as Prometheus' "normal" NaN
  ``0x7ff8000000000001`` (``value.NormalNaN``), so that no scraped value can
  ever equal the staleness marker ``0x7ff0000000000002``.
* ``timestamps`` / ``has_timestamp``: int64 milliseconds, valid where the mask
  is True; elsewhere the scrape time applies.

Metadata is per metric family name; exemplars are keyed by sample index.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

import numpy as np

Labels = tuple[tuple[str, str], ...]
"""Canonical label set, the same shape as ``tsdb.labels.Labels`` (not imported:
importing ``tsdb`` would load the whole storage engine into a pure parser)."""

MetricType = Literal[
    "counter", "gauge", "histogram", "gaugehistogram", "summary", "info", "stateset", "unknown"
]
"""Family types, named as OpenMetrics (and Prometheus' ``model.MetricType``) name
them; the text format's ``untyped`` is ``unknown``."""

Format = Literal["text", "openmetrics"]

NORMAL_NAN_BITS = 0x7FF8000000000001
"""Bit pattern of Prometheus' ``value.NormalNaN``: the NaN every parsed NaN becomes."""

NORMAL_NAN: float = struct.unpack("<d", struct.pack("<Q", NORMAL_NAN_BITS))[0]


@dataclass(slots=True)
class Metadata:
    """TYPE / HELP / UNIT of one metric family (None where the line was absent)."""

    name: str
    type: MetricType | None = None
    help: str | None = None
    unit: str | None = None


@dataclass(frozen=True, slots=True)
class Exemplar:
    """An OpenMetrics exemplar: its label set (canonical, no ``__name__``), value,
    and timestamp in ms (OpenMetrics gives seconds; truncated toward zero as
    Prometheus does)."""

    labels: Labels
    value: float
    timestamp_ms: int | None = None


class Sample(NamedTuple):
    """One sample, for callers that want objects (tests, tools); not the hot path."""

    series: bytes
    labels: Labels
    value: float
    timestamp_ms: int | None


@dataclass(slots=True)
class ParseResult:
    """A parsed exposition: per-sample arrays in input order, plus metadata.

    Invariant: ``len(series) == len(labels) == len(values) == len(timestamps)
    == len(has_timestamp)``; ``timestamps[i]`` is 0 where ``has_timestamp[i]``
    is False.
    """

    format: Format
    series: list[bytes]
    labels: list[Labels]
    values: np.ndarray
    timestamps: np.ndarray
    has_timestamp: np.ndarray
    metadata: dict[str, Metadata] = field(default_factory=dict)
    exemplars: dict[int, Exemplar] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.series)

    def samples(self) -> Iterator[Sample]:
        """Yield the samples as :class:`Sample` tuples, in input order."""
        for i, (s, lbls) in enumerate(zip(self.series, self.labels, strict=True)):
            ts = int(self.timestamps[i]) if self.has_timestamp[i] else None
            yield Sample(s, lbls, float(self.values[i]), ts)


class SampleBuilder:
    """Accumulates samples while a parser runs; ``build`` freezes them.

    Values and timestamps go into Python lists first (appending to a list is
    the cheapest per-line operation there is) and become numpy arrays once.
    """

    __slots__ = ("series", "labels", "values", "timestamps", "ts_mask", "exemplars", "any_ts")

    def __init__(self) -> None:
        self.series: list[bytes] = []
        self.labels: list[Labels] = []
        self.values: list[float] = []
        self.timestamps: list[int] = []
        self.ts_mask: list[bool] = []
        self.exemplars: dict[int, Exemplar] = {}
        self.any_ts = False

    def add(self, series: bytes, labels: Labels, value: float, ts: int | None) -> int:
        self.series.append(series)
        self.labels.append(labels)
        self.values.append(value)
        if ts is None:
            self.timestamps.append(0)
            self.ts_mask.append(False)
        else:
            self.timestamps.append(ts)
            self.ts_mask.append(True)
            self.any_ts = True
        return len(self.series) - 1

    def build(self, fmt: Format, metadata: dict[str, Metadata]) -> ParseResult:
        values = np.array(self.values, dtype=np.float64)
        nan = np.isnan(values)
        if nan.any():
            values.view(np.uint64)[nan] = NORMAL_NAN_BITS
        return ParseResult(
            format=fmt,
            series=self.series,
            labels=self.labels,
            values=values,
            timestamps=np.array(self.timestamps, dtype=np.int64),
            has_timestamp=np.array(self.ts_mask, dtype=bool),
            metadata=metadata,
            exemplars=self.exemplars,
        )
