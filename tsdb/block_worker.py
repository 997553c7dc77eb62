"""A helper process that writes blocks, so that compaction does not compete with commits for the GIL.

Why a process: writing a block is mostly Python (re-chunking, sorting label
sets, the index and chunk writers walk every series), and CPython runs one
thread's Python at a time. Run in the compactor thread, a block write of
100,000 series stalls every commit made meanwhile by tens to hundreds of
milliseconds, each time the committing thread waits for the interpreter lock
(and for garbage collections the writer's allocations set off), even though
no DB lock is held. In a separate interpreter the same work runs on another
core and commits keep their usual latency.

Protocol: the compactor thread starts a Python running :func:`main` with
two pipe descriptors for one compaction pass (started on the first large job, stopped at the
end of the pass, so it costs no memory between compactions) and talks over
two pipes. A request is a pickled dict, numpy arrays sent out of band (no
copy into the pickle); the answer is ``{"path": ...}`` or the error. Jobs:

* ``head``: a :class:`~tsdb.compact.HeadCut` (chunk bytes gathered into one
  buffer, label sets pickled in batches, so that no single step holds the
  parent's interpreter lock for long) -> :func:`~tsdb.compact.write_cut`;
* ``merge``: block directories -> :func:`~tsdb.compact.write_merged`.

The parent names the block (its ULID), so when it gives up on a job (the DB
is closing, or the worker died) it removes ``<ulid>.tmp`` itself; the next
open removes any ``.tmp`` directory left anyway. The worker must not outlive
its parent and keep writing into a directory that another process may have
opened since: on Linux it asks for SIGKILL when its parent goes
(``PR_SET_PDEATHSIG``), and it inherits the descriptor of the directory's
``flock``, so the directory stays locked for as long as a worker runs.
"""

from __future__ import annotations

import logging
import os
import pickle
import shutil
import signal
import struct
import subprocess
import sys
import threading
import traceback
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from .errors import TSDBError

log = logging.getLogger("tsdb.compact")

#: label sets per pickled batch: each batch holds the parent's interpreter lock for a few ms at most
LABEL_BATCH = 4096

# (not ``-m tsdb.block_worker``: importing the package imports this module, which runpy then warns about)
_WORKER_MAIN = "import sys; from tsdb.block_worker import main; main(sys.argv[1:])"


class WorkerError(TSDBError):
    """The block worker failed a job (the message carries its error), or died."""


# -- framing (both sides) ------------------------------------------------------------


def _send(conn: Connection, obj: Any) -> None:
    bufs: list[pickle.PickleBuffer] = []
    head = pickle.dumps(obj, protocol=5, buffer_callback=bufs.append)
    conn.send_bytes(struct.pack("<I", len(bufs)))
    conn.send_bytes(head)
    for b in bufs:
        conn.send_bytes(b.raw())  # large buffers: one os.write each, without the interpreter lock


def _recv(conn: Connection) -> Any:
    (n,) = struct.unpack("<I", conn.recv_bytes())
    head = conn.recv_bytes()
    return pickle.loads(head, buffers=[conn.recv_bytes() for _ in range(n)])


# -- the parent's side ------------------------------------------------------------------


