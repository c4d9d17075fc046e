"""The monthly schedule: on the 2nd at 06:00 UTC, run the whole pipeline for the month that just closed.

Day and hour are configurable (FAIRUSE_SCHEDULE_DAY, FAIRUSE_SCHEDULE_HOUR), so late exporters can be waited for.
"""

import os

import dagster as dg

from dagster_project.jobs import monthly_pipeline

monthly_schedule = dg.build_schedule_from_partitioned_job(
    monthly_pipeline,
    name="monthly_pipeline_schedule",
    day_of_month=int(os.environ.get("FAIRUSE_SCHEDULE_DAY", "2")),
    hour_of_day=int(os.environ.get("FAIRUSE_SCHEDULE_HOUR", "6")),
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Builds the month that just closed (the last complete monthly partition).",
)
