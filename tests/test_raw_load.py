"""The raw step on its own: files checked from their footers, bad files fail loudly naming the file and column
and nothing is written; the month's files are readable in place through the raw views."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute  # noqa: F401
import pyarrow.parquet as pq
import pytest

from dagster_project.domain import raw_load
from dagster_project.domain.raw_files import months_in_raw
from tests.conftest import copy_conformance_raw


@pytest.fixture()
def recorded(tmp_path):
    raw = copy_conformance_raw(tmp_path)
    con = raw_load.connect(tmp_path / "build.duckdb")
    raw_load.record_month(con, raw, "2026-02")
    yield raw, con
    con.close()


def _snapshot(con):
    return {t: con.execute(f"select * from {t} order by all").fetchall()
            for t in ("raw.delivered_files", "raw.calls", "raw.messages", "raw.chats", "raw.users")}


def _good_calls(raw) -> pa.Table:
    return pq.read_table(raw / "calls/month=2026-02/feb-export.parquet")


def test_delivery_record_and_views_read_the_files_in_place(recorded):
    raw, con = recorded
    files = con.execute("select dataset, source_file, rows_read from raw.delivered_files where month is not null "
                        "order by all").fetchall()
    assert ("calls", "calls/month=2026-02/feb-export.parquet", 18) in files
    for ds in ("calls", "messages", "chats"):
        declared = sum(n for d, _, n in files if d == ds)
        assert con.execute(f"select count(*) from raw.{ds}").fetchone()[0] == declared
    # The views name the files, not a copy: nothing of the rows is stored in the database.
    assert con.execute("select count(*) from duckdb_tables() where schema_name = 'raw'").fetchone()[0] == 1
    row = con.execute("select source_file, source_row, month from raw.calls order by source_file, source_row "
                      "limit 1").fetchone()
    assert row[0].startswith("calls/month=2026-02/") and row[1] == 0 and str(row[2]) == "2026-02-01"
    # Reference snapshots: every snapshot file, with its date.
    assert {str(d) for (d,) in con.execute("select distinct snapshot_date from raw.users").fetchall()} == {
        "2026-01-31", "2026-02-15"}


@pytest.mark.parametrize("case", ["not_parquet", "missing_column", "uncastable"])
def test_bad_file_fails_naming_file_and_column(recorded, case):
    raw, con = recorded
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
        raw_load.record_month(con, raw, "2026-02")
    for part in expected:
        assert part in str(err.value)
    bad.unlink()
    assert _snapshot(con) == before  # the month as recorded before is untouched


def test_timestamps_stored_as_text_are_read_when_they_cast(recorded):
    raw, con = recorded
    t = _good_calls(raw)
    texts = pa.array([v and v.isoformat(sep=" ") for v in t.column("started_at").to_pylist()])
    t = t.set_column(t.schema.get_field_index("started_at"), "started_at", texts)
    t = t.set_column(0, "call_id", pa.array([f"txt-{i}" for i in range(t.num_rows)]))
    pq.write_table(t, raw / "calls/month=2026-02/zz-text.parquet")
    raw_load.record_month(con, raw, "2026-02")
    assert con.execute("select count(started_at) from raw.calls where call_id like 'txt-%'").fetchone()[0] \
        == pa.compute.count(texts).as_py()


def test_optional_columns_may_be_absent(recorded):
    raw, con = recorded
    t = _good_calls(raw).drop(["forwarded_to", "initiated_via"])
    t = t.set_column(0, "call_id", pa.array([f"opt-{i}" for i in range(t.num_rows)]))
    pq.write_table(t, raw / "calls/month=2026-02/zz-optional.parquet")
    record = raw_load.record_month(con, raw, "2026-02")
    assert record.rows_read["calls"] == 18 + 2 + t.num_rows  # every file's footer
    assert con.execute("select count(*) from raw.calls where call_id like 'opt-%' and forwarded_to is null "
                       "and initiated_via is null").fetchone()[0] == t.num_rows


def test_months_in_raw(recorded):
    raw, _ = recorded
    assert months_in_raw(raw) == ["2026-01", "2026-02"]


def test_recording_a_month_again_replaces_its_record(recorded):
    raw, con = recorded
    before = _snapshot(con)
    raw_load.record_month(con, raw, "2026-01")
    raw_load.record_month(con, raw, "2026-02")
    assert _snapshot(con)["raw.delivered_files"] != before["raw.delivered_files"]  # January is recorded too
    assert con.execute("select count(*) from raw.delivered_files where snapshot_date is not null").fetchone()[0] \
        == 4  # two snapshots of two datasets, once
    assert _snapshot(con)["raw.calls"] == before["raw.calls"]  # the views show the month just recorded
