"""Publishing: the analysts' warehouse is replaced as a whole, atomically, after each month is built.

Runs write to a separate build database. Publishing copies the `marts` and `audit` schemas into a new file and
renames it over the warehouse path. A reader that opened the warehouse before keeps its (old) file and never
blocks the run; one that opens it after sees the new state; nobody ever sees a half-built month. Raw and staging
(phone numbers in clear) never reach the published file.
"""


import os
from pathlib import Path

import dagster as dg
import duckdb

from dagster_project.defs.partitions import monthly_partitions
from dagster_project.defs.resources import FairuseResource
from dagster_project.domain import exports

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


@dg.asset(
    key=["publish", "warehouse"],
    group_name="publish",
    partitions_def=monthly_partitions,
    deps=[["marts", name] for name in (
        "fct_user_monthly_usage", "fct_cohort_monthly_averages", "fct_user_excess_ratios", "fct_fair_use_flags",
        "fct_account_enforcement", "fct_published_thresholds", "fct_contact_center_surcharge",
        "fct_contact_center_discussions")],
    kinds={"duckdb"},
    owners=["team:data-platform"],
    op_tags={"dagster/concurrency_key": "warehouse"},
    description="The analysts' read-only warehouse (marts + audit), replaced atomically after each month.",
)
def published_warehouse(context: dg.AssetExecutionContext, fairuse: FairuseResource) -> dg.MaterializeResult:
    s = fairuse.settings()
    counts = publish_warehouse(s.build_db, s.warehouse)
    table = "| table | rows |\n|---|---:|\n" + "".join(f"| {t} | {n} |\n" for t, n in counts.items())
    con = duckdb.connect(str(s.warehouse), read_only=True)
    try:
        summary = month_summary(con, context.partition_key)
    finally:
        con.close()
    return dg.MaterializeResult(metadata={
        "path": dg.MetadataValue.path(str(s.warehouse)),
        "tables": dg.MetadataValue.md(table),
        **summary,
    })


def _scalar(con: duckdb.DuckDBPyConnection, sql: str, month: str):
    return con.execute(sql, [f"{month}-01"]).fetchone()[0]


def month_summary(con: duckdb.DuckDBPyConnection, month: str) -> dict:
    """What an operator wants to see for a month at a glance, as Dagster metadata."""
    q = {
        "users": "select count(*) from marts.fct_user_monthly_usage where month = ?",
        "flagged_users": "select count(distinct user_id) from marts.fct_fair_use_flags where month = ?",
        "flagged_accounts": "select count(*) from marts.fct_account_enforcement where month = ?",
        "contact_centers": "select count(*) from marts.fct_contact_center_surcharge where month = ?",
        "prohibited_use_flags": "select count(*) from marts.fct_prohibited_use_flags where month = ?",
    }
    meta = {k: dg.MetadataValue.int(int(_scalar(con, sql, month) or 0)) for k, sql in q.items()}
    totals = con.execute(
        "select currency, sum(surcharge_amount) from marts.fct_contact_center_surcharge "
        "where month = ? and status = 'apply' group by 1 order by 1", [f"{month}-01"]).fetchall()
    meta["surcharge_totals"] = dg.MetadataValue.text(", ".join(f"{c} {a}" for c, a in totals) or "none")
    # Distribution of ratios to the cohort: a person would rather look than read.
    buckets = con.execute("""
        select bucket, count(*) from (
            select case when ratio_to_cohort is null then 'n/a' when ratio_to_cohort < 0.5 then '< 0.5'
                        when ratio_to_cohort < 1 then '0.5-1' when ratio_to_cohort < 2 then '1-2'
                        when ratio_to_cohort < 5 then '2-5' else '>= 5' end as bucket
            from marts.fct_user_excess_ratios where month = ?) group by 1""", [f"{month}-01"]).fetchall()
    order = ["< 0.5", "0.5-1", "1-2", "2-5", ">= 5", "n/a"]
    counts = dict(buckets)
    peak = max(counts.values(), default=1)
    rows = "".join(f"| {b} | {counts.get(b, 0)} | {'#' * max(0, round(30 * counts.get(b, 0) / peak))} |\n"
                   for b in order)
    meta["ratio_to_cohort_distribution"] = dg.MetadataValue.md("| ratio | user-metrics | |\n|---|---:|---|\n" + rows)
    patterns = con.execute("select pattern, count(*) from marts.fct_prohibited_use_flags where month = ? "
                           "group by 1 order by 1", [f"{month}-01"]).fetchall()
    meta["prohibited_use_by_pattern"] = dg.MetadataValue.md(
        "| pattern | users |\n|---|---:|\n" + "".join(f"| {p} | {n} |\n" for p, n in patterns) if patterns
        else "none")
    return meta


@dg.asset(
    key=["publish", "finance_exports"],
    group_name="publish",
    partitions_def=monthly_partitions,
    deps=[published_warehouse],
    kinds={"csv", "parquet"},
    owners=["team:finance-systems"],
    op_tags={"dagster/concurrency_key": "warehouse"},
    description="Finance exports of the month (surcharges, excess-usage charges) with manifest; restatements "
                "of already exported months keep the previous files as a numbered revision.",
)
def finance_exports(context: dg.AssetExecutionContext, fairuse: FairuseResource) -> dg.MaterializeResult:
    s = fairuse.settings()
    policy = fairuse.policy()
    month = context.partition_key
    con = duckdb.connect(str(s.warehouse), read_only=True)
    try:
        # This month, and every later month already exported: late data can move a later month's ladder.
        later = sorted(p.name for p in s.exports_dir.glob("????-??") if p.is_dir() and p.name > month)
        results = [exports.export_month(con, s.exports_dir, m, policy.version) for m in [month, *later]]
    finally:
        con.close()
    this = results[0]
    restated = [r.month for r in results if r.restated]
    table = "| file | rows |\n|---|---:|\n" + "".join(f"| {n} | {k} |\n" for n, k in this.files.items())
    return dg.MaterializeResult(metadata={
        "directory": dg.MetadataValue.path(str(this.directory)),
        "files": dg.MetadataValue.md(table),
        "revision": dg.MetadataValue.int(this.revision),
        "restated_months": dg.MetadataValue.text(", ".join(restated) or "none"),
        "surcharge_total": dg.MetadataValue.text(this.totals["contact_center_surcharge"]),
        "excess_charges_total": dg.MetadataValue.text(this.totals["excess_usage_charges"]),
    })
