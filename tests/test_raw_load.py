"""The raw loader on its own: bad files fail loudly and name the file and column; nothing is written."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dagster_project.domain import raw_load
from tests.conftest import copy_conformance_raw


@pytest.fixture()
def loaded(tmp_path):
    raw = copy_conformance_raw(tmp_path)
    db = tmp_path / "build.duckdb"
    con = raw_load.connect(db)
    raw_load.load_month(con, raw, "2026-02")
    yield raw, con
    con.close()


def _snapshot(con):
    return {t: con.execute(f"select * from {t} order by all").fetchall()
            for t in ("raw.calls", "raw.messages", "raw.chats", "audit.load_balance", "audit.quarantined_rows")}


def _good_calls(raw) -> pa.Table:
    return pq.read_table(raw / "calls/month=2026-02/feb-export.parquet")


@pytest.mark.parametrize("case", ["not_parquet", "missing_column", "uncastable"])
def test_bad_file_fails_naming_file_and_column(loaded, case):
    raw, con = loaded
    before = _snapshot(con)
    bad = raw / "calls/month=2026-02/zz-bad.parquet"
    if case == "not_parquet":
        bad.write_bytes(b"this is not parquet at all")
        expected = ["calls/month=2026-02/zz-bad.parquet", "Parquet"]
    elif case == "missing_column":
        pq.write_table(_good_calls(raw).drop(["user_id"]), bad)
        expected = ["calls/month=2026-02/zz-bad.parquet", "'user_id'"]
    else:
        t = _good_calls(raw)
        t = t.set_column(t.schema.get_field_index("started_at"), "started_at",
                         pa.array(["yesterday"] * t.num_rows))
        pq.write_table(t, bad)
        expected = ["calls/month=2026-02/zz-bad.parquet", "'started_at'"]
    with pytest.raises(raw_load.BadRawFile) as err:
        raw_load.load_month(con, raw, "2026-02")
    for part in expected:
        assert part in str(err.value)
    assert _snapshot(con) == before  # the month as loaded before is untouched


def test_optional_columns_may_be_absent(loaded):
    raw, con = loaded
    t = _good_calls(raw).drop(["forwarded_to", "initiated_via"])
    ids = pa.array([f"opt-{i}" for i in range(t.num_rows)])
    pq.write_table(t.set_column(0, "call_id", ids), raw / "calls/month=2026-02/zz-optional.parquet")
    res = raw_load.load_month(con, raw, "2026-02")
    b = res.balance["calls"]
    assert b["rows_read"] == b["rows_counted"] + b["rows_quarantined"] + b["duplicates_dropped"]
    assert con.execute("select count(*) from raw.calls where call_id like 'opt-%' and forwarded_to is null "
                       "and initiated_via is null").fetchone()[0] == t.num_rows


def test_conservation_check_recounts_from_parquet_footers(loaded):
    raw, con = loaded
    checks = raw_load.check_conservation(con, raw, "2026-02")
    assert all(ok for ok, _ in checks.values())
    assert checks["calls"][1] == {"rows_read": 20, "rows_counted": 15, "rows_quarantined": 5,
                                  "duplicates_dropped": 0}
    # A file landing after the load breaks the balance until the month is re-run.
    extra = _good_calls(raw)
    pq.write_table(extra, raw / "calls/month=2026-02/zz-new.parquet")
    ok, detail = raw_load.check_conservation(con, raw, "2026-02")["calls"]
    assert not ok and detail["rows_read"] == 20 + extra.num_rows


def test_months_in_raw(loaded):
    raw, _ = loaded
    assert raw_load.months_in_raw(raw) == ["2026-01", "2026-02"]


def test_reference_snapshot_reload_is_per_run(tmp_path):
    raw = copy_conformance_raw(tmp_path)
    con = duckdb.connect(str(tmp_path / "b.duckdb"))
    con.execute("set TimeZone = 'UTC'")
    raw_load.load_month(con, raw, "2026-01")
    n = con.execute("select count(*) from raw.users").fetchone()[0]
    raw_load.load_month(con, raw, "2026-01")
    assert con.execute("select count(*) from raw.users").fetchone()[0] == n == 28
