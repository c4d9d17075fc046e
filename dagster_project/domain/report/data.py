"""What the report and the notices show, read from the published warehouse (read-only) and the exports folder.

Every query is set-based and restricted to the month (and the previous month, or the last 12 months for the
trend); Python only shapes the few rows that come back. Rows are dicts, sorted by fixed keys, so that one warehouse
state always gives the same report.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from dagster_project.domain.locations import Folder
from dagster_project.domain.policy import PATTERNS
from dagster_project.domain.report.fmt import ACTION_STEPS, add_months, month_start

DATASETS = ("calls", "messages", "chats")


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list) -> list[dict]:
    cur = con.execute(sql, params)
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


@dataclass
class Glance:
    """The month at a glance: per key, this month's value and the previous month's (None: not built)."""

    counts: dict[str, tuple[int, int | None]] = field(default_factory=dict)
    quarantined_by_reason: dict[str, tuple[int, int | None]] = field(default_factory=dict)
    actions: dict[str, tuple[int, int | None]] = field(default_factory=dict)
    # currency -> (this month, previous month)
    excess_charges: dict[str, tuple[decimal.Decimal, decimal.Decimal | None]] = field(default_factory=dict)
    surcharges_applied: dict[str, tuple[decimal.Decimal, decimal.Decimal | None]] = field(default_factory=dict)
    surcharges_pending: dict[str, tuple[decimal.Decimal, decimal.Decimal | None]] = field(default_factory=dict)


@dataclass
class MonthData:
    month: str
    built: bool
    previous_built: bool
    data_complete_to: dt.datetime | None
    policy_versions: list[str]
    glance: Glance
    distributions: list[dict]  # metric x country x plan: n, quantiles, max, threshold
    flagged_values: list[dict]  # metric x country x plan x value (flagged users)
    trend_months: list[str]  # months of the trend window that are built
    trend: list[dict]  # month x metric -> flagged users
    contact_centers: list[dict]
    prohibited_by_pattern: dict[str, int]
    ladder: list[dict]
    discussions: list[dict]
    prohibited: list[dict]
    load_balance: list[dict]
    quarantine: list[dict]
    conflicts: list[dict]
    late_files: list[dict]
    flags: list[dict]  # every flagged user-metric with its cohort's published threshold (for notices)
    policy_restated: bool = False  # an operator restated the month under its version (fairuse run --restate-under)
    policy_content: str | None = None  # the month's version, every key as JSON (audit.policy_months)


def _pair(rows: list[tuple], month: dt.date, previous_built: bool, *, money: bool = False) -> dict:
    """[(month, key, value)] -> {key: (this, previous or None)}, keys of either month, missing = 0."""
    zero = decimal.Decimal("0.00") if money else 0
    this: dict = {}
    prev: dict = {}
    for m, key, value in rows:
        (this if m == month else prev)[key] = value if value is not None else zero
    keys = sorted(set(this) | set(prev))
    return {k: (this.get(k, zero), prev.get(k, zero) if previous_built else None) for k in keys}


def load_month(con: duckdb.DuckDBPyConnection, month: str) -> MonthData:
    m = month_start(month)
    p = month_start(add_months(month, -1))
    first_trend = month_start(add_months(month, -11))
    built_months = {r[0] for r in con.execute(
        "select month from audit.month_watermarks where month between ? and ?", [first_trend, m]).fetchall()}
    built = m in built_months
    previous_built = p in built_months
    wm = con.execute("select data_complete_to from audit.month_watermarks where month = ?", [m]).fetchone()
    versions = [r[0] for r in con.execute(
        "select distinct policy_version from marts.fct_user_monthly_usage where month = ? "
        "and policy_version is not null order by 1", [m]).fetchall()]
    # The version's stored content (audit.policy_months) and whether an operator restated the month under it.
    stored = month_policy(con, m)
    both = [m, p]

    counts_sql = """
        select month, 'events_counted.' || dataset, sum(rows_counted) from audit.load_balance
        where month in (?, ?) group by all
        union all select month, 'events_counted', sum(rows_counted) from audit.load_balance
        where month in (?, ?) group by all
        union all select month, 'rows_read', sum(rows_read) from audit.load_balance where month in (?, ?) group by all
        union all select month, 'rows_quarantined', sum(rows_quarantined) from audit.load_balance
        where month in (?, ?) group by all
        union all select month, 'duplicates_dropped', sum(duplicates_dropped) from audit.load_balance
        where month in (?, ?) group by all
        union all select month, 'conflicting_duplicates', count(*) from audit.conflicting_duplicates
        where month in (?, ?) group by all
        union all select month, 'users', count(*) from marts.fct_user_monthly_usage where month in (?, ?) group by all
        union all select month, 'flagged_users', count(distinct user_id) from marts.fct_fair_use_flags
        where month in (?, ?) group by all
        union all select month, 'flagged_user_metrics', count(*) from marts.fct_fair_use_flags
        where month in (?, ?) group by all
        union all select month, 'flagged_accounts', count(*) from marts.fct_account_enforcement
        where month in (?, ?) group by all
        union all select month, 'contact_centers', count(*) from marts.fct_contact_center_surcharge
        where month in (?, ?) group by all
        union all select month, 'contact_centers_to_discuss', count(*) from marts.fct_contact_center_discussions
        where month in (?, ?) group by all
        union all select month, 'prohibited_use_flags', count(*) from marts.fct_prohibited_use_flags
        where month in (?, ?) group by all
        union all select month, 'prohibited_use_accounts', count(distinct account_id)
        from marts.fct_prohibited_use_flags where month in (?, ?) group by all
    """
    counts = _pair(con.execute(counts_sql, both * counts_sql.count("(?, ?)")).fetchall(), m, previous_built)
    fixed = ["events_counted", *(f"events_counted.{d}" for d in DATASETS), "rows_read", "rows_quarantined",
             "duplicates_dropped", "conflicting_duplicates", "users", "flagged_users", "flagged_user_metrics",
             "flagged_accounts", "contact_centers", "contact_centers_to_discuss", "prohibited_use_flags",
             "prohibited_use_accounts"]
    glance = Glance()
    glance.counts = {k: counts.get(k, (0, 0 if previous_built else None)) for k in fixed}
    glance.quarantined_by_reason = _pair(con.execute(
        "select month, reason, count(*) from audit.quarantined_rows where month in (?, ?) group by all",
        both).fetchall(), m, previous_built)
    actions = _pair(con.execute(
        "select month, action, count(*) from marts.fct_account_enforcement where month in (?, ?) group by all",
        both).fetchall(), m, previous_built)
    glance.actions = {a: actions.get(a, (0, 0 if previous_built else None)) for a in ACTION_STEPS}
    glance.excess_charges = _pair(con.execute(
        "select month, currency, sum(excess_charge_amount) from marts.fct_account_enforcement "
        "where month in (?, ?) and excess_charge_amount > 0 group by all", both).fetchall(), m, previous_built,
        money=True)
    glance.surcharges_applied = _pair(con.execute(
        "select month, currency, sum(surcharge_amount) from marts.fct_contact_center_surcharge "
        "where month in (?, ?) and status = 'apply' group by all", both).fetchall(), m, previous_built, money=True)
    glance.surcharges_pending = _pair(con.execute(
        "select month, currency, sum(amount_if_applied) from marts.fct_contact_center_discussions "
        "where month in (?, ?) group by all", both).fetchall(), m, previous_built, money=True)

    distributions = _rows(con, """
        select r.metric, coalesce(r.country, '?') as country, coalesce(r.plan, '?') as plan, count(*) as users,
            quantile_cont(r.value, 0.05) as p05, quantile_cont(r.value, 0.25) as q1,
            quantile_cont(r.value, 0.5) as median, quantile_cont(r.value, 0.75) as q3,
            quantile_cont(r.value, 0.95) as p95, max(r.value) as max_value,
            any_value(t.threshold_value) as threshold_value, any_value(t.offering_is_free) as offering_is_free
        from marts.fct_user_excess_ratios as r
        left join marts.fct_published_thresholds as t
            on t.month = r.month and t.metric = r.metric and t.country is not distinct from r.country
            and t.plan is not distinct from r.plan
        where r.month = ?
        group by all order by r.metric, country, plan""", [m])
    flagged_values = _rows(con, """
        select f.metric, coalesce(r.country, '?') as country, coalesce(r.plan, '?') as plan, f.value
        from marts.fct_fair_use_flags as f
        inner join marts.fct_user_excess_ratios as r using (month, user_id, metric)
        where f.month = ? order by all""", [m])
    trend = _rows(con, """
        select strftime(month, '%Y-%m') as month, metric, count(distinct user_id) as users
        from marts.fct_fair_use_flags where month between ? and ? group by all
        union all
        select strftime(month, '%Y-%m'), 'any', count(distinct user_id)
        from marts.fct_fair_use_flags where month between ? and ? group by all
        order by 1, 2""", [first_trend, m, first_trend, m])
    contact_centers = _rows(con, """
        select account_id, declared, detected, users, minutes_per_user,
            inbound_billable_seconds / 60.0 as inbound_minutes, outbound_billable_seconds / 60.0 as outbound_minutes,
            surcharge_minutes, agreement_in_force, rate_per_minute, surcharge_amount, amount_if_applied, currency,
            status
        from marts.fct_contact_center_surcharge where month = ?
        order by surcharge_minutes desc, account_id""", [m])
    by_pattern = dict(con.execute("select pattern, count(*) from marts.fct_prohibited_use_flags where month = ? "
                                  "group by 1", [m]).fetchall())
    ladder = _rows(con, """
        select account_id, action, consecutive_months, flagged_users, excess_charge_amount, currency
        from marts.fct_account_enforcement where month = ?
        order by consecutive_months desc, excess_charge_amount desc, account_id""", [m])
    discussions = _rows(con, """
        select account_id, declared, detected, users, minutes_per_user, surcharge_minutes, inbound_share,
            outbound_share, consecutive_months, rate_per_minute, amount_if_applied, currency
        from marts.fct_contact_center_discussions where month = ?
        order by amount_if_applied desc, account_id""", [m])
    order = ", ".join(f"'{p}'" for p in PATTERNS)
    prohibited = _rows(con, f"""
        select account_id, user_id, pattern, evidence from marts.fct_prohibited_use_flags where month = ?
        order by coalesce(list_position([{order}], pattern), 99), account_id, user_id""", [m])
    load_balance = _rows(con, """
        select dataset, rows_read, rows_counted, rows_quarantined, duplicates_dropped,
            rows_read = rows_counted + rows_quarantined + duplicates_dropped as balanced
        from audit.load_balance where month = ? order by dataset""", [m])
    quarantine = _rows(con, """
        select dataset, reason, count(*) as rows_ from audit.quarantined_rows where month = ?
        group by all order by dataset, reason""", [m])
    conflicts = _rows(con, """
        select dataset, kept_file, dropped_file, count(*) as ids from audit.conflicting_duplicates where month = ?
        group by all order by dataset, kept_file, dropped_file""", [m])
    # A late file: delivered after the month's first delivery (a later or re-delivery into a month folder).
    late_files = _rows(con, """
        with files as (
            select *, min(modified_at) over () as first_delivery from audit.loaded_files where month = ?
        )
        select dataset, source_file, modified_at, rows_read, modified_at - first_delivery as after_first
        from files where modified_at > first_delivery order by modified_at, source_file""", [m])
    flags = _rows(con, """
        select f.account_id, f.user_id, f.metric, f.value, f.reference_mean, f.estimated_value,
            f.ratio_to_cohort, f.ratio_to_estimate, f.threshold_multiple, f.severity, f.consecutive_months,
            f.excess_value, f.offering, f.currency, f.policy_version, r.country, r.plan, r.cohort_level,
            r.cohort_users, t.threshold_value
        from marts.fct_fair_use_flags as f
        left join marts.fct_user_excess_ratios as r using (month, user_id, metric)
        left join marts.fct_published_thresholds as t
            on t.month = f.month and t.metric = f.metric and t.country is not distinct from r.country
            and t.plan is not distinct from r.plan
        where f.month = ?
        order by f.account_id, f.user_id, f.metric""", [m])
    return MonthData(
        month=month, built=built, previous_built=previous_built, data_complete_to=wm[0] if wm else None,
        policy_versions=versions, glance=glance, distributions=distributions, flagged_values=flagged_values,
        trend_months=sorted(d.strftime("%Y-%m") for d in built_months), trend=trend,
        contact_centers=contact_centers, prohibited_by_pattern={pt: int(by_pattern.get(pt, 0)) for pt in
                                                                [*PATTERNS, *sorted(set(by_pattern) - set(PATTERNS))]},
        ladder=ladder, discussions=discussions, prohibited=prohibited, load_balance=load_balance,
        quarantine=quarantine, conflicts=conflicts, late_files=late_files, flags=flags,
        policy_restated=stored is not None and stored[1] == "restated",
        policy_content=stored[2] if stored else None)


@dataclass
class ExportState:
    """The month's finance exports as published: revision and the restated amounts (changes.csv)."""

    revision: int | None  # None: not exported
    data_complete_to: str | None
    changes: list[dict]
    accepted_incomplete: str | None = None  # why the completeness gate held the month, published by choice


def load_exports(exports_dir: Path | str, month: str) -> ExportState:
    out = Folder(exports_dir) / month
    if not out.exists("manifest.json"):
        return ExportState(None, None, [])
    meta = json.loads(out.read_bytes("manifest.json"))
    names = {f["name"] for f in meta.get("files", [])}
    changes: list[dict] = []
    if "changes.csv" in names and out.exists("changes.csv"):
        changes = list(csv.DictReader(io.StringIO(out.read_bytes("changes.csv").decode("utf-8"), newline="")))
    accepted = (meta.get("accepted_incomplete") or {}).get("reason") if "accepted_incomplete" in meta else None
    return ExportState(int(meta.get("revision", 1)), meta.get("data_complete_to"), changes, accepted)


def month_policy(con: duckdb.DuckDBPyConnection, month_start_date: str) -> tuple[str, str, str] | None:
    """(version, applied, content) of the month from audit.policy_months; None in a warehouse built without it."""
    found = con.execute("select count(*) from information_schema.tables where table_schema = 'audit' "
                        "and table_name = 'policy_months'").fetchone()[0]
    if not found:
        return None
    return con.execute("select policy_version, applied, content from audit.policy_months where month = ?",
                       [month_start_date]).fetchone()
