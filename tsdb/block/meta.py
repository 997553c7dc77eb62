"""``meta.json``: what a block holds and where it came from.

The JSON field names are Prometheus's (``tsdb/block.go``, ``BlockMeta``), so
Prometheus, promtool and Thanos read our blocks and we read theirs::

    {"ulid": "...", "minTime": 0, "maxTime": 7200000,
     "stats": {"numSamples": 1, "numSeries": 1, "numChunks": 1},
     "compaction": {"level": 1, "sources": ["..."]},
     "version": 1}

``minTime`` is inclusive and ``maxTime`` exclusive: the block covers
``[minTime, maxTime)``. Zero stats are omitted (Go's ``omitempty``), as are
empty ``sources``/``parents`` and false flags. Top-level keys we do not know
(Thanos adds ``"thanos"``) are kept in :attr:`BlockMeta.extra` and written
back unchanged.

A missing, unparsable or wrong-version ``meta.json`` raises
:class:`~tsdb.errors.CorruptError` naming the file.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

from ..errors import CorruptError
from ..fsutil import replace_file_atomic
from .ulid import is_ulid

META_FILENAME = "meta.json"
META_VERSION = 1


@dataclass(frozen=True)
class BlockStats:
    num_samples: int = 0
    num_series: int = 0
    num_chunks: int = 0
    num_tombstones: int = 0
    num_float_samples: int = 0
    num_histogram_samples: int = 0


@dataclass(frozen=True)
class BlockDesc:
    """A parent block in a compaction: its ULID and time range (``maxTime`` exclusive)."""

    ulid: str
    min_time: int
    max_time: int


@dataclass(frozen=True)
class Compaction:
    level: int = 1
    sources: tuple[str, ...] = ()
    parents: tuple[BlockDesc, ...] = ()
    deletable: bool = False
    failed: bool = False
    hints: tuple[str, ...] = ()


@dataclass(frozen=True)
class BlockMeta:
    """The contents of ``meta.json``. ``max_time`` is exclusive."""

    ulid: str
    min_time: int
    max_time: int
    stats: BlockStats = field(default_factory=BlockStats)
    compaction: Compaction = field(default_factory=Compaction)
    version: int = META_VERSION
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def desc(self) -> BlockDesc:
        return BlockDesc(self.ulid, self.min_time, self.max_time)

    # Shortcuts for the fields callers use most.
    @property
    def num_samples(self) -> int:
        return self.stats.num_samples

    @property
    def num_series(self) -> int:
        return self.stats.num_series

    @property
    def num_chunks(self) -> int:
        return self.stats.num_chunks

    @property
    def level(self) -> int:
        return self.compaction.level

    @property
    def sources(self) -> tuple[str, ...]:
        return self.compaction.sources

    @property
    def parents(self) -> tuple[str, ...]:
        """ULIDs of the blocks this one was compacted from (``compaction.parents[*].ulid``)."""
        return tuple(p.ulid for p in self.compaction.parents)

    def to_json(self) -> dict[str, Any]:
        stats: dict[str, int] = {}
        for key, value in (
            ("numSamples", self.stats.num_samples),
            ("numFloatSamples", self.stats.num_float_samples),
            ("numHistogramSamples", self.stats.num_histogram_samples),
            ("numSeries", self.stats.num_series),
            ("numChunks", self.stats.num_chunks),
            ("numTombstones", self.stats.num_tombstones),
        ):
            if value:
                stats[key] = value
        comp: dict[str, Any] = {"level": self.compaction.level}
        if self.compaction.sources:
            comp["sources"] = list(self.compaction.sources)
        if self.compaction.deletable:
            comp["deletable"] = True
        if self.compaction.parents:
            comp["parents"] = [
                {"ulid": p.ulid, "minTime": p.min_time, "maxTime": p.max_time}
                for p in self.compaction.parents
            ]
        if self.compaction.failed:
            comp["failed"] = True
        if self.compaction.hints:
            comp["hints"] = list(self.compaction.hints)
        out: dict[str, Any] = {
            "ulid": self.ulid,
            "minTime": self.min_time,
            "maxTime": self.max_time,
            "stats": stats,
            "compaction": comp,
            "version": self.version,
        }
        for k, v in self.extra.items():
            out.setdefault(k, v)
        return out

    @classmethod
    def from_json(cls, doc: Any, path: str | None = None) -> BlockMeta:
        """Build from a parsed ``meta.json``; :class:`CorruptError` on a wrong shape."""
        try:
            if not isinstance(doc, dict):
                raise TypeError("top level is not an object")
            version = doc.get("version")
            if version != META_VERSION:
                raise CorruptError(f"unexpected meta file version {version!r}", path)
            ulid = doc["ulid"]
            if not isinstance(ulid, str) or not is_ulid(ulid):
                raise ValueError(f"bad ulid {ulid!r}")
            st = _obj(doc.get("stats"), "stats")
            stats = BlockStats(
                num_samples=_int(st.get("numSamples", 0)),
                num_series=_int(st.get("numSeries", 0)),
                num_chunks=_int(st.get("numChunks", 0)),
                num_tombstones=_int(st.get("numTombstones", 0)),
                num_float_samples=_int(st.get("numFloatSamples", 0)),
                num_histogram_samples=_int(st.get("numHistogramSamples", 0)),
            )
            c = _obj(doc.get("compaction"), "compaction")
            comp = Compaction(
                level=_int(c.get("level", 1)),
                sources=tuple(str(s) for s in c.get("sources") or ()),
                parents=tuple(
                    BlockDesc(str(p["ulid"]), _int(p["minTime"]), _int(p["maxTime"]))
                    for p in (_obj(p, "parent") for p in c.get("parents") or ())
                ),
                deletable=bool(c.get("deletable", False)),
                failed=bool(c.get("failed", False)),
                hints=tuple(str(h) for h in c.get("hints") or ()),
            )
            known = {"ulid", "minTime", "maxTime", "stats", "compaction", "version"}
            return cls(
                ulid=ulid,
                min_time=_int(doc["minTime"]),
                max_time=_int(doc["maxTime"]),
                stats=stats,
                compaction=comp,
                version=version,
                extra={k: v for k, v in doc.items() if k not in known},
            )
        except CorruptError:
            raise
        except (KeyError, TypeError, ValueError) as e:
            raise CorruptError(f"invalid meta.json: {type(e).__name__}: {e}", path) from None


def _int(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise ValueError(f"expected an integer, got {v!r}")
    if not -(2**63) <= v < 2**63:  # Go's int64: Prometheus refuses the file too
        raise ValueError(f"integer {v} is out of the int64 range")
    return v


def _obj(v: Any, what: str) -> dict:
    """A JSON object field (absent or null: empty); anything else is a wrong shape."""
    if v is None:
        return {}
    if not isinstance(v, dict):
        raise TypeError(f"{what} is not an object: {v!r:.60}")
    return v


def read_meta(block_dir: str) -> BlockMeta:
    """Read ``<block_dir>/meta.json``."""
    path = os.path.join(block_dir, META_FILENAME)
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise CorruptError("meta.json is missing", path) from None
    try:
        doc = json.loads(raw)
    except RecursionError:  # "[[[[..." nested deeper than Python's stack
        raise CorruptError("meta.json is not valid JSON: nested too deeply", path) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        offset = getattr(e, "pos", None) if isinstance(e, json.JSONDecodeError) else e.start
        raise CorruptError(f"meta.json is not valid JSON: {e}", path, offset) from None
    except ValueError as e:  # an integer literal of more than 4300 digits (int_max_str_digits)
        raise CorruptError(f"meta.json is not valid JSON: {e}", path) from None
    return BlockMeta.from_json(doc, path)


def encode_meta(meta: BlockMeta) -> bytes:
    """The file bytes, indented with tabs like Prometheus's ``json.MarshalIndent``."""
    return json.dumps(meta.to_json(), indent="\t", ensure_ascii=False).encode("utf-8")


def write_meta(block_dir: str, meta: BlockMeta) -> int:
    """Atomically (re)write ``<block_dir>/meta.json``; returns its size in bytes."""
    data = encode_meta(meta)
    replace_file_atomic(os.path.join(block_dir, META_FILENAME), data)
    return len(data)
