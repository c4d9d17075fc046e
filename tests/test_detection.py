"""Prohibited-use detection against the generator's ground truth, on data unlike the demo's
(other seed, users, volume and months): every pattern at >= 0.9 precision and recall, hard negatives clean."""

from __future__ import annotations

import json
import re

import duckdb
import pytest

from dagster_project.domain.evaluate import evaluate, format_report, truth_path
from dagster_project.domain.policy import PATTERNS
from dagster_project.tools.generate import generate
from tests.conftest import run_pipeline

pytestmark = pytest.mark.slow  # end-to-end: real Dagster, dbt and DuckDB runs


@pytest.fixture(scope="module")
def detected(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("detect")
    raw = tmp / "raw"
    generate(out=raw, users=320, months=["2026-03", "2026-04", "2026-05"], seed=101, calls_per_user=30)
    settings, outcomes = run_pipeline(tmp, raw)
    assert all(o.success for o in outcomes), outcomes
    return settings, truth_path(raw)


def test_precision_and_recall_per_pattern(detected):
    settings, truth = detected
    report = evaluate(settings.warehouse, truth)
    print(format_report(report))
    for pattern in PATTERNS:
        r = report[pattern]
        assert r["expected"] > 0, pattern
        assert r["precision"] is not None and r["precision"] >= 0.9, (pattern, r)
        assert r["recall"] >= 0.9, (pattern, r)


def test_hard_negatives_stay_clean(detected):
    settings, truth = detected
    negatives = {(n["month"], n["user_id"]) for n in json.loads(truth.read_text())["hard_negatives"]}
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    flagged = {(m, u) for m, u in con.execute(
        "select strftime(month, '%Y-%m'), user_id from marts.fct_prohibited_use_flags").fetchall()}
    # Contact-center agents: busy, inbound and outbound, one call at a time.
    agents = {u for (u,) in con.execute(
        "select distinct u.user_id from marts.fct_user_monthly_usage u join marts.fct_contact_center_surcharge s "
        "using (month, account_id)").fetchall()}
    con.close()
    assert negatives and not negatives & flagged
    assert agents and not {u for _, u in flagged} & agents


def test_evidence_is_a_sentence_with_numbers_and_no_phone_number(detected):
    settings, _ = detected
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    rows = con.execute("select pattern, evidence from marts.fct_prohibited_use_flags").fetchall()
    con.close()
    assert rows
    for pattern, evidence in rows:
        assert evidence.endswith(".") and re.search(r"\d", evidence), (pattern, evidence)
        assert not re.search(r"\+?\d{7,}", evidence), evidence
