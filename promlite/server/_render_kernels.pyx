# cython: language_level=3
"""The compiled part of :mod:`promlite.server.render_kernels` (built ahead of time, see setup.py).

The strategy, the value formats and the proofs of exactness are in
render_kernels.py's docstring; this file follows it. Each
``def`` checks its arguments, then runs a ``cdef ... noexcept nogil`` core
over raw pointers without the GIL. The cores cannot raise: they return a
negative code (``ERR_*``) and the ``def`` turns it into the ``RuntimeError``.

Tables are C arrays filled once at import, from exact integer math
(``fractions``, Python ints), so no float rounding creeps into them.
"""

from fractions import Fraction

import numpy as np

from libc.math cimport fabs, isfinite, signbit
from libc.stdint cimport int8_t, int64_t, uint8_t, uint64_t

cdef enum:
    C_SPECIAL = -2  # NaN / +Inf / -Inf
    C_SLOW = -1  # digits come from the slow text
    C_ABSENT = -3  # matrix cell not present
    C_MAX_VALUE_LEN = 25
    C_MAX_TS_LEN = 21
    C_POINT_MAX = C_MAX_TS_LEN + C_MAX_VALUE_LEN + 7
    E_MIN = -19  # frexp exponent of 1e-6; smaller values take 'e' and are SLOW
    E_MAX = 50  # non-integers from 2**50 on are SLOW (as are integers from 2**53 on)
    EX_MIN = -15  # frexp exponent of 2**-16
    EX_MAX = 52  # frexp exponent of 2**52 - 1
    ERR_BUFFER = -1
    ERR_DIGITS = -2
    ERR_NO_DIGIT = -3

SPECIAL = C_SPECIAL
SLOW = C_SLOW
ABSENT = C_ABSENT
MAX_VALUE_LEN = C_MAX_VALUE_LEN
MAX_TS_LEN = C_MAX_TS_LEN
POINT_MAX = C_POINT_MAX

# Compile-time constants (C macros, not module variables: the compiler must see their values
# to turn a division by 10**8 into a multiplication).
cdef extern from *:
    """
    #define RK_TWO53 9007199254740992.0
    #define RK_TWO52D 4503599627370496.0
    #define RK_TWO52 (1ULL << 52)
    #define RK_M32 0xFFFFFFFFULL
    #define RK_MANT ((1ULL << 52) - 1)
    #define RK_ABS_MASK ((1ULL << 63) - 1)
    #define RK_U1E8 100000000ULL
    """
    const double TWO53 "RK_TWO53"
    const double TWO52D "RK_TWO52D"
    const uint64_t TWO52 "RK_TWO52"
    const uint64_t M32 "RK_M32"
    const uint64_t MANT "RK_MANT"
    const uint64_t ABS_MASK "RK_ABS_MASK"
    const uint64_t U1E8 "RK_U1E8"
    # The output buffer never overlaps an input (render.py allocates it), and saying so lets the
    # compiler keep inputs in registers across byte stores, which a plain ``uint8_t*`` may alias.
    ctypedef uint8_t* out_t "uint8_t *__restrict__"

# -- tables (see render_kernels.py) -----------------------------------------------------------

cdef double POW10[23]  # exact in float64 up to 10**22
cdef int64_t KMAX[E_MAX - E_MIN + 1]
cdef int64_t K_OF_E[EX_MAX - EX_MIN + 1]
cdef uint64_t P10_BITS[22]
cdef uint64_t P10_HI[22]
cdef uint64_t P10_LO[22]
cdef uint64_t U10_POW[20]
cdef uint8_t PAIRS[200]


def _kmax_table() -> list:
    """``KMAX[E - E_MIN]`` (``E`` as from ``frexp``): the largest ``k <= 22`` with ``10**k * 2**E <= 2**50``, -1 if none (exact integer math)."""
    out = []
    for e in range(E_MIN, E_MAX + 1):
        k = -1
        while k < 22 and 10 ** (k + 1) * 2 ** max(e, 0) <= 2**50 * 2 ** max(-e, 0):
            k += 1
        out.append(k)
    return out


