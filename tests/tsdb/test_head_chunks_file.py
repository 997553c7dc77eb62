"""``tsdb.head_chunks_file``: Prometheus's ``chunks_head/`` files, read and checked against Prometheus.

Three kinds of checks:

* **Real files.** Prometheus 2.42 scrapes a static target and is stopped cleanly;
  its ``chunks_head/`` is read with our reader, each series ref is named through
  the series records of its WAL, and every decoded sample must be what a second
  Prometheus, started over a *copy* of the directory, answers for that series (and
  nothing else in the chunk's time range). Our writer-side pieces must rebuild the
  file byte for byte (layout, CRC coverage, XOR encoder).
* **Corruption on a copy.** A flipped bit in a middle chunk raises ``CorruptError``
  naming the file and the chunk's offset, and the files are left exactly as they
  were (hashes); a torn last chunk of the last file is reported, not repaired.
* **Synthetic files** built here from the documented layout, independently of the
  reader's code.

Why these Prometheus settings (the whole real run takes about 20 s):

* Prometheus m-maps a head chunk (writes it to ``chunks_head/``) only when it cuts
  the next one: when the chunk holds ~120 samples (its end time is estimated at the
  30th sample so that it gets 120), or when a sample crosses the block-range
  boundary. At 1 s scrapes that is two minutes; a shorter
  ``--storage.tsdb.min-block-duration`` cuts chunks sooner but also makes the head
  compact into blocks every few seconds, which truncates ``chunks_head/`` under the
  test's feet. Prometheus accepts a ``scrape_interval`` of ``100ms``, so 120
  samples take 12 s, and the default 2 h block range keeps compaction away.
  50 ms would halve that but risks scrape timeouts (the timeout defaults to the
  interval) on a loaded CI machine; 100 ms is the margin we keep.
* The first scrape happens ~5 s after start-up (Prometheus's scrape manager applies
  target updates on a 5 s tick), so the run waits until Prometheus holds 140 samples
  of every series, ~20 s.
* ``--no-storage.tsdb.wal-compression``: the WAL is parsed here (series refs ->
  labels, and the WAL-holds-everything check) without a snappy decoder.
* Chunks reach the file only on shutdown (or when the 4 MiB write buffer fills, or
  a file is cut): during the run ``000001`` is a preallocated 128 KiB of zeros.
  Hence the clean stop before reading.
"""

from __future__ import annotations

import hashlib
import math
import os
import shutil
import struct
import time

import crc32c
import numpy as np
import pytest
from prometheus import Prometheus, StaticTarget, exposition

from tsdb.codec.xor import encode_xor
from tsdb.errors import CorruptError
from tsdb.head_chunks_file import (
    HEAD_CHUNKS_MAGIC,
    OUT_OF_ORDER_MASK,
    decode_all,
    list_head_chunk_files,
    max_series_ref,
    read_head_chunks,
)

STALE_NAN_BITS = 0x7FF0000000000002
STALE_NAN = np.uint64(STALE_NAN_BITS).view(np.float64)
SAMPLES = 140  # per series: a full chunk (~120) has been cut, with a margin
COUNTERS = GAUGES = 150
PAGE = 32 * 1024

# --------------------------------------------------------------------------- building files by hand


def uvarint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def chunk_record(ref: int, ts: np.ndarray, vs: np.ndarray, encoding: int = 1,
                 data: bytes | None = None, mint: int | None = None, maxt: int | None = None) -> bytes:
    """One chunk as head_chunks.md lays it out; CRC32C over series ref .. data."""
    data = encode_xor(np.asarray(ts, dtype=np.int64), np.asarray(vs, dtype=np.float64)) if data is None else data
    body = (struct.pack(">Qqq", ref, int(ts[0]) if mint is None else mint,
                        int(ts[-1]) if maxt is None else maxt)
            + bytes([encoding]) + uvarint(len(data)) + data)
    return body + crc32c.crc32c(body).to_bytes(4, "big")


