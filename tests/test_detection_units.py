"""Fast checks of the prohibited-use pieces that need no pipeline run: the policy section's validation, the
generator's building blocks (what a person, a dialer, a line with call waiting can and cannot do), the ground
truth's format, and `fairuse evaluate`'s arithmetic."""

from __future__ import annotations

import copy
import json

import duckdb
import numpy as np
import pytest
import yaml

from dagster_project.domain.evaluate import combine, evaluate, format_report
from dagster_project.domain.policy import PATTERNS, PROHIBITED_USE_KEYS, PolicyError, parse_policy
from dagster_project.domain.settings import DEFAULT_POLICY_FILE
from dagster_project.tools.generate import lines as ln
from dagster_project.tools.generate.negatives import (
    NEGATIVES,
    one_off_broadcast,
    receptionist_transfers,
    shop_conversations,
    sms_appointment_reminders,
)
from dagster_project.tools.generate.patterns import VARIANTS, Context
from dagster_project.tools.generate.population import build_population
from dagster_project.tools.generate.traffic import ANSWERED, MESSAGE_KEYS, US, is_messages

MONTH = "2026-03"


def _policy_raw() -> dict:
    return yaml.safe_load(DEFAULT_POLICY_FILE.read_text())


# ---------------------------------------------------------------- policy


def test_policy_has_every_pattern_and_patterns_come_from_it():
    policy = parse_policy(_policy_raw())
    assert tuple(PROHIBITED_USE_KEYS) == PATTERNS
    assert set(PATTERNS) <= set(policy.prohibited_use)
    for pattern in PATTERNS:
        assert policy.prohibited_use[pattern]["cohort_multiple"] >= 1
    assert policy.dbt_vars()["prohibited_use"] == policy.prohibited_use


@pytest.mark.parametrize(("path", "value", "message"), [
    ("outbound_telemarketing.max_new_number_answer_ratio", 1.5, "fraction"),
    ("outbound_telemarketing.min_session_calls", 2.5, "integer"),
    ("auto_dialing.min_outbound_calls", 300.5, "integer"),
    ("voicemail_blasting.window_seconds", 0, "positive"),
    ("bulk_call_in_line.cohort_multiple", 0.5, ">= 1"),
    ("forwarding_to_multi_line.min_forwarded_calls", None, "missing key"),
    ("auto_dialing.min_typo", 3, "unknown key"),
    ("message_blasting.max_reply_ratio", 1.5, "fraction"),
    ("message_blasting.burst_window_seconds", 59.5, "integer"),
    ("message_blasting.min_new_recipients", None, "missing key"),
])
def test_policy_rejects_bad_prohibited_use_values_naming_the_key(path, value, message):
    raw = copy.deepcopy(_policy_raw())
    pattern, key = path.split(".")
    if value is None:
        del raw["prohibited_use"][pattern][key]
    else:
        raw["prohibited_use"][pattern][key] = value
    with pytest.raises(PolicyError, match=message) as err:
        parse_policy(raw)
    assert pattern in str(err.value)


# ---------------------------------------------------------------- generator building blocks


def _in_progress_max(start: np.ndarray, end: np.ndarray) -> int:
    """Most intervals [start, end) open at once (ends before starts at the same instant)."""
    events = sorted([(t, 1) for t in start] + [(t, -1) for t in end], key=lambda e: (e[0], e[1]))
    now = best = 0
    for _, d in events:
        now += d
        best = max(best, now)
    return best


def test_human_line_is_one_call_at_a_time_with_irregular_gaps():
    rng = np.random.default_rng(1)
    days = ln.pick_days(rng, MONTH, 10)
    c = ln.human_line(rng, 7, MONTH, days, np.full(len(days), 40), wrap_median_s=40)
    order = np.argsort(c["started"])
    start, end = c["started"][order], c["ended"][order]
    assert (start[1:] >= end[:-1]).all()
    wraps = (start[1:] - end[:-1])[(start[1:] - end[:-1]) < 300 * US] / US
    median = np.median(wraps)
    assert np.mean(np.abs(wraps - median) <= max(1, 0.1 * median)) < 0.3  # a person is not regular


def test_machine_line_is_regular_and_parallel_rounds_overlap():
    rng = np.random.default_rng(2)
    days = ln.pick_days(rng, MONTH, 3)
    c = ln.machine_line(rng, 7, MONTH, days, np.full(3, 100), mode="wrap", period_s=3, jitter=0.03)
    order = np.argsort(c["started"])
    wraps = (c["started"][order][1:] - c["ended"][order][:-1]) / US
    wraps = wraps[wraps < 300]
    assert np.mean(np.abs(wraps - np.median(wraps)) <= 1) > 0.9
    p = ln.parallel_rounds(rng, 7, MONTH, days, np.full(3, 50), lines=(3, 5))
    assert _in_progress_max(p["started"], p["ended"]) >= 3


