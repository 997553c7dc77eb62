"""write_block -> Block.open: everything written comes back identical.

Covers labels with UTF-8, quotes, backslashes and newlines; chunks spread
over several segment files; postings and label values; select() time
filtering with inclusive bounds; tombstones through delete() and
write_tombstones(); the atomic creation protocol; rejected input.
"""

from __future__ import annotations

import os
import random
import shutil

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tsdb.block import (
    TMP_SUFFIX,
    Block,
    BlockDesc,
    ChunkMeta,
    InvalidBlockInputError,
    is_ulid,
    read_tombstones,
    write_block,
    write_tombstones,
)
from tsdb.codec.xor import decode_xor, encode_xor
from tsdb.matchers import Matcher

WEIRD_VALUES = [
    "plain",
    'q"uote',
    "back\\slash",
    "new\nline",
    "ünïcødé",
    "日本語",
    "emoji 🦜",
    "tab\tand space ",
]


def xor_chunks(ts: np.ndarray, vs: np.ndarray, per: int = 120) -> list[ChunkMeta]:
    return [
        ChunkMeta(
            int(ts[a]),
            int(ts[min(a + per, len(ts)) - 1]),
            1,
            encode_xor(ts[a : a + per], vs[a : a + per]),
        )
        for a in range(0, len(ts), per)
    ]


def make_series(n: int, seed: int = 1, t0: int = 1_700_000_000_000, samples: int = 300):
    """n sorted series with weird label values and real XOR chunks."""
    rng = random.Random(seed)
    sets = set()
    while len(sets) < n:
        lbls = {"__name__": rng.choice(["up", "http_requests_total", "métrique"])}
        lbls["job"] = rng.choice(WEIRD_VALUES)
        if rng.random() < 0.6:
            lbls["instance"] = f"host-{rng.randint(0, 30)}"
        if rng.random() < 0.3:
            lbls["zone"] = rng.choice(WEIRD_VALUES)
        sets.add(tuple(sorted(lbls.items())))
    out = []
    for lbls in sorted(sets):
        k = rng.randint(1, samples)
        ts = t0 + np.cumsum(np.array([rng.randint(1, 30_000) for _ in range(k)], dtype=np.int64))
        vs = np.array(
            [
                rng.choice([rng.random() * 1e6, float(rng.randint(0, 9)), np.nan, -0.0])
                for _ in range(k)
            ]
        )
        out.append((lbls, xor_chunks(ts, vs)))
    return out


def test_round_trip_everything(tmp_path):
    series = make_series(60)
    mint = min(c.mint for _, cs in series for c in cs)
    maxt = max(c.maxt for _, cs in series for c in cs)
    path = write_block(str(tmp_path), iter(series), mint, maxt, segment_size=4096)
    assert os.listdir(tmp_path) == [os.path.basename(path)] and is_ulid(os.path.basename(path))
    assert len(os.listdir(os.path.join(path, "chunks"))) > 1  # several segments
    with Block.open(path) as b:
        b.verify()
        m = b.meta
        assert (m.min_time, m.max_time) == (mint, maxt + 1)
        assert m.num_series == len(series)
        assert m.num_chunks == sum(len(cs) for _, cs in series)
        assert m.num_samples == sum(len(decode_xor(c.data)[0]) for _, cs in series for c in cs)
        assert m.compaction.level == 1 and m.sources == (m.ulid,)

        refs = b.all_postings()
        assert refs.dtype == np.int64 and len(refs) == len(series) and np.all(np.diff(refs) > 0)
        for ref, (lbls, chunks) in zip(refs.tolist(), series, strict=True):
            got_lbls, crefs = b.series(ref)
            assert got_lbls == lbls
            assert [(c.mint, c.maxt) for c in crefs] == [(c.mint, c.maxt) for c in chunks]
            for cref, c in zip(crefs, chunks, strict=True):
                enc, data = b.chunk(cref.ref, verify=True)
                assert enc == 1 and bytes(data) == c.data

        names = sorted({n for lbls, _ in series for n, _ in lbls})
        assert b.label_names() == names
        for name in names:
            values = sorted({dict(lbls)[name] for lbls, _ in series if name in dict(lbls)})
            assert b.label_values(name) == values
            for v in values:
                want = [
                    r
                    for r, (lbls, _) in zip(refs.tolist(), series, strict=True)
                    if dict(lbls).get(name) == v
                ]
                assert b.postings(name, v).tolist() == want
        assert b.label_values("nope") == [] and len(b.postings("job", "nope")) == 0
        assert b.size_bytes() == sum(
            os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(path) for f in fs
        )


