"""The monthly pipeline job: every asset, for one month, in one process."""

from __future__ import annotations

import dagster as dg

from dagster_project.defs.partitions import monthly_partitions

# The run tag naming the warehouse a run writes: the production instance's run queue (deploy/dagster.yaml) lets
# one run per value be in progress, so two runs never build the same warehouse at once.
WAREHOUSE_TAG = "fairuse/warehouse"
JOB_NAME = "monthly_pipeline"


def build_monthly_pipeline(warehouse: str | None = None) -> dg.UnresolvedAssetJobDefinition:
    """The job; its runs carry WAREHOUSE_TAG = `warehouse` (the settings' published file) when it is given."""
    # One process for the whole run (the run worker), as `fairuse run` does: the steps run one after the other
    # anyway (one warehouse, one writer), and a process per step would pay Python, Dagster's and dbt's imports and
    # the definitions' loading for each of them (a month from the UI took ~4x `fairuse run` of it; see
    # tools/bench/launcher.py). definitions.py makes it the default of asset backfills too.
    return dg.define_asset_job(
        JOB_NAME,
        selection=dg.AssetSelection.all(),
        partitions_def=monthly_partitions,
        executor_def=dg.in_process_executor,
        tags={WAREHOUSE_TAG: warehouse} if warehouse else None,  # job tags: every run of the job gets them
        description="Load one month of raw usage, build every dbt model for it, publish marts and exports.",
    )


monthly_pipeline = build_monthly_pipeline()
