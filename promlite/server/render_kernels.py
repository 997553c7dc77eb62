"""Compiled kernels: the ``[t,"v"]`` points of query results written straight into one byte buffer.

Strategy
--------
Rendering a range query used to cost a Python call per point (~0.4 µs). Here
Python works per *series* (the JSON header ``{"metric":{...},"values":[``) and
the kernels handle every point, in three steps:

1. :func:`classify` gives each value a *code* and a decimal mantissa ``m``:
   code ``k >= 0`` means the text is ``±m / 10**k`` written with ``k``
   decimals (integers: ``k = 0``), :data:`SPECIAL` is NaN/±Inf, and
   :data:`ABSENT` a matrix cell outside the presence mask. :data:`SLOW` is
   left for the rest: non-integers below 2**-16 (~1.5e-5) and integers from
   2**53 on.
2. The caller formats the :data:`SLOW` values with one ``orjson`` dump of
   just those floats -- Ryu's shortest round-trip digits, in C -- and
   :func:`timestamp_table` writes each distinct timestamp's ``[<t>,"`` once
   (a matrix's steps are shared by every series).
3. :func:`render_points` writes the series: header, points, tail. It reads
   the slow values' digits back from orjson's text in order and lays them
   out as Go does; orjson's own layout (``1e+16``, ``9.99e-6``, ``1.0``)
   reaches the output only where it is Go's (positional, in [1e-5, 1e16),
   less a trailing ``.0``; the mantissa of the 'e' form, whose exponent Go
   pads to two digits). Elsewhere its ``d.ddde±x`` is laid out positionally
   from the same digits, and any other shape of text goes through a general
   parser.

Value text is Prometheus's (``util/jsonutil.MarshalFloat``): ``NaN``,
``+Inf``, ``-Inf``, else ``strconv.AppendFloat(v, fmt, -1, 64)`` with ``fmt``
``'e'`` when ``v != 0`` and ``|v| < 1e-6`` or ``|v| >= 1e21``, ``'f'``
otherwise: the shortest digits that round-trip, the nearest such when several
do (an exact tie goes to the even digit), ``-0`` for negative zero, exponents
with a sign and at least two digits. Timestamps follow
``jsonutil.MarshalTimestamp``: ``-`` for negative milliseconds, the whole
seconds, then ``.`` and three digits when the millisecond fraction is not zero.

The short-decimal path (``_value_code``) and why it is exact
----------------------------------------------------------------
Let ``1e-6 <= a = |v| < 2**E`` (``E`` as from ``frexp``) and ``k <= kmax(E)``,
the largest ``k <= 22`` with ``10**k * 2**E <= 2**50`` (``KMAX``). Then
``P = a * 10**k < 2**50``, so the float product is within 1/16 of ``P``, and
half an ulp of ``a``, scaled by ``10**k``, is at most 1/16 too. A decimal
``c / 10**k`` that parses back to ``a`` therefore lies within 1/8 of the
computed product: it is ``rint(a * 10**k)``, the only candidate. As ``c`` and
``10**k`` are exact in float64, ``c / 10**k == a`` (a correctly rounded
division, i.e. the parse of the decimal) tests it exactly. The test is
monotone in ``k`` (``c`` at ``k`` gives ``10 c`` at ``k + 1``), so the least
passing ``k`` is found by a short search, and it has the fewest significant
digits: Go's shortest, and being the only candidate, also the nearest.
Integers below 2**53 are written exactly (``k = 0``): their rounding interval
holds no other multiple of 10, so their digits are the shortest too.

The exact path (``_shortest``)
------------------------------
Values the short path cannot settle (16-17 significant digits: rates,
averages) with ``2**-16 <= a < 2**52`` are done in integers, as Go's Ryu does
but without its tables: ``a = m * 2**(e - 53)`` and, with ``k`` chosen so that
``a * 10**k`` has 17 digits, the rounding interval of ``a`` scaled by
``10**k`` is ``[(4m - 2) * 10**k, (4m + 2) * 10**k] / 2**(55 - e)`` (``4m - 1``
below a power of two, where the gap below is half as wide; bounds included
when ``m`` is even, as the parse rounds ties to even). The products fit 128
bits (``4m + 2 < 2**55``, ``10**k <= 10**21 < 2**70``) and the quotients 64.
Digits are then dropped while the interval still holds a multiple of the
next power of ten, and the candidate nearest ``a * 10**k`` is kept (ties to
even, as ``ryuDigits`` and Python's ``repr``), clamped into the interval.

Compiled ahead of time
----------------------
The kernels are Cython (``_render_kernels.pyx``), compiled into an extension
module when the package is built (``pip install .``; see setup.py): nothing
compiles or writes a cache at run time, and the first query renders as fast
as the thousandth. They replace numba kernels that were byte-identical
(checked on millions of random values of every path) and took a second from
numba's cache at startup, tens of seconds cold. This module keeps the Python
API, the constants and this description, which the ``.pyx`` follows.

Speed notes (each measured on these kernels)
--------------------------------------------
* Kernels alone, 1,000 x 240 matrices: ~0.011 µs a point for integers,
  ~0.019 for 2-decimal values, ~0.045 for 17-digit values (rates), 0.045-0.06
  for values formatted from orjson's text, orjson's dump included; the
  numba kernels, measured in the same process: 0.013, 0.021, 0.046,
  0.062-0.08. :func:`~promlite.server.render.render_result` adds the headers
  and the copy out (0.02-0.07 µs a point in all).
* The cores run on raw pointers, without the GIL and without bounds checks
  (setup.py's directives); each ``def`` checks the shapes it is given, and
  :func:`render_points` the buffer size (see the invariants).
* Tables are C arrays filled at import from exact integer math, so a lookup
  is a load and nothing is reference-counted in the loops.
* Digits are written unsigned, two at a time from a ``"00".."99"`` table:
  signed ``% 10`` / ``// 10`` in a loop was 4x slower (measured on the numba
  version; C's unsigned division by a constant compiles to a multiply).

Invariants
----------
* The caller sizes ``out`` with :data:`POINT_MAX` per point plus headers and
  tails; :func:`render_points` checks each series' worst case against the
  buffer before writing it and raises otherwise (the compiled code does
  no bounds checks, so this is the only guard against writing past the buffer).
* The slow text holds exactly the :data:`SLOW` values, in the order
  :func:`render_points` meets them (point order).
"""

