"""The Dagster code location: assets, checks, jobs, schedules, sensors and resources, nothing else."""

import dagster as dg

from dagster_project.assets.dbt import dbt_models
from dagster_project.assets.publish import finance_exports, published_warehouse
from dagster_project.assets.raw import raw_month
from dagster_project.checks import exports_match_marts, months_are_contiguous
from dagster_project.jobs import monthly_pipeline
from dagster_project.resources import build_resources

defs = dg.Definitions(
    assets=[raw_month, dbt_models, published_warehouse, finance_exports],
    asset_checks=[months_are_contiguous, exports_match_marts],
    jobs=[monthly_pipeline],
    resources=build_resources(),
)
