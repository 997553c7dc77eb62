"""The ahead-of-time compiled kernels: Go varint rules, Python semantics kept where C differs, dtype guards."""

import threading

import numpy as np
import pytest

from tsdb.codec import varint
from tsdb.codec.xor import decode_xor_many, encode_xor_many
from tsdb.head import Head
from tsdb.head_kernels import gather_bytes

I64_MIN, I64_MAX = -(2**63), 2**63 - 1


@pytest.mark.parametrize(
    ("u", "hexed"),
    [(0, "00"), (1, "01"), (127, "7f"), (128, "8001"), (300, "ac02"), (2**64 - 1, "ffffffffffffffffff01")],
    ids=["0", "1", "127", "128", "300", "max"],
)
def test_uvarint_table(u, hexed):
    out = np.zeros(12, dtype=np.uint8)
    end = varint.put_uvarint(out, 1, u)
    assert out[1:end].tobytes().hex() == hexed
    assert varint.get_uvarint(out, 1, end) == (u, end, varint.VARINT_OK)


@pytest.mark.parametrize(
    ("x", "hexed"),
    [(0, "00"), (-1, "01"), (1, "02"), (-64, "7f"), (64, "8001"), (I64_MAX, "feffffffffffffffff01"),
     (I64_MIN, "ffffffffffffffffff01")],
    ids=["0", "-1", "1", "-64", "64", "max", "min"],
)
def test_varint_table(x, hexed):
    out = np.zeros(10, dtype=np.uint8)
    end = varint.put_varint(out, 0, x)
    assert out[:end].tobytes().hex() == hexed
    assert varint.get_varint(out, 0, end) == (x, end, varint.VARINT_OK)


@pytest.mark.parametrize(
    ("hexed", "want"),
    [
        ("8000", (0, 2, varint.VARINT_OK)),  # non-minimal: Go accepts it
        ("", (0, 0, varint.VARINT_TRUNCATED)),
        ("8080", (0, 2, varint.VARINT_TRUNCATED)),
        ("ffffffffffffffffff02", (0, 10, varint.VARINT_OVERFLOW)),  # 10th byte > 1
        ("ffffffffffffffffff8001", (0, 10, varint.VARINT_OVERFLOW)),  # 11 bytes
    ],
    ids=["non-minimal", "empty", "truncated", "10th-byte", "too-long"],
)
def test_uvarint_errors(hexed, want):
    buf = np.frombuffer(bytes.fromhex(hexed), dtype=np.uint8)  # read-only input is fine
    assert varint.get_uvarint(buf, 0, len(buf)) == want


def test_block_windows_floor_negative_timestamps():
    """Windows are ``t // block_range`` rounded down, as Python's, also below 0 (C's ``/`` truncates)."""
    h = Head(block_range_ms=10, slab_bytes=64, chunk_samples=120)
    ref = h.create((("a", "b"),))
    ts = np.array([-11, -10, -1, 0, 9, 10], dtype=np.int64)
    h.append(np.full(len(ts), ref), ts, np.arange(len(ts), dtype=np.float64))
    h.flush_open_chunks_before(10**9)
    c = h.chunks
    assert [(int(c.mint[i]), int(c.maxt[i])) for i in range(c.n)] == [(-11, -11), (-10, -1), (0, 9), (10, 10)]


def test_bad_arrays_are_rejected_not_reinterpreted():
    src = np.arange(10, dtype=np.uint8)
    out = np.zeros(4, dtype=np.uint8)
    lens = np.array([2, 2])
    with pytest.raises(ValueError, match="offsets: dtype"):
        gather_bytes(src, np.array([1, 5], dtype=np.int32), lens, out)
    with pytest.raises(ValueError, match="offsets: .*contiguous"):
        gather_bytes(src, np.array([1, 0, 5, 0])[::2], lens, out)
    with pytest.raises(ValueError, match="out: .*read-only"):
        gather_bytes(src, np.array([1, 5]), lens, np.frombuffer(bytes(4), dtype=np.uint8))
    with pytest.raises(TypeError, match="src: expected a numpy array"):
        gather_bytes(bytes(10), np.array([1, 5]), lens, out)
    gather_bytes(np.frombuffer(bytes(range(10)), dtype=np.uint8), np.array([1, 5]), lens, out)  # read-only input: fine
    assert gather_bytes(src, np.array([1, 5]), np.array([2, 2]), out) == 4
    assert out.tolist() == [1, 2, 5, 6]


def test_decode_runs_beside_other_threads():
    """Kernels release the GIL: two threads decoding at once give the same samples as one."""
    rng = np.random.default_rng(3)
    k, n = 2000, 120
    ts = np.cumsum(rng.integers(1, 30_000, k * n)).astype(np.int64)
    vs = rng.random(k * n)
    data, offsets = encode_xor_many(ts, vs, np.arange(k) * n, np.full(k, n))
    results = []

    def work():
        t, v, _ = decode_xor_many(data, offsets[:-1], np.diff(offsets))
        results.append((t, v))

    threads = [threading.Thread(target=work) for _ in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for t, v in results:
        np.testing.assert_array_equal(t, ts)
        np.testing.assert_array_equal(v.view(np.uint64), vs.view(np.uint64))
