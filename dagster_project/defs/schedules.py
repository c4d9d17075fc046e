"""The monthly schedule: on the 2nd at 06:00 UTC, run the whole pipeline for the month that just closed.

Day and hour are configurable (FAIRUSE_SCHEDULE_DAY, FAIRUSE_SCHEDULE_HOUR), so late exporters can be waited for.
"""

import datetime as dt
import os

import dagster as dg

from dagster_project.defs.jobs import monthly_pipeline


def month_that_closed(scheduled: dt.datetime) -> str:
    """The partition key of the calendar month before the one `scheduled` falls in."""
    return (scheduled.replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")


@dg.schedule(
    name="monthly_pipeline_schedule",
    job=monthly_pipeline,
    cron_schedule=f"0 {int(os.environ.get('FAIRUSE_SCHEDULE_HOUR', '6'))} "
                  f"{int(os.environ.get('FAIRUSE_SCHEDULE_DAY', '2'))} * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Builds the month that just closed.",
)
def monthly_schedule(context: dg.ScheduleEvaluationContext):
    month = month_that_closed(context.scheduled_execution_time)
    return dg.RunRequest(run_key=month, partition_key=month)
