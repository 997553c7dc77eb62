"""Block.postings_for_matchers against a brute-force oracle.

The oracle applies each matcher to every series' value of the label (""
when the label is missing), which is the definition Prometheus's
``PostingsForMatchers`` implements with set operations; an empty matcher
list selects nothing.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tsdb.block import Block, ChunkMeta, write_block
from tsdb.codec.xor import encode_xor
from tsdb.matchers import Matcher

NAMES = ["__name__", "job", "env", "path"]
VALUES = ["", "a", "b", "ab", "prod", "dev", "x\ny", "ü"]


def _series():
    # Every combination of a few values over 4 names, missing labels included.
    out = set()
    choices = {
        "__name__": ["up", "req"],
        "job": ["", "a", "b", "ab"],
        "env": ["", "prod", "dev"],
        "path": ["", "x\ny", "ü"],
    }
    for combo in itertools.product(*choices.values()):
        out.add(tuple((n, v) for n, v in zip(choices, combo, strict=True) if v))
    return sorted(tuple(sorted(s)) for s in out)


SERIES = _series()
CHUNK = [ChunkMeta(1, 1, 1, encode_xor(np.array([1]), np.array([1.0])))]


@pytest.fixture(scope="module")
def block(tmp_path_factory):
    path = write_block(str(tmp_path_factory.mktemp("m")), [(s, CHUNK) for s in SERIES], 0, 10)
    b = Block.open(path)
    yield b
    b.close()


def oracle(block: Block, matchers) -> list[int]:
    if not matchers:
        return []
    refs = block.all_postings().tolist()
    return [
        r
        for r, lbls in zip(refs, SERIES, strict=True)
        if all(m.matches(dict(lbls).get(m.name, "")) for m in matchers)
    ]


M = Matcher
TABLE = {
    "eq": [M.eq("job", "a")],
    "eq-missing-value": [M.eq("job", "zzz")],
    "eq-empty": [M.eq("job", "")],
    "neq": [M.neq("job", "a")],
    "neq-empty": [M.neq("job", "")],
    "re": [M.re("job", "a.*")],
    "re-matches-empty": [M.re("job", "a|")],
    "re-dotstar": [M.re("job", ".*")],
    "re-dotplus": [M.re("job", ".+")],
    "nre": [M.nre("job", "a.*")],
    "nre-empty": [M.nre("job", "")],
    "nre-dotstar": [M.nre("job", ".*")],
    "unknown-label-eq-empty": [M.eq("nope", "")],
    "unknown-label-neq": [M.neq("nope", "x")],
    "unknown-label-re": [M.re("nope", "x")],
    "newline-dot": [M.re("path", "x.y")],
    "unicode": [M.eq("path", "ü")],
    "and": [M.eq("__name__", "up"), M.re("env", "prod|dev"), M.neq("job", "b")],
    "only-negatives": [M.neq("env", "prod"), M.nre("job", "a|b")],
    "empty-and-set": [M.eq("env", ""), M.eq("job", "ab")],
    "contradiction": [M.eq("job", "a"), M.eq("job", "b")],
    "none": [],
}


@pytest.mark.parametrize("name", TABLE, ids=list(TABLE))
def test_matcher_table(block, name):
    got = block.postings_for_matchers(TABLE[name])
    assert got.dtype == np.int64
    assert got.tolist() == oracle(block, TABLE[name])


def test_table_is_not_trivial(block):
    sizes = {name: len(oracle(block, ms)) for name, ms in TABLE.items()}
    assert sizes["none"] == 0 and sizes["contradiction"] == 0
    assert 0 < sizes["eq"] < sizes["neq"] < len(SERIES)
    assert sizes["re-dotstar"] == len(SERIES) and sizes["eq-empty"] > 0


matcher_st = st.builds(
    lambda kind, name, value: getattr(Matcher, kind)(name, value),
    st.sampled_from(["eq", "neq", "re", "nre"]),
    st.sampled_from(NAMES + ["nope"]),
    st.sampled_from(VALUES + ["a|b", ".*", ".+", "a.*|", "[a-d]+", "x.y", "(?i)PROD"]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(matcher_st, min_size=1, max_size=4))
def test_matchers_property(block, matchers):
    assert block.postings_for_matchers(matchers).tolist() == oracle(block, matchers)


def test_postings_cache_repeats_answers_and_stays_bounded(block, monkeypatch):
    import tsdb.block.reader as reader

    m = (Matcher.re("job", "a|b"),)
    first = block.postings_for_matchers(m)
    again = block.postings_for_matchers(list(m))  # same matchers in a list: same key
    assert again is first and not first.flags.writeable
    assert first.tolist() == oracle(block, m)
    monkeypatch.setattr(reader, "POSTINGS_CACHE_ENTRIES", 3)
    for v in ("a", "b", "ab", "prod", "dev"):
        got = block.postings_for_matchers((Matcher.eq("job", v), Matcher.neq("env", "dev")))
        assert got.tolist() == oracle(block, (Matcher.eq("job", v), Matcher.neq("env", "dev")))
    assert len(block._postings_cache) <= 3
    assert block._postings_cached == sum(len(a) for a in block._postings_cache.values())
    assert block.postings_for_matchers(m) is not first  # evicted, recomputed


@given(st.lists(st.integers(0, 200), max_size=60), st.lists(st.integers(0, 200), max_size=60))
def test_sorted_set_operations_agree_with_numpy(a, b):
    from tsdb.postings import intersect_sorted, subtract_sorted

    x = np.unique(np.array(a, dtype=np.int64))
    y = np.unique(np.array(b, dtype=np.int64))
    assert intersect_sorted(x, y).tolist() == np.intersect1d(x, y).tolist()
    assert intersect_sorted(y, x).tolist() == np.intersect1d(x, y).tolist()
    assert subtract_sorted(x, y).tolist() == np.setdiff1d(x, y).tolist()


@given(st.lists(st.sampled_from(["a", "b", "c", "d", ""]), min_size=1, max_size=30),
       st.sets(st.sampled_from(["a", "b", "x", "", "a.b"]), min_size=1, max_size=4), st.booleans())
def test_literal_alternations_are_looked_up_not_scanned_and_agree(values, alts, negative):
    """``a=~"x|y"`` resolves by one postings lookup per literal; the answer equals the regex's."""
    from tsdb.postings import postings_for_matchers

    class Index:
        def __init__(self, vals):
            self.by = {}
            for ref, v in enumerate(vals, start=1):
                if v:
                    self.by.setdefault(v, []).append(ref)
            self.n = len(vals)

        def postings(self, name, value):
            return np.array(self.by.get(value, []) if name == "l" else [], dtype=np.int64)

        def all_postings(self):
            return np.arange(1, self.n + 1, dtype=np.int64)

        def label_values(self, name):
            return sorted(self.by) if name == "l" else []

    ix = Index(values)
    pattern = "|".join(sorted(a.replace(".", "\\.") for a in alts))
    literal = Matcher.nre("l", pattern) if negative else Matcher.re("l", pattern)
    if "\\." not in pattern:
        assert literal.literal_values == frozenset(alts)
    scanned = (Matcher.nre if negative else Matcher.re)("l", f"(?:{pattern})")
    assert scanned.literal_values is None
    assert postings_for_matchers(ix, [literal]).tolist() == postings_for_matchers(ix, [scanned]).tolist()
    want = [ref for ref, v in enumerate(values, start=1) if (v in alts) != negative]
    assert postings_for_matchers(ix, [literal]).tolist() == want
