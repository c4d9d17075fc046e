"""`fairuse simulate`: backtest another policy over the months already built, without touching the marts.

The published warehouse is copied to a scratch file, the current policy marts are set aside there (schema
`published`), and the policy models themselves (dbt tag `policy`) are built in the copy over every built month with
the alternative policy (`dbt build --vars {month: all, ...}`, in this process, through the same runner as
`fairuse run`: domain/dbt_runner.py). The copy has every policy table already, so the month-grain ones delete
all their months first (their pre-hook, given month = 'all') before the alternative's rows are appended. The
comparison is printed per month.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from dagster_project.domain.policy import Policy, load_policy
from dagster_project.domain.policy_versions import month_versions
from dagster_project.domain.settings import Settings, dbt_env, get_settings

SET_ASIDE = ("fct_fair_use_flags", "fct_account_enforcement")

COMPARISON_SQL = """
with cur as (select distinct month, user_id, account_id from published.fct_fair_use_flags),
alt as (select distinct month, user_id, account_id from marts.fct_fair_use_flags),
months as (select distinct month from marts.fct_user_monthly_usage),
cur_act as (select month, account_id, action from published.fct_account_enforcement),
alt_act as (select month, account_id, action from marts.fct_account_enforcement)
select
    strftime(m.month, '%Y-%m') as month,
    (select count(distinct user_id) from cur where cur.month = m.month) as users_current,
    (select count(distinct user_id) from alt where alt.month = m.month) as users_alternative,
    (select count(*) from (select user_id from alt where alt.month = m.month
                           except select user_id from cur where cur.month = m.month)) as users_newly_flagged,
    (select count(*) from (select user_id from cur where cur.month = m.month
                           except select user_id from alt where alt.month = m.month)) as users_no_longer_flagged,
    (select count(distinct account_id) from cur where cur.month = m.month) as accounts_current,
    (select count(distinct account_id) from alt where alt.month = m.month) as accounts_alternative,
    (select count(*) from cur_act c full join alt_act a on c.month = a.month and c.account_id = a.account_id
     where coalesce(c.month, a.month) = m.month and c.action is distinct from a.action) as accounts_action_changed
from months m
order by 1
"""


@dataclass
class SimulationResult:
    rows: list[tuple]
    columns: list[str]
    policy_version: str
    changed_users: list[tuple]  # (month, user_id, metric, change)
    current_versions: dict[str, str] = field(default_factory=dict)  # month -> the version it was computed with


class SimulationError(RuntimeError):
    """The simulation cannot run; the message says why and what to do."""


def _build_policy_models(settings: Settings, scratch: Path, policy: Policy) -> None:
    from dagster_project.domain.dbt_runner import dbt_build

    with duckdb.connect(str(scratch)) as con:
        con.execute("create schema published")
        for table in SET_ASIDE:
            con.execute(f"create table published.{table} as select * from marts.{table}")
    # A look, not a publish: the upgrade guard (every month has its policy record, models/marts/policy/_policy.yml)
    # is the runs' business, and a warehouse's copy may hold no audit schema.
    args = ["build", "--quiet", "--select", "tag:policy", "--exclude", "test_type:unit", "tag:policy_record",
            "--vars", json.dumps({"month": "all", **policy.dbt_vars()})]
    with contextlib.redirect_stdout(io.StringIO()):  # dbt's console log; its errors are in the result
        result = dbt_build(args, env={**dbt_env(settings), "FAIRUSE_BUILD_DB": str(scratch)}, build_db=scratch)
    if not result.success:
        raise SimulationError(result.error_message(f"the policy models under policy {policy.version}"))


def run_simulation(settings: Settings, policy: Policy, months: list[str] | None = None,
                   keep_dir: Path | None = None) -> SimulationResult:
    if not settings.warehouse.exists():
        raise SimulationError(f"no warehouse at {settings.warehouse}: build one first (`fairuse run` or `make demo`)")
    scratch_dir = Path(keep_dir or tempfile.mkdtemp(prefix="fairuse-sim-"))
    scratch_dir.mkdir(parents=True, exist_ok=True)
    # Named as the run's build database, so dbt's parsed project (keyed on that name) serves both.
    scratch = scratch_dir / settings.build_db.name
    shutil.copyfile(settings.warehouse, scratch)  # the published file is only ever replaced, never written
    _build_policy_models(settings, scratch, policy)
    con = duckdb.connect(str(scratch), read_only=True)
    try:
        current_versions = {m: v for m, (v, _) in month_versions(con).items() if not months or m in months}
        cur = con.execute(COMPARISON_SQL)
        columns = [d[0] for d in cur.description]
        rows = [r for r in cur.fetchall() if not months or r[0] in months]
        changed = con.execute("""
            select strftime(coalesce(a.month, c.month), '%Y-%m'), coalesce(a.user_id, c.user_id),
                   coalesce(a.metric, c.metric),
                   case when c.user_id is null then 'newly flagged' else 'no longer flagged' end
            from published.fct_fair_use_flags c
            full join marts.fct_fair_use_flags a
                on a.month = c.month and a.user_id = c.user_id and a.metric = c.metric
            where a.user_id is null or c.user_id is null
            order by 1, 2, 3
        """).fetchall()
    finally:
        con.close()
    if keep_dir is None:
        shutil.rmtree(scratch_dir, ignore_errors=True)
    changed = [c for c in changed if not months or c[0] in months]
    return SimulationResult(rows, columns, policy.version, changed, current_versions)


def format_result(res: SimulationResult, current_version: str, limit: int = 20) -> str:
    header = ("month", "users now", "users alt", "+users", "-users", "accts now", "accts alt", "actions chg")
    if res.current_versions:  # each month under its own version: name them with their months
        by_version: dict[str, list[str]] = {}
        for m, v in sorted(res.current_versions.items()):
            by_version.setdefault(v, []).append(m)
        current_version = ", ".join(f"{v} ({ms[0]}{'..' + ms[-1] if len(ms) > 1 else ''})"
                                    for v, ms in by_version.items())
    lines = [f"policy now: {current_version}   alternative: {res.policy_version}", "",
             "  ".join(f"{h:>11}" for h in header)]
    for r in res.rows:
        lines.append("  ".join(f"{v:>11}" for v in r))
    if res.changed_users:
        lines += ["", f"changed user-metric flags ({len(res.changed_users)}; first {limit}):"]
        lines += [f"  {m}  {u:<14} {metric:<13} {what}" for m, u, metric, what in res.changed_users[:limit]]
    else:
        lines += ["", "no user-metric flag changes"]
    return "\n".join(lines)


def simulate_cli(args) -> int:
    settings = get_settings(None, args.warehouse, None, None)
    current = load_policy(settings.policy_file)
    alt = load_policy(args.policy) if args.policy else current
    alt = alt.with_overrides(threshold_multiple=args.threshold_multiple, severe_multiple=args.severe_multiple,
                             min_cohort_size=args.min_cohort_size)
    try:
        res = run_simulation(settings, alt, args.month)
    except SimulationError as e:
        print(f"fairuse simulate: {e}", file=sys.stderr)
        return 2
    print(format_result(res, current.version))
    return 0