def file_bytes(chunks: list[bytes], prealloc: int = 0) -> bytes:
    """File header, the chunks, zero padding up to ``prealloc`` bytes (Prometheus preallocates)."""
    b = struct.pack(">IB3x", HEAD_CHUNKS_MAGIC, 1) + b"".join(chunks)
    return b + bytes(max(0, prealloc - len(b)))


def write_dir(d, files: dict[int, bytes]) -> str:
    os.makedirs(d, exist_ok=True)
    for seq, b in files.items():
        with open(os.path.join(d, f"{seq:06d}"), "wb") as f:
            f.write(b)
    return str(d)


def tree_hashes(d) -> dict[str, str]:
    return {n: hashlib.sha256(open(os.path.join(d, n), "rb").read()).hexdigest()
            for n in sorted(os.listdir(d))}


def series_samples(n: int, t0: int, step: int = 15_000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ts = t0 + np.cumsum(rng.integers(1, 3 * step, n)).astype(np.int64)
    vs = np.round(rng.normal(100, 30, n), 2)
    return ts, vs


# --------------------------------------------------------------------------- a minimal WAL reader
# Independent of tsdb/wal (a separate implementation would not be a referee): just enough
# of Prometheus's WAL (wlog pages and fragments; record.go series and samples) for the test.


def _wal_segments(wal_dir: str) -> list[str]:
    paths = []
    cps = sorted(n for n in os.listdir(wal_dir) if n.startswith("checkpoint."))
    if cps:
        cp = os.path.join(wal_dir, cps[-1])
        paths += [os.path.join(cp, n) for n in sorted(os.listdir(cp)) if n.isdigit()]
    paths += [os.path.join(wal_dir, n) for n in sorted(os.listdir(wal_dir)) if n.isdigit()]
    return paths


def wal_records(wal_dir: str):
    """Every record payload of the WAL (checkpoint first), fragments joined, CRCs checked."""
    for path in _wal_segments(wal_dir):
        buf = open(path, "rb").read()
        pos, frag = 0, b""
        while pos < len(buf):
            left_in_page = PAGE - pos % PAGE
            if left_in_page < 7 or buf[pos] == 0:  # too short for a header / page terminator
                pos += left_in_page
                continue
            typ = buf[pos]
            assert not typ & 0b11000, f"{path}: compressed WAL record; run with --no-storage.tsdb.wal-compression"
            n, crc = struct.unpack_from(">HI", buf, pos + 1)
            data = buf[pos + 7 : pos + 7 + n]
            assert crc32c.crc32c(data) == crc, f"{path}@{pos}: WAL record CRC mismatch"
            pos += 7 + n
            frag += data
            if typ in (1, 4):  # full, last
                yield frag
                frag = b""


def _uvar(b: bytes, i: int) -> tuple[int, int]:
    x = shift = 0
    while True:
        c = b[i]
        i += 1
        x |= (c & 0x7F) << shift
        if c < 0x80:
            return x, i
        shift += 7


def _var(b: bytes, i: int) -> tuple[int, int]:
    u, i = _uvar(b, i)
    return (u >> 1) ^ -(u & 1), i


def wal_series_and_samples(wal_dir: str):
    """``{ref: labels}`` and the samples ``[(ref, t, value bits)]`` of every WAL record."""
    series: dict[int, tuple[tuple[str, str], ...]] = {}
    samples: list[tuple[int, int, int]] = []
    for rec in wal_records(wal_dir):
        if rec[0] == 1:  # series
            i = 1
            while i < len(rec):
                (ref,) = struct.unpack_from(">Q", rec, i)
                n, i = _uvar(rec, i + 8)
                lbls = []
                for _ in range(n):
                    ln, i = _uvar(rec, i)
                    name = rec[i : i + ln].decode()
                    i += ln
                    ln, i = _uvar(rec, i)
                    lbls.append((name, rec[i : i + ln].decode()))
                    i += ln
                series[ref] = tuple(sorted(lbls))
        elif rec[0] == 2 and len(rec) > 1:  # samples
            ref0, t0 = struct.unpack_from(">Qq", rec, 1)
            i = 17
            while i < len(rec):
                dref, i = _var(rec, i)
                dt, i = _var(rec, i)
                (bits,) = struct.unpack_from(">Q", rec, i)
                i += 8
                samples.append((ref0 + dref, t0 + dt, bits))
    return series, samples


# --------------------------------------------------------------------------- the real Prometheus run


def _wait_samples_per_series(prom: Prometheus, n: int, timeout_s: float) -> int:
    """Wait until every scraped series holds ``n`` samples (asked of Prometheus itself, so a
    scrape that timed out does not count); returns the fewest samples any series has."""
    deadline = time.monotonic() + timeout_s
    fewest = 0
    while time.monotonic() < deadline:
        # One name at a time: count_over_time drops __name__, and the names share label sets.
        counts = [prom.query(f"min(count_over_time({name}[1h]))")["result"]
                  for name in ("demo_requests_total", "demo_level", "up")]
        fewest = min(int(float(r[0]["value"][1])) if r else 0 for r in counts)
        if fewest >= n:
            break
        time.sleep(0.5)
    return fewest


@pytest.fixture(scope="module")
def scraped(tmp_path_factory):
    """A data dir Prometheus wrote while scraping 300 series every 100 ms, then stopped cleanly."""
    base = tmp_path_factory.mktemp("prometheus-scraped")
    data = base / "data"
    with StaticTarget(body_fn=lambda n: exposition(n, COUNTERS, GAUGES)) as target:
        with Prometheus(data, targets=[target.address], scrape_interval="100ms",
                        work_dir=base / "work", max_lifetime_s=600,
                        extra_flags=["--no-storage.tsdb.wal-compression"]) as prom:
            # ~20 s on a quiet machine (see above): a safety net of 15x that
            fewest = _wait_samples_per_series(prom, SAMPLES, timeout_s=300)
            assert fewest >= SAMPLES, f"a series has only {fewest} samples after 300 s; log:\n{prom.log_tail()}"
            assert prom.stop() == 0, prom.log_tail()
    return {"data": str(data), "log": prom.log(), "chunks_head": str(data / "chunks_head")}


def test_prometheus_head_chunks_are_what_prometheus_answers(scraped, tmp_path):
    """Every sample in Prometheus's chunk files is what Prometheus answers for its series."""
    hcf = read_head_chunks(scraped["chunks_head"])
    assert hcf.torn_offset is None and len(hcf.paths) >= 1
    series, _ = wal_series_and_samples(os.path.join(scraped["data"], "wal"))
    ours = {ref: lb for ref, lb in series.items() if ("job", "static") in lb}
    assert len(ours) == COUNTERS + GAUGES + 5  # + up, scrape_duration_seconds, scrape_samples_*
    # ~117 samples per chunk, and 140+ samples per series: every series has a full chunk on disk.
    assert set(np.unique(hcf.series_ref).tolist()) == set(ours)
    assert (hcf.encoding == 1).all() and not hcf.out_of_order.any()
    assert max_series_ref(scraped["chunks_head"]) == max(ours)

    refs, ts, vs = decode_all(hcf)
    bounds = np.concatenate([[0], np.cumsum(hcf.num_samples)])
    assert bounds[-1] == ts.shape[0] > 100 * len(hcf)
    assert (refs == np.repeat(hcf.series_ref, hcf.num_samples)).all()
    assert (ts[bounds[:-1]] == hcf.mint).all() and (ts[bounds[1:] - 1] == hcf.maxt).all()

    # Our writer side rebuilds Prometheus's file byte for byte: layout, CRC coverage, XOR encoder.
    rebuilt = file_bytes([chunk_record(int(hcf.series_ref[i]), ts[bounds[i]:bounds[i + 1]],
                                       vs[bounds[i]:bounds[i + 1]]) for i in range(len(hcf))])
    original = open(hcf.paths[0], "rb").read()
    assert len(hcf.paths) == 1 and original[: len(rebuilt)] == rebuilt
    assert not any(original[len(rebuilt):])  # the rest is preallocated zeros

    # A second Prometheus over a copy (it may write to the directory it opens) answers.
    copy = tmp_path / "copy"
    shutil.copytree(scraped["data"], copy)
    with Prometheus(copy, work_dir=tmp_path / "work", max_lifetime_s=120,
                    extra_flags=["--no-storage.tsdb.wal-compression"]) as prom:
        answer = prom.raw_samples('{job="static"}', window="1h")
        log = prom.log()
    assert "On-disk memory mappable chunks replay completed" in log
    assert "WAL replay completed" in log and "level=error" not in log

    checked = 0
    for i in range(len(hcf)):
        labels = ours[int(hcf.series_ref[i])]
        theirs = [(t, v) for t, v in answer[labels] if hcf.mint[i] <= t <= hcf.maxt[i]]
        mine = [(int(t), float(v)) for t, v in zip(ts[bounds[i]:bounds[i + 1]], vs[bounds[i]:bounds[i + 1]],
                                                  strict=True)
                if np.float64(v).view(np.uint64) != STALE_NAN_BITS]  # Prometheus never returns those
        assert [t for t, _ in theirs] == [t for t, _ in mine], labels
        for (_, text), (_, v) in zip(theirs, mine, strict=True):
            w = float(text)  # Go's shortest round-trip formatting: exact, -0 included
            same = math.isnan(v) if math.isnan(w) else struct.pack("<d", w) == struct.pack("<d", v)
            assert same, (labels, text, v)
        checked += len(mine)
    assert checked == ts.shape[0] - np.count_nonzero(vs.view(np.uint64) == STALE_NAN_BITS)


def test_clean_stop_leaves_every_head_sample_in_the_wal(scraped):
    """Prometheus's WAL still holds every m-mapped sample after a clean stop (no checkpoint yet).

    ``chunks_head/`` is a cache of the head, not its only copy: promlite may rebuild the
    head from the WAL alone and ignore (or cross-check) the chunk files.
    """
    series, wal = wal_series_and_samples(os.path.join(scraped["data"], "wal"))
    assert not [n for n in os.listdir(os.path.join(scraped["data"], "wal")) if n.startswith("checkpoint")]
    refs, ts, vs = decode_all(read_head_chunks(scraped["chunks_head"]))
    in_chunks = set(zip(refs.tolist(), ts.tolist(), vs.view(np.uint64).tolist(), strict=True))
    assert in_chunks <= set(wal)
    assert len(wal) > len(in_chunks)  # and the open head chunks, which are only in the WAL


def test_prometheus_start_up_log(scraped):
    """What Prometheus 2.42 logs over a fresh data dir and on SIGTERM (tests match on these)."""
    log = scraped["log"]
    for line in ("Replaying on-disk memory mappable chunks if any", "Replaying WAL, this may take a while",
                 "TSDB started", "Received SIGTERM, exiting gracefully", "See you next time!"):
        assert line in log, line


def test_bit_flip_in_a_middle_chunk_is_corrupt_and_left_alone(scraped, tmp_path):
    d = tmp_path / "chunks_head"
    shutil.copytree(scraped["chunks_head"], d)
    hcf = read_head_chunks(str(d))
    i = len(hcf) // 2
    path = hcf.path_of(i)
    b = bytearray(open(path, "rb").read())
    b[int(hcf.data_offset[i]) + 5] ^= 0x10
    open(path, "wb").write(bytes(b))
    before = tree_hashes(d)

    with pytest.raises(CorruptError, match="checksum mismatch") as ei:
        read_head_chunks(str(d))
    assert ei.value.path == path and ei.value.offset == int(hcf.file_offset[i])
    assert path in str(ei.value) and f"offset {int(hcf.file_offset[i])}" in str(ei.value)
    with pytest.raises(CorruptError):
        max_series_ref(str(d))
    assert tree_hashes(d) == before  # nothing repaired, truncated or deleted


def test_last_chunk_of_real_file_torn(scraped, tmp_path):
    """A crash mid-write of the last chunk: reported with its offset, the file untouched."""
    d = tmp_path / "chunks_head"
    shutil.copytree(scraped["chunks_head"], d)
    hcf = read_head_chunks(str(d))
    last = len(hcf) - 1
    path = hcf.path_of(last)
    b = bytearray(open(path, "rb").read())
    cut = int(hcf.data_offset[last]) + 10
    b[cut:] = bytes(len(b) - cut)  # the rest never reached the (preallocated) file
    open(path, "wb").write(bytes(b))
    before = tree_hashes(d)
    torn = read_head_chunks(str(d))
    assert (torn.torn_path, torn.torn_offset) == (path, int(hcf.file_offset[last]))
    assert len(torn) == last and (torn.series_ref == hcf.series_ref[:last]).all()
    assert tree_hashes(d) == before


# --------------------------------------------------------------------------- synthetic files


T0 = 1_700_000_000_000


def test_synthetic_file_decodes_to_its_samples(tmp_path):
    awkward = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, STALE_NAN, 5e-324, 1.7976931348623157e308])
    ts_a, vs_a = series_samples(120, T0, seed=1)
    vs_a[10 : 10 + awkward.size] = awkward
    ts_b, vs_b = series_samples(37, T0, seed=2)
    ts_c, vs_c = series_samples(1, T0, seed=3)
    ts_a2, vs_a2 = series_samples(120, int(ts_a[-1]), seed=4)
    want = [(1, ts_a, vs_a), (7, ts_b, vs_b), (3, ts_c, vs_c), (1, ts_a2, vs_a2)]
    f1 = file_bytes([chunk_record(r, t, v) for r, t, v in want[:2]])  # no padding: file cut
    f2 = file_bytes([chunk_record(r, t, v) for r, t, v in want[2:]], prealloc=128 * 1024)
    d = write_dir(tmp_path / "chunks_head", {4: f1, 5: f2})
    (tmp_path / "chunks_head" / "not-a-chunk-file").write_bytes(b"ignored")
    before = tree_hashes(d)

    hcf = read_head_chunks(d)
    assert [p[-6:] for p in hcf.paths] == ["000004", "000005"]
    assert hcf.series_ref.tolist() == [1, 7, 3, 1] and hcf.torn_offset is None
    assert hcf.file_seq.tolist() == [4, 4, 5, 5]
    assert hcf.file_offset[0] == hcf.file_offset[2] == 8
    assert hcf.file_offset[1] == 8 + len(chunk_record(1, ts_a, vs_a))
    assert hcf.chunk_refs.tolist() == [(int(s) << 32) | int(o) for s, o in zip(hcf.file_seq, hcf.file_offset,
                                                                                strict=True)]
    assert hcf.mint.tolist() == [int(t[0]) for _, t, _ in want]
    assert hcf.maxt.tolist() == [int(t[-1]) for _, t, _ in want]
    assert hcf.chunk(1) == encode_xor(ts_b, vs_b)
    refs, ts, vs = decode_all(hcf)
    assert refs.tolist() == sum(([r] * len(t) for r, t, _ in want), [])
    assert (ts == np.concatenate([t for _, t, _ in want])).all()
    assert (vs.view(np.uint64) == np.concatenate([v for _, _, v in want]).view(np.uint64)).all()
    assert max_series_ref(d) == 7
    assert tree_hashes(d) == before