def test_select_time_bounds_are_inclusive(tmp_path):
    lbls = (("__name__", "x"),)
    ts = np.arange(0, 31, dtype=np.int64)
    chunks = [
        xor_chunks(ts[:11], ts[:11] * 1.0)[0],
        xor_chunks(ts[20:], ts[20:] * 1.0)[0],
    ]  # [0,10] [20,30]
    path = write_block(str(tmp_path), [(lbls, chunks)], 0, 99)
    with Block.open(path) as b:

        def sel(mint, maxt):
            return [
                (c.mint, c.maxt)
                for s in b.select([Matcher.eq("__name__", "x")], mint, maxt)
                for c in s.chunks
            ]

        assert sel(10, 20) == [(0, 10), (20, 30)]
        assert sel(11, 19) == []
        assert sel(30, 1000) == [(20, 30)]
        assert sel(-5, 0) == [(0, 10)]
        assert sel(31, 99) == [] and sel(100, 200) == [] and sel(5, 4) == []
        (s,) = b.select([Matcher.eq("__name__", "x")], 0, 5)
        ts_got, vs_got = decode_xor(s.chunks[0].data)
        assert ts_got.tolist() == list(range(11)) and s.labels == lbls and s.deleted == []
        assert b.overlaps(99, 200) and not b.overlaps(100, 200)


def test_select_is_in_label_order_and_matches(tmp_path):
    series = make_series(40, seed=3)
    path = write_block(str(tmp_path), series, 0, 2**62)
    with Block.open(path) as b:
        got = [s.labels for s in b.select([Matcher.re("job", ".*e.*")], 0, 2**62)]
        want = [lbls for lbls, _ in series if "e" in dict(lbls)["job"]]
        assert got == want and got == sorted(got) and len(got) > 3


def test_delete_and_tombstones(tmp_path):
    lbls_a, lbls_b = (("__name__", "a"),), (("__name__", "b"),)
    ts = np.arange(0, 300, dtype=np.int64)
    chunks = xor_chunks(ts, ts * 2.0, per=100)  # [0,99] [100,199] [200,299]
    path = write_block(str(tmp_path), [(lbls_a, chunks), (lbls_b, chunks)], 0, 299)
    with Block.open(path) as b:
        ref_a = int(b.postings("__name__", "a")[0])
        assert b.delete([Matcher.eq("__name__", "a")], 100, 250) == 1
        assert b.delete([Matcher.eq("__name__", "b")], 500, 600) == 0  # no data there
        assert b.tombstones() == {ref_a: [(100, 250)]}
        (sa, sb) = b.select([Matcher.neq("__name__", "")], 0, 1000)
        # [100, 199] is deleted entirely: dropped; [200, 299] partly: kept, with the interval
        assert [(c.mint, c.maxt) for c in sa.chunks] == [(0, 99), (200, 299)]
        assert sa.deleted == [(100, 250)]
        assert len(sb.chunks) == 3 and sb.deleted == []
        assert b.meta.stats.num_tombstones == 1
    with Block.open(path) as b:  # persisted
        assert b.tombstones() == {ref_a: [(100, 250)]} and b.meta.stats.num_tombstones == 1
        b.delete([Matcher.eq("__name__", "a")], 0, 99)
        assert b.tombstones() == {ref_a: [(0, 250)]}
        assert [s.labels for s in b.select([Matcher.re("__name__", "a|b")], 0, 150)] == [lbls_b]
        b.delete([Matcher.eq("__name__", "b")], -(2**63), 2**63 - 1)  # clamped to the data
        ref_b = int(b.postings("__name__", "b")[0])
        assert b.tombstones() == {ref_a: [(0, 250)], ref_b: [(0, 299)]}
        write_tombstones(path, {})
        b.reload_tombstones()
        assert b.tombstones() == {} and read_tombstones(path) == {}
        assert len(next(b.select([Matcher.eq("__name__", "a")], 0, 299)).chunks) == 3


