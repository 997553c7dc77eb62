"""Writes a block's ``index`` file in Prometheus's index format v2.

Layout (docs/format/index.md), in file order::

    magic 0xBAAAD700 <4b> | version 2 <1b>
    symbol table                   sorted, deduplicated strings
    series                         one 16-byte-aligned entry per series; ref = offset / 16
    label indices                  one per label name (sorted values), 4-byte aligned
    postings                       one list per (name, value), the all-postings list ("", "") first
    label offset table             name -> label index offset
    postings offset table          (name, value) -> postings offset, sorted
    TOC                            six 8-byte section offsets + CRC32C

Prometheus 2.x (including promtool 2.42) still wrote the label indices and
their offset table; modern Prometheus leaves them out and no v2 reader needs
them, but we write them too since they cost little and keep old readers happy.

Strategy: the series must be added in label order, but the symbol table that
comes first in the file is only known once every series has been seen, and
the caller hands series over as a stream. So :meth:`IndexWriter.add_series`
only buffers what the index needs: the label tuple (shared with the caller)
and three integers per chunk in compact ``array``s. :meth:`IndexWriter.close`
then writes every section in one pass. Postings are built with numpy: every
label pair becomes a 64-bit key ``name_symbol << 32 | value_symbol``; a stable
argsort groups keys (symbol order is string order, so groups come out in
(name, value) order) while keeping series refs ascending within a group.
Memory is O(label pairs + chunks); time O(P log P) for P label pairs.
"""

from __future__ import annotations

import os
from array import array
from collections.abc import Sequence

import numpy as np

from ..labels import Labels
from .encoding import (
    crc32,
    put_be32,
    put_be64,
    put_uvarint,
    put_uvarint_str,
    put_varint,
)

INDEX_FILENAME = "index"
INDEX_MAGIC = 0xBAAAD700
INDEX_VERSION = 2
HEADER_LEN = 5
TOC_LEN = 6 * 8 + 4
SERIES_ALIGN = 16
_MAX_U32 = (1 << 32) - 1


class _Out:
    """Buffered file output that tracks the absolute position."""

    def __init__(self, path: str):
        self.f = open(path, "wb", buffering=1 << 20)
        self.pos = 0

    def write(self, b: bytes | bytearray | memoryview) -> None:
        self.f.write(b)
        self.pos += len(b)

    def pad(self, align: int) -> None:
        r = self.pos % align
        if r:
            self.write(bytes(align - r))

    def close(self) -> None:
        self.f.flush()
        os.fsync(self.f.fileno())
        self.f.close()


def _section(body: bytes | bytearray) -> bytes:
    """``len <4b> | body | CRC32C(body) <4b>``: the framing of every fixed-length section."""
    if len(body) > _MAX_U32:
        raise ValueError(f"index section of {len(body)} bytes exceeds 4 GiB")
    return len(body).to_bytes(4, "big") + bytes(body) + crc32(body).to_bytes(4, "big")


