"""The WAL figures of ``promlite bench``: what a WAL holds, a data dir's bytes, Prometheus's replay log line.

Fast checks on WALs written here with promlite's own writer (compression on
and off) and on hand-written Prometheus log lines; the end-to-end figures are
covered by the quick bench run (``tests/test_bench_quick.py``).
"""

import os

import pytest

from bench.harness import MeasureError
from bench.prom_wal_replay import go_duration_s, replay_durations
from bench.wal import bench_log, data_dir_bytes, make_batches, wal_contents


@pytest.mark.parametrize("compress", [True, False])
def test_wal_contents_counts_samples_series_and_snappy_records(tmp_path, compress):
    batches = make_batches(5, 300, seed=1)
    run = bench_log(str(tmp_path / "wal"), "never", batches, 300, 128 * 2**20, compress=compress)
    assert run.wall_s > 0 and run.cpu_s > 0 and run.size_bytes > 0
    got = wal_contents(str(tmp_path / "wal"))
    assert got["samples"] == 5 * 300
    assert got["series_records_rows"] == 300
    assert got["records"] == 6  # one series record, five samples records
    # random-walk values shrink a little under snappy; the series record's repeated labels a lot
    assert got["snappy_records"] == (6 if compress else 0)
    assert got["bytes"] == run.size_bytes


def test_data_dir_bytes_splits_wal_blocks_and_the_rest(tmp_path):
    (tmp_path / "wal").mkdir()
    (tmp_path / "wal" / "00000000").write_bytes(b"x" * 100)
    (tmp_path / "wal" / "checkpoint.00000001").mkdir()
    (tmp_path / "wal" / "checkpoint.00000001" / "00000000").write_bytes(b"x" * 10)
    (tmp_path / "chunks_head").mkdir()
    (tmp_path / "chunks_head" / "000001").write_bytes(b"x" * 7)
    block = tmp_path / "01HX0000000000000000000000"
    block.mkdir()
    (block / "meta.json").write_bytes(b"{}")
    (block / "index").write_bytes(b"x" * 20)
    (tmp_path / "queries.active").write_bytes(b"x" * 3)
    got = data_dir_bytes(str(tmp_path))
    assert got == {"total": 142, "wal": 110, "chunks_head": 7, "blocks": 22, "other": 3}


def test_go_durations():
    assert go_duration_s("1.5s") == 1.5
    assert go_duration_s("734.2ms") == pytest.approx(0.7342)
    assert go_duration_s("37.22µs") == pytest.approx(37.22e-6)
    assert go_duration_s("161ns") == pytest.approx(161e-9)
    assert go_duration_s("1m2.5s") == 62.5
    assert go_duration_s("0s") == 0.0
    with pytest.raises(ValueError):
        go_duration_s("1.5 s")


def test_replay_durations_from_prometheus_log():
    log = (
        'ts=2026-12-02T18:00:00.100Z caller=main.go:1 level=info msg="Starting TSDB ..."\n'
        'ts=2026-12-02T18:00:01.000Z caller=head.go:1 level=info component=tsdb msg="WAL segment loaded" '
        "segment=0 maxSegment=1\n"
        'ts=2026-12-02T18:00:02.000Z caller=head.go:2 level=info component=tsdb msg="WAL replay completed" '
        "checkpoint_replay_duration=43.2µs wal_replay_duration=1.912s wbl_replay_duration=160ns "
        "total_replay_duration=1.999s\n"
    )
    d = replay_durations(log)
    assert d["total_replay_duration"] == pytest.approx(1.999)
    assert d["wal_replay_duration"] == pytest.approx(1.912)
    assert d["checkpoint_replay_duration"] == pytest.approx(43.2e-6)
    with pytest.raises(MeasureError):
        replay_durations("level=warn msg=nothing\n")


def test_wal_contents_reads_a_prometheus_style_directory_read_only(tmp_path):
    """Counting must not change the directory it reads (Prometheus's data dir is measured in place)."""
    batches = make_batches(3, 50, seed=2)
    bench_log(str(tmp_path / "wal"), "never", batches, 50, 128 * 2**20)
    before = {f: os.path.getsize(tmp_path / "wal" / f) for f in os.listdir(tmp_path / "wal")}
    wal_contents(str(tmp_path / "wal"))
    after = {f: os.path.getsize(tmp_path / "wal" / f) for f in os.listdir(tmp_path / "wal")}
    assert before == after
