"""Publishing: the analysts' warehouse is replaced as a whole, atomically, after each month is built.

Runs write to a separate build database. Publishing copies the `marts` and `audit` schemas into a new file and
renames it over the warehouse path. A reader that opened the warehouse before keeps its (old) file and never
blocks the run; one that opens it after sees the new state; nobody ever sees a half-built month. Raw, staging
and intermediate (phone numbers in clear, internal steps) never reach the published file.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

PUBLISHED_SCHEMAS = ("marts", "audit")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish_warehouse(build_db: Path, warehouse: Path) -> dict[str, int]:
    """Copy the published schemas of `build_db` into a fresh file and atomically replace `warehouse`."""
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    tmp = warehouse.with_name(f".{warehouse.name}.publishing-{os.getpid()}")
    for leftover in (tmp, Path(str(tmp) + ".wal")):
        leftover.unlink(missing_ok=True)
    con = duckdb.connect(str(tmp))
    counts: dict[str, int] = {}
    try:
        con.execute("attach ? as build (read_only)", [str(build_db)])
        schemas = ", ".join(f"'{s}'" for s in PUBLISHED_SCHEMAS)
        tables = con.execute(
            f"select schema_name, table_name from duckdb_tables() "
            f"where database_name = 'build' and schema_name in ({schemas}) order by all"
        ).fetchall()
        for schema, table in tables:
            con.execute(f"create schema if not exists {schema}")
            con.execute(f"create table {schema}.{table} as select * from build.{schema}.{table}")
            counts[f"{schema}.{table}"] = con.execute(f"select count(*) from {schema}.{table}").fetchone()[0]
        con.execute("detach build")
        con.execute("checkpoint")
    finally:
        con.close()
    _fsync(tmp)
    os.replace(tmp, warehouse)
    _fsync(warehouse.parent)
    return counts


RATIO_BUCKETS = ("< 0.5", "0.5-1", "1-2", "2-5", ">= 5", "n/a")


def month_figures(con: duckdb.DuckDBPyConnection, month: str) -> dict:
    """What an operator wants to see of a published month at a glance (plain values)."""
    start = f"{month}-01"
    counts = {
        "users": "select count(*) from marts.fct_user_monthly_usage where month = ?",
        "flagged_users": "select count(distinct user_id) from marts.fct_fair_use_flags where month = ?",
        "flagged_accounts": "select count(*) from marts.fct_account_enforcement where month = ?",
        "contact_centers": "select count(*) from marts.fct_contact_center_surcharge where month = ?",
        "prohibited_use_flags": "select count(*) from marts.fct_prohibited_use_flags where month = ?",
    }
    out: dict = {k: int(con.execute(sql, [start]).fetchone()[0] or 0) for k, sql in counts.items()}
    out["surcharge_totals"] = con.execute(
        "select currency, sum(surcharge_amount) from marts.fct_contact_center_surcharge "
        "where month = ? and status = 'apply' group by 1 order by 1", [start]).fetchall()
    buckets = dict(con.execute("""
        select bucket, count(*) from (
            select case when ratio_to_cohort is null then 'n/a' when ratio_to_cohort < 0.5 then '< 0.5'
                        when ratio_to_cohort < 1 then '0.5-1' when ratio_to_cohort < 2 then '1-2'
                        when ratio_to_cohort < 5 then '2-5' else '>= 5' end as bucket
            from marts.fct_user_excess_ratios where month = ?) group by 1""", [start]).fetchall())
    out["ratio_to_cohort_buckets"] = [(b, buckets.get(b, 0)) for b in RATIO_BUCKETS]
    out["prohibited_use_by_pattern"] = con.execute(
        "select pattern, count(*) from marts.fct_prohibited_use_flags where month = ? group by 1 order by 1",
        [start]).fetchall()
    return out
