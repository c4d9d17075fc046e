"""Argument parsing for the `fairuse` command: small pure functions, unit-tested."""

from __future__ import annotations

import argparse
import re

_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def parse_month(value: str) -> str:
    if not _MONTH.match(value):
        raise argparse.ArgumentTypeError(f"not a month (YYYY-MM): {value!r}")
    return value


def parse_month_range(value: str) -> list[str]:
    """'2026-01..2026-03' -> ['2026-01', '2026-02', '2026-03']; a single month is a range of one."""
    first, _, last = value.partition("..")
    last = last or first
    parse_month(first)
    parse_month(last)
    if last < first:
        raise argparse.ArgumentTypeError(f"empty month range: {value!r}")
    months, (y, m) = [], map(int, first.split("-"))
    while f"{y:04d}-{m:02d}" <= last:
        months.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return months


def positive_int(value: str) -> int:
    n = int(value)
    if n <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer: {value!r}")
    return n


def positive_float(value: str) -> float:
    x = float(value)
    if x <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number: {value!r}")
    return x


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fairuse", description="Fair-and-reasonable-use analytics pipeline.")
    p.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    sub = p.add_subparsers(dest="command", required=True)

    g = sub.add_parser("generate", help="write realistic sample raw data (and its ground truth beside it)")
    g.add_argument("--out", default="data/raw", help="raw directory to write (default data/raw)")
    g.add_argument("--users", type=positive_int, default=2000, help="number of users (default 2000)")
    g.add_argument("--months", type=parse_month_range, default=parse_month_range("2026-07..2026-10"),
                   help="month range YYYY-MM..YYYY-MM (default 2026-07..2026-10)")
    g.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    g.add_argument("--calls-per-user", type=float, default=None,
                   help="mean calls per user-month (scales event volume; default realistic)")

    r = sub.add_parser("run", help="materialize every asset for the given months, in order, through Dagster")
    r.add_argument("--raw-dir", help="raw directory (env FAIRUSE_RAW_DIR, default data/raw)")
    r.add_argument("--warehouse", help="published DuckDB file (env FAIRUSE_WAREHOUSE)")
    r.add_argument("--exports-dir", help="finance exports directory or s3://bucket/prefix (env FAIRUSE_EXPORTS_DIR)")
    r.add_argument("--policy", help="policy YAML (env FAIRUSE_POLICY_FILE)")
    r.add_argument("--month", type=parse_month, action="append",
                   help="a month to build (repeatable; default every month in the raw data)")
    r.add_argument("--engine", choices=("duckdb", "spark"), default=None,
                   help="what builds the dbt models (env FAIRUSE_ENGINE, default duckdb); the published warehouse "
                        "and exports are the same DuckDB file and files either way")
    r.add_argument("--no-wait", action="store_true",
                   help="exit at once if another run is building this warehouse (default: wait for it)")
    r.add_argument("--lock-timeout", type=positive_float, default=None,
                   help="seconds to wait for another run of this warehouse (env FAIRUSE_LOCK_TIMEOUT, default 3600)")
    r.add_argument("--accept-incomplete", action="store_true",
                   help="publish the given months even if the completeness gate holds them (needs --month); the "
                        "exports' manifest and the report record it and why")
    r.add_argument("--restate-under", metavar="VERSION",
                   help="compute the given months under this policy version rather than their own (needs --month); "
                        "the exports' manifest, the report and the notices record it")
    r.add_argument("--quiet", action="store_true", help="print only the summary and errors (no progress)")
    r.add_argument("--heartbeat", type=positive_float, default=5.0, metavar="SECONDS",
                   help="while a step runs, say what it is doing after this many quiet seconds (default 5)")

    st = sub.add_parser("status", help="where every month stands, and the run holding the warehouse (read-only)")
    st.add_argument("--raw-dir", help="raw directory (env FAIRUSE_RAW_DIR, default data/raw)")
    st.add_argument("--warehouse", help="published DuckDB file (env FAIRUSE_WAREHOUSE)")
    st.add_argument("--exports-dir", help="finance exports directory (env FAIRUSE_EXPORTS_DIR)")
    st.add_argument("--format", choices=("table", "json"), default="table", help="table (default) or json")

    s = sub.add_parser("simulate", help="backtest an alternative policy over the built months")
    s.add_argument("--warehouse", help="published DuckDB file (env FAIRUSE_WAREHOUSE)")
    s.add_argument("--policy", help="alternative policy YAML (default: the current one)")
    s.add_argument("--threshold-multiple", type=positive_float)
    s.add_argument("--severe-multiple", type=positive_float)
    s.add_argument("--min-cohort-size", type=positive_int)
    s.add_argument("--month", type=parse_month, action="append", help="restrict to a month (repeatable)")

    w = sub.add_parser("watch", help="the open month so far, projected to its end against the thresholds "
                       "(provisional)")
    w.add_argument("--month", type=parse_month, help="the open month (default: the current month, UTC)")
    w.add_argument("--as-of", help="cut: leave out events from this UTC time on ('YYYY-MM-DD' or "
                   "'YYYY-MM-DD HH:MM'; default: all delivered so far)")
    w.add_argument("--raw-dir", help="raw Parquet root (env FAIRUSE_RAW_DIR)")
    w.add_argument("--warehouse", help="published DuckDB file (env FAIRUSE_WAREHOUSE)")
    w.add_argument("--policy", help="policy YAML (env FAIRUSE_POLICY_FILE)")
    w.add_argument("--backtest", action="store_true",
                   help="instead: the watch at day 10, 15 and 20 of the built months against their month-end flags")

    pol = sub.add_parser("policy", help="the policy file: check one before it is used")
    pol_sub = pol.add_subparsers(dest="policy_command", required=True)
    pc = pol_sub.add_parser("check", help="validate a policy file and print every key it sets (defaults marked)")
    pc.add_argument("file", nargs="?", help="policy YAML (default: env FAIRUSE_POLICY_FILE, else the shipped one)")

    e = sub.add_parser("evaluate", help="prohibited-use flags vs a generator's ground truth")
    e.add_argument("--warehouse", help="published DuckDB file (env FAIRUSE_WAREHOUSE)")
    e.add_argument("--truth", help="ground-truth file (default: beside the raw directory)")
    e.add_argument("--json", action="store_true", help="print the report as JSON (counts and lists)")

    from dagster_project.analyst.sql import configure_parser as configure_sql

    configure_sql(sub.add_parser("sql", help="SQL on the published warehouse, read-only: Harlequin, or one query"))
    return p
