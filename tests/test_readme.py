"""The README's library example must run as written (docs that lie are defects)."""

import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def python_blocks(path: str) -> list[str]:
    with open(path) as f:
        return re.findall(r"```python\n(.*?)```", f.read(), flags=re.S)


def test_readme_python_examples_run(tmp_path):
    blocks = python_blocks(os.path.join(ROOT, "README.md"))
    assert blocks, "README.md should show a runnable python example"
    for code in blocks:
        r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        assert "http_requests_total" in r.stdout


def test_cli_help_everywhere():
    for args in (["--help"], ["tsdb", "--help"], ["tsdb", "analyze", "--help"], ["tsdb", "dump", "--help"],
                 ["tsdb", "list", "--help"], ["tsdb", "create-blocks-from", "openmetrics", "--help"], ["serve", "--help"]):
        r = subprocess.run([sys.executable, "-m", "promlite.cli", *args], capture_output=True, text=True)
        assert r.returncode == 0, (args, r.stderr)
        assert "usage:" in r.stdout
