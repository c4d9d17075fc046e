"""Finance exports (CONTRACT §4): per month CSV + Parquet + manifest.json, deterministic, with restatements.

- Deterministic: rows sorted by account, values formatted by fixed rules, no wall-clock time anywhere, so an
  unchanged re-run rewrites byte-identical files (the manifest included).
- Atomic: every file is written under a temporary name and renamed; the manifest goes last. In a bucket
  (`s3://...`, domain/locations.py), where nothing can be renamed, each file is one PUT (replaced whole), data
  files first and the manifest last: a reader that trusts the manifest never sees a half-written set.
- Restatements: when a month's files change, the previous set is kept under `revisions/rNNN/` and
  `changes.csv` lists each account whose amount changed (old, new, delta). Finance never loses a file.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import hashlib
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from dagster_project.domain.locations import Folder
from dagster_project.domain.policy_versions import IN_FORCE, RESTATED, month_versions

SURCHARGE_COLUMNS = [
    "month", "account_id", "declared", "detected", "inbound_billable_seconds", "outbound_billable_seconds",
    "surcharge_minutes", "agreement_in_force", "rate_per_minute", "surcharge_amount", "currency", "status",
    "policy_version",
]
EXCESS_COLUMNS = [
    "month", "account_id", "flagged_users", "consecutive_months", "action", "excess_charge_amount", "currency",
    "policy_version",
]
DATASETS = {
    # name -> (query, amount column)
    "contact_center_surcharge": (
        f"select {', '.join(SURCHARGE_COLUMNS)} from marts.fct_contact_center_surcharge "
        "where month = ? order by account_id", "surcharge_amount"),
    "excess_usage_charges": (
        f"select {', '.join(EXCESS_COLUMNS)} from marts.fct_account_enforcement "
        "where month = ? and excess_charge_amount > 0 order by account_id", "excess_charge_amount"),
}
CHANGES_COLUMNS = ["dataset", "account_id", "currency", "old_amount", "new_amount", "delta"]


def _fmt(value) -> str:
    """One spelling per value: ISO dates, '.' decimals, true/false, empty for null."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _csv_bytes(columns: list[str], rows: list[tuple]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for r in rows:
        w.writerow([_fmt(v) for v in r])
    return buf.getvalue().encode("utf-8")


def _parquet_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd", write_statistics=True)
    return sink.getvalue().to_pybytes()


@dataclass
class ExportResult:
    month: str
    directory: Path | str  # a URL for a bucket
    files: dict[str, int]  # name -> rows
    revision: int
    restated: bool
    changes: int
    totals: dict[str, str]  # dataset -> total amount (as text, per currency)


def _amounts(rows: list[tuple], columns: list[str], amount_col: str) -> dict[str, tuple[str, decimal.Decimal]]:
    a, c, cur = columns.index("account_id"), columns.index(amount_col), columns.index("currency")
    return {r[a]: (r[cur], decimal.Decimal(r[c])) for r in rows}


def _read_csv_amounts(folder: Folder, name: str, amount_col: str) -> dict[str, tuple[str, decimal.Decimal]]:
    if not folder.exists(name):
        return {}
    rows = csv.DictReader(io.StringIO(folder.read_bytes(name).decode("utf-8"), newline=""))
    return {r["account_id"]: (r["currency"], decimal.Decimal(r[amount_col] or "0")) for r in rows}


@dataclass
class MonthContent:
    """The files of a month's exports, rendered in memory (nothing written yet)."""

    content: dict[str, bytes]  # file name -> bytes
    rows: dict[str, int]  # file name -> rows
    amounts: dict[str, dict[str, tuple[str, decimal.Decimal]]]  # dataset -> account -> (currency, amount)
    data_complete_to: str | None


def render_month(con: duckdb.DuckDBPyConnection, month: str) -> MonthContent:
    """Query the marts once per dataset; one Arrow result feeds both the CSV and the Parquet file."""
    month_start = f"{month}-01"
    content: dict[str, bytes] = {}
    rows_by: dict[str, int] = {}
    amounts = {}
    for name, (query, amount_col) in DATASETS.items():
        table = con.sql(query, params=[month_start]).to_arrow_table()
        columns = table.column_names
        rows = [tuple(r[c] for c in columns) for r in table.to_pylist()]
        content[f"{name}.csv"] = _csv_bytes(columns, rows)
        content[f"{name}.parquet"] = _parquet_bytes(table)
        rows_by[f"{name}.csv"] = rows_by[f"{name}.parquet"] = len(rows)
        amounts[name] = _amounts(rows, columns, amount_col)
    wm = next(iter(con.execute("select data_complete_to from audit.month_watermarks where month = ?",
                               [month_start]).fetchall()), None)
    data_complete_to = wm[0].replace(tzinfo=dt.UTC).isoformat() if wm and wm[0] else None
    return MonthContent(content, rows_by, amounts, data_complete_to)


def _unchanged(previous: dict | None, month: MonthContent, policy_version: str) -> bool:
    if previous is None:
        return False
    prev_hashes = {f["name"]: f["sha256"] for f in previous["files"]}
    return (all(prev_hashes.get(n) == hashlib.sha256(b).hexdigest() for n, b in month.content.items())
            and previous.get("policy_version") == policy_version
            and previous.get("data_complete_to") == month.data_complete_to)


def _keep_revision(out: Folder, previous: dict) -> Folder:
    """Copy the set finance may already have loaded to revisions/rNNN/ (atomically on disk, manifest last in a
    bucket; once)."""
    keep = out / "revisions" / f"r{previous.get('revision', 1):03d}"
    out.copy_set([f["name"] for f in previous["files"]], keep, last="manifest.json")
    return keep


