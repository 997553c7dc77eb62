"""Binary operators: arithmetic, comparisons and set operators, with vector matching.

Strategy: vector matching is decided once per *series pair*, not per step.
Each series gets a matching signature (its ``on``/``ignoring`` labels); for
every signature the rows of the "many" side are paired with the rows of the
"one" side, and the operator runs on whole ``(pairs x steps)`` arrays. Since
a series may come and go between steps, Prometheus's per-step errors
(duplicate series on the "one" side, many-to-one matches without
``group_left``, non-unique ``group_x`` results) are detected with per-step
counts over the pairs, and raised exactly when some step would raise them.
"""

from __future__ import annotations

import numpy as np

from tsdb.labels import METRIC_NAME, Labels, format_labels

from .ast import COMPARISON_OPS, Cardinality, VectorMatching
from .limits import checkpoint, every, would_hold
from .values import SeriesMatrix, Steps

NAME_LABELS = frozenset({METRIC_NAME, "__type__", "__unit__"})
"""Labels that go with the metric name (dropped together, ignored together)."""

ARITHMETIC = frozenset({"+", "-", "*", "/", "%", "^", "atan2"})


class BinaryOpError(ValueError):
    """An execution error of a binary operation (Prometheus's wording)."""


def arith(op: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Arithmetic with Go's float semantics (IEEE results instead of errors)."""
    with np.errstate(all="ignore"):
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if op == "/":
            return a / b
        if op == "%":
            return np.fmod(a, b)
        if op == "^":
            return np.power(a, b)
        if op == "atan2":
            return np.arctan2(a, b)
    raise RuntimeError(f"BUG: not an arithmetic operator {op!r}")


def compare(op: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        if op == "==":
            return a == b
        if op == "!=":
            return a != b
        if op == "<":
            return a < b
        if op == ">":
            return a > b
        if op == "<=":
            return a <= b
        if op == ">=":
            return a >= b
    raise RuntimeError(f"BUG: not a comparison operator {op!r}")


def _elem(op: str, a: np.ndarray, b: np.ndarray, return_bool: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """``(values, keep)``; ``keep`` is None when every element is kept."""
    if op in COMPARISON_OPS:
        ok = compare(op, a, b)
        if return_bool:
            return ok.astype(np.float64), None
        return np.broadcast_to(a, ok.shape).astype(np.float64), ok
    return arith(op, a, b), None


def scalar_scalar(op: str, a: Steps, b: Steps) -> Steps:
    v, _ = _elem(op, a.values, b.values, True)
    return Steps(np.asarray(v, dtype=np.float64))


def vector_scalar(op: str, m: SeriesMatrix, s: Steps, swap: bool, return_bool: bool) -> SeriesMatrix:
    """``m op s`` (``s op m`` when ``swap``); comparisons keep the vector's value."""
    sv = s.values[None, :]
    a, b = (sv, m.values) if swap else (m.values, sv)
    if op in COMPARISON_OPS:
        ok = compare(op, a, b)
        if return_bool:
            values, present = ok.astype(np.float64), m.present.copy()
        else:
            values, present = m.values.copy(), m.present & ok
    else:
        values, present = arith(op, a, b), m.present.copy()
    drop = m.drop_name | (op in ARITHMETIC or return_bool)
    return SeriesMatrix(list(m.labels), values, present, drop).compact()


def signature(labels: Labels, matching: VectorMatching) -> Labels:
    if matching.on:
        keep = set(matching.labels)
        return tuple(p for p in labels if p[0] in keep)
    drop = set(matching.labels) | {METRIC_NAME}
    return tuple(p for p in labels if p[0] not in drop)


def _sig_ids(m: SeriesMatrix, matching: VectorMatching, ids: dict[Labels, int]) -> np.ndarray:
    out = np.empty(len(m), dtype=np.int64)
    for i, lab in enumerate(m.labels):
        out[i] = ids.setdefault(signature(lab, matching), len(ids))
    return out


def count_by(ids: np.ndarray, present: np.ndarray, n_ids: int) -> np.ndarray:
    """``out[s, j]``: how many rows with id ``s`` are present at step ``j``.

    Rows are sorted by id once and summed with ``np.add.reduceat`` (one pass
    over the matrix); unique ids are a plain scatter.
    """
    ids = np.asarray(ids, dtype=np.int64)
    out = np.zeros((n_ids, present.shape[1]), dtype=np.int64)
    if len(ids) == 0:
        return out
    if len(np.unique(ids)) == len(ids):
        out[ids] = present
        return out
    order = np.argsort(ids, kind="stable")
    sid = ids[order]
    uniq, starts = np.unique(sid, return_index=True)
    out[uniq] = np.add.reduceat(present[order].astype(np.int64), starts, axis=0)
    return out


def _any_by(ids: np.ndarray, present: np.ndarray, n_ids: int) -> np.ndarray:
    """``out[s, j]``: whether some row with id ``s`` is present at step ``j``."""
    return count_by(ids, present, n_ids) > 0


def set_op(op: str, lhs: SeriesMatrix, rhs: SeriesMatrix, matching: VectorMatching) -> SeriesMatrix:
    """``and`` / ``or`` / ``unless``: presence arithmetic on signatures, labels untouched."""
    ids: dict[Labels, int] = {}
    ls = _sig_ids(lhs, matching, ids)
    rs = _sig_ids(rhs, matching, ids)
    if op == "and":
        r_any = _any_by(rs, rhs.present, len(ids))
        return SeriesMatrix(list(lhs.labels), lhs.values, lhs.present & r_any[ls], lhs.drop_name,
                            lhs.sample_ts).compact()
    if op == "unless":
        r_any = _any_by(rs, rhs.present, len(ids))
        return SeriesMatrix(list(lhs.labels), lhs.values, lhs.present & ~r_any[ls], lhs.drop_name,
                            lhs.sample_ts).compact()
    l_any = _any_by(ls, lhs.present, len(ids))
    extra = rhs.present & ~l_any[rs]
    return SeriesMatrix(
        list(lhs.labels) + list(rhs.labels), np.concatenate([lhs.values, rhs.values]),
        np.concatenate([lhs.present, extra]), np.concatenate([lhs.drop_name, rhs.drop_name]),
    ).compact()


def _match_labels(labels: Labels, matching: VectorMatching) -> str:
    return format_labels(signature(labels, matching))


def _result_labels(many: Labels, one: Labels, matching: VectorMatching) -> Labels:
    d = dict(many)
    if matching.card is Cardinality.ONE_TO_ONE:
        if matching.on:
            keep = set(matching.labels)
            d = {k: v for k, v in d.items() if k in keep}
        else:
            for k in matching.labels:
                d.pop(k, None)
    if matching.include:
        od = dict(one)
        for k in matching.include:
            if od.get(k):
                d[k] = od[k]
            else:
                d.pop(k, None)
    return tuple(sorted(d.items()))


def vector_vector(op: str, lhs: SeriesMatrix, rhs: SeriesMatrix, matching: VectorMatching,
                  return_bool: bool) -> SeriesMatrix:
    """Arithmetic or comparison between two vectors with one-to-one / many-to-one matching."""
    n_steps = lhs.values.shape[1]
    swap = matching.card is Cardinality.ONE_TO_MANY
    many, one = (rhs, lhs) if swap else (lhs, rhs)
    ids: dict[Labels, int] = {}
    ms = _sig_ids(many, matching, ids)
    os_ = _sig_ids(one, matching, ids)
    n_ids = len(ids)
    if (len(many) == 0 or len(one) == 0) and matching.fill_lhs is None and matching.fill_rhs is None:
        return SeriesMatrix.empty(n_steps)
    # The "one" side must be unique per signature at every step.
    # (Prometheus skips a step where either side is empty before checking.)
    dup = (count_by(os_, one.present, n_ids) > 1) & many.present.any(axis=0)[None, :]
    if dup.any():
        sig, step = np.argwhere(dup)[0]
        rows = sorted((r for r in np.flatnonzero(os_ == sig).tolist() if one.present[r, step]),
                      key=lambda r: one.labels[r])  # Prometheus's input order: by labels
        side = "left" if swap else "right"
        raise BinaryOpError(
            f"found duplicate series for the match group {_match_labels(one.labels[rows[0]], matching)} "
            f"on the {side} hand-side of the operation: [{format_labels(one.labels[rows[1]])}, "
            f"{format_labels(one.labels[rows[0]])}];many-to-many matching not allowed: "
            "matching labels must be unique on one side"
        )
    n_steps = lhs.values.shape[1] if lhs.values.ndim == 2 else rhs.values.shape[1]
    # Every (many, one) pair of a signature becomes an output row of n_steps cells: with several
    # series per signature on the "one" side (the error above only looks at steps where they
    # overlap) that is a product. Check it against --query.max-samples before building it.
    n_pairs = int((np.bincount(ms, minlength=n_ids) * np.bincount(os_, minlength=n_ids)).sum())
    would_hold(n_pairs * n_steps)
    by_sig: dict[int, list[int]] = {}
    for r, s in enumerate(os_.tolist()):
        by_sig.setdefault(s, []).append(r)
    pm: list[int] = []
    po: list[int] = []
    for r, s in enumerate(ms.tolist()):
        every(r)
        for o in by_sig.get(s, ()):
            pm.append(r)
            po.append(o)
    pm_a = np.asarray(pm, dtype=np.int64)
    po_a = np.asarray(po, dtype=np.int64)
    both = many.present[pm_a] & one.present[po_a]
    a, b = many.values[pm_a], one.values[po_a]
    pair_sig = ms[pm_a]
    checkpoint()
    labels = [_result_labels(many.labels[m], one.labels[o], matching) for m, o in zip(pm, po, strict=True)]
    checkpoint()
    _check_matches(matching, pair_sig, labels, both, n_ids, n_steps)
    drop = many.drop_name[pm_a]
    if matching.fill_rhs is not None or matching.fill_lhs is not None:
        a, b, both, labels, drop = _fill(many, one, ms, os_, n_ids, matching, a, b, both, labels, drop)
    if len(labels) == 0:
        return SeriesMatrix.empty(n_steps)
    if swap:
        a, b = b, a
    values, keep = _elem(op, a, b, return_bool)
    present = both if keep is None else both & keep
    drop = drop | (op in ARITHMETIC or return_bool)
    out = SeriesMatrix(labels, np.asarray(values, dtype=np.float64), present, drop).compact()
    return merge_rows(out)


def _check_matches(matching, pair_sig, labels, both, n_ids: int, n_steps: int) -> None:
    """Prometheus's per-step uniqueness checks on the matched pairs (before any filtering)."""
    if len(labels) == 0:
        return
    if matching.card is Cardinality.ONE_TO_ONE:
        c = count_by(pair_sig, both, n_ids)
        if (c > 1).any():
            raise BinaryOpError("multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)")
    else:
        keys: dict[tuple[int, Labels], int] = {}
        kid = np.asarray([keys.setdefault((s, lab), len(keys)) for s, lab in zip(pair_sig.tolist(), labels, strict=True)])
        c = count_by(kid, both, len(keys))
        if (c > 1).any():
            raise BinaryOpError("multiple matches for labels: grouping labels must ensure unique matches")


def _fill(many, one, ms, os_, n_ids, matching, a, b, both, labels, drop):
    """The experimental ``fill*()`` modifiers: stand-in values for a missing side, per step.

    As in Prometheus, after ``group_right`` swaps the sides ``fill_rhs`` fills the
    "one" side and ``fill_lhs`` the "many" side.
    """
    a_parts, b_parts, p_parts = [a], [b], [both]
    labels = list(labels)
    drops = [drop]
    if matching.fill_rhs is not None and len(many):
        one_any = _any_by(os_, one.present, n_ids) if len(one) else np.zeros((n_ids, many.present.shape[1]), bool)
        pres = many.present & ~one_any[ms]
        a_parts.append(many.values)
        b_parts.append(np.full(many.values.shape, matching.fill_rhs))
        p_parts.append(pres)
        labels += [_result_labels(lab, (), matching) for lab in many.labels]
        drops.append(many.drop_name)
    if matching.fill_lhs is not None and len(one):
        many_any = _any_by(ms, many.present, n_ids) if len(many) else np.zeros((n_ids, one.present.shape[1]), bool)
        pres = one.present & ~many_any[os_]
        a_parts.append(np.full(one.values.shape, matching.fill_lhs))
        b_parts.append(one.values)
        p_parts.append(pres)
        labels += [signature(lab, matching) for lab in one.labels]
        drops.append(np.zeros(len(one), dtype=bool))
    return (np.concatenate(a_parts), np.concatenate(b_parts), np.concatenate(p_parts), labels,
            np.concatenate(drops))


def merge_rows(m: SeriesMatrix) -> SeriesMatrix:
    """Combine rows with the same labels (and name flag); overlapping presence is Prometheus's error."""
    seen: dict[tuple[Labels, bool], int] = {}
    gid = np.empty(len(m), dtype=np.int64)
    for i, (lab, dn) in enumerate(zip(m.labels, m.drop_name.tolist(), strict=True)):
        every(i)
        gid[i] = seen.setdefault((lab, dn), len(seen))
    if len(seen) == len(m):
        return m
    counts = count_by(gid, m.present, len(seen))
    if (counts > 1).any():
        raise BinaryOpError("vector cannot contain metrics with the same labelset")
    would_hold(counts.size * (2 if m.sample_ts is not None else 1))
    values = np.zeros(counts.shape)
    rows, cols = np.nonzero(m.present)
    values[gid[rows], cols] = m.values[rows, cols]
    sample_ts = None
    if m.sample_ts is not None:
        sample_ts = np.zeros(counts.shape, dtype=np.int64)
        sample_ts[gid[rows], cols] = m.sample_ts[rows, cols]
    keys = list(seen)
    return SeriesMatrix([k[0] for k in keys], values, counts > 0, np.asarray([k[1] for k in keys], dtype=bool),
                        sample_ts)
