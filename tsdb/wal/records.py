"""WAL record codec: pure functions, arrays in, bytes out (and back).

See docs/format/wal.md#records for the byte layout.

Strategy
--------
A record payload is one *type byte* followed by one msgpack array. Every
numeric column travels as a msgpack ``bin`` holding the raw little-endian
bytes of an int64/float64 numpy array, so encoding a 10k-sample batch is one
memcpy per column and decoding is ``np.frombuffer`` (no copy, no Python loop
per sample). Floats are never converted, so every bit pattern survives: NaN
payloads such as the staleness marker ``0x7ff0000000000002``, -0.0, ±Inf.

A scrape commits a whole batch at one timestamp, so a samples record whose
timestamps are all equal stores that timestamp once, as a msgpack int, instead
of a column (saves 8 of 24 bytes a sample); a record whose timestamps differ
(for example the merged records of a checkpoint) stores the column.

Invariants
----------
* The type byte says both *what* the record is and *which layout* its body
  has. A new layout of an existing kind takes a new type byte; old bytes keep
  decoding. An unknown type byte is a :class:`~tsdb.errors.CorruptError`.
* Decoding never raises anything but ``CorruptError`` on bad bytes: msgpack
  errors, wrong shapes, and column lengths that are not a multiple of 8 or do
  not agree are all reported as corruption.
* Decoded arrays are read-only views of the payload (the records are frozen).
* Label sets are trusted as written: once the frame CRC matched and msgpack
  parsed, only the count of label sets is checked (checking every pair would
  be a Python loop per label on the replay path).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

import msgpack
import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..errors import CorruptError, InvalidSampleError
from ..labels import Labels

__all__ = [
    "RecordType",
    "SeriesRecord",
    "SamplesRecord",
    "TombstonesRecord",
    "Record",
    "encode_series",
    "encode_samples",
    "encode_tombstones",
    "decode_record",
    "record_type",
]

_I8 = np.dtype("<i8")
_F8 = np.dtype("<f8")


class RecordType(IntEnum):
    """The first byte of every record payload (kind and layout version)."""

    SERIES_V1 = 1
    SAMPLES_V1 = 2
    TOMBSTONES_V1 = 3


@dataclass(frozen=True, slots=True, eq=False)
class SeriesRecord:
    """New series: ``refs[i]`` is the head ref of the series ``labels[i]``."""

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


Record = SeriesRecord | SamplesRecord | TombstonesRecord


# --------------------------------------------------------------------- encode


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


def _bin(arr: NDArray) -> memoryview:
    # A byte view, so msgpack stores len(bytes) and copies once into the output.
    return memoryview(arr).cast("B")


def _pack(rtype: RecordType, body: list) -> bytes:
    return bytes((rtype,)) + msgpack.packb(body, use_bin_type=True)


def encode_series(refs: ArrayLike, labels: Sequence[Labels]) -> bytes:
    """Encode new series. ``labels[i]`` is the canonical label set of ``refs[i]``."""
    r = _column("refs", refs, _I8)
    if len(labels) != len(r):
        raise InvalidSampleError(f"series record has {len(r)} refs but {len(labels)} label sets")
    return _pack(RecordType.SERIES_V1, [_bin(r), list(labels)])


def encode_samples(refs: ArrayLike, ts: ArrayLike, vs: ArrayLike) -> bytes:
    """Encode a batch of samples; values are stored bit-exact."""
    r = _column("refs", refs, _I8)
    t = _column("ts", ts, _I8)
    v = _column("vs", vs, _F8)
    _same_length("samples", refs=r, ts=t, vs=v)
    # One timestamp for the whole batch (the scrape case) is stored once.
    tcol: int | memoryview
    if len(t) > 0 and t[0] == t[-1] and bool((t == t[0]).all()):
        tcol = int(t[0])
    else:
        tcol = _bin(t)
    return _pack(RecordType.SAMPLES_V1, [_bin(r), tcol, _bin(v)])


def encode_tombstones(refs: ArrayLike, mints: ArrayLike, maxts: ArrayLike) -> bytes:
    """Encode deleted time ranges (inclusive bounds, ms)."""
    r = _column("refs", refs, _I8)
    lo = _column("mints", mints, _I8)
    hi = _column("maxts", maxts, _I8)
    _same_length("tombstones", refs=r, mints=lo, maxts=hi)
    return _pack(RecordType.TOMBSTONES_V1, [_bin(r), _bin(lo), _bin(hi)])


# --------------------------------------------------------------------- decode


def record_type(buf: bytes | memoryview) -> RecordType:
    """The type of an encoded record, without decoding its body."""
    if len(buf) == 0:
        raise CorruptError("empty WAL record")
    try:
        return RecordType(buf[0])
    except ValueError:
        raise CorruptError(f"unknown WAL record type {buf[0]}") from None


def _unpack_body(buf: bytes | memoryview, rtype: RecordType, n_fields: int) -> tuple:
    try:
        body = msgpack.unpackb(memoryview(buf)[1:], use_list=False, raw=False)
    except (ValueError, TypeError, msgpack.exceptions.UnpackException) as e:
        raise CorruptError(f"{rtype.name} record: bad msgpack body ({e})") from None
    if type(body) is not tuple or len(body) != n_fields:
        raise CorruptError(f"{rtype.name} record: body must be an array of {n_fields} fields")
    return body


def _array(rtype: RecordType, name: str, raw: object, dtype: np.dtype) -> NDArray:
    if type(raw) is not bytes:
        raise CorruptError(f"{rtype.name} record: {name} must be bin, got {type(raw).__name__}")
    if len(raw) % 8:
        raise CorruptError(f"{rtype.name} record: {name} has {len(raw)} bytes, not a multiple of 8")
    return np.frombuffer(raw, dtype=dtype)


def _check_lengths(rtype: RecordType, **cols: NDArray) -> None:
    lengths = {k: len(v) for k, v in cols.items()}
    if len(set(lengths.values())) > 1:
        raise CorruptError(f"{rtype.name} record: column lengths differ: {lengths}")


def decode_record(buf: bytes | memoryview) -> Record:
    """Decode one record payload; raises :class:`CorruptError` on anything malformed."""
    rtype = record_type(buf)
    if rtype is RecordType.SAMPLES_V1:
        raw_r, raw_t, raw_v = _unpack_body(buf, rtype, 3)
        refs = _array(rtype, "refs", raw_r, _I8)
        vs = _array(rtype, "vs", raw_v, _F8)
        if type(raw_t) is int:
            if not -(2**63) <= raw_t < 2**63:
                raise CorruptError(f"{rtype.name} record: timestamp {raw_t} out of int64 range")
            ts = np.full(len(refs), raw_t, dtype=_I8)
            ts.flags.writeable = False
        else:
            ts = _array(rtype, "ts", raw_t, _I8)
        _check_lengths(rtype, refs=refs, ts=ts, vs=vs)
        return SamplesRecord(refs, ts, vs)
    if rtype is RecordType.SERIES_V1:
        raw_r, labels = _unpack_body(buf, rtype, 2)
        refs = _array(rtype, "refs", raw_r, _I8)
        if type(labels) is not tuple or len(labels) != len(refs):
            raise CorruptError(f"{rtype.name} record: {len(refs)} refs but label sets do not match")
        return SeriesRecord(refs, list(labels))
    if rtype is RecordType.TOMBSTONES_V1:
        raw_r, raw_lo, raw_hi = _unpack_body(buf, rtype, 3)
        refs = _array(rtype, "refs", raw_r, _I8)
        mints = _array(rtype, "mints", raw_lo, _I8)
        maxts = _array(rtype, "maxts", raw_hi, _I8)
        _check_lengths(rtype, refs=refs, mints=mints, maxts=maxts)
        return TombstonesRecord(refs, mints, maxts)
    raise RuntimeError(f"BUG: record type {rtype!r} has no decoder")