def test_missing_or_empty_dir_has_no_chunks(tmp_path):
    assert max_series_ref(str(tmp_path / "absent")) == 0
    assert len(read_head_chunks(str(tmp_path / "absent"))) == 0
    d = write_dir(tmp_path / "empty", {1: file_bytes([], prealloc=128 * 1024)})
    hcf = read_head_chunks(d)
    assert len(hcf) == 0 and hcf.torn_offset is None and max_series_ref(d) == 0
    r, t, v = decode_all(hcf)
    assert r.size == t.size == v.size == 0


def test_out_of_order_mask_is_split_off(tmp_path):
    ts, vs = series_samples(5, T0)
    d = write_dir(tmp_path / "ch", {1: file_bytes([chunk_record(2, ts, vs, encoding=1 | OUT_OF_ORDER_MASK),
                                                   chunk_record(3, ts, vs)])})
    hcf = read_head_chunks(d)
    assert hcf.encoding.tolist() == [1, 1] and hcf.out_of_order.tolist() == [True, False]
    assert decode_all(hcf)[1].size == 10


def _three_chunks():
    return [chunk_record(r, *series_samples(50, T0, seed=r)) for r in (1, 2, 3)]


@pytest.mark.parametrize("prealloc", [0, 128 * 1024])
@pytest.mark.parametrize("keep", [1, 10, 24, 30, 40, -4, -1])
def test_torn_last_chunk_of_last_file_is_reported(tmp_path, prealloc, keep):
    """The last chunk cut after ``keep`` bytes (negative: that many short of its end), then zeros or EOF."""
    chunks = _three_chunks()
    good = file_bytes(chunks[:2])
    partial = chunks[2][:keep]
    torn = good + partial
    torn += bytes(max(0, prealloc - len(torn)))
    d = write_dir(tmp_path / "ch", {1: file_bytes(_three_chunks()), 2: torn})
    before = tree_hashes(d)
    hcf = read_head_chunks(d)
    assert hcf.series_ref.tolist() == [1, 2, 3, 1, 2]
    if any(partial):
        assert hcf.torn_path == os.path.join(d, "000002") and hcf.torn_offset == len(good)
    else:  # only the zero high bytes of the series ref made it: that is just the padding
        assert hcf.torn_path is None and hcf.torn_offset is None
    assert tree_hashes(d) == before


