"""Every step that writes takes the warehouse lock (domain/warehouse_lock.py) and keeps it until its process
ends: a run executes in one process (the job's in-process executor, or `fairuse run`), so the lock spans the
whole run, not a step. A run that cannot get it fails with the holder named, not with a DuckDB error.

Whoever launched the run (`fairuse run`, the schedule, the sensor, a backfill, the UI), once a step holds the lock
the run keeps its progress record for `fairuse status` (domain/run_progress.py): its month, then each step
starting and ending and the run ending, from the run's own Dagster events (the instance's listener on the run, in
this process), and the dbt nodes from the dbt step."""

import dagster as dg

from dagster_project.domain import run_progress, warehouse_lock
from dagster_project.domain.settings import Settings

_OUTCOMES = {dg.DagsterEventType.RUN_SUCCESS: "succeeded", dg.DagsterEventType.RUN_FAILURE: "failed",
             dg.DagsterEventType.RUN_CANCELED: "canceled"}


def hold_warehouse(context: dg.AssetExecutionContext, settings: Settings) -> None:
    if not warehouse_lock.held_by_this_process(settings.build_db):
        try:
            note = warehouse_lock.acquire(
                settings.build_db, [context.partition_key], f"Dagster run {context.run_id[:8]}",
                timeout=settings.lock_timeout,
                on_wait=lambda h: context.log.info(
                    f"waiting for the warehouse (up to {settings.lock_timeout:.0f}s): held by "
                    f"{h.describe() if h else 'another process'}"))
        except warehouse_lock.WarehouseBusy as e:
            raise dg.Failure(description=str(e)) from None
        if note:
            context.log.warning(note)
    follow_run(context, settings)


def follow_run(context: dg.AssetExecutionContext, settings: Settings) -> None:
    """Keep the progress record of this run (this process holds the warehouse); never fails the step."""
    try:
        progress = run_progress.for_build_db(settings.build_db)
        if progress.run_started(context.run_id, context.partition_key, context.op_def.name):
            context.instance.add_event_listener(context.run_id, _listener(progress))
        else:
            progress.step_started(context.op_def.name)
    except Exception as e:  # the record is a courtesy to `fairuse status`, never a reason to stop a run
        context.log.warning(f"progress record not kept: {e}")


def _listener(progress: run_progress.RunProgress):
    def on_event(entry) -> None:
        try:
            event = entry.get_dagster_event() if entry.is_dagster_event else None
            if event is None:
                return
            kind = event.event_type
            if kind == dg.DagsterEventType.STEP_START:
                progress.step_started(event.step_key)
            elif kind in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE):
                progress.step_finished(event.step_key, kind == dg.DagsterEventType.STEP_SUCCESS)
            elif kind in _OUTCOMES:
                progress.run_finished(_OUTCOMES[kind])
        except Exception as e:  # an event listener that raises would break the run's event log
            run_progress.log.warning(f"progress record: event not recorded: {e}")

    return on_event