def _changes(kept: Folder, month: MonthContent) -> list[tuple]:
    """Each account whose amount differs between the kept revision and the new files."""
    rows = []
    for name, (_, amount_col) in DATASETS.items():
        old = _read_csv_amounts(kept, f"{name}.csv", amount_col)
        new = month.amounts[name]
        for acc in sorted(set(old) | set(new)):
            o_cur, o = old.get(acc, (None, decimal.Decimal("0.00")))
            n_cur, n = new.get(acc, (None, decimal.Decimal("0.00")))
            if o != n:
                rows.append((name, acc, n_cur or o_cur, o, n, n - o))
    return rows


def _totals(month: MonthContent) -> dict[str, str]:
    totals = {}
    for name in DATASETS:
        per_cur: dict[str, decimal.Decimal] = {}
        for cur, amount in month.amounts[name].values():
            per_cur[cur] = per_cur.get(cur, decimal.Decimal("0")) + amount
        totals[name] = ", ".join(f"{c} {v}" for c, v in sorted(per_cur.items())) or "0"
    return totals


def export_month(con: duckdb.DuckDBPyConnection, exports_dir: Path | str, month: str, policy_version: str,
                 accepted_incomplete: str | None = None) -> ExportResult:
    """Write (or restate) the exports of month `YYYY-MM` from the marts readable through `con`.
    `accepted_incomplete`: why the completeness gate held the month an operator published anyway (recorded in the
    manifest as `accepted_incomplete`: {"reason": ...}; absent for a month that passed the gate)."""
    out = Folder(exports_dir) / month
    out.mkdir()
    rendered = render_month(con, month)
    # The version the month was computed with (audit.policy_months), not the run's: a run re-checking later months
    # never relabels them; `policy_restated_under` when an operator restated the month under another version.
    policy_version, applied = month_versions(con).get(month, (policy_version, IN_FORCE))
    previous = json.loads(out.read_bytes("manifest.json")) if out.exists("manifest.json") else None
    revision = previous.get("revision", 1) if previous else 1
    restated = previous is not None and not _unchanged(previous, rendered, policy_version)
    changes_rows: list[tuple] = []
    if restated:
        changes_rows = _changes(_keep_revision(out, previous), rendered)
        revision += 1
        rendered.content["changes.csv"] = _csv_bytes(CHANGES_COLUMNS, changes_rows)
        rendered.rows["changes.csv"] = len(changes_rows)
    elif previous and any(f["name"] == "changes.csv" for f in previous["files"]):
        kept_changes = out.read_bytes("changes.csv")  # an unchanged re-run keeps its changes file
        rendered.content["changes.csv"] = kept_changes
        rendered.rows["changes.csv"] = max(0, kept_changes.count(b"\n") - 1)
    names = sorted(rendered.content)
    out.write_set(rendered.content)
    manifest = {
        "month": month,
        "policy_version": policy_version,
        "data_complete_to": rendered.data_complete_to,
        "revision": revision,
        **({"accepted_incomplete": {"reason": accepted_incomplete}} if accepted_incomplete is not None else {}),
        **({"policy_restated_under": policy_version} if applied == RESTATED else {}),
        "files": [{"name": n, "rows": rendered.rows[n], "sha256": hashlib.sha256(rendered.content[n]).hexdigest()}
                  for n in names],
    }
    out.write_atomic("manifest.json", (json.dumps(manifest, indent=2) + "\n").encode("utf-8"))
    return ExportResult(month, out.location, {n: rendered.rows[n] for n in names}, revision, restated,
                        len(changes_rows), _totals(rendered))


def export_month_and_later(con: duckdb.DuckDBPyConnection, exports_dir: Path | str, month: str,
                           policy_version: str, also: Iterable[str] = (),
                           accepted_incomplete: Mapping[str, str] | None = None) -> list[ExportResult]:
    """Export `month` (and the months in `also`, published with it), and re-check every later month already
    exported: late data can move a later month's ladder or charges, which is then restated.
    `accepted_incomplete`: month -> why the gate held it, for the months published incomplete by choice."""
    root = Folder(exports_dir)
    root.check()  # a missing bucket, refused credentials, no endpoint: one line, before anything is written
    later = [m for m in root.month_folders() if m > month]
    accepted = accepted_incomplete or {}
    return [export_month(con, exports_dir, m, policy_version, accepted.get(m))
            for m in [month, *sorted((set(later) | set(also)) - {month})]]


def check_month_export(con: duckdb.DuckDBPyConnection, exports_dir: Path | str, month: str) -> tuple[bool, dict]:
    """Exports consistent with the marts: same rows, same amounts, hashes as in the manifest."""
    out = Folder(exports_dir) / month
    detail: dict = {}
    ok = out.exists("manifest.json")
    if not ok:
        return False, {"missing": f"{out}/manifest.json"}
    manifest = json.loads(out.read_bytes("manifest.json"))
    for f in manifest["files"]:
        ok &= out.exists(f["name"]) and hashlib.sha256(out.read_bytes(f["name"])).hexdigest() == f["sha256"]
    for name, (query, amount_col) in DATASETS.items():
        cur = con.execute(query, [f"{month}-01"])
        columns = [d[0] for d in cur.description]
        mart = _amounts(cur.fetchall(), columns, amount_col)
        exported = _read_csv_amounts(out, f"{name}.csv", amount_col)
        detail[f"{name}_rows"] = len(exported)
        ok &= mart == exported
    return bool(ok), detail
