"""The monthly pipeline job: every asset, for one month."""

import dagster as dg

from dagster_project.defs.partitions import monthly_partitions

monthly_pipeline = dg.define_asset_job(
    "monthly_pipeline",
    selection=dg.AssetSelection.all(),
    partitions_def=monthly_partitions,
    description="Load one month of raw usage, build every dbt model for it, publish marts and exports.",
)
