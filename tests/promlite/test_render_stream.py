"""Streamed answers are byte for byte the answers rendered whole (issue 12: large answers in parts)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from promlite.server.render import render_result
from promlite.server.render_stream import _groups, point_count, render_parts
from query.values import InstantVector, Matrix, RangeVector

SPECIALS = [0.0, -0.0, 1.5, 1e-300, 2.0**60, float("nan"), float("inf"), -float("inf"), 1 / 3]


def _labels(i: int):
    return (("__name__", "m"), ("i", f"{i:03d}"), ("odd", "<&>\u2028"))


@st.composite
def matrices(draw):
    n = draw(st.integers(0, 12))
    width = draw(st.integers(1, 9))
    present = np.array(draw(st.lists(st.booleans(), min_size=n * width, max_size=n * width)),
                       dtype=bool).reshape(n, width)
    vals = np.array(draw(st.lists(st.sampled_from(SPECIALS), min_size=n * width, max_size=n * width)),
                    dtype=np.float64).reshape(n, width)
    times = np.arange(width, dtype=np.int64) * 15_000 + 1_700_000_000_123
    return Matrix([_labels(i) for i in range(n)], times, vals, present)


@given(matrices(), st.integers(1, 20))
def test_matrix_parts_join_to_the_whole_answer(m, part_points):
    parts = list(render_parts(m, part_points))
    assert b"".join(parts) == render_result(m)
    assert all(parts)
    json.loads(b"".join(parts))


@given(st.lists(st.integers(0, 7), max_size=10), st.integers(1, 12))
def test_range_vector_parts_join_to_the_whole_answer(lens, part_points):
    rng = np.random.default_rng(len(lens))
    rv = RangeVector([_labels(i) for i in range(len(lens))],
                     [np.sort(rng.integers(0, 10**12, n)).astype(np.int64) for n in lens],
                     [rng.choice(SPECIALS, n) for n in lens])
    assert b"".join(render_parts(rv, part_points)) == render_result(rv)


def test_instant_vectors_are_one_part_and_counts_are_upper_bounds():
    iv = InstantVector([_labels(0)], np.array([1.0]), np.array([5], dtype=np.int64))
    assert list(render_parts(iv)) == [render_result(iv)]
    assert point_count(iv) == 1
    m = Matrix([_labels(0)], np.arange(3, dtype=np.int64), np.zeros((1, 3)), np.zeros((1, 3), dtype=bool))
    assert point_count(m) == 3


@pytest.mark.parametrize("counts, limit", [([3, 3, 3], 4), ([1, 5], 4), ([1, 1, 6, 1], 4), ([0, 0], 4),
                                           ([2] * 100, 7)])
def test_groups_cover_every_row_with_a_point_once_and_stay_near_the_limit(counts, limit):
    c = np.array(counts)
    groups = _groups(c, limit)
    rows = np.concatenate(groups) if groups else np.zeros(0, dtype=np.int64)
    assert rows.tolist() == np.flatnonzero(c).tolist()
    assert all(len(g) for g in groups)
    assert all(c[g].sum() < 2 * limit + c.max() for g in groups)
