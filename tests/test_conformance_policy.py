"""Golden vectors for everything finance and customers see (tests/conformance/policy/README.md): flags with
severity and streaks, the enforcement ladder and excess amounts in two currencies, contact-center surcharges
(declared, detected, agreement-gated, to discuss) and the export files, byte for byte. Raw files from
tests/conformance/policy/make_raw.py, four months through the real pipeline; every expected row was worked out by
hand (the README shows the arithmetic), never taken from a run."""

from __future__ import annotations

import csv
import json

import duckdb
import pyarrow.parquet as pq
import pytest

from tests.conformance.policy.make_raw import MONTHS, make_raw
from tests.conftest import CONFORMANCE, policy_with, run_pipeline
from tests.test_conformance import compare_table

pytestmark = pytest.mark.slow  # four months end to end (~20 s)

GOLDEN = CONFORMANCE / "policy"
# The policy file with the changes the README lists under "Settings".
SETTINGS = {"version": "golden-1", "cohorts.min_cohort_size": 3, "metrics.messages.floor": 20,
            "estimates": {"pro": {"messages": 30}}}
TABLES = {
    "fct_fair_use_flags.csv": "marts.fct_fair_use_flags",
    "fct_account_enforcement.csv": "marts.fct_account_enforcement",
    "fct_contact_center_surcharge.csv": "marts.fct_contact_center_surcharge",
    "fct_contact_center_discussions.csv": "marts.fct_contact_center_discussions",
}
FLOATS = {"value", "reference_mean", "estimated_value", "ratio_to_cohort", "ratio_to_estimate", "threshold_multiple",
          "excess_value", "surcharge_minutes", "minutes_per_user", "inbound_share", "outbound_share"}


@pytest.fixture(scope="module")
def golden(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("golden-policy")
    raw = make_raw(tmp / "raw")
    # Hand-built months (a few days of calls, one reference snapshot before them): the completeness gate would
    # hold them; the arithmetic is under test here, so they are published as accepted incomplete.
    settings, outcomes = run_pipeline(tmp, raw, months=MONTHS, policy=policy_with(tmp, **SETTINGS),
                                      accept_incomplete=True)
    assert [o.month for o in outcomes if o.success] == MONTHS, outcomes
    return settings


@pytest.mark.parametrize("expected_csv", sorted(TABLES))
def test_golden_policy_table(golden, expected_csv):
    compare_table(golden.warehouse, expected_csv, TABLES[expected_csv], folder=GOLDEN / "expected", floats=FLOATS)


def test_no_prohibited_use_in_ordinary_and_contact_center_calling(golden):
    con = duckdb.connect(str(golden.warehouse), read_only=True)
    try:
        assert con.execute("select count(*) from marts.fct_prohibited_use_flags").fetchone()[0] == 0
    finally:
        con.close()


@pytest.mark.parametrize("month", MONTHS)
def test_golden_exports_byte_for_byte(golden, month):
    """The CSVs finance loads, byte for byte; the Parquet twins hold the same rows; the manifest lists both."""
    got_dir = golden.exports_dir / month
    want_dir = GOLDEN / "expected" / "exports" / month
    manifest = json.loads((got_dir / "manifest.json").read_text())
    assert manifest["month"] == month and manifest["policy_version"] == "golden-1"
    listed = {f["name"]: f["rows"] for f in manifest["files"]}
    for name in ("contact_center_surcharge", "excess_usage_charges"):
        want = (want_dir / f"{name}.csv").read_bytes()
        assert (got_dir / f"{name}.csv").read_bytes() == want, name
        with open(want_dir / f"{name}.csv", newline="", encoding="utf-8") as f:
            want_rows = list(csv.DictReader(f))
        table = pq.read_table(got_dir / f"{name}.parquet")
        assert table.column_names == list(want_rows[0] if want_rows else _header(want))
        assert table.num_rows == len(want_rows) == listed[f"{name}.csv"] == listed[f"{name}.parquet"]
        for got, exp in zip(table.to_pylist(), want_rows, strict=True):
            assert {k: _text(v) for k, v in got.items()} == exp, name


def _header(csv_bytes: bytes) -> list[str]:
    return csv_bytes.decode().splitlines()[0].split(",")


def _text(value) -> str:
    from dagster_project.domain.exports import _fmt  # the CSV spelling of a value (ISO dates, true/false)

    return _fmt(value)


# Prohibited use (tests/conformance/prohibited): the policy file as it is; one month of hand-built calls and
# messages.
PROHIBITED = CONFORMANCE / "prohibited"
# The numbers behind each flag, worked out from the call and message records (make_raw.py's comments).
EVIDENCE = {
    "ad_api": {"outbound_calls": 300, "api_share": 1.0, "peak_calls_per_hour": 120},
    "tm_cold": {"outbound_calls": 200, "new_number_calls": 200, "new_number_share": 1.0,
                "new_number_answer_ratio": 0.25},
    "vm_burst": {"outbound_calls": 50, "max_voicemails_in_window": 20},
    "bl_line": {"inbound_calls": 200, "distinct_callers": 200, "max_concurrent_inbound_calls": 3},
    "fw_pbx": {"forwarded_calls": 20, "forwarded_numbers": 1, "max_concurrent_forwarded_calls": 3},
    "mb_blast": {"sent_messages": 285, "received_messages": 125, "message_recipients": 285, "new_recipients": 200,
                 "new_recipient_share": 200 / 285, "reply_ratio": 40 / 200, "max_messages_in_burst_window": 60},
}
# Evidence sentences written by hand (the README beside make_raw.py works them out).
SENTENCES = {
    "mb_blast": "Sent 285 messages (200 SMS or MMS, 85 WhatsApp) to 285 numbers, 200 of them (70%) numbers the "
                "account had not messaged or heard from earlier this month, of which 20% wrote back; up to 60 sent "
                "within 60 s; the cohort's median user (NZ pro) messaged 0 new numbers.",
}


@pytest.fixture(scope="module")
def prohibited(tmp_path_factory):
    from tests.conformance.prohibited.make_raw import MONTH
    from tests.conformance.prohibited.make_raw import make_raw as make_calls

    tmp = tmp_path_factory.mktemp("golden-prohibited")
    settings, outcomes = run_pipeline(tmp, make_calls(tmp / "raw"), months=[MONTH], accept_incomplete=True)
    assert [o.month for o in outcomes if o.success] == [MONTH], outcomes
    return settings


def test_golden_prohibited_use_flags(prohibited):
    """Each pattern flags its user and none of the near misses (each misses one condition by one step)."""
    compare_table(prohibited.warehouse, "fct_prohibited_use_flags.csv", "marts.fct_prohibited_use_flags",
                  folder=PROHIBITED / "expected", floats={"volume_threshold", "cohort_median"})
    con = duckdb.connect(str(prohibited.warehouse), read_only=True)
    try:
        for user, want in EVIDENCE.items():
            cols = list(want)
            row = con.execute(f"select {', '.join(cols)}, evidence from marts.fct_prohibited_use_flags "
                              "where user_id = ?", [user]).fetchone()
            assert dict(zip(cols, row[:-1], strict=True)) == want, user
            assert "+64" not in row[-1], row[-1]  # the evidence never quotes a number
            assert row[-1] == SENTENCES.get(user, row[-1]), user
    finally:
        con.close()
