"""`fairuse watch`: the open month's data delivered so far, projected to the month end against the thresholds.

Provisional is never final. The watch builds in a scratch DuckDB file, never in the build database:
- the month's raw files are recorded there (domain/raw_load.py: the same footers, casts and views as a run), cut at
  `as_of` when one is given (events at or after it left out);
- the cohort thresholds of the latest built month before it are copied there from the published warehouse
  (`marts.fct_published_thresholds`, that month's rows);
- dbt builds (in this process, domain/dbt_runner.py) the models a month's usage comes from (the same raw rules,
  de-duplication and quarantine) and the watch models (tag `watch`: marts.fct_month_to_date_watch and its
  per-account table), with the month and the policy in force as vars;
- only the watch tables are published (domain/publish.py `publish_provisional`: a copy of the published file with
  the month's provisional rows replaced, renamed over it). Nothing of the open month reaches the build database,
  the final marts, `audit.loaded_files`, the month states, exports or notices; the next publish of that month
  removes its provisional rows.

`backtest` runs the same build on months already built, cut at day 10, 15 and 20, and compares the watch with the
month-end flags (precision and recall of on_track_to_exceed, median projection error).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import shutil
import statistics
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from dagster_project.domain import raw_load, warehouse_lock
from dagster_project.domain.contract import EVENT_DATASETS
from dagster_project.domain.dbt_vars import dbt_vars_for_month, month_start
from dagster_project.domain.policy import Policy, load_policy
from dagster_project.domain.policy_versions import policy_for_month, read_history
from dagster_project.domain.publish import PROVISIONAL_TABLES, publish_provisional, published_months
from dagster_project.domain.raw_files import list_files
from dagster_project.domain.report.watch_page import write_watch_page
from dagster_project.domain.settings import Settings, dbt_env

EVENT_TIME = {"calls": "started_at", "messages": "sent_at", "chats": "sent_at"}
WATCH_TABLE = "marts.fct_month_to_date_watch"
BACKTEST_DAYS = (10, 15, 20)


class WatchError(RuntimeError):
    """The watch cannot run as asked (exit 2): the message says why and what to do."""


class WatchFailed(RuntimeError):
    """The watch's build failed (exit 1)."""


def policy_in_force(settings: Settings, month: str) -> Policy:
    """The policy the open month is held to: the version in force for it among the stored versions and the
    configured file (the same choice `fairuse run` makes for the month)."""
    policy, _applied = policy_for_month(month, load_policy(settings.policy_file), read_history(settings, busy_ok=True))
    return policy


def cohort_month(warehouse: Path, month: str) -> str | None:
    """The latest built month before `month` (YYYY-MM) in the published warehouse: the cohort of the thresholds."""
    earlier = sorted(m for m in published_months(warehouse) if m < month)
    return earlier[-1] if earlier else None


def next_month_start(month: str) -> dt.datetime:
    start = dt.datetime.fromisoformat(month_start(month))
    return (start + dt.timedelta(days=32)).replace(day=1)


def parse_as_of(month: str, value: str | None) -> dt.datetime | None:
    """`--as-of` as a UTC wall-clock time inside the month (exclusive end): 'YYYY-MM-DD' (its midnight) or
    'YYYY-MM-DD HH:MM[:SS]'."""
    if value is None:
        return None
    try:
        as_of = dt.datetime.fromisoformat(value.strip().replace("T", " ").removesuffix("Z"))
    except ValueError:
        raise WatchError(f"--as-of {value}: not a date or time (YYYY-MM-DD or 'YYYY-MM-DD HH:MM')") from None
    as_of = as_of.replace(tzinfo=None) if as_of.tzinfo is None else as_of.astimezone(dt.UTC).replace(tzinfo=None)
    start = dt.datetime.fromisoformat(month_start(month))
    if not start < as_of <= next_month_start(month):
        raise WatchError(f"--as-of {value}: not inside month {month} (after {start:%Y-%m-%d} 00:00, up to the "
                         f"next month's first instant)")
    return as_of


def _prepare_scratch(settings: Settings, scratch: Path, month: str, cohort: str, as_of: dt.datetime | None) -> None:
    con = raw_load.connect(scratch, memory_limit=settings.duckdb_memory_limit)
    try:
        raw_load.record_month(con, settings.raw_dir, month)
        if as_of is not None:  # the cut: the month as it stood at as_of
            for ds in EVENT_DATASETS:
                column = EVENT_TIME[ds.name]
                con.execute(f"alter view raw.{ds.name} rename to {ds.name}_delivered")
                con.execute(f"create view raw.{ds.name} as select * from raw.{ds.name}_delivered "
                            f"where {column} is null or {column} < timestamp '{as_of:%Y-%m-%d %H:%M:%S}'")
        con.execute("attach ? as published (read_only)", [str(settings.warehouse)])
        con.execute("create schema if not exists marts")
        con.execute("create table marts.fct_published_thresholds as select * from "
                    "published.marts.fct_published_thresholds where month = ?", [month_start(cohort)])
        con.execute("detach published")
    finally:
        con.close()


