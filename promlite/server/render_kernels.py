"""numba kernels: the ``[t,"v"]`` points of query results written straight into one byte buffer.

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
   less a trailing ``.0``).

Value text is Prometheus's (``util/jsonutil.MarshalFloat``): ``NaN``,
``+Inf``, ``-Inf``, else ``strconv.AppendFloat(v, fmt, -1, 64)`` with ``fmt``
``'e'`` when ``v != 0`` and ``|v| < 1e-6`` or ``|v| >= 1e21``, ``'f'``
otherwise: the shortest digits that round-trip, the nearest such when several
do (an exact tie goes to the even digit), ``-0`` for negative zero, exponents
with a sign and at least two digits. Timestamps follow
``jsonutil.MarshalTimestamp``: ``-`` for negative milliseconds, the whole
seconds, then ``.`` and three digits when the millisecond fraction is not zero.

The short-decimal path (:func:`_value_code`) and why it is exact
----------------------------------------------------------------
Let ``1e-6 <= a = |v| < 2**E`` (``E`` as from ``frexp``) and ``k <= kmax(E)``,
the largest ``k <= 22`` with ``10**k * 2**E <= 2**50`` (:data:`KMAX`). Then
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

The exact path (:func:`_shortest`)
----------------------------------
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

Speed notes (each measured on these kernels)
--------------------------------------------
* No helper takes an array: numba increments and decrements an array
  argument's reference count around each call (30 ns a value), so tables
  are module constants and the writes live in the kernels' own loops.
* numba checks signed indices for wrap-around, which costs a branch per
  access and keeps loops from being optimised (a 17-byte copy: 23 ns signed,
  4 ns unsigned); hot accesses index with ``_u(i)``, an unsigned cast (every
  index here is >= 0).
* Digits are written unsigned, two at a time from ``_PAIRS``: Python-style
  signed ``% 10`` / ``// 10`` in a loop was 4x slower. uint64 mixed with int
  literals would make numba compute in float64, hence the typed constants.

Invariants
----------
* The caller sizes ``out`` with :data:`POINT_MAX` per point plus headers and
  tails; :func:`render_points` checks each series' worst case against the
  buffer before writing it and raises otherwise (numba does no bounds
  checks, so this is the only guard against writing past the buffer).
* The slow text holds exactly the :data:`SLOW` values, in the order
  :func:`render_points` meets them (point order).
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
from numba import njit

SPECIAL = np.int8(-2)  # NaN / +Inf / -Inf
SLOW = np.int8(-1)  # digits come from the slow text
ABSENT = np.int8(-3)  # matrix cell not present

MAX_VALUE_LEN = 25  # '-0.000009999999999999999' (25); 'e' form at most '-1.2345678901234567e-308' (24)
MAX_TS_LEN = 21  # '-9223372036854775.808'
POINT_MAX = MAX_TS_LEN + MAX_VALUE_LEN + 7
"""Worst-case bytes of one point: ``[`` t ``,"`` v ``"]`` and its ``,``."""

POW10 = np.array([10.0**k for k in range(23)])  # exact in float64 up to 10**22
_E_MIN = -19  # frexp exponent of 1e-6; smaller values take 'e' and are SLOW
_E_MAX = 50  # non-integers from 2**50 on are SLOW (as are integers from 2**53 on)


def _kmax_table() -> np.ndarray:
    """``KMAX[E - _E_MIN]``: the largest ``k <= 22`` with ``10**k * 2**E <= 2**50``, -1 if none (exact integer math)."""
    out = np.full(_E_MAX - _E_MIN + 1, -1, dtype=np.int64)
    for e in range(_E_MIN, _E_MAX + 1):
        k = -1
        while k < 22 and 10 ** (k + 1) * 2 ** max(e, 0) <= 2**50 * 2 ** max(-e, 0):
            k += 1
        out[e - _E_MIN] = k
    return out


KMAX = _kmax_table()
_TWO53 = 2.0**53


@njit(cache=True, nogil=True, inline="always")
def _u(i):  # pragma: no cover - numba
    """An index as uint64: numba checks signed indices for wrap-around (see the speed notes)."""
    return np.uint64(i)


@njit(cache=True, nogil=True, inline="always")
def _passes(a, k):  # pragma: no cover - numba
    p = POW10[k]
    return np.rint(a * p) / p == a


@njit(cache=True, nogil=True, inline="always")
def _value_code(v, ab):  # pragma: no cover - numba
    """The code of one value (see the module docstring); ``ab`` holds the bits of ``|v|``."""
    if not math.isfinite(v):
        return SPECIAL
    a = abs(v)
    if a < _TWO53 and a == math.floor(a):
        return np.int8(0)  # integers, zeros included
    if a < 1e-6:
        return SLOW
    e = np.int64(ab >> _U52) - 1022  # frexp's exponent (a is normal here)
    if e > _E_MAX:
        return SLOW
    kmax = KMAX[e - _E_MIN]
    if kmax < 1 or not _passes(a, kmax):
        return SLOW
    # short decimals are the common case: try 1..3 decimals in order, then bisect
    top = kmax if kmax < 3 else 3
    for k in range(1, top + 1):
        if _passes(a, k):
            return np.int8(k)
    lo = 4
    hi = kmax
    while lo < hi:
        mid = (lo + hi) >> 1
        if _passes(a, mid):
            hi = mid
        else:
            lo = mid + 1
    return np.int8(lo)


# -- the exact path: shortest digits of 2**-16 <= a < 2**52 (see the module docstring) ---------

_EX_MIN = -15  # frexp exponent of 2**-16
_EX_MAX = 52  # frexp exponent of 2**52 - 1 (non-integers stop below 2**52)
_TWO52 = np.uint64(2**52)
_M32 = np.uint64(0xFFFFFFFF)
_U0 = np.uint64(0)
_U1 = np.uint64(1)
_U2 = np.uint64(2)
_U5 = np.uint64(5)
_U9 = np.uint64(9)
_U10 = np.uint64(10)
_U32 = np.uint64(32)
_U52 = np.uint64(52)
_U63 = np.uint64(63)
_U64 = np.uint64(64)
_MANT = np.uint64(2**52 - 1)
_ABS = np.uint64(2**63 - 1)
_U100 = np.uint64(100)
_U1000 = np.uint64(1000)
_U1E8 = np.uint64(10**8)
_U10_POW = np.array([10**k for k in range(20)], dtype=np.uint64)
_P10_HI = np.array([10**k >> 64 for k in range(22)], dtype=np.uint64)  # 10**k as (hi, lo) uint64 halves
_P10_LO = np.array([10**k & (2**64 - 1) for k in range(22)], dtype=np.uint64)


def _k_table() -> np.ndarray:
    """``K[E - _EX_MIN] = 16 - q`` with ``q`` the largest integer such that ``10**q <= 2**(E - 1)``."""
    out = np.empty(_EX_MAX - _EX_MIN + 1, dtype=np.int64)
    for e in range(_EX_MIN, _EX_MAX + 1):
        low = Fraction(2) ** (e - 1)
        q = -6
        while Fraction(10) ** (q + 1) <= low:
            q += 1
        out[e - _EX_MIN] = 16 - q
    return out


_K_OF_E = _k_table()
# The bits of the doubles nearest 10**(17 - k). Positive doubles order like their bits, so
# ``ab >= _P10_BITS[k]`` tells that ``a`` has one more digit before the point than ``_K_OF_E``
# assumed, and ``k - 1`` still gives 17 digits, one fewer for the digit loop to drop. (Where that
# double lies below the power, ``a`` equal to it is a power of ten, whose one digit any ``k`` finds.)
_P10_BITS = np.array([10.0 ** (17 - k) for k in range(22)]).view(np.uint64)


@njit(cache=True, nogil=True, inline="always")
def _mul(a, hi, lo):  # pragma: no cover - numba
    """``a * (hi:lo)`` for uint64 ``a`` and a uint128 as two halves; the caller keeps it below 2**128."""
    a_lo = a & _M32
    a_hi = a >> _U32
    b_lo = lo & _M32
    b_hi = lo >> _U32
    ll = a_lo * b_lo
    lh = a_lo * b_hi
    hl = a_hi * b_lo
    mid = (ll >> _U32) + (lh & _M32) + (hl & _M32)
    r_lo = (ll & _M32) | (mid << _U32)
    r_hi = a_hi * b_hi + (lh >> _U32) + (hl >> _U32) + (mid >> _U32) + a * hi
    return r_hi, r_lo


@njit(cache=True, nogil=True, inline="always")
def _shr(hi, lo, t):  # pragma: no cover - numba
    """``floor((hi:lo) / 2**t)`` for ``0 < t < 128`` whose result fits 64 bits, and whether bits were dropped."""
    if t < _U64:
        return (lo >> t) | (hi << (_U64 - t)), (lo & ((_U1 << t) - _U1)) != _U0
    t -= _U64
    return hi >> t, lo != _U0 or (hi & ((_U1 << t) - _U1)) != _U0


@njit(cache=True, nogil=True, inline="always")
def _shortest(ab):  # pragma: no cover - numba
    """``(c, k)``: ``c / 10**k`` is the shortest decimal that parses to ``a`` (the nearest if several).

    ``ab`` holds the bits of a non-integral ``2**-16 <= a < 2**52``; ``k = -1``
    if no candidate was found (never, by the module docstring's argument; the
    caller falls back to orjson then).
    """
    e = np.int64(ab >> _U52) - 1022  # frexp's exponent: 2**(e-1) <= a < 2**e
    m = (ab & _MANT) | _TWO52  # a = m * 2**(e - 53)
    k = _K_OF_E[e - _EX_MIN]
    if ab >= _P10_BITS[k]:  # a >= 10**(17 - k): one digit more before the point (see _P10_BITS)
        k -= 1
    ph = _P10_HI[k]
    pl = _P10_LO[k]
    t = np.uint64(55 - e)  # D = 2**t = 4 * 2**(53 - e)
    m4 = m << _U2
    c_hi, c_lo = _mul(m4, ph, pl)  # C = 4m * 10**k
    p2_lo = pl << _U1  # 2 * 10**k
    p2_hi = (ph << _U1) | (pl >> _U63)
    b_lo = c_lo + p2_lo  # B = C + 2 * 10**k
    b_hi = c_hi + p2_hi + (_U1 if b_lo < c_lo else _U0)
    if m == _TWO52:  # the gap below a power of two is half as wide: A = C - 10**k
        d_hi, d_lo = ph, pl
    else:  # A = C - 2 * 10**k
        d_hi, d_lo = p2_hi, p2_lo
    a_lo = c_lo - d_lo
    a_hi = c_hi - d_hi - (_U1 if c_lo < d_lo else _U0)
    lo_q, lo_rest = _shr(a_hi, a_lo, t)
    hi_q, hi_rest = _shr(b_hi, b_lo, t)
    if (m & _U1) == _U0:  # even mantissa: the bounds round to a, so they count
        lo = lo_q + _U1 if lo_rest else lo_q
        hi = hi_q
    else:
        lo = lo_q + _U1
        hi = hi_q if hi_rest else hi_q - _U1
    if lo > hi:
        return _U0, -1
    q, rest = _shr(c_hi, c_lo, t - _U1)
    c = q >> _U1  # floor(a * 10**k)
    half_bit = (q & _U1) != _U0  # its fraction is >= 1/2
    below = half_bit or rest  # whether anything below the last dropped digit is non-zero
    dig = _U0  # the last dropped digit
    d = 0
    while d < k:  # drop digits while some candidate is left, as Go's ryuDigits32
        lo2 = (lo + _U9) // _U10
        hi2 = hi // _U10
        if lo2 > hi2:
            break
        lo = lo2
        hi = hi2
        if d > 0:
            below = below or dig != _U0
        c10 = c // _U10
        dig = c - c10 * _U10
        c = c10
        d += 1
    # the nearest candidate, ties to even (as Go and Python's repr), clamped into [lo, hi]
    if d == 0:
        up = half_bit and (rest or (c & _U1) != _U0)
    else:
        up = dig > _U5 or (dig == _U5 and (below or (c & _U1) != _U0))
    if up:
        c += _U1
    if c < lo:
        c = lo
    if c > hi:
        c = hi
    return c, k - d


@njit(cache=True, nogil=True)
def classify(values, bits, present, use_mask):  # pragma: no cover - numba
    """Codes of a 1-d value array (:data:`ABSENT` where ``use_mask`` and not ``present``), the decimal
    mantissas ``m`` of the codes ``k >= 0`` (the value is ``±m / 10**k``), and the number of SLOW codes.

    ``bits`` is ``values`` viewed as uint64.
    """
    n = len(values)
    codes = np.empty(n, dtype=np.int8)
    mant = np.empty(n, dtype=np.uint64)
    n_slow = 0
    for i in range(n):
        if use_mask and not present[_u(i)]:
            codes[_u(i)] = ABSENT
            continue
        v = values[_u(i)]
        c = _value_code(v, bits[_u(i)] & _ABS)
        a = abs(v)
        if c >= 0:
            mant[_u(i)] = np.uint64(a) if c == 0 else np.uint64(np.rint(a * POW10[c]))
        elif c == SLOW and 1.52587890625e-05 <= a < 4503599627370496.0:  # 2**-16, 2**52
            m, k = _shortest(bits[_u(i)] & _ABS)
            if k >= 0:
                c = np.int8(k)
                mant[_u(i)] = m
        n_slow += c == SLOW
        codes[_u(i)] = c
    return codes, mant, n_slow


# "00".."99": digits are written two at a time (see the speed notes)
_PAIRS = np.frombuffer("".join(f"{i:02d}" for i in range(100)).encode(), dtype=np.uint8).copy()


@njit(cache=True, nogil=True, inline="always")
def _ndigits(u):  # pragma: no cover - numba
    """Number of decimal digits of the uint64 ``u`` (1 for 0)."""
    n = 1
    while n < 20 and u >= _U10_POW[n]:
        n += 1
    return n


@njit(cache=True, nogil=True, inline="always")
def _digits_back(out, q, u):  # pragma: no cover - numba
    """Write the decimal digits of the uint64 ``u`` to end just before ``out[q]``; return where they start."""
    while u >= _U100:
        r = (u % _U100) * _U2
        u //= _U100
        q -= 2
        out[_u(q)] = _PAIRS[r]
        out[_u(q + 1)] = _PAIRS[r + _U1]
    if u >= _U10:
        q -= 2
        out[_u(q)] = _PAIRS[u * _U2]
        out[_u(q + 1)] = _PAIRS[u * _U2 + _U1]
    else:
        q -= 1
        out[_u(q)] = _PAIRS[u * _U2 + _U1]
    return q


@njit(cache=True, nogil=True)
def timestamp_table(times):  # pragma: no cover - numba
    """``[<t>,"`` of every int64 millisecond timestamp (``MarshalTimestamp``), concatenated, and offsets."""
    n = len(times)
    text = np.empty(n * (MAX_TS_LEN + 3), dtype=np.uint8)
    off = np.empty(n + 1, dtype=np.int64)
    pos = 0
    for i in range(n):
        off[_u(i)] = pos
        text[_u(pos)] = 91  # [
        pos += 1
        ms = times[_u(i)]
        if ms < 0:  # the magnitude goes through uint64, so -2**63 works too
            text[_u(pos)] = 45
            pos += 1
            u = np.uint64(0) - np.uint64(ms)
        else:
            u = np.uint64(ms)
        frac = np.int64(u % _U1000)
        u //= _U1000
        nd = _ndigits(u)
        _digits_back(text, pos + nd, u)
        pos += nd
        if frac != 0:
            text[_u(pos)] = 46  # .
            text[_u(pos + 1)] = 48 + frac // 100
            text[_u(pos + 2)] = 48 + frac // 10 % 10
            text[_u(pos + 3)] = 48 + frac % 10
            pos += 4
        text[_u(pos)] = 44  # ,
        text[_u(pos + 1)] = 34  # "
        pos += 2
    off[n] = pos
    return text, off


@njit(cache=True, nogil=True)
def render_points(out, pos, heads, head_off, tail, edges, ts_text, ts_off, per_row, values, codes, mant,
                  slow):  # pragma: no cover - numba
    """Write the series into ``out`` from ``pos``; returns the end.

    Series ``i`` owns points ``edges[i]:edges[i + 1]`` (of ``values``/``codes``)
    and is written as ``heads[head_off[i]:head_off[i + 1]]``, its points other
    than :data:`ABSENT` joined by ``,``, then ``tail``; series are joined by
    ``,`` and a series without a point is left out. Point ``p`` takes
    timestamp entry ``p - edges[i]`` of ``ts_text``/``ts_off`` when
    ``per_row`` (a raveled matrix: one entry per step), else entry ``p``.
    ``slow`` is orjson's JSON array of the :data:`SLOW` values.
    """
    digits = np.empty(32, dtype=np.uint8)
    cur = 1  # slow-text cursor, past '['
    first = True
    for i in range(len(edges) - 1):
        a = edges[i]
        b = edges[i + 1]
        count = 0
        for p in range(a, b):
            count += codes[_u(p)] != ABSENT
        if count == 0:
            continue
        if pos + 1 + (head_off[i + 1] - head_off[i]) + count * POINT_MAX + len(tail) > len(out):
            raise RuntimeError("BUG: render buffer too small")
        if not first:
            out[_u(pos)] = 44
            pos += 1
        first = False
        for q in range(head_off[i], head_off[i + 1]):
            out[_u(pos)] = heads[_u(q)]
            pos += 1
        base = a if per_row else 0
        sep = False
        for p in range(a, b):
            code = codes[_u(p)]
            if code == ABSENT:
                continue
            if sep:
                out[_u(pos)] = 44
                pos += 1
            sep = True
            e = p - base
            for q in range(ts_off[_u(e)], ts_off[_u(e + 1)]):  # [<t>,"
                out[_u(pos)] = ts_text[_u(q)]
                pos += 1
            v = values[_u(p)]
            if code >= 0:
                if math.copysign(1.0, v) < 0:
                    out[_u(pos)] = 45
                    pos += 1
                k = np.int64(code)
                u = mant[_u(p)]
                nd = _ndigits(u)
                if nd <= k:
                    nd = k + 1  # 0.000ddd: leading zeros
                # the digits of u, zero-padded to nd, at pos + (k > 0) ...
                start = pos + (k > 0)
                q = start + nd
                if u >= _U1E8:  # the low 8 digits apart: two independent division chains
                    top = u // _U1E8
                    low = u - top * _U1E8
                    for _ in range(4):
                        r = (low % _U100) * _U2
                        low //= _U100
                        q -= 2
                        out[_u(q)] = _PAIRS[r]
                        out[_u(q + 1)] = _PAIRS[r + _U1]
                    u = top
                q = _digits_back(out, q, u)
                while q > start:
                    q -= 1
                    out[_u(q)] = 48
                # ... then the integer part moves one left to open the decimal point
                if k > 0:
                    for d in range(pos, pos + nd - k):
                        out[_u(d)] = out[_u(d + 1)]
                    out[_u(pos + nd - k)] = 46
                    pos += 1
                pos += nd
            elif code == SPECIAL:
                if v != v:
                    out[_u(pos)] = 78  # NaN
                    out[_u(pos + 1)] = 97
                    out[_u(pos + 2)] = 78
                    pos += 3
                else:
                    out[_u(pos)] = 43 if v > 0 else 45  # +Inf / -Inf
                    out[_u(pos + 1)] = 73
                    out[_u(pos + 2)] = 110
                    out[_u(pos + 3)] = 102
                    pos += 4
            else:
                av = abs(v)
                if 1e-5 <= av < 1e16:
                    # orjson's layout is positional there, Go's 'f', but for a trailing '.0':
                    # copy it, unless an exponent shows up (then lay it out below)
                    end = cur
                    while slow[_u(end)] != 44 and slow[_u(end)] != 93 and slow[_u(end)] != 101:
                        end += 1
                    if slow[_u(end)] != 101:
                        if slow[_u(end - 1)] == 48 and slow[_u(end - 2)] == 46:
                            n = end - 2 - cur
                        else:
                            n = end - cur
                        for d in range(n):
                            out[_u(pos + d)] = slow[_u(cur + d)]
                        pos += n
                        cur = end + 1
                        out[_u(pos)] = 34  # "]
                        out[_u(pos + 1)] = 93
                        pos += 2
                        continue
                # parse the number: significant digits into `digits`, value = 0.D * 10**point
                nd = 0
                point = 0
                seen_point = False
                if slow[_u(cur)] == 45:
                    cur += 1
                while True:
                    c = slow[_u(cur)]
                    if c == 46:
                        seen_point = True
                    elif 48 <= c <= 57:
                        if nd == 0 and c == 48:
                            point -= seen_point
                        else:
                            if nd == 17:
                                raise RuntimeError("BUG: a slow value's text has more than 17 digits")
                            digits[_u(nd)] = c
                            nd += 1
                            point += not seen_point
                    else:
                        break
                    cur += 1
                if slow[_u(cur)] == 101 or slow[_u(cur)] == 69:  # e / E
                    cur += 1
                    neg = slow[_u(cur)] == 45
                    if slow[_u(cur)] == 45 or slow[_u(cur)] == 43:
                        cur += 1
                    x = 0
                    while 48 <= slow[_u(cur)] <= 57:
                        x = x * 10 + (slow[_u(cur)] - 48)
                        cur += 1
                    point += -x if neg else x
                cur += 1  # past ',' or ']'
                while nd > 1 and digits[_u(nd - 1)] == 48:
                    nd -= 1
                if nd == 0:
                    raise RuntimeError("BUG: a slow value's text has no significant digit")
                exp10 = point - 1  # value = D[0].D[1:] * 10**exp10
                if v < 0:
                    out[_u(pos)] = 45
                    pos += 1
                if av < 1e-6 or av >= 1e21:  # Go's 'e': d[.ddd]e±dd
                    out[_u(pos)] = digits[0]
                    pos += 1
                    if nd > 1:
                        out[_u(pos)] = 46
                        pos += 1
                        for d in range(1, nd):
                            out[_u(pos)] = digits[_u(d)]
                            pos += 1
                    out[_u(pos)] = 101
                    out[_u(pos + 1)] = 45 if exp10 < 0 else 43
                    pos += 2
                    x = -exp10 if exp10 < 0 else exp10
                    if x < 10:
                        out[_u(pos)] = 48
                        pos += 1
                    n = _ndigits(np.uint64(x))
                    q = pos + n
                    for _ in range(n):
                        q -= 1
                        out[_u(q)] = 48 + x % 10
                        x //= 10
                    pos += n
                elif exp10 < 0:  # 0.000ddd
                    out[_u(pos)] = 48
                    out[_u(pos + 1)] = 46
                    pos += 2
                    for _ in range(-exp10 - 1):
                        out[_u(pos)] = 48
                        pos += 1
                    for d in range(nd):
                        out[_u(pos)] = digits[_u(d)]
                        pos += 1
                else:
                    for d in range(exp10 + 1):  # integer part, zeros past the digits
                        out[_u(pos)] = digits[_u(d)] if d < nd else 48
                        pos += 1
                    if nd > exp10 + 1:
                        out[_u(pos)] = 46
                        pos += 1
                        for d in range(exp10 + 1, nd):
                            out[_u(pos)] = digits[_u(d)]
                            pos += 1
            out[_u(pos)] = 34  # "]
            out[_u(pos + 1)] = 93
            pos += 2
        for q in range(len(tail)):
            out[_u(pos)] = tail[q]
            pos += 1
    return pos
