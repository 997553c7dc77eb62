"""A slow, obviously correct XOR chunk codec: the test oracle for :mod:`.xor`.

It follows Prometheus's ``xorAppender.Append`` / ``xorIterator.Next`` step by
step on Python integers and a string of '0'/'1' characters, with no attempt
at speed (thousands of times slower than the kernels, linear but
allocation-happy). Never use it outside tests and debugging.

Go's fixed-width arithmetic is made explicit: ``_u64`` wraps to uint64,
``_i64`` reinterprets as int64. The decoder raises
:class:`~tsdb.errors.CorruptChunkError` under the same conditions as the fast
decoder (truncation, varint overflow, leading + sigbits > 64, short header),
so the two can be compared on arbitrary bytes.
"""

from __future__ import annotations

from collections.abc import Sequence

from tsdb.errors import CorruptChunkError

_MASK64 = (1 << 64) - 1


def _u64(x: int) -> int:
    return x & _MASK64


def _i64(x: int) -> int:
    x &= _MASK64
    return x - (1 << 64) if x >> 63 else x


def _clz64(x: int) -> int:
    return 64 - x.bit_length()


def _ctz64(x: int) -> int:
    return (x & -x).bit_length() - 1


def _uvarint_bytes(u: int) -> list[int]:
    """Go's ``PutUvarint``: 7 bits a byte, least significant first, high bit = more."""
    out = []
    while u >= 0x80:
        out.append((u & 0x7F) | 0x80)
        u >>= 7
    out.append(u)
    return out


def _bit_range(x: int, nbits: int) -> bool:
    """Prometheus's ``bitRange``: -(2^(n-1)-1) <= x <= 2^(n-1)."""
    return -((1 << (nbits - 1)) - 1) <= x <= (1 << (nbits - 1))


