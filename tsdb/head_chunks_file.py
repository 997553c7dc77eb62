"""Read Prometheus's memory-mapped head chunk files (``chunks_head/``): a pure reader.

Prometheus writes every full head chunk of a series (about 120 samples) to
``<data>/chunks_head/000001``, ``000002``, ... and m-maps it back, so the head
keeps only the open chunk in memory. This module reads those files so that
promlite can open a data directory Prometheus left behind, and so that tests
can compare what Prometheus wrote with what it answers.

Layout (Prometheus ``tsdb/docs/format/head_chunks.md``, ``tsdb/chunks/head_chunks.go``)::

    file   := magic 0x0130BC91 <4 B, BE> | version 1 <1 B> | padding <3 B> | chunk* | zeros*
    chunk  := series ref <8 B, BE> | mint <8 B, BE int64> | maxt <8 B, BE int64>
              | encoding <1 B> | len <uvarint> | data <len B> | CRC32C <4 B, BE>

* The CRC32 (Castagnoli) covers everything from the series ref to the end of
  the data: series ref, mint, maxt, encoding, the length varint and the data.
* The top bit of the encoding byte (``0x80``) marks an out-of-order chunk
  (Prometheus >= 2.39); the low 7 bits are the ``chunkenc.Encoding``
  (1 = XOR, 2 = histogram, 3 = float histogram).
* Files are preallocated (128 KiB on Linux) and never truncated, so a file
  ends in zeros. As in Prometheus's ``IterateAllChunks``, the content ends at a
  chunk whose series ref, mint and maxt are all zero (series refs start at 1),
  or at a remainder shorter than the largest chunk header (34 bytes) that is all
  zeros.
* A chunk's place is ``ChunkDiskMapperRef = file sequence << 32 | offset``,
  the offset of its series-ref field; :attr:`HeadChunksFile.chunk_refs` gives it.
* Files are numbered without gaps (Prometheus deletes the oldest ones
  whole); a gap means a file was lost.

What counts as corrupt, what as torn
------------------------------------
Prometheus finalizes (flushes and fsyncs) a file before it cuts the next one, and
on start-up deletes a damaged file, so only the *last* file can legitimately end
in a partly written chunk after a crash. Hence:

* In the last file, a chunk that is incomplete or fails its CRC, followed by
  nothing but zeros (or by the end of the file), is a **torn tail**: reading
  stops there and :attr:`HeadChunksFile.torn_offset` says where it starts. A
  damaged last chunk cannot be told from a torn write, so it is reported the
  same way.
* Anything else that does not parse (bad magic or version, a bad CRC or a
  truncated chunk followed by more data, non-zero bytes after the end marker,
  a gap in the numbering) raises :class:`~tsdb.errors.CorruptError` with the
  file and the byte offset: silently dropping the data after it would lose it.

Invariants: this module never writes, truncates, renames or deletes anything
(Prometheus's reader repairs; this one only reports, and repair stays an
explicit decision of the caller). Files are read whole, once. The loop runs
once per chunk (start-up only, ~1 µs of work each); samples are decoded for
all chunks at once by the XOR kernels.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

import crc32c
import numpy as np
from numpy.typing import NDArray

from tsdb.codec.xor import ENCODING_XOR, decode_xor, decode_xor_many
from tsdb.errors import CorruptChunkError, CorruptError

__all__ = [
    "HEAD_CHUNKS_MAGIC",
    "HEAD_CHUNKS_VERSION",
    "OUT_OF_ORDER_MASK",
    "HeadChunksFile",
    "decode_all",
    "list_head_chunk_files",
    "max_series_ref",
    "read_head_chunks",
]

#: ``chunks.MagicHeadChunks``: the first 4 bytes (big-endian) of every head chunk file.
HEAD_CHUNKS_MAGIC = 0x0130BC91
#: ``chunksFormatV1``: the only version Prometheus writes and accepts.
HEAD_CHUNKS_VERSION = 1
#: The top bit of the encoding byte marks an out-of-order chunk; the low 7 bits are the encoding.
OUT_OF_ORDER_MASK = 0x80

_FILE_HEADER_SIZE = 8  # magic, version, 3 bytes of padding
_META = struct.Struct(">QqqB")  # series ref, mint, maxt, encoding
_MAX_LEN_FIELD = 5  # binary.MaxVarintLen32: Prometheus reads the length from at most 5 bytes
_CRC_SIZE = 4
#: ``MaxHeadChunkMetaSize``: the largest chunk without its data (a shorter zero tail is padding).
_MAX_META_SIZE = _META.size + _MAX_LEN_FIELD + _CRC_SIZE  # 34
#: ``chunkenc.EncHistogram`` and ``EncFloatHistogram``: valid, but not decoded here.
_HISTOGRAM_ENCODINGS = (2, 3)


@dataclass(frozen=True)
class HeadChunksFile:
    """Every chunk of a ``chunks_head/`` directory, struct of arrays, in file and offset order.

    Chunk ``i`` belongs to series ``series_ref[i]``, covers ``[mint[i], maxt[i]]`` and its
    data (the encoded chunk: sample count, bit stream) is ``data[offsets[i]:offsets[i + 1]]``;
    :meth:`chunk` returns it as bytes. ``file_seq[i]`` / ``file_offset[i]`` say where the
    chunk starts on disk (its series-ref field), ``data_offset[i]`` where its data starts.

    ``torn_offset`` is the offset in ``torn_path`` (always the last file) of a partly
    written last chunk that was left out, or ``None`` when every file ended cleanly.
    """

    dir: str
    paths: tuple[str, ...]
    seqs: tuple[int, ...]
    series_ref: NDArray[np.uint64]
    mint: NDArray[np.int64]
    maxt: NDArray[np.int64]
    encoding: NDArray[np.uint8]
    out_of_order: NDArray[np.bool_]
    file_seq: NDArray[np.int64]
    file_offset: NDArray[np.int64]
    data_offset: NDArray[np.int64]
    data: NDArray[np.uint8]
    offsets: NDArray[np.int64]
    torn_path: str | None = None
    torn_offset: int | None = None

    def __len__(self) -> int:
        return int(self.series_ref.shape[0])

    def chunk(self, i: int) -> bytes:
        """The data bytes of chunk ``i`` (what the XOR decoder takes)."""
        return self.data[self.offsets[i] : self.offsets[i + 1]].tobytes()

    @property
    def num_samples(self) -> NDArray[np.int64]:
        """Samples per chunk, from each chunk's 2-byte big-endian header (no decoding)."""
        starts = self.offsets[:-1]
        if (np.diff(self.offsets) < 2).any():
            i = int(np.flatnonzero(np.diff(self.offsets) < 2)[0])
            raise CorruptError("chunk data is shorter than its 2-byte sample count",
                               path=self.path_of(i), offset=int(self.data_offset[i]))
        return (self.data[starts].astype(np.int64) << 8) | self.data[starts + 1]

    @property
    def chunk_refs(self) -> NDArray[np.uint64]:
        """Prometheus's ``ChunkDiskMapperRef`` of every chunk: ``file_seq << 32 | file_offset``."""
        return (self.file_seq.astype(np.uint64) << np.uint64(32)) | self.file_offset.astype(np.uint64)

    def path_of(self, i: int) -> str:
        """The file chunk ``i`` was read from."""
        return self.paths[self.seqs.index(int(self.file_seq[i]))]