class BlockWorker:
    """The parent's handle on one worker process (one job at a time; :meth:`kill` from any thread)."""

    def __init__(self, lock_fd: int | None = None) -> None:
        """Start the worker; ``lock_fd`` (the directory's flock) is inherited, see the module doc."""
        if not sys.executable:
            raise OSError("no Python executable to run the block worker (sys.executable is empty)")
        p2c_r, p2c_w = os.pipe()
        c2p_r, c2p_w = os.pipe()
        pkg_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (pkg_root, env.get("PYTHONPATH")) if p)
        keep = (p2c_r, c2p_w) + ((lock_fd,) if lock_fd is not None else ())
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-c", _WORKER_MAIN, str(p2c_r), str(c2p_w), str(os.getpid())],
                pass_fds=keep, stdin=subprocess.DEVNULL, env=env,
            )
        except BaseException:
            os.close(p2c_w)
            os.close(c2p_r)
            raise
        finally:
            os.close(p2c_r)  # the child's ends: the child holds them now
            os.close(c2p_w)
        self._out = Connection(p2c_w, readable=False)
        self._in = Connection(c2p_r, writable=False)
        self._lock = threading.Lock()

    @property
    def pid(self) -> int:
        return self._proc.pid

    def alive(self) -> bool:
        return self._proc.poll() is None

    def write_cut(self, path: str, cut, chunk_samples: int, ulid: str) -> str | None:
        """Write a :class:`~tsdb.compact.HeadCut` in the worker; returns the block directory (None: empty)."""
        from .head_kernels import gather_bytes

        data = np.empty(int(cut.lens.sum()), dtype=np.uint8)
        gather_bytes(cut.arena, cut.offs, cut.lens, data)  # only the window's bytes, contiguous
        offs = np.zeros(len(cut.lens), dtype=np.int64)
        if len(offs):
            np.cumsum(cut.lens[:-1], out=offs[1:])
        flats = cut.flat_labels
        labels = [pickle.dumps(flats[i:i + LABEL_BATCH], protocol=5) for i in range(0, len(flats), LABEL_BATCH)]
        return self._call({
            "op": "head", "dir": path, "ulid": ulid, "chunk_samples": chunk_samples,
            "start": cut.start, "end": cut.end, "refs": cut.refs, "data": data, "offs": offs,
            "lens": cut.lens, "counts": cut.counts, "labels": labels, "tombstones": cut.tombstones,
        })

    def write_merged(self, path: str, block_dirs: list[str], target: int, ulid: str) -> str:
        """Merge the blocks in ``block_dirs`` (oldest first) in the worker; returns the new block directory."""
        return self._call({"op": "merge", "dir": path, "ulid": ulid, "blocks": block_dirs, "target": target})

    def _call(self, request: dict) -> Any:
        with self._lock:
            try:
                _send(self._out, request)
                answer = _recv(self._in)
            except (EOFError, OSError) as e:
                code = self._proc.poll()
                raise WorkerError(
                    f"block worker (pid {self._proc.pid}) died"
                    + (f" with exit status {code}" if code is not None else "") + f": {type(e).__name__}"
                ) from None
        if "error" in answer:
            if answer.get("errno") is not None:  # e.g. ENOSPC: the same error as in-process
                raise OSError(answer["errno"], f"block worker: {answer['error']}")
            raise WorkerError(f"block worker: {answer['error']}\n{answer['traceback']}")
        return answer["path"]

    def kill(self) -> None:
        """Stop the worker now (a job in progress fails with :class:`WorkerError`)."""
        if self._proc.poll() is None:
            self._proc.kill()

    def close(self) -> None:
        """Let the worker exit (closing its input is the signal) and reap it."""
        for c in (self._out, self._in):
            try:
                c.close()
            except OSError:
                pass
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


def remove_tmp(path: str, ulid: str) -> None:
    """Remove the partial directory of an abandoned job."""
    from .block import TMP_SUFFIX

    shutil.rmtree(os.path.join(path, ulid + TMP_SUFFIX), ignore_errors=True)


# -- the worker's side ------------------------------------------------------------------


def _job(req: dict) -> str | None:
    from . import compact as compaction
    from .block import Block

    if req["op"] == "head":
        flats = [f for batch in req["labels"] for f in pickle.loads(batch)]
        cut = compaction.HeadCut(
            req["start"], req["end"], req["refs"], flats, req["data"], req["offs"], req["lens"], req["counts"],
            req["tombstones"],
        )
        return compaction.write_cut(req["dir"], cut, req["chunk_samples"], ulid=req["ulid"])
    if req["op"] == "merge":
        blocks = [Block.open(p) for p in req["blocks"]]
        try:
            return compaction.write_merged(req["dir"], blocks, req["target"], ulid=req["ulid"])
        finally:
            for b in blocks:
                b.close()
    raise ValueError(f"unknown job {req['op']!r}")


def _die_with_parent(parent: int) -> None:
    """Get SIGKILL when the parent exits (Linux); exit now if it already has."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:
        sys.exit(0)


def main(argv: list[str]) -> None:
    """Serve jobs until the parent closes the pipe (or dies)."""
    _die_with_parent(int(argv[2]))
    logging.basicConfig(level=logging.WARNING, format="tsdb.block_worker: %(levelname)s %(message)s")
    conn_in = Connection(int(argv[0]), writable=False)
    conn_out = Connection(int(argv[1]), readable=False)
    while True:
        try:
            req = _recv(conn_in)
        except EOFError:
            return
        try:
            answer: dict = {"path": _job(req)}
        except Exception as e:
            answer = {
                "error": f"{type(e).__name__}: {e}", "errno": getattr(e, "errno", None),
                "traceback": traceback.format_exc(),
            }
        try:
            _send(conn_out, answer)
        except (BrokenPipeError, OSError):
            return

