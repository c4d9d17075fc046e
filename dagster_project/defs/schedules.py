"""The monthly schedule: on a day and hour of each month (UTC), run the whole pipeline for the month that just
closed. Day and hour come from the settings (FAIRUSE_SCHEDULE_DAY, FAIRUSE_SCHEDULE_HOUR; default the 2nd, 06:00),
so late exporters can be waited for."""

from __future__ import annotations

import datetime as dt

import dagster as dg


def month_that_closed(scheduled: dt.datetime) -> str:
    """The partition key of the calendar month before the one `scheduled` falls in."""
    return (scheduled.replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")


def build_monthly_schedule(job, day: int, hour: int) -> dg.ScheduleDefinition:
    @dg.schedule(
        name="monthly_pipeline_schedule",
        job=job,
        cron_schedule=f"0 {hour} {day} * *",
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=f"Builds the month that just closed, on day {day} at {hour:02d}:00 UTC.",
    )
    def monthly_schedule(context: dg.ScheduleEvaluationContext):
        month = month_that_closed(context.scheduled_execution_time)
        return dg.RunRequest(run_key=month, partition_key=month)

    return monthly_schedule


def month_being_watched(scheduled: dt.datetime) -> str | None:
    """The open month a daily watch at `scheduled` projects: its calendar month, none on the 1st (no data yet)."""
    return None if scheduled.day == 1 else scheduled.strftime("%Y-%m")


def build_watch_schedule(job, hour: int) -> dg.ScheduleDefinition:
    @dg.schedule(
        name="month_to_date_watch_schedule",
        job=job,
        cron_schedule=f"0 {hour} * * *",
        execution_timezone="UTC",
        # Stopped until an operator starts it: a new deployment publishes no provisional figures unasked.
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description=f"Every day at {hour:02d}:00 UTC, the month-to-date watch of the current month "
                    f"(provisional projections; `fairuse watch`). Stopped by default.",
    )
    def watch_schedule(context: dg.ScheduleEvaluationContext):
        month = month_being_watched(context.scheduled_execution_time)
        if month is None:
            return dg.SkipReason("the 1st: the month has no data yet")
        return dg.RunRequest(run_key=f"watch-{context.scheduled_execution_time:%Y-%m-%d}",
                             run_config={"ops": {"month_to_date_watch": {"config": {"month": month}}}})

    return watch_schedule
