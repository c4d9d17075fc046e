"""Asset checks: the completeness gate before anything is published (blocking), and on what is published: months
are contiguous, exports agree with the marts."""

import dagster as dg
import duckdb

from dagster_project.defs.assets.publish import EXPORTS_KEY, WAREHOUSE_KEY
from dagster_project.defs.resources import FairuseResource
from dagster_project.domain import completeness, exports, month_state
from dagster_project.domain.engine import engine_for
from dagster_project.domain.locations import Folder
from dagster_project.domain.publish import is_whole
from dagster_project.domain.raw_files import month_fingerprint

USAGE_KEY = dg.AssetKey(["marts", "fct_user_monthly_usage"])  # a dbt model every publish asset depends on


def accepts_incomplete(tags) -> bool:
    """Whether the run was started with the operator's choice to publish a month the gate holds (the run tag
    `fairuse/accept_incomplete`, set by `fairuse run --accept-incomplete` or in the UI's launchpad)."""
    return str(tags.get(completeness.ACCEPT_TAG, "")).strip().lower() in ("true", "1", "yes")


@dg.asset_check(
    asset=USAGE_KEY, blocking=True,
    description="The completeness gate: every dataset of the month present, its counted volume (overall and for the "
                "larger accounts) not below half the median of the last three built months, its data reaching the "
                "month's end, a reference snapshot dated in or after the month. Blocks publishing when it fails; "
                "the run tag fairuse/accept_incomplete=true publishes anyway, recorded in the exports' manifest.")
def completeness_gate(context: dg.AssetCheckExecutionContext, fairuse: FairuseResource) -> dg.AssetCheckResult:
    s = fairuse.settings()
    month = context.partition_key
    verdict = evaluate_gate(s, month)
    accepted = verdict.held and accepts_incomplete(context.run.tags)
    if not verdict.held:
        month_state.record(s.warehouse, month, "built", gate="passed", reason=None)
    elif accepted:
        month_state.record(s.warehouse, month, "built", gate="accepted", reason=verdict.line())
        context.log.warning(f"{month} accepted incomplete by the operator: {verdict.line()}")
    else:
        # The files it was held with: the late-data sensor re-runs it when they change (defs/sensors.py).
        month_state.record(s.warehouse, month, "held", gate="held", reason=verdict.line(),
                           fingerprint=month_fingerprint(s.raw_dir, month))
    return dg.AssetCheckResult(
        passed=not verdict.held,
        # Accepted: shown as a failed check (it did fail), but a warning does not block the publish assets.
        severity=dg.AssetCheckSeverity.WARN if accepted else dg.AssetCheckSeverity.ERROR,
        description=verdict.line() or "complete",
        metadata={
            "verdict": dg.MetadataValue.text("accepted incomplete" if accepted else "held" if verdict.held
                                             else "passed"),
            "reasons": dg.MetadataValue.text(verdict.line() or "none"),
            "compared_with": dg.MetadataValue.text(", ".join(verdict.history) or "none (first months)"),
            "figures": dg.MetadataValue.md(verdict.table_md()),
        })


def evaluate_gate(s, month: str) -> completeness.Verdict:
    """The gate's verdict on `month`, just built: its figures and its history's from the build storage; the
    history is the built months before it whose own build was whole."""
    engine = engine_for(s)
    figures = completeness.collect_figures(lambda sql: engine.build_query(s, sql), month)
    states = month_state.read_months(s.warehouse)
    # A month with no record (a build from before the record existed) counts; a held, failed or unfinished one not.
    history = [m for m in figures if m < month and (m not in states or is_whole(states[m]))]
    return completeness.judge(month, completeness.present_datasets(s.raw_dir, month),
                              completeness.snapshot_dates(s.raw_dir), figures, history, s.gate)


@dg.asset_check(asset=WAREHOUSE_KEY, description="No month missing between the first and last built month.")
def months_are_contiguous(fairuse: FairuseResource) -> dg.AssetCheckResult:
    s = fairuse.settings()
    con = duckdb.connect(str(s.warehouse), read_only=True)
    try:
        months = [m for (m,) in con.execute(
            "select distinct strftime(month, '%Y-%m') from marts.fct_user_monthly_usage order by 1").fetchall()]
    finally:
        con.close()
    missing = []
    if months:
        y, m = map(int, months[0].split("-"))
        while f"{y:04d}-{m:02d}" < months[-1]:
            if f"{y:04d}-{m:02d}" not in months:
                missing.append(f"{y:04d}-{m:02d}")
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return dg.AssetCheckResult(passed=not missing, metadata={
        "first_month": months[0] if months else "", "last_month": months[-1] if months else "",
        "missing_months": ", ".join(missing) or "none"})


@dg.asset_check(asset=EXPORTS_KEY, description="Export files match their manifest and the marts' amounts.")
def exports_match_marts(context: dg.AssetCheckExecutionContext, fairuse: FairuseResource) -> dg.AssetCheckResult:
    s = fairuse.settings()
    con = duckdb.connect(str(s.warehouse), read_only=True)
    try:
        months = Folder(s.exports_dir).month_folders()
        results = {m: exports.check_month_export(con, s.exports_dir, m) for m in months}
    finally:
        con.close()
    bad = [m for m, (ok, _) in results.items() if not ok]
    return dg.AssetCheckResult(passed=not bad, metadata={"months_checked": len(results),
                                                         "inconsistent_months": ", ".join(bad) or "none"})
