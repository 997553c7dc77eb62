"""The head's sealed chunks: one byte arena plus struct-of-arrays metadata.

Every chunk the head cuts is Prometheus XOR bytes appended to one growable
``uint8`` arena; its metadata (series ref, min/max time, offset, length)
lives in parallel numpy arrays. A per-series singly linked list
(``first[ref]`` → ``next[chunk]`` → ...) keeps each series' chunks in time
order, so selecting a few series never scans every chunk.

Truncation (after the head was persisted into a block) keeps the chunks that
end at or after a time and compacts arena and metadata in one vectorised
gather. Complexity: ``add`` amortised O(bytes added); ``select`` O(chunks of
the selected series); ``truncate`` O(all chunks).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ._head_kernels import collect_chunks as _collect
from ._head_kernels import link_chunks as _link
from .growable import grow
from .head_kernels import gather_bytes


class HeadChunks:
    """Sealed XOR chunks of the head, for all series."""

    def __init__(self) -> None:
        self.data = np.zeros(1 << 16, dtype=np.uint8)
        self.nbytes = 0
        self.n = 0
        # 36 bytes of metadata a chunk: refs, lengths and links fit 32 bits
        self.ref = np.zeros(0, dtype=np.int32)
        self.mint = np.zeros(0, dtype=np.int64)
        self.maxt = np.zeros(0, dtype=np.int64)
        self.off = np.zeros(0, dtype=np.int64)
        self.len = np.zeros(0, dtype=np.int32)
        self.next = np.zeros(0, dtype=np.int32)
        self.first = np.zeros(0, dtype=np.int32)
        self.last = np.zeros(0, dtype=np.int32)

    def _ensure_refs(self, max_ref: int) -> None:
        if max_ref >= len(self.first):
            self.first = grow(self.first, max_ref + 1, fill=-1)
            self.last = grow(self.last, max_ref + 1, fill=-1)

    def add(
        self,
        refs: NDArray[np.int64],
        data: NDArray[np.uint8],
        offsets: NDArray[np.int64],
        mints: NDArray[np.int64],
        maxts: NDArray[np.int64],
    ) -> None:
        """Append chunks ``data[offsets[i]:offsets[i+1]]`` of series ``refs[i]``, in time order."""
        k = len(refs)
        if not k:
            return
        nb = int(offsets[-1] - offsets[0])
        self.data = grow(self.data, self.nbytes + nb, factor=1.25)  # resident: keep the slack small
        self.data[self.nbytes:self.nbytes + nb] = data[offsets[0]:offsets[-1]]
        n0, n1 = self.n, self.n + k
        for name in ("ref", "mint", "maxt", "off", "len", "next"):
            setattr(self, name, grow(getattr(self, name), n1))
        self.ref[n0:n1] = refs
        self.mint[n0:n1] = mints
        self.maxt[n0:n1] = maxts
        self.off[n0:n1] = offsets[:-1] - offsets[0] + self.nbytes
        self.len[n0:n1] = np.diff(offsets)
        self._ensure_refs(int(refs.max()))
        _link(np.arange(n0, n1, dtype=np.int32), refs.astype(np.int32), self.first, self.last, self.next)
        self.n = n1
        self.nbytes += nb

    def free_bytes(self) -> int:
        """Room left in the arena before an :meth:`add` must grow it (copying everything)."""
        return len(self.data) - self.nbytes

    def grow_outside_lock(self, capacity: int, lock) -> bool:
        """Grow the arena to ``capacity`` bytes, copying the bulk without holding ``lock``.

        Why: growing inside :meth:`add` copies the whole arena (tens of MB
        with 100k series) in the commit that needs the room, typically the
        one that crosses a block window and seals a chunk for every series,
        which is already the slowest commit. Here the bytes written so far,
        which never change, are copied first without the lock (numpy copies
        without holding the GIL); then, under ``lock``, the few bytes added
        meanwhile are copied and the arena swapped. Returns False, changing
        nothing, if the arena was replaced meanwhile (grown by an ``add`` or
        rebuilt by :meth:`truncate`).
        """
        with lock:
            old, upto = self.data, self.nbytes
        if capacity <= len(old):
            return False
        new = np.zeros(capacity, dtype=np.uint8)
        new[:upto] = old[:upto]
        with lock:
            if self.data is not old or self.nbytes > capacity:
                return False
            new[upto:self.nbytes] = old[upto:self.nbytes]
            self.data = new
        return True

    def select(
        self, refs: NDArray[np.int64], mint: int, maxt: int
    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Chunk ids overlapping ``[mint, maxt]`` for each ref (grouped by ref, time order), and counts per ref."""
        refs = np.ascontiguousarray(refs, dtype=np.int64)
        counts = np.zeros(len(refs), dtype=np.int64)
        if not self.n or not len(refs):
            return np.zeros(0, dtype=np.int64), counts
        out = np.empty(self.n, dtype=np.int64)
        k = _collect(refs, self.first, self.next, self.mint, self.maxt, mint, maxt, out, counts)
        return out[:k], counts

    def chunk_bytes(self, ids: NDArray[np.int64]) -> tuple[NDArray[np.uint8], NDArray[np.int64], NDArray[np.int64]]:
        """The arena and (offsets, lengths) of chunks ``ids``: input for ``decode_xor_many``."""
        return self.data[: self.nbytes], self.off[ids], self.len[ids].astype(np.int64)

    def refs_with_chunks(self) -> NDArray[np.int64]:
        return np.nonzero(self.first >= 0)[0]

    def truncate(self, before: int) -> None:
        """Drop every chunk whose max time is before ``before``.

        The new arrays keep the old capacity: the head refills to about the
        size it had before every block cut, and regrowing (a copy of the
        whole arena or metadata array) would land in the commits right after
        the cut, the ones that also seal a chunk for every series. The unused
        tail costs no memory until written (``np.zeros`` maps fresh pages lazily).
        """
        if not self.n:
            return
        keep = np.nonzero(self.maxt[: self.n] >= before)[0]
        k = len(keep)
        lens = self.len[keep]
        new_data = np.zeros(max(int(lens.sum()) * 5 // 4, len(self.data), 1 << 16), dtype=np.uint8)
        nb = gather_bytes(self.data, self.off[keep], lens.astype(np.int64), new_data)
        cap = max(k, len(self.ref))

        def kept(arr: NDArray) -> NDArray:
            out = np.zeros(cap, dtype=arr.dtype)
            out[:k] = arr[keep]
            return out

        new_off = np.zeros(cap, dtype=np.int64)
        if k:
            np.cumsum(lens[:-1], out=new_off[1:k])
        self.ref, self.mint, self.maxt = kept(self.ref), kept(self.mint), kept(self.maxt)
        self.len = kept(self.len)
        self.data, self.nbytes, self.n, self.off = new_data, int(nb), k, new_off
        self.next = np.full(cap, -1, dtype=np.int32)
        self.first[:] = -1
        self.last[:] = -1
        _link(np.arange(k, dtype=np.int32), self.ref[:k], self.first, self.last, self.next)

    def memory_bytes(self) -> int:
        return int(
            self.data.nbytes + self.ref.nbytes + self.mint.nbytes + self.maxt.nbytes
            + self.off.nbytes + self.len.nbytes + self.next.nbytes + self.first.nbytes + self.last.nbytes
        )