def _k_table() -> list:
    """``K[E - EX_MIN] = 16 - q`` with ``q`` the largest integer such that ``10**q <= 2**(E - 1)``."""
    out = []
    for e in range(EX_MIN, EX_MAX + 1):
        low = Fraction(2) ** (e - 1)
        q = -6
        while Fraction(10) ** (q + 1) <= low:
            q += 1
        out.append(16 - q)
    return out


def _fill_tables() -> None:
    # Python ints throughout (no cdef loop index): 10**i must not go through C's pow
    for i in range(23):
        POW10[i] = float(10**i)
    for i, k in enumerate(_kmax_table()):
        KMAX[i] = k
    for i, k in enumerate(_k_table()):
        K_OF_E[i] = k
    # The bits of the doubles nearest 10**(17 - k). Positive doubles order like their bits, so
    # ``ab >= P10_BITS[k]`` tells that ``a`` has one more digit before the point than K_OF_E
    # assumed, and ``k - 1`` still gives 17 digits, one fewer for the digit loop to drop. (Where that
    # double lies below the power, ``a`` equal to it is a power of ten, whose one digit any ``k`` finds.)
    bits = np.array([10.0 ** (17 - k) for k in range(22)]).view(np.uint64)
    for i in range(22):
        P10_BITS[i] = int(bits[i])
        P10_HI[i] = 10**i >> 64
        P10_LO[i] = 10**i & (2**64 - 1)
    for i in range(20):
        U10_POW[i] = 10**i
    for i, c in enumerate("".join(f"{j:02d}" for j in range(100)).encode()):
        PAIRS[i] = c


_fill_tables()


def tables() -> dict:
    """The C tables as Python lists, for tests."""
    return {"POW10": [POW10[i] for i in range(23)], "KMAX": [KMAX[i] for i in range(E_MAX - E_MIN + 1)],
            "K_OF_E": [K_OF_E[i] for i in range(EX_MAX - EX_MIN + 1)]}


# -- the short-decimal path --------------------------------------------------------------------

cdef inline double _rint(double x) noexcept nogil:
    """``rint(x)`` for ``0 <= x < 2**52``, in two additions instead of libm's general case.

    Adding 2**52 leaves no bit below the units, so the sum is rounded to an
    integer in the current rounding mode (to nearest, ties to even: ``rint``'s
    rule); taking 2**52 off again is exact. Every caller's ``x`` is below
    2**50 (render_kernels.py: ``a * 10**k < 2**50`` for ``k <= KMAX``). Safe
    because setup.py compiles without ``-ffast-math`` (which would fold it).
    """
    return (x + TWO52D) - TWO52D


cdef inline bint _passes(double a, int64_t k) noexcept nogil:
    cdef double p = POW10[k]
    return _rint(a * p) / p == a


cdef inline int8_t _value_code(double v, uint64_t ab) noexcept nogil:
    """The code of one value (see render_kernels.py); ``ab`` holds the bits of ``|v|``."""
    cdef double a
    cdef int64_t e, kmax, k, top, lo, hi, mid
    if not isfinite(v):
        return C_SPECIAL
    a = fabs(v)
    if a < TWO53 and a == <double><int64_t>a:  # truncation is floor here (a >= 0)
        return 0  # integers, zeros included
    if a < 1e-6:
        return C_SLOW
    e = <int64_t>(ab >> 52) - 1022  # frexp's exponent (a is normal here)
    if e > E_MAX:
        return C_SLOW
    kmax = KMAX[e - E_MIN]
    if kmax < 1 or not _passes(a, kmax):
        return C_SLOW
    # short decimals are the common case: try 1..3 decimals in order, then bisect
    top = kmax if kmax < 3 else 3
    for k in range(1, top + 1):
        if _passes(a, k):
            return <int8_t>k
    lo = 4
    hi = kmax
    while lo < hi:
        mid = (lo + hi) >> 1
        if _passes(a, mid):
            hi = mid
        else:
            lo = mid + 1
    return <int8_t>lo


# -- the exact path: shortest digits of 2**-16 <= a < 2**52 ------------------------------------

