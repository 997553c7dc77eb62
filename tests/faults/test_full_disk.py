"""A full disk under ``promlite serve`` while it scrapes: it stays up, says why, and keeps what it acknowledged.

Two ways to run out of space, same checks:

* ``test_serve_on_a_full_tmpfs``: the data directory is on an 8 MiB tmpfs
  (``mount -t tmpfs -o size=8m``, unmounted in teardown) that the test fills
  with a file of its own; blocks of one second make head cuts, WAL
  checkpoints and block merges run (and fail) while the disk is full; space
  returns when the test deletes its file. Skips when ``mount`` is not
  permitted, except under ``CI=1`` where the skip would hide the test.
* ``test_serve_with_a_file_size_limit``: ``RLIMIT_FSIZE`` on the running
  server (``prlimit``; Python ignores SIGXFSZ, so writes fail with EFBIG): the
  WAL segment cannot grow; space returns when the limit is lifted. Runs
  anywhere.

Checks: ``/-/healthy`` answers throughout (the server neither dies nor freezes),
queries keep working, each failed scrape commit is an ERROR line naming the
file and the error, ingestion resumes by itself once space is back, and after
a SIGKILL and a restart every sample the API had returned (acknowledged, as in
``test_kill9.py``) is still there. No file holding committed data is cut: a
file present while the disk was full and after the restart is not shorter.

Client aborts are in ``tests/promlite/test_server_clients.py``; the library-level
full-disk tests in ``tests/tsdb/test_wal_crash.py`` and ``tests/tsdb/test_db_faults.py``.
"""

from __future__ import annotations

import errno
import http.client
import http.server
import os
import resource
import signal
import subprocess
import textwrap
import time
import uuid

import counter_target
import pytest
from counter_target import CounterTarget
from serve_proc import ServeProc
from timing import wait_until

N_SERIES = 300


def config(port: int) -> str:
    return textwrap.dedent(f"""\
        global:
          scrape_interval: 100ms
        scrape_configs:
          - job_name: disk
            static_configs:
              - targets: ["127.0.0.1:{port}"]
        """)


def raw_samples(srv: ServeProc) -> dict[tuple[str, int], float]:
    return counter_target.raw_samples(srv, "disk_series")


def sizes(path: str) -> dict[str, int]:
    out = {}
    for root, _dirs, files in os.walk(path):
        for n in files:
            p = os.path.join(root, n)
            try:
                out[os.path.relpath(p, path)] = os.path.getsize(p)
            except FileNotFoundError:  # deleted by a compaction meanwhile
                pass
    return out


def healthy(srv: ServeProc) -> bool:
    try:
        return srv.request("GET", "/-/healthy", timeout=30)[0] == 200
    except (OSError, http.client.HTTPException):
        return False


def commit_errors(srv: ServeProc) -> list[str]:
    return [ln for ln in srv.lines() if "level=ERROR" in ln and "scrape commit of" in ln]


