"""Countries, plans and currencies the policy names, checked against a month's reference snapshots.

They are data, not schema: a new plan may be named in the policy before its first account exists. So a name that
no account has is reported (a warning in the run's log and metadata on the month's `raw/accounts`
materialisation), never refused: a typo there (`standrad`, `GPB`) would otherwise leave a cohort unpoliced or a
currency on the default rate in silence.
"""

from __future__ import annotations

import calendar
from pathlib import Path

import duckdb

from dagster_project.domain.contract import ACCOUNTS
from dagster_project.domain.locations import register_filesystem
from dagster_project.domain.policy import Policy, named_reference_values
from dagster_project.domain.raw_files import list_files, sql_str


def month_snapshots(raw_dir: Path | str, month: str) -> list[Path | str]:
    """The accounts snapshot files in force in `month`: those dated on or before its last day, else the earliest
    snapshot (as int_users__as_of_month picks an account's row)."""
    files = list_files(raw_dir, ACCOUNTS)
    y, m = map(int, month.split("-"))
    last_day = f"{month}-{calendar.monthrange(y, m)[1]:02d}"
    in_force = [f for f in files if f.partition_value <= last_day]
    if not in_force and files:
        earliest = min(f.partition_value for f in files)
        in_force = [f for f in files if f.partition_value == earliest]
    return [f.path for f in in_force]


def names_without_accounts(policy: Policy, raw_dir: Path | str, month: str) -> list[str]:
    """One line per country, plan or currency the policy names that no account of the month has, naming the keys:
    `plan 'standrad' (free_offerings[2].plan): no account of 2026-01 has it`. Empty when every name is found, or
    when the month has no accounts snapshot (the raw step refuses that month on its own)."""
    files = month_snapshots(raw_dir, month)
    if not files:
        return []
    listed = ", ".join(sql_str(str(p)) for p in files)
    con = duckdb.connect()
    try:
        register_filesystem(con, raw_dir)  # snapshots in a bucket: read through s3fs
        present = {kind: {r[0] for r in con.execute(
            f"select distinct {kind} from read_parquet([{listed}], union_by_name = true)").fetchall()}
            for kind in ("country", "plan", "currency")}
    finally:
        con.close()
    return [f"{kind} {name!r} ({', '.join(sorted(keys))}): no account of {month} has it"
            for kind, names in named_reference_values(policy).items()
            for name, keys in sorted(names.items()) if name not in present[kind]]
