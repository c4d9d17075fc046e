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
            message = err.message.strip()
            if err.cls_name == "NotPublishable":  # its message is the whole story
                message = message.split(": ", 1)[-1]
            return ev.step_key, " ".join(message.split())  # one line (dbt names each failed node on its own)
    return None, "the run failed (see the Dagster event log)"


def _held(settings: Settings, month: str) -> str | None:
    """One line for a month the completeness gate held in this run (domain/month_state.py), else None."""
    from dagster_project.domain import month_state

    entry = month_state.read_months(settings.warehouse).get(month) or {}
    if entry.get("state") != "held":
        return None
    return (f"held by the completeness gate: {entry.get('reason')}; nothing of it was published (warehouse and "
            f"exports unchanged); accept it as it is with `fairuse run --month {month} --accept-incomplete`, or "
            f"rebuild it once its data is complete")


def lost_months(settings: Settings) -> list[str]:
    """Published months the build database lacks (its folder lost or recreated) that the raw data can rebuild."""
    from dagster_project.domain.publish import built_months, published_months, unpublished_months

    lost = (published_months(settings.warehouse) - built_months(settings.build_db)
            - {m[:7] for m in unpublished_months(settings.build_db)})
    return sorted(lost & set(months_in_raw(settings.raw_dir)))


def earlier_accepts(settings: Settings, months: list[str],
                    recorded: dict[str, dict]) -> dict[str, str]:
    """Months among `months` an operator published as accepted incomplete -> the reason the gate held them: from
    the month states (`recorded`), else from the month's exports manifest (`accepted_incomplete.reason`)."""
    import json

    from dagster_project.domain.locations import Folder

    out = {}
    for month in months:
        entry = recorded.get(month) or {}
        if entry.get("state") == "accepted_incomplete":
            out[month] = entry.get("reason") or ""
            continue
        folder = Folder(settings.exports_dir) / month
        try:
            manifest = json.loads(folder.read_bytes("manifest.json"))
        except (OSError, ValueError):
            continue
        accepted = manifest.get("accepted_incomplete") if isinstance(manifest, dict) else None
        if isinstance(accepted, dict):
            out[month] = str(accepted.get("reason") or "")
    return out


def unfinished_months(settings: Settings) -> list[str]:
    """Months rebuilt in the build database, not yet published, whose build is not whole (killed, failed, held)."""
    from dagster_project.domain import month_state
    from dagster_project.domain.publish import is_whole, unpublished_months

    states = month_state.read_months(settings.warehouse)
    return sorted(m[:7] for m in unpublished_months(settings.build_db) if not is_whole(states.get(m[:7])))


def keep_published(settings: Settings, recorded: dict[str, dict]) -> None:
    """A published month a run rebuilt and did not publish again (its rebuild failed or was held, or a later month's
    did before the publish that would have carried it) stays published: the warehouse and exports still have it.
    Its rebuild's record goes beside it (domain/month_state.keep_published): what the build database holds of it,
    which no publish carries unless whole. `recorded`: the month states before the run."""
    now = month_state.read_months(settings.warehouse)
    for month, before in recorded.items():
        if (before.get("state") in month_state.PUBLISHED_STATES and month in now
                and now[month].get("state") not in month_state.PUBLISHED_STATES):
            month_state.keep_published(settings.warehouse, month, before, now[month])


def check_policy_history(settings: Settings, configured, months: list[str], restate_under: str | None) -> None:
    """PolicyError (one line) if the configured policy cannot join the warehouse's history of versions, or a month
    has no version in force, or `restate_under` names no known version, or the build database holds months with
    no policy record (domain/policy_versions.py)."""
    from dagster_project.domain import policy_versions

    if months:
        policy_versions.check_recorded(settings, months, busy_ok=True)
    history = policy_versions.read_history(settings, busy_ok=True)
    for month in sorted(set(months)):
        policy_versions.policy_for_month(month, configured, history, restate_under,
                                         source=f"policy {settings.policy_file}")


def run_months(settings: Settings, months: list[str], out=sys.stdout, wait: bool = True,
               accept_incomplete: bool = False, reporter: Reporter | None = None,
               restate_under: str | None = None) -> list[MonthOutcome]:
    """Build `months` in order, holding the warehouse lock for all of them (WarehouseBusy if another run holds it
    and `wait` is off, or past the lock timeout). `accept_incomplete`: publish them even if the completeness gate
    holds them (the run tag the gate reads). `restate_under`: compute them under this policy version rather than
    their own (the run tag RESTATE_TAG). Progress goes to `reporter` (default: plain lines on `out`)."""
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
            return _run_months(settings, months, reporter, accept_incomplete, restate_under)
    finally:
        warehouse_lock.release(settings.build_db)