class IndexWriter:
    """Buffers series (in label order) and writes the whole index on :meth:`close`."""

    def __init__(self, path: str):
        self.path = path
        self._labels: list[Labels] = []
        self._nchunks = array("I")
        self._mint = array("q")
        self._maxt = array("q")
        self._ref = array("Q")
        self._closed = False

    def add_series(self, labels: Labels, chunks: Sequence[tuple[int, int, int]]) -> None:
        """Buffer one series with its chunks as ``(mint, maxt, ref)`` tuples.

        The caller guarantees: labels strictly increasing across calls, chunks
        ordered and non-overlapping, refs increasing (the writer checks these
        and raises :class:`ValueError` otherwise, as Prometheus's does).
        """
        if self._labels and labels <= self._labels[-1]:
            raise ValueError(f"series out of order: {labels!r} after {self._labels[-1]!r}")
        last_ref = self._ref[-1] if len(self._ref) else -1
        prev_maxt = None
        for mint, maxt, ref in chunks:
            if maxt < mint:
                raise ValueError(f"chunk maxt {maxt} < mint {mint} in {labels!r}")
            if prev_maxt is not None and mint <= prev_maxt:
                raise ValueError(
                    f"chunk mint {mint} not after previous chunk's maxt {prev_maxt} in {labels!r}"
                )
            if ref < last_ref:
                raise ValueError(f"chunk ref {ref:#x} < previous ref {last_ref:#x}")
            prev_maxt, last_ref = maxt, ref
        self._labels.append(labels)
        self._nchunks.append(len(chunks))
        for mint, maxt, ref in chunks:
            self._mint.append(mint)
            self._maxt.append(maxt)
            self._ref.append(ref)

    @property
    def num_series(self) -> int:
        return len(self._labels)

    def close(self) -> int:
        """Write the index file, fsync it and return its size in bytes."""
        if self._closed:
            raise RuntimeError("BUG: IndexWriter closed twice")
        self._closed = True
        out = _Out(self.path)
        try:
            out.write(INDEX_MAGIC.to_bytes(4, "big") + bytes((INDEX_VERSION,)))
            # "" is always a symbol, as in Prometheus (its symbols come from postings,
            # which include the all-postings key ("", "")); it keeps our bytes identical.
            symbols = sorted({""} | {s for lbls in self._labels for pair in lbls for s in pair})
            sym_id = {s: i for i, s in enumerate(symbols)}
            toc_symbols = out.pos
            out.write(_symbol_table(symbols))
            toc_series = out.pos
            pair_keys, pair_sids, all_sids = self._write_series(out, sym_id)
            names = _group_postings(pair_keys, pair_sids)

            toc_label_indices = out.pos
            label_index_offsets = []
            for name_sym, value_syms, _ in names:
                out.pad(4)
                label_index_offsets.append((symbols[name_sym], out.pos))
                body = bytearray()
                put_be32(body, 1)
                put_be32(body, len(value_syms))
                body += value_syms.astype(">u4").tobytes()
                out.write(_section(body))

            toc_postings = out.pos
            postings_offsets = []
            out.pad(4)
            postings_offsets.append(("", "", out.pos))
            out.write(_postings_section(all_sids))
            for name_sym, value_syms, groups in names:
                name = symbols[name_sym]
                for value_sym, sids in zip(value_syms.tolist(), groups, strict=True):
                    out.pad(4)
                    postings_offsets.append((name, symbols[value_sym], out.pos))
                    out.write(_postings_section(sids))

            toc_label_table = out.pos
            body = bytearray()
            put_be32(body, len(label_index_offsets))
            for name, off in label_index_offsets:
                put_uvarint(body, 1)
                put_uvarint_str(body, name)
                put_uvarint(body, off)
            out.write(_section(body))

            toc_postings_table = out.pos
            body = bytearray()
            put_be32(body, len(postings_offsets))
            for name, value, off in postings_offsets:
                put_uvarint(body, 2)
                put_uvarint_str(body, name)
                put_uvarint_str(body, value)
                put_uvarint(body, off)
            out.write(_section(body))

            toc = bytearray()
            for off in (
                toc_symbols,
                toc_series,
                toc_label_indices,
                toc_label_table,
                toc_postings,
                toc_postings_table,
            ):
                put_be64(toc, off)
            toc += crc32(toc).to_bytes(4, "big")
            out.write(toc)
        except BaseException:
            out.f.close()
            raise
        out.close()
        return out.pos

    def _write_series(self, out: _Out, sym_id: dict[str, int]):
        """Write every series entry; return (pair keys, pair series ids, all series ids)."""
        pair_keys = array("Q")
        pair_sids = array("I")
        all_sids = array("I")
        mints, maxts, refs = self._mint, self._maxt, self._ref
        ci = 0
        body = bytearray()
        for lbls, n in zip(self._labels, self._nchunks, strict=True):
            out.pad(SERIES_ALIGN)
            sid = out.pos // SERIES_ALIGN
            if sid > _MAX_U32:
                raise ValueError("index exceeds 64 GiB of series entries")
            all_sids.append(sid)
            body.clear()
            put_uvarint(body, len(lbls))
            for name, value in lbls:
                ns, vs = sym_id[name], sym_id[value]
                put_uvarint(body, ns)
                put_uvarint(body, vs)
                pair_keys.append((ns << 32) | vs)
                pair_sids.append(sid)
            put_uvarint(body, n)
            if n:
                put_varint(body, mints[ci])
                put_uvarint(body, maxts[ci] - mints[ci])
                put_uvarint(body, refs[ci])
                for j in range(ci + 1, ci + n):
                    put_uvarint(body, mints[j] - maxts[j - 1])
                    put_uvarint(body, maxts[j] - mints[j])
                    put_varint(body, refs[j] - refs[j - 1])
                ci += n
            head = bytearray()
            put_uvarint(head, len(body))
            out.write(head)
            out.write(body)
            out.write(crc32(body).to_bytes(4, "big"))
        return pair_keys, pair_sids, np.frombuffer(all_sids, dtype=np.uint32)


def _symbol_table(symbols: list[str]) -> bytes:
    body = bytearray()
    put_be32(body, len(symbols))
    for s in symbols:
        put_uvarint_str(body, s)
    return _section(body)


def _postings_section(sids: np.ndarray) -> bytes:
    body = len(sids).to_bytes(4, "big") + sids.astype(">u4").tobytes()
    return _section(body)


def _group_postings(pair_keys: array, pair_sids: array):
    """Group label pairs by name then value.

    Returns ``[(name_symbol, value_symbols, [series ids per value])]`` sorted by
    name; value symbols ascending; series ids ascending within each list.
    """
    keys = np.frombuffer(pair_keys, dtype=np.uint64)
    sids = np.frombuffer(pair_sids, dtype=np.uint32)
    if len(keys) == 0:
        return []
    order = np.argsort(keys, kind="stable")
    keys, sids = keys[order], sids[order]
    starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
    ends = np.append(starts[1:], len(keys))
    group_keys = keys[starts]
    name_syms = (group_keys >> np.uint64(32)).astype(np.int64)
    value_syms = (group_keys & np.uint64(_MAX_U32)).astype(np.int64)
    name_starts = np.flatnonzero(np.concatenate(([True], name_syms[1:] != name_syms[:-1])))
    name_ends = np.append(name_starts[1:], len(name_syms))
    out = []
    for a, b in zip(name_starts.tolist(), name_ends.tolist(), strict=True):
        groups = [sids[s:e] for s, e in zip(starts[a:b].tolist(), ends[a:b].tolist(), strict=True)]
        out.append((int(name_syms[a]), value_syms[a:b], groups))
    return out
