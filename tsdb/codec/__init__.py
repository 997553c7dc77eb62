"""Chunk codecs: pure functions from sample arrays to chunk bytes and back.

Codecs know nothing of files (that is the chunk-file layer's job) and the
file layer knows nothing of bits. Each codec is tagged with Prometheus's
encoding byte (``chunkenc.Encoding``), stored with every chunk, so that
cheaper special-case encodings can be added later without a format break.

Only the XOR (Gorilla) float encoding exists so far; see :mod:`.xor` and
docs/format/chunks.md.
"""

from tsdb.codec.xor import (
    ENCODING_XOR,
    MAX_SAMPLES_PER_CHUNK,
    chunk_num_samples,
    decode_xor,
    decode_xor_many,
    encode_xor,
    encode_xor_many,
    warmup,
)

__all__ = [
    "ENCODING_XOR",
    "MAX_SAMPLES_PER_CHUNK",
    "chunk_num_samples",
    "decode_xor",
    "decode_xor_many",
    "encode_xor",
    "encode_xor_many",
    "warmup",
]