class _Writer:
    """A '0'/'1' string plus the one quirk of Prometheus's ``bstream`` that shows.

    Call ``write`` once per write call of Go's ``xorAppender`` (``writeBit`` is
    1 bit, ``writeByte`` 8, ``writeBits`` n). Go writes whole bytes by
    appending a byte and then a zero byte for the next bits; so after a call
    of whole bytes (n a multiple of 8) that *starts on a byte boundary* the
    stream has an empty byte at its end, which the next bit fills. If no bit
    comes, the chunk keeps that 0x00 byte.
    """

    def __init__(self) -> None:
        self.bits: list[str] = []
        self.length = 0
        self.empty_tail = False

    def write(self, value: int, nbits: int) -> None:
        self.empty_tail = nbits % 8 == 0 and self.length % 8 == 0
        self.bits.append(format(value & ((1 << nbits) - 1), f"0{nbits}b"))
        self.length += nbits

    def to_bytes(self) -> bytes:
        stream = "".join(self.bits)
        stream += "0" * (-len(stream) % 8)
        data = int(stream, 2).to_bytes(len(stream) // 8, "big")
        return data + b"\x00" if self.empty_tail else data


def encode(ts: Sequence[int], value_bits: Sequence[int]) -> bytes:
    """Encode samples (int64 timestamps, float64 *bit patterns* as ints) like Prometheus."""
    n = len(ts)
    if not 1 <= n <= 0xFFFF or len(value_bits) != n:
        raise ValueError(f"bad chunk size {n} / {len(value_bits)}")
    w = _Writer()
    w.write(n, 16)  # the header (Go updates it in place)
    t_prev = v_prev = t_delta = 0
    leading, trailing = 0xFF, 0
    for i, (t, v) in enumerate(zip(ts, value_bits, strict=True)):
        t, v = int(t), int(v)
        if i == 0:
            for b in _uvarint_bytes(_u64((t << 1) ^ (t >> 63))):  # PutVarint: zig-zag
                w.write(b, 8)
            w.write(v, 64)
        else:
            new_delta = _u64(t - t_prev)
            if i == 1:
                for b in _uvarint_bytes(new_delta):
                    w.write(b, 8)
            else:
                dod = _i64(new_delta - t_delta)
                if dod == 0:
                    w.write(0, 1)
                elif _bit_range(dod, 14):
                    w.write(0b10, 2)
                    w.write(dod, 14)
                elif _bit_range(dod, 17):
                    w.write(0b110, 3)
                    w.write(dod, 17)
                elif _bit_range(dod, 20):
                    w.write(0b1110, 4)
                    w.write(dod, 20)
                else:
                    w.write(0b1111, 4)
                    w.write(dod, 64)
            t_delta = new_delta
            x = v ^ v_prev
            if x == 0:
                w.write(0, 1)
            else:
                w.write(1, 1)
                lead = min(_clz64(x), 31)
                trail = _ctz64(x)
                if leading != 0xFF and lead >= leading and trail >= trailing:
                    w.write(0, 1)
                    w.write(x >> trailing, 64 - leading - trailing)
                else:
                    leading, trailing = lead, trail
                    sig = 64 - lead - trail
                    w.write(1, 1)
                    w.write(lead, 5)
                    w.write(sig, 6)  # 64 does not fit: written as 0
                    w.write(x >> trail, sig)
        t_prev, v_prev = t, v
    return w.to_bytes()


class _Reader:
    """Bits of a byte string, consumed left to right from an offset (no copying)."""

    def __init__(self, data: bytes, sample_count: int):
        self.bits = "".join(format(b, "08b") for b in data)
        self.pos = 0
        self.n = sample_count
        self.sample = 0
        self.size = len(data)

    def take(self, nbits: int) -> int:
        if self.pos + nbits > len(self.bits):
            raise CorruptChunkError(
                f"chunk 0: bit stream ends at byte {self.size} "
                f"while reading sample {self.sample} of {self.n}"
            )
        s = self.bits[self.pos : self.pos + nbits]
        self.pos += nbits
        return int(s, 2) if s else 0

    def uvarint(self) -> int:
        """Go's ``ReadUvarint``: at most 10 bytes, the 10th at most 1."""
        x = shift = 0
        for i in range(10):
            b = self.take(8)
            if b < 0x80:
                if i == 9 and b > 1:
                    break
                return x | (b << shift)
            x |= (b & 0x7F) << shift
            shift += 7
        raise CorruptChunkError(
            f"chunk 0: varint overflows 64 bits (sample {self.sample} of {self.n})"
        )


def decode(data: bytes) -> tuple[list[int], list[int]]:
    """Decode a chunk into (timestamps, float64 bit patterns), like ``xorIterator``."""
    data = bytes(data)
    if len(data) < 2:
        raise CorruptChunkError(
            f"chunk 0: {len(data)} bytes is too short for the 2-byte sample count"
        )
    n = int.from_bytes(data[:2], "big")
    r = _Reader(data[2:], n)
    r.size = len(data)
    ts: list[int] = []
    vs: list[int] = []
    t = v = t_delta = 0
    leading = trailing = 0  # a fresh xorIterator's window
    for i in range(n):
        r.sample = i
        if i == 0:
            ux = r.uvarint()
            t = _i64((ux >> 1) ^ -(ux & 1))  # zig-zag back
            v = r.take(64)
        else:
            if i == 1:
                t_delta = r.uvarint()
            else:
                if r.take(1) == 0:
                    dod = 0
                elif r.take(1) == 0:
                    dod = _signed_bucket(r.take(14), 14)
                elif r.take(1) == 0:
                    dod = _signed_bucket(r.take(17), 17)
                elif r.take(1) == 0:
                    dod = _signed_bucket(r.take(20), 20)
                else:
                    dod = r.take(64)
                t_delta = _u64(t_delta + dod)
            t = _i64(t + t_delta)
            if r.take(1) == 1:
                if r.take(1) == 1:
                    leading = r.take(5)
                    sig = r.take(6) or 64  # 64 significant bits are written as 0
                    if leading + sig > 64:
                        raise CorruptChunkError(
                            f"chunk 0: XOR window of {leading} leading zeros and {sig} "
                            f"significant bits exceeds 64 bits (sample {i} of {n})"
                        )
                    trailing = 64 - leading - sig
                v ^= r.take(64 - leading - trailing) << trailing
        ts.append(t)
        vs.append(v)
    return ts, vs


def _signed_bucket(raw: int, nbits: int) -> int:
    """Undo two's complement of an n-bit dod; 2^(n-1) itself stays positive (bitRange)."""
    return raw - (1 << nbits) if raw > (1 << (nbits - 1)) else raw
