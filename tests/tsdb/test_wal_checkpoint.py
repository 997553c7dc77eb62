"""WAL checkpoints: dead series and old samples go, live data replays unchanged."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

from tsdb.errors import CorruptError
from tsdb.wal import (
    WAL,
    SamplesRecord,
    SeriesRecord,
    TombstonesRecord,
    checkpoint,
    decode_record,
    encode_samples,
    encode_series,
    encode_tombstones,
)
from tsdb.wal.frames import checkpoint_name, segment_name

STALE_NAN_BITS = 0x7FF0000000000002
N_SERIES = 30
MINT = 50


def alive(refs: np.ndarray) -> np.ndarray:
    return refs % 3 != 0


def labels_of(ref: int):
    return (("__name__", "m"), ("i", str(ref)))


def fill(w: WAL, t_from: int, t_to: int) -> None:
    """Scrape-like commits: new series as they appear, one samples batch per timestamp."""
    rng = np.random.default_rng(t_from)
    for t in range(t_from, t_to):
        recs = []
        if t < N_SERIES:  # series t appears at time t
            recs.append(encode_series([t], [labels_of(t)]))
        refs = np.arange(min(t + 1, N_SERIES))
        vs = rng.normal(size=len(refs))
        vs[refs == 4] = np.array([STALE_NAN_BITS], dtype=np.uint64).view(np.float64)[0]
        recs.append(encode_samples(refs, np.full(len(refs), t), vs))
        if t % 25 == 0 and t > 0:
            recs.append(encode_tombstones([1, 2], [t - 10, t - 10], [t - 5, t + 100]))
        w.log(*recs)


def state(w: WAL) -> tuple[dict, set, set]:
    """What a head rebuilds from replay: series, samples (value bits), tombstones."""
    series, samples, tombs = {}, set(), set()
    for _, payload in w.replay():
        rec = decode_record(payload)
        if isinstance(rec, SeriesRecord):
            series.update(zip(rec.refs.tolist(), rec.labels, strict=True))
        elif isinstance(rec, SamplesRecord):
            samples.update(zip(rec.refs.tolist(), rec.ts.tolist(), rec.vs.view(np.uint64).tolist(),
                               strict=True))
        elif isinstance(rec, TombstonesRecord):
            tombs.update(zip(rec.refs.tolist(), rec.mints.tolist(), rec.maxts.tolist(), strict=True))
    return series, samples, tombs


def live(st: tuple[dict, set, set]) -> tuple[dict, set, set]:
    series, samples, tombs = st
    ok = {r for r in series if r % 3 != 0}
    return (
        {r: ls for r, ls in series.items() if r in ok},
        {s for s in samples if s[0] in ok and s[1] >= MINT},
        {t for t in tombs if t[0] in ok and t[2] >= MINT},
    )


def records_of_checkpoint(path: str) -> list:
    with WAL.open(path) as cw:
        return [decode_record(p) for _, p in cw.replay()]


@pytest.fixture
def wal(tmp_path):
    w = WAL.open(str(tmp_path / "wal"), segment_size=8 * 1024, sync="never")
    fill(w, 0, 120)
    yield w
    w.close()


def test_checkpoint_keeps_live_data(wal):
    before = state(wal)
    assert len(wal.segments()) >= 6
    upto = wal.segments()[-3]
    after_segments = [s for s in wal.segments() if s > upto]
    n_sample_records = sum(1 for s, p in wal.replay() if s <= upto and p[0] == 2)

    path = checkpoint(wal, upto, alive, MINT)

    assert os.path.basename(path) == checkpoint_name(upto) and os.path.isdir(path)
    assert wal.segments() == after_segments
    assert not os.path.exists(path + ".tmp")
    after = state(wal)
    assert live(after) == live(before)
    # Data in segments after the checkpoint is untouched, dead or not.
    later = [decode_record(p) for s, p in wal.replay() if s > upto]
    assert later and all(s in after[1] for r in later if isinstance(r, SamplesRecord)
                         for s in zip(r.refs.tolist(), r.ts.tolist(), r.vs.view(np.uint64).tolist(),
                                      strict=True))
    # The checkpoint itself holds no dead series and no old samples, in few merged records.
    cp = records_of_checkpoint(path)
    for r in cp:
        assert alive(r.refs).all()
        if isinstance(r, SamplesRecord):
            assert (r.ts >= MINT).all()
        if isinstance(r, TombstonesRecord):
            assert (r.maxts >= MINT).all()
    n_cp_samples = sum(isinstance(r, SamplesRecord) for r in cp)
    assert 0 < n_cp_samples < n_sample_records / 10
    stale = [s for s in after[1] if s[0] == 4]
    assert stale and all(s[2] == STALE_NAN_BITS for s in stale)


def test_series_record_precedes_its_samples_in_checkpoint(wal):
    path = checkpoint(wal, wal.segments()[-2], alive, 0)
    seen: set[int] = set()
    for r in records_of_checkpoint(path):
        if isinstance(r, SeriesRecord):
            seen.update(r.refs.tolist())
        else:
            assert set(r.refs.tolist()) <= seen


def test_second_checkpoint_folds_the_first(wal):
    first = checkpoint(wal, wal.segments()[1], alive, MINT)
    fill(wal, 120, 200)
    before = state(wal)
    second = checkpoint(wal, wal.segments()[-2], alive, MINT)
    assert not os.path.exists(first) and os.path.isdir(second)
    assert live(state(wal)) == live(before)
    # Reopening replays the same.
    d = wal.dir
    wal.close()
    with WAL.open(d) as w2:
        assert live(state(w2)) == live(before)


def test_replay_skips_segments_covered_by_checkpoint(wal, tmp_path):
    """A crash after the rename but before truncation leaves old segments: replay ignores them."""
    saved = tmp_path / "saved"
    shutil.copy(os.path.join(wal.dir, segment_name(0)), saved)
    before = state(wal)
    checkpoint(wal, wal.segments()[2], alive, MINT)
    shutil.copy(saved, os.path.join(wal.dir, segment_name(0)))
    assert live(state(wal)) == live(before)
    s, _ = next(iter(wal.replay()))
    assert s == 2  # checkpoint records carry the checkpoint's index


def test_leftover_tmp_is_removed_on_open(wal):
    tmp = os.path.join(wal.dir, checkpoint_name(7) + ".tmp")
    os.makedirs(tmp)
    with open(os.path.join(tmp, segment_name(0)), "wb") as f:
        f.write(b"garbage")
    d = wal.dir
    wal.close()
    with WAL.open(d) as w:
        assert not os.path.exists(tmp)
        assert w.segments()


def test_checkpoint_argument_checks(wal):
    with pytest.raises(ValueError, match="cut"):
        checkpoint(wal, wal.current_segment, alive, MINT)
    checkpoint(wal, 2, alive, MINT)
    with pytest.raises(ValueError, match="already covered"):
        checkpoint(wal, 1, alive, MINT)
    with pytest.raises(ValueError, match="shape"):
        checkpoint(wal, 4, lambda refs: np.ones(1, dtype=bool), MINT)


def test_corrupt_segment_stops_checkpoint(wal):
    with open(os.path.join(wal.dir, segment_name(1)), "r+b") as f:
        f.seek(100)
        f.write(b"\x00\x01\x02")
    with pytest.raises(CorruptError) as ei:
        checkpoint(wal, 3, alive, MINT)
    assert ei.value.path.endswith(segment_name(1))
    assert wal.segments()[0] == 0  # nothing deleted


def test_corrupt_checkpoint(wal, caplog):
    path = checkpoint(wal, wal.segments()[-2], alive, MINT)
    index = int(path[-8:])
    intact = list(wal.replay())
    first_cp_seg = os.path.join(path, segment_name(0))
    size = os.path.getsize(first_cp_seg)
    with open(first_cp_seg, "r+b") as f:
        f.seek(size // 2)
        f.write(b"\xde\xad")
    with pytest.raises(CorruptError) as ei:
        state(wal)
    assert ei.value.path == first_cp_seg and ei.value.offset is not None
    with caplog.at_level("WARNING", logger="tsdb.wal"):
        got = list(wal.replay(repair=True))
    # The checkpoint's records up to the damage, then every segment after it.
    cp_got = [p for s, p in got if s == index]
    cp_intact = [p for s, p in intact if s == index]
    assert len(cp_got) < len(cp_intact) and cp_got == cp_intact[: len(cp_got)]
    assert [x for x in got if x[0] > index] == [x for x in intact if x[0] > index]
    assert os.path.getsize(first_cp_seg) == size  # checkpoints are never edited
    assert any(first_cp_seg in r.getMessage() for r in caplog.records)
