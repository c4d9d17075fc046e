"""The instance's event log (dagster_home.yaml -> dagster_project/dagster_instance.py): Dagster's SQLite event
log committing without fsync, in Dagster's default place, still recording every event of a run."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import dagster as dg
import pytest

from dagster_project.dagster_instance import UnsyncedSqliteEventLogStorage

ROOT = Path(__file__).resolve().parents[1]


@dg.asset
def one() -> int:
    return 1


def test_instance_from_dagster_home_yaml_records_runs_without_fsync(tmp_path, monkeypatch):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster_home.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as instance:
        storage = instance.event_log_storage
        assert isinstance(storage, UnsyncedSqliteEventLogStorage)
        result = dg.materialize([one], instance=instance)
        assert result.success
        # read back through Dagster: the run's events and the asset's latest materialization
        types = {e.dagster_event_type for e in instance.all_logs(result.run_id) if e.dagster_event}
        assert {dg.DagsterEventType.RUN_SUCCESS, dg.DagsterEventType.ASSET_MATERIALIZATION} <= types
        assert instance.get_latest_materialization_event(dg.AssetKey("one")) is not None
        with storage.run_connection(result.run_id) as conn:
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 0  # OFF
    run_file = home / "history" / "runs" / f"{result.run_id}.db"
    assert run_file.exists()
    con = sqlite3.connect(run_file)
    try:
        assert con.execute("select count(*) from event_logs").fetchone()[0] >= 5
    finally:
        con.close()


@pytest.mark.parametrize("given", [None, "elsewhere"])
def test_base_dir_defaults_to_dagsters_own(tmp_path, monkeypatch, given):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    config = {} if given is None else {"base_dir": str(tmp_path / given)}
    storage = UnsyncedSqliteEventLogStorage.from_config_value(None, config)
    expected = tmp_path / (given or "history/runs")
    assert Path(storage._base_dir) == expected


def test_one_engine_per_file_kept_and_bounded_each_write_its_own_connection(tmp_path, monkeypatch):
    from sqlalchemy.pool import NullPool

    from dagster_project import dagster_instance

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    storage = UnsyncedSqliteEventLogStorage.from_config_value(None, {})
    with storage.run_connection("run-a") as conn:
        conn.exec_driver_sql("select 1")
    engine = storage._engines["run-a"]
    with storage.run_connection("run-a") as conn:
        conn.exec_driver_sql("select 1")
    assert storage._engines["run-a"] is engine  # reused, not created again
    assert isinstance(engine.pool, NullPool)  # no pool: each write opens and closes its own connection
    for i in range(dagster_instance.ENGINES_KEPT + 4):
        with storage.run_connection(f"run-{i}"):
            pass
    assert len(storage._engines) == dagster_instance.ENGINES_KEPT and "run-a" not in storage._engines
    storage.dispose()
    assert not storage._engines
