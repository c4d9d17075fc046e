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


WATCH_JOB_NAME = "month_to_date_watch_job"


class WatchConfig(dg.Config):
    month: str  # YYYY-MM, the open month
    as_of: str | None = None  # the cut (`fairuse watch --as-of`); none: everything delivered so far


@dg.op(name="month_to_date_watch", required_resource_keys={"fairuse"})
def month_to_date_watch(context: dg.OpExecutionContext, config: WatchConfig) -> None:
    """`fairuse watch` for one open month: build it in a scratch database and publish the provisional watch tables
    (domain/watch.py); nothing final changes."""
    from dagster_project.domain.watch import WatchError, format_watch, run_watch

    try:
        result = run_watch(context.resources.fairuse.settings(), config.month, config.as_of)
    except WatchError as e:
        raise dg.Failure(description=str(e)) from None
    context.log.info(format_watch(result))


def build_watch_job(warehouse: str | None = None) -> dg.JobDefinition:
    @dg.job(name=WATCH_JOB_NAME, executor_def=dg.in_process_executor,
            tags={WAREHOUSE_TAG: warehouse} if warehouse else None,
            description="The month-to-date watch of an open month (provisional projections, `fairuse watch`).")
    def month_to_date_watch_job():
        month_to_date_watch()

    return month_to_date_watch_job
