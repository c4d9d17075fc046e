"""The Dagster code location: assets, checks, jobs, schedules, sensors and resources, nothing else."""

import dagster as dg

from dagster_project.defs.assets.dbt import dbt_models
from dagster_project.defs.assets.publish import finance_exports, published_warehouse
from dagster_project.defs.assets.raw import raw_month
from dagster_project.defs.checks import exports_match_marts, months_are_contiguous
from dagster_project.defs.jobs import monthly_pipeline
from dagster_project.defs.resources import build_resources
from dagster_project.defs.schedules import monthly_schedule
from dagster_project.defs.sensors import late_data_sensor

defs = dg.Definitions(
    assets=[raw_month, dbt_models, published_warehouse, finance_exports],
    asset_checks=[months_are_contiguous, exports_match_marts],
    jobs=[monthly_pipeline],
    schedules=[monthly_schedule],
    sensors=[late_data_sensor],
    resources=build_resources(),
)
