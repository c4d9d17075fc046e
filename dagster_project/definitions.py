"""The Dagster code location (workspace.yaml). The environment is read here, once, when Dagster loads the
definitions; `build_definitions` is what the CLI and the tests call with settings of their own.

The definitions' modules (dagster-dbt and dbt among them: 1.2 s) are imported when the definitions are built, not
when this module is: Dagster's loader (`defs`) first tunes the garbage collector for the process
(domain/gc_tuning.py), as the `fairuse` command does before its imports."""

from __future__ import annotations

import dagster as dg

from dagster_project.domain import gc_tuning
from dagster_project.domain.settings import Settings, settings_from_env


def build_definitions(settings: Settings) -> dg.Definitions:
    from dagster_project.defs.assets.dbt import build_dbt_assets
    from dagster_project.defs.assets.publish import build_publish_assets
    from dagster_project.defs.assets.raw import raw_month
    from dagster_project.defs.assets.report import monthly_report
    from dagster_project.defs.checks import completeness_gate, exports_match_marts, months_are_contiguous
    from dagster_project.defs.jobs import build_monthly_pipeline
    from dagster_project.defs.resources import FairuseResource
    from dagster_project.defs.schedules import build_monthly_schedule, build_watch_schedule
    from dagster_project.defs.sensors import late_data_sensor
    from dagster_project.defs.watch_job import build_watch_job
    from dagster_project.domain.dbt_project import ensure_manifest

    manifest = ensure_manifest()
    dbt_models = build_dbt_assets(manifest)
    monthly_pipeline = build_monthly_pipeline(str(settings.warehouse))
    watch_job = build_watch_job(str(settings.warehouse))
    return dg.Definitions(
        assets=[raw_month, dbt_models, *build_publish_assets(dbt_models, manifest), monthly_report],
        asset_checks=[completeness_gate, months_are_contiguous, exports_match_marts],
        jobs=[monthly_pipeline, watch_job],
        schedules=[build_monthly_schedule(monthly_pipeline, settings.schedule_day, settings.schedule_hour),
                   build_watch_schedule(watch_job, settings.schedule_hour)],
        sensors=[late_data_sensor],
        # Runs of assets picked in the UI (materialize, backfills) in one process too, like monthly_pipeline.
        executor=dg.in_process_executor,
        resources={
            # dbt runs in the step's process (domain/dbt_runner.py): no dbt CLI resource.
            "fairuse": FairuseResource.from_settings(settings),
        },
    )


@dg.definitions
def defs() -> dg.Definitions:
    gc_tuning.for_loading_definitions()
    return build_definitions(settings_from_env())
