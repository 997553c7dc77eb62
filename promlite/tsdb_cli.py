"""``promlite tsdb ...``: tools over a data directory, twins of ``promtool tsdb ...``.

* ``list DIR`` — the blocks, their time ranges and sizes;
* ``analyze DIR [BLOCK]`` — cardinality and compression figures of one block
  (the newest by default), as ``promtool tsdb analyze`` prints them, plus
  bytes per sample;
* ``dump DIR`` — every sample, blocks and head (WAL) alike, as
  ``{labels} value timestamp`` lines;
* ``repair DIR`` — the one command that cuts unreadable data: Prometheus's
  repair (the WAL is cut at its first corruption), after copying every file
  it changes aside;
* ``create-blocks-from openmetrics IN OUT`` — backfill: turn an OpenMetrics
  file into blocks (see :mod:`promlite.backfill`).

``list``, ``analyze`` and ``dump`` open the directory read-only: they take no
lock and change no byte, so they also work on the directory of a running
server (as promtool does). Every failure is one ``error:`` line, exit 1.

The storage is imported inside the commands, not at the top: ``cli.py``
imports this module to register the commands, and ``promlite --version`` must
not load the storage engine.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import sys
from collections import Counter
from typing import TYPE_CHECKING

from .gofmt import format_g

if TYPE_CHECKING:
    from tsdb.block import Block


class CommandError(Exception):
    """A failure the user can act on: printed as one ``error:`` line."""


def _check_dir(path: str) -> None:
    if not os.path.isdir(path):
        raise CommandError(f"{path}: no such directory")


def _blocks(path: str) -> tuple[list[Block], list[str]]:
    """The blocks that open, oldest first, and one line per block directory that does not.

    One unreadable block does not hide the others (the server skips it the
    same way); the commands list what they can and report the rest.
    """
    from tsdb.block import Block, is_ulid
    from tsdb.errors import CorruptError

    _check_dir(path)
    out, bad = [], []
    for name in sorted(os.listdir(path)):
        p = os.path.join(path, name)
        if is_ulid(name) and os.path.exists(os.path.join(p, "meta.json")):
            try:
                out.append(Block.open(p))
            except (CorruptError, OSError, ValueError) as e:
                what = str(e) if isinstance(e, CorruptError) else f"{type(e).__name__}: {e}"
                bad.append(f"unreadable block {p}: {what}")
    return sorted(out, key=lambda b: b.meta.min_time), bad


def _report(bad: list[str]) -> int:
    """Print the unreadable blocks on stderr; exit status 1 when there are any, so scripts notice."""
    for line in bad:
        print(f"error: {line}", file=sys.stderr)
    return 1 if bad else 0


def _ts(ms: int) -> str:
    return _dt.datetime.fromtimestamp(ms / 1000, _dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"


def cmd_list(args: argparse.Namespace) -> int:
    blocks, bad = _blocks(args.dir)
    print(f"{'BLOCK ULID':<28}{'MIN TIME':<26}{'MAX TIME':<26}{'DURATION':<12}{'SAMPLES':>12}{'CHUNKS':>10}{'SERIES':>10}{'SIZE':>14}")
    for b in blocks:
        m, s = b.meta, b.meta.stats
        dur = _dt.timedelta(milliseconds=m.max_time - m.min_time)
        print(f"{m.ulid:<28}{_ts(m.min_time):<26}{_ts(m.max_time):<26}{str(dur):<12}{s.num_samples:>12}{s.num_chunks:>10}{s.num_series:>10}{b.size_bytes():>14}")
    for b in blocks:
        b.close()
    return _report(bad)


def cmd_analyze(args: argparse.Namespace) -> int:
    blocks, bad = _blocks(args.dir)
    if not blocks:
        _report(bad)
        print(f"error: no readable blocks in {args.dir}", file=sys.stderr)
        return 1
    if args.block:
        chosen = [b for b in blocks if b.meta.ulid == args.block]
        if not chosen:
            unreadable = [line for line in bad if args.block in line]
            print(f"error: {unreadable[0]}" if unreadable else f"error: block {args.block} not found in {args.dir}",
                  file=sys.stderr)
            return 1
        block = chosen[0]
    else:
        block = blocks[-1]
    m, s = block.meta, block.meta.stats
    names = block.label_names()
    postings = sum(len(block.label_values(n)) for n in names)
    print(f"Block ID: {m.ulid}")
    print(f"Duration: {_dt.timedelta(milliseconds=m.max_time - m.min_time)}")
    print(f"Series: {s.num_series}")
    print(f"Label names: {len(names)}")
    print(f"Postings (unique label pairs): {postings}")
    print(f"Samples: {s.num_samples}")
    print(f"Chunks: {s.num_chunks}")
    print(f"Size: {block.size_bytes()} bytes ({block.size_bytes() / max(s.num_samples, 1):.3f} bytes/sample)")
    chunk_bytes = block.chunks.size_bytes() if hasattr(block, "chunks") else 0
    if chunk_bytes:
        print(f"Chunk bytes: {chunk_bytes} ({chunk_bytes / max(s.num_samples, 1):.3f} bytes/sample)")
    card = {n: len(block.label_values(n)) for n in names}
    print("\nHighest cardinality labels:")
    for n, c in sorted(card.items(), key=lambda x: (-x[1], x[0]))[: args.limit]:
        print(f"{c} {n}")
    metric_counts = Counter({v: len(block.postings("__name__", v)) for v in block.label_values("__name__")})
    print("\nHighest cardinality metric names:")
    for n, c in sorted(metric_counts.items(), key=lambda x: (-x[1], x[0]))[: args.limit]:
        print(f"{c} {n}")
    for b in blocks:
        b.close()
    return 0


def _quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def cmd_dump(args: argparse.Namespace) -> int:
    """Every sample, series by series across blocks and the head (like ``promtool tsdb dump``)."""
    import tsdb
    from tsdb.matchers import Matcher

    _check_dir(args.dir)
    with tsdb.open(args.dir, read_only=True) as db, db.querier(args.min_time, args.max_time) as q:
        labels, arrs = q.select_arrays(Matcher.re("__name__", ".+"))
        bad = [f"unreadable block {p}: {what}" for p, what in db.skipped_blocks]
    out = sys.stdout
    for i in sorted(range(len(labels)), key=labels.__getitem__):
        text = "{" + ", ".join(f"{n}={_quote(v)}" for n, v in labels[i]) + "}"
        t, v = arrs.series(i)
        out.writelines(f"{text} {format_g(x)} {ts}\n" for ts, x in zip(t.tolist(), v.tolist(), strict=True))
    out.flush()
    return _report(bad)


def cmd_repair(args: argparse.Namespace) -> int:
    """Cut the WAL at its first corruption, as Prometheus's repair does, keeping copies of what changes."""
    import logging

    from tsdb.wal import WAL

    _check_dir(args.dir)
    wal_dir = os.path.join(args.dir, "wal")
    if not os.path.isdir(wal_dir):
        print(f"{args.dir}: no WAL; nothing to repair")
        return 0
    created = not os.path.exists(os.path.join(args.dir, "lock"))
    lock = _take_lock(args.dir)
    try:
        notes: list[str] = []

        class _Collect(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                notes.append(record.getMessage())

        h = _Collect(logging.WARNING)
        logging.getLogger("tsdb.wal").addHandler(h)
        try:
            with WAL.open(wal_dir) as w:
                records = sum(1 for _ in w.replay(repair=True))
        finally:
            logging.getLogger("tsdb.wal").removeHandler(h)
    finally:
        if created:
            os.unlink(os.path.join(args.dir, "lock"))
        os.close(lock)
    for n in notes:
        print(n)
    print(f"{wal_dir}: {records} readable records" + ("" if notes else "; nothing needed repair"))
    return 0


def _take_lock(path: str) -> int:
    """The directory's flock (as the server takes it), so repair never runs beside a server."""
    import fcntl

    fd = os.open(os.path.join(path, "lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise CommandError(f"{path}: the directory is in use by another process (a running server?); stop it first") from None
    return fd


def _guarded(fn):
    """Run a subcommand; a data or file problem becomes one ``error:`` line and exit code 1."""

    def run(args: argparse.Namespace) -> int:
        from tsdb.errors import TSDBError

        try:
            return fn(args)
        except BrokenPipeError:
            raise  # stdout's reader left (`dump | head`): cli.main ends quietly
        except (CommandError, TSDBError, OSError, ValueError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 1

    return run


def cmd_create_blocks(args: argparse.Namespace) -> int:
    from tsdb.errors import TSDBError

    from .backfill import backfill_openmetrics

    try:
        report = backfill_openmetrics(args.input, args.output, max_block_ms=args.max_block_duration_ms,
                                      progress=not args.quiet)
    except (TSDBError, ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(report)
    return 0


def _duration_ms(text: str) -> int:
    units = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
    for u in ("ms", "s", "m", "h", "d", "w"):
        if text.endswith(u) and text[: -len(u)].isdigit():
            return int(text[: -len(u)]) * units[u]
    raise argparse.ArgumentTypeError(f"invalid duration {text!r} (e.g. 2h, 30m)")


def add_tsdb_commands(sub) -> None:
    p = sub.add_parser("tsdb", help="tools for a data directory (like promtool tsdb)")
    tsub = p.add_subparsers(dest="tsdb_command", metavar="COMMAND", required=True)

    lst = tsub.add_parser("list", help="list the blocks of a data directory")
    lst.add_argument("dir", help="data directory")
    lst.set_defaults(func=_guarded(cmd_list))

    an = tsub.add_parser("analyze", help="cardinality and compression of a block")
    an.add_argument("dir", help="data directory")
    an.add_argument("block", nargs="?", help="block ULID (default: the newest)")
    an.add_argument("--limit", type=int, default=20, help="how many items to show in each list")
    an.set_defaults(func=_guarded(cmd_analyze))

    dump = tsub.add_parser("dump", help="print every sample (blocks and head)")
    dump.add_argument("dir", help="data directory")
    dump.add_argument("--min-time", type=int, default=-(2**62), help="ms, inclusive")
    dump.add_argument("--max-time", type=int, default=2**62, help="ms, inclusive")
    dump.set_defaults(func=_guarded(cmd_dump))

    rp = tsub.add_parser(
        "repair",
        help="cut the WAL at its first corruption (copies what it changes to wal.repair-<time>/ first)",
    )
    rp.add_argument("dir", help="data directory (no server may have it open)")
    rp.set_defaults(func=_guarded(cmd_repair))

    cb = tsub.add_parser("create-blocks-from", help="backfill blocks from a file")
    cbsub = cb.add_subparsers(dest="format", metavar="FORMAT", required=True)
    om = cbsub.add_parser("openmetrics", help="from an OpenMetrics text file (samples must have timestamps)")
    om.add_argument("input", help="OpenMetrics file")
    om.add_argument("output", help="data directory to write blocks into")
    om.add_argument("--max-block-duration", dest="max_block_duration_ms", type=_duration_ms, default=2 * 3_600_000,
                    help="largest block to write (default 2h)")
    om.add_argument("--quiet", action="store_true", help="no progress bar")
    om.set_defaults(func=cmd_create_blocks)
