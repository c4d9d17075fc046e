"""Publish assets: the analysts' warehouse (domain/publish.py) and finance's exports (domain/exports.py).

They depend on every dbt model of the published `marts` schema, read from the dbt manifest (never typed here).
"""


import dagster as dg
import duckdb
from dagster_dbt.asset_utils import get_manifest_and_translator_from_dbt_assets

from dagster_project.defs.partitions import monthly_partitions, one_month_per_run
from dagster_project.defs.resources import FairuseResource
from dagster_project.defs.warehouse_lock import hold_warehouse
from dagster_project.domain import exports, month_state
from dagster_project.domain.engine import engine_for
from dagster_project.domain.publish import month_figures, month_partitioned_tables
from dagster_project.domain.status import code_version, collect, render_table

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


def build_publish_assets(dbt_models: dg.AssetsDefinition) -> list[dg.AssetsDefinition]:
    marts = sorted((k for k in dbt_models.keys if k.path[0] == "marts"), key=lambda k: k.to_user_string())
    # Which published tables are built one month at a time (publish copies only the rebuilt months of those).
    month_tables = month_partitioned_tables(get_manifest_and_translator_from_dbt_assets([dbt_models])[0])

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
        hold_warehouse(context, s)
        month = context.partition_key
        with duckdb.connect(str(s.warehouse), read_only=True) as con:
            results = exports.export_month_and_later(con, s.exports_dir, month, fairuse.policy().version)
        this = results[0]
        restated = [r.month for r in results if r.restated]
        # The month is published (warehouse and exports): where it stands, for `fairuse status` and the UI.
        policy_version, code = fairuse.policy().version, code_version()
        month_state.record(s.warehouse, month, "published", policy_version=policy_version, code_version=code,
                           run_id=context.run_id, step=None, error=None)
        return dg.MaterializeResult(metadata={
            "policy_version": dg.MetadataValue.text(policy_version),
            "code_version": dg.MetadataValue.text(code),
            # What `fairuse status` shows, as of this publish: every month, the run, the exports and reports.
            "months_status": dg.MetadataValue.md(f"```\n{render_table(collect(s))}\n```"),
            "directory": dg.MetadataValue.path(str(this.directory)),
            "files": dg.MetadataValue.md(_md_table(("file", "rows"), this.files.items())),
            "revision": dg.MetadataValue.int(this.revision),
            "restated_months": dg.MetadataValue.text(", ".join(restated) or "none"),
            "surcharge_total": dg.MetadataValue.text(this.totals["contact_center_surcharge"]),
            "excess_charges_total": dg.MetadataValue.text(this.totals["excess_usage_charges"]),
        })

    return [published_warehouse, finance_exports]