cdef inline void _mul(uint64_t a, uint64_t hi, uint64_t lo, uint64_t* r_hi, uint64_t* r_lo) noexcept nogil:
    """``a * (hi:lo)`` for uint64 ``a`` and a uint128 as two halves; the caller keeps it below 2**128."""
    cdef uint64_t a_lo = a & M32
    cdef uint64_t a_hi = a >> 32
    cdef uint64_t b_lo = lo & M32
    cdef uint64_t b_hi = lo >> 32
    cdef uint64_t ll = a_lo * b_lo
    cdef uint64_t lh = a_lo * b_hi
    cdef uint64_t hl = a_hi * b_lo
    cdef uint64_t mid = (ll >> 32) + (lh & M32) + (hl & M32)
    r_lo[0] = (ll & M32) | (mid << 32)
    r_hi[0] = a_hi * b_hi + (lh >> 32) + (hl >> 32) + (mid >> 32) + a * hi


cdef inline uint64_t _shr(uint64_t hi, uint64_t lo, uint64_t t, bint* rest) noexcept nogil:
    """``floor((hi:lo) / 2**t)`` for ``0 < t < 128`` whose result fits 64 bits; ``rest``: whether bits were dropped."""
    if t < 64:
        rest[0] = (lo & ((1ULL << t) - 1)) != 0
        return (lo >> t) | (hi << (64 - t))
    t -= 64
    rest[0] = lo != 0 or (hi & ((1ULL << t) - 1)) != 0
    return hi >> t


cdef inline int64_t _shortest(uint64_t ab, uint64_t* out_c) noexcept nogil:
    """``k`` and ``out_c = c``: ``c / 10**k`` is the shortest decimal that parses to ``a`` (the nearest if several).

    ``ab`` holds the bits of a non-integral ``2**-16 <= a < 2**52``; ``k = -1``
    if no candidate was found (never, by render_kernels.py's argument; the
    caller falls back to orjson then).
    """
    cdef int64_t e = <int64_t>(ab >> 52) - 1022  # frexp's exponent: 2**(e-1) <= a < 2**e
    cdef uint64_t m = (ab & MANT) | TWO52  # a = m * 2**(e - 53)
    cdef int64_t k = K_OF_E[e - EX_MIN]
    cdef uint64_t ph, pl, t, m4, c_hi, c_lo, p2_lo, p2_hi, b_lo, b_hi, d_hi, d_lo, a_lo, a_hi
    cdef uint64_t lo_q, hi_q, lo, hi, q, c, dig, lo2, hi2, c10
    cdef bint lo_rest, hi_rest, rest, half_bit, below, up
    cdef int64_t d
    if ab >= P10_BITS[k]:  # a >= 10**(17 - k): one digit more before the point
        k -= 1
    ph = P10_HI[k]
    pl = P10_LO[k]
    t = <uint64_t>(55 - e)  # D = 2**t = 4 * 2**(53 - e)
    m4 = m << 2
    _mul(m4, ph, pl, &c_hi, &c_lo)  # C = 4m * 10**k
    p2_lo = pl << 1  # 2 * 10**k
    p2_hi = (ph << 1) | (pl >> 63)
    b_lo = c_lo + p2_lo  # B = C + 2 * 10**k
    b_hi = c_hi + p2_hi + (1 if b_lo < c_lo else 0)
    if m == TWO52:  # the gap below a power of two is half as wide: A = C - 10**k
        d_hi = ph
        d_lo = pl
    else:  # A = C - 2 * 10**k
        d_hi = p2_hi
        d_lo = p2_lo
    a_lo = c_lo - d_lo
    a_hi = c_hi - d_hi - (1 if c_lo < d_lo else 0)
    lo_q = _shr(a_hi, a_lo, t, &lo_rest)
    hi_q = _shr(b_hi, b_lo, t, &hi_rest)
    if (m & 1) == 0:  # even mantissa: the bounds round to a, so they count
        lo = lo_q + 1 if lo_rest else lo_q
        hi = hi_q
    else:
        lo = lo_q + 1
        hi = hi_q if hi_rest else hi_q - 1
    if lo > hi:
        out_c[0] = 0
        return -1
    q = _shr(c_hi, c_lo, t - 1, &rest)
    c = q >> 1  # floor(a * 10**k)
    half_bit = (q & 1) != 0  # its fraction is >= 1/2
    below = half_bit or rest  # whether anything below the last dropped digit is non-zero
    dig = 0  # the last dropped digit
    d = 0
    while d < k:  # drop digits while some candidate is left, as Go's ryuDigits32
        lo2 = (lo + 9) // 10
        hi2 = hi // 10
        if lo2 > hi2:
            break
        lo = lo2
        hi = hi2
        if d > 0:
            below = below or dig != 0
        c10 = c // 10
        dig = c - c10 * 10
        c = c10
        d += 1
    # the nearest candidate, ties to even (as Go and Python's repr), clamped into [lo, hi]
    if d == 0:
        up = half_bit and (rest or (c & 1) != 0)
    else:
        up = dig > 5 or (dig == 5 and (below or (c & 1) != 0))
    if up:
        c += 1
    if c < lo:
        c = lo
    if c > hi:
        c = hi
    out_c[0] = c
    return k - d


