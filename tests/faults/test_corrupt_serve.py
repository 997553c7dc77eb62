"""Corrupted data directories opened by ``promlite serve``: refused or served, never silently lost.

One pristine data directory is built with the ``tsdb`` library (two blocks, a
WAL checkpoint of two segments, two WAL segments, a ``chunks_head/`` file as
Prometheus leaves one), then each case damages a copy of it and starts the
real server on it. What ``docs/reliability.md`` ("What the storage repairs")
promises, checked case by case:

* the server either starts and serves, or refuses to start with an error
  naming the file and the byte offset (WAL and checkpoint damage other than a
  torn tail: ``CorruptError``);
* every file is hashed before and after: nothing is truncated, deleted or
  changed, except the one documented repair (a torn tail of the last WAL
  segment is cut at the last good record: the file must then be a prefix of
  what it was);
* the damage is reported with the file (and the offset where the format has
  one);
* everything readable is served: a skipped block takes only its own samples
  with it, a bad chunk fails only the queries that read it (with the file and
  the offset), and everything else answers exactly what was written.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import re
import shutil
import struct
import subprocess
import sys
import urllib.parse

import crc32c
import numpy as np
import pytest
from serve_proc import NO_TARGETS, READY, ServeProc
from soak import scaled

import tsdb
from tsdb.block.encoding import uvarint_bytes
from tsdb.codec.xor import encode_xor

H = 3_600_000
T0 = 1_577_836_800_000  # 2020-01-01T00:00Z, aligned to 18 h: no block merge is due (see build)
N_SERIES = 20
HEAD_CHUNKS_MAGIC = 0x0130BC91


# --------------------------------------------------------------------------- the pristine directory

def _batch(db, a: int, b: int) -> None:
    ts = np.arange(a, b, 15_000, dtype=np.int64)
    app = db.appender()
    for i in range(N_SERIES):
        app.append_series({"__name__": "fault_data", "i": str(i)}, ts, ts / 1000.0 + i)
    app.commit()


def _head_chunk(ref: int, ts: np.ndarray, vs: np.ndarray) -> bytes:
    """One chunk of Prometheus's ``chunks_head/`` layout (head_chunks.md); CRC32C over ref .. data."""
    data = encode_xor(ts, vs)
    body = struct.pack(">Qqq", ref, int(ts[0]), int(ts[-1])) + b"\x01" + uvarint_bytes(len(data)) + data
    return body + crc32c.crc32c(body).to_bytes(4, "big")


def build(path: str) -> None:
    """Blocks [0, 2 h) and [2 h, 4 h) from T0, a head [4 h, 6.5 h) in WAL segments after a checkpoint.

    With the server's 2 h blocks (ranges 2 h, 6 h, ...) two blocks inside one 6 h window whose
    newest block starts before the window ends are never merged, and a head spanning 2.5 h is
    not cut, so the server changes nothing on its own: any change is the storage's doing.
    """
    db = tsdb.open(path, auto_compact=False, retention_ms=0, wal_segment_bytes=2 * 32768,
                   wal_compression=False)
    t, step = T0, 15 * 60_000
    while t < T0 + 4 * H + step:
        _batch(db, t, t + step)
        t += step
    db.compact()  # cuts [0, 2 h); the WAL is checkpointed
    while t < T0 + 5 * H + step:
        _batch(db, t, t + step)
        t += step
    db.compact()  # cuts [2 h, 4 h)
    while t < T0 + 6 * H + 30 * 60_000:
        _batch(db, t, t + 5 * 60_000)
        t += 5 * 60_000
    db.close()
    # chunks_head/ as Prometheus leaves it (promlite reads it only to keep clear of its series refs)
    os.makedirs(os.path.join(path, "chunks_head"))
    ts = np.arange(T0 + 7 * H, T0 + 7 * H + 120 * 15_000, 15_000, dtype=np.int64)
    chunks = b"".join(_head_chunk(ref, ts, np.full(len(ts), float(ref))) for ref in (1, 2, 3, 4))
    with open(os.path.join(path, "chunks_head", "000001"), "wb") as f:
        f.write(struct.pack(">IB3x", HEAD_CHUNKS_MAGIC, 1) + chunks + bytes(4096))


