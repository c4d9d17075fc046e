"""End to end on small generated data: the real CLI, Dagster, dbt and DuckDB.

Known answers come from the generator's ground truth (planted bad rows, conflicts) and from re-runs.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dagster_project.domain.evaluate import truth_path
from tests.conftest import REPO, run_pipeline
from tests.helpers import dump_tables

pytestmark = pytest.mark.slow  # end-to-end: real Dagster, dbt and DuckDB runs

MONTHS = ["2026-01", "2026-02"]


def _cli(*args: str, env_extra: dict | None = None) -> subprocess.Popen:
    env = {**os.environ, **(env_extra or {})}
    return subprocess.Popen([sys.executable, "-m", "dagster_project.cli.main", *args], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _work_copy(settings, tmp_path: Path, with_raw_from: Path | None = None) -> tuple[Path, Path | None]:
    """A working directory holding a copy of a built build DB and published warehouse (and of the raw data)."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "build").mkdir(mode=0o700)
    shutil.copy(settings.build_db, work / "build" / settings.build_db.name)
    shutil.copy(settings.warehouse, work / "warehouse.duckdb")
    raw = None
    if with_raw_from is not None:
        raw = tmp_path / "raw"
        shutil.copytree(with_raw_from, raw)  # copy2: modification times kept
    return work, raw


@pytest.fixture(scope="module")
def generated(sample_raw):
    return sample_raw


@pytest.fixture(scope="module")
def built(sample_build):
    return sample_build, dump_tables(sample_build.warehouse)


def test_quarantine_matches_ground_truth(built, generated):
    settings, _ = built
    truth = json.loads(truth_path(generated).read_text())
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    got = con.execute("select strftime(month, '%Y-%m'), dataset, reason, count(*) from audit.quarantined_rows "
                      "group by all").fetchall()
    conflicts = dict(con.execute("select strftime(month, '%Y-%m'), count(*) from audit.conflicting_duplicates "
                                 "where dataset = 'calls' group by all").fetchall())
    con.close()
    expected = {(m, ds, r): n for m, per_ds in truth["quarantine"].items() for ds, reasons in per_ds.items()
                for r, n in reasons.items()}
    assert {(m, ds, r): n for m, ds, r, n in got} == expected
    assert conflicts == {m: v["calls"] for m, v in truth["conflicting_redeliveries"].items()}


def test_every_row_is_accounted_for(built, generated):
    settings, dumps = built
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    rows = con.execute("select * from audit.load_balance").fetchall()
    con.close()
    assert rows and all(r[2] == r[3] + r[4] + r[5] for r in rows)
    for month in MONTHS:
        files = list((generated / "calls" / f"month={month}").glob("*.parquet"))
        read = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
        assert read == next(r[2] for r in rows if r[1] == "calls" and r[0].isoformat()[:7] == month)


def test_usage_has_every_active_user_and_no_numbers_leave_staging(built):
    settings, dumps = built
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    # Published warehouse holds marts and audit only: no raw or staging schema, so no number in clear.
    schemas = {s for (s,) in con.execute("select distinct schema_name from duckdb_tables()").fetchall()}
    assert schemas <= {"marts", "audit"}
    cols = {c for (c,) in con.execute("select column_name from duckdb_columns() where schema_name = 'marts'")
            .fetchall()}
    assert not cols & {"from_number", "to_number", "forwarded_to", "counterparty_number"}
    # Usage grain: one row per month and user.
    dup = con.execute("select count(*) from (select month, user_id from marts.fct_user_monthly_usage "
                      "group by all having count(*) > 1)").fetchone()[0]
    con.close()
    assert dup == 0


def test_rerun_is_identical(built, generated, tmp_path):
    settings, dumps = built
    # Re-run both months into the same warehouse: every mart and audit row identical.
    settings2, outcomes = run_pipeline(settings.warehouse.parent, generated)
    assert all(o.success for o in outcomes)
    assert dump_tables(settings2.warehouse) == dumps


