"""The monthly pipeline job: every asset, for one month, in one process."""

import dagster as dg

from dagster_project.defs.partitions import monthly_partitions

# One process for the whole run (the run worker), as `fairuse run` does: the steps run one after the other anyway
# (one warehouse, one writer), and a process per step would pay Python, Dagster's and dbt's imports and the
# definitions' loading for each of them (a month from the UI took ~4x `fairuse run` of it; see
# tools/bench/launcher.py). definitions.py makes it the default of asset backfills too.
monthly_pipeline = dg.define_asset_job(
    "monthly_pipeline",
    selection=dg.AssetSelection.all(),
    partitions_def=monthly_partitions,
    executor_def=dg.in_process_executor,
    description="Load one month of raw usage, build every dbt model for it, publish marts and exports.",
)