@pytest.mark.parametrize("keep", [10, 30, -1])
def test_torn_chunk_in_an_earlier_file_is_corrupt(tmp_path, keep):
    chunks = _three_chunks()
    d = write_dir(tmp_path / "ch", {1: file_bytes(chunks[:2]) + chunks[2][:keep],
                                    2: file_bytes(chunks)})
    with pytest.raises(CorruptError) as ei:
        read_head_chunks(d)
    assert ei.value.path == os.path.join(d, "000001")
    assert ei.value.offset == len(file_bytes(chunks[:2]))


def test_bad_crc_in_last_file_followed_by_data_is_corrupt(tmp_path):
    chunks = _three_chunks()
    b = bytearray(file_bytes(chunks, prealloc=4096))
    off = 8 + len(chunks[0])
    b[off + 30] ^= 1  # the data of the second chunk
    d = write_dir(tmp_path / "ch", {1: bytes(b)})
    with pytest.raises(CorruptError, match="checksum mismatch") as ei:
        read_head_chunks(d)
    assert (ei.value.path, ei.value.offset) == (os.path.join(d, "000001"), off)
    b[off + 30] ^= 1
    b[off + 2] ^= 1  # the series ref is covered by the CRC too
    open(os.path.join(d, "000001"), "wb").write(bytes(b))
    with pytest.raises(CorruptError, match="checksum mismatch"):
        read_head_chunks(d)


