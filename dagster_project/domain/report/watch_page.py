"""The month-to-date watch as a small HTML page for account managers: `<reports_dir>/YYYY-MM/watch.html`.

Written by `fairuse watch` (domain/watch.py) from the watch it just built; labelled provisional. Deterministic
(no wall-clock time: the page shows the data's as_of), replaced only when its bytes change. The month's report
(report.html, beside it) is what counts once the month is built: writing it removes this page.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from dagster_project.domain.report.fmt import METRIC_LABELS, month_label
from dagster_project.domain.report.notices import environment
from dagster_project.domain.report.report import WATCH_PAGE, _atomic_write

WATCH = "marts.fct_month_to_date_watch"
ACCOUNTS = "marts.fct_month_to_date_watch_accounts"


def _dicts(con: duckdb.DuckDBPyConnection, sql: str, params: list) -> list[dict]:
    cur = con.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def render_watch_page(con: duckdb.DuckDBPyConnection, month: str) -> str:
    """The page of `month` (YYYY-MM) from a database holding its watch tables."""
    start = f"{month}-01"
    as_of, cohort, method = con.execute(
        f"select max(as_of), strftime(max(cohort_month), '%Y-%m'), max(projection_method) from {WATCH} "
        f"where month = ?", [start]).fetchone()
    accounts = _dicts(con, f"select * from {ACCOUNTS} where month = ? and on_track_to_exceed "
                           f"order by users_on_track desc, max_projected_ratio desc, account_id", [start])
    users = _dicts(con, f"select * from {WATCH} where month = ? and on_track_to_exceed "
                        f"order by projected_ratio desc, account_id, user_id, metric", [start])
    env = environment()
    for u in users:
        u["metric_label"] = METRIC_LABELS.get(u["metric"], u["metric"])
    heads_up = env.get_template("heads_up.md.j2")
    for a in accounts:  # a draft an account manager may send: the account's users on track, nothing charged
        theirs = [u for u in users if u["account_id"] == a["account_id"]]
        share = theirs[0]["elapsed_share"] if theirs else 0.0
        a["heads_up"] = heads_up.render(month_label=month_label(month), as_of=as_of, users=theirs,
                                        elapsed_pct=f"{round(100 * share)}%")
    return env.get_template("watch.html.j2").render(
        month=month, month_label=month_label(month), as_of=as_of,
        cohort_month_label=month_label(cohort) if cohort else "–",
        method={"working_days": "pro rata by working days"}.get(method, method or "–"),
        accounts=accounts, users=users)


def write_watch_page(con: duckdb.DuckDBPyConnection, reports_dir: Path, month: str) -> Path:
    path = Path(reports_dir) / month / WATCH_PAGE
    _atomic_write(path, render_watch_page(con, month).encode("utf-8"))
    return path
