"""``dynamokv bench storage`` end to end on a tiny workload, and the non-default fsync policies."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from dynamokv.impl.cli import main
from dynamokv.impl.storage import Store, StoreOptions


def test_bench_storage_prints_every_engine_in_one_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    results = tmp_path / "storage.json"
    arguments = ["bench", "storage", "--ops", "64", "--reads", "200", "--read-keys", "300"]
    assert (
        main([*arguments, "--writers", "1,4", "--dir", str(scratch), "--json", str(results)]) == 0
    )
    output = capsys.readouterr().out
    for row in (
        "durable writes, 1 writer",
        "durable writes, 4 writers",
        "point reads per CPU-second, warm",
        "point reads per CPU-second, cold: reopened",
        "rounds: dynamokv",
        "load average",
        # what each engine caches for reads, after the warm pass
        "decoded block cache",
        "page cache",
        "RocksDB: random existing keys, block cache",
        "no cache of its own",
    ):
        assert row in output
    for column in ("dynamokv ops/s", "SQLite ops/s", "RocksDB ops/s", "LMDB ops/s", "vs RocksDB"):
        assert column in output
    assert list(scratch.iterdir()) == []  # its temporary files are gone
    document = json.loads(results.read_text())
    assert document["command"].startswith("dynamokv bench storage --ops 64 ")
    assert "--writers 1,4" in document["command"] and "cores" in document["machine"]
    assert [row["writers"] for row in document["results"]] == [1, 4, 0, 0]
    engines = {"dynamokv", "sqlite", "rocksdb", "lmdb"}
    for row in document["results"]:
        assert set(row["ops_per_second"]) == engines
        assert all(rate > 0 for rate in row["ops_per_second"].values())
    for row in document["results"][:2]:  # write rows: three rounds, the median reported
        for engine in engines:
            rates = row["rounds"][engine]
            assert len(rates) == 3 and row["ops_per_second"][engine] == sorted(rates)[1]


def test_bench_storage_peers_can_be_left_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    arguments = ["bench", "storage", "--ops", "8", "--reads", "50", "--read-keys", "60"]
    assert main([*arguments, "--writers", "2", "--peers", "lmdb", "--dir", str(tmp_path)]) == 0
    output = capsys.readouterr().out
    assert "LMDB ops/s" in output and "SQLite" not in output and "RocksDB" not in output


def test_bench_storage_bad_arguments_are_one_line_errors(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["bench", "storage", "--ops", "8", "--writers", "16"]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "--ops" in error
    assert main(["bench", "storage", "--peers", "sqlite,postgres"]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "--peers" in error
    assert main(["bench", "storage", "--ops", "40", "--writers", "16", "--rounds", "3"]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "--rounds" in error


def test_batch_policy_syncs_a_quiet_store_within_the_interval(tmp_path: Path) -> None:
    options = StoreOptions(fsync="batch", fsync_batch_interval_ms=5)
    with Store.open(str(tmp_path), options=options) as store:
        store.put(b"k", b"v")
        deadline = time.monotonic() + 10
        while store.stats().syncs_count == 0 and time.monotonic() < deadline:
            time.sleep(0.005)
        assert store.stats().syncs_count >= 1
        assert store._wal.synced_bytes == store._wal.size_bytes


def test_policy_none_never_syncs_on_the_write_path(tmp_path: Path) -> None:
    with Store.open(str(tmp_path), options=StoreOptions(fsync="none")) as store:
        for number in range(100):
            store.put(f"k{number}".encode(), b"v")
        assert store.stats().syncs_count == 0
        store.sync()
        assert store.stats().syncs_count == 1


def test_bench_storage_measures_the_committer_thread_the_group_commit_was_chosen_over(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    arguments = ["bench", "storage", "--ops", "48", "--reads", "20", "--read-keys", "30"]
    options = ["--writers", "8", "--rounds", "1", "--peers", "lmdb", "--dir", str(tmp_path)]
    assert main([*arguments, *options, "--store-group-commit", "committer"]) == 0
    output = capsys.readouterr().out
    assert "writes/fsync (one committer thread)" in output
    assert main([*arguments, *options]) == 0
    assert "committer" not in capsys.readouterr().out
