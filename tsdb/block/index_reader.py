"""Reads a block's ``index`` file (Prometheus index format v2, docs/format/index.md).

Strategy: the file is mmapped once. Opening checks only the header and the
TOC (magic, version, TOC CRC, section offsets inside the file): O(1). The
symbol table and the postings offset table are parsed on first use and then
kept as Python structures (a list of symbols; ``name -> {value: offset}``),
which is what makes label lookups O(1) afterwards. Series entries and
postings lists are decoded on demand straight from the mapping; postings
become numpy arrays through ``np.frombuffer(..., '>u4')`` (no per-entry
Python work).

Checks: every read is bounds-checked and raises
:class:`~tsdb.errors.CorruptError` with the file path and offset. The CRC32C
of series entries and postings lists is checked on every read when
``check_crc`` is true (the default; crc32c is hardware accelerated, so this
is cheap). :meth:`IndexReader.verify` checks every section end to end.

Series refs are ``offset / 16`` of the series entry (format v2), so sorted
refs are series sorted by label set.
"""

from __future__ import annotations

import mmap
import os
import struct

import numpy as np

from ..errors import CorruptError
from ..labels import Labels
from .chunkfile import ChunkRef
from .encoding import Decbuf, crc32, uvarint_list
from .index_writer import HEADER_LEN, INDEX_MAGIC, SERIES_ALIGN, TOC_LEN

_EMPTY = np.zeros(0, dtype=np.int64)
_TOC = struct.Struct(">6Q")