def build_watch(settings: Settings, month: str, scratch_dir: Path, as_of: dt.datetime | None = None) -> Path:
    """Build the watch of `month` in a scratch database under `scratch_dir`; its path."""
    from dagster_project.domain.dbt_runner import dbt_build

    cohort = cohort_month(settings.warehouse, month)
    if cohort is None:
        raise WatchError(f"no built month before {month} in {settings.warehouse} to take the thresholds from: "
                         f"build one first (`fairuse run --month ...`)")
    if not any(list_files(settings.raw_dir, ds, month) for ds in EVENT_DATASETS):
        raise WatchError(f"nothing delivered for {month} under {settings.raw_dir} yet: nothing to watch")
    # Named as the run's build database, so dbt's parsed project (keyed on that name) serves both.
    scratch = scratch_dir / settings.build_db.name
    _prepare_scratch(settings, scratch, month, cohort, as_of)
    dbt_vars = dbt_vars_for_month(month, policy_in_force(settings, month))
    if as_of is not None:
        dbt_vars["watch_as_of"] = f"{as_of:%Y-%m-%d %H:%M:%S}"
    args = ["build", "--quiet", "--select", "+int_user_metrics__monthly", "+int_usage__counted_summary",
            "tag:watch", "--exclude", "test_type:unit", "--indirect-selection", "cautious",
            "--vars", json.dumps(dbt_vars)]
    with contextlib.redirect_stdout(io.StringIO()):  # dbt's console log; its errors are in the result
        result = dbt_build(args, env={**dbt_env(settings), "FAIRUSE_BUILD_DB": str(scratch)}, build_db=scratch)
    if not result.success:
        raise WatchFailed(result.error_message(f"the watch of {month}"))
    return scratch


@dataclass
class WatchResult:
    month: str
    as_of: dt.datetime | None
    cohort_month: str
    counts: dict[str, int]  # rows per provisional table
    on_track: list[tuple]  # (account_id, user_id, metric, value_to_date, projected_value, threshold, crossing)
    page: Path  # the HTML page for account managers


def run_watch(settings: Settings, month: str, as_of: str | None = None, keep_dir: Path | None = None) -> WatchResult:
    """`fairuse watch`: build the open month's watch and publish it with the warehouse (provisional rows only)."""
    cut = parse_as_of(month, as_of)
    if not settings.warehouse.exists():
        raise WatchError(f"no warehouse at {settings.warehouse}: build a month first (`fairuse run` or `make demo`)")
    if month in published_months(settings.warehouse):
        raise WatchError(f"month {month} is built: its flags are final (marts.fct_fair_use_flags); the watch is "
                         f"for a month not built yet")
    scratch_dir = Path(keep_dir or tempfile.mkdtemp(prefix="fairuse-watch-"))
    scratch_dir.mkdir(parents=True, exist_ok=True)
    try:
        scratch = build_watch(settings, month, scratch_dir, cut)
        with duckdb.connect(str(scratch), read_only=True) as con:
            on_track = con.execute(
                f"select account_id, user_id, metric, value_to_date, projected_value, threshold, "
                f"projected_crossing_date, as_of from {WATCH_TABLE} where on_track_to_exceed "
                f"order by projected_value / threshold desc, user_id, metric").fetchall()
            as_of_seen = con.execute(f"select max(as_of) from {WATCH_TABLE}").fetchone()[0]
            page = write_watch_page(con, settings.reports_dir, month)
        warehouse_lock.acquire(settings.build_db, [month], "fairuse watch", timeout=settings.lock_timeout)
        try:
            counts = publish_provisional(settings.build_db, settings.warehouse, scratch, month)
        finally:
            warehouse_lock.release(settings.build_db)
    finally:
        if keep_dir is None:
            shutil.rmtree(scratch_dir, ignore_errors=True)
    return WatchResult(month, as_of_seen, cohort_month(settings.warehouse, month) or "", counts,
                       [r[:7] for r in on_track], page)