def test_garbage_after_the_end_marker(tmp_path):
    """Zeros end a file; anything non-zero after them is corruption (torn in the last file)."""
    chunks = _three_chunks()
    garbage = file_bytes(chunks[:1]) + bytes(100) + b"\x01" + bytes(50)
    d = write_dir(tmp_path / "ch", {1: garbage, 2: file_bytes(chunks)})
    with pytest.raises(CorruptError, match="after the end-of-chunks marker") as ei:
        read_head_chunks(d)
    assert ei.value.offset == 8 + len(chunks[0])
    d2 = write_dir(tmp_path / "ch2", {1: garbage})
    assert read_head_chunks(d2).torn_offset == 8 + len(chunks[0])
    # A non-zero tail shorter than a chunk header is corrupt too ...
    d3 = write_dir(tmp_path / "ch3", {1: file_bytes(chunks[:1]) + b"\x00\x07" + bytes(10),
                                      2: file_bytes(chunks)})
    with pytest.raises(CorruptError, match="too short for a chunk header"):
        read_head_chunks(d3)
    # ... while a zero tail of any length is padding.
    for pad in (0, 1, 33, 34, 35, 1000):
        d4 = write_dir(tmp_path / f"ch4-{pad}", {1: file_bytes(chunks[:1]) + bytes(pad),
                                                 2: file_bytes(chunks)})
        hcf = read_head_chunks(d4)
        assert len(hcf) == 4 and hcf.torn_offset is None