def hashes(path: str) -> dict[str, str]:
    out = {}
    for root, _dirs, files in os.walk(path):
        for n in files:
            p = os.path.join(root, n)
            if n != "lock":
                with open(p, "rb") as f:
                    out[os.path.relpath(p, path)] = hashlib.sha256(f.read()).hexdigest()
    return out


def blocks(path: str) -> list[tuple[str, int, int]]:
    """``(ulid, min_time, max_time)`` of each block, oldest first."""
    out = []
    for n in os.listdir(path):
        meta = os.path.join(path, n, "meta.json")
        if os.path.exists(meta):
            with open(meta) as f:
                m = json.load(f)
            out.append((n, m["minTime"], m["maxTime"]))
    return sorted(out, key=lambda b: b[1])


def samples_of(body: bytes) -> dict[tuple[str, int], float]:
    out = {}
    for s in json.loads(body)["data"]["result"]:
        for t, v in s["values"]:
            out[(s["metric"]["i"], round(float(t) * 1000))] = float(v)
    return out


def query(srv: ServeProc, lo: int, hi: int) -> tuple[int, bytes]:
    """The raw samples in ``(lo, hi]`` (ms) through the API: ``fault_data[<hi-lo>ms]`` at ``hi``."""
    q = urllib.parse.urlencode({"query": f"fault_data[{hi - lo}ms]", "time": f"{hi / 1000:.3f}"})
    return srv.request("GET", f"/api/v1/query?{q}")


ALL = (T0 - H, T0 + 8 * H)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("pristine") / "data")
    build(path)
    with tsdb.open(path, read_only=True) as db, db.querier(*ALL) as q:
        want = {}
        for s in q.select(tsdb.Matcher.eq("__name__", "fault_data")):
            i = dict(s.labels)["i"]
            want.update({(i, int(t)): float(v) for t, v in zip(s.timestamps, s.values, strict=True)})
    assert len(blocks(path)) == 2 and os.path.isdir(os.path.join(path, "wal", "checkpoint.00000005")), \
        sorted(hashes(path))
    return path, want


# --------------------------------------------------------------------------- damage

def flip(path: str, rel: str, offset: int, mask: int = 0x40) -> None:
    p = os.path.join(path, rel)
    with open(p, "r+b") as f:
        f.seek(offset if offset >= 0 else os.path.getsize(p) + offset)
        b = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([b[0] ^ mask]))


def fragment_ends(seg: bytes, start: int) -> list[int]:
    """Offsets where the WAL fragments of the page at ``start`` end (7-byte header: type, len, CRC)."""
    out, pos = [], start
    while pos + 7 <= start + 32768 and seg[pos] != 0:
        pos += 7 + int.from_bytes(seg[pos + 1:pos + 3], "big")
        out.append(pos)
    return out


def content_end(seg: bytes) -> int:
    """Where the records of a (zero-padded) WAL segment end."""
    end = 0
    for page in range(0, len(seg), 32768):
        ends = fragment_ends(seg, page)
        if ends:
            end = ends[-1]
    return end


def truncate(path: str, rel: str, size: int) -> None:
    os.truncate(os.path.join(path, rel), size)


def block_rel(path: str, k: int, name: str) -> str:
    return os.path.join(blocks(path)[k][0], name)


# Each case: (id, damage(path) -> (file named in the report, offset named or None), outcome)
# outcome "refuse": the server exits non-zero and says why; "start": it serves what is readable;
# "skip-block-<k>": it starts with block k skipped; "bad-chunk-<k>": queries reading block k fail.

def _wal_middle_flip(p):
    flip(p, "wal/00000006", 5000)
    return "wal/00000006", None


def _wal_last_flip(p):
    flip(p, "wal/00000007", 100)
    return "wal/00000007", None


def _wal_last_torn(p):
    with open(os.path.join(p, "wal/00000007"), "rb") as f:
        seg = f.read()
    end = content_end(seg)
    cut = (fragment_ends(seg, 0)[-2] + end) // 2  # inside the last record: a crash mid-write
    truncate(p, "wal/00000007", cut)
    return "wal/00000007", None


def _wal_middle_cut_short(p):
    with open(os.path.join(p, "wal/00000006"), "rb") as f:
        seg = f.read()
    cut = fragment_ends(seg, 32768)[1]  # exactly at a record boundary in the second page
    truncate(p, "wal/00000006", cut)
    return "wal/00000006", cut