def list_head_chunk_files(dir: str) -> list[tuple[int, str]]:
    """``(sequence, path)`` of the head chunk files in ``dir``, ascending; ``[]`` if it is missing.

    Like Prometheus's ``listChunkFiles``: a name that is not a decimal number is not a
    chunk file and is ignored.
    """
    try:
        names = os.listdir(dir)
    except FileNotFoundError:
        return []
    out = [(int(n), os.path.join(dir, n)) for n in names if n.isascii() and n.isdigit()]
    return sorted(out)


def _uvarint(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    """Go's ``binary.Uvarint`` over ``buf[pos:end]``: ``(value, bytes used)``; 0 used = too short."""
    x = 0
    shift = 0
    for i in range(pos, end):
        b = buf[i]
        if b < 0x80:
            return x | (b << shift), i - pos + 1
        x |= (b & 0x7F) << shift
        shift += 7
    return 0, 0


class _Chunks:
    """Column lists collected while scanning (one append per chunk, arrays at the end)."""

    def __init__(self) -> None:
        self.ref: list[int] = []
        self.mint: list[int] = []
        self.maxt: list[int] = []
        self.enc: list[int] = []
        self.seq: list[int] = []
        self.off: list[int] = []
        self.data_off: list[int] = []
        self.parts: list[memoryview] = []


def _all_zero(buf: bytes, start: int) -> bool:
    return buf.count(0, start) == len(buf) - start


def _scan_file(seq: int, path: str, buf: bytes, last: bool, out: _Chunks) -> int | None:
    """Append the chunks of one file to ``out``; return the torn offset of the last file, or None."""
    size = len(buf)
    if size < _FILE_HEADER_SIZE:
        # Prometheus's repairLastChunkFile deletes an empty last file: it was created but
        # never written (files are not fsynced on creation). A prefix of the header is the same.
        expected = struct.pack(">IB3x", HEAD_CHUNKS_MAGIC, HEAD_CHUNKS_VERSION)
        if last and expected.startswith(buf):
            return 0
        raise CorruptError(f"{size} bytes is too short for the {_FILE_HEADER_SIZE}-byte file header",
                           path=path, offset=0)
    magic = int.from_bytes(buf[0:4], "big")
    if magic != HEAD_CHUNKS_MAGIC:
        raise CorruptError(f"bad magic 0x{magic:08x}, want 0x{HEAD_CHUNKS_MAGIC:08x}",
                           path=path, offset=0)
    if buf[4] != HEAD_CHUNKS_VERSION:
        raise CorruptError(f"unknown head chunks format version {buf[4]}, want {HEAD_CHUNKS_VERSION}",
                           path=path, offset=4)
    mv = memoryview(buf)
    unpack = _META.unpack_from
    idx = _FILE_HEADER_SIZE
    while idx < size:
        if size - idx < _MAX_META_SIZE:
            if _all_zero(buf, idx):
                return None
            return _damaged(buf, path, idx, last, "a non-zero tail too short for a chunk header")
        ref, mint, maxt, enc = unpack(buf, idx)
        if ref == 0 and mint == 0 and maxt == 0:
            # The end of the written part: Prometheus preallocates, and series refs start at 1.
            if _all_zero(buf, idx):
                return None
            return _damaged(buf, path, idx, last,
                            "non-zero bytes after the end-of-chunks marker (a zero series ref, mint and maxt)")
        len_pos = idx + _META.size
        n, used = _uvarint(buf, len_pos, len_pos + _MAX_LEN_FIELD)
        if used == 0:
            return _damaged(buf, path, idx, last, "the chunk length is not a valid uvarint",
                            claimed_end=len_pos + _MAX_LEN_FIELD)
        data_pos = len_pos + used
        crc_pos = data_pos + n
        end = crc_pos + _CRC_SIZE
        if end > size:
            return _damaged(buf, path, idx, last,
                            f"a {n}-byte chunk ends at {end}, past the end of the {size}-byte file",
                            claimed_end=end)
        want = int.from_bytes(buf[crc_pos:end], "big")
        got = crc32c.crc32c(mv[idx:crc_pos])
        if got != want:
            return _damaged(buf, path, idx, last,
                            f"checksum mismatch: stored 0x{want:08x}, computed 0x{got:08x} "
                            f"(series ref {ref}, {n} data bytes)", claimed_end=end)
        out.ref.append(ref)
        out.mint.append(mint)
        out.maxt.append(maxt)
        out.enc.append(enc)
        out.seq.append(seq)
        out.off.append(idx)
        out.data_off.append(data_pos)
        out.parts.append(mv[data_pos:crc_pos])
        idx = end
    return None


def _damaged(buf: bytes, path: str, offset: int, last: bool, what: str,
             claimed_end: int | None = None) -> int:
    """A chunk at ``offset`` does not parse: a torn tail (returned) or corruption (raised).

    Torn means: in the last file, and nothing but zeros after the bytes the chunk claims
    to span (a preallocated file keeps zeros where a crashed write did not reach).
    """
    after = len(buf) if claimed_end is None else min(claimed_end, len(buf))
    if last and _all_zero(buf, after):
        return offset
    raise CorruptError(what, path=path, offset=offset)


def _frozen(a: np.ndarray) -> np.ndarray:
    """Read-only, so a result shared between callers cannot be changed by one of them."""
    a.setflags(write=False)
    return a


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def read_head_chunks(dir: str) -> HeadChunksFile:
    """Read and verify every chunk of a ``chunks_head/`` directory (missing dir: no chunks).

    Raises
    ------
    CorruptError
        A file is damaged anywhere but in the last chunk of the last file, or the file
        numbers have a gap; ``path`` and ``offset`` say where (see the module docstring).
    """
    files = list_head_chunk_files(dir)
    for (a, pa), (b, _pb) in zip(files, files[1:], strict=False):
        if b != a + 1:
            raise CorruptError(f"head chunk files are not consecutive: {a:06d} is followed by {b:06d}",
                               path=pa)
    out = _Chunks()
    torn_path: str | None = None
    torn_offset: int | None = None
    for k, (seq, path) in enumerate(files):
        torn = _scan_file(seq, path, _read(path), k == len(files) - 1, out)
        if torn is not None:
            torn_path, torn_offset = path, torn
    lengths = np.fromiter((len(p) for p in out.parts), dtype=np.int64, count=len(out.parts))
    offsets = np.zeros(len(out.parts) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    data = np.frombuffer(b"".join(out.parts), dtype=np.uint8)
    out.parts.clear()  # release the views before the file buffers go
    enc = np.array(out.enc, dtype=np.uint8)
    return HeadChunksFile(
        dir=dir,
        paths=tuple(p for _, p in files),
        seqs=tuple(s for s, _ in files),
        series_ref=_frozen(np.array(out.ref, dtype=np.uint64)),
        mint=_frozen(np.array(out.mint, dtype=np.int64)),
        maxt=_frozen(np.array(out.maxt, dtype=np.int64)),
        encoding=_frozen(enc & np.uint8(0x7F)),
        out_of_order=_frozen((enc & np.uint8(OUT_OF_ORDER_MASK)) != 0),
        file_seq=_frozen(np.array(out.seq, dtype=np.int64)),
        file_offset=_frozen(np.array(out.off, dtype=np.int64)),
        data_offset=_frozen(np.array(out.data_off, dtype=np.int64)),
        data=_frozen(data),
        offsets=_frozen(offsets),
        torn_path=torn_path,
        torn_offset=torn_offset,
    )


def max_series_ref(dir: str) -> int:
    """The largest series ref any chunk in ``dir`` names; 0 when there are none (or no dir).

    A head that reuses this directory must hand out refs above it, or an m-mapped chunk
    would be attributed to the wrong series. Reads (and verifies) every file.
    """
    hcf = read_head_chunks(dir)
    return int(hcf.series_ref.max()) if len(hcf) else 0


def readable_max_series_ref(dir: str) -> tuple[int, CorruptError | None]:
    """:func:`max_series_ref` of what reads before the first damage, and that damage (or None).

    For a head that must keep clear of the refs in a damaged directory: Prometheus drops the
    damaged file and every later one when it opens it again, and re-attaches the chunks of the
    earlier files by series ref, so every ref read before the damage must stay reserved.
    """
    out = _Chunks()
    err: CorruptError | None = None
    files = list_head_chunk_files(dir)
    try:
        for k, (seq, path) in enumerate(files):
            if k and seq != files[k - 1][0] + 1:
                raise CorruptError(f"head chunk files are not consecutive: {files[k - 1][0]:06d} is "
                                   f"followed by {seq:06d}", path=files[k - 1][1])
            _scan_file(seq, path, _read(path), k == len(files) - 1, out)
    except CorruptError as e:
        err = e
    out.parts.clear()
    return (max(out.ref) if out.ref else 0), err


def decode_all(
    hcf: HeadChunksFile,
) -> tuple[NDArray[np.uint64], NDArray[np.int64], NDArray[np.float64]]:
    """Decode every chunk to flat per-sample arrays ``(refs, ts, vs)``, chunk after chunk.

    ``refs[j]`` is the series ref of sample ``j``. All chunks are decoded in one call of
    the XOR kernels (no Python loop per chunk or sample).

    Raises
    ------
    ValueError
        A chunk is a histogram chunk (encoding 2 or 3: not supported here); names
        the file and offset.
    CorruptError
        A chunk's encoding is none Prometheus writes (its CRC matched: a writer bug).
        A chunk's bit stream does not decode although its CRC matched (a writer bug, or
        a CRC collision); names the file and the offset of the bad byte.
    """
    n = len(hcf)
    if n == 0:
        return (np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64),
                np.zeros(0, dtype=np.float64))
    bad = hcf.encoding != ENCODING_XOR
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        if int(hcf.encoding[i]) not in _HISTOGRAM_ENCODINGS:  # no encoding Prometheus writes
            raise CorruptError(f"unknown chunk encoding {int(hcf.encoding[i])} (series ref "
                               f"{int(hcf.series_ref[i])})", path=hcf.path_of(i),
                               offset=int(hcf.file_offset[i]) + _META.size - 1)
        raise ValueError(f"{hcf.path_of(i)} at offset {int(hcf.file_offset[i])}: chunk encoding "
                         f"{int(hcf.encoding[i])} is not XOR ({ENCODING_XOR}); only float chunks "
                         f"are supported")
    starts = hcf.offsets[:-1]
    try:
        ts, vs, bounds = decode_xor_many(hcf.data, starts, np.diff(hcf.offsets))
    except CorruptChunkError:
        _raise_first_undecodable(hcf)
        raise  # not reached: one chunk at a time, the same chunk fails
    refs = np.repeat(hcf.series_ref, np.diff(bounds))
    return refs, ts, vs


def _raise_first_undecodable(hcf: HeadChunksFile) -> None:
    """Find the chunk the batched decoder failed on, one chunk at a time (error path only).

    The batched error's offset cannot name the chunk when a bit stream ends exactly where
    the next chunk starts, so the chunks are decoded one by one until one fails again.
    """
    for i in range(len(hcf)):
        try:
            decode_xor(hcf.chunk(i))
        except CorruptChunkError as e:
            pos = int(e.offset) if e.offset is not None else 0
            raise CorruptError(f"chunk of series {int(hcf.series_ref[i])} does not decode: {e}",
                               path=hcf.path_of(i), offset=int(hcf.data_offset[i]) + pos) from e
