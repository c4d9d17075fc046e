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
from dagster_project.domain import exports, month_state
from dagster_project.domain.engine import engine_for
from dagster_project.domain.policy_versions import IN_FORCE, RESTATED, month_versions
from dagster_project.domain.publish import (
    NotPublishable,
    build_record,
    check_publishable,
    month_figures,
    month_partitioned_tables,
    rebuild_command,
)
from dagster_project.domain.status import code_version, collect, render_table

WAREHOUSE_KEY = dg.AssetKey(["publish", "warehouse"])
EXPORTS_KEY = dg.AssetKey(["publish", "finance_exports"])



def published_along(states: dict, run_id: str) -> list[str]:
    """Months this run's publish put in the warehouse (with its own month: those the journal held, whole), whose
    exports and report are written by this run too."""
    return sorted(m for m, r in states.items()
                  if r.get("publish_run") == run_id and r.get("state") in month_state.PUBLISHED_STATES)


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
        month = context.partition_key
        states = month_state.read_months(s.warehouse)
        # Whole months only: this one built and through the gate, every other month it would carry whole too, and
        # nothing published missing from the build (domain/publish.py); else one line, the warehouse untouched.
        months = check_publishable(s.build_db, s.warehouse, month, states)
        published = engine_for(s).publish(s, month, month_tables)
        context.log.info(f"published {s.warehouse} ({published.mode}: {published.reason}) "
                         f"in {published.seconds:.2f}s")
        for m in months:
            accepted = build_record(states.get(m)).get("gate") == "accepted"
            month_state.record(s.warehouse, m, "accepted_incomplete" if accepted else "published",
                               publish_run=context.run_id, error=None)
        this = month_state.read_months(s.warehouse)[month]
        with duckdb.connect(str(s.warehouse), read_only=True) as con:
            figures = month_figures(con, month)
            policy_version, applied = month_versions(con).get(month, ("-", IN_FORCE))
        return dg.MaterializeResult(metadata={
            "path": dg.MetadataValue.path(str(s.warehouse)),
            "policy_version": dg.MetadataValue.text(
                f"{policy_version}{' (restated)' if applied == RESTATED else ''}"),
            "tables": dg.MetadataValue.md(_md_table(("table", "rows"), published.counts.items())),
            "publish_mode": dg.MetadataValue.text(f"{published.mode}: {published.reason}"),
            "month_state": dg.MetadataValue.text(this["state"]),
            "completeness": dg.MetadataValue.text(
                f"accepted incomplete: {this.get('reason')}" if this["state"] == "accepted_incomplete"
                else "passed the completeness gate"),
            "months_published": dg.MetadataValue.text(", ".join(months)),
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
        states = month_state.read_months(s.warehouse)
        if (states.get(month) or {}).get("state") not in month_state.PUBLISHED_STATES:  # a held month writes no exports
            raise NotPublishable(f"month {month} is not published ({(states.get(month) or {}).get('state')}): "
                                 f"no exports written; build it whole: `{rebuild_command([month])}`")
        accepted = {m: r.get("reason") or "" for m, r in states.items() if r.get("state") == "accepted_incomplete"}
        with duckdb.connect(str(s.warehouse), read_only=True) as con:
            results = exports.export_month_and_later(con, s.exports_dir, month, version,
                                                     also=published_along(states, context.run_id),
                                                     accepted_incomplete=accepted)
            # the version the month was computed with (domain/policy_versions.py), not necessarily the file's
            policy_version, applied = month_versions(con).get(month, (version, IN_FORCE))
        this = next(r for r in results if r.month == month)
        restated = [r.month for r in results if r.restated]
        # The month is published (warehouse and exports): where it stands, for `fairuse status` and the UI.
        code = code_version()
        month_state.record(s.warehouse, month, states[month]["state"], policy_version=policy_version,
                           policy_applied=applied,
                           code_version=code,
                           run_id=context.run_id, step=None, error=None)
        return dg.MaterializeResult(metadata={
            "policy_version": dg.MetadataValue.text(policy_version),
            "policy_restated": dg.MetadataValue.text("yes" if applied == RESTATED else "no"),
            "code_version": dg.MetadataValue.text(code),
            # What `fairuse status` shows, as of this publish: every month, the run, the exports and reports.
            "months_status": dg.MetadataValue.md(f"```\n{render_table(collect(s))}\n```"),
            "directory": dg.MetadataValue.path(str(this.directory)),
            "files": dg.MetadataValue.md(_md_table(("file", "rows"), this.files.items())),
            "revision": dg.MetadataValue.int(this.revision),
            "restated_months": dg.MetadataValue.text(", ".join(restated) or "none"),
            "surcharge_total": dg.MetadataValue.text(this.totals["contact_center_surcharge"]),
            "excess_charges_total": dg.MetadataValue.text(this.totals["excess_usage_charges"]),
            "accepted_incomplete": dg.MetadataValue.text(accepted.get(month) or "no"),
        })

    return [published_warehouse, finance_exports]
