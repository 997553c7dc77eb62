"""WAL under failure: a full disk, a file-size limit, and SIGKILL mid-stream.

Each scenario checks the WAL's promise: every record acknowledged (``log``
returned) before the failure replays after reopening, and the log stays valid.
"""

from __future__ import annotations

import inspect
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid

import pytest

from tsdb.errors import StorageFullError
from tsdb.wal.frames import FRAME_HEADER_SIZE, list_segments, segment_name
from tsdb.wal.segments import WAL

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_child(code: str, *args: str, timeout: float = 20) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True, text=True, timeout=timeout, cwd=REPO,
    )


def commit(i: int) -> tuple[bytes, ...]:
    """Commit i: three records, so a half-written commit would be visible."""
    return tuple(b"commit-%06d-part-%d:" % (i, k) + b"x" * 300 for k in range(3))


COMMIT_SRC = inspect.getsource(commit)  # the child processes run the same definition


# ----------------------------------------------------------------- file-size limit

RLIMIT_CHILD = """
    import resource, signal, sys
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG instead of being killed
    from tsdb.errors import StorageFullError
    from tsdb.wal.segments import WAL

    d, limit, segment_size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    w = WAL.open(d, segment_size=segment_size, sync="always")
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    i = 0
    try:
        while i < 10_000:
            w.log(*commit(i))
            print("ack", i, flush=True)
            i += 1
    except StorageFullError as e:
        import os
        print("full", e.errno, os.path.getsize(e.filename), e.filename, flush=True)
    # Space comes back: the same WAL keeps working after the failed commit.
    resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))
    w.log(*commit(i))
    print("ack", i, flush=True)
    w.close()
"""


def check_replay(d: str, acked: list[int]) -> None:
    with WAL.open(d) as w:
        got = [p for _, p in w.replay()]
    want = [r for i in acked for r in commit(i)]
    assert got == want
    total = sum(os.path.getsize(os.path.join(d, segment_name(s))) for s in list_segments(d))
    assert total == sum(FRAME_HEADER_SIZE + len(r) for r in want)


def test_file_size_limit_raises_storage_full(tmp_path):
    d = str(tmp_path / "wal")
    limit = 10_000  # not a multiple of the commit size: the failing write is partial
    segment_size = 1 << 20  # RLIMIT_FSIZE is per file: it must bite inside one segment
    res = run_child(COMMIT_SRC + textwrap.dedent(RLIMIT_CHILD), d, str(limit), str(segment_size))
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    full = [ln for ln in lines if ln.startswith("full")]
    assert len(full) == 1, res.stdout
    _, err, size_after_failure, filename = full[0].split(" ", 3)
    assert int(err) in (27, 28)  # EFBIG / ENOSPC
    assert filename.startswith(d) and os.path.basename(filename).isdigit()
    acked = [int(ln.split()[1]) for ln in lines if ln.startswith("ack")]
    assert len(acked) >= 3
    # The failed commit was cut off again: the file ends on the last acknowledged frame.
    frames = sum(FRAME_HEADER_SIZE + len(r) for i in acked[:-1] for r in commit(i))
    assert int(size_after_failure) == frames
    assert acked == list(range(len(acked)))
    check_replay(d, acked)


# ----------------------------------------------------------------- full tmpfs


@pytest.fixture
def small_tmpfs(tmp_path):
    mnt = tmp_path / f"tmpfs-{uuid.uuid4().hex[:8]}"
    mnt.mkdir()
    try:
        res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)],
                             capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as e:
        pytest.skip(f"cannot mount tmpfs: {e}")
    if res.returncode != 0:
        pytest.skip(f"cannot mount tmpfs: {res.stderr.decode(errors='replace').strip()}")
    try:
        yield str(mnt)
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True, timeout=10)


def test_full_tmpfs_raises_storage_full(small_tmpfs):
    d = os.path.join(small_tmpfs, "wal")
    w = WAL.open(d, segment_size=64 * 1024, sync="always")
    acked = []
    with pytest.raises(StorageFullError) as ei:
        for i in range(10_000):
            w.log(*commit(i))
            acked.append(i)
    assert ei.value.filename.startswith(d)
    assert len(acked) > 10
    # Still usable once space is freed: drop the oldest segment and log again.
    w.truncate_before(w.segments()[1])
    w.close()
    with WAL.open(d) as w2:
        first = w2.segments()[0]
        kept = [p for s, p in w2.replay()]
    assert kept  # the surviving segments replay cleanly
    assert first > 0
    w3 = WAL.open(d)
    w3.log(*commit(99_999))
    w3.close()
    with WAL.open(d) as w4:
        got = [p for _, p in w4.replay()]
    assert got[-3:] == list(commit(99_999)) and got[:-3] == kept
    assert set(got[:-3]) <= {r for i in acked for r in commit(i)}


def test_full_tmpfs_keeps_every_acknowledged_commit(small_tmpfs):
    d = os.path.join(small_tmpfs, "wal")
    w = WAL.open(d, segment_size=1 << 20, sync="always")
    acked = []
    with pytest.raises(StorageFullError):
        for i in range(10_000):
            w.log(*commit(i))
            acked.append(i)
    w.close()
    check_replay(d, acked)


# ----------------------------------------------------------------- kill -9

KILL_CHILD = """
    import sys
    from tsdb.wal.segments import WAL
    w = WAL.open(sys.argv[1], segment_size=64 * 1024, sync="always")
    i = 0
    while True:
        w.log(b"n=%d;" % i + b"p" * 200, b"n=%d;second" % i)
        sys.stdout.write(f"{i}\\n")
        sys.stdout.flush()
        i += 1
"""


def test_kill9_keeps_acknowledged_records(tmp_path):
    d = str(tmp_path / "wal")
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(KILL_CHILD), d],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO)
    try:
        first = proc.stdout.readline()  # started and acknowledged one commit
        assert first == b"0\n", proc.stderr.read() if not first else first
        time.sleep(0.5)
    finally:
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    acked = [0] + [int(ln) for ln in out.split(b"\n")[:-1]]  # a cut-off last line is not an ack
    assert acked == list(range(len(acked))) and len(acked) > 5
    with WAL.open(d) as w:
        got = [p for _, p in w.replay()]
    # Every acknowledged commit is there, whole; at most one more may have made it.
    n = len(acked)
    assert len(got) in (2 * n, 2 * n + 2), (len(got), n)
    for i in range(len(got) // 2):
        assert got[2 * i] == b"n=%d;" % i + b"p" * 200
        assert got[2 * i + 1] == b"n=%d;second" % i
