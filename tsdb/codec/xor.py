"""Gorilla XOR chunks, byte-compatible with Prometheus's ``chunkenc.EncXOR``.

Pure functions, arrays in and bytes out: no I/O, no globals, no hidden
state. The bit layout is documented in docs/format/chunks.md.

Strategy
--------
The per-sample work runs in two compiled kernels (Cython, built ahead of
time: ``_xor_encode.pyx``, ``_xor_decode.pyx``) that process *many* chunks
per call, without the GIL, because the head
cuts thousands of series' buffers at once and a query decodes every chunk of
a selection at once. The single-chunk functions are thin wrappers around the
batched ones. This module validates input with whole-array numpy checks,
allocates the outputs and turns kernel status codes into
:class:`~tsdb.errors.CorruptChunkError` (bad bytes) or ``ValueError`` (bad
arguments); kernels never raise.

Invariants
----------
* ``decode(encode(ts, vs))`` returns ``ts`` and the *bits* of ``vs`` exactly
  (NaN payloads, the staleness NaN ``0x7ff0000000000002``, -0.0, ±Inf and
  subnormals included), for any int64 timestamps: sorted or not, any deltas.
* ``encode`` output is byte-identical to a fresh Prometheus ``XORChunk``
  appended with the same samples; ``tsdb.codec.xor_reference`` is the oracle.
* The kernels take C-contiguous arrays of one dtype each (checked at the
  call, ``tsdb/_ndarray.pxd``) and only read their inputs, so read-only input
  such as ``np.frombuffer(bytes)`` or an mmap is accepted without a copy.
  Nothing is compiled at run time.

Performance (see ``python -m bench.codec``): tens of millions of samples per
second per core for 120-sample chunks through the ``*_many`` functions; the
single-chunk functions cost 5-9 µs of call overhead each (measured), mostly input checks.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from tsdb.codec import _xor_decode as _dec
from tsdb.codec._xor_encode import encode_many as _encode_many_kernel
from tsdb.codec._xor_encode import max_encoded_size as _max_encoded_size
from tsdb.errors import CorruptChunkError

#: Prometheus's ``chunkenc.EncXOR``: the encoding byte stored before the chunk data.
ENCODING_XOR = 1

#: The 2-byte big-endian header caps a chunk at this many samples.
MAX_SAMPLES_PER_CHUNK = 0xFFFF

__all__ = [
    "ENCODING_XOR",
    "MAX_SAMPLES_PER_CHUNK",
    "chunk_num_samples",
    "decode_xor",
    "decode_xor_many",
    "encode_xor",
    "encode_xor_many",
    "warmup",
]


# --------------------------------------------------------------------------- helpers


def _readonly(a: np.ndarray) -> np.ndarray:
    """A read-only view of ``a`` (see the module invariants: one kernel signature)."""
    v = a.view()
    v.flags.writeable = False
    return v


def _frozen(a: np.ndarray) -> np.ndarray:
    """``a`` itself, made read-only: for arrays this module just created."""
    a.flags.writeable = False
    return a


_ZERO1 = _frozen(np.zeros(1, dtype=np.int64))


def _int64_vector(name: str, a: object) -> NDArray[np.int64]:
    arr = np.asarray(a)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-dimensional, got shape {arr.shape}")
    if arr.size and arr.dtype.kind not in "iu":
        raise ValueError(f"{name} must have an integer dtype, got {arr.dtype}")
    return _readonly(np.ascontiguousarray(arr, dtype=np.int64))


def _samples(ts: object, vs: object) -> tuple[NDArray[np.int64], NDArray[np.uint64]]:
    """Validated timestamps and the *bits* of the values (uint64), read-only."""
    ts_arr = _int64_vector("ts", ts)
    vs_arr = np.asarray(vs)
    if vs_arr.ndim != 1:
        raise ValueError(f"vs must be 1-dimensional, got shape {vs_arr.shape}")
    if vs_arr.size and vs_arr.dtype.kind not in "fiu":
        raise ValueError(f"vs must have a float dtype, got {vs_arr.dtype}")
    if ts_arr.shape != vs_arr.shape:
        raise ValueError(f"ts and vs differ in length: {ts_arr.shape[0]} != {vs_arr.shape[0]}")
    vbits = np.ascontiguousarray(vs_arr, dtype=np.float64).view(np.uint64)
    return ts_arr, _readonly(vbits)


def _bytes_u8(name: str, buf: object) -> NDArray[np.uint8]:
    """``buf`` (bytes-like or uint8 array) as a read-only contiguous uint8 array."""
    if isinstance(buf, np.ndarray):
        if buf.dtype != np.uint8 or buf.ndim != 1:
            raise ValueError(
                f"{name} must be a 1-dimensional uint8 array, got {buf.dtype} {buf.shape}"
            )
        arr = np.ascontiguousarray(buf)
    else:
        arr = np.frombuffer(buf, dtype=np.uint8)
    return _readonly(arr)


def _first(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


# --------------------------------------------------------------------------- encode


def encode_xor_many(
    ts: NDArray[np.int64],
    vs: NDArray[np.float64],
    starts: NDArray[np.int64],
    counts: NDArray[np.int64],
) -> tuple[NDArray[np.uint8], NDArray[np.int64]]:
    """Encode ``k`` chunks at once.

    Chunk ``i`` holds samples ``ts[starts[i] : starts[i] + counts[i]]`` (and the
    same slice of ``vs``). Chunks may overlap or come in any order.

    Returns
    -------
    data : uint8 array
        The chunks back to back (each is the chunk *data* of Prometheus's
        chunk format: header and bit stream, without encoding byte or CRC).
    offsets : int64 array of length ``k + 1``
        Chunk ``i`` is ``data[offsets[i] : offsets[i + 1]]``.

    Raises
    ------
    ValueError
        Mismatched lengths or dtypes, a count outside 1..65535, or a slice
        outside ``ts``; the message names the first offending chunk.
    """
    ts_arr, vbits = _samples(ts, vs)
    starts_arr = _int64_vector("starts", starts)
    counts_arr = _int64_vector("counts", counts)
    if starts_arr.shape != counts_arr.shape:
        raise ValueError(
            f"starts and counts differ in length: {starts_arr.shape[0]} != {counts_arr.shape[0]}"
        )
    bad = (counts_arr < 1) | (counts_arr > MAX_SAMPLES_PER_CHUNK)
    if bad.any():
        i = _first(bad)
        raise ValueError(
            f"chunk {i}: {counts_arr[i]} samples; a chunk holds 1 to {MAX_SAMPLES_PER_CHUNK}"
        )
    bad = (starts_arr < 0) | (starts_arr > ts_arr.shape[0] - counts_arr)
    if bad.any():
        i = _first(bad)
        raise ValueError(
            f"chunk {i}: samples {starts_arr[i]}..{starts_arr[i] + counts_arr[i]} "
            f"are outside the {ts_arr.shape[0]} given"
        )
    k = starts_arr.shape[0]
    offsets = np.zeros(k + 1, dtype=np.int64)
    if k == 0:
        return np.zeros(0, dtype=np.uint8), offsets
    out = np.empty(_max_encoded_size(counts_arr), dtype=np.uint8)
    end = _encode_many_kernel(ts_arr, vbits, starts_arr, counts_arr, out, offsets)
    if end < 0:
        raise RuntimeError(f"BUG: {out.shape[0]}-byte buffer too small for {k} XOR chunks")
    return out[:end].copy(), offsets


def encode_xor(ts: NDArray[np.int64], vs: NDArray[np.float64]) -> bytes:
    """Encode one chunk of 1 to 65535 samples; the bytes Prometheus would write.

    Header ``0001``, varint timestamp ``d00f``, the value's 8 bytes, and the
    empty byte Prometheus's bit writer leaves behind (docs/format/chunks.md):

    >>> import numpy as np
    >>> encode_xor(np.array([1000]), np.array([1.0])).hex()
    '0001d00f3ff000000000000000'
    """
    ts_arr, vbits = _samples(ts, vs)
    n = ts_arr.shape[0]
    if not 1 <= n <= MAX_SAMPLES_PER_CHUNK:
        raise ValueError(f"a chunk holds 1 to {MAX_SAMPLES_PER_CHUNK} samples, got {n}")
    # Straight to the kernel: the checks of encode_xor_many cost more than the work here.
    counts = _frozen(np.array([n], dtype=np.int64))
    out = np.empty(_max_encoded_size(counts), dtype=np.uint8)
    offsets = np.empty(2, dtype=np.int64)
    end = _encode_many_kernel(ts_arr, vbits, _ZERO1, counts, out, offsets)
    if end < 0:
        raise RuntimeError(f"BUG: {out.shape[0]}-byte buffer too small for a {n}-sample XOR chunk")
    return out[:end].tobytes()


# --------------------------------------------------------------------------- decode


def chunk_num_samples(buf: bytes | memoryview | NDArray[np.uint8]) -> int:
    """Number of samples a chunk holds, from its 2-byte big-endian header."""
    arr = _bytes_u8("buf", buf)
    if arr.shape[0] < 2:
        raise CorruptChunkError(
            f"chunk 0: {arr.shape[0]} bytes is too short for the 2-byte sample count", offset=0
        )
    return (int(arr[0]) << 8) | int(arr[1])


def _raise_corrupt(
    status: int,
    chunk: int,
    sample: int,
    byte: int,
    a: int,
    b: int,
    offsets: np.ndarray,
    lengths: np.ndarray,
    bounds: np.ndarray,
) -> None:
    """Turn a kernel status tuple into the exception it stands for."""
    length = int(lengths[chunk])
    n = int(bounds[chunk + 1] - bounds[chunk])
    where = f"sample {sample} of {n}, starting at byte {byte}"
    if status == _dec.ERR_TRUNCATED:
        msg = f"bit stream ends at byte {length} while reading sample {sample} of {n}"
        byte = length
    elif status == _dec.ERR_VARINT_OVERFLOW:
        msg = f"varint overflows 64 bits ({where})"
    elif status == _dec.ERR_BAD_WINDOW:
        msg = f"XOR window of {a} leading zeros and {b} significant bits exceeds 64 bits ({where})"
    elif status == _dec.ERR_SHORT_HEADER:
        msg = f"{length} bytes is too short for the 2-byte sample count"
    else:
        raise RuntimeError(
            f"BUG: XOR decoder status {status} at chunk {chunk} sample {sample} (a={a}, b={b})"
        )
    raise CorruptChunkError(f"chunk {chunk}: {msg}", offset=int(offsets[chunk]) + byte)


def decode_xor_many(
    data: NDArray[np.uint8],
    offsets: NDArray[np.int64],
    lengths: NDArray[np.int64],
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.int64]]:
    """Decode ``k`` chunks at once; chunk ``i`` is ``data[offsets[i] : offsets[i] + lengths[i]]``.

    Returns
    -------
    ts : int64 array, vs : float64 array
        All samples, chunk after chunk.
    bounds : int64 array of length ``k + 1``
        Chunk ``i``'s samples are ``ts[bounds[i] : bounds[i + 1]]``.

    Raises
    ------
    CorruptChunkError
        A chunk is shorter than its header, its bit stream ends early, or it
        holds a field no encoder writes; the message names the chunk index,
        the sample and the byte, ``offset`` is the byte's position in ``data``.
    ValueError
        ``offsets`` and ``lengths`` differ in length or are not integers.
    """
    arr = _bytes_u8("data", data)
    offs = _int64_vector("offsets", offsets)
    lens = _int64_vector("lengths", lengths)
    if offs.shape != lens.shape:
        raise ValueError(
            f"offsets and lengths differ in length: {offs.shape[0]} != {lens.shape[0]}"
        )
    size = arr.shape[0]
    bad = (offs < 0) | (lens < 0) | (offs > size - lens)
    if bad.any():
        i = _first(bad)
        raise CorruptChunkError(
            f"chunk {i}: offset {offs[i]} + length {lens[i]} is outside the {size}-byte data",
            offset=int(offs[i]),
        )
    bad = lens < 2
    if bad.any():
        i = _first(bad)
        raise CorruptChunkError(
            f"chunk {i}: {lens[i]} bytes is too short for the 2-byte sample count",
            offset=int(offs[i]),
        )
    counts = (arr[offs].astype(np.int64) << 8) | arr[offs + 1]
    bounds = np.zeros(offs.shape[0] + 1, dtype=np.int64)
    np.cumsum(counts, out=bounds[1:])
    total = int(bounds[-1])
    ts = np.empty(total, dtype=np.int64)
    vbits = np.empty(total, dtype=np.uint64)
    status = _dec.decode_many(arr, offs, lens, _readonly(bounds), ts, vbits)
    if status[0] != _dec.ERR_OK:
        _raise_corrupt(*(int(x) for x in status), offs, lens, bounds)
    return ts, vbits.view(np.float64), bounds


def decode_xor(
    buf: bytes | memoryview | NDArray[np.uint8],
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Decode one chunk into ``(ts, vs)``; see :func:`decode_xor_many` for errors.

    >>> decode_xor(bytes.fromhex('0001d00f3ff0000000000000'))
    (array([1000]), array([1.]))
    """
    arr = _bytes_u8("buf", buf)
    size = arr.shape[0]
    if size < 2:
        raise CorruptChunkError(
            f"chunk 0: {size} bytes is too short for the 2-byte sample count", offset=0
        )
    # Straight to the kernel: the checks of decode_xor_many cost more than the work here.
    n = (int(arr[0]) << 8) | int(arr[1])
    lengths = _frozen(np.array([size], dtype=np.int64))
    bounds = _frozen(np.array([0, n], dtype=np.int64))
    ts = np.empty(n, dtype=np.int64)
    vbits = np.empty(n, dtype=np.uint64)
    status = _dec.decode_many(arr, _ZERO1, lengths, bounds, ts, vbits)
    if status[0] != _dec.ERR_OK:
        _raise_corrupt(*(int(x) for x in status), _ZERO1, lengths, bounds)
    return ts, vbits.view(np.float64)


def warmup() -> None:
    """Run every kernel once on a 3-sample chunk (a cheap self-check).

    The kernels are compiled ahead of time, so there is nothing to warm up;
    this stays for callers that still call it at startup.
    """
    ts = np.array([0, 15_000, 30_001], dtype=np.int64)
    vs = np.array([0.0, 1.5, 1.5], dtype=np.float64)
    data, offsets = encode_xor_many(ts, vs, np.array([0]), np.array([3]))
    decode_xor_many(data, offsets[:-1], np.diff(offsets))
