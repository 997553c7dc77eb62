"""Compiled kernels of the head's hot paths: appending samples into open XOR chunks.

Every live series owns a *slot*: a fixed-size row of a 2-D ``uint8`` array
(the slab) holding its open chunk, already XOR-encoded exactly as
Prometheus's ``xorAppender`` would encode it, plus a few encoder-state
integers in parallel arrays (bits used, previous delta, leading/trailing
window, chunk start time). An append writes the new sample's bits in place,
so the head keeps no raw samples and no per-series Python object: a series
costs its slab row (256 bytes by default) and ~40 bytes of state.

A chunk is *sealed* (its bytes copied to the staging area, then into
:class:`~tsdb.head_chunks.HeadChunks` by the caller) before a sample that

* would make it exceed ``max_samples`` (120, as Prometheus),
* falls in another block window than the chunk's first sample (so no head
  chunk straddles a block boundary and cutting a block is a selection), or
* might not fit in the slab row (the worst case for one sample is 20 bytes).

The kernel also enforces the ordering rules per sample, as Prometheus does:
see the status codes below. Values are compared as bit patterns, so a NaN
payload (the staleness marker) is a duplicate only of itself.

The loops are compiled ahead of time (``_head_kernels.pyx``, Cython) and
run without the GIL; this module holds their Python-facing names and the
status codes. Arrays must have the dtypes ``Head`` allocates and be
C-contiguous (the kernels reject any other with ``ValueError``).

See docs/format/chunks.md for the bit layout this writes.
"""

from __future__ import annotations

import numpy as np

from ._head_kernels import append_samples as append_samples
from ._head_kernels import classify_out_of_order as classify_out_of_order
from ._head_kernels import gather_bytes as gather_bytes
from ._head_kernels import merge_two as merge_two
from ._head_kernels import seal_slots as seal_slots

OK = 0
OUT_OF_ORDER = 1
DUPLICATE_SAME = 2  # identical duplicate: a no-op, not an error (as in Prometheus)
DUPLICATE_DIFFERENT = 3  # same timestamp, other value: rejected
OUT_OF_BOUNDS = 4  # older than the head's lower bound (already in a block)

NO_SAMPLE = np.iinfo(np.int64).min
#: most bytes one sample can add to a chunk (first sample: 2 + 10 + 8)
WORST_SAMPLE_BYTES = 20
NO_WINDOW = 0xFF

#: classes of :func:`classify_out_of_order`
IN_ORDER = 0  # for the in-order head (which may still reject it: duplicate, out of bounds, out of order)
OUT_OF_ORDER_OK = 1  # for the out-of-order head: inside the window
TOO_OLD = 2  # older than the out-of-order window: rejected

__all__ = [
    "DUPLICATE_DIFFERENT",
    "DUPLICATE_SAME",
    "IN_ORDER",
    "NO_SAMPLE",
    "NO_WINDOW",
    "OK",
    "OUT_OF_BOUNDS",
    "OUT_OF_ORDER",
    "OUT_OF_ORDER_OK",
    "TOO_OLD",
    "WORST_SAMPLE_BYTES",
    "append_samples",
    "classify_out_of_order",
    "gather_bytes",
    "merge_two",
    "seal_slots",
]
