"""The raw step as Dagster assets: one month's delivery record and in-place views (domain/raw_load.py; on the Spark
engine domain/spark_engine.py: domain/engine.py picks).

Conservation (rows read = counted + quarantined + duplicates dropped) is checked where the rows are counted:
the dbt tests of audit/load_balance, which are asset checks of that asset.
"""

import dagster as dg

from dagster_project.defs.partitions import monthly_partitions, one_month_per_run
from dagster_project.defs.resources import FairuseResource
from dagster_project.defs.warehouse_lock import hold_warehouse
from dagster_project.domain import month_state
from dagster_project.domain.contract import EVENT_DATASETS, REFERENCE_DATASETS
from dagster_project.domain.engine import engine_for
from dagster_project.domain.locations import Folder
from dagster_project.domain.policy_reference import names_without_accounts

RAW_DESCRIPTIONS = {
    "calls": "Call detail records of the month: the delivered Parquet files, read in place (view raw.calls).",
    "messages": "SMS/MMS/WhatsApp messages of the month, read in place (view raw.messages).",
    "chats": "Team chat messages of the month, read in place (view raw.chats).",
    "accounts": "Every accounts snapshot, read in place (view raw.accounts).",
    "users": "Every users snapshot, read in place (view raw.users).",
}
RAW_KEYS = {name: dg.AssetKey(["raw", name]) for name in RAW_DESCRIPTIONS}


@dg.multi_asset(
    name="raw_month",
    specs=[
        dg.AssetSpec(key, description=RAW_DESCRIPTIONS[name], group_name="raw", kinds={"duckdb", "parquet"},
                     owners=["team:data-platform"])
        for name, key in RAW_KEYS.items()
    ],
    partitions_def=monthly_partitions,
    backfill_policy=one_month_per_run,
    op_tags={"dagster/concurrency_key": "warehouse"},
)
def raw_month(context: dg.AssetExecutionContext, fairuse: FairuseResource):
    """Check the policy file and every file of the month (footers, required columns, castable values), then
    record the delivery and point the raw views at the files; nothing is written if the policy or a file is bad.
    Countries, plans and currencies the policy names that no account of the month has are logged as warnings
    and listed in `raw/accounts`' metadata (`policy_names_without_accounts`)."""
    s = fairuse.settings()
    policy = fairuse.policy()  # an invalid policy file fails here (one line naming the key), before any write
    Folder(s.raw_dir).check()  # so does a bucket that is missing, refuses the credentials or cannot be reached
    Folder(s.exports_dir).check()
    hold_warehouse(context, s)
    try:
        record = engine_for(s).record_month(s, context.partition_key)
    except Exception as e:  # a bad file: nothing written; the month's state says why (domain/month_state.py)
        month_state.record(s.warehouse, context.partition_key, "failed", run_id=context.run_id, step="raw_month",
                           error=str(e).splitlines()[0][:500] if str(e) else type(e).__name__)
        raise
    # Countries, plans and currencies the policy names that no account of the month has: reported, not refused.
    unmatched = names_without_accounts(policy, s.raw_dir, context.partition_key)
    for line in unmatched:
        context.log.warning(f"policy {s.policy_file.name}: {line}")
    for ds in EVENT_DATASETS + REFERENCE_DATASETS:
        metadata = {
            "files": dg.MetadataValue.int(record.files[ds.name]),
            "rows_read": dg.MetadataValue.int(record.rows_read[ds.name]),
        }
        if ds.name == "accounts":
            metadata["policy_names_without_accounts"] = dg.MetadataValue.md(
                "\n".join(f"- {line}" for line in unmatched) or "none")
        yield dg.MaterializeResult(asset_key=RAW_KEYS[ds.name], metadata=metadata)
