"""WAL record codec in Prometheus's format (``tsdb/record``): pure functions, arrays in, bytes out.

See docs/format/wal.md#records for the byte layout. Prometheus and promlite
read each other's WAL, so these bytes are Prometheus's, not ours to choose.

Strategy
--------
A record is one type byte and a body. Sample and tombstone bodies are walked
by compiled kernels (``_record_kernels``) a whole record per call; series
bodies are walked by a kernel that returns string offsets, and only the
strings themselves are made in Python (one ``str`` per label, which the head
needs anyway). Exemplar and metadata records are rare (promlite writes none
yet; Prometheus writes them for exemplar and metadata-WAL features), so they
are coded in plain Python and kept so that a checkpoint passes them on.

Floats are copied as their 64 bits, so every bit pattern survives: the
staleness marker ``0x7ff0000000000002``, other NaN payloads, -0.0, ±Inf.

Invariants
----------
* Decoding raises nothing but :class:`~tsdb.errors.CorruptError` on bad
  bytes: a truncated body, a varint overflow, or bytes left over.
* Record types promlite cannot store yet (native histograms, memory-map
  markers of the out-of-order log) decode to :class:`OpaqueRecord`, so a
  caller can say exactly what it is refusing; an unknown type byte is
  corruption.
* Decoded arrays are owned by the record (not views of the segment).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..errors import CorruptError, InvalidSampleError
from ..labels import Labels
from . import _record_kernels as K

__all__ = [
    "RecordType",
    "SeriesRecord",
    "SamplesRecord",
    "TombstonesRecord",
    "ExemplarsRecord",
    "MetadataRecord",
    "OpaqueRecord",
    "Record",
    "encode_series",
    "encode_samples",
    "encode_tombstones",
    "encode_exemplars",
    "encode_metadata",
    "decode_record",
    "record_type",
]

_I8 = np.dtype("<i8")
_F8 = np.dtype("<f8")
_BE64 = struct.Struct(">Q")


class RecordType(IntEnum):
    """The first byte of every record (Prometheus's ``record.Type``)."""

    SERIES = 1
    SAMPLES = 2
    TOMBSTONES = 3
    EXEMPLARS = 4
    MMAP_MARKERS = 5
    METADATA = 6
    HISTOGRAM_SAMPLES = 7
    FLOAT_HISTOGRAM_SAMPLES = 8
    CUSTOM_BUCKETS_HISTOGRAM_SAMPLES = 9
    CUSTOM_BUCKETS_FLOAT_HISTOGRAM_SAMPLES = 10


#: what an opaque record holds, for error messages
OPAQUE_KINDS = {
    RecordType.MMAP_MARKERS: "memory-map markers",
    RecordType.HISTOGRAM_SAMPLES: "native histogram samples",
    RecordType.FLOAT_HISTOGRAM_SAMPLES: "native float histogram samples",
    RecordType.CUSTOM_BUCKETS_HISTOGRAM_SAMPLES: "custom-bucket histogram samples",
    RecordType.CUSTOM_BUCKETS_FLOAT_HISTOGRAM_SAMPLES: "custom-bucket float histogram samples",
}


@dataclass(frozen=True, slots=True, eq=False)
class SeriesRecord:
    """New series: ``refs[i]`` is the series ref of ``labels[i]``."""

    refs: NDArray[np.int64]
    labels: list[Labels]


@dataclass(frozen=True, slots=True, eq=False)
class SamplesRecord:
    """One sample per row: series ``refs[i]`` had value ``vs[i]`` at ``ts[i]`` (ms)."""

    refs: NDArray[np.int64]
    ts: NDArray[np.int64]
    vs: NDArray[np.float64]


@dataclass(frozen=True, slots=True, eq=False)
class TombstonesRecord:
    """Deleted ranges: series ``refs[i]`` lost its samples in ``[mints[i], maxts[i]]`` (inclusive)."""

    refs: NDArray[np.int64]
    mints: NDArray[np.int64]
    maxts: NDArray[np.int64]


@dataclass(frozen=True, slots=True, eq=False)
class ExemplarsRecord:
    """Exemplars: ``refs[i]`` had exemplar ``labels[i]`` with value ``vs[i]`` at ``ts[i]``."""

    refs: NDArray[np.int64]
    ts: NDArray[np.int64]
    vs: NDArray[np.float64]
    labels: list[Labels]


@dataclass(frozen=True, slots=True, eq=False)
class MetadataRecord:
    """Metric metadata per series: Prometheus's type code (``record.MetricType``), unit, help."""

    refs: NDArray[np.int64]
    types: list[int]
    units: list[str]
    helps: list[str]


@dataclass(frozen=True, slots=True, eq=False)
class OpaqueRecord:
    """A record promlite cannot interpret yet; ``data`` is the whole record, type byte included."""

    type: RecordType
    data: bytes

    @property
    def refs(self) -> NDArray[np.int64]:  # for uniform row counting
        return np.zeros(0, dtype=np.int64)


Record = SeriesRecord | SamplesRecord | TombstonesRecord | ExemplarsRecord | MetadataRecord | OpaqueRecord


# --------------------------------------------------------------------- helpers


def _column(name: str, a: ArrayLike, dtype: np.dtype) -> NDArray:
    """``a`` as a contiguous 1-D array of ``dtype``; only lossless casts are allowed."""
    arr = np.asarray(a)
    if arr.ndim != 1:
        raise InvalidSampleError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.size == 0:
        return np.empty(0, dtype=dtype)
    if arr.dtype != dtype:
        if not np.can_cast(arr.dtype, dtype, "safe"):
            raise InvalidSampleError(f"{name} must be {dtype.name}, got {arr.dtype} (lossy cast)")
        arr = arr.astype(dtype)
    return np.ascontiguousarray(arr)


def _same_length(kind: str, **cols: NDArray) -> None:
    lengths = {k: len(v) for k, v in cols.items()}
    if len(set(lengths.values())) > 1:
        raise InvalidSampleError(f"{kind} columns differ in length: {lengths}")


def _uvarint(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _varint(x: int) -> bytes:
    return _uvarint(((x << 1) ^ (x >> 63)) & 0xFFFFFFFFFFFFFFFF)


def _ustr(s: str) -> bytes:
    b = s.encode()
    return _uvarint(len(b)) + b


def _labels_bytes(labels: Labels) -> bytes:
    return _uvarint(len(labels)) + b"".join(_ustr(n) + _ustr(v) for n, v in labels)


class _Decoder:
    """Sequential reader for the rare, Python-coded record kinds."""

    __slots__ = ("buf", "pos", "kind")

    def __init__(self, buf: bytes, pos: int, kind: str) -> None:
        self.buf, self.pos, self.kind = buf, pos, kind

    def more(self) -> bool:
        return self.pos < len(self.buf)

    def _fail(self, what: str) -> CorruptError:
        return CorruptError(f"{self.kind} record: {what} at byte {self.pos}")

    def be64(self) -> int:
        if len(self.buf) - self.pos < 8:
            raise self._fail("truncated")
        (v,) = _BE64.unpack_from(self.buf, self.pos)
        self.pos += 8
        return v

    def byte(self) -> int:
        if self.pos >= len(self.buf):
            raise self._fail("truncated")
        self.pos += 1
        return self.buf[self.pos - 1]

    def uvarint(self) -> int:
        x = shift = 0
        for i in range(10):
            b = self.byte()
            if b < 0x80:
                if i == 9 and b > 1:
                    raise self._fail("varint overflows 64 bits")
                return x | (b << shift)
            x |= (b & 0x7F) << shift
            shift += 7
        raise self._fail("varint overflows 64 bits")

    def varint(self) -> int:
        u = self.uvarint()
        return (u >> 1) ^ -(u & 1)

    def string(self) -> str:
        n = self.uvarint()
        if n > len(self.buf) - self.pos:
            raise self._fail("truncated string")
        raw = self.buf[self.pos : self.pos + n]
        self.pos += n
        try:
            return raw.decode()
        except UnicodeDecodeError:
            raise self._fail("string is not UTF-8") from None

    def labels(self) -> Labels:
        return tuple((self.string(), self.string()) for _ in range(self.uvarint()))


def _to_i64(u: int) -> int:
    """``u`` (any int) wrapped to int64, as Go's int64 arithmetic and the sample kernels do."""
    u &= 0xFFFFFFFFFFFFFFFF
    return u - (1 << 64) if u >= 1 << 63 else u


# --------------------------------------------------------------------- encode


def encode_series(refs: ArrayLike, labels: Sequence[Labels]) -> bytes:
    """Encode new series. ``labels[i]`` is the canonical (sorted) label set of ``refs[i]``."""
    r = _column("refs", refs, _I8)
    if len(labels) != len(r):
        raise InvalidSampleError(f"series record has {len(r)} refs but {len(labels)} label sets")
    be = _BE64.pack
    parts = [bytes((RecordType.SERIES,))]
    for ref, ls in zip(r.tolist(), labels, strict=True):
        parts.append(be(ref & 0xFFFFFFFFFFFFFFFF))
        parts.append(_labels_bytes(ls))
    return b"".join(parts)


def encode_samples(refs: ArrayLike, ts: ArrayLike, vs: ArrayLike) -> bytes:
    """Encode a batch of float samples; values are stored bit-exact."""
    r = _column("refs", refs, _I8)
    t = _column("ts", ts, _I8)
    v = _column("vs", vs, _F8)
    _same_length("samples", refs=r, ts=t, vs=v)
    out = np.empty(17 + 28 * len(r), dtype=np.uint8)
    n = K.encode_samples_body(out[1:], r, t, v.view(np.int64))
    out[0] = RecordType.SAMPLES
    return out[: n + 1].tobytes()


def encode_tombstones(refs: ArrayLike, mints: ArrayLike, maxts: ArrayLike) -> bytes:
    """Encode deleted time ranges (inclusive bounds, ms)."""
    r = _column("refs", refs, _I8)
    lo = _column("mints", mints, _I8)
    hi = _column("maxts", maxts, _I8)
    _same_length("tombstones", refs=r, mints=lo, maxts=hi)
    out = np.empty(1 + 28 * len(r), dtype=np.uint8)
    n = K.encode_tombstones_body(out[1:], r, lo, hi)
    out[0] = RecordType.TOMBSTONES
    return out[: n + 1].tobytes()


def encode_exemplars(refs: ArrayLike, ts: ArrayLike, vs: ArrayLike, labels: Sequence[Labels]) -> bytes:
    """Encode exemplars (Prometheus's layout: deltas against the first, then the exemplar's labels)."""
    r = _column("refs", refs, _I8)
    t = _column("ts", ts, _I8)
    v = _column("vs", vs, _F8)
    _same_length("exemplars", refs=r, ts=t, vs=v)
    parts = [bytes((RecordType.EXEMPLARS,))]
    if len(r):
        r0, t0 = int(r[0]), int(t[0])
        parts += [_BE64.pack(r0 & 0xFFFFFFFFFFFFFFFF), _BE64.pack(t0 & 0xFFFFFFFFFFFFFFFF)]
        for ref, tt, bits, ls in zip(r.tolist(), t.tolist(), v.view(np.uint64).tolist(), labels, strict=True):
            parts += [_varint(_to_i64(ref - r0)), _varint(_to_i64(tt - t0)), _BE64.pack(bits), _labels_bytes(ls)]
    return b"".join(parts)


def encode_metadata(refs: ArrayLike, types: Sequence[int], units: Sequence[str], helps: Sequence[str]) -> bytes:
    """Encode metric metadata (Prometheus writes the fields UNIT and HELP)."""
    r = _column("refs", refs, _I8)
    parts = [bytes((RecordType.METADATA,))]
    for ref, typ, unit, help_ in zip(r.tolist(), types, units, helps, strict=True):
        parts += [_uvarint(ref & 0xFFFFFFFFFFFFFFFF), bytes((typ,)), _uvarint(2), _ustr("UNIT"), _ustr(unit), _ustr("HELP"), _ustr(help_)]
    return b"".join(parts)


# --------------------------------------------------------------------- decode


def record_type(buf: bytes | memoryview) -> RecordType:
    """The type of an encoded record, without decoding its body."""
    if len(buf) == 0:
        raise CorruptError("empty WAL record")
    try:
        return RecordType(buf[0])
    except ValueError:
        raise CorruptError(f"unknown WAL record type {buf[0]}") from None


_STATUS = {1: "truncated", 2: "varint overflows 64 bits"}


def _kernel_error(kind: str, status: int, pos: int) -> CorruptError:
    return CorruptError(f"{kind} record: {_STATUS.get(status, f'status {status}')} at byte {pos}")


def _decode_samples(arr: NDArray[np.uint8]) -> SamplesRecord:
    cap = max(0, (len(arr) - 17) // 10 + 1)
    refs = np.empty(cap, dtype=np.int64)
    ts = np.empty(cap, dtype=np.int64)
    bits = np.empty(cap, dtype=np.int64)
    n, st, pos = K.decode_samples_body(arr, 1, refs, ts, bits)
    if st:
        raise _kernel_error("samples", st, pos)
    return SamplesRecord(refs[:n], ts[:n], bits[:n].view(np.float64))


def _decode_tombstones(arr: NDArray[np.uint8]) -> TombstonesRecord:
    cap = (len(arr) - 1) // 10 + 1
    refs = np.empty(cap, dtype=np.int64)
    mints = np.empty(cap, dtype=np.int64)
    maxts = np.empty(cap, dtype=np.int64)
    n, st, pos = K.decode_tombstones_body(arr, 1, refs, mints, maxts)
    if st:
        raise _kernel_error("tombstones", st, pos)
    return TombstonesRecord(refs[:n], mints[:n], maxts[:n])


def _decode_series(buf: bytes, arr: NDArray[np.uint8]) -> SeriesRecord:
    size = len(arr) - 1
    refs = np.empty(size // 9 + 1, dtype=np.int64)
    nlab = np.empty(size // 9 + 1, dtype=np.int64)
    off = np.empty(size + 1, dtype=np.int64)
    ln = np.empty(size + 1, dtype=np.int64)
    n, m, st, pos = K.scan_series_body(arr, 1, refs, nlab, off, ln)
    if st:
        raise _kernel_error("series", st, pos)
    ends = (off[:m] + ln[:m]).tolist()
    try:
        strings = [buf[a:b].decode() for a, b in zip(off[:m].tolist(), ends, strict=True)]
    except UnicodeDecodeError:
        raise CorruptError("series record: a label is not UTF-8") from None
    labels: list[Labels] = []
    k = 0
    for c in nlab[:n].tolist():
        flat = strings[k : k + 2 * c]
        labels.append(tuple(zip(flat[0::2], flat[1::2], strict=True)))
        k += 2 * c
    return SeriesRecord(refs[:n].copy(), labels)


def _decode_exemplars(buf: bytes) -> ExemplarsRecord:
    d = _Decoder(buf, 1, "exemplars")
    refs: list[int] = []
    ts: list[int] = []
    bits: list[int] = []
    labels: list[Labels] = []
    if d.more():
        r0, t0 = _to_i64(d.be64()), _to_i64(d.be64())
        while d.more():
            refs.append(_to_i64(r0 + d.varint()))
            ts.append(_to_i64(t0 + d.varint()))
            bits.append(d.be64())
            labels.append(d.labels())
    return ExemplarsRecord(
        np.array(refs, dtype=np.int64), np.array(ts, dtype=np.int64),
        np.array(bits, dtype=np.uint64).view(np.float64), labels,
    )


def _decode_metadata(buf: bytes) -> MetadataRecord:
    d = _Decoder(buf, 1, "metadata")
    refs: list[int] = []
    types: list[int] = []
    units: list[str] = []
    helps: list[str] = []
    while d.more():
        refs.append(_to_i64(d.uvarint()))
        types.append(d.byte())
        fields = {}
        for _ in range(d.uvarint()):
            k = d.string()
            fields[k] = d.string()
        units.append(fields.get("UNIT", ""))
        helps.append(fields.get("HELP", ""))
    return MetadataRecord(np.array(refs, dtype=np.int64), types, units, helps)


def decode_record(buf: bytes | memoryview) -> Record:
    """Decode one record; raises :class:`CorruptError` on anything malformed."""
    rtype = record_type(buf)
    raw = bytes(buf) if not isinstance(buf, bytes) else buf
    if rtype is RecordType.SAMPLES:
        return _decode_samples(np.frombuffer(raw, dtype=np.uint8))
    if rtype is RecordType.SERIES:
        return _decode_series(raw, np.frombuffer(raw, dtype=np.uint8))
    if rtype is RecordType.TOMBSTONES:
        return _decode_tombstones(np.frombuffer(raw, dtype=np.uint8))
    if rtype is RecordType.EXEMPLARS:
        return _decode_exemplars(raw)
    if rtype is RecordType.METADATA:
        return _decode_metadata(raw)
    return OpaqueRecord(rtype, raw)
