"""Durable file operations: fsync'd writes, directory syncs, atomic replace.

Invariant: a file that a reader can see under its final name is complete and
fsync'd. New content goes to ``<name>.tmp``, is fsync'd, renamed over the old
name, and the directory is fsync'd so that the rename survives a crash (what
Prometheus's ``fileutil.Replace`` does). Rename is atomic on POSIX
filesystems, so a reader sees either the old or the new file, never a mix.
"""

from __future__ import annotations

import os


def fsync_dir(path: str) -> None:
    """fsync a directory so that entries created, renamed or removed in it are durable."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_file_durable(path: str, data: bytes | bytearray) -> None:
    """Create or truncate ``path`` with ``data`` and fsync it (no rename)."""
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def replace_file_atomic(path: str, data: bytes | bytearray) -> None:
    """Replace ``path`` with ``data`` atomically and durably (tmp file, fsync, rename, dir fsync)."""
    tmp = path + ".tmp"
    try:
        write_file_durable(tmp, data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    fsync_dir(os.path.dirname(os.path.abspath(path)))
