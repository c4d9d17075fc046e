"""The monthly report: one self-contained HTML file per month (charts inlined as SVG), plus the customer notices.

`build_month_report` reads the published warehouse (read-only) and the month's exports folder, and writes

    <reports_dir>/YYYY-MM/report.html
    <reports_dir>/YYYY-MM/notices/<account>.md, <account>.html, index.csv
    <reports_dir>/YYYY-MM/notices/changes.csv            when a re-run changed notices already written
    <reports_dir>/YYYY-MM/notices/revisions/rNNN/         the notices as they were before that change

Deterministic: no wall-clock time anywhere (the page shows the month's data_complete_to), fixed ordering and
number formats, SVG with fixed ids, so an unchanged re-run rewrites nothing (files are only replaced when their
bytes change). Files are written under a temporary name and renamed; the report goes last. The month-to-date
watch's provisional page (`watch.html`, written by `fairuse watch` before the month was built) is removed once the
report is written: the report and the notices are what count then.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from dagster_project.domain.policy import METRICS, Policy, PolicyError, load_policy, parse_policy
from dagster_project.domain.report import charts
from dagster_project.domain.report.data import DATASETS, ExportState, Glance, MonthData, load_exports, load_month
from dagster_project.domain.report.fmt import (
    ACTION_LABELS,
    ACTION_STEPS,
    METRIC_LABELS,
    PATTERN_LABELS,
    REASON_LABELS,
    Change,
    add_months,
    fmt_int,
    fmt_money,
    fmt_timestamp,
    month_label,
    to_decimal,
)
from dagster_project.domain.report.notices import (
    CHANGES_COLUMNS,
    INDEX_COLUMNS,
    REASONS,
    Notice,
    build_notices,
    csv_bytes,
    environment,
    notice_changes,
    policy_label,
    read_csv,
)
from dagster_project.domain.report.notices import REASON_LABELS as NOTICE_REASON_LABELS

WATCH_PAGE = "watch.html"  # the month-to-date watch's page (report/watch_page.py), provisional until the month is built

COUNT_LABELS = {
    "events_counted": "Events counted",
    **{f"events_counted.{d}": d for d in DATASETS},
    "rows_read": "Rows read",
    "rows_quarantined": "Rows quarantined",
    "duplicates_dropped": "Duplicates dropped",
    "conflicting_duplicates": "Conflicting duplicates (kept the latest delivery)",
    "users": "Users",
    "flagged_users": "Flagged users",
    "flagged_user_metrics": "Flagged user × metric",
    "flagged_accounts": "Flagged accounts (on the ladder)",
    "contact_centers": "Contact centers",
    "contact_centers_to_discuss": "Contact centers to discuss",
    "prohibited_use_flags": "Prohibited-use flags",
    "prohibited_use_accounts": "Accounts with prohibited use",
}


@dataclass
class ReportResult:
    month: str
    path: Path
    summary_md: str
    size_bytes: int
    notices: list[str]  # accounts with a notice this month
    notices_changed: list[dict] = field(default_factory=list)  # rows of notices/changes.csv written by this run
    notices_revision: int = 1
    exports_revision: int | None = None
    files_written: int = 0  # files whose bytes changed (0 on an unchanged re-run)
    warnings: list[str] = field(default_factory=list)


def _row(key: str, label: str, pair: tuple, *, money: bool = False, currency: str | None = None,
         indent: bool = False) -> dict:
    this, prev = pair
    change = Change(this, prev, money=money, currency=currency)
    show = (lambda v: fmt_money(v, currency)) if money else fmt_int
    return {"key": key, "label": label, "indent": indent, "value": format(to_decimal(this), "f") if money else
            str(int(this or 0)), "this": show(this), "previous": "–" if prev is None else show(prev),
            "change": change.text(), "direction": change.direction()}


def glance_sections(g: Glance, previous_built: bool) -> list[dict]:
    """The month-at-a-glance table: sections of rows (key, label, this, previous, change)."""
    c = g.counts
    none = (0, 0 if previous_built else None)
    events = [_row("events_counted", COUNT_LABELS["events_counted"], c["events_counted"])]
    events += [_row(f"events_counted.{d}", d, c[f"events_counted.{d}"], indent=True) for d in DATASETS]
    events += [_row("rows_read", COUNT_LABELS["rows_read"], c["rows_read"]),
               _row("rows_quarantined", COUNT_LABELS["rows_quarantined"], c["rows_quarantined"])]
    events += [_row(f"quarantined.{r}", REASON_LABELS.get(r, r), v, indent=True)
               for r, v in g.quarantined_by_reason.items()]
    events += [_row(k, COUNT_LABELS[k], c[k]) for k in ("duplicates_dropped", "conflicting_duplicates")]
    users = [_row(k, COUNT_LABELS[k], c[k]) for k in ("users", "flagged_users", "flagged_user_metrics",
                                                      "flagged_accounts")]
    ladder = [_row(f"action.{a}", f"Step {ACTION_STEPS[a]}: {ACTION_LABELS[a].lower()}", g.actions.get(a, none),
                   indent=True) for a in ACTION_STEPS]

    def money(prefix: str, label: str, per_currency: dict) -> list[dict]:
        if not per_currency:
            return [{"key": prefix, "label": label, "indent": False, "value": "0", "this": "none",
                     "previous": "none" if previous_built else "–", "change": "no change" if previous_built
                     else "–", "direction": "same" if previous_built else "none"}]
        return [_row(f"{prefix}.{cur}", f"{label}, {cur}", v, money=True, currency=cur)
                for cur, v in per_currency.items()]

    amounts = (money("excess_charges", "Excess-use charges", g.excess_charges)
               + money("surcharges_applied", "Contact-center surcharges applied", g.surcharges_applied)
               + money("surcharges_pending", "Contact-center surcharges to discuss (if applied)",
                       g.surcharges_pending))
    other = [_row(k, COUNT_LABELS[k], c[k]) for k in ("contact_centers", "contact_centers_to_discuss",
                                                      "prohibited_use_flags", "prohibited_use_accounts")]
    return [
        {"title": "Events", "rows": events},
        {"title": "Users and flags", "rows": users},
        {"title": "Enforcement actions by ladder step (accounts)", "rows": ladder},
        {"title": "Charges by currency", "rows": amounts},
        {"title": "Contact centers and prohibited use", "rows": other},
    ]


def quarantine_pivot(rows: list[dict]) -> dict:
    """Quarantined rows as reason x dataset counts (the datasets of the load balance as columns)."""
    counts = {(r["reason"], r["dataset"]): r["rows_"] for r in rows}
    datasets = [d for d in DATASETS if any(k[1] == d for k in counts)] + sorted(
        {k[1] for k in counts} - set(DATASETS))
    reasons = [r for r in REASON_LABELS if any(k[0] == r for k in counts)] + sorted(
        {k[0] for k in counts} - set(REASON_LABELS))
    return {"datasets": datasets, "rows": [
        {"reason": REASON_LABELS.get(r, r), "counts": [counts.get((r, d), 0) for d in datasets],
         "total": sum(counts.get((r, d), 0) for d in datasets)} for r in reasons]}


def render_charts(data: MonthData) -> dict:
    dist = []
    for metric in METRICS:
        rows = [r for r in data.distributions if r["metric"] == metric]
        flagged = [(f["country"], f["plan"], f["value"]) for f in data.flagged_values if f["metric"] == metric]
        dist.append({"metric": metric, "label": METRIC_LABELS[metric],
                     "svg": charts.cohort_distribution(metric, rows, flagged, f"dist-{metric}")})
    return {
        "distributions": dist,
        "trend": charts.flagged_trend(data.trend_months, data.trend, "flagged-trend"),
        "contact_centers": charts.contact_center_minutes(data.contact_centers, "contact-center-minutes"),
        "prohibited": charts.prohibited_by_pattern(data.prohibited_by_pattern, "prohibited-by-pattern"),
    }


def _atomic_write(path: Path, data: bytes) -> bool:
    """Write `data` to `path` unless it already holds exactly these bytes; True when written."""
    if path.exists() and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return True


def _write_all(files: dict[Path, bytes]) -> int:
    """`_atomic_write` for many files with one flush to disk: the files that differ are written to temporary
    names, the disk is synced once (not once per file: a month can have thousands of notices), then each is
    renamed into place. Returns how many were written."""
    todo = {p: d for p, d in files.items() if not (p.exists() and p.read_bytes() == d)}
    staged = []
    for path, data in todo.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        tmp.write_bytes(data)
        staged.append((tmp, path))
    if staged:
        os.sync()  # every temporary file is on disk before any of them replaces a file
    for tmp, path in staged:
        os.replace(tmp, path)
    return len(staged)


def _archive(notices_dir: Path, previous: list[dict], revision: int) -> None:
    """Keep the notice set that is about to change under revisions/rNNN (never overwritten)."""
    keep = notices_dir / "revisions" / f"r{revision:03d}"
    if keep.exists():
        return
    staging = keep.with_name(f".{keep.name}.tmp-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    names = [r[c] for r in previous for c in ("notice_md", "notice_html")] + ["index.csv", "changes.csv"]
    for name in names:
        if name and (notices_dir / name).exists():
            shutil.copy2(notices_dir / name, staging / name)
    os.replace(staging, keep)


def _load_policy(policy_file: Path | None, versions: list[str],
                 stored: str | None = None) -> tuple[Policy | None, list[str]]:
    """The version the month was computed with: its content stored in the warehouse (audit.policy_months), else
    the policy file when it is that version (else None, and why)."""
    if stored is not None:
        return parse_policy(json.loads(stored), f"stored policy {', '.join(versions)}"), []
    if policy_file is None:
        return None, []
    try:
        policy = load_policy(policy_file)
    except (OSError, PolicyError) as e:
        return None, [f"policy file not used for the notices' unit rates: {e}"]
    if set(versions) != {policy.version}:
        return None, [f"policy file {policy.version} is not the version of the month ({', '.join(versions)}); "
                      "the notices give the amounts without their unit rates"]
    return policy, []


def summary_markdown(month: str, glance: list[dict], notices: list[Notice], changed: list[dict],
                     exports: ExportState, data: MonthData) -> str:
    """A few lines for the Dagster UI."""
    rows = {r["key"]: r for s in glance for r in s["rows"]}

    def line(key: str) -> str:
        r = rows[key]
        return f"| {r['label']} | {r['this']} | {r['change']} |"

    keys = ["events_counted", "rows_quarantined", "users", "flagged_users", "flagged_accounts",
            *(f"action.{a}" for a in ACTION_STEPS), *(k for k in rows if k.startswith("excess_charges.")),
            *(k for k in rows if k.startswith("surcharges_applied.")), "contact_centers_to_discuss",
            "prohibited_use_flags"]
    by_reason = {r: sum(1 for n in notices if r in n.reasons) for r in REASONS}
    text = [f"**Fair-use report {month_label(month)}** (data complete to {fmt_timestamp(data.data_complete_to)}"
            + (f", exports revision {exports.revision}" if exports.revision else "")
            + (", accepted incomplete" if exports.accepted_incomplete is not None else "") + ")", "",
            f"| measure | {month} | vs {add_months(month, -1)} |", "|---|---:|---:|",
            *(line(k) for k in keys if k in rows), "",
            f"**Notices:** {len(notices)} accounts (" + ", ".join(
                f"{NOTICE_REASON_LABELS[r].lower()}: {n}" for r, n in by_reason.items() if n) + ")"
            if notices else "**Notices:** none this month"]
    if changed:
        text.append(f"**Changed by this re-run:** {len(changed)} notice(s): "
                    + ", ".join(f"{c['account_id']} ({c['change']})" for c in changed[:20])
                    + (" …" if len(changed) > 20 else ""))
    return "\n".join(text) + "\n"


def render_report(data: MonthData, exports: ExportState, notices: list[Notice], notices_revision: int,
                  latest_changes: list[dict]) -> str:
    """The report page of a month's data, its exports' state and its notices (HTML)."""
    month = data.month
    context = {
        "month": month, "month_label": month_label(month), "previous_label": month_label(add_months(month, -1)),
        "previous_built": data.previous_built, "data_complete_to": fmt_timestamp(data.data_complete_to),
        "policy_versions": policy_label(data), "exports": exports,
        "glance": glance_sections(data.glance, data.previous_built),
        "charts": render_charts(data), "data": data, "quarantine": quarantine_pivot(data.quarantine),
        "notices": notices, "notices_revision": notices_revision,
        "notice_changes": latest_changes, "reason_labels": NOTICE_REASON_LABELS, "reasons": REASONS,
        "action_labels": ACTION_LABELS, "action_steps": ACTION_STEPS, "pattern_labels": PATTERN_LABELS,
        "reason_names": REASON_LABELS,
        "notices_by_reason": {r: sum(1 for n in notices if r in n.reasons) for r in REASONS},
    }
    return environment().get_template("report.html.j2").render(**context)


def build_month_report(warehouse: Path, exports_dir: Path | str, reports_dir: Path, month: str,
                       policy_file: Path | None = None) -> ReportResult:
    """Write (or rewrite) the report and the notices of month `YYYY-MM`.

    `policy_file` is only used to explain charges in the notices (unit rates, the contact-center level), and only
    when its version is the one the month was computed with; every amount comes from the marts.
    """
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        data = load_month(con, month)
    finally:
        con.close()
    if not data.built:
        raise ValueError(f"month {month} is not in the published warehouse {warehouse}")
    exports = load_exports(exports_dir, month)
    policy, warnings = _load_policy(policy_file, data.policy_versions, data.policy_content)
    notices = build_notices(data, policy)

    out = Path(reports_dir) / month
    notices_dir = out / "notices"
    index_rows = [n.index_row for n in notices]
    archived = sorted(p for p in (notices_dir / "revisions").glob("r[0-9][0-9][0-9]") if p.is_dir())
    on_disk = len(archived) + 1  # revision of the set now on disk, if any
    changed: list[dict] = []
    revision = 1
    if (notices_dir / "index.csv").exists():
        previous = read_csv(notices_dir / "index.csv")
        changed = notice_changes(previous, index_rows, on_disk + 1)
        revision = on_disk
        if changed:
            _archive(notices_dir, previous, on_disk)
            revision = on_disk + 1
            current = {n.account_id for n in notices}
            for r in previous:  # withdrawn notices stay only in the archive
                if r["account_id"] not in current:
                    for c in ("notice_md", "notice_html"):
                        (notices_dir / r[c]).unlink(missing_ok=True)
    files = {}
    for n in notices:
        files[notices_dir / f"{n.account_id}.md"] = n.markdown.encode("utf-8")
        files[notices_dir / f"{n.account_id}.html"] = n.html.encode("utf-8")
    written = _write_all(files)
    written += _atomic_write(notices_dir / "index.csv", csv_bytes(INDEX_COLUMNS, index_rows))
    if changed:
        written += _atomic_write(notices_dir / "changes.csv", csv_bytes(CHANGES_COLUMNS, changed))
    latest_changes = changed or read_csv(notices_dir / "changes.csv")

    glance = glance_sections(data.glance, data.previous_built)
    html = render_report(data, exports, notices, revision, latest_changes)
    path = out / "report.html"
    written += _atomic_write(path, html.encode("utf-8"))
    (out / WATCH_PAGE).unlink(missing_ok=True)  # provisional: the month is built now
    return ReportResult(
        month=month, path=path, summary_md=summary_markdown(month, glance, notices, changed, exports, data),
        size_bytes=path.stat().st_size, notices=[n.account_id for n in notices], notices_changed=changed,
        notices_revision=revision, exports_revision=exports.revision, files_written=written, warnings=warnings)

