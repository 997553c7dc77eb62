"""Shared pieces of the fuzz suite (tests/fuzz/): mutations, guard pages, counters, settings.

* :func:`mutants` turns valid encodings into near-valid ones (bit flips, byte
  changes, truncations, insertions, deletions, splices of other valid inputs):
  most decoder bugs hide one mutation away from a valid file.
* :func:`guarded` places bytes so that the first byte past them is a
  ``PROT_NONE`` page: a compiled decoder that reads out of bounds dies with
  SIGSEGV at once instead of reading stale heap memory silently.
* :func:`tried` counts the inputs each target ran; with ``PROMLITE_FUZZ_COUNTS=<file>``
  the counts are appended to that file (one JSON object a process) when the
  process exits, for the figures of docs/reliability.md.
* :func:`fuzz_settings`: hypothesis settings bounded for CI (``ci`` examples),
  long with ``PROMLITE_SOAK=1`` (``soak`` examples).
"""

from __future__ import annotations

import atexit
import collections
import ctypes
import json
import mmap
import os

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from soak import scaled

COUNTS: collections.Counter[str] = collections.Counter()


def tried(target: str, n: int = 1) -> None:
    COUNTS[target] += n


@atexit.register
def _dump_counts() -> None:
    path = os.environ.get("PROMLITE_FUZZ_COUNTS")
    if path and COUNTS:
        with open(path, "a") as f:
            f.write(json.dumps(dict(COUNTS), sort_keys=True) + "\n")


def fuzz_settings(ci: int, soak: int, **kw) -> settings:
    return settings(
        max_examples=scaled(ci, soak),
        deadline=None,
        database=None,  # nothing written into the checkout; failures print their reproduction
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                               HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture],
        **kw,
    )


# --------------------------------------------------------------------------- mutations

_INTERESTING = [0x00, 0x01, 0x7F, 0x80, 0xFF, 0xFE, 0x0A, 0x22, 0x5C, 0x7B]


@st.composite
def mutants(draw, seeds: list[bytes], max_ops: int = 4) -> bytes:
    """One of ``seeds`` with 0 to ``max_ops`` mutations (0 keeps valid inputs in the mix)."""
    body = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(0, max_ops))):
        op = draw(st.sampled_from(["flip", "set", "truncate", "insert", "delete", "splice", "dup"]))
        n = len(body)
        pos = draw(st.integers(0, n))
        if op == "flip" and n:
            pos = min(pos, n - 1)
            body[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "set" and n:
            pos = min(pos, n - 1)
            body[pos] = draw(st.one_of(st.sampled_from(_INTERESTING), st.integers(0, 255)))
        elif op == "truncate":
            del body[pos:]
        elif op == "insert":
            body[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif op == "delete":
            del body[pos : pos + draw(st.integers(1, 16))]
        elif op == "splice":
            other = draw(st.sampled_from(seeds))
            a = draw(st.integers(0, len(other)))
            b = draw(st.integers(a, len(other)))
            body[pos : pos + draw(st.integers(0, 32))] = other[a:b]
        elif op == "dup" and n:
            b = draw(st.integers(pos, min(n, pos + 64)))
            body[pos:pos] = body[pos:b]
    return bytes(body)


def any_bytes(seeds: list[bytes], max_size: int = 300):
    """Mutated seeds mostly, arbitrary bytes sometimes."""
    return st.one_of(mutants(seeds), mutants(seeds), mutants(seeds), st.binary(max_size=max_size))


# --------------------------------------------------------------------------- guard pages

_PAGE = mmap.PAGESIZE
_PROT_NONE = 0
_libc = ctypes.CDLL(None, use_errno=True)
_libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]


def guarded(data: bytes) -> np.ndarray:
    """A read-only uint8 array of ``data`` that ends right before an inaccessible page."""
    n = len(data)
    pages = (n + _PAGE - 1) // _PAGE + 1
    m = mmap.mmap(-1, pages * _PAGE)
    start = (pages - 1) * _PAGE - n
    m[start : start + n] = data
    probe = ctypes.c_char.from_buffer(m)
    addr = ctypes.addressof(probe)
    del probe
    if _libc.mprotect(addr + (pages - 1) * _PAGE, _PAGE, _PROT_NONE) != 0:
        raise OSError(ctypes.get_errno(), "mprotect failed")
    arr = np.frombuffer(m, dtype=np.uint8, count=n, offset=start)
    arr.flags.writeable = False
    return arr


class LastInput:
    """Keeps the input under test in a file, so that a crash of the process leaves it behind."""

    def __init__(self, path: str | None):
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600) if path else None

    def __call__(self, target: str, data: bytes) -> None:
        if self.fd is not None:
            blob = target.encode() + b"\n" + data.hex().encode()
            os.ftruncate(self.fd, 0)
            os.pwrite(self.fd, blob, 0)


class memory_cap:
    """Cap the process's address space at its current size + ``extra`` bytes while inside.

    A decoder that allocates what a corrupt length field claims then fails with MemoryError
    (a test failure naming the input) instead of taking the machine down; the cap is lifted after.
    """

    def __init__(self, extra: int = 2 * 2**30):
        self.extra = extra

    def __enter__(self):
        import resource

        with open("/proc/self/statm") as f:
            size = int(f.read().split()[0]) * _PAGE
        self.old = resource.getrlimit(resource.RLIMIT_AS)
        hard = self.old[1]
        cap = size + self.extra if hard == resource.RLIM_INFINITY else min(hard, size + self.extra)
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
        return self

    def __exit__(self, *exc):
        import resource

        resource.setrlimit(resource.RLIMIT_AS, self.old)
        return False


def bounded(seconds: float = 30.0):
    """Fail one example that runs over ``seconds`` of wall time (a hang), naming its input.

    Put it under ``@given`` (it wraps each example). SIGALRM interrupts Python code only: a
    compiled loop that never returns is caught by the child-process timeout instead.
    """
    import functools
    import signal

    def deco(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            def on_alarm(signum, frame):
                raise TimeoutError(f"one example ran over {seconds} s: a hang?")

            old = signal.signal(signal.SIGALRM, on_alarm)
            signal.setitimer(signal.ITIMER_REAL, seconds)
            try:
                return fn(*args, **kwargs)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, old)

        return wrapper

    return deco
