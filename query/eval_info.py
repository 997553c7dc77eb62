"""The experimental ``info(v, {selector})`` function: enrich series with info-metric labels.

Semantics (Prometheus 3, experimental): info series are selected with the
``__name__`` matchers of the second argument (default ``target_info``) and
its data-label matchers, at the same reference times as the base series
(their ``@``/``offset``). A base series joins the info series that share its
identifying labels ``instance`` and ``job`` (absent counts as empty) and
gains their data labels (all but ``__name__`` and the identifying labels, or
only those named by data matchers), never overriding its own labels. Among
info series of the same name present at a step, the one with the latest
sample wins. Without a match the base sample is kept unchanged when every
data matcher accepts the empty string, else it is dropped. Base series that
are themselves selected info metrics are passed through.

Work is per base *series*: the chosen info series per step are arrays, and
each distinct combination becomes one output row with its presence mask.
"""

from __future__ import annotations

import numpy as np

from tsdb.labels import METRIC_NAME, Labels
from tsdb.matchers import Matcher

from .eval_binary import merge_rows
from .values import SeriesMatrix

IDENTIFYING = ("instance", "job")


class InfoError(ValueError):
    """An execution error of ``info()``."""


def split_matchers(matchers: tuple[Matcher, ...]) -> tuple[list[Matcher], list[Matcher]]:
    """``(name matchers, data matchers)``; name matchers default to ``__name__="target_info"``."""
    names = [m for m in matchers if m.name == METRIC_NAME]
    data = [m for m in matchers if m.name != METRIC_NAME]
    if not names:
        names = [Matcher.eq(METRIC_NAME, "target_info")]
    elif not any(m.type.value in ("=", "=~") for m in names):
        # Only negative name matchers: candidates are still info metrics.
        names = [*names, Matcher.re(METRIC_NAME, ".+_info")]
    return names, data


def _key(labels: Labels) -> tuple[str, ...]:
    d = dict(labels)
    return tuple(d.get(k, "") for k in IDENTIFYING)


def info(base: SeriesMatrix, infos: SeriesMatrix, names: list[Matcher], data: list[Matcher]) -> SeriesMatrix:
    """Enrich ``base`` with labels of ``infos`` (selected at the base's reference times)."""
    n_steps = base.values.shape[1]
    data_names = {m.name for m in data}
    empty_ok = all(m.matches("") for m in data)
    positive = any(m.type.value in ("=", "=~") for m in names)
    by_key: dict[tuple[str, ...], dict[str, list[int]]] = {}
    for i, lab in enumerate(infos.labels):
        by_key.setdefault(_key(lab), {}).setdefault(dict(lab).get(METRIC_NAME, ""), []).append(i)
    info_ts = infos.sample_ts if infos.sample_ts is not None else np.zeros(infos.values.shape, dtype=np.int64)
    out_labels: list[Labels] = []
    out_rows: list[int] = []
    out_present: list[np.ndarray] = []
    for r, lab in enumerate(base.labels):
        name = dict(lab).get(METRIC_NAME, "")
        groups = by_key.get(_key(lab))
        is_info = positive and all(m.matches(name) for m in names)
        if is_info or not groups:
            if empty_ok or is_info:
                out_labels.append(lab)
                out_rows.append(r)
                out_present.append(base.present[r])
            continue
        choice = np.full((len(groups), n_steps), -1, dtype=np.int64)
        for g, rows in enumerate(groups.values()):
            rows_a = np.asarray(rows, dtype=np.int64)
            ts = np.where(infos.present[rows_a], info_ts[rows_a], np.iinfo(np.int64).min)
            best = np.argmax(ts[::-1], axis=0)  # latest sample wins; later series on ties
            best = len(rows_a) - 1 - best
            has = infos.present[rows_a].any(axis=0)
            choice[g] = np.where(has, rows_a[best], -1)
        combos, inverse = np.unique(choice.T, axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
        base_names = {k for k, _ in lab}
        for c, combo in enumerate(combos.tolist()):
            pres = base.present[r] & (inverse == c)
            if not pres.any():
                continue
            chosen = [i for i in combo if i >= 0]
            added: dict[str, str] = {}
            for i in chosen:
                for k, v in infos.labels[i]:
                    if k == METRIC_NAME or k in IDENTIFYING or k in base_names:
                        continue
                    if data and k not in data_names:
                        continue
                    if k in added and added[k] != v:
                        raise InfoError(f"conflicting label: {k}")
                    added[k] = v
            if not chosen and not empty_ok:
                continue
            out_labels.append(tuple(sorted(dict(lab, **added).items())))
            out_rows.append(r)
            out_present.append(pres)
    if not out_labels:
        return SeriesMatrix.empty(n_steps)
    rows = np.asarray(out_rows, dtype=np.int64)
    m = SeriesMatrix(out_labels, base.values[rows], np.asarray(out_present), base.drop_name[rows])
    return merge_rows(m.compact())
