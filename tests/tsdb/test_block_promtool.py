"""Interop with Prometheus's own tools (promtool 2.42): the referee for the block format.

* our blocks -> ``promtool tsdb analyze`` (series count) and ``promtool tsdb dump``
  (every sample, compared after parsing its output);
* ``promtool tsdb create-blocks-from openmetrics`` -> our reader (every sample);
* promtool's blocks rewritten by our writer are byte-identical (index, chunk
  segments, tombstones, meta.json): a golden check against the reference
  implementation.

Skipped when promtool is missing, unless the CI environment variable is set,
in which case a missing promtool fails the run.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess

import numpy as np
import pytest
from _requirements import missing

from tsdb.block import Block, ChunkMeta, write_block
from tsdb.codec.xor import decode_xor, encode_xor
from tsdb.matchers import Matcher

STALE_NAN = np.uint64(0x7FF0000000000002).view(np.float64)
T0 = 1_700_000_000_000 // 7_200_000 * 7_200_000  # a 2h-aligned block start


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool") or (
        "/usr/bin/promtool" if os.path.exists("/usr/bin/promtool") else None
    )
    if path is None:
        missing("promtool (Debian package 'prometheus') is not installed; it is the referee for the block format")
    return path


def run(*args: str) -> str:
    p = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, f"{args} exited {p.returncode}: {p.stderr}"
    return p.stdout


# --------------------------------------------------------------------------- helpers


def _go_unquote(s: str, i: int) -> tuple[str, int]:
    """Parse the Go-quoted string (strconv.Quote) starting at s[i] == '"'; return (value, end)."""
    assert s[i] == '"'
    out = []
    i += 1
    simple = {
        "a": "\a",
        "b": "\b",
        "f": "\f",
        "n": "\n",
        "r": "\r",
        "t": "\t",
        "v": "\v",
        "\\": "\\",
        '"': '"',
        "'": "'",
    }
    while s[i] != '"':
        c = s[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        e = s[i + 1]
        if e in simple:
            out.append(simple[e])
            i += 2
        elif e in "xuU":
            n = {"x": 2, "u": 4, "U": 8}[e]
            out.append(chr(int(s[i + 2 : i + 2 + n], 16)))
            i += 2 + n
        else:
            raise ValueError(f"unknown escape \\{e} in {s!r}")
    return "".join(out), i + 1


def parse_dump(text: str) -> list[tuple[tuple[tuple[str, str], ...], float, int]]:
    """Lines of ``{a="b", c="d"} <value %g> <timestamp>`` -> (labels, value, ts)."""
    rows = []
    for line in text.splitlines():
        assert line[0] == "{", line
        i, lbls = 1, []
        while line[i] != "}":
            m = re.compile(r"([^=]+)=").match(line, i)
            name = m.group(1)
            value, i = _go_unquote(line, m.end())
            lbls.append((name, value))
            if line[i] == ",":
                i += 2
        v, t = line[i + 2 :].split(" ")
        rows.append((tuple(lbls), float(v), int(t)))
    return rows


def xor_chunks(ts, vs, per=120):
    return [
        ChunkMeta(
            int(ts[a]),
            int(ts[min(a + per, len(ts)) - 1]),
            1,
            encode_xor(ts[a : a + per], vs[a : a + per]),
        )
        for a in range(0, len(ts), per)
    ]


def our_series():
    """Sorted series with awkward labels and values (NaN, ±Inf, -0, stale NaN, huge, tiny)."""
    rng = np.random.default_rng(5)
    out = []
    values = ["plain", 'quo"te', "new\nline", "back\\slash", "ünïcødé 🦜", "tab\tx"]
    for i, v in enumerate(values):
        n = 50 + 97 * i
        ts = T0 + np.cumsum(rng.integers(1, 10_000, n)).astype(np.int64)
        vs = rng.normal(0, 10.0 ** rng.integers(-5, 15), n)
        vs[::7] = np.round(vs[::7])
        vs[3], vs[4], vs[5], vs[6] = np.nan, np.inf, -np.inf, -0.0
        vs[8], vs[9] = STALE_NAN, 5e-324
        out.append(
            ((("__name__", "m_" + "ab"[i % 2]), ("i", str(i)), ("v", v)), xor_chunks(ts, vs))
        )
    return sorted(out)


def same_float(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b and math.copysign(1, a) == math.copysign(1, b)


# --------------------------------------------------------------------------- our blocks -> promtool


@pytest.fixture(scope="module")
def our_data_dir(tmp_path_factory):
    data = tmp_path_factory.mktemp("data")
    series = our_series()
    write_block(str(data), series, T0, T0 + 7_200_000 - 1)
    # promtool 2.42's dump replays the head WAL and fails without a wal/ dir; every
    # Prometheus (and promlite) data dir has one.
    os.makedirs(data / "wal")
    return str(data), series


def test_promtool_analyze_reads_our_block(promtool, our_data_dir):
    data, series = our_data_dir
    out = run(promtool, "tsdb", "analyze", data)
    assert re.search(r"^Series: (\d+)$", out, re.M).group(1) == str(len(series))
    assert re.search(r"^Label names: (\d+)$", out, re.M).group(1) == "3"
    pairs = {p for lbls, _ in series for p in lbls}
    assert re.search(r"^Postings \(unique label pairs\): (\d+)$", out, re.M).group(1) == str(
        len(pairs)
    )


def test_promtool_dump_prints_our_samples(promtool, our_data_dir):
    data, series = our_data_dir
    rows = parse_dump(run(promtool, "tsdb", "dump", data))
    want = []
    for lbls, chunks in series:
        for c in chunks:
            ts, vs = decode_xor(c.data)
            want += [(lbls, float(v), int(t)) for t, v in zip(ts, vs, strict=True)]
    assert len(rows) == len(want) > 1000
    for got, exp in zip(rows, want, strict=True):
        assert got[0] == exp[0] and got[2] == exp[2] and same_float(got[1], exp[1]), (got, exp)


# --------------------------------------------------------------------------- promtool blocks -> us


def openmetrics_input():
    """A few series over 5 hours: decimals, NaN/±Inf, -0, a gap (series gone for 40 min)."""
    t0 = T0 // 1000
    samples: dict[tuple, list[tuple[int, str]]] = {}
    rng = np.random.default_rng(9)
    for step in range(0, 5 * 3600, 30):
        t = t0 + step
        samples.setdefault((("__name__", "req_total"), ("code", "200")), []).append(
            (t, str(step * 3))
        )
        v = repr(float(np.round(rng.normal(50, 20), 2)))
        if step == 300:
            v = "NaN"
        elif step == 330:
            v = "+Inf"
        elif step == 360:
            v = "-Inf"
        elif step == 390:
            v = "-0.0"
        samples.setdefault((("__name__", "temp"), ("room", 'a "big"\nroom ü')), []).append((t, v))
        if not 3600 <= step < 6000:  # disappears, comes back
            samples.setdefault((("__name__", "flappy"),), []).append((t, repr(rng.random() * 1e-9)))
    lines = ["# TYPE req_total counter", "# TYPE temp gauge", "# TYPE flappy gauge"]
    for lbls, rows in samples.items():
        name = dict(lbls)["__name__"]
        rest = ",".join(f'{n}="{v}"'.replace("\n", "\\n") for n, v in lbls if n != "__name__")
        rest = rest.replace('"big"', '\\"big\\"')
        for t, v in rows:
            lines.append(f"{name}{{{rest}}} {v} {t}" if rest else f"{name} {v} {t}")
    return "\n".join(lines) + "\n# EOF\n", samples


@pytest.fixture(scope="module")
def promtool_blocks(promtool, tmp_path_factory):
    d = tmp_path_factory.mktemp("om")
    text, samples = openmetrics_input()
    (d / "in.om").write_text(text)
    out = d / "out"
    run(promtool, "tsdb", "create-blocks-from", "openmetrics", str(d / "in.om"), str(out))
    blocks = sorted(str(p) for p in out.iterdir())
    assert len(blocks) >= 3  # 5 hours spread over 2h blocks
    return blocks, samples


def test_we_read_promtool_blocks_exactly(promtool_blocks):
    blocks, samples = promtool_blocks
    got: dict[tuple, list[tuple[int, float]]] = {}
    for path in blocks:
        with Block.open(path) as b:
            b.verify()
            n = 0
            for s in b.select([Matcher.re("__name__", ".+")], b.min_time, b.max_time - 1):
                assert s.deleted == []
                for c in s.chunks:
                    assert c.encoding == 1
                    ts, vs = decode_xor(c.data)
                    assert (ts[0], ts[-1]) == (c.mint, c.maxt)
                    assert b.min_time <= c.mint and c.maxt < b.max_time
                    got.setdefault(s.labels, []).extend(zip(ts.tolist(), vs.tolist(), strict=True))
                    n += len(ts)
            assert n == b.meta.num_samples
    assert set(got) == set(samples)
    for lbls, rows in samples.items():
        exp = [(t * 1000, float(v)) for t, v in rows]
        assert [t for t, _ in got[lbls]] == [t for t, _ in exp]
        for (_, a), (_, e) in zip(got[lbls], exp, strict=True):
            assert same_float(a, e), (lbls, a, e)


def test_rewriting_promtool_blocks_is_byte_identical(promtool_blocks, tmp_path):
    blocks, _ = promtool_blocks
    for path in blocks:
        with Block.open(path) as b:
            series = []
            for ref in b.all_postings().tolist():
                lbls, crefs = b.series(ref)
                series.append(
                    (lbls, [ChunkMeta(c.mint, c.maxt, *map(_own, b.chunk(c.ref))) for c in crefs])
                )
            ours = write_block(str(tmp_path), series, b.min_time, b.max_time - 1, ulid=b.ulid)
        for name in ["index", "tombstones", "meta.json"] + [
            os.path.join("chunks", f) for f in sorted(os.listdir(os.path.join(path, "chunks")))
        ]:
            with (
                open(os.path.join(path, name), "rb") as f1,
                open(os.path.join(ours, name), "rb") as f2,
            ):
                assert f1.read() == f2.read(), f"{name} of {os.path.basename(path)} differs"


def _own(x):
    return bytes(x) if isinstance(x, memoryview) else x