from __future__ import annotations

import numpy as np

from . import _render_kernels as _k

SPECIAL = np.int8(_k.SPECIAL)  # NaN / +Inf / -Inf
SLOW = np.int8(_k.SLOW)  # digits come from the slow text
ABSENT = np.int8(_k.ABSENT)  # matrix cell not present

MAX_VALUE_LEN: int = _k.MAX_VALUE_LEN  # '-0.000009999999999999999' (25); 'e' form at most '-1.2345678901234567e-308' (24)
MAX_TS_LEN: int = _k.MAX_TS_LEN  # '-9223372036854775.808'
POINT_MAX: int = _k.POINT_MAX
"""Worst-case bytes of one point: ``[`` t ``,"`` v ``"]`` and its ``,``."""


def classify(values: np.ndarray, bits: np.ndarray, present: np.ndarray,
             use_mask: bool) -> tuple[np.ndarray, np.ndarray, int]:
    """Codes of a 1-d value array (:data:`ABSENT` where ``use_mask`` and not ``present``), the decimal
    mantissas ``m`` of the codes ``k >= 0`` (the value is ``±m / 10**k``), and the number of SLOW codes.

    ``bits`` is ``values`` viewed as uint64; ``present`` holds bools (only
    read when ``use_mask``). Arrays are C-contiguous; the mantissa of a code
    below 0 is left unset.
    """
    return _k.classify(values, bits, present.view(np.uint8), use_mask)


def timestamp_table(times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``[<t>,"`` of every int64 millisecond timestamp (``MarshalTimestamp``), concatenated, and offsets.

    Entry ``i`` is ``text[off[i]:off[i + 1]]``; ``text`` is sized for the
    worst case, so only ``text[:off[-1]]`` is written.
    """
    return _k.timestamp_table(times)


def render_points(out: np.ndarray, pos: int, heads: np.ndarray, head_off: np.ndarray, tail: np.ndarray,
                  edges: np.ndarray, ts_text: np.ndarray, ts_off: np.ndarray, per_row: bool, values: np.ndarray,
                  codes: np.ndarray, mant: np.ndarray, slow: np.ndarray) -> int:
    """Write the series into ``out`` from ``pos``; returns the end.

    Series ``i`` owns points ``edges[i]:edges[i + 1]`` (of ``values``/``codes``)
    and is written as ``heads[head_off[i]:head_off[i + 1]]``, its points other
    than :data:`ABSENT` joined by ``,``, then ``tail``; series are joined by
    ``,`` and a series without a point is left out. Point ``p`` takes
    timestamp entry ``p - edges[i]`` of ``ts_text``/``ts_off`` when
    ``per_row`` (a raveled matrix: one entry per step), else entry ``p``.
    ``slow`` is orjson's JSON array of the :data:`SLOW` values. Raises
    ``RuntimeError("BUG: ...")`` when ``out`` is too small for a series
    (nothing is written past it).
    """
    return _k.render_points(out, pos, heads, head_off, tail, edges, ts_text, ts_off, per_row, values, codes,
                            mant, slow)
