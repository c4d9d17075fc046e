"""The monthly report and customer notices, written after the month is published and exported.

One self-contained HTML page per month (`<reports_dir>/YYYY-MM/report.html`) and the month's customer notices
(`notices/`), from the published warehouse and the exports folder only. Later months that already have a report
are rewritten too: their "change from the previous month" and their ladder can move when this month is re-run
(an unchanged month rewrites nothing).
"""

import dagster as dg

from dagster_project.defs.assets.publish import EXPORTS_KEY, published_along
from dagster_project.defs.partitions import monthly_partitions, one_month_per_run
from dagster_project.defs.resources import FairuseResource
from dagster_project.defs.warehouse_lock import hold_warehouse
from dagster_project.domain import month_state
from dagster_project.domain.report import build_month_report


@dg.multi_asset(
    name="publish__report",
    specs=[dg.AssetSpec(
        ["publish", "report"], group_name="publish",
        deps=[EXPORTS_KEY],  # publish/finance_exports: runs after the month is published and exported
        kinds={"html"}, owners=["team:data-platform"],
        description="Monthly fair-use report (one self-contained HTML page with charts) and customer notices "
                    "(Markdown + HTML per account to contact, index.csv, changes.csv after a restatement).")],
    partitions_def=monthly_partitions,
    backfill_policy=one_month_per_run,
    op_tags={"dagster/concurrency_key": "warehouse"},
)
def monthly_report(context: dg.AssetExecutionContext, fairuse: FairuseResource) -> dg.MaterializeResult:
    s = fairuse.settings()
    hold_warehouse(context, s)
    month = context.partition_key
    later = sorted(p.name for p in s.reports_dir.glob("????-??") if p.is_dir() and p.name > month)
    along = published_along(month_state.read_months(s.warehouse), context.run_id)
    results = []
    for m in [month, *sorted(set(later) | set(along) - {month})]:
        r = build_month_report(s.warehouse, s.exports_dir, s.reports_dir, m, policy_file=s.policy_file)
        for w in r.warnings:
            context.log.warning(f"{m}: {w}")
        results.append(r)
    this = results[0]
    rewritten = [r.month for r in results[1:] if r.files_written]
    return dg.MaterializeResult(metadata={
        "report": dg.MetadataValue.path(str(this.path)),
        "report_url": dg.MetadataValue.url(this.path.resolve().as_uri()),
        "summary": dg.MetadataValue.md(this.summary_md),
        "size_bytes": dg.MetadataValue.int(this.size_bytes),
        "notices": dg.MetadataValue.int(len(this.notices)),
        "notices_index": dg.MetadataValue.path(str(this.path.parent / "notices" / "index.csv")),
        "notices_changed": dg.MetadataValue.int(len(this.notices_changed)),
        "notices_revision": dg.MetadataValue.int(this.notices_revision),
        "exports_revision": dg.MetadataValue.int(this.exports_revision or 0),
        "later_months_rewritten": dg.MetadataValue.text(", ".join(rewritten) or "none"),
    })