def _wal_gap(p):
    os.rename(os.path.join(p, "wal/00000006"), os.path.join(p, "00000006.moved-away"))
    return "00000006", None


def _checkpoint_flip(p):
    flip(p, "wal/checkpoint.00000005/00000001", 40_000)
    return "checkpoint.00000005/00000001", None


def _chunks_head_flip(p):
    flip(p, "chunks_head/000001", 8 + 20)  # inside the first of four chunks (78 bytes each)
    return "chunks_head/000001", 8


def _chunks_head_torn(p):
    flip(p, "chunks_head/000001", 8 + 3 * 78 + 40)  # inside the last chunk: cannot be told from a torn write
    return "chunks_head/000001", 8 + 3 * 78


def _meta_flip(p):
    rel = block_rel(p, 0, "meta.json")
    flip(p, rel, 1, 0x01)  # '"' -> '#'
    return rel, None


def _index_magic(p):
    rel = block_rel(p, 1, "index")
    flip(p, rel, 0)
    return rel, 0


def _index_toc(p):
    rel = block_rel(p, 0, "index")
    flip(p, rel, -10)  # inside the table of contents at the end
    return rel, None


def _index_missing(p):
    os.rename(os.path.join(p, block_rel(p, 1, "index")), os.path.join(p, "index.moved-away"))
    return os.path.join(blocks(p)[1][0], "index"), None


def _chunks_magic(p):
    rel = block_rel(p, 0, "chunks/000001")
    flip(p, rel, 2)
    return rel, None


def _chunk_data_flip(p):
    rel = block_rel(p, 1, "chunks/000001")
    flip(p, rel, 3000)  # inside a chunk of some series
    return rel, None


CASES = [
    ("wal-middle-segment-bit-flip", _wal_middle_flip, "refuse"),
    ("wal-last-segment-bit-flip", _wal_last_flip, "refuse"),
    ("wal-last-segment-torn-tail", _wal_last_torn, "start"),
    ("wal-middle-segment-cut-short", _wal_middle_cut_short, "start"),
    ("wal-missing-segment", _wal_gap, "refuse"),
    ("checkpoint-bit-flip", _checkpoint_flip, "refuse"),
    ("chunks-head-bit-flip", _chunks_head_flip, "start"),
    ("chunks-head-torn-last-chunk", _chunks_head_torn, "start"),
    ("meta-json-flipped-byte", _meta_flip, "skip-block-0"),
    ("index-bad-magic", _index_magic, "skip-block-1"),
    ("index-toc-bit-flip", _index_toc, "skip-block-0"),
    ("index-missing", _index_missing, "skip-block-1"),
    ("chunks-file-bad-magic", _chunks_magic, "skip-block-0"),
    ("chunk-data-bit-flip", _chunk_data_flip, "bad-chunk-1"),
]

OFFSET = re.compile(r"offset \d+")
SERVE_ARGS = ("--storage.tsdb.retention.time=0",)


def test_missing_first_segment_after_the_checkpoint_is_corrupt(pristine, tmp_path):
    """Regression: with ``checkpoint.00000005``, a missing ``00000006`` was not noticed (its samples gone
    without a word) because only the segments after the checkpoint were checked against each other."""
    src, _ = pristine
    data = str(tmp_path / "data")
    shutil.copytree(src, data)
    _wal_gap(data)
    before = hashes(data)
    with pytest.raises(tsdb.CorruptError, match="00000006"):
        tsdb.open(data, retention_ms=0)
    with pytest.raises(tsdb.CorruptError, match="00000006"):
        tsdb.open(data, read_only=True)
    assert hashes(data) == before


