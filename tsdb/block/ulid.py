"""ULIDs: the 26-character block identifiers Prometheus names block directories by.

A ULID is 128 bits: a 48-bit big-endian millisecond Unix timestamp followed by
80 random bits, written as 26 characters of Crockford's base32
(``0123456789ABCDEFGHJKMNPQRSTVWXYZ``, 5 bits a character, most significant
first, so the first character is at most ``7``). Sorting ULID strings sorts by
creation time, which is why ``ls`` lists blocks oldest first.

Randomness comes from ``os.urandom``, as Prometheus uses ``crypto/rand``: two
writers creating blocks in the same millisecond must not collide.
"""

from __future__ import annotations

import os
import time

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_DECODE = {c: i for i, c in enumerate(ALPHABET)}
ULID_LEN = 26
_MAX_MS = (1 << 48) - 1


def new_ulid(ms: int | None = None, entropy: bytes | None = None) -> str:
    """A fresh ULID for time ``ms`` (default: now) and 10 bytes of ``entropy`` (default: random)."""
    if ms is None:
        ms = time.time_ns() // 1_000_000
    if not 0 <= ms <= _MAX_MS:
        raise ValueError(f"ULID time {ms} ms is outside 0..2**48-1")
    if entropy is None:
        entropy = os.urandom(10)
    if len(entropy) != 10:
        raise ValueError(f"ULID entropy must be 10 bytes, got {len(entropy)}")
    value = (ms << 80) | int.from_bytes(entropy, "big")
    return "".join(ALPHABET[(value >> (5 * (ULID_LEN - 1 - i))) & 31] for i in range(ULID_LEN))


def parse_ulid(s: str) -> int:
    """The 128-bit value of ULID ``s``; ``ValueError`` if it is not a valid ULID.

    Lower-case input is accepted (Crockford's base32 is case-insensitive).
    """
    if not isinstance(s, str) or len(s) != ULID_LEN:
        raise ValueError(f"not a ULID (need {ULID_LEN} characters): {s!r}")
    value = 0
    for c in s.upper():
        d = _DECODE.get(c)
        if d is None:
            raise ValueError(f"not a ULID (bad character {c!r}): {s!r}")
        value = (value << 5) | d
    if value >> 128:
        raise ValueError(f"not a ULID (overflows 128 bits): {s!r}")
    return value


def is_ulid(s: str) -> bool:
    """Whether ``s`` is a valid ULID (used to tell block directories from other entries)."""
    try:
        parse_ulid(s)
    except ValueError:
        return False
    return True


def ulid_time_ms(s: str) -> int:
    """The millisecond timestamp embedded in ULID ``s``."""
    return parse_ulid(s) >> 80