def test_meta_lineage(tmp_path):
    p = BlockDesc("01ARYZ6S41TSV4RRFFQ69G5FAV", 0, 10)
    path = write_block(
        str(tmp_path),
        [((("a", "b"),), xor_chunks(np.array([5]), np.array([1.0])))],
        0,
        9,
        compaction_level=3,
        sources=["S1", "S2"],
        parents=[p],
    )
    with Block.open(path) as b:
        c = b.meta.compaction
        assert (c.level, c.sources, c.parents) == (3, ("S1", "S2"), (p,))


def test_empty_block(tmp_path):
    path = write_block(str(tmp_path), [], 0, 100)
    with Block.open(path) as b:
        b.verify()
        assert b.label_names() == [] and len(b.all_postings()) == 0
        assert list(b.select([Matcher.re("a", ".*")], 0, 100)) == []
        assert b.meta.num_series == 0


def test_series_without_chunks_are_skipped(tmp_path):
    one = xor_chunks(np.array([1]), np.array([1.0]))
    path = write_block(str(tmp_path), [((("a", "1"),), []), ((("a", "2"),), one)], 0, 10)
    with Block.open(path) as b:
        assert b.label_values("a") == ["2"] and b.meta.num_series == 1


ONE = xor_chunks(np.array([5]), np.array([1.0]))
BAD_INPUTS = {
    "unsorted-series": [((("a", "2"),), ONE), ((("a", "1"),), ONE)],
    "duplicate-series": [((("a", "1"),), ONE), ((("a", "1"),), ONE)],
    "unsorted-names": [((("b", "1"), ("a", "1")), ONE)],
    "duplicate-name": [((("a", "1"), ("a", "2")), ONE)],
    "empty-value": [((("a", ""),), ONE)],
    "empty-labels": [((), ONE)],
    "outside-range": [((("a", "1"),), [ChunkMeta(5, 50, 1, ONE[0].data)])],
    "overlap": [
        ((("a", "1"),), [ChunkMeta(1, 5, 1, ONE[0].data), ChunkMeta(5, 6, 1, ONE[0].data)])
    ],
    "inverted": [((("a", "1"),), [ChunkMeta(6, 5, 1, ONE[0].data)])],
}


@pytest.mark.parametrize("case", BAD_INPUTS, ids=list(BAD_INPUTS))
def test_bad_input_leaves_nothing_behind(tmp_path, case):
    with pytest.raises(InvalidBlockInputError):
        write_block(str(tmp_path), BAD_INPUTS[case], 0, 10)
    assert os.listdir(tmp_path) == []


def test_generator_error_leaves_nothing_behind(tmp_path):
    def gen():
        yield (("a", "1"),), ONE
        raise KeyError("boom")

    with pytest.raises(KeyError):
        write_block(str(tmp_path), gen(), 0, 10)
    assert os.listdir(tmp_path) == []


def test_stale_tmp_dir_is_replaced(tmp_path):
    ulid = "01ARYZ6S41TSV4RRFFQ69G5FAV"
    os.makedirs(tmp_path / (ulid + TMP_SUFFIX) / "junk")
    path = write_block(str(tmp_path), [((("a", "1"),), ONE)], 0, 10, ulid=ulid)
    assert sorted(os.listdir(tmp_path)) == [ulid]
    assert sorted(os.listdir(path)) == ["chunks", "index", "meta.json", "tombstones"]
    with pytest.raises(FileExistsError):
        write_block(str(tmp_path), [((("a", "1"),), ONE)], 0, 10, ulid=ulid)


label_text = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=8)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(
    st.lists(
        st.dictionaries(label_text, label_text, min_size=1, max_size=4), min_size=1, max_size=12
    )
)
def test_round_trip_arbitrary_unicode_labels(tmp_path, sets):
    series = sorted({tuple(sorted(d.items())) for d in sets})
    chunk = xor_chunks(np.array([7]), np.array([0.5]))
    path = write_block(str(tmp_path), [(s, chunk) for s in series], 0, 10)
    try:
        with Block.open(path) as b:
            b.verify()
            assert [b.series(r)[0] for r in b.all_postings().tolist()] == series
            assert b.label_names() == sorted({n for s in series for n, _ in s})
    finally:
        shutil.rmtree(path)
