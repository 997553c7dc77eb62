"""codec: XOR chunk encode/decode throughput and bytes/sample, per value shape.

Built on ``bench.codec`` (fixed-seed counters, 2-decimal gauges, constants;
15 s scrapes with jitter; 120-sample chunks as Prometheus). promlite only:
the peers' codecs are not callable on their own (their bytes/sample on the
shared dataset is in the ``compression`` suite), so their columns say "n/a".
"""

from __future__ import annotations

from tsdb.codec.xor import decode_xor_many, encode_xor_many

from ..codec import prepare
from ..harness import repeat
from . import NA, Context, Row, SuiteResult

NAME = "codec"
TITLE = "XOR chunk codec (in-process, one thread)"
KINDS = ("counter", "gauge", "constant")


def run(ctx: Context) -> SuiteResult:
    res = SuiteResult(NAME, TITLE)
    chunks = 2_000 if ctx.quick else 20_000
    task = ctx.task("codec", len(KINDS))
    for kind in KINDS:
        ts, vs, starts, counts = prepare(kind, chunks, 120, 2, 42)
        data, offsets = encode_xor_many(ts, vs, starts, counts)
        lengths = offsets[1:] - offsets[:-1]
        n = len(ts)
        enc, _ = repeat(lambda ts=ts, vs=vs, s=starts, c=counts: encode_xor_many(ts, vs, s, c), runs=ctx.runs)
        dec, _ = repeat(lambda d=data, o=offsets, ln=lengths: decode_xor_many(d, o[:-1], ln), runs=ctx.runs)
        na = {"prometheus": NA, "victoriametrics": NA}
        res.rows.append(Row(f"encode {kind}", "M samples/s",
                            {"promlite": enc.scaled(lambda s, n=n: n / s / 1e6, "M samples/s"), **na}, "higher"))
        res.rows.append(Row(f"decode {kind}", "M samples/s",
                            {"promlite": dec.scaled(lambda s, n=n: n / s / 1e6, "M samples/s"), **na}, "higher"))
        res.rows.append(Row(f"size {kind}", "bytes/sample", {"promlite": len(data) / n, **na}))
        ctx.advance(task)
    ctx.done(task)
    return res
