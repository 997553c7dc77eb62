"""Growable numpy arrays (amortised doubling), for struct-of-arrays state."""

from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike, NDArray


def grow(arr: NDArray, needed: int, fill=None, factor: float = 1.5) -> NDArray:
    """Return ``arr`` or a larger copy whose first axis has room for ``needed`` rows.

    Capacity grows geometrically (by ``factor``) so a sequence of appends
    costs amortised O(1) per row; 1.5 rather than 2 keeps the unused tail,
    which is resident memory, at a third of the array at most. New rows are
    filled with ``fill`` when given (else zeros).
    """
    cap = arr.shape[0]
    if needed <= cap:
        return arr
    new_cap = max(needed, int(cap * factor), 16)
    out = np.zeros((new_cap,) + arr.shape[1:], dtype=arr.dtype)
    out[:cap] = arr
    if fill is not None:
        out[cap:] = fill
    return out


def empty(dtype: DTypeLike, *shape_tail: int) -> NDArray:
    return np.zeros((0,) + tuple(shape_tail), dtype=dtype)
