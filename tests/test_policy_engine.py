"""Policy engine arithmetic with hand-computed answers.

Hand-made usage goes into a warehouse; `fairuse simulate` builds the policy models themselves (dbt tag `policy`)
over it with a test policy, in a scratch copy whose `marts` then hold the simulated tables.

Users (min_cohort_size 2, threshold 2, severe 5): u1..u4 of acc-nz (NZ/pro, NZD), a1 of acc-au (AU/pro, alone
in its country x plan -> `plan` level), l1 of acc-lite (NZ/lite, the only lite user -> `all` level; calling is not
free on lite). Estimates: pro calls 100, pro messages 12. Floors: calls 10, team_chats 50. Rates: calls 0.05
(NZD 0.10), messages 0.025, team_chats none.
"""

from __future__ import annotations

from decimal import Decimal

import duckdb
import pytest
import yaml

from dagster_project.domain.policy import parse_policy
from dagster_project.domain.settings import DEFAULT_POLICY_FILE, get_settings
from dagster_project.domain.simulate import run_simulation

pytestmark = pytest.mark.slow  # end-to-end: real Dagster, dbt and DuckDB runs

USERS = {  # user -> (account, country, plan, currency)
    "u1": ("acc-nz", "NZ", "pro", "NZD"), "u2": ("acc-nz", "NZ", "pro", "NZD"),
    "u3": ("acc-nz", "NZ", "pro", "NZD"), "u4": ("acc-nz", "NZ", "pro", "NZD"),
    "a1": ("acc-au", "AU", "pro", "AUD"), "l1": ("acc-lite", "NZ", "lite", "NZD"),
}
# month -> user -> (calls, messages, chats)
USAGE = {
    "2026-01-01": {"u1": (60, 20, 1), "u2": (10, 25, 1), "u3": (10, 20, 45), "u4": (10, 20, 60),
                   "a1": (8, 0, 0), "l1": (100, 0, 0)},
    "2026-02-01": {"u1": (60, 20, 1), "u2": (10, 29, 1), "u3": (10, 20, 1), "u4": (10, 20, 1),
                   "a1": (0, 0, 0), "l1": (0, 0, 0)},
    "2026-03-01": {"u1": (33, 20, 1), "u2": (10, 29, 1), "u3": (10, 29, 1), "u4": (10, 20, 1),
                   "a1": (0, 0, 0), "l1": (0, 0, 0)},
    "2026-04-01": {"u1": (10, 20, 1), "u2": (10, 20, 1), "u3": (10, 20, 1), "u4": (10, 20, 1),
                   "a1": (0, 0, 0), "l1": (0, 0, 0)},
    "2026-05-01": {"u1": (60, 20, 1), "u2": (10, 20, 1), "u3": (10, 20, 1), "u4": (10, 20, 1),
                   "a1": (0, 0, 0), "l1": (0, 0, 0)},
}

POLICY = {
    "version": "test-1",
    "billing_increment": {"initial_seconds": 60, "subsequent_seconds": 60},
    "metrics": {
        "calls": {"offering": "calling", "floor": 10, "excess_unit_rate": {"default": 0.05, "NZD": 0.10}},
        "call_minutes": {"offering": "calling", "floor": 1_000_000},
        "team_chats": {"offering": "chat", "floor": 50},
        "messages": {"offering": "messaging", "floor": 0, "excess_unit_rate": 0.025},
    },
    "free_offerings": [{"country": "*", "plan": "pro", "offerings": ["calling", "chat", "messaging"]},
                       {"country": "NZ", "plan": "lite", "offerings": ["chat"]}],
    "estimates": {"pro": {"calls": 100, "messages": 12}},
    "cohorts": {"min_cohort_size": 2},
    "thresholds": {"threshold_multiple": 2.0, "severe_multiple": 5.0},
    "contact_center": {"minutes_per_user": 3000, "default_rate_per_minute": 0.01},
    "prohibited_use": yaml.safe_load(DEFAULT_POLICY_FILE.read_text())["prohibited_use"],
}


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("policy")
    wh = tmp / "warehouse.duckdb"
    con = duckdb.connect(str(wh))
    con.execute("create schema marts")
    con.execute("""create table marts.fct_user_monthly_usage (
        month date, user_id varchar, account_id varchar, country varchar, plan varchar, currency varchar,
        calls_inbound bigint, calls_outbound bigint, calls_internal bigint, billable_seconds_inbound bigint,
        billable_seconds_outbound bigint, billable_seconds_internal bigint, chats_sent bigint,
        sms_sent bigint, sms_received bigint, mms_sent bigint, mms_received bigint, whatsapp_sent bigint,
        whatsapp_received bigint)""")
    for month, per_user in USAGE.items():
        for user, (calls, messages, chats) in per_user.items():
            acc, country, plan, cur = USERS[user]
            con.execute("insert into marts.fct_user_monthly_usage values "
                        "(?, ?, ?, ?, ?, ?, 0, ?, 0, 0, ?, 0, ?, ?, 0, 0, 0, 0, 0)",
                        [month, user, acc, country, plan, cur, calls, calls * 60, chats, messages])
    con.execute("create table marts.fct_fair_use_flags (month date, user_id varchar, account_id varchar, "
                "metric varchar)")
    con.execute("create table marts.fct_account_enforcement (month date, account_id varchar, action varchar)")
    con.close()
    settings = get_settings(str(tmp / "raw"), str(wh), str(tmp / "exports"))
    result = run_simulation(settings, parse_policy(POLICY), keep_dir=tmp / "sim")
    con = duckdb.connect(str(tmp / "sim" / settings.build_db.name), read_only=True)
    yield con, result
    con.close()


