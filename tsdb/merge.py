"""Merging the series that several sources (blocks, the head) return for one query.

Each source answers with a list of label sets and a :class:`SampleArrays`.
The same label set can come from several sources (a series lives on across
blocks and the head). The merge groups pieces by label set, orders them by
source (sources are given oldest first) and concatenates them with one
vectorised gather. Time ranges of blocks and head do not overlap in the
normal case, so the result is already sorted; where it is not (overlapping
blocks, e.g. after a backfill), the affected series are sorted and duplicate
timestamps dropped, keeping the first source's sample, as Prometheus's
vertical merge does.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ._merge import copy_pieces as _copy_pieces
from .labels import Labels
from .samples import SampleArrays

Answer = tuple[list[Labels], SampleArrays]


def merge_answers(answers: Sequence[Answer]) -> Answer:
    """Merge per-source answers (oldest source first) into one."""
    answers = [a for a in answers if len(a[0])]
    if not answers:
        return [], SampleArrays.empty()
    if len(answers) == 1:
        return answers[0]

    gid_of: dict[Labels, int] = {}
    labels_out: list[Labels] = []
    gids = []
    for labels, _ in answers:
        g = np.empty(len(labels), dtype=np.int64)
        for i, lab in enumerate(labels):
            x = gid_of.get(lab)
            if x is None:
                x = gid_of[lab] = len(labels_out)
                labels_out.append(lab)
            g[i] = x
        gids.append(g)
    ngroups = len(labels_out)

    # pieces = (source, row); output order: by group, then by source (oldest first)
    piece_gid = np.concatenate(gids)
    piece_src = np.concatenate([np.full(len(g), k, dtype=np.int64) for k, g in enumerate(gids)])
    piece_start = np.concatenate([a.edges[:-1] for _, a in answers])
    piece_len = np.concatenate([np.diff(a.edges) for _, a in answers])
    order = np.lexsort((piece_src, piece_gid))
    out_start = np.empty(len(order), dtype=np.int64)
    sorted_len = piece_len[order]
    out_start[order] = np.concatenate(([0], np.cumsum(sorted_len)[:-1]))
    total = int(sorted_len.sum())
    out_t = np.empty(total, dtype=np.int64)
    out_v = np.empty(total, dtype=np.float64)
    base = 0
    for k, (_, arrs) in enumerate(answers):
        n = len(gids[k])
        sl = slice(base, base + n)
        _copy_pieces(
            np.ascontiguousarray(arrs.ts, dtype=np.int64), np.ascontiguousarray(arrs.vs, dtype=np.float64),
            piece_start[sl], piece_len[sl], out_start[sl], out_t, out_v,
        )
        base += n

    counts = np.bincount(piece_gid, weights=piece_len, minlength=ngroups).astype(np.int64)
    edges = np.zeros(ngroups + 1, dtype=np.int64)
    np.cumsum(counts, out=edges[1:])

    # Each piece is sorted; order can only break where two pieces of one series meet.
    g_sorted = piece_gid[order]
    nonempty = sorted_len > 0
    idx = np.flatnonzero(nonempty)
    if len(idx) > 1:
        first_t = out_t[out_start[order][idx]]
        last_t = out_t[out_start[order][idx] + sorted_len[idx] - 1]
        meets = g_sorted[idx[1:]] == g_sorted[idx[:-1]]
        if (meets & (first_t[1:] <= last_t[:-1])).any():
            sample_gid = np.repeat(np.arange(ngroups, dtype=np.int64), counts)
            out_t, out_v, edges = _sort_dedupe(out_t, out_v, sample_gid, ngroups)
    keys = np.arange(ngroups, dtype=np.int64)
    return labels_out, SampleArrays(keys, out_t, out_v, edges)


def _sort_dedupe(ts, vs, sample_gid, ngroups):
    order = np.lexsort((ts, sample_gid))  # stable: the first source wins ties
    ts, vs, g = ts[order], vs[order], sample_gid[order]
    keep = np.ones(len(ts), dtype=bool)
    keep[1:] = (g[1:] != g[:-1]) | (ts[1:] != ts[:-1])
    ts, vs, g = ts[keep], vs[keep], g[keep]
    edges = np.zeros(ngroups + 1, dtype=np.int64)
    np.cumsum(np.bincount(g, minlength=ngroups), out=edges[1:])
    return ts, vs, edges


def merge_rows(first: SampleArrays, second: SampleArrays) -> SampleArrays:
    """Merge two answers for the same rows (same keys, same order); on equal timestamps ``first`` wins.

    For the head's in-order samples (``first``) and its out-of-order ones.
    Nothing is done when ``second`` is empty (the usual case); otherwise the
    rows are concatenated (``first`` before ``second``), sorted stably by row
    and time and de-duplicated, in one vectorised pass.
    """
    nb = np.diff(second.edges)
    if not nb.any():
        return first
    na = np.diff(first.edges)
    counts = na + nb
    edges = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=edges[1:])
    # place first's samples at the start of each output row, second's after them
    row_a = np.repeat(np.arange(len(na), dtype=np.int64), na)
    row_b = np.repeat(np.arange(len(nb), dtype=np.int64), nb)
    pos_a = edges[:-1][row_a] + (np.arange(len(row_a), dtype=np.int64) - first.edges[:-1][row_a])
    pos_b = edges[:-1][row_b] + na[row_b] + (np.arange(len(row_b), dtype=np.int64) - second.edges[:-1][row_b])
    total = int(edges[-1])
    ts = np.empty(total, dtype=np.int64)
    vs = np.empty(total, dtype=np.float64)
    ts[pos_a] = first.ts
    vs[pos_a] = first.vs
    ts[pos_b] = second.ts
    vs[pos_b] = second.vs
    sample_row = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    ts, vs, edges = _sort_dedupe(ts, vs, sample_row, len(counts))
    return SampleArrays(first.keys, ts, vs, edges)