def test_bad_header_gap_and_short_file(tmp_path):
    chunks = _three_chunks()
    ok = file_bytes(chunks)
    cases = {
        "magic": ({1: b"\x01\x30\xbc\x92" + ok[4:], 2: ok}, "000001", 0, "bad magic"),
        "version": ({1: ok[:4] + b"\x02" + ok[5:], 2: ok}, "000001", 4, "version 2"),
        "gap": ({1: ok, 3: ok}, "000001", None, "not consecutive"),
        "short non-last": ({1: ok[:5], 2: ok}, "000001", 0, "too short"),
        "short last, not a header": ({1: ok, 2: b"\x00\x00\x00\x00\x01"}, "000002", 0, "too short"),
    }
    for name, (files, culprit, offset, msg) in cases.items():
        d = write_dir(tmp_path / name.replace(" ", "_").replace(",", ""), files)
        with pytest.raises(CorruptError, match=msg) as ei:
            read_head_chunks(d)
        assert ei.value.path == os.path.join(d, culprit), name
        assert ei.value.offset == offset, name
    # An empty (or header-prefix) last file: created but never written before a crash.
    for tail in (b"", ok[:3]):
        d = write_dir(tmp_path / f"fresh-{len(tail)}", {1: ok, 2: tail})
        hcf = read_head_chunks(d)
        assert len(hcf) == 3 and hcf.torn_path == os.path.join(d, "000002") and hcf.torn_offset == 0
    assert [s for s, _ in list_head_chunk_files(d)] == [1, 2]


def test_undecodable_chunk_with_good_crc_names_file_and_offset(tmp_path):
    ts, vs = series_samples(50, T0)
    good = encode_xor(ts, vs)
    bad = good[:2] + good[2:12]  # the sample count says 50, the bit stream ends early
    chunks = [chunk_record(1, ts, vs), chunk_record(2, ts, vs, data=bad)]
    d = write_dir(tmp_path / "ch", {1: file_bytes(chunks)})
    hcf = read_head_chunks(d)  # the CRC is fine
    with pytest.raises(CorruptError, match="does not decode") as ei:
        decode_all(hcf)
    assert ei.value.path == os.path.join(d, "000001")
    assert int(hcf.data_offset[1]) <= ei.value.offset <= int(hcf.data_offset[1]) + len(bad)


def test_non_xor_chunk_is_refused_by_decode_all(tmp_path):
    ts, vs = series_samples(5, T0)
    d = write_dir(tmp_path / "ch", {1: file_bytes([chunk_record(1, ts, vs), chunk_record(2, ts, vs, encoding=2)])})
    hcf = read_head_chunks(d)
    assert hcf.encoding.tolist() == [1, 2]
    with pytest.raises(ValueError, match="encoding 2 is not XOR"):
        decode_all(hcf)
