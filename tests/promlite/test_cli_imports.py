"""Every command imports only what it needs (issue 11: "lean by default").

``promlite --version`` used to import numba, the storage and the PromQL
engine: 2 s of CPU for a version string. Each case runs a command in a fresh
interpreter, which then reports the modules it loaded and its CPU time
(``time.process_time``, interpreter start-up included). The CPU bound is
generous (about 10x what these commands take on a quiet machine, ~0.05-0.1 s)
so that a busy machine does not fail it; the module lists are the real check.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# Runs promlite.cli as ``promlite`` would, then writes what was loaded to the file named in argv[1].
CHILD = textwrap.dedent("""
    import json, runpy, sys, time
    report, block, argv = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
    for name in block:  # makes the module look uninstalled: find_spec gives None, import fails
        sys.modules[name] = None
    sys.argv = ["promlite", *argv]
    code = 0
    try:
        runpy.run_module("promlite.cli", run_name="__main__", alter_sys=True)
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    with open(report, "w") as f:
        json.dump({"modules": sorted(m for m, v in sys.modules.items() if v is not None),
                   "cpu_s": time.process_time(), "code": code}, f)
""")

HEAVY = ("tsdb", "query", "numba", "llvmlite", "matplotlib", "rich", "aiohttp", "bench")
"""Top-level packages no light command may load: storage, engine, JIT, bench-only and HTTP libraries."""

CPU_LIMIT_S = 1.0


def run_cli(tmp_path, argv: list[str], stdin: bytes = b"", block: tuple[str, ...] = ()) -> dict:
    report = tmp_path / "report.json"
    p = subprocess.run([sys.executable, "-c", CHILD, str(report), json.dumps(list(block)), json.dumps(argv)],
                       input=stdin, capture_output=True, timeout=120, cwd=tmp_path,
                       env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1",  # this checkout, installed or not
                            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))})
    out = json.loads(report.read_text())
    out["stdout"], out["stderr"] = p.stdout.decode(), p.stderr.decode()
    return out


def top_level(modules: list[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


@pytest.fixture
def config_file(tmp_path):
    path = tmp_path / "prometheus.yml"
    path.write_text("scrape_configs:\n  - job_name: x\n    static_configs:\n      - targets: ['localhost:9090']\n")
    return str(path)


@pytest.mark.parametrize("argv,also_forbidden", [
    (["--version"], ("numpy", "scraper", "promlite.server")),
    (["--help"], ("numpy", "scraper", "promlite.server")),
    (["tsdb", "--help"], ("numpy", "scraper", "promlite.server")),
], ids=["version", "help", "tsdb-help"])
def test_light_commands_import_nothing_heavy(tmp_path, argv, also_forbidden):
    r = run_cli(tmp_path, argv)
    assert r["code"] == 0, r["stderr"]
    loaded = top_level(r["modules"]) | set(r["modules"])
    assert not loaded & set(HEAVY + also_forbidden), sorted(loaded & set(HEAVY + also_forbidden))
    assert r["cpu_s"] <= CPU_LIMIT_S, r["cpu_s"]


def test_version_prints_the_version(tmp_path):
    from promlite import __version__

    assert run_cli(tmp_path, ["--version"])["stdout"] == f"promlite {__version__}\n"


def test_check_config_loads_no_engine_no_storage_no_numpy(tmp_path, config_file):
    r = run_cli(tmp_path, ["check", "config", config_file])
    assert r["code"] == 0, r["stderr"]
    assert "SUCCESS" in r["stdout"]
    loaded = top_level(r["modules"])
    assert not loaded & {*HEAVY, "numpy"}, sorted(loaded & {*HEAVY, "numpy"})
    assert "promlite.server.app" not in r["modules"]  # the server package's __init__ stays lazy
    assert r["cpu_s"] <= CPU_LIMIT_S, r["cpu_s"]


def test_check_metrics_loads_no_engine_no_storage(tmp_path):
    r = run_cli(tmp_path, ["check", "metrics"], stdin=b"# HELP a_total A.\n# TYPE a_total counter\na_total 1\n")
    assert r["code"] == 0, r["stderr"]
    loaded = top_level(r["modules"])
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))  # numpy is the exposition parser's
    assert r["cpu_s"] <= CPU_LIMIT_S, r["cpu_s"]


@pytest.mark.parametrize("block,what", [
    (("matplotlib",), "matplotlib is missing"),
    (("rich", "matplotlib"), "rich and matplotlib are missing"),
], ids=["matplotlib", "both"])
def test_bench_without_its_extra_says_how_to_install_it(tmp_path, block, what):
    r = run_cli(tmp_path, ["bench", "--quick"], block=block)
    assert r["code"] == 1
    assert "Traceback" not in r["stderr"]
    assert r["stderr"].count("\n") == 1, r["stderr"]  # one line
    assert what in r["stderr"] and "pip install 'promlite[bench]'" in r["stderr"]
    assert not top_level(r["modules"]) & {"bench", "tsdb", "query"}
