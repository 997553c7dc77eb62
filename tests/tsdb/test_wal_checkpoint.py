"""WAL checkpoints: dead series and old samples go, live data replays unchanged, bit for bit."""

from __future__ import annotations

import hashlib
import os
import shutil

import numpy as np
import pytest

from tsdb.errors import CorruptError
from tsdb.wal import (
    WAL,
    ExemplarsRecord,
    MetadataRecord,
    SamplesRecord,
    SeriesRecord,
    TombstonesRecord,
    checkpoint,
    decode_record,
    encode_samples,
    encode_series,
    encode_tombstones,
)
from tsdb.wal.frames import PAGE_SIZE, SegmentReader, checkpoint_name, segment_name
from tsdb.wal.records import encode_exemplars, encode_metadata

STALE_NAN_BITS = 0x7FF0000000000002
SPECIAL_BITS = {4: STALE_NAN_BITS, 5: 0x8000000000000000, 7: 0x7FF0000000000000, 8: 0xFFF0000000000000}  # -0.0, ±Inf
N_SERIES = 300
NEW_PER_STEP = 10  # series 1..300 appear over the first 30 steps
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
        new = np.arange(t * NEW_PER_STEP + 1, (t + 1) * NEW_PER_STEP + 1)
        new = new[new <= N_SERIES]
        if len(new):
            recs.append(encode_series(new, [labels_of(r) for r in new.tolist()]))
        refs = np.arange(1, min((t + 1) * NEW_PER_STEP, N_SERIES) + 1)
        vs = rng.normal(size=len(refs))
        for ref, b in SPECIAL_BITS.items():
            vs[refs == ref] = np.array([b], dtype=np.uint64).view(np.float64)[0]
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


def dir_hash(path: str) -> dict[str, str]:
    out = {}
    for root, dirs, files in os.walk(path):
        for n in dirs:
            out[os.path.relpath(os.path.join(root, n), path)] = "dir"
        for n in files:
            with open(os.path.join(root, n), "rb") as f:
                out[os.path.relpath(os.path.join(root, n), path)] = hashlib.sha256(f.read()).hexdigest()
    return out


@pytest.fixture(params=[True, False], ids=["snappy", "plain"])
def wal(request, tmp_path):
    w = WAL.open(str(tmp_path / "wal"), segment_size=PAGE_SIZE, sync="never", compress=request.param)
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
    # Special values survive bit for bit: stale NaN, -0.0, +Inf, -Inf.
    for ref, b in SPECIAL_BITS.items():
        got = [s for s in after[1] if s[0] == ref]
        if alive(np.array([ref]))[0]:
            assert got and all(s[2] == b for s in got), ref


def test_checkpoint_segments_are_prometheus_segments(wal):
    """A checkpoint is a directory laid out like a WAL: %08d segments of padded 32 KiB pages."""
    path = checkpoint(wal, wal.segments()[-2], alive, MINT)
    names = sorted(os.listdir(path))
    assert names and names == [segment_name(i) for i in range(len(names))]
    for n in names:
        size = os.path.getsize(os.path.join(path, n))
        assert size > 0 and size % PAGE_SIZE == 0
        with open(os.path.join(path, n), "rb") as f:
            first_type = f.read(1)[0]
        assert first_type & 0x07 in (1, 2)  # a full or first fragment
        assert bool(first_type & 0x08) in ((True, False) if wal.compress else (False,))


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


def test_missing_segment_stops_checkpoint(wal):
    os.remove(os.path.join(wal.dir, segment_name(2)))
    before = dir_hash(wal.dir)
    with pytest.raises(CorruptError, match="not contiguous") as ei:
        checkpoint(wal, 4, alive, MINT)
    assert ei.value.path == os.path.join(wal.dir, segment_name(2))
    assert dir_hash(wal.dir) == before


def test_corrupt_segment_stops_checkpoint(wal):
    with open(os.path.join(wal.dir, segment_name(1)), "r+b") as f:
        f.seek(100)
        f.write(b"\x00\x01\x02")
    before = dir_hash(wal.dir)
    with pytest.raises(CorruptError) as ei:
        checkpoint(wal, 3, alive, MINT)
    assert ei.value.path.endswith(segment_name(1)) and ei.value.offset is not None
    assert dir_hash(wal.dir) == before  # nothing deleted, no checkpoint left behind


