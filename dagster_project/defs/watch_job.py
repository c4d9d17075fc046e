"""The month-to-date watch as a Dagster job (`fairuse watch`, domain/watch.py), run by the daily watch schedule.

No `from __future__ import annotations` here: Dagster reads the op's config class from its annotation."""

import dagster as dg

from dagster_project.defs.jobs import WAREHOUSE_TAG
from dagster_project.defs.resources import FairuseResource

WATCH_JOB_NAME = "month_to_date_watch_job"


class WatchConfig(dg.Config):
    month: str  # YYYY-MM, the open month
    as_of: str | None = None  # the cut (`fairuse watch --as-of`); none: everything delivered so far


@dg.op(name="month_to_date_watch")
def month_to_date_watch(context: dg.OpExecutionContext, config: WatchConfig, fairuse: FairuseResource) -> None:
    """`fairuse watch` for one open month: build it in a scratch database and publish the provisional watch tables
    (domain/watch.py); nothing final changes."""
    from dagster_project.domain.policy import PolicyError
    from dagster_project.domain.watch import WatchError, format_watch, run_watch

    try:
        fairuse.policy()  # an invalid policy file: its one line, before any work (as `fairuse run`'s first step)
        result = run_watch(fairuse.settings(), config.month, config.as_of)
    except (PolicyError, WatchError) as e:
        raise dg.Failure(description=str(e)) from None
    context.log.info(format_watch(result))


def build_watch_job(warehouse: str | None = None) -> dg.JobDefinition:
    @dg.job(name=WATCH_JOB_NAME, executor_def=dg.in_process_executor,
            tags={WAREHOUSE_TAG: warehouse} if warehouse else None,
            description="The month-to-date watch of an open month (provisional projections, `fairuse watch`).")
    def month_to_date_watch_job():
        month_to_date_watch()

    return month_to_date_watch_job
