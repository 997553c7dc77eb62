"""The ``tombstones`` file: deleted time ranges per series of a block.

Layout (docs/format/block.md#tombstones, Prometheus ``tsdb/docs/format/tombstones.md``)::

    magic 0x0130BA30 <4b BE> | version 1 <1b> | stone* | CRC32C(stone*) <4b BE>
    stone = series ref <uvarint64> | mint <varint64> | maxt <varint64>

The CRC covers the stones only, not the version byte (Prometheus skips it
"for compatibility"). An empty file is therefore the 9 bytes
``01 30 BA 30 01 00 00 00 00``. Intervals are closed ``[mint, maxt]``. A
series with several intervals has one stone per interval; on reading,
intervals of a series are merged as Prometheus's ``Intervals.Add`` does
(overlapping or adjacent ones become one), so the result per series is
sorted and disjoint. A missing file means "no tombstones".

Writing replaces the file atomically (``tombstones.tmp`` + fsync + rename +
directory fsync): delete-series rewrites it while readers may be open.
"""

from __future__ import annotations

import bisect
import os
from collections.abc import Iterable, Mapping

from ..errors import CorruptError
from ..fsutil import replace_file_atomic
from .encoding import Decbuf, crc32, put_uvarint, put_varint

TOMBSTONES_FILENAME = "tombstones"
TOMBSTONES_MAGIC = 0x0130BA30
TOMBSTONES_VERSION = 1
_HEADER_LEN = 5
_CRC_LEN = 4
_MIN_I64 = -(1 << 63)
_MAX_I64 = (1 << 63) - 1

Intervals = list[tuple[int, int]]
Tombstones = dict[int, Intervals]


def add_interval(intervals: Intervals, mint: int, maxt: int) -> Intervals:
    """Insert closed ``[mint, maxt]`` into sorted disjoint ``intervals``, merging
    overlapping and adjacent ones (``[1,2] + [3,4] -> [1,4]``). Returns a new list."""
    if maxt < mint:
        raise ValueError(f"interval [{mint}, {maxt}] is inverted")
    lo_key = mint - 1 if mint > _MIN_I64 else mint
    hi_key = maxt + 1 if maxt < _MAX_I64 else maxt
    # first interval whose maxt >= mint-1 ; first interval whose mint > maxt+1
    i = bisect.bisect_left([iv[1] for iv in intervals], lo_key)
    j = bisect.bisect_right([iv[0] for iv in intervals], hi_key)
    if i < j:
        mint = min(mint, intervals[i][0])
        maxt = max(maxt, intervals[j - 1][1])
    return intervals[:i] + [(mint, maxt)] + intervals[j:]


def merge_tombstones(stones: Mapping[int, Iterable[tuple[int, int]]]) -> Tombstones:
    """Normalise ``{ref: intervals}``: merged, sorted, empty entries dropped."""
    out: Tombstones = {}
    for ref, ivs in stones.items():
        merged: Intervals = []
        for mint, maxt in ivs:
            merged = add_interval(merged, int(mint), int(maxt))
        if merged:
            out[int(ref)] = merged
    return out


def encode_tombstones(stones: Mapping[int, Iterable[tuple[int, int]]]) -> bytes:
    """The complete file bytes; series in ascending ref order."""
    norm = merge_tombstones(stones)
    body = bytearray()
    for ref in sorted(norm):
        if ref < 0:
            raise ValueError(f"negative series ref {ref}")
        for mint, maxt in norm[ref]:
            put_uvarint(body, ref)
            put_varint(body, mint)
            put_varint(body, maxt)
    return (
        TOMBSTONES_MAGIC.to_bytes(4, "big")
        + bytes((TOMBSTONES_VERSION,))
        + bytes(body)
        + crc32(body).to_bytes(4, "big")
    )


def decode_tombstones(buf: bytes | memoryview, path: str | None = None) -> Tombstones:
    """Parse the file bytes; :class:`CorruptError` on a bad magic, version, CRC or truncation."""
    if len(buf) < _HEADER_LEN + _CRC_LEN:
        raise CorruptError(f"tombstones file is {len(buf)} bytes, too short", path, 0)
    magic = int.from_bytes(buf[0:4], "big")
    if magic != TOMBSTONES_MAGIC:
        raise CorruptError(f"bad tombstones magic {magic:#010x}", path, 0)
    if buf[4] != TOMBSTONES_VERSION:
        raise CorruptError(f"unsupported tombstones version {buf[4]}", path, 4)
    end = len(buf) - _CRC_LEN
    body = memoryview(buf)[_HEADER_LEN:end]
    if crc32(body) != int.from_bytes(buf[end:], "big"):
        raise CorruptError("tombstones checksum mismatch", path, end)
    d = Decbuf(buf, _HEADER_LEN, end, path)
    raw: dict[int, Intervals] = {}
    while d.remaining() > 0:
        ref = d.uvarint("series ref")
        mint = d.varint("mint")
        maxt = d.varint("maxt")
        if maxt < mint:
            raise CorruptError(f"inverted tombstone interval [{mint}, {maxt}]", path, d.pos)
        raw.setdefault(ref, []).append((mint, maxt))
    return merge_tombstones(raw)


def read_tombstones(block_dir: str) -> Tombstones:
    """``{series ref: [(mint, maxt), ...]}`` of ``<block_dir>/tombstones`` ({} if absent)."""
    path = os.path.join(block_dir, TOMBSTONES_FILENAME)
    try:
        with open(path, "rb") as f:
            buf = f.read()
    except FileNotFoundError:
        return {}
    return decode_tombstones(buf, path)


def write_tombstones(block_dir: str, stones: Mapping[int, Iterable[tuple[int, int]]]) -> int:
    """Atomically replace ``<block_dir>/tombstones``; returns the file size."""
    data = encode_tombstones(stones)
    replace_file_atomic(os.path.join(block_dir, TOMBSTONES_FILENAME), data)
    return len(data)


def num_intervals(stones: Mapping[int, Intervals]) -> int:
    """Total number of intervals (meta.json's ``numTombstones``)."""
    return sum(len(v) for v in stones.values())