def run_scenario(tmp_path, data: str, fill, free, extra_args: tuple[str, ...], what: str) -> dict:
    """Scrape, fill the disk, watch, free it, kill -9, restart, check. Returns the figures."""
    target = CounterTarget("disk_series", N_SERIES, 1000)
    cfg = config(target.port)
    (tmp_path / "run").mkdir()
    srv = ServeProc(str(tmp_path / "run"), f"--storage.tsdb.path={data}", *extra_args, config=cfg)
    try:
        # a few seconds of data first (with 1 s blocks: head cuts, a checkpoint and blocks on disk)
        acked = wait_until(lambda: (lambda a: a if len(a) >= 25 * N_SERIES else None)(raw_samples(srv)),  # noqa: B023
                           60, srv.text)
        fill(srv)
        wait_until(lambda: commit_errors(srv), 60, srv.text)
        # the disk is full: the server answers, queries work, and each failed commit says why
        full_sizes = sizes(data)
        probes = 0
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            assert healthy(srv), srv.text()
            probes += 1
            time.sleep(0.1)
        acked.update(raw_samples(srv))
        errors = commit_errors(srv)
        assert any(data in ln and ("No space left" in ln or "File too large" in ln)
                   for ln in errors), errors[:3]
        assert srv.alive()
        free(srv)
        # space is back: ingestion resumes without a restart
        n_before = len(acked)
        wait_until(lambda: len(raw_samples(srv)) > n_before + N_SERIES, 60, srv.text)
        acked.update(raw_samples(srv))
        other_errors = [ln for ln in srv.lines() if "level=ERROR" in ln and "scrape commit of" not in ln]
    finally:
        os.kill(srv.p.pid, signal.SIGKILL)
        srv.p.wait(30)
        srv._log.close()
        target.close()
    (tmp_path / "restart").mkdir()
    srv2 = ServeProc(str(tmp_path / "restart"), f"--storage.tsdb.path={data}", *extra_args)
    try:
        now = raw_samples(srv2)
    finally:
        assert srv2.stop() == 0, srv2.text()
    lost = [k for k in acked if k not in now]
    changed = [k for k in acked if k in now and now[k] != acked[k]]
    after = sizes(data)
    shorter = {f: (full_sizes[f], after[f]) for f in full_sizes if f in after and after[f] < full_sizes[f]
               and not f.endswith("lock")}
    figures = {"what": what, "acknowledged": len(acked), "lost": len(lost), "changed": len(changed),
               "failed_commits_logged": len(errors), "health_probes_while_full": probes,
               "other_error_lines": len(other_errors),
               "compaction_failures_logged": sum("compaction failed" in ln for ln in other_errors), "example": errors[0].split("msg=", 1)[-1][:160]}
    print(f"\nFIGURES full disk ({what}): {figures}")
    assert not lost, lost[:10]
    assert not changed, changed[:10]
    assert not shorter, shorter
    assert not [ln for ln in srv2.lines() if "level=ERROR" in ln], srv2.text()
    return figures


@pytest.fixture
def small_tmpfs(tmp_path):
    mnt = tmp_path / f"tmpfs-{uuid.uuid4().hex[:8]}"
    mnt.mkdir()
    try:
        res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mnt)],
                             capture_output=True, timeout=10)
        reason = res.stderr.decode(errors="replace").strip() if res.returncode else None
    except (OSError, subprocess.TimeoutExpired) as e:
        reason = str(e)
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"cannot mount a tmpfs under CI (the full-disk test would be hidden): {reason}")
        pytest.skip(f"cannot mount tmpfs (needs root or CAP_SYS_ADMIN): {reason}")
    try:
        yield str(mnt)
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True, timeout=30)


def test_serve_on_a_full_tmpfs(tmp_path, small_tmpfs):
    data = os.path.join(small_tmpfs, "data")
    filler = os.path.join(small_tmpfs, "filler")

    def fill(_srv):
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            for size in (1 << 20, 1 << 16, 1 << 12, 1):  # down to the last byte
                while True:
                    try:
                        os.write(fd, b"\xff" * size)
                    except OSError as e:
                        assert e.errno == errno.ENOSPC, e
                        break
            # give 64 KiB back: ~30 more scrapes fit, during which head cuts, block writes and
            # checkpoints run out of space half-way (the disk is then full for good)
            os.ftruncate(fd, os.fstat(fd).st_size - 64 * 1024)
        finally:
            os.close(fd)

    def free(_srv):
        os.unlink(filler)

    run_scenario(tmp_path, data, fill, free, ("--storage.tsdb.min-block-duration=1s",), "8 MiB tmpfs, 1 s blocks")


def test_serve_with_a_file_size_limit(tmp_path):
    data = str(tmp_path / "data")

    def fill(srv):
        wal = os.path.join(data, "wal")
        biggest = max(os.path.getsize(os.path.join(wal, n)) for n in os.listdir(wal) if n.isdigit())
        limit = biggest + 64 * 1024
        hard = resource.prlimit(srv.p.pid, resource.RLIMIT_FSIZE)[1]
        resource.prlimit(srv.p.pid, resource.RLIMIT_FSIZE, (limit, hard))  # the soft limit: it can come back

    def free(srv):
        hard = resource.prlimit(srv.p.pid, resource.RLIMIT_FSIZE)[1]
        resource.prlimit(srv.p.pid, resource.RLIMIT_FSIZE, (hard, hard))

    run_scenario(tmp_path, data, fill, free, (), "RLIMIT_FSIZE on the WAL segment")
