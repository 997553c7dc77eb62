"""Write-ahead log of the head: every committed batch is logged before it is acknowledged.

Three layers, one job each (see docs/format/wal.md):

* :mod:`.records` — Prometheus's record codec, pure functions (arrays <-> bytes);
* :mod:`.frames` / :mod:`.segments` — Prometheus's segment files: 32 KiB pages,
  fragments with CRC32C, snappy; appending with an fsync policy, replay, torn tails;
* :mod:`.checkpoint` — folding old segments into a compact checkpoint.

Typical start-up::

    wal = WAL.open(path)
    for _segment, payload in wal.replay():
        rec = decode_record(payload)   # SeriesRecord | SamplesRecord | TombstonesRecord
        ...                            # rebuild the head
    wal.log(encode_series(new_refs, new_labels), encode_samples(refs, ts, vs))  # one commit
"""

from .checkpoint import checkpoint
from .records import (
    ExemplarsRecord,
    MetadataRecord,
    OpaqueRecord,
    Record,
    RecordType,
    SamplesRecord,
    SeriesRecord,
    TombstonesRecord,
    decode_record,
    encode_samples,
    encode_series,
    encode_tombstones,
)
from .segments import DEFAULT_SEGMENT_SIZE, WAL, SyncMode

__all__ = [
    "WAL",
    "DEFAULT_SEGMENT_SIZE",
    "SyncMode",
    "checkpoint",
    "Record",
    "RecordType",
    "SeriesRecord",
    "SamplesRecord",
    "TombstonesRecord",
    "ExemplarsRecord",
    "MetadataRecord",
    "OpaqueRecord",
    "encode_series",
    "encode_samples",
    "encode_tombstones",
    "decode_record",
]
