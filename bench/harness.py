"""Measuring: warm-up, repeated runs, median and spread; whole-process CPU and peak RSS.

Strategy: a figure is never one run. ``repeat`` calls a function ``warmup``
times untimed (page cache, lazy imports, first-use allocations) and then ``runs``
times, and keeps every run, so the report can show the median and the
spread (min..max) instead of a lucky best. Wall time and the calling
process's CPU time (all threads: WAL sync timers, kernels running without the GIL) are both recorded: the machine is shared, and CPU time is
what the code costs while wall time is what a user waits.

Memory and CPU of a *whole process* come from the OS, not from Python's
allocator: ``run_isolated`` runs a function in a fresh interpreter
(``python -m bench.harness MODULE:FUNC``, arguments as JSON on stdin); at
exit the child reports ``resource.getrusage(RUSAGE_SELF)``: user+system CPU
seconds of all its threads, and its ``VmHWM`` (peak RSS) from /proc --
not ``ru_maxrss``, which Linux carries over from the forking parent -- so
the figure includes the interpreter, numpy and compiled kernels. Peers
(Prometheus, VictoriaMetrics) are read from ``/proc/PID`` while they run
(``proc_stats``).

Invariant: a child that fails raises ``MeasureError`` with its stderr tail;
nothing is silently turned into a zero.
"""

from __future__ import annotations

import importlib
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any


class MeasureError(RuntimeError):
    """A measurement could not be taken (child crashed, timed out, peer failed)."""


@dataclass
class Stat:
    """One figure over several runs. ``values`` keeps every run, in order."""

    values: list[float]
    unit: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def lo(self) -> float:
        return min(self.values)

    @property
    def hi(self) -> float:
        return max(self.values)

    @property
    def spread_pct(self) -> float:
        """Half the min..max range relative to the median, in percent."""
        m = self.median
        return 0.0 if m == 0 else 50.0 * (self.hi - self.lo) / abs(m)

    def scaled(self, f: Callable[[float], float], unit: str) -> Stat:
        """The same runs through a monotonic transform (e.g. seconds -> samples/s)."""
        return Stat([f(v) for v in self.values], unit)

    def to_json(self) -> dict[str, Any]:
        return {"median": self.median, "min": self.lo, "max": self.hi, "runs": len(self.values),
                "unit": self.unit, "values": self.values}


def repeat(fn: Callable[[], Any], *, runs: int = 5, warmup: int = 1,
           max_seconds: float | None = None) -> tuple[Stat, Stat]:
    """Wall and process-CPU seconds of ``fn()`` over ``runs`` timed runs after ``warmup``.

    ``max_seconds`` bounds the timed loop: once exceeded, no further run starts
    (at least one run is always taken), so a slow case cannot eat the budget.
    """
    for _ in range(warmup):
        fn()
    wall: list[float] = []
    cpu: list[float] = []
    t_start = time.perf_counter()
    for _ in range(max(runs, 1)):
        c0 = time.process_time()
        t0 = time.perf_counter()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        if max_seconds is not None and time.perf_counter() - t_start > max_seconds:
            break
    return Stat(wall, "s"), Stat(cpu, "s")


@dataclass
class ProcStats:
    """Whole-process figures from the OS."""

    cpu_s: float
    peak_rss_bytes: int
    wall_s: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def run_isolated(target: str, kwargs: dict[str, Any], *, timeout_s: float = 600,
                 env: dict[str, str] | None = None) -> tuple[Any, ProcStats]:
    """Run ``target`` ("module:function") with ``kwargs`` in a fresh interpreter.

    Returns the function's JSON-able result and the child's CPU time and peak
    RSS as the kernel accounted them. The child must not spawn grandchildren
    whose cost should count: ``getrusage(RUSAGE_SELF)`` covers the child only.
    """
    cmd = [sys.executable, "-m", "bench.harness", target]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, cwd=_repo_root())
    try:
        out, err = proc.communicate(json.dumps(kwargs).encode(), timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise MeasureError(f"{target}: timed out after {timeout_s:.0f} s") from None
    # The child reports its own rusage and VmHWM at exit (last stdout line).
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        tail = err.decode(errors="replace").strip().splitlines()[-5:]
        raise MeasureError(f"{target} exited {proc.returncode}: " + " | ".join(tail))
    payload = json.loads(out.decode().strip().splitlines()[-1])
    return payload["result"], ProcStats(payload["cpu_s"], payload["peak_rss_bytes"], wall)


def run_command(cmd: list[str], *, timeout_s: float = 1200) -> ProcStats:
    """Run an external program; CPU from ``wait4``'s rusage, peak RSS from its VmHWM.

    VmHWM is polled every 20 ms while the program runs (it only grows, so
    the last reading is within one poll of the true peak). Raises
    ``MeasureError`` on a non-zero exit or past ``timeout_s``.
    """
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = [0]
    done = threading.Event()

    def poll() -> None:
        while not done.wait(0.02):
            try:
                peak[0] = max(peak[0], proc_stats(proc.pid)[2])
            except (OSError, ValueError, IndexError):
                pass

    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    killer = threading.Timer(timeout_s, proc.kill)
    killer.start()
    try:
        err = proc.stderr.read()
        _, status, ru = os.wait4(proc.pid, 0)
    finally:
        killer.cancel()
        done.set()
        watcher.join()
        proc.stderr.close()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise MeasureError(f"{os.path.basename(cmd[0])} exited {proc.returncode}: "
                           f"{err[-300:].decode(errors='replace')}")
    return ProcStats(ru.ru_utime + ru.ru_stime, peak[0], time.perf_counter() - t0)


def _repo_root() -> str:
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def proc_stats(pid: int) -> tuple[float, int, int]:
    """CPU seconds, current RSS and peak RSS (VmHWM) of a live process, from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime (fields 14, 15)
    rss = hwm = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) * 1024
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) * 1024
    return cpu, rss, hwm


def rss_bytes() -> int:
    """Current RSS of this process."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _child_main(target: str) -> None:
    import resource

    kwargs = json.loads(sys.stdin.read() or "{}")
    mod_name, func_name = target.split(":")
    result = getattr(importlib.import_module(mod_name), func_name)(**kwargs)
    ru = resource.getrusage(resource.RUSAGE_SELF)
    sys.stdout.flush()
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the forking parent
    # (a large benchmark process), VmHWM belongs to this program's own memory.
    print("\n" + json.dumps({"result": result, "cpu_s": ru.ru_utime + ru.ru_stime,
                             "peak_rss_bytes": proc_stats(os.getpid())[2]}))


if __name__ == "__main__":
    _child_main(sys.argv[1])