def _one(con, sql, params):
    rows = con.execute(sql, params).fetchall()
    assert len(rows) == 1, rows
    return rows[0]


def test_leave_one_out_excludes_the_user(sim):
    con, _ = sim
    level, users, ref, ratio = _one(con, "select cohort_level, cohort_users, reference_mean, ratio_to_cohort "
                                    "from marts.fct_user_excess_ratios where month = '2026-01-01' and user_id = 'u1' "
                                    "and metric = 'calls'", [])
    assert (level, users) == ("country_plan", 4)
    assert ref == pytest.approx(10.0)  # (10 + 10 + 10) / 3, not (60 + 30) / 4
    assert ratio == pytest.approx(6.0)


@pytest.mark.parametrize(("user", "level", "users", "ref"), [
    ("a1", "plan", 5, (60 + 10 + 10 + 10) / 4),  # AU/pro alone -> every pro user
    ("l1", "all", 6, (60 + 10 + 10 + 10 + 8) / 5),  # NZ/lite alone and lite alone -> every user
])
def test_fallback_levels(sim, user, level, users, ref):
    con, _ = sim
    got = _one(con, "select cohort_level, cohort_users, reference_mean from marts.fct_user_excess_ratios "
               "where month = '2026-01-01' and user_id = ? and metric = 'calls'", [user])
    assert got[:2] == (level, users)
    assert got[2] == pytest.approx(ref)


def test_flags_of_january(sim):
    con, _ = sim
    rows = con.execute("select user_id, metric, severity, consecutive_months, round(excess_value, 9) "
                       "from marts.fct_fair_use_flags where month = '2026-01-01' order by all").fetchall()
    assert rows == [
        ("u1", "calls", "severe", 1, 40.0),  # ratio 6.0 >= 5; 60 - 2 x 10
        ("u2", "messages", "material", 1, 1.0),  # ratio to estimate alone: 25 / 12; 25 - 2 x 12
        ("u4", "team_chats", "material", 1, round(60 - 2 * 47 / 3, 9)),  # ratio 60 / (47 / 3) = 3.83
    ]
    # u3: chats ratio 45 / ((1 + 1 + 60) / 3) = 2.18 but below the floor of 50.
    # l1: calls ratio 100 / 19.6 = 5.1, but calling is not free on lite.


def test_ratio_to_estimate_alone_triggers(sim):
    con, _ = sim
    rc, re_ = _one(con, "select ratio_to_cohort, ratio_to_estimate from marts.fct_fair_use_flags "
                   "where month = '2026-01-01' and user_id = 'u2' and metric = 'messages'", [])
    assert rc == pytest.approx(25 / 20) and rc < 2
    assert re_ == pytest.approx(25 / 12)


def test_enforcement_ladder_and_charges(sim):
    con, _ = sim
    rows = con.execute("select strftime(month, '%Y-%m'), flagged_users, consecutive_months, action, "
                       "excess_charge_amount, currency from marts.fct_account_enforcement order by month").fetchall()
    assert rows == [
        ("2026-01", 3, 1, "ask_to_moderate", Decimal("0.00"), "NZD"),
        # 40 calls x 0.10 NZD + 5 messages x 0.025 = 4.125 -> 4.13 (half away from zero)
        ("2026-02", 2, 2, "require_excess_payment", Decimal("4.13"), "NZD"),
        # 13 x 0.10 + (5 + 5) x 0.025 = 1.55, rounded once (per-line rounding would give 1.56)
        ("2026-03", 3, 3, "limit_access", Decimal("1.55"), "NZD"),
        # April: nobody flagged, the streak breaks; May starts again at 1.
        ("2026-05", 1, 1, "ask_to_moderate", Decimal("0.00"), "NZD"),
    ]


def test_user_streaks_reset_after_gap(sim):
    con, _ = sim
    rows = con.execute("select strftime(month, '%Y-%m'), consecutive_months from marts.fct_fair_use_flags "
                       "where user_id = 'u1' and metric = 'calls' order by month").fetchall()
    assert rows == [("2026-01", 1), ("2026-02", 2), ("2026-03", 3), ("2026-05", 1)]


def test_simulation_report_counts_changes(sim):
    _, result = sim
    by_month = {r[0]: r for r in result.rows}
    assert by_month["2026-01"][2] == 3  # users flagged by the alternative
    assert by_month["2026-01"][3] == 3  # all newly flagged (the published flags table is empty here)
    assert by_month["2026-04"][2] == 0
