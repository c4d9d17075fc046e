"""Asset checks on what is published: months are contiguous, exports agree with the marts."""

import dagster as dg
import duckdb

from dagster_project.defs.assets.publish import EXPORTS_KEY, WAREHOUSE_KEY
from dagster_project.defs.resources import FairuseResource
from dagster_project.domain import exports
from dagster_project.domain.locations import Folder


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
