"""Interop: a WAL written by promlite is read by Prometheus's own code (``promtool tsdb dump``).

promtool 2.42 (Debian's ``prometheus`` package) replays ``<dir>/wal`` into a head
and prints every sample: series, samples and tombstone records, snappy and
plain, fragments across pages and several segments, a checkpoint. Every
sample written must come out with its exact value (NaN payloads print as NaN),
and none that a tombstone deletes.

Skipped when promtool is missing, unless the CI environment variable is set,
in which case a missing promtool fails the run (see tests/_support/_requirements.py).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import subprocess

import numpy as np

from tsdb.wal import WAL, checkpoint, encode_samples, encode_series, encode_tombstones
from tsdb.wal.frames import PAGE_SIZE, SegmentReader

T0 = 1_700_000_000_000
STEP = 15_000
SPECIAL = [math.nan, np.array([0x7FF0000000000002], dtype=np.uint64).view(np.float64)[0],
           math.inf, -math.inf, -0.0, 5e-324, 1.7976931348623157e308, 0.1]


def series_labels(n: int) -> list[tuple[tuple[str, str], ...]]:
    """Label sets (sorted by name) with values snappy cannot shrink much, and a few awkward ones."""
    out = []
    for i in range(1, n + 1):
        odd = ['quo"te', "back\\slash", "ünïcødé"][i % 3] if i <= 6 else "plain"
        out.append((("__name__", "wal_interop"), ("h", hashlib.sha256(b"%d" % i).hexdigest()),
                    ("i", str(i)), ("odd", odd)))
    return out


def parse_dump(text: str) -> list[tuple[tuple[tuple[str, str], ...], float, int]]:
    """``{a="b", c="d"} <value> <timestamp>`` lines (Go-quoted values; ours need only JSON's escapes)."""
    rows = []
    label_re = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"')
    for line in text.splitlines():
        head, v, t = line.rsplit(" ", 2)
        assert head.startswith("{") and head.endswith("}"), line
        lbls = tuple((m.group(1), json.loads('"' + m.group(2) + '"')) for m in label_re.finditer(head))
        rows.append((lbls, float(v), int(t)))
    return rows


def key(lbls, v: float, t: int):
    """A sample's identity with its exact value: the float's bits, or just 'NaN' (payloads print as NaN)."""
    return (lbls, t, "NaN" if math.isnan(v) else np.float64(v).view(np.uint64).item())


def dump(promtool: str, data_dir: str) -> list:
    p = subprocess.run([promtool, "tsdb", "dump", data_dir], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    return parse_dump(p.stdout)


class Writer:
    """Logs commits and remembers what Prometheus must show: every sample, less the deleted ones."""

    def __init__(self, labels):
        self.labels = labels
        self.samples: dict[tuple[int, int], float] = {}
        self.deleted: list[tuple[int, int, int]] = []

    def samples_record(self, refs, ts, vs) -> bytes:
        for r, t, v in zip(refs.tolist(), ts.tolist(), vs.tolist(), strict=True):
            self.samples[(r, t)] = v
        return encode_samples(refs, ts, vs)

    def tombstone_record(self, refs, mint: int, maxt: int) -> bytes:
        self.deleted += [(r, mint, maxt) for r in refs]
        return encode_tombstones(refs, np.full(len(refs), mint), np.full(len(refs), maxt))

    def expected(self) -> set:
        out = set()
        for (r, t), v in self.samples.items():
            if not any(dr == r and lo <= t <= hi for dr, lo, hi in self.deleted):
                out.add(key(self.labels[r - 1], v, t))
        return out


def write_wal(wal_dir: str, with_checkpoint: bool = False, n_series: int = 1000) -> Writer:
    labels = series_labels(n_series)
    wr = Writer(labels)
    refs = np.arange(1, n_series + 1)
    rng = np.random.default_rng(7)
    step = 0

    def scrape(w: WAL, rows: int = 1) -> None:
        nonlocal step
        ts = np.repeat(T0 + STEP * np.arange(step, step + rows), n_series)
        vs = np.round(rng.normal(100, 50, size=len(ts)), 3)
        vs[: len(SPECIAL)] = SPECIAL
        w.log(wr.samples_record(np.tile(refs, rows), ts, vs))
        step += rows

    # Snappy on: a series record bigger than a page (it stays so compressed), then scrapes.
    w = WAL.open(wal_dir, segment_size=PAGE_SIZE, compress=True)
    big_series = encode_series(refs, labels)
    assert len(big_series) > 3 * PAGE_SIZE
    w.log(big_series, wr.samples_record(refs[:1], np.array([T0 - STEP]), np.array([42.0])))
    for _ in range(20):
        scrape(w)
    w.log(wr.tombstone_record([3, 4], T0 + 5 * STEP, T0 + 9 * STEP))
    w.close()
    if with_checkpoint:
        w = WAL.open(wal_dir, segment_size=PAGE_SIZE)
        upto = w.cut() - 1
        checkpoint(w, upto, lambda r: np.ones(len(r), dtype=bool), -(2**63))
        w.close()
    # Snappy off: a samples record bigger than a page (10 scrapes in one), then more scrapes.
    w = WAL.open(wal_dir, segment_size=PAGE_SIZE, compress=False)
    scrape(w, rows=10)
    for _ in range(10):
        scrape(w)
    w.log(wr.tombstone_record([5], T0 + 25 * STEP, T0 + 100 * STEP))
    scrape(w)
    w.close()
    return wr


def fragment_types(wal_dir: str) -> set[int]:
    types = set()
    for root, _dirs, files in os.walk(wal_dir):
        for n in files:
            with open(os.path.join(root, n), "rb") as f:
                data = f.read()
            for off, _ in SegmentReader(os.path.join(root, n)):
                types.add(data[off])
    return types


def check(promtool: str, data_dir: str, wr: Writer) -> None:
    rows = dump(promtool, data_dir)
    got = [key(lbls, v, t) for lbls, v, t in rows]
    assert len(got) == len(set(got))
    want = wr.expected()
    assert len(want) > 10_000
    assert set(got) == want
    # the tombstones did delete something
    assert len(wr.samples) > len(want)


def test_promtool_dumps_every_sample_of_our_wal(promtool, tmp_path):
    wal_dir = str(tmp_path / "wal")
    wr = write_wal(wal_dir)
    segs = sorted(os.listdir(wal_dir))
    assert len(segs) >= 5 and segs == [f"{i:08d}" for i in range(len(segs))]
    types = fragment_types(wal_dir)
    assert {0x02, 0x0A} <= types  # first fragments of a plain and of a snappy record spanning pages
    assert {0x01, 0x09} <= types  # and single-fragment records of both kinds
    check(promtool, str(tmp_path), wr)


def test_promtool_reads_our_checkpoint(promtool, tmp_path):
    wal_dir = str(tmp_path / "wal")
    wr = write_wal(wal_dir, with_checkpoint=True)
    assert any(n.startswith("checkpoint.") for n in os.listdir(wal_dir))
    check(promtool, str(tmp_path), wr)