cdef int64_t _classify(const double* values, const uint64_t* bits, const uint8_t* present, bint use_mask,
                       int64_t n, int8_t* codes, uint64_t* mant) noexcept nogil:
    cdef int64_t i, k, n_slow = 0
    cdef int8_t c
    cdef double v, a
    cdef uint64_t m
    for i in range(n):
        if use_mask and not present[i]:
            codes[i] = C_ABSENT
            continue
        v = values[i]
        c = _value_code(v, bits[i] & ABS_MASK)
        a = fabs(v)
        if c >= 0:
            mant[i] = <uint64_t>a if c == 0 else <uint64_t>_rint(a * POW10[c])
        elif c == C_SLOW and 1.52587890625e-05 <= a < 4503599627370496.0:  # 2**-16, 2**52
            k = _shortest(bits[i] & ABS_MASK, &m)
            if k >= 0:
                c = <int8_t>k
                mant[i] = m
        n_slow += c == C_SLOW
        codes[i] = c
    return n_slow


def classify(const double[::1] values, const uint64_t[::1] bits, const uint8_t[::1] present, bint use_mask):
    """``(codes, mant, n_slow)`` of a 1-d value array; ``present`` as uint8 (see render_kernels.classify)."""
    cdef int64_t n = values.shape[0]
    cdef int64_t n_slow
    if bits.shape[0] != n or (use_mask and present.shape[0] != n):
        raise ValueError(f"classify: {n} values, {bits.shape[0]} bits, {present.shape[0]} presence flags")
    codes = np.empty(n, dtype=np.int8)
    mant = np.empty(n, dtype=np.uint64)
    cdef int8_t[::1] cv = codes
    cdef uint64_t[::1] mv = mant
    if n:
        with nogil:
            n_slow = _classify(&values[0], &bits[0], &present[0] if use_mask else NULL, use_mask, n, &cv[0],
                               &mv[0])
    else:
        n_slow = 0
    return codes, mant, n_slow


# -- writing digits ------------------------------------------------------------------------------

cdef inline int64_t _ndigits(uint64_t u) noexcept nogil:
    """Number of decimal digits of ``u`` (1 for 0)."""
    cdef int64_t n = 1
    while n < 20 and u >= U10_POW[n]:
        n += 1
    return n


cdef inline int64_t _digits_back(uint8_t* out, int64_t q, uint64_t u) noexcept nogil:
    """Write the decimal digits of ``u`` to end just before ``out[q]``; return where they start."""
    cdef uint64_t r
    while u >= 100:
        r = (u % 100) * 2
        u //= 100
        q -= 2
        out[q] = PAIRS[r]
        out[q + 1] = PAIRS[r + 1]
    if u >= 10:
        q -= 2
        out[q] = PAIRS[u * 2]
        out[q + 1] = PAIRS[u * 2 + 1]
    else:
        q -= 1
        out[q] = PAIRS[u * 2 + 1]
    return q