def format_watch(res: WatchResult, limit: int = 20) -> str:
    as_of = f"{res.as_of:%Y-%m-%d %H:%M} UTC" if res.as_of else "no data"
    lines = [f"month {res.month} (PROVISIONAL), data to {as_of}; thresholds from the {res.cohort_month} cohort",
             f"published: {', '.join(f'{t} {n} rows' for t, n in res.counts.items())}",
             f"{len(res.on_track)} user-metric(s) on track to exceed their threshold"
             + (f" (first {limit}):" if res.on_track else "")]
    for account, user, metric, value, projected, threshold, crossing in res.on_track[:limit]:
        lines.append(f"  {account:<12} {user:<14} {metric:<13} {value:>10.1f} -> {projected:>10.1f} "
                     f"/ {threshold:>9.1f}  crosses {crossing or '-'}")
    lines.append(f"page: {res.page}")
    lines.append(f"query it: fairuse sql --query on_track --param month={res.month}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------------------
# Backtest: the watch at day 10, 15, 20 of months already built, against their month-end flags

BACKTEST_SQL = f"""
with w as (select * from {WATCH_TABLE}),
final as (select user_id, metric, value from published.marts.fct_user_excess_ratios where month = $month),
flags as (select distinct user_id, metric from published.marts.fct_fair_use_flags where month = $month)
select w.metric, w.on_track_to_exceed, f.user_id is not null as flagged, w.projected_value, fv.value,
    w.value_to_date
from w
left join flags as f on f.user_id = w.user_id and f.metric = w.metric
left join final as fv on fv.user_id = w.user_id and fv.metric = w.metric
"""


@dataclass
class BacktestRow:
    day: int
    metric: str
    predicted: int
    flagged: int
    hits: int
    errors: list[float] = field(default_factory=list)  # |projected - final| / final, final > 0
    errors_pro_rata: list[float] = field(default_factory=list)  # the same, projecting by elapsed time alone

    @property
    def precision(self) -> float | None:
        return self.hits / self.predicted if self.predicted else None

    @property
    def recall(self) -> float | None:
        return self.hits / self.flagged if self.flagged else None

    @property
    def median_error(self) -> float | None:
        return statistics.median(self.errors) if self.errors else None

    @property
    def median_error_pro_rata(self) -> float | None:
        return statistics.median(self.errors_pro_rata) if self.errors_pro_rata else None


def backtest(settings: Settings, months: list[str] | None = None, days: tuple[int, ...] = BACKTEST_DAYS,
             out=None) -> list[BacktestRow]:
    """Watch each built month (but the first: its thresholds need a month before) cut at each day's end, and
    compare with its month-end flags; rows per day and metric over all months. Progress goes to `out` (default:
    sys.stderr at the time of the call)."""
    out = out or sys.stderr
    built = sorted(published_months(settings.warehouse))
    months = [m for m in (months or built[1:]) if m in built and cohort_month(settings.warehouse, m)]
    if not months:
        raise WatchError(f"the backtest needs two built months in {settings.warehouse}")
    acc: dict[tuple[int, str], BacktestRow] = {}
    for month in months:
        start = dt.datetime.fromisoformat(month_start(month))
        for day in days:
            as_of = start + dt.timedelta(days=day)  # the end of day `day`
            time_share = (as_of - start) / (next_month_start(month) - start)
            with tempfile.TemporaryDirectory(prefix="fairuse-watch-bt-") as tmp:
                scratch = build_watch(settings, month, Path(tmp), as_of)
                with duckdb.connect(str(scratch), read_only=True) as con:
                    con.execute("attach ? as published (read_only)", [str(settings.warehouse)])
                    rows = con.execute(BACKTEST_SQL, {"month": start.date()}).fetchall()
            for metric, predicted, flagged, projected, final, to_date in rows:
                r = acc.setdefault((day, metric), BacktestRow(day, metric, 0, 0, 0))
                r.predicted += bool(predicted)
                r.flagged += bool(flagged)
                r.hits += bool(predicted and flagged)
                if final:
                    r.errors.append(abs(projected - final) / final)
                    r.errors_pro_rata.append(abs(to_date / time_share - final) / final)
            print(f"backtest: {month} day {day}: {len(rows)} user-metrics", file=out)
    return [acc[k] for k in sorted(acc)]


def format_backtest(rows: list[BacktestRow]) -> str:
    def f(v: float | None) -> str:
        return "n/a" if v is None else f"{v:.2f}"

    lines = ["| day | metric | on track | flagged at month end | both | precision | recall | median error | "
             "median error, pro rata by time |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r.day} | {r.metric} | {r.predicted} | {r.flagged} | {r.hits} | {f(r.precision)} | "
                     f"{f(r.recall)} | {f(r.median_error)} | {f(r.median_error_pro_rata)} |")
    return "\n".join(lines)


__all__ = ["PROVISIONAL_TABLES", "WatchError", "WatchFailed", "backtest", "build_watch", "format_backtest",
           "format_watch", "run_watch"]