def test_damaged_chunks_head_keeps_the_refs_read_before_the_damage(tmp_path, caplog):
    """Regression: on a damaged ``chunks_head/`` no ref was kept clear (the warning said they were), so
    a new series could take the ref of an intact chunk that Prometheus re-attaches on its next start."""
    d = tmp_path / "data"
    (d / "chunks_head").mkdir(parents=True)
    ts = np.arange(T0, T0 + 120 * 15_000, 15_000, dtype=np.int64)
    chunks = [_head_chunk(ref, ts, np.full(len(ts), float(ref))) for ref in (50, 2, 3, 4)]
    buf = bytearray(struct.pack(">IB3x", HEAD_CHUNKS_MAGIC, 1) + b"".join(chunks) + bytes(4096))
    buf[8 + len(chunks[0]) + 30] ^= 0x10  # inside the second chunk, with good chunks after it: corrupt
    (d / "chunks_head" / "000001").write_bytes(bytes(buf))
    before = hashes(str(d))
    with caplog.at_level(logging.WARNING), tsdb.open(str(d)) as db:
        app = db.appender()
        ref = app.append({"__name__": "new_series"}, T0, 1.0)
        app.commit()
    assert ref > 50, ref
    assert any("chunks_head" in r.getMessage() and f"offset {8 + len(chunks[0])}" in r.getMessage()
               for r in caplog.records), [r.getMessage() for r in caplog.records]
    assert hashes(str(d))["chunks_head/000001"] == before["chunks_head/000001"]


def serve_cmd(data: str) -> list[str]:
    return [sys.executable, "-m", "promlite.cli", "serve", "--web.listen-address=127.0.0.1:0",
            "--config.file=prometheus.yml", f"--storage.tsdb.path={data}", *SERVE_ARGS]


@pytest.mark.parametrize("name, damage, outcome", CASES, ids=[c[0] for c in CASES])
def test_server_on_a_damaged_directory(pristine, tmp_path, name, damage, outcome):
    src, want = pristine
    data = str(tmp_path / "data")
    shutil.copytree(src, data)
    bks = blocks(src)
    named, offset = damage(data)
    before = hashes(data)
    with open(os.path.join(data, named), "rb") if os.path.isfile(os.path.join(data, named)) else open(os.devnull, "rb") as f:
        damaged_bytes = f.read()

    if outcome == "refuse":
        (tmp_path / "prometheus.yml").write_text(NO_TARGETS)
        r = subprocess.run(serve_cmd(data), cwd=tmp_path, capture_output=True, text=True, timeout=120)
        log = r.stdout + r.stderr
        assert r.returncode != 0 and not READY.search(log), log
        err = [ln for ln in log.splitlines() if "level=ERROR" in ln and "cannot open storage" in ln]
        assert err and named in err[0], log
        if "missing" not in name:
            assert OFFSET.search(err[0]), err[0]
        assert "Traceback" not in log, log
        assert hashes(data) == before, "a refused open must change nothing"
        print(f"\nCASE {name}: refused: {err[0].split('msg=', 1)[1][:200]}")
        return

    srv = ServeProc(str(tmp_path), f"--storage.tsdb.path={data}", *SERVE_ARGS)
    try:
        assert srv.request("GET", "/-/healthy")[0] == 200
        assert srv.request("GET", "/-/ready")[0] == 200
        status, body = query(srv, *ALL)
        log = srv.text()
        report = [ln for ln in log.splitlines() if named in ln and ("WARN" in ln or "ERROR" in ln)]
        if outcome.startswith("bad-chunk"):
            k = int(outcome.rsplit("-", 1)[1])
            # the query that reads the bad chunk fails, naming file and offset; no wrong value is served
            assert status in (422, 500, 503), (status, body)
            err = json.loads(body)["error"]
            assert named.split("/", 1)[1] in err and OFFSET.search(err), err
            # ... and every query that does not read it answers exactly what was written
            lo, hi = bks[k][1], bks[k][2]
            for a, b in ((ALL[0], lo - 1), (hi - 1 + 1, ALL[1])):
                st, body2 = query(srv, a, b)
                assert st == 200, body2
                assert samples_of(body2) == {key: v for key, v in want.items() if a < key[1] <= b}
            print(f"\nCASE {name}: started; the query reading the chunk answered {status}: {err[:200]}")
        else:
            assert status == 200, body
            got = samples_of(body)
            assert report, log  # the damage is in the log, with the file
            if offset is not None:
                assert any(f"offset {offset}" in ln for ln in report), report
            if outcome.startswith("skip-block"):
                k = int(outcome.rsplit("-", 1)[1])
                lo, hi = bks[k][1], bks[k][2]
                assert got == {key: v for key, v in want.items() if not lo <= key[1] < hi}
                st, metrics = srv.request("GET", "/metrics")
                assert re.search(rb"^prometheus_tsdb_reloads_failures_total 1(\.0)?$", metrics, re.M), metrics[:300]
            elif name.startswith("chunks-head"):
                assert got == want
            else:  # WAL damage that is read past: what is served was written, and the blocks are whole
                assert got.items() <= want.items()
                assert all(key in got for key in want if key[1] < T0 + 4 * H)
                with tsdb.open(data, read_only=True) as db, db.querier(*ALL) as q:
                    n = sum(len(s) for s in q.select(tsdb.Matcher.eq("__name__", "fault_data")))
                assert len(got) == n  # the server serves what the library reads
            print(f"\nCASE {name}: started, {len(got)} of {len(want)} samples served; "
                  f"reported: {report[0].split('msg=', 1)[-1][:200]}")
    finally:
        assert srv.stop() == 0, srv.text()
    after = hashes(data)
    if name == "wal-last-segment-torn-tail":
        # the one documented repair: the torn tail is cut, so the file is a prefix of what it was
        changed = {k for k in before if after.get(k) != before[k]}
        assert changed <= {named}, changed
        assert set(after) == set(before)
        with open(os.path.join(data, named), "rb") as f:
            kept = f.read().rstrip(b"\0")  # a clean stop pads the last page with zeros
        assert len(kept) < len(damaged_bytes.rstrip(b"\0")) and damaged_bytes.startswith(kept)
    else:
        assert after == before, "nothing unreadable may be truncated, moved or deleted"