def test_one_line_with_call_waiting_never_has_three_people_in_talk():
    rng = np.random.default_rng(3)
    days = ln.pick_days(rng, MONTH, 21)
    c = ln.one_line_with_call_waiting(rng, 7, MONTH, days, np.full(len(days), 60), gap_median_s=200,
                                      p_waiting=0.3, p_third=0.8)
    talk = c["disposition"] == ANSWERED
    assert _in_progress_max(c["answered"][talk], c["ended"][talk]) == 2
    assert (c["disposition"] != ANSWERED).any()  # third callers rang and reached voicemail


def test_receptionist_transfers_never_overlap_on_one_colleague():
    rng = np.random.default_rng(4)
    pop = build_population(rng, 80, [MONTH])
    c = receptionist_transfers(rng, Context(pop, 1.0), [70], MONTH)
    fwd = c["forwarded_to"] >= 0
    assert fwd.sum() > 500
    assert _in_progress_max(c["answered"][fwd], c["ended"][fwd]) >= 3  # several colleagues at once ...
    for number in np.unique(c["forwarded_to"][fwd]):  # ... but one call each
        mine = c["forwarded_to"] == number
        assert _in_progress_max(c["answered"][mine], c["ended"][mine]) == 1


def test_every_variant_and_negative_builds_calls_inside_the_month():
    rng = np.random.default_rng(5)
    pop = build_population(rng, 120, [MONTH])
    ctx = Context(pop, 1.0)
    m0, m1 = ln.month_bounds(MONTH)
    built = [(f"{p}/{v}", build(rng, ctx, 70, MONTH)) for p, vs in VARIANTS.items() for v, build in vs.items()]
    built += [(k, build(rng, ctx, [70, 71, 72, 73][:size[1]], MONTH)) for k, (size, build) in NEGATIVES.items()]
    for name, c in built:
        if is_messages(c):  # message blasting and its look-alikes
            assert set(c) == set(MESSAGE_KEYS) and len(c["sent"]) > 20, name
            assert {len(v) for v in c.values()} == {len(c["sent"])}, name
            assert set(np.unique(c["direction"])) <= {0, 1} and set(np.unique(c["channel"])) <= {0, 1, 2}, name
            assert ((c["sent"] >= m0) & (c["sent"] < m1 + 4 * 86_400 * US)).mean() > 0.95, name
            continue
        assert len(c["started"]) > 20, name
        assert {len(v) for v in c.values()} == {len(c["started"])}, name
        assert (c["ended"] >= c["started"]).all(), name
        ans = c["answered"] >= 0
        assert ((c["answered"][ans] >= c["started"][ans]) & (c["answered"][ans] <= c["ended"][ans])).all(), name
        assert ((c["started"] >= m0) & (c["started"] < m1 + 2 * 86_400 * US)).mean() > 0.95, name
    assert {p for p, _ in [n.split("/") for n, _ in built if "/" in n]} == set(PATTERNS)
    assert is_messages(dict(built)["message_blasting/bulk_sms_bursts"])


def _new_recipients_and_replies(m: dict) -> tuple[int, int, float]:
    """Numbers whose first message (either direction) was sent, how many of them wrote back, and the share."""
    first: dict[int, int] = {}
    for i in np.argsort(m["sent"], kind="stable"):
        first.setdefault(int(m["counterpart"][i]), int(m["direction"][i]))
    new = {k for k, d in first.items() if d == 0}
    replied = new & {int(x) for x in m["counterpart"][m["direction"] == 1]}
    return len(new), len(replied), len(replied) / max(1, len(new))


def test_message_blasting_and_its_look_alikes_differ_where_the_rule_looks():
    rng = np.random.default_rng(6)
    pop = build_population(rng, 120, [MONTH])
    ctx = Context(pop, 1.0)
    for name, build in VARIANTS["message_blasting"].items():  # hundreds of new numbers, few replies
        new, _, reply = _new_recipients_and_replies(build(rng, ctx, 70, MONTH))
        assert new >= 230 and reply < 0.15, (name, new, reply)
    shop = shop_conversations(rng, ctx, [70], MONTH)  # most customers wrote first
    new, _, reply = _new_recipients_and_replies(shop)
    assert new < 0.4 * len(np.unique(shop["counterpart"])) and reply > 0.4
    _, _, reply = _new_recipients_and_replies(sms_appointment_reminders(rng, ctx, [70], MONTH))
    assert reply > 0.3  # clients confirm
    assert _new_recipients_and_replies(one_off_broadcast(rng, ctx, [70], MONTH))[0] < 60


