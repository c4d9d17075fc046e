"""Prohibited-use detection measured on data no threshold was chosen on, and held to what is measured there today:
every planted variant of every pattern found in every run, each flagged with its own pattern only, and no hard
negative flagged (precision and recall 1.0 per pattern and per variant).

The thresholds (policy/fair_use_policy.yaml, `prohibited_use`) were set from the sources cited there and checked
on the generator's seeds 1, 2 and 3 at 400 users and seed 1 at 2,000 users (docs/policy-owners.md). Here:
three other seeds at two other population sizes, each with a different volume of ordinary calling, one month
each, through the real pipeline. Every planted variant of every pattern and every hard negative is in each run.
"""

from __future__ import annotations

import json
import re

import duckdb
import pytest

from dagster_project.domain.evaluate import combine, evaluate, format_report, truth_path
from dagster_project.domain.policy import PATTERNS
from dagster_project.tools.generate import generate
from tests.conftest import run_pipeline

pytestmark = pytest.mark.slow  # end-to-end: real Dagster, dbt and DuckDB runs

HELD_OUT_SEEDS = (101, 202, 303)  # the thresholds were checked on seeds 1, 2 and 3 (docstring): never used here
POPULATIONS = ((250, 30.0), (600, 60.0))  # users, mean calls per user (markets with more calling than the demo's)
MONTH = "2026-05"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = []
    for seed in HELD_OUT_SEEDS:
        for users, calls_per_user in POPULATIONS:
            tmp = tmp_path_factory.mktemp(f"detect-{seed}-{users}")
            raw = tmp / "raw"
            generate(out=raw, users=users, months=[MONTH], seed=seed, calls_per_user=calls_per_user)
            settings, outcomes = run_pipeline(tmp, raw)
            assert all(o.success for o in outcomes), outcomes
            out.append({"seed": seed, "users": users, "warehouse": settings.warehouse, "truth": truth_path(raw),
                        "report": evaluate(settings.warehouse, truth_path(raw))})
    return out


def test_precision_and_recall_per_pattern_on_held_out_seeds_and_sizes(runs):
    report = combine([r["report"] for r in runs])
    print(f"\n{len(runs)} runs: seeds {HELD_OUT_SEEDS} x (users, calls per user) {POPULATIONS}\n")
    print(format_report(report))
    for pattern in PATTERNS:
        r = report["patterns"][pattern]
        assert r["expected"] >= 4 * len(runs), (pattern, r)  # several variants in every run
        # What is measured on these seeds: every planted user-month found, no flag on anyone else.
        assert (r["false_positives"], r["missed"]) == ([], []), (pattern, r)
        assert r["precision"] == r["recall"] == 1.0, (pattern, r)
    for variant, v in report["variants"].items():
        assert v["planted"] == len(runs), (variant, v)  # every variant in every run
        # Per variant, in every run: detected (recall 1.0), and flagged with its own pattern only (a slow list
        # caller is telemarketing, never auto-dialing as well): precision 1.0.
        assert (v["missed"], v["flagged_as_other"]) == ([], []), (variant, v)
        assert v["detected"] == v["flags"] == v["planted"], (variant, v)


def test_every_robo_dialer_is_caught_and_flagged_as_auto_dialing_only(runs):
    """The policy strictly prohibits robo-dialers, auto-dialing and predictive dialing (POLICY.md): each variant of
    machine or API dialing, in every run, is flagged, and as auto-dialing, not as the telemarketing it also
    resembles."""
    report = combine([r["report"] for r in runs])
    dialers = {k: v for k, v in report["variants"].items() if k.startswith("auto_dialing/")}
    assert {k.split("/", 1)[1] for k in dialers} >= {"predictive_parallel", "fixed_rate_robocall",
                                                     "progressive_wrap", "human_paced_api"}
    for variant, v in dialers.items():
        assert v["recall"] == 1.0 and v["flagged_as_other"] == [], (variant, v)


def test_no_hard_negative_is_flagged(runs):
    report = combine([r["report"] for r in runs])
    kinds = report["hard_negatives"]
    for kind in ("busy_sales_rep", "inside_sales_team", "recruiter", "appointment_reminders",
                 "support_desk_call_waiting", "receptionist_transfers", "forward_to_one_mobile", "voicemail_team",
                 "lead_follow_up_rep", "support_call_backs", "shop_conversations", "team_regular_contacts",
                 "sms_appointment_reminders", "one_off_broadcast", "contact_center_agent", "heavy_caller",
                 "heavy_messager"):
        assert kinds[kind]["user_months"] >= len(runs), kind
    assert {k: h["flagged"] for k, h in kinds.items() if h["flagged"]} == {}
    for run in runs:  # and in each run, every hard negative it planted is unflagged
        assert all(not h["flagged"] for h in run["report"]["hard_negatives"].values()), run["seed"]


def test_evidence_cites_the_numbers_and_the_cohort_never_a_phone_number(runs):
    for run in runs:
        con = duckdb.connect(str(run["warehouse"]), read_only=True)
        rows = con.execute("select pattern, evidence, volume, volume_threshold, cohort_median, cohort_label "
                           "from marts.fct_prohibited_use_flags").fetchall()
        con.close()
        assert {p for p, *_ in rows} == set(PATTERNS)
        for pattern, evidence, volume, threshold, median, label in rows:
            assert evidence.endswith(".") and ". " not in evidence, evidence  # one sentence
            assert f"the cohort's median user ({label})" in evidence, evidence
            assert str(volume) in evidence and str(int(median + 0.5)) in evidence, evidence
            assert volume >= threshold, (pattern, volume, threshold)
            assert not re.search(r"\+?\d{7,}|[0-9a-f]{16,}", evidence), evidence
        assert json.loads(run["truth"].read_text())["months"] == [MONTH]
