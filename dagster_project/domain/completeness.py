"""The completeness gate: a month is published only when its delivery looks whole.

Judged after the month's dbt build, before anything is published, per event dataset of the month:
- present: the dataset has files for the month;
- volume: its counted rows are not below `min_share` (0.5) of the median of the last `history_months` (3) built
  months, and neither is any larger account's (an account whose median of users active in the dataset is at least
  `account_min_users`): for an account both its rows and its active users must fall below that share, so that one
  heavy user's quiet month is not a missing export, while one big customer's missing export never hides in the total;
- watermark: its latest counted event is within `watermark_days` (3) of the month's end;
and a reference snapshot (accounts, users) dated in or after the month exists. A dataset with fewer than `min_rows`
(100) counted rows (in the month for the watermark, in the history's median for the volume) is judged on presence
only: in so few rows a quiet last week or a halved month is ordinary. The first months (no built month before
them) are judged on presence, watermark and snapshots alone.

The settings are operational (FAIRUSE_GATE_*, domain/settings.py), not policy. Nothing here touches Dagster: the
figures come from the engine's build storage (`month_figures_sql`, run by the engine: domain/engine.py), the verdict
is a pure function of them (`judge`).
"""

from __future__ import annotations

import calendar
import datetime as dt
import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dagster_project.domain.contract import EVENT_DATASETS, REFERENCE_DATASETS
from dagster_project.domain.raw_files import list_files

ACCEPT_TAG = "fairuse/accept_incomplete"  # a run tag: "true" publishes a month the gate holds (an operator's choice)


@dataclass(frozen=True)
class GateSettings:
    min_share: float = 0.5  # FAIRUSE_GATE_MIN_SHARE: held below this share of the history's median
    history_months: int = 3  # FAIRUSE_GATE_HISTORY_MONTHS: how many built months before it make the history
    watermark_days: float = 3.0  # FAIRUSE_GATE_WATERMARK_DAYS: latest event at most this long before the month's end
    min_rows: int = 100  # FAIRUSE_GATE_MIN_ROWS: fewer rows than this: presence only
    account_min_users: int = 10  # FAIRUSE_GATE_ACCOUNT_MIN_USERS: a larger account, judged on its own


@dataclass
class DatasetFigures:
    rows: int = 0  # counted rows (audit.load_balance)
    latest: dt.datetime | None = None  # latest counted event (UTC), for the month being judged only
    accounts: dict[str, tuple[int, int]] = field(default_factory=dict)  # account -> (rows, users active)


@dataclass
class Verdict:
    month: str
    reasons: list[str]  # empty: the month passes
    history: list[str]  # the built months it was compared with
    figures: dict[str, DatasetFigures]

    @property
    def held(self) -> bool:
        return bool(self.reasons)

    def line(self) -> str:
        return "; ".join(self.reasons)

    def table_md(self) -> str:
        """The month's figures as a Markdown table (Dagster metadata)."""
        out = "| dataset | rows counted | latest event |\n|---|---:|---|\n"
        for name, f in self.figures.items():
            out += f"| {name} | {f.rows:,} | {f.latest.isoformat(sep=' ') if f.latest else ''} |\n"
        return out


# ---------------------------------------------------------------------------------------------------------------
# Figures from the build storage (the same SQL on DuckDB and Spark)

PER_ACCOUNT = {  # dataset -> its volume in fct_user_monthly_usage (one row per user and month)
    "calls": "calls_inbound + calls_outbound + calls_internal",
    "messages": "sms_sent + sms_received + mms_sent + mms_received + whatsapp_sent + whatsapp_received",
    "chats": "chats_sent",
}


def figures_sql(month: str) -> dict[str, str]:
    """The queries of the gate's figures: counted rows of every built month up to `month`, the latest counted event
    of the month just built, and per account the rows and active users of every built month up to `month`."""
    start = f"date '{month}-01'"
    per_account = " union all ".join(
        f"select month, '{ds}' as dataset, account_id, sum({expr}) as event_rows, "
        f"sum(case when {expr} > 0 then 1 else 0 end) as users_active from marts.fct_user_monthly_usage "
        f"where month <= {start} and account_id is not null group by month, account_id"
        for ds, expr in PER_ACCOUNT.items())
    return {
        "rows": f"select month, dataset, rows_counted from audit.load_balance where month <= {start}",
        "latest": "select dataset, latest_event_at from intermediate.int_usage__counted_summary",
        "accounts": per_account,
    }


def month_key(value) -> str:
    return str(value)[:7]