class IndexReader:
    """Read access to one index file. Not thread-safe while the lazy tables are being built."""

    def __init__(self, path: str, check_crc: bool = True):
        self.path = path
        self.check_crc = check_crc
        try:
            with open(path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                if size < HEADER_LEN + TOC_LEN:
                    raise CorruptError(
                        f"index is {size} bytes, too short for header and TOC", path, 0
                    )
                self._m: mmap.mmap | None = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        except FileNotFoundError:
            raise CorruptError("index file is missing", path) from None
        try:
            self._open()
        except BaseException:
            self.close()
            raise
        self._symbols: list[str] | None = None
        self._postings: dict[str, dict[str, int]] | None = None

    def _open(self) -> None:
        m = self._m
        size = len(m)
        magic = int.from_bytes(m[0:4], "big")
        if magic != INDEX_MAGIC:
            raise CorruptError(
                f"bad index magic {magic:#010x} (want {INDEX_MAGIC:#010x})", self.path, 0
            )
        self.version = m[4]
        # v3 (Prometheus 3) is v2 without label indices; v1 (Prometheus < 2.2) is not read.
        if self.version not in (2, 3):
            raise CorruptError(
                f"unsupported index format version {self.version} (v2 and v3 are read)",
                self.path,
                4,
            )
        toc_at = size - TOC_LEN
        toc_raw = m[toc_at : size - 4]
        if crc32(toc_raw) != int.from_bytes(m[size - 4 : size], "big"):
            raise CorruptError("TOC checksum mismatch", self.path, toc_at)
        (
            self.toc_symbols,
            self.toc_series,
            self.toc_label_indices,
            self.toc_label_table,
            self.toc_postings,
            self.toc_postings_table,
        ) = _TOC.unpack(toc_raw)
        for name in (
            "symbols",
            "series",
            "label_indices",
            "label_table",
            "postings",
            "postings_table",
        ):
            off = getattr(self, "toc_" + name)
            if off > toc_at or (off and off < HEADER_LEN):
                raise CorruptError(
                    f"TOC offset of {name} ({off}) is outside the file", self.path, toc_at
                )
        # The series section runs up to the next section (label indices, which
        # writers place right after the series even when they write none).
        later = [
            o
            for o in (
                self.toc_label_indices,
                self.toc_postings,
                self.toc_label_table,
                self.toc_postings_table,
            )
            if o and o >= self.toc_series
        ]
        self._series_end = min(later, default=toc_at) if self.toc_series else 0
        self._toc_at = toc_at

    # -- plumbing -----------------------------------------------------------

    def _map(self) -> mmap.mmap:
        if self._m is None:
            raise RuntimeError("BUG: index reader used after close()")
        return self._m

    def size_bytes(self) -> int:
        return len(self._m) if self._m is not None else 0

    def _section(self, off: int, what: str, check: bool = True) -> tuple[int, int]:
        """Bounds (and CRC) of a ``len <4b> | body | CRC <4b>`` section; returns body [start, end)."""
        m = self._map()
        if off + 4 > self._toc_at:
            raise CorruptError(f"{what} offset is past the end of the data", self.path, off)
        n = int.from_bytes(m[off : off + 4], "big")
        start, end = off + 4, off + 4 + n
        if end + 4 > self._toc_at:
            raise CorruptError(f"{what} of {n} bytes runs past the end of the data", self.path, off)
        if check and crc32(memoryview(m)[start:end]) != int.from_bytes(m[end : end + 4], "big"):
            raise CorruptError(f"{what} checksum mismatch", self.path, off)
        return start, end

    # -- symbols ------------------------------------------------------------

    def symbols(self) -> list[str]:
        """All symbols in order (parsed on first call)."""
        if self._symbols is None:
            if self.toc_symbols == 0:
                self._symbols = []
            else:
                start, end = self._section(self.toc_symbols, "symbol table")
                d = Decbuf(self._map(), start, end, self.path)
                count = d.be32("symbol count")
                syms = []
                for _ in range(count):
                    syms.append(d.uvarint_str("symbol"))
                self._symbols = syms
        return self._symbols

    # -- postings -----------------------------------------------------------

    def _postings_table(self) -> dict[str, dict[str, int]]:
        if self._postings is None:
            table: dict[str, dict[str, int]] = {}
            if self.toc_postings_table:
                start, end = self._section(self.toc_postings_table, "postings offset table")
                d = Decbuf(self._map(), start, end, self.path)
                count = d.be32("postings offset count")
                for _ in range(count):
                    at = d.pos
                    if d.uvarint("key count") != 2:
                        raise CorruptError(
                            "postings offset entry does not have 2 keys", self.path, at
                        )
                    name = d.uvarint_str("label name")
                    value = d.uvarint_str("label value")
                    table.setdefault(name, {})[value] = d.uvarint("postings offset")
            self._postings = table
        return self._postings

    def label_names(self) -> list[str]:
        """Sorted label names present in the block."""
        return [n for n in self._postings_table() if n != ""]

    def label_values(self, name: str) -> list[str]:
        """Sorted values of label ``name`` ([] if absent)."""
        if name == "":
            return []
        return list(self._postings_table().get(name, ()))

    def postings(self, name: str, value: str) -> np.ndarray:
        """Sorted series refs (int64) of the series with label ``name=value``."""
        off = self._postings_table().get(name, {}).get(value)
        if off is None:
            return _EMPTY
        return self._read_postings(off)

    def all_postings(self) -> np.ndarray:
        """Sorted refs of every series in the block."""
        return self.postings("", "")

    def _read_postings(self, off: int) -> np.ndarray:
        start, end = self._section(off, "postings list", self.check_crc)
        m = self._map()
        if end - start < 4:
            raise CorruptError("postings list shorter than its count", self.path, off)
        count = int.from_bytes(m[start : start + 4], "big")
        if end - start != 4 + 4 * count:
            raise CorruptError(
                f"postings list length {end - start} does not match {count} entries", self.path, off
            )
        return np.frombuffer(m, dtype=">u4", count=count, offset=start + 4).astype(np.int64)

    # -- series -------------------------------------------------------------

    def series(self, ref: int) -> tuple[Labels, list[ChunkRef]]:
        """Label set and chunk refs of series ``ref`` (a postings entry).

        Every field of a series entry is a varint, so the entry is decoded in
        one pass over its bytes (:func:`uvarint_list`) and then interpreted;
        that is ~4x faster than a cursor call per field.
        """
        m = self._map()
        off = int(ref) * SERIES_ALIGN
        if ref < 0 or not self.toc_series <= off < self._series_end:
            raise CorruptError(f"series ref {ref} is outside the series section", self.path, off)
        d = Decbuf(m, off, self._series_end, self.path)
        n = d.uvarint("series length")
        start = d.pos
        end = start + n
        if end + 4 > self._series_end:
            raise CorruptError(
                f"series entry of {n} bytes runs past the series section", self.path, off
            )
        body = m[start:end]
        if self.check_crc and crc32(body) != int.from_bytes(m[end : end + 4], "big"):
            raise CorruptError(f"series {ref} checksum mismatch", self.path, off)
        vals = uvarint_list(body)
        if vals is None:
            raise CorruptError(f"series {ref}: truncated or oversized varint", self.path, off)
        syms = self.symbols()
        nv = len(vals)
        nlabels = vals[0] if nv else 0
        i = 1 + 2 * nlabels
        if i >= nv or 1 + 2 * nlabels + 1 + 3 * vals[i] != nv:
            raise CorruptError(
                f"series {ref}: field count does not match its entry", self.path, off
            )
        try:
            labels = tuple((syms[vals[j]], syms[vals[j + 1]]) for j in range(1, i, 2))
        except IndexError:
            raise CorruptError(
                f"series {ref} references an unknown symbol", self.path, off
            ) from None
        nchunks = vals[i]
        chunks = []
        if nchunks:
            u = vals[i + 1]
            mint = (u >> 1) ^ -(u & 1)
            maxt = mint + vals[i + 2]
            cref = vals[i + 3]
            chunks.append(ChunkRef(mint, maxt, cref))
            for j in range(i + 4, nv, 3):
                mint = maxt + vals[j]
                maxt = mint + vals[j + 1]
                u = vals[j + 2]
                cref += (u >> 1) ^ -(u & 1)
                chunks.append(ChunkRef(mint, maxt, cref))
        return labels, chunks

    # -- verification ---------------------------------------------------------

    def verify(self) -> np.ndarray:
        """Check every section and CRC; return the sorted chunk refs the series point at.

        Checks: symbol table, every series entry (CRC, symbol refs, 16-byte
        alignment, strictly increasing label sets, ordered chunks), label
        indices, both offset tables, every postings list (CRC, sorted, only
        known series, the all-postings list equal to the series found, and as
        many entries in total as there are label pairs).
        """
        m = self._map()
        saved, self.check_crc = self.check_crc, True
        try:
            self._symbols = None
            self._postings = None
            self.symbols()
            sids, chunk_refs, npairs = self._verify_series(m)
            self._verify_postings(sids, npairs)
            self._verify_label_indices()
        finally:
            self.check_crc = saved
        return np.unique(np.asarray(chunk_refs, dtype=np.uint64))

    def _verify_series(self, m) -> tuple[np.ndarray, list[int], int]:
        pos, end = self.toc_series, self._series_end
        sids: list[int] = []
        chunk_refs: list[int] = []
        npairs = 0
        prev: Labels | None = None
        while pos < end:
            if m[pos] == 0:
                pos += 1  # padding
                continue
            if pos % SERIES_ALIGN:
                raise CorruptError("series entry is not 16-byte aligned", self.path, pos)
            sid = pos // SERIES_ALIGN
            labels, chunks = self.series(sid)
            if prev is not None and labels <= prev:
                raise CorruptError(
                    f"series {sid} is not sorted after the previous one", self.path, pos
                )
            names = [n for n, _ in labels]
            if names != sorted(set(names)) or any(v == "" for _, v in labels):
                raise CorruptError(
                    f"series {sid} has unsorted, duplicate or empty labels", self.path, pos
                )
            last_maxt = None
            for c in chunks:
                if c.maxt < c.mint or (last_maxt is not None and c.mint <= last_maxt):
                    raise CorruptError(
                        f"series {sid} has overlapping or inverted chunks", self.path, pos
                    )
                last_maxt = c.maxt
                chunk_refs.append(c.ref)
            prev = labels
            npairs += len(labels)
            sids.append(sid)
            d = Decbuf(m, pos, end, self.path)
            n = d.uvarint()
            pos = d.pos + n + 4
        return np.asarray(sids, dtype=np.int64), chunk_refs, npairs

    def _verify_postings(self, sids: np.ndarray, npairs: int) -> None:
        table = self._postings_table()
        keys = [(n, v) for n, vals in table.items() for v in vals]
        if keys != sorted(keys):
            raise CorruptError(
                "postings offset table is not sorted", self.path, self.toc_postings_table
            )
        total = 0
        for name, vals in table.items():
            for value, off in vals.items():
                p = self._read_postings(off)
                if len(p) > 1 and not np.all(p[1:] > p[:-1]):
                    raise CorruptError(
                        f"postings of {name}={value!r} are not sorted", self.path, off
                    )
                if not np.all(np.isin(p, sids)):
                    raise CorruptError(
                        f"postings of {name}={value!r} name unknown series", self.path, off
                    )
                if name == "":
                    if not np.array_equal(p, sids):
                        raise CorruptError(
                            "all-postings list does not match the series", self.path, off
                        )
                else:
                    total += len(p)
        if "" not in table and len(sids):
            raise CorruptError("all-postings list is missing", self.path, self.toc_postings_table)
        if total != npairs:
            raise CorruptError(
                f"postings hold {total} entries but the series have {npairs} label pairs",
                self.path,
                self.toc_postings_table,
            )

    def _verify_label_indices(self) -> None:
        if not self.toc_label_table:
            return
        start, end = self._section(self.toc_label_table, "label offset table")
        d = Decbuf(self._map(), start, end, self.path)
        for _ in range(d.be32("label offset count")):
            d.uvarint("key count")
            d.uvarint_str("label name")
            off = d.uvarint("label index offset")
            s, e = self._section(off, "label index")
            if e - s < 8:
                raise CorruptError("label index too short", self.path, off)
            nsyms = len(self.symbols())
            dd = Decbuf(self._map(), s, e, self.path)
            nnames = dd.be32()
            nentries = dd.be32()
            if e - s != 8 + 4 * nentries or nnames != 1:
                raise CorruptError("label index length does not match its entries", self.path, off)
            vals = np.frombuffer(self._map(), dtype=">u4", count=nentries, offset=s + 8)
            if len(vals) and int(vals.max()) >= nsyms:
                raise CorruptError("label index references unknown symbol", self.path, off)

    def close(self) -> None:
        if self._m is not None:
            try:
                self._m.close()
            except BufferError:
                pass  # views still exported; freed by the GC
            self._m = None
