"""The DB against an obviously correct model (hypothesis): random batches, restarts, compactions.

The model is a dict ``labels -> {t: value_bits}`` with Prometheus's rules:
a sample older than the series' newest is out of order, the same timestamp
with the same bits is a no-op, with other bits a duplicate; samples older
than the newest persisted block's end are out of bounds.
"""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tsdb
from tsdb import Matcher

RANGE = 1000  # block range in ms, small so that blocks get cut

values = st.sampled_from([0.0, 1.0, -0.0, float("inf"), float("nan"), 2.5, 1e300])
sample = st.tuples(st.integers(0, 5), st.integers(0, 6000), values)
batch = st.lists(sample, min_size=1, max_size=30)
op = st.one_of(
    batch.map(lambda b: ("append", b)),
    st.just(("restart", None)),
    st.just(("compact", None)),
    batch.map(lambda b: ("rollback", b)),
)


class Model:
    def __init__(self):
        self.series: dict[int, dict[int, int]] = {}
        self.min_valid = -(2**63)

    def append(self, samples):
        for s, t, v in samples:
            bits = int(np.float64(v).view(np.uint64))
            d = self.series.setdefault(s, {})
            last = max(d) if d else None
            if t < self.min_valid:
                continue
            if last is not None and t <= last:
                continue
            d[t] = bits


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(op, min_size=1, max_size=12))
def test_db_matches_model(tmp_path_factory, ops):
    path = str(tmp_path_factory.mktemp("model") / "d")
    # auto_compact=False: background compaction would make the out-of-bounds cut-off depend on timing
    # (the model reads it from db.blocks); the "compact" op compacts at known points instead
    opts = dict(
        block_range_ms=RANGE, max_block_ms=3 * RANGE, head_chunk_samples=4, head_slab_bytes=64, block_chunk_samples=5,
        auto_compact=False,
    )
    db = tsdb.open(path, **opts)
    model = Model()
    try:
        for kind, arg in ops:
            if kind == "restart":
                db.close()
                db = tsdb.open(path, **opts)
            elif kind == "compact":
                db.compact()
            elif kind == "rollback":
                app = db.appender()
                for s, t, v in arg:
                    app.append({"__name__": "m", "s": str(s)}, t, v)
                app.rollback()
            else:
                app = db.appender()
                for s, t, v in arg:
                    app.append({"__name__": "m", "s": str(s)}, t, v)
                app.commit()
                model.append(arg)
            if db.blocks:
                model.min_valid = max(model.min_valid, max(b.meta.max_time for b in db.blocks))
        with db.querier() as q:
            got = {
                int(dict(s.labels)["s"]): dict(zip(s.timestamps.tolist(), s.values.view(np.uint64).tolist(), strict=True))
                for s in q.select(Matcher.eq("__name__", "m"))
            }
        want = {s: d for s, d in model.series.items() if d}
        assert got == want
    finally:
        db.close()