def test_seeded_bit_flips_anywhere_are_reported_or_harmless(pristine, tmp_path, caplog):
    """One flipped bit at a seeded random place of a seeded random file, many times (library, read-only).

    Each flip must end one of three ways: the open is refused with ``CorruptError`` naming the file;
    or it opens and answers exactly what was written; or it answers less and a warning/error names
    the file (a skipped block, a torn-looking WAL tail) -- or a query that reads the damage fails
    naming the file. Never a wrong value, never a silent loss, and no file changes. ``meta.json`` is
    left out: a flipped digit inside a valid JSON number cannot be detected (nor is it by
    Prometheus); its damage is covered by the named cases above.
    """
    src, want = pristine
    files = sorted(f for f in hashes(src) if not f.endswith("meta.json"))
    sizes = {f: os.path.getsize(os.path.join(src, f)) for f in files}
    rng = random.Random(1212)
    outcomes: dict[str, int] = {}
    flips = scaled(40, 600)
    data = str(tmp_path / "data")
    for n in range(flips):
        rel = rng.choice(files)
        off = rng.randrange(sizes[rel])
        if n:
            shutil.rmtree(data)
        shutil.copytree(src, data)
        flip(data, rel, off, 1 << rng.randrange(8))
        before = hashes(data)
        caplog.clear()
        base = os.path.basename(rel)
        where = f"{rel} at {off}"
        with caplog.at_level(logging.WARNING):
            try:
                db = tsdb.open(data, read_only=True)
            except tsdb.CorruptError as e:
                assert base in str(e), (where, str(e))
                outcomes["refused"] = outcomes.get("refused", 0) + 1
                assert hashes(data) == before, where
                continue
            try:
                with db.querier(*ALL) as q:
                    got = {}
                    for s in q.select(tsdb.Matcher.eq("__name__", "fault_data")):
                        i = dict(s.labels)["i"]
                        got.update({(i, int(t)): float(v) for t, v in zip(s.timestamps, s.values, strict=True)})
                kind = "served everything"
            except tsdb.CorruptError as e:
                assert base in str(e) and OFFSET.search(str(e)), (where, str(e))
                got, kind = None, "a query failed naming the file"
            finally:
                db.close()
        top = rel.split("/")[0]
        named_by = top if len(top) == 26 else rel.rsplit("/", 2)[-2] + "/" + base  # a block's ULID, or dir/file
        reported = [r.getMessage() for r in caplog.records if named_by in r.getMessage()]
        if got is not None:
            assert got.items() <= want.items(), (where, "a wrong value was served")
            if got != want:
                assert reported, (where, f"{len(want) - len(got)} samples missing without a word")
                kind = "served the rest, reported"
            elif reported:
                kind = "served everything, reported"
        outcomes[kind] = outcomes.get(kind, 0) + 1
        assert hashes(data) == before, where
    print(f"\nFIGURES seeded bit flips: {flips} flips over {len(files)} files: {outcomes}")
