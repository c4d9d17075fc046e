"""Contact-center surcharge and finance exports on a hand-made raw set with hand-computed answers.

Accounts (all declared contact centers unless said otherwise):
- acc-cc   NZD, agreed on 2026-02-15, policy default rate (NZD -> default 0.0100)
- acc-rate AUD, agreed on 2025-01-01, own rate 0.0125
- acc-det  NZD, not declared, one user with a 3,000-minute call -> detected, no agreement
- acc-small NZD, not declared, light use -> not a contact center
Calls of u-cc and u-rate each month: inbound talk 45 s, outbound talk 10 s, internal 120 s (never surcharged).
  60/60: 60 + 60 = 120 s = 2 min | 6/6: 48 + 12 = 60 s = 1 min | 30/6: 48 + 30 = 78 s = 1.3 min
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import policy_with, run_pipeline

pytestmark = pytest.mark.slow  # end-to-end: real Dagster, dbt and DuckDB runs

_ARROW = {"VARCHAR": pa.string(), "TIMESTAMP": pa.timestamp("us"), "INTEGER": pa.int32()}
T0 = {"2026-01": dt.datetime(2026, 1, 12, 10, 0), "2026-02": dt.datetime(2026, 2, 12, 10, 0)}


def write_raw(raw: Path) -> None:
    accounts = pa.table({
        "account_id": ["acc-cc", "acc-rate", "acc-det", "acc-small"],
        "account_name": ["CC Ltd", "Rate Pty", "Det Ltd", "Small Ltd"],
        "country": ["NZ", "AU", "NZ", "NZ"], "plan": ["pro"] * 4,
        "declared_contact_center": [True, True, False, False],
        "surcharge_agreed_on": pa.array([dt.date(2026, 2, 15), dt.date(2025, 1, 1), None, None]),
        "surcharge_rate_per_minute": pa.array([None, Decimal("0.0125"), None, None], pa.decimal128(10, 4)),
        "currency": ["NZD", "AUD", "NZD", "NZD"],
    })
    users = pa.table({
        "user_id": ["u-cc", "u-rate", "u-det", "u-small"],
        "account_id": ["acc-cc", "acc-rate", "acc-det", "acc-small"],
        "created_at": [dt.datetime(2025, 1, 1)] * 4, "deactivated_at": pa.nulls(4, pa.timestamp("us")),
    })
    for name, table in (("accounts", accounts), ("users", users)):
        for day in ("2026-01-01", "2026-02-01"):  # a snapshot dated in each month (the completeness gate)
            (raw / name / f"snapshot_date={day}").mkdir(parents=True)
            pq.write_table(table, raw / name / f"snapshot_date={day}" / f"{name}.parquet")
    # Every dataset present each month (the completeness gate); no messages or chats in them.
    from dagster_project.domain.contract import CHATS, MESSAGES

    for ds in (MESSAGES, CHATS):
        empty = pa.table({c: pa.array([], _ARROW[t]) for c, t in ds.columns.items()})
        for month in T0:
            (raw / ds.name / f"month={month}").mkdir(parents=True)
            pq.write_table(empty, raw / ds.name / f"month={month}" / f"{ds.name}.parquet")
    for month, t0 in T0.items():
        rows = []
        for user, acc in (("u-cc", "acc-cc"), ("u-rate", "acc-rate")):
            for k, (direction, talk) in enumerate((("inbound", 45), ("outbound", 10), ("internal", 120))):
                start = t0 + dt.timedelta(hours=k)
                rows.append((f"{month}-{user}-{k}", acc, user, direction, start, start,
                             start + dt.timedelta(seconds=talk)))
        start = t0 + dt.timedelta(days=1)
        rows.append((f"{month}-det", "acc-det", "u-det", "inbound", start, start, start + dt.timedelta(minutes=3000)))
        rows.append((f"{month}-small", "acc-small", "u-small", "outbound", start, start,
                     start + dt.timedelta(minutes=5)))
        cols = list(zip(*rows, strict=True))
        calls = pa.table({
            "call_id": cols[0], "account_id": cols[1], "user_id": cols[2], "direction": cols[3],
            "started_at": pa.array(cols[4], pa.timestamp("us")), "answered_at": pa.array(cols[5], pa.timestamp("us")),
            "ended_at": pa.array(cols[6], pa.timestamp("us")),
            "from_number": ["+6491111111"] * len(rows), "to_number": ["+6492222222"] * len(rows),
            "disposition": ["answered"] * len(rows), "forwarded_to": pa.nulls(len(rows), pa.string()),
            "initiated_via": ["app"] * len(rows),
        })
        folder = raw / "calls" / f"month={month}"
        folder.mkdir(parents=True)
        pq.write_table(calls, folder / "calls.parquet")


def build(tmp: Path, i1: int, i2: int):
    raw = tmp / "raw"
    write_raw(raw)
    policy = policy_with(tmp, **{"billing_increment.initial_seconds": i1, "billing_increment.subsequent_seconds": i2})
    settings, outcomes = run_pipeline(tmp, raw, policy=policy)
    assert all(o.success for o in outcomes), outcomes
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    rows = con.execute("select strftime(month, '%Y-%m'), account_id, declared, detected, inbound_billable_seconds, "
                       "outbound_billable_seconds, surcharge_minutes, agreement_in_force, rate_per_minute, "
                       "surcharge_amount, status, amount_if_applied from marts.fct_contact_center_surcharge "
                       "order by 1, 2").fetchall()
    con.close()
    return settings, {(r[0], r[1]): r[2:] for r in rows}


@pytest.fixture(scope="module")
def at_60_60(tmp_path_factory):
    return build(tmp_path_factory.mktemp("cc60"), 60, 60)


def test_surcharge_at_60_60(at_60_60):
    _, rows = at_60_60
    assert ("2026-01", "acc-small") not in rows  # not declared, 5 min per user: not a contact center
    # January: acc-cc's agreement (15 Feb) is not in force yet; February ends after it: applied.
    assert rows[("2026-01", "acc-cc")] == (True, False, 60, 60, 2.0, False, Decimal("0.0100"), Decimal("0.00"),
                                           "pending_discussion", Decimal("0.02"))
    assert rows[("2026-02", "acc-cc")] == (True, False, 60, 60, 2.0, True, Decimal("0.0100"), Decimal("0.02"),
                                           "apply", Decimal("0.02"))
    # Own rate 0.0125: 2 min -> 0.025 -> 0.03 (half away from zero; banker's rounding would say 0.02).
    assert rows[("2026-01", "acc-rate")][6:9] == (Decimal("0.0125"), Decimal("0.03"), "apply")
    # Detected by 3,000 minutes per user, never declared, no agreement: pending, with what it would cost.
    assert rows[("2026-02", "acc-det")] == (False, True, 180000, 0, 3000.0, False, Decimal("0.0100"),
                                            Decimal("0.00"), "pending_discussion", Decimal("30.00"))


@pytest.mark.parametrize(("i1", "i2", "seconds", "amount_rate"), [
    (6, 6, (48, 12), Decimal("0.01")),  # 1 min x 0.0125 = 0.0125 -> 0.01
    (30, 6, (48, 30), Decimal("0.02")),  # 1.3 min x 0.0125 = 0.01625 -> 0.02
])
def test_surcharge_other_increments(tmp_path, i1, i2, seconds, amount_rate):
    _, rows = build(tmp_path, i1, i2)
    assert rows[("2026-02", "acc-rate")][2:4] == seconds
    assert rows[("2026-02", "acc-rate")][7] == amount_rate


def _hashes(directory: Path) -> dict[str, str]:
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file()}


def test_exports_are_complete_and_deterministic(at_60_60):
    settings, _ = at_60_60
    before = _hashes(settings.exports_dir)
    manifest = json.loads((settings.exports_dir / "2026-02" / "manifest.json").read_text())
    assert manifest["month"] == "2026-02" and manifest["revision"] == 1
    assert manifest["data_complete_to"] == "2026-02-13T10:00:00+00:00"
    assert {f["name"] for f in manifest["files"]} == {
        "contact_center_surcharge.csv", "contact_center_surcharge.parquet",
        "excess_usage_charges.csv", "excess_usage_charges.parquet"}
    csv_text = (settings.exports_dir / "2026-02" / "contact_center_surcharge.csv").read_text(encoding="utf-8")
    assert "2026-02-01,acc-cc,true,false,60,60,2.0,true,0.0100,0.02,NZD,apply," in csv_text
    # Opens cleanly in DuckDB (and so pandas / a spreadsheet): same rows in CSV and Parquet.
    con = duckdb.connect()
    d = settings.exports_dir / "2026-02"
    def norm(rows):
        return [tuple(float(v) if isinstance(v, Decimal | int | float) and not isinstance(v, bool) else v
                      for v in r) for r in rows]

    from_csv = con.execute(f"select * from read_csv('{d}/contact_center_surcharge.csv') order by 2").fetchall()
    from_parquet = con.execute(f"select * from '{d}/contact_center_surcharge.parquet' order by 2").fetchall()
    assert len(from_csv) == 3 and norm(from_csv) == norm(from_parquet)
    import pandas as pd

    frame = pd.read_csv(d / "contact_center_surcharge.csv", parse_dates=["month"])
    assert list(frame.columns)[:3] == ["month", "account_id", "declared"]
    assert frame["surcharge_amount"].sum() == pytest.approx(0.02 + 0.03)  # acc-cc applied, acc-rate applied
    assert len(pd.read_parquet(d / "excess_usage_charges.parquet")) == \
        len(pd.read_csv(d / "excess_usage_charges.csv"))
    # A re-run that changes nothing rewrites byte-identical files, manifests included.
    _, outcomes = run_pipeline(settings.warehouse.parent, settings.raw_dir, policy=settings.policy_file)
    assert all(o.success for o in outcomes)
    assert _hashes(settings.exports_dir) == before


def test_restatement_after_late_file(tmp_path):
    settings, _ = build(tmp_path, 60, 60)
    before = (settings.exports_dir / "2026-02" / "contact_center_surcharge.csv").read_bytes()
    # A late file for February: u-rate had another 100-minute inbound call -> +6000 s, +1.25 AUD.
    start = dt.datetime(2026, 2, 20, 9, 0)
    late = pa.table({
        "call_id": ["late-1"], "account_id": ["acc-rate"], "user_id": ["u-rate"], "direction": ["inbound"],
        "started_at": pa.array([start], pa.timestamp("us")), "answered_at": pa.array([start], pa.timestamp("us")),
        "ended_at": pa.array([start + dt.timedelta(minutes=100)], pa.timestamp("us")),
        "from_number": ["+6493333333"], "to_number": ["+6494444444"], "disposition": ["answered"],
        "forwarded_to": pa.nulls(1, pa.string()), "initiated_via": pa.nulls(1, pa.string()),
    })
    pq.write_table(late, settings.raw_dir / "calls/month=2026-02/late.parquet")
    _, outcomes = run_pipeline(settings.warehouse.parent, settings.raw_dir, months=["2026-02"],
                               policy=settings.policy_file)
    assert all(o.success for o in outcomes)
    month_dir = settings.exports_dir / "2026-02"
    manifest = json.loads((month_dir / "manifest.json").read_text())
    assert manifest["revision"] == 2
    # The previous set is kept, byte for byte, as revision 1.
    assert (month_dir / "revisions" / "r001" / "contact_center_surcharge.csv").read_bytes() == before
    old_manifest = json.loads((month_dir / "revisions" / "r001" / "manifest.json").read_text())
    assert old_manifest["revision"] == 1
    changes = (month_dir / "changes.csv").read_text().splitlines()
    assert changes[0] == "dataset,account_id,currency,old_amount,new_amount,delta"
    assert "contact_center_surcharge,acc-rate,AUD,0.03,1.28,1.25" in changes
    # The extra minutes also move the cohort mean, so acc-det's excess charge is restated too.
    assert [c for c in changes[1:] if not c.startswith("contact_center_surcharge,acc-rate,")] == \
        ["excess_usage_charges,acc-det,NZD,59.83,58.49,-1.34"]
    assert "changes.csv" in {f["name"] for f in manifest["files"]}
    # January was not touched.
    assert json.loads((settings.exports_dir / "2026-01" / "manifest.json").read_text())["revision"] == 1
