"""WAL under failure: a file-size limit, a full disk, and SIGKILL mid-stream.

Each scenario checks the WAL's promise: every commit acknowledged (``log``
returned) before the failure replays after reopening, and the log stays valid.
Where the WAL survived the failure (a full disk), the segment holds exactly
the bytes of the acknowledged commits: the failed write left nothing behind.
"""

from __future__ import annotations

import inspect
import os
import random
import signal
import subprocess
import sys
import textwrap
import uuid

import pytest

from tsdb.errors import StorageFullError
from tsdb.wal.frames import PAGE_SIZE, compress_record, list_segments, pack_records, segment_name
from tsdb.wal.segments import WAL

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_child(code: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True, text=True, timeout=timeout, cwd=REPO,
    )


def commit(i: int, size: int = 300) -> tuple[bytes, ...]:
    """Commit i: three records, so a half-written commit would be visible.

    The first is compressible (snappy), the others are random bytes of ``size``.
    """
    import random

    rnd = random.Random(i)
    return (b"commit-%06d-part-0:" % i + b"x" * size,) + tuple(
        b"commit-%06d-part-%d:" % (i, k) + rnd.randbytes(size) for k in (1, 2)
    )


COMMIT_SRC = inspect.getsource(commit)  # the child processes run the same definition


def segment_bytes(records: list[bytes], compress: bool = True) -> bytes:
    """What a segment holding ``records`` (written from its start, then closed) must contain."""
    data = pack_records([compress_record(r) if compress else (r, False) for r in records], 0)
    return data + bytes(-len(data) % PAGE_SIZE)


# ----------------------------------------------------------------- file-size limit

RLIMIT_CHILD = """
    import os, resource, signal, sys
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG instead of being killed
    from tsdb.errors import StorageFullError
    from tsdb.wal.segments import WAL

    d, limit, segment_size, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    w = WAL.open(d, segment_size=segment_size, sync="always")
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    i = 0
    try:
        while i < 10_000:
            w.log(*commit(i, size))
            seg = os.path.join(d, "%08d" % w.current_segment)
            print("ack", i, os.path.getsize(seg), flush=True)
            i += 1
    except StorageFullError as e:
        print("full", e.errno, os.path.getsize(e.filename), e.filename, flush=True)
    # Space comes back: the same WAL keeps working after the failed commit.
    resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))
    w.log(*commit(i, size))
    print("ack", i, -1, flush=True)
    w.close()
"""


@pytest.mark.parametrize(
    "size, limit",
    [(300, 10_000), (3 * PAGE_SIZE // 2, 10 * PAGE_SIZE + 1234)],
    ids=["small-records", "records-spanning-pages"],
)
def test_file_size_limit_raises_storage_full(tmp_path, size, limit):
    d = str(tmp_path / "wal")
    segment_size = 1 << 20  # RLIMIT_FSIZE is per file: it must bite inside one segment
    res = run_child(COMMIT_SRC + textwrap.dedent(RLIMIT_CHILD), d, str(limit), str(segment_size), str(size))
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    full = [ln for ln in lines if ln.startswith("full")]
    assert len(full) == 1, res.stdout
    _, err, size_after_failure, filename = full[0].split(" ", 3)
    assert int(err) in (27, 28)  # EFBIG / ENOSPC
    assert filename == os.path.join(d, segment_name(0))
    acks = [ln.split() for ln in lines if ln.startswith("ack")]
    acked = [int(a[1]) for a in acks]
    assert acked == list(range(len(acked))) and len(acked) >= 3
    # The failed commit was cut off again: the file ends where the last acknowledged one did,
    # and those bytes are exactly the acknowledged records, fragment for fragment.
    assert int(size_after_failure) == int(acks[-2][2])
    before_failure = [r for i in acked[:-1] for r in commit(i, size)]
    assert int(size_after_failure) == len(pack_records([compress_record(r) for r in before_failure], 0))
    check_replay(d, acked, size)


def check_replay(d: str, acked: list[int], size: int = 300) -> None:
    with WAL.open(d) as w:
        got = [p for _, p in w.replay()]
    want = [r for i in acked for r in commit(i, size)]
    assert got == want
    assert list_segments(d) == [0]
    with open(os.path.join(d, segment_name(0)), "rb") as f:
        assert f.read() == segment_bytes(want)


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
    w = WAL.open(d, segment_size=2 * PAGE_SIZE, sync="always")
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
    acked_records = [r for i in acked for r in commit(i)]
    assert kept == acked_records[len(acked_records) - len(kept):]  # a suffix of what was acknowledged


def test_full_tmpfs_keeps_every_acknowledged_commit(small_tmpfs):
    d = os.path.join(small_tmpfs, "wal")
    w = WAL.open(d, segment_size=1 << 20, sync="always")
    acked = []
    with pytest.raises(StorageFullError):
        for i in range(10_000):
            w.log(*commit(i))
            acked.append(i)
    size_at_failure = os.path.getsize(os.path.join(d, segment_name(0)))
    want = [r for i in acked for r in commit(i)]
    assert size_at_failure == len(pack_records([compress_record(r) for r in want], 0))
    w.close()  # padding the last page may fail on the full disk: the records are whole either way
    with WAL.open(d) as w2:
        assert [p for _, p in w2.replay()] == want


# ----------------------------------------------------------------- kill -9

KILL_CHILD = """
    import random, sys
    from tsdb.wal.segments import WAL
    d, size = sys.argv[1], int(sys.argv[2])
    w = WAL.open(d, segment_size=4 * 32768, sync="always")
    i = 0
    while True:
        w.log(b"n=%d;" % i + random.Random(i).randbytes(size), b"n=%d;second" % i)
        sys.stdout.write(f"{i}\\n")
        sys.stdout.flush()
        i += 1
"""


@pytest.mark.parametrize("size", [200, 50_000], ids=["small", "spanning-pages"])
def test_kill9_keeps_acknowledged_commits(tmp_path, size):
    d = str(tmp_path / "wal")
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(KILL_CHILD), d, str(size)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO)
    try:
        for k in range(40):  # let it run for 40 acknowledged commits, then kill it mid-stream
            line = proc.stdout.readline()
            assert line == b"%d\n" % k, proc.stderr.read() if not line else line
    finally:
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    acked = list(range(40)) + [int(ln) for ln in out.split(b"\n")[:-1]]  # a cut-off last line is not an ack
    assert acked == list(range(len(acked)))
    with WAL.open(d) as w:
        got = [p for _, p in w.replay()]
        assert len(w.segments()) > 1 or size == 200
        w.log(b"after the crash")
    # Every acknowledged commit is there, whole, in order; at most one more (maybe half of it).
    n = len(acked)
    assert 2 * n <= len(got) <= 2 * n + 2, (len(got), n)
    for i, p in enumerate(got):
        k = i // 2
        assert p == (b"n=%d;" % k + random.Random(k).randbytes(size) if i % 2 == 0 else b"n=%d;second" % k)
    with WAL.open(d) as w:
        assert [p for _, p in w.replay()] == got + [b"after the crash"]