def collect_figures(query: Callable[[str], list[tuple]], month: str) -> dict[str, dict[str, DatasetFigures]]:
    """month -> dataset -> figures, every built month up to `month` (`query` runs SQL on the build storage)."""
    sql = figures_sql(month)
    out: dict[str, dict[str, DatasetFigures]] = {}

    def of(m, ds) -> DatasetFigures:
        return out.setdefault(month_key(m), {}).setdefault(ds, DatasetFigures())

    for m, ds, rows in query(sql["rows"]):
        of(m, ds).rows = int(rows or 0)
    for ds, latest in query(sql["latest"]):
        of(month, ds).latest = latest
    for m, ds, account, rows, users in query(sql["accounts"]):
        of(m, ds).accounts[account] = (int(rows or 0), int(users or 0))
    return out


def snapshot_dates(raw_dir: Path | str) -> dict[str, list[str]]:
    """Reference dataset -> its snapshot dates (YYYY-MM-DD) in the raw folder."""
    return {ds.name: sorted({f.partition_value for f in list_files(raw_dir, ds)}) for ds in REFERENCE_DATASETS}


def present_datasets(raw_dir: Path | str, month: str) -> dict[str, int]:
    """Event dataset -> its files for the month (a folder's or a bucket's: raw_files.list_files)."""
    return {ds.name: len(list_files(raw_dir, ds, month)) for ds in EVENT_DATASETS}


# ---------------------------------------------------------------------------------------------------------------
# The verdict


def _month_end(month: str) -> dt.datetime:
    y, m = map(int, month.split("-"))
    return dt.datetime(y, m, calendar.monthrange(y, m)[1]) + dt.timedelta(days=1)


def _naive_utc(t) -> dt.datetime:
    if isinstance(t, str):
        t = dt.datetime.fromisoformat(t)
    return t.astimezone(dt.UTC).replace(tzinfo=None) if t.tzinfo else t


def judge(month: str, present: Mapping[str, int], snapshots: Mapping[str, Sequence[str]],
          figures: Mapping[str, Mapping[str, DatasetFigures]], history: Iterable[str],
          gs: GateSettings = GateSettings()) -> Verdict:
    """Whether `month` may be published. `figures`: month -> dataset -> figures (the month and its history);
    `history`: the built months before it that count (whole ones), of which the last `history_months` are used."""
    past = sorted(m for m in set(history) if m < month and m in figures)[-gs.history_months:]
    this = figures.get(month, {})
    reasons: list[str] = []
    for ds in EVENT_DATASETS:
        name = ds.name
        f = this.get(name, DatasetFigures())
        if not present.get(name):
            reasons.append(f"{name}: no files for {month} (raw folder {name}/month={month})")
            continue
        end = _month_end(month)
        if f.rows >= gs.min_rows and f.latest is not None:
            gap = end - _naive_utc(f.latest)
            if gap > dt.timedelta(days=gs.watermark_days):
                reasons.append(f"{name}: data stops at {_naive_utc(f.latest):%Y-%m-%d %H:%M} UTC, "
                               f"{gap.total_seconds() / 86400:.1f} days before the month's end "
                               f"(allowed {gs.watermark_days:g})")
        if not past:
            continue
        span = f"{past[0]}..{past[-1]}" if len(past) > 1 else past[0]
        median = statistics.median(figures[m].get(name, DatasetFigures()).rows for m in past)
        if median >= gs.min_rows and f.rows < gs.min_share * median:
            reasons.append(f"{name}: {f.rows:,} rows counted, below {gs.min_share:g} x the median of {span} "
                           f"({median:,.0f})")
            continue  # the accounts would only repeat it
        accounts = sorted({a for m in past for a in figures[m].get(name, DatasetFigures()).accounts})
        for account in accounts:
            hist = [figures[m].get(name, DatasetFigures()).accounts.get(account, (0, 0)) for m in past]
            med_rows = statistics.median(h[0] for h in hist)
            med_users = statistics.median(h[1] for h in hist)
            if med_users < gs.account_min_users or med_rows < gs.min_rows:
                continue
            rows, users = f.accounts.get(account, (0, 0))
            if rows < gs.min_share * med_rows and users < gs.min_share * med_users:
                reasons.append(f"{name}: account {account} has {rows:,} rows from {users} users, below "
                               f"{gs.min_share:g} x its median of {span} ({med_rows:,.0f} rows from "
                               f"{med_users:g} users)")
    for name, dates in snapshots.items():
        if not any(d[:7] >= month for d in dates):
            reasons.append(f"{name}: no snapshot dated in or after {month} "
                           f"(latest {dates[-1] if dates else 'none'})")
    return Verdict(month, reasons, past, dict(this))