def _run_months(settings: Settings, months: list[str], reporter: Reporter,
                accept_incomplete: bool = False, restate_under: str | None = None) -> list[MonthOutcome]:
    from dagster_project.cli.instance import dagster_instance
    from dagster_project.definitions import build_definitions
    from dagster_project.defs.partitions import monthly_partitions
    from dagster_project.domain.completeness import ACCEPT_TAG
    from dagster_project.domain.dbt_runner import watch_nodes
    from dagster_project.domain.policy_versions import RESTATE_TAG

    reporter.phase("loading the pipeline's definitions")
    defs = build_definitions(settings)
    job = defs.resolve_job_def("monthly_pipeline")
    known = set(monthly_partitions.get_partition_keys())
    instance = dagster_instance()
    outcomes: list[MonthOutcome] = []
    recorded = month_state.read_months(settings.warehouse)  # as it was before this run touched any month
    # A lost build folder: the published months it lacked are rebuilt from the raw data, and a month asked for that
    # is unfinished in the build (a killed or failed run) is rebuilt too (a month not asked for makes the run refuse,
    # naming it). Every month is built once, in month order (the completeness gate compares each with the months
    # before it); the months before the last of those are built only (raw and dbt), and the first publish after them
    # carries them all, since no publish may drop a published month nor carry an unfinished one.
    lost = lost_months(settings)
    asked = set(months)
    unfinished = [m for m in unfinished_months(settings) if m in asked]
    # A lost month the operator had published as accepted incomplete is rebuilt with that accept (it restores what
    # was published; it only matters if the gate holds it again); --accept-incomplete applies to the months asked for.
    carried = earlier_accepts(settings, lost, recorded)
    if lost:
        months = sorted({*months, *lost})
        reporter.line(f"the build database lacks published month(s) {', '.join(lost)}: rebuilding them from the raw "
                      f"data before publishing"
                      + "".join(f"; {m} with its earlier accept (accepted incomplete: {r})"
                                for m, r in sorted(carried.items())))
    publish_from = max([*lost, *unfinished], default="")
    build_only = sorted((k for k in defs.resolve_asset_graph().materializable_asset_keys if k.path[0] != "publish"),
                        key=lambda k: k.to_user_string())
    waiting: list[MonthOutcome] = []  # built only, published by the next publish
    try:
        for month in months:
            publish = month >= publish_from
            month_tags = {ACCEPT_TAG: "true"} if (accept_incomplete and month in asked) or month in carried else {}
            # only the months asked for are restated (a lost or unfinished month rebuilt first keeps its version)
            if restate_under and month in asked:
                month_tags[RESTATE_TAG] = restate_under
            if month not in known:
                msg = (f"month {month} is outside the partitions ({monthly_partitions.get_first_partition_key()} .. "
                       f"{monthly_partitions.get_last_partition_key()})")
                outcomes.append(MonthOutcome(month, False, 0.0, msg))
                break
            log_file = settings.data_dir / "logs" / f"run-{month}.log"
            log_file.parent.mkdir(parents=True, exist_ok=True)
            run_id = str(uuid.uuid4())
            month_state.record(settings.warehouse, month, "building", run_id=run_id, step=None, error=None)
            reporter.month_started(month, log_file, "" if publish else " (not published yet)")
            instance.add_event_listener(run_id, reporter.dagster_event)  # each event as the run writes it
            t0 = time.perf_counter()
            # dagster-dbt echoes dbt's raw log to stdout: keep it in the month's log file, out of the progress lines.
            with open(log_file, "w") as log, contextlib.redirect_stdout(log), watch_nodes(reporter.dbt_node):
                result = job.execute_in_process(partition_key=month, instance=instance, raise_on_error=False,
                                                run_config=QUIET, run_id=run_id, tags=month_tags,
                                                asset_selection=None if publish else build_only)
            secs = time.perf_counter() - t0
            reporter.month_finished(month, result.success, secs, "done" if publish else "built")
            if not result.success:
                held = _held(settings, month)
                step, error = _failure(result)
                # A held month keeps its state and reason (recorded by the gate); a month built whole whose publish
                # failed or was refused stays built (the failing step and error recorded beside it); else failed.
                state = (month_state.read_months(settings.warehouse).get(month) or {}).get("state")
                if not held:
                    month_state.record(settings.warehouse, month, "built" if state == "built" else "failed",
                                       run_id=run_id, step=step, error=error)
                outcomes.append(MonthOutcome(month, False, secs, held or (f"{step}: {error}" if step else error)))
                break
            if not publish:
                waiting.append(MonthOutcome(month, True, secs))
                continue
            outcomes += [*waiting, MonthOutcome(month, True, secs)]
            waiting = []
    finally:
        keep_published(settings, recorded)
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
        lines.append(f"  {'HELD' if o.error and o.error.startswith('held by') else 'FAILED'} {o.month}: {o.error}")
        lines.append("  What was published for that month before is unchanged.")
    lines.append(f"  {len(built)} month(s) built in {sum(o.seconds for o in outcomes):.1f}s")
    return "\n".join(lines)


def default_months(settings: Settings) -> list[str]:
    return months_in_raw(settings.raw_dir)
