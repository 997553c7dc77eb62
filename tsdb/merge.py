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
    piece_gid, piece_src, piece_start, piece_len = [], [], [], []
    base = 0
    for src, (labels, arrs) in enumerate(answers):
        for lab in labels:
            g = gid_of.get(lab)
            if g is None:
                g = gid_of[lab] = len(labels_out)
                labels_out.append(lab)
            piece_gid.append(g)
            piece_src.append(src)
        piece_start.append(arrs.edges[:-1] + base)
        piece_len.append(np.diff(arrs.edges))
        base += len(arrs.ts)

    gid = np.asarray(piece_gid, dtype=np.int64)
    starts = np.concatenate(piece_start)
    lens = np.concatenate(piece_len)
    order = np.lexsort((np.asarray(piece_src), gid))
    gid, starts, lens = gid[order], starts[order], lens[order]

    ts_all = np.concatenate([a.ts for _, a in answers])
    vs_all = np.concatenate([a.vs for _, a in answers])
    total = int(lens.sum())
    # gather index: for each piece, starts[p] + 0..lens[p]-1
    piece_of = np.repeat(np.arange(len(lens)), lens)
    first_out = np.zeros(len(lens), dtype=np.int64)
    np.cumsum(lens[:-1], out=first_out[1:])
    idx = starts[piece_of] + (np.arange(total) - first_out[piece_of])
    ts, vs = ts_all[idx], vs_all[idx]
    sample_gid = gid[piece_of]

    counts = np.bincount(gid, weights=lens, minlength=len(labels_out)).astype(np.int64)
    edges = np.zeros(len(labels_out) + 1, dtype=np.int64)
    np.cumsum(counts, out=edges[1:])

    same = sample_gid[1:] == sample_gid[:-1]
    if (same & (ts[1:] <= ts[:-1])).any():
        ts, vs, edges = _sort_dedupe(ts, vs, sample_gid, len(labels_out))
    keys = np.arange(len(labels_out), dtype=np.int64)
    return labels_out, SampleArrays(keys, ts, vs, edges)


def _sort_dedupe(ts, vs, sample_gid, ngroups):
    order = np.lexsort((ts, sample_gid))  # stable: the first source wins ties
    ts, vs, g = ts[order], vs[order], sample_gid[order]
    keep = np.ones(len(ts), dtype=bool)
    keep[1:] = (g[1:] != g[:-1]) | (ts[1:] != ts[:-1])
    ts, vs, g = ts[keep], vs[keep], g[keep]
    edges = np.zeros(ngroups + 1, dtype=np.int64)
    np.cumsum(np.bincount(g, minlength=ngroups), out=edges[1:])
    return ts, vs, edges
