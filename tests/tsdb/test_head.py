"""The head's in-place XOR encoding must produce exactly the codec's (= Prometheus's) chunks."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tsdb.codec.xor import decode_xor, encode_xor
from tsdb.head import Head

special = st.sampled_from([0x7FF0000000000002, 0x7FF8000000000001, 0x8000000000000000, 0x7FF0000000000000,
                           0x3FF0000000000000, 0x0000000000000001, 0xFFFFFFFFFFFFFFFF])
bits = st.one_of(st.integers(0, 2**64 - 1), special)
deltas = st.one_of(st.integers(1, 20), st.integers(1, 70_000), st.integers(1, 2**40), st.just(15_000))


@settings(max_examples=200, deadline=None)
@given(st.integers(-(2**45), 2**45), st.lists(st.tuples(deltas, bits), min_size=1, max_size=300),
       st.sampled_from([64, 256, 1024]), st.sampled_from([2, 7, 120]))
def test_head_chunks_equal_codec_chunks(t0, samples, slab, max_samples):
    ts = t0 + np.cumsum([d for d, _ in samples]).astype(np.int64)
    vs = np.array([b for _, b in samples], dtype=np.uint64).view(np.float64)
    h = Head(block_range_ms=2**62, slab_bytes=slab, chunk_samples=max_samples)
    ref = h.create((("a", "b"),))
    # half the samples one by one, the rest in one batch: both paths
    half = len(ts) // 2
    for i in range(half):
        h.append(np.array([ref]), ts[i:i + 1], vs[i:i + 1])
    h.append(np.full(len(ts) - half, ref), ts[half:], vs[half:])
    got = h.read(np.array([ref]), -(2**62), 2**62)
    np.testing.assert_array_equal(got.ts, ts)
    np.testing.assert_array_equal(got.vs.view(np.uint64), vs.view(np.uint64))
    h.flush_open_chunks_before(2**62)
    c = h.chunks
    assert c.n >= 1
    seen = 0
    for i in range(c.n):
        data = c.data[c.off[i]: c.off[i] + c.len[i]].tobytes()
        n = int.from_bytes(data[:2], "big")
        assert n <= max_samples
        want = encode_xor(ts[seen:seen + n], vs[seen:seen + n])
        assert data == want, (i, n)
        t, v = decode_xor(data)
        assert c.mint[i] == t[0] and c.maxt[i] == t[-1]
        seen += n
    assert seen == len(ts)


def test_chunks_are_cut_at_block_windows_and_size():
    h = Head(block_range_ms=1000, slab_bytes=64, chunk_samples=120)
    ref = h.create((("a", "b"),))
    ts = np.arange(0, 3000, 10, dtype=np.int64)
    vs = np.random.default_rng(0).random(len(ts))  # noisy values: ~8 bytes a sample
    h.append(np.full(len(ts), ref), ts, vs)
    h.flush_open_chunks_before(10**9)
    c = h.chunks
    for i in range(c.n):
        assert c.mint[i] // 1000 == c.maxt[i] // 1000  # never straddles a window
        assert c.len[i] <= 64
    got = h.read(np.array([ref]), 0, 10**9)
    np.testing.assert_array_equal(got.ts, ts)
    np.testing.assert_array_equal(got.vs, vs)
