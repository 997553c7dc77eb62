"""Prometheus's on-disk block format: write and read ``<ulid>/{meta.json, index, chunks/, tombstones}``.

Blocks written here are read by Prometheus and promtool, and Prometheus's
blocks are read here (index format v2, chunk segments v1, tombstones v1).
See docs/format/block.md and docs/format/index.md for the byte layouts.

Modules, one job each:

* ``ulid``          block identifiers
* ``meta``          meta.json
* ``chunkfile``     chunk segment files (``ChunkMeta``, ``ChunkRef``, writer, reader)
* ``index_writer``  / ``index_reader``  the index file
* ``postings``      label matchers -> series refs
* ``tombstones``    deleted ranges
* ``writer``        ``write_block``: a sorted series stream -> a block directory
* ``reader``        ``Block``: an opened block
* ``encoding`` / ``fsutil``  varints and durable file operations
"""

from ..postings import postings_for_matchers
from .chunkfile import ENCODING_XOR, ChunkMeta, ChunkRef
from .meta import BlockDesc, BlockMeta, BlockStats, Compaction, read_meta
from .reader import Block, BlockChunk, SeriesChunks
from .tombstones import read_tombstones, write_tombstones
from .ulid import is_ulid, new_ulid
from .writer import TMP_SUFFIX, InvalidBlockInputError, write_block

__all__ = [
    "ENCODING_XOR",
    "TMP_SUFFIX",
    "Block",
    "BlockChunk",
    "BlockDesc",
    "BlockMeta",
    "BlockStats",
    "ChunkMeta",
    "ChunkRef",
    "Compaction",
    "InvalidBlockInputError",
    "SeriesChunks",
    "is_ulid",
    "new_ulid",
    "postings_for_matchers",
    "read_meta",
    "read_tombstones",
    "write_block",
    "write_tombstones",
]
