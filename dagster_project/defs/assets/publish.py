"""Publish assets: the analysts' warehouse (domain/publish.py) and finance's exports (domain/exports.py).

They depend on every dbt model of the published `marts` schema, read from the dbt manifest (never typed here).
"""


import json
from pathlib import Path

import dagster as dg
import duckdb

from dagster_project.defs.partitions import monthly_partitions, one_month_per_run
from dagster_project.defs.resources import FairuseResource
from dagster_project.defs.warehouse_lock import hold_warehouse
from dagster_project.domain import exports
from dagster_project.domain.engine import engine_for
from dagster_project.domain.publish import month_figures, month_partitioned_tables

WAREHOUSE_KEY = dg.AssetKey(["publish", "warehouse"])
EXPORTS_KEY = dg.AssetKey(["publish", "finance_exports"])


def _md_table(header: tuple[str, str], rows) -> str:
    return f"| {header[0]} | {header[1]} |\n|---|---:|\n" + "".join(f"| {a} | {b} |\n" for a, b in rows)


def summary_metadata(figures: dict) -> dict:
    """A month's figures as Dagster metadata (numbers as numbers, distributions as small tables)."""
    meta = {k: dg.MetadataValue.int(figures[k]) for k in
            ("users", "flagged_users", "flagged_accounts", "contact_centers", "prohibited_use_flags")}
    meta["surcharge_totals"] = dg.MetadataValue.text(
        ", ".join(f"{c} {a}" for c, a in figures["surcharge_totals"]) or "none")
    buckets = figures["ratio_to_cohort_buckets"]
    peak = max((n for _, n in buckets), default=1) or 1
    meta["ratio_to_cohort_distribution"] = dg.MetadataValue.md(
        "| ratio | user-metrics | |\n|---|---:|---|\n"
        + "".join(f"| {b} | {n} | {'#' * round(30 * n / peak)} |\n" for b, n in buckets))
    patterns = figures["prohibited_use_by_pattern"]
    meta["prohibited_use_by_pattern"] = dg.MetadataValue.md(
        _md_table(("pattern", "users"), patterns) if patterns else "none")
    return meta


def build_publish_assets(dbt_models: dg.AssetsDefinition, manifest: Path) -> list[dg.AssetsDefinition]:
    """The publish assets after `dbt_models`, the @dbt_assets built from `manifest` (dbt's manifest.json)."""
    marts = sorted((k for k in dbt_models.keys if k.path[0] == "marts"), key=lambda k: k.to_user_string())
    # Which published tables are built one month at a time (publish copies only the rebuilt months of those).
    month_tables = month_partitioned_tables(json.loads(manifest.read_text()))

    # multi_asset with one spec: the form whose backfill_policy is stable (on @asset it is a beta parameter).
    @dg.multi_asset(
        name="publish__warehouse",
        specs=[dg.AssetSpec(
            WAREHOUSE_KEY, group_name="publish", deps=marts, kinds={"duckdb"}, owners=["team:data-platform"],
            description="The analysts' read-only warehouse (marts + audit), replaced atomically after each month.")],
        partitions_def=monthly_partitions,
        backfill_policy=one_month_per_run,
        op_tags={"dagster/concurrency_key": "warehouse"},
    )
    def published_warehouse(context: dg.AssetExecutionContext, fairuse: FairuseResource) -> dg.MaterializeResult:
        s = fairuse.settings()
        hold_warehouse(context, s)
        published = engine_for(s).publish(s, context.partition_key, month_tables)
        context.log.info(f"published {s.warehouse} ({published.mode}: {published.reason}) "
                         f"in {published.seconds:.2f}s")
        with duckdb.connect(str(s.warehouse), read_only=True) as con:
            figures = month_figures(con, context.partition_key)
        return dg.MaterializeResult(metadata={
            "path": dg.MetadataValue.path(str(s.warehouse)),
            "tables": dg.MetadataValue.md(_md_table(("table", "rows"), published.counts.items())),
            "publish_mode": dg.MetadataValue.text(f"{published.mode}: {published.reason}"),
            **summary_metadata(figures),
        })

    @dg.multi_asset(
        name="publish__finance_exports",
        specs=[dg.AssetSpec(
            EXPORTS_KEY, group_name="publish", deps=[WAREHOUSE_KEY], kinds={"csv", "parquet"},
            owners=["team:finance-systems"],
            description="Finance exports of the month (surcharges, excess-usage charges) with manifest; "
                        "restatements of already exported months keep the previous files as a numbered revision.")],
        partitions_def=monthly_partitions,
        backfill_policy=one_month_per_run,
        op_tags={"dagster/concurrency_key": "warehouse"},
    )
    def finance_exports(context: dg.AssetExecutionContext, fairuse: FairuseResource) -> dg.MaterializeResult:
        s = fairuse.settings()
        version = fairuse.policy().version  # an invalid policy file fails before anything is written
        hold_warehouse(context, s)
        month = context.partition_key
        with duckdb.connect(str(s.warehouse), read_only=True) as con:
            results = exports.export_month_and_later(con, s.exports_dir, month, version)
        this = results[0]
        restated = [r.month for r in results if r.restated]
        return dg.MaterializeResult(metadata={
            "directory": dg.MetadataValue.path(str(this.directory)),
            "files": dg.MetadataValue.md(_md_table(("file", "rows"), this.files.items())),
            "revision": dg.MetadataValue.int(this.revision),
            "restated_months": dg.MetadataValue.text(", ".join(restated) or "none"),
            "surcharge_total": dg.MetadataValue.text(this.totals["contact_center_surcharge"]),
            "excess_charges_total": dg.MetadataValue.text(this.totals["excess_usage_charges"]),
        })

    return [published_warehouse, finance_exports]
