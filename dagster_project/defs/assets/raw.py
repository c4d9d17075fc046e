"""Raw load assets: one month of raw Parquet into DuckDB (logic in dagster_project/domain/raw_load.py)."""


import dagster as dg

from dagster_project.defs.partitions import monthly_partitions, one_month_per_run
from dagster_project.defs.resources import FairuseResource
from dagster_project.domain import raw_load

RAW_DESCRIPTIONS = {
    "calls": "Call detail records of the month, de-duplicated; quarantined rows kept with their reason.",
    "messages": "SMS/MMS/WhatsApp messages of the month, de-duplicated; quarantined rows kept with their reason.",
    "chats": "Team chat messages of the month, de-duplicated; quarantined rows kept with their reason.",
    "accounts": "Every accounts snapshot (reloaded with each month).",
    "users": "Every users snapshot (reloaded with each month).",
}
RAW_KEYS = {name: dg.AssetKey(["raw", name]) for name in RAW_DESCRIPTIONS}


def _conservation_check_name(dataset: str) -> str:
    return f"{dataset}_rows_conserved"


@dg.multi_asset(
    name="raw_month",
    specs=[
        dg.AssetSpec(key, description=RAW_DESCRIPTIONS[name], group_name="raw", kinds={"duckdb", "parquet"},
                     owners=["team:data-platform"])
        for name, key in RAW_KEYS.items()
    ],
    check_specs=[
        dg.AssetCheckSpec(_conservation_check_name(ds.name), asset=RAW_KEYS[ds.name], blocking=True,
                          description="rows read (Parquet metadata) = counted + quarantined + duplicates dropped")
        for ds in raw_load.EVENT_DATASETS
    ],
    partitions_def=monthly_partitions,
    backfill_policy=one_month_per_run,
    op_tags={"dagster/concurrency_key": "warehouse"},
)
def raw_month(context: dg.AssetExecutionContext, fairuse: FairuseResource):
    """Read, validate, de-duplicate and quarantine one month of raw files; replace the month atomically."""
    s = fairuse.settings()
    month = context.partition_key
    con = raw_load.connect(s.build_db, memory_limit=s.duckdb_memory_limit)
    try:
        result = raw_load.load_month(con, s.raw_dir, month)
        balance_checks = raw_load.check_conservation(con, s.raw_dir, month)
    finally:
        con.close()  # dbt (a subprocess) needs the write lock next

    for ds in raw_load.REFERENCE_DATASETS:
        yield dg.MaterializeResult(
            asset_key=RAW_KEYS[ds.name],
            metadata={"snapshot_rows": dg.MetadataValue.int(result.reference_rows[ds.name])},
        )
    for ds in raw_load.EVENT_DATASETS:
        b = result.balance.get(ds.name, {"rows_read": 0, "rows_counted": 0, "rows_quarantined": 0,
                                         "duplicates_dropped": 0})
        reasons = result.quarantined_by_reason.get(ds.name, {})
        table = "| reason | rows |\n|---|---:|\n" + "".join(f"| {r} | {n} |\n" for r, n in reasons.items())
        yield dg.MaterializeResult(
            asset_key=RAW_KEYS[ds.name],
            metadata={
                "files": dg.MetadataValue.int(result.files[ds.name]),
                **{k: dg.MetadataValue.int(v) for k, v in b.items()},
                "conflicting_duplicates": dg.MetadataValue.int(result.conflicts.get(ds.name, 0)),
                "quarantined_by_reason": dg.MetadataValue.md(table if reasons else "none"),
                "data_complete_to": dg.MetadataValue.text(result.data_complete_to or ""),
            },
        )
        ok, detail = balance_checks[ds.name]
        yield dg.AssetCheckResult(
            asset_key=RAW_KEYS[ds.name],
            check_name=_conservation_check_name(ds.name),
            passed=ok,
            metadata={k: dg.MetadataValue.int(v) for k, v in detail.items()},
        )