def test_late_file_changes_only_its_month(built, generated, tmp_path):
    settings, dumps = built
    work, raw = _work_copy(settings, tmp_path, generated)
    # A late delivery for January: 3 new outbound calls of one user, 90 s each -> +3 calls, +360 s at 60/60.
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    user, account, before_calls, before_secs = con.execute(
        "select user_id, account_id, calls_outbound, billable_seconds_outbound from marts.fct_user_monthly_usage "
        "where month = '2026-01-01' order by user_id limit 1").fetchone()
    con.close()
    ts = pa.array([1768986000_000000 + i * 600_000000 for i in range(3)], pa.timestamp("us"))  # 2026-01-21
    ended = pa.array([1768986000_000000 + i * 600_000000 + 90_000000 for i in range(3)], pa.timestamp("us"))
    late = pa.table({
        "call_id": [f"late-{i}" for i in range(3)], "account_id": [account] * 3, "user_id": [user] * 3,
        "direction": ["outbound"] * 3, "started_at": ts, "answered_at": ts, "ended_at": ended,
        "from_number": ["+6420000000"] * 3, "to_number": ["+6420000001"] * 3, "disposition": ["answered"] * 3,
        "forwarded_to": pa.nulls(3, pa.string()), "initiated_via": ["app"] * 3,
    })
    pq.write_table(late, raw / "calls/month=2026-01/zz-late.parquet")
    s2, outcomes = run_pipeline(work, raw, months=["2026-01"])
    assert all(o.success for o in outcomes)
    after = dump_tables(s2.warehouse)
    con = duckdb.connect(str(s2.warehouse), read_only=True)
    calls, secs = con.execute("select calls_outbound, billable_seconds_outbound from marts.fct_user_monthly_usage "
                              "where month = '2026-01-01' and user_id = ?", [user]).fetchone()
    con.close()
    assert (calls, secs) == (before_calls + 3, before_secs + 360)
    usage_before = [r for r in dumps["marts.fct_user_monthly_usage"] if r[0].isoformat() == "2026-02-01"]
    usage_after = [r for r in after["marts.fct_user_monthly_usage"] if r[0].isoformat() == "2026-02-01"]
    assert usage_after == usage_before


def test_corrupt_file_fails_the_month_and_publishes_nothing(built, generated, tmp_path):
    settings, dumps = built
    work, raw = _work_copy(settings, tmp_path, generated)
    (raw / "messages/month=2026-02/broken.parquet").write_bytes(b"PAR1 garbage")
    proc = _cli("run", "--raw-dir", str(raw), "--warehouse", str(work / "warehouse.duckdb"), "--month", "2026-02")
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 1
    assert "messages/month=2026-02/broken.parquet" in err
    assert dump_tables(work / "warehouse.duckdb") == dumps


def test_reader_holding_the_warehouse_never_blocks_a_run(built, generated, tmp_path):
    settings, dumps = built
    work, _ = _work_copy(settings, tmp_path)
    reader = duckdb.connect(str(work / "warehouse.duckdb"), read_only=True)
    n_before = reader.execute("select count(*) from marts.fct_user_monthly_usage").fetchone()[0]
    proc = _cli("run", "--raw-dir", str(generated), "--warehouse", str(work / "warehouse.duckdb"),
                "--month", "2026-02")
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-2000:]
    # The reader still sees the state it opened on, complete; a new connection sees the new state.
    assert reader.execute("select count(*) from marts.fct_user_monthly_usage").fetchone()[0] == n_before
    reader.close()
    assert dump_tables(work / "warehouse.duckdb") == dumps


def test_sigkill_part_way_then_rerun_is_identical(built, generated, tmp_path):
    settings, dumps = built
    wh = tmp_path / "warehouse.duckdb"
    proc = _cli("run", "--raw-dir", str(generated), "--warehouse", str(wh))
    # Kill it while it works on the second month (after the first month was published).
    deadline = time.time() + 240
    while time.time() < deadline and not wh.exists():
        time.sleep(0.2)
    time.sleep(1.0)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    proc = _cli("run", "--raw-dir", str(generated), "--warehouse", str(wh))
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-2000:]
    assert dump_tables(wh) == dumps


def test_late_data_sensor_requests_one_rerun_per_change(built, generated, tmp_path, monkeypatch):
    import dagster as dg

    from dagster_project.defs.resources import FairuseResource
    from dagster_project.defs.sensors import late_data_sensor
    from dagster_project.domain.settings import get_settings

    settings, _ = built
    work, raw = _work_copy(settings, tmp_path, generated)
    fairuse = FairuseResource.from_settings(get_settings(str(raw), str(work / "warehouse.duckdb")))

    def tick():
        return late_data_sensor(dg.build_sensor_context(resources={"fairuse": fairuse}))

    assert isinstance(tick(), dg.SkipReason)
    shutil.copy(raw / "calls/month=2026-01/part-000.parquet", raw / "calls/month=2026-01/late-extra.parquet")
    first, second = tick(), tick()
    assert [r.partition_key for r in first] == ["2026-01"]
    assert [r.run_key for r in first] == [r.run_key for r in second]  # the same change -> one run
    _, outcomes = run_pipeline(work, raw, months=["2026-01"])
    assert all(o.success for o in outcomes)
    assert isinstance(tick(), dg.SkipReason)  # re-built: nothing left to do
