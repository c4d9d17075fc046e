"""`fairuse run`: materialize every asset for each month, in order, through Dagster, in this process."""

from __future__ import annotations

import contextlib
import sys
import time
import uuid
from dataclasses import dataclass

import duckdb

from dagster_project.cli.progress import Reporter
from dagster_project.domain import month_state, warehouse_lock
from dagster_project.domain.raw_files import months_in_raw
from dagster_project.domain.settings import Settings

# The per-step lines below are the progress report; Dagster's own console log only for warnings.
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


@dataclass
class MonthOutcome:
    month: str
    success: bool
    seconds: float
    error: str | None = None


def _failure(result) -> tuple[str | None, str]:
    """The failing step and its error."""
    for ev in result.all_events:
        if ev.event_type_value == "STEP_FAILURE":
            err = ev.event_specific_data.error
            while err.cause is not None and "BadRawFile" not in err.cls_name:
                err = err.cause
            return ev.step_key, err.message.strip()
    return None, "the run failed (see the Dagster event log)"


def run_months(settings: Settings, months: list[str], out=sys.stdout, wait: bool = True,
               reporter: Reporter | None = None) -> list[MonthOutcome]:
    """Build `months` in order, holding the warehouse lock for all of them (WarehouseBusy if another run holds it
    and `wait` is off, or past the lock timeout). Progress goes to `reporter` (default: plain lines on `out`)."""
    months = sorted(set(months))
    reporter = reporter or Reporter(out)
    note = warehouse_lock.acquire(
        settings.build_db, months, "fairuse run", wait=wait, timeout=settings.lock_timeout,
        on_wait=lambda h: reporter.line(f"waiting for the warehouse (up to {settings.lock_timeout:.0f}s): it is "
                                        f"being built by {h.describe() if h else 'another process'}"))
    if note:
        reporter.line(note)
    try:
        reporter.start(settings.build_db, months)
        with reporter:
            return _run_months(settings, months, reporter)
    finally:
        warehouse_lock.release(settings.build_db)


def _run_months(settings: Settings, months: list[str], reporter: Reporter) -> list[MonthOutcome]:
    from dagster_project.cli.instance import dagster_instance
    from dagster_project.definitions import build_definitions
    from dagster_project.defs.partitions import monthly_partitions
    from dagster_project.domain.dbt_runner import watch_nodes

    reporter.phase("loading the pipeline's definitions")
    job = build_definitions(settings).resolve_job_def("monthly_pipeline")
    known = set(monthly_partitions.get_partition_keys())
    instance = dagster_instance()
    outcomes = []
    for month in months:
        if month not in known:
            msg = (f"month {month} is outside the partitions ({monthly_partitions.get_first_partition_key()} .. "
                   f"{monthly_partitions.get_last_partition_key()})")
            outcomes.append(MonthOutcome(month, False, 0.0, msg))
            break
        log_file = settings.data_dir / "logs" / f"run-{month}.log"
        log_file.parent.mkdir(parents=True, exist_ok=True)
        run_id = str(uuid.uuid4())
        month_state.record(settings.warehouse, month, "building", run_id=run_id, step=None, error=None)
        reporter.month_started(month, log_file)
        instance.add_event_listener(run_id, reporter.dagster_event)  # each event as the run writes it
        t0 = time.perf_counter()
        # dagster-dbt echoes dbt's raw log to stdout: keep it in the month's log file, out of the progress lines.
        with open(log_file, "w") as log, contextlib.redirect_stdout(log), watch_nodes(reporter.dbt_node):
            result = job.execute_in_process(partition_key=month, instance=instance, raise_on_error=False,
                                            run_config=QUIET, run_id=run_id)
        secs = time.perf_counter() - t0
        reporter.month_finished(month, result.success, secs)
        if not result.success:
            step, error = _failure(result)
            month_state.record(settings.warehouse, month, "failed", run_id=run_id, step=step, error=error)
            outcomes.append(MonthOutcome(month, False, secs, f"{step}: {error}" if step else error))
            break
        outcomes.append(MonthOutcome(month, True, secs))
    return outcomes


def summary(settings: Settings, outcomes: list[MonthOutcome]) -> str:
    built = [o.month for o in outcomes if o.success]
    lines = ["", "Summary"]
    if built and settings.warehouse.exists():
        con = duckdb.connect(str(settings.warehouse), read_only=True)
        try:
            starts = [f"{m}-01" for m in built]
            marks = ", ".join("?" for _ in starts)
            rows = con.execute(
                f"select strftime(b.month, '%Y-%m'), sum(rows_read), sum(rows_counted), sum(rows_quarantined), "
                f"sum(duplicates_dropped), (select count(*) from marts.fct_user_monthly_usage u "
                f"where u.month = b.month) from audit.load_balance b where b.month in ({marks}) "
                f"group by b.month order by 1", starts).fetchall()
        finally:
            con.close()
        lines.append(f"  {'month':<8} {'rows read':>12} {'loaded':>12} {'quarantined':>12} {'dup dropped':>12} "
                     f"{'users':>8}")
        for r in rows:
            lines.append(f"  {r[0]:<8} {r[1]:>12,} {r[2]:>12,} {r[3]:>12,} {r[4]:>12,} {r[5]:>8,}")
        lines.append(f"  marts and audit tables: {settings.warehouse} (schemas marts, audit; open read-only)")
        lines.append(f"  exports:                {settings.exports_dir}")
    failed = [o for o in outcomes if not o.success]
    for o in failed:
        lines.append(f"  FAILED {o.month}: {o.error}")
        lines.append("  What was published for that month before is unchanged.")
    lines.append(f"  {len(built)} month(s) built in {sum(o.seconds for o in outcomes):.1f}s")
    return "\n".join(lines)


def default_months(settings: Settings) -> list[str]:
    return months_in_raw(settings.raw_dir)