def test_slow_list_caller_is_a_person_over_the_whole_gap_distribution():
    """Cut at the 5-minute session gap, the slow caller's gaps pile up under the cut and look regular; over
    the whole distribution they are a person's (a robocall stays regular either way)."""
    rng = np.random.default_rng(7)
    pop = build_population(rng, 80, [MONTH])
    ctx = Context(pop, 1.0)

    def shares(c):
        order = np.argsort(c["started"])
        wrap = (c["started"][order][1:] - c["ended"][order][:-1]) / US
        cut = wrap[wrap <= 300]

        def regular(g):
            return np.mean(np.abs(g - np.median(g)) <= np.maximum(1, 0.1 * np.median(g)))
        return regular(cut), regular(wrap)

    cut, whole = shares(VARIANTS["outbound_telemarketing"]["slow_list_caller"](rng, ctx, 70, MONTH))
    assert cut > 0.4 and whole < 0.3, (cut, whole)
    cut, whole = shares(VARIANTS["auto_dialing"]["progressive_wrap"](rng, ctx, 70, MONTH))
    assert cut > 0.9 and whole > 0.9, (cut, whole)


def test_generated_truth_records_variants_and_hard_negatives(tmp_path):
    from dagster_project.domain.evaluate import truth_path
    from dagster_project.tools.generate import generate

    raw = tmp_path / "raw"
    generate(out=raw, users=200, months=["2026-03", "2026-04"], seed=3, calls_per_user=10)
    truth = json.loads(truth_path(raw).read_text())
    assert truth["months"] == ["2026-03", "2026-04"]
    planted = truth["prohibited_use"]
    assert {t["pattern"] for t in planted} == set(PATTERNS)
    assert all({"month", "user_id", "pattern", "variant", "account_id"} <= set(t) for t in planted)
    first = {(t["pattern"], t["variant"]) for t in planted if t["month"] == "2026-03"}
    assert first == {(p, v) for p, vs in VARIANTS.items() for v in vs}  # every variant on in the first month
    assert len([t for t in planted if t["month"] == "2026-04"]) < len(first)  # some off the next month
    kinds = {n["kind"] for n in truth["hard_negatives"]}
    assert set(NEGATIVES) | {"contact_center_agent", "heavy_caller", "heavy_messager"} <= kinds
    users = {t["user_id"] for t in planted}
    assert not users & {n["user_id"] for n in truth["hard_negatives"]}
    markets = {t["account_id"] for t in planted}
    assert len(markets) > 10  # spread over accounts (and so countries and plans)


# ---------------------------------------------------------------- evaluate


def _warehouse(tmp_path, flags):
    path = tmp_path / "w.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create schema marts")
    con.execute("create table marts.fct_prohibited_use_flags (month date, user_id varchar, pattern varchar)")
    for f in flags:
        con.execute("insert into marts.fct_prohibited_use_flags values (?, ?, ?)", f)
    con.close()
    return path


def test_evaluate_counts_patterns_variants_and_hard_negatives(tmp_path):
    truth = tmp_path / "t.json"
    truth.write_text(json.dumps({
        "months": ["2026-01"],
        "prohibited_use": [
            {"month": "2026-01", "user_id": "a", "pattern": "auto_dialing", "variant": "fast"},
            {"month": "2026-01", "user_id": "b", "pattern": "auto_dialing", "variant": "slow"},
            {"month": "2026-01", "user_id": "c", "pattern": "outbound_telemarketing"},  # old format: no variant
        ],
        "hard_negatives": [{"month": "2026-01", "user_id": "n", "kind": "recruiter"}],
    }))
    wh = _warehouse(tmp_path, [("2026-01-01", "a", "auto_dialing"), ("2026-01-01", "b", "outbound_telemarketing"),
                               ("2026-01-01", "c", "outbound_telemarketing"), ("2026-01-01", "n", "voicemail_blasting"),
                               ("2026-02-01", "z", "auto_dialing")])  # another month: ignored
    r = evaluate(wh, truth)
    ad, tm = r["patterns"]["auto_dialing"], r["patterns"]["outbound_telemarketing"]
    assert (ad["expected"], ad["flagged"], ad["true_positives"], ad["precision"], ad["recall"]) == (2, 1, 1, 1.0, 0.5)
    assert (tm["flagged"], tm["true_positives"], tm["precision"]) == (2, 1, 0.5)
    assert r["variants"]["auto_dialing/slow"] == {"planted": 1, "detected": 0, "flags": 1, "missed": ["2026-01 b"],
                                                  "flagged_as_other": ["2026-01 b outbound_telemarketing"],
                                                  "precision": 0.0, "recall": 0.0}
    assert r["variants"]["outbound_telemarketing/-"]["recall"] == 1.0
    assert r["hard_negatives"]["recruiter"]["flagged"] == ["2026-01 n voicemail_blasting"]
    assert r["patterns"]["voicemail_blasting"]["precision"] == 0.0
    both = combine([r, r])
    assert both["patterns"]["auto_dialing"]["expected"] == 4 and both["patterns"]["auto_dialing"]["recall"] == 0.5
    assert len(both["hard_negatives"]["recruiter"]["flagged"]) == 2
    text = format_report(both)
    assert "auto_dialing" in text and "  slow" in text and "recruiter" in text
