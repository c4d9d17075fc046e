"""The local development instance's event log (dagster_home.yaml -> dagster_project/private_apis.py): Dagster's
SQLite event log committing without fsync, in Dagster's default place, still recording every event of a run."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import dagster as dg
import pytest

from dagster_project.private_apis import UnsyncedSqliteEventLogStorage

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
    with storage.run_connection("run-a"):  # Dagster's file per run, in the base folder
        pass
    storage.dispose()
    assert (expected / "run-a.db").exists()
