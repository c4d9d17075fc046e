"""The raw step as Dagster assets: one month's delivery record and in-place views (domain/raw_load.py; on the Spark
engine domain/spark_engine.py: domain/engine.py picks).

Conservation (rows read = counted + quarantined + duplicates dropped) is checked where the rows are counted:
the dbt tests of audit/load_balance, which are asset checks of that asset.
"""

import dagster as dg

from dagster_project.defs.partitions import monthly_partitions, one_month_per_run
from dagster_project.defs.resources import FairuseResource
from dagster_project.defs.warehouse_lock import hold_warehouse
from dagster_project.domain.contract import EVENT_DATASETS, REFERENCE_DATASETS
from dagster_project.domain.engine import engine_for
from dagster_project.domain.locations import Folder

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
    """Check every file of the month (footers, required columns, castable values), then record the delivery
    and point the raw views at the files; nothing is written if a file is bad."""
    s = fairuse.settings()
    fairuse.policy()  # an invalid policy file fails here, before anything is written
    Folder(s.exports_dir).check()  # so does a bucket that is missing, refuses the credentials or cannot be reached
    hold_warehouse(context, s)
    record = engine_for(s).record_month(s, context.partition_key)
    for ds in EVENT_DATASETS + REFERENCE_DATASETS:
        yield dg.MaterializeResult(asset_key=RAW_KEYS[ds.name], metadata={
            "files": dg.MetadataValue.int(record.files[ds.name]),
            "rows_read": dg.MetadataValue.int(record.rows_read[ds.name]),
        })
