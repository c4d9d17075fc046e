"""Every step that writes takes the warehouse lock (domain/warehouse_lock.py) and keeps it until its process
ends: a run executes in one process (the job's in-process executor, or `fairuse run`), so the lock spans the
whole run, not a step. A run that cannot get it fails with the holder named, not with a DuckDB error."""

import dagster as dg

from dagster_project.domain import warehouse_lock
from dagster_project.domain.settings import Settings


def hold_warehouse(context: dg.AssetExecutionContext, settings: Settings) -> None:
    if warehouse_lock.held_by_this_process(settings.build_db):
        return
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