cdef int64_t _timestamp_table(const int64_t* times, int64_t n, uint8_t* text, int64_t* off) noexcept nogil:
    cdef int64_t i, pos = 0, ms, frac, nd
    cdef uint64_t u
    for i in range(n):
        off[i] = pos
        text[pos] = 91  # [
        pos += 1
        ms = times[i]
        if ms < 0:  # the magnitude goes through uint64, so -2**63 works too
            text[pos] = 45
            pos += 1
            u = <uint64_t>0 - <uint64_t>ms
        else:
            u = <uint64_t>ms
        frac = <int64_t>(u % 1000)
        u //= 1000
        nd = _ndigits(u)
        _digits_back(text, pos + nd, u)
        pos += nd
        if frac != 0:
            text[pos] = 46  # .
            text[pos + 1] = <uint8_t>(48 + frac // 100)
            text[pos + 2] = <uint8_t>(48 + frac // 10 % 10)
            text[pos + 3] = <uint8_t>(48 + frac % 10)
            pos += 4
        text[pos] = 44  # ,
        text[pos + 1] = 34  # "
        pos += 2
    off[n] = pos
    return pos


def timestamp_table(const int64_t[::1] times):
    """``(text, off)``: ``[<t>,"`` of every timestamp, concatenated, and offsets (see render_kernels)."""
    cdef int64_t n = times.shape[0]
    text = np.empty(n * (C_MAX_TS_LEN + 3), dtype=np.uint8)
    off = np.empty(n + 1, dtype=np.int64)
    cdef uint8_t[::1] tv = text
    cdef int64_t[::1] ov = off
    if n:
        with nogil:
            _timestamp_table(&times[0], n, &tv[0], &ov[0])
    else:
        ov[0] = 0
    return text, off


# -- the points ----------------------------------------------------------------------------------

cdef struct Inputs:
    const uint8_t* heads
    const int64_t* head_off
    const uint8_t* tail
    int64_t tail_len
    const int64_t* edges
    int64_t n_series
    const uint8_t* ts_text
    const int64_t* ts_off
    bint per_row
    const double* values
    const int8_t* codes
    const uint64_t* mant
    const uint8_t* slow


cdef inline int64_t _e_form_end(const uint8_t* slow, int64_t cur, bint negative_exp) noexcept nogil:
    """Where the exponent digits start if ``slow[cur:]`` reads ``[-]d[.ddd]e±x`` (1-3 digits ``x``) with no
    trailing zero in the mantissa and the expected exponent sign, then ``,`` or ``]``; else 0."""
    cdef int64_t i = cur
    cdef int64_t k
    if slow[i] == 45:
        i += 1
    if not 49 <= slow[i] <= 57:  # a leading digit 1-9
        return 0
    i += 1
    if slow[i] == 46:
        i += 1
        if not 48 <= slow[i] <= 57:
            return 0
        while 48 <= slow[i] <= 57:
            i += 1
        if slow[i - 1] == 48:  # a trailing zero: not the shortest digits
            return 0
    if slow[i] != 101 or slow[i + 1] != (45 if negative_exp else 43):
        return 0
    i += 2
    k = 0
    while k < 4 and 48 <= slow[i + k] <= 57:
        k += 1
    if k == 0 or k == 4 or (slow[i + k] != 44 and slow[i + k] != 93):
        return 0
    return i


cdef inline int64_t _write_e_form(out_t out, int64_t pos, const uint8_t* slow, int64_t cur, int64_t exp_at,
                                  bint go_e) noexcept nogil:
    """Write orjson's ``[-]d[.ddd]e±x`` at ``slow[cur:]`` (``exp_at``: where ``x`` starts) as Go does; the end,
    or 0 for a layout left to the general parser (a decimal point inside the digits).

    ``go_e``: Go's 'e' form too, which differs only by its two-digit exponent.
    Otherwise Go is positional: ``0.000ddd`` below 1, ``dddd000`` from 10**16.
    """
    cdef int64_t i = cur
    cdef int64_t d, x, nd, frac_at
    if go_e:
        for d in range(exp_at - cur):
            out[pos + d] = slow[cur + d]
        pos += exp_at - cur
        if not 48 <= slow[exp_at + 1] <= 57:  # one exponent digit
            out[pos] = 48
            out[pos + 1] = slow[exp_at]
            return pos + 2
        out[pos] = slow[exp_at]
        out[pos + 1] = slow[exp_at + 1]
        if 48 <= slow[exp_at + 2] <= 57:
            out[pos + 2] = slow[exp_at + 2]
            return pos + 3
        return pos + 2
    x = 0
    d = exp_at
    while 48 <= slow[d] <= 57:
        x = x * 10 + (slow[d] - 48)
        d += 1
    if slow[i] == 45:
        out[pos] = 45
        pos += 1
        i += 1
    # the digits: slow[i], then slow[frac_at:exp_at - 2] (after the '.', if any)
    frac_at = i + 2 if slow[i + 1] == 46 else i + 1
    nd = 1 + (exp_at - 2 - frac_at if slow[i + 1] == 46 else 0)
    if slow[exp_at - 1] == 45:  # 0.000ddd: x - 1 zeros after the point
        out[pos] = 48
        out[pos + 1] = 46
        pos += 2
        for d in range(x - 1):
            out[pos + d] = 48
        pos += x - 1
        out[pos] = slow[i]
        pos += 1
        for d in range(nd - 1):
            out[pos + d] = slow[frac_at + d]
        return pos + nd - 1
    if nd - 1 > x:  # a point inside the digits (never from 10**16 on): the general parser's
        return 0
    out[pos] = slow[i]
    pos += 1
    for d in range(nd - 1):
        out[pos + d] = slow[frac_at + d]
    pos += nd - 1
    for d in range(x - (nd - 1)):  # zeros past the digits
        out[pos + d] = 48
    return pos + x - (nd - 1)


cdef inline int64_t _write_slow(out_t out, int64_t pos, double v, const uint8_t* slow, int64_t* cur_p,
                                uint8_t* digits) noexcept nogil:
    """Write a :data:`SLOW` value, laid out as Go does from orjson's text at ``cur_p[0]``; return the end.

    Returns ``ERR_DIGITS`` / ``ERR_NO_DIGIT`` when that text is not what orjson writes.
    """
    cdef int64_t cur = cur_p[0]
    cdef int64_t end, n, d, nd, point, x, exp10, q
    cdef bint seen_point, neg
    cdef uint8_t c
    cdef double av = fabs(v)
    if 1e-5 <= av < 1e16:
        # orjson's layout is positional there, Go's 'f', but for a trailing '.0':
        # copy it, unless an exponent shows up (then lay it out below)
        end = cur
        while slow[end] != 44 and slow[end] != 93 and slow[end] != 101:
            end += 1
        if slow[end] != 101:
            if slow[end - 1] == 48 and slow[end - 2] == 46:
                n = end - 2 - cur
            else:
                n = end - cur
            for d in range(n):
                out[pos + d] = slow[cur + d]
            cur_p[0] = end + 1
            return pos + n
    else:
        # orjson wrote ``[-]d[.ddd]e±x`` (shortest digits): lay it out from the text directly
        end = _e_form_end(slow, cur, av < 1.0)
        if end > 0:
            q = _write_e_form(out, pos, slow, cur, end, av < 1e-6 or av >= 1e21)
            if q > 0:
                while slow[end] != 44 and slow[end] != 93:
                    end += 1
                cur_p[0] = end + 1
                return q
    # parse the number: significant digits into `digits`, value = 0.D * 10**point
    nd = 0
    point = 0
    seen_point = False
    if slow[cur] == 45:
        cur += 1
    while True:
        c = slow[cur]
        if c == 46:
            seen_point = True
        elif 48 <= c <= 57:
            if nd == 0 and c == 48:
                point -= seen_point
            else:
                if nd == 17:
                    return ERR_DIGITS
                digits[nd] = c
                nd += 1
                point += not seen_point
        else:
            break
        cur += 1
    if slow[cur] == 101 or slow[cur] == 69:  # e / E
        cur += 1
        neg = slow[cur] == 45
        if slow[cur] == 45 or slow[cur] == 43:
            cur += 1
        x = 0
        while 48 <= slow[cur] <= 57:
            x = x * 10 + (slow[cur] - 48)
            cur += 1
        point += -x if neg else x
    cur_p[0] = cur + 1  # past ',' or ']'
    while nd > 1 and digits[nd - 1] == 48:
        nd -= 1
    if nd == 0:
        return ERR_NO_DIGIT
    exp10 = point - 1  # value = D[0].D[1:] * 10**exp10
    if v < 0:
        out[pos] = 45
        pos += 1
    if av < 1e-6 or av >= 1e21:  # Go's 'e': d[.ddd]e±dd
        out[pos] = digits[0]
        pos += 1
        if nd > 1:
            out[pos] = 46
            pos += 1
            for d in range(1, nd):
                out[pos] = digits[d]
                pos += 1
        out[pos] = 101
        out[pos + 1] = 45 if exp10 < 0 else 43
        pos += 2
        x = -exp10 if exp10 < 0 else exp10  # at most 324: two digits, or three
        if x >= 100:
            out[pos] = <uint8_t>(48 + x // 100)
            pos += 1
        out[pos] = <uint8_t>(48 + x // 10 % 10)
        out[pos + 1] = <uint8_t>(48 + x % 10)
        pos += 2
    elif exp10 < 0:  # 0.000ddd
        out[pos] = 48
        out[pos + 1] = 46
        pos += 2
        for d in range(-exp10 - 1):
            out[pos] = 48
            pos += 1
        for d in range(nd):
            out[pos] = digits[d]
            pos += 1
    else:
        for d in range(exp10 + 1):  # integer part, zeros past the digits
            out[pos] = digits[d] if d < nd else 48
            pos += 1
        if nd > exp10 + 1:
            out[pos] = 46
            pos += 1
            for d in range(exp10 + 1, nd):
                out[pos] = digits[d]
                pos += 1
    return pos


cdef inline int64_t _write_decimal(out_t out, int64_t pos, double v, int64_t k, uint64_t u) noexcept nogil:
    """Write ``±u / 10**k`` with ``k`` decimals at ``pos``; return the end."""
    cdef int64_t nd, start, q, d, j
    cdef uint64_t top, low, r
    if signbit(v):
        out[pos] = 45
        pos += 1
    nd = _ndigits(u)
    if nd <= k:
        nd = k + 1  # 0.000ddd: leading zeros
    # the digits of u, zero-padded to nd, at pos + (k > 0) ...
    start = pos + (k > 0)
    q = start + nd
    if u >= U1E8:  # the low 8 digits apart: two independent division chains
        top = u // U1E8
        low = u - top * U1E8
        for j in range(4):
            r = (low % 100) * 2
            low //= 100
            q -= 2
            out[q] = PAIRS[r]
            out[q + 1] = PAIRS[r + 1]
        u = top
    q = _digits_back(out, q, u)
    while q > start:
        q -= 1
        out[q] = 48
    # ... then the integer part moves one left to open the decimal point
    if k > 0:
        for d in range(pos, pos + nd - k):
            out[d] = out[d + 1]
        out[pos + nd - k] = 46
        pos += 1
    return pos + nd


cdef int64_t _render_points(out_t out, int64_t size, int64_t pos, const Inputs* s) noexcept nogil:
    # The inputs are copied into locals first: ``out`` is a char pointer, which C lets alias
    # anything, so fields read through ``s`` would be reloaded after every byte written.
    cdef const uint8_t* heads = s.heads
    cdef const int64_t* head_off = s.head_off
    cdef const uint8_t* tail = s.tail
    cdef int64_t tail_len = s.tail_len
    cdef const int64_t* edges = s.edges
    cdef const uint8_t* ts_text = s.ts_text
    cdef const int64_t* ts_off = s.ts_off
    cdef const double* values = s.values
    cdef const int8_t* codes = s.codes
    cdef const uint64_t* mant = s.mant
    cdef const uint8_t* slow = s.slow
    cdef bint per_row = s.per_row
    cdef uint8_t digits[32]
    cdef int64_t cur = 1  # slow-text cursor, past '['
    cdef bint first = True
    cdef bint sep
    cdef int64_t i, a, b, p, q, e, count, base
    cdef int8_t code
    cdef double v
    for i in range(s.n_series):
        a = edges[i]
        b = edges[i + 1]
        count = 0
        for p in range(a, b):
            count += codes[p] != C_ABSENT
        if count == 0:
            continue
        if pos + 1 + (head_off[i + 1] - head_off[i]) + count * C_POINT_MAX + tail_len > size:
            return ERR_BUFFER
        if not first:
            out[pos] = 44
            pos += 1
        first = False
        for q in range(head_off[i], head_off[i + 1]):
            out[pos] = heads[q]
            pos += 1
        base = a if per_row else 0
        sep = False
        for p in range(a, b):
            code = codes[p]
            if code == C_ABSENT:
                continue
            if sep:
                out[pos] = 44
                pos += 1
            sep = True
            e = p - base
            for q in range(ts_off[e], ts_off[e + 1]):  # [<t>,"
                out[pos] = ts_text[q]
                pos += 1
            v = values[p]
            if code >= 0:
                pos = _write_decimal(out, pos, v, code, mant[p])
            elif code == C_SPECIAL:
                if v != v:
                    out[pos] = 78  # NaN
                    out[pos + 1] = 97
                    out[pos + 2] = 78
                    pos += 3
                else:
                    out[pos] = 43 if v > 0 else 45  # +Inf / -Inf
                    out[pos + 1] = 73
                    out[pos + 2] = 110
                    out[pos + 3] = 102
                    pos += 4
            else:
                pos = _write_slow(out, pos, v, slow, &cur, digits)
                if pos < 0:
                    return pos
            out[pos] = 34  # "]
            out[pos + 1] = 93
            pos += 2
        for q in range(tail_len):
            out[pos] = tail[q]
            pos += 1
    return pos


cdef uint8_t _EMPTY_U8[1]
cdef int64_t _EMPTY_I64[1]


def render_points(uint8_t[::1] out, int64_t pos, const uint8_t[::1] heads, const int64_t[::1] head_off,
                  const uint8_t[::1] tail, const int64_t[::1] edges, const uint8_t[::1] ts_text,
                  const int64_t[::1] ts_off, bint per_row, const double[::1] values, const int8_t[::1] codes,
                  const uint64_t[::1] mant, const uint8_t[::1] slow):
    """Write the series into ``out`` from ``pos``; returns the end (see render_kernels.render_points)."""
    cdef Inputs s
    cdef int64_t n_series = edges.shape[0] - 1
    cdef int64_t end
    if n_series < 0 or head_off.shape[0] != n_series + 1 or codes.shape[0] != values.shape[0] \
            or mant.shape[0] != values.shape[0] or slow.shape[0] < 2 or not 0 <= pos <= out.shape[0]:
        raise ValueError("render_points: inconsistent arguments")
    if n_series == 0:
        return pos
    s.heads = &heads[0] if heads.shape[0] else _EMPTY_U8
    s.head_off = &head_off[0]
    s.tail = &tail[0] if tail.shape[0] else _EMPTY_U8
    s.tail_len = tail.shape[0]
    s.edges = &edges[0]
    s.n_series = n_series
    s.ts_text = &ts_text[0] if ts_text.shape[0] else _EMPTY_U8
    s.ts_off = &ts_off[0] if ts_off.shape[0] else _EMPTY_I64
    s.per_row = per_row
    s.values = &values[0] if values.shape[0] else NULL
    s.codes = &codes[0] if codes.shape[0] else NULL
    s.mant = &mant[0] if mant.shape[0] else NULL
    s.slow = &slow[0]
    with nogil:
        end = _render_points(&out[0] if out.shape[0] else NULL, out.shape[0], pos, &s)
    if end == ERR_BUFFER:
        raise RuntimeError("BUG: render buffer too small")
    if end == ERR_DIGITS:
        raise RuntimeError("BUG: a slow value's text has more than 17 digits")
    if end == ERR_NO_DIGIT:
        raise RuntimeError("BUG: a slow value's text has no significant digit")
    return end
