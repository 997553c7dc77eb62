"""``promlite tsdb ...`` against promtool's twins on the same input."""

import json
import os
import subprocess
import sys

import pytest

OM = """# TYPE http_requests counter
http_requests_total{code="200",path="/a b"} 1 1700000000.000
http_requests_total{code="200",path="/a b"} 3 1700000015.5
http_requests_total{code="500",path="/x\\"y\\\\z\\n"} 0 1700000000
http_requests_total{code="500",path="/x\\"y\\\\z\\n"} 2 1700007300.25
# TYPE temp gauge
temp{room="a"} NaN 1700000000
temp{room="a"} +Inf 1700000030
temp{room="a"} -Inf 1700000060
temp{room="a"} -0.0 1700000090
temp{room="a"} 1.5e-300 1700014400
# EOF
"""


def promlite(*args, **kw):
    return subprocess.run([sys.executable, "-m", "promlite.cli", *args], capture_output=True, text=True, **kw)


def dump(tool, d):
    os.makedirs(os.path.join(d, "wal"), exist_ok=True)  # promtool 2.42's dump insists on a wal dir
    cmd = [tool, "tsdb", "dump", d] if tool != "promlite" else [sys.executable, "-m", "promlite.cli", "tsdb", "dump", d]
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout


def test_create_blocks_from_openmetrics_matches_promtool(tmp_path, promtool):
    src = tmp_path / "in.om"
    src.write_text(OM)
    ours, theirs = str(tmp_path / "ours"), str(tmp_path / "theirs")
    r = promlite("tsdb", "create-blocks-from", "openmetrics", "--quiet", str(src), ours)
    assert r.returncode == 0, r.stderr
    assert "wrote 3 block(s), 3 series, 9 samples" in r.stdout
    subprocess.run([promtool, "tsdb", "create-blocks-from", "openmetrics", str(src), theirs], check=True,
                   capture_output=True)
    assert dump("promlite", ours) == dump(promtool, theirs)
    # and each tool reads the other's blocks identically
    assert dump(promtool, ours) == dump("promlite", theirs)
    a = subprocess.run([promtool, "tsdb", "analyze", ours], capture_output=True, text=True)
    assert a.returncode == 0, a.stderr


@pytest.mark.parametrize(
    "body, message",
    [
        ('up{a="b"} 1\n# EOF\n', "line 1: sample without a timestamp"),
        ('up{a="b"} 1 1700000000\n', "missing '# EOF'"),
        ('up{a="b" 1 1700000000\n# EOF\n', "line 1:"),
        ('up 1 1700000000\n# EOF\nup 2 1700000001\n', "line 3: content after '# EOF'"),
    ],
    ids=["no-timestamp", "no-eof", "syntax", "after-eof"],
)
def test_create_blocks_rejects_bad_input_with_line(tmp_path, body, message):
    src = tmp_path / "in.om"
    src.write_text(body)
    r = promlite("tsdb", "create-blocks-from", "openmetrics", "--quiet", str(src), str(tmp_path / "out"))
    assert r.returncode == 1
    assert message in r.stderr, r.stderr
    assert not any(n.startswith("01") for n in os.listdir(tmp_path / "out")) if (tmp_path / "out").exists() else True


def test_list_and_analyze(tmp_path):
    src = tmp_path / "in.om"
    src.write_text(OM)
    out = str(tmp_path / "d")
    assert promlite("tsdb", "create-blocks-from", "openmetrics", "--quiet", str(src), out).returncode == 0
    r = promlite("tsdb", "list", out)
    assert r.returncode == 0 and r.stdout.count("\n") == 4, r.stdout
    r = promlite("tsdb", "analyze", out)
    assert r.returncode == 0
    assert "Series: 2" in r.stdout or "Series: 1" in r.stdout
    assert "bytes/sample" in r.stdout
    r = promlite("tsdb", "analyze", str(tmp_path / "missing"))
    assert r.returncode != 0 and "no such directory" in r.stderr


def test_an_unreadable_block_is_reported_and_the_others_listed_and_dumped(tmp_path):
    """Issue 12: ``tsdb list`` stopped at the first bad block; now every readable one is shown."""
    src = tmp_path / "in.om"
    src.write_text(OM)
    out = tmp_path / "d"
    assert promlite("tsdb", "create-blocks-from", "openmetrics", "--quiet", str(src), str(out)).returncode == 0
    blocks = sorted(n for n in os.listdir(out) if n.startswith("01"))
    assert len(blocks) == 3
    meta = out / blocks[0] / "meta.json"
    lost = json.loads(meta.read_text())["stats"]["numSamples"]
    broken = meta.read_bytes().replace(b'"ulid"', b'"ul\x01d"', 1)
    meta.write_bytes(broken)
    r = promlite("tsdb", "list", str(out))
    assert r.returncode == 1
    assert r.stdout.count("\n") == 3 and blocks[0] not in r.stdout and blocks[2] in r.stdout, r.stdout
    assert f"error: unreadable block {out / blocks[0]}" in r.stderr and "meta.json" in r.stderr, r.stderr
    r = promlite("tsdb", "dump", str(out))
    assert r.returncode == 1 and f"unreadable block {out / blocks[0]}" in r.stderr, r.stderr
    assert r.stdout.count("\n") == 9 - lost, r.stdout
    r = promlite("tsdb", "analyze", str(out), blocks[0])
    assert r.returncode == 1 and "unreadable block" in r.stderr
    assert meta.read_bytes() == broken  # reported, never touched