def test_corrupt_checkpoint(wal, caplog):
    path = checkpoint(wal, wal.segments()[-2], alive, MINT)
    index = int(path[-8:])
    intact = list(wal.replay())
    first_cp_seg = os.path.join(path, segment_name(0))
    with WAL.open(path) as cw:
        n_first = sum(1 for s, _ in cw.replay() if s == 0)
    assert n_first >= 2
    # damage the data of the last record of the checkpoint's first segment
    offsets = [off for off, _ in SegmentReader(first_cp_seg)]
    with open(first_cp_seg, "rb") as f:
        original = f.read()
    damaged = bytearray(original)
    damaged[offsets[-1] + 9] ^= 0x20
    with open(first_cp_seg, "wb") as f:
        f.write(damaged)
    with pytest.raises(CorruptError) as ei:
        state(wal)
    assert ei.value.path == first_cp_seg and ei.value.offset == offsets[-1]
    with caplog.at_level("WARNING", logger="tsdb.wal"):
        got = list(wal.replay(repair=True))
    # The checkpoint's records up to the damage, then every segment after it.
    cp_got = [p for s, p in got if s == index]
    cp_intact = [p for s, p in intact if s == index]
    assert len(cp_got) == len(offsets) - 1 and cp_got == cp_intact[: len(cp_got)]
    assert [x for x in got if x[0] > index] == [x for x in intact if x[0] > index]
    with open(first_cp_seg, "rb") as f:
        assert f.read() == bytes(damaged)  # checkpoints are never edited
    assert any(first_cp_seg in r.getMessage() for r in caplog.records)


# ----------------------------------------------------------------- exemplars, metadata, opaque records


def test_exemplars_and_metadata_are_filtered_and_kept(tmp_path):
    w = WAL.open(str(tmp_path / "wal"), segment_size=PAGE_SIZE)
    w.log(encode_series([1, 2, 3], [labels_of(1), labels_of(2), labels_of(3)]))
    w.log(encode_metadata([1, 2, 3], [1, 2, 1], ["seconds", "", "bytes"], ["old help", "gauge", "dead"]))
    w.log(encode_metadata([1], [1], ["seconds"], ["new help"]))  # merged with the one before: later wins
    w.log(encode_exemplars([1, 2, 3, 1], [10, 60, 70, 80], np.array([0.5, -0.0, np.inf, 1.0]),
                           [(("trace_id", "a"),), (("trace_id", "b"),), (("trace_id", "c"),), ()]))
    w.cut()
    w.log(encode_samples([1], [100], [1.0]))
    checkpoint(w, 0, alive, MINT)
    recs = [decode_record(p) for _, p in w.replay()]
    w.close()
    ex = [r for r in recs if isinstance(r, ExemplarsRecord)]
    md = [r for r in recs if isinstance(r, MetadataRecord)]
    assert len(ex) == 1 and ex[0].refs.tolist() == [2, 1] and ex[0].ts.tolist() == [60, 80]
    assert ex[0].vs.view(np.uint64).tolist() == [0x8000000000000000, 0x3FF0000000000000]
    assert ex[0].labels == [(("trace_id", "b"),), ()]
    (meta,) = md
    got = dict(zip(meta.refs.tolist(), zip(meta.types, meta.units, meta.helps, strict=True), strict=True))
    assert got == {1: (1, "seconds", "new help"), 2: (2, "", "gauge")}


def test_opaque_records_stop_the_checkpoint(tmp_path):
    w = WAL.open(str(tmp_path / "wal"), segment_size=PAGE_SIZE)
    w.log(encode_series([1], [labels_of(1)]))
    w.log(bytes([7]) + b"\x00" * 20)  # a native-histogram record promlite cannot carry over
    w.cut()
    w.log(encode_samples([1], [100], [1.0]))
    before = dir_hash(w.dir)
    with pytest.raises(CorruptError, match="native histogram samples") as ei:
        checkpoint(w, 0, alive, MINT)
    assert ei.value.path == os.path.join(w.dir, segment_name(0))
    assert dir_hash(w.dir) == before
    w.close()
