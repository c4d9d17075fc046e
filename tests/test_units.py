"""Pure functions: CLI arguments, dbt vars from the partition, policy validation."""

from __future__ import annotations

import argparse

import pytest
import yaml

from dagster_project.cli.args import build_parser, parse_month, parse_month_range
from dagster_project.domain.dbt_vars import dbt_vars_for_month, month_start
from dagster_project.domain.policy import PolicyError, load_policy, parse_policy, rates_by_currency
from dagster_project.domain.settings import DEFAULT_POLICY_FILE


def test_month_range():
    assert parse_month_range("2025-11..2026-02") == ["2025-11", "2025-12", "2026-01", "2026-02"]
    assert parse_month_range("2026-03") == ["2026-03"]
    for bad in ("2026-13", "2026-1", "2026-03..2026-01"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_month_range(bad)
    with pytest.raises(argparse.ArgumentTypeError):
        parse_month("26-01")


def test_run_arguments_repeatable_month():
    args = build_parser().parse_args(["run", "--month", "2026-01", "--month", "2026-02", "--raw-dir", "x"])
    assert args.month == ["2026-01", "2026-02"] and args.raw_dir == "x"


def test_dbt_vars_from_partition():
    policy = load_policy(DEFAULT_POLICY_FILE)
    v = dbt_vars_for_month("2026-02", policy)
    assert v["month"] == "2026-02-01"
    assert v["billing_initial_seconds"] == policy.billing_initial_seconds
    assert v["policy_version"] == policy.version
    assert month_start("2026-12") == "2026-12-01"
    with pytest.raises(ValueError):
        month_start("2026-02-01")


def _raw_policy():
    return yaml.safe_load(DEFAULT_POLICY_FILE.read_text())


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda p: p["billing_increment"].update(initial_seconds=0), "billing_increment.initial_seconds"),
    (lambda p: p["billing_increment"].update(subsequent_seconds=1.5), "billing_increment.subsequent_seconds"),
    (lambda p: p["metrics"].pop("messages"), "metrics.messages: missing key"),
    (lambda p: p["metrics"]["calls"].update(offering="fax"), "metrics.calls.offering"),
    (lambda p: p["thresholds"].update(severe_multiple=1.0), "severe_multiple"),
    (lambda p: p["cohorts"].pop("min_cohort_size"), "cohorts.min_cohort_size"),
    (lambda p: p["estimates"]["pro"].update(minutes=5), "estimates.pro.minutes"),
    (lambda p: p["metrics"]["calls"].update(excess_unit_rate={"NZD": -1}), "metrics.calls.excess_unit_rate.NZD"),
])
def test_policy_validation_names_the_key(mutate, message):
    raw = _raw_policy()
    mutate(raw)
    with pytest.raises(PolicyError, match=message.replace("(", r"\(").replace(".", r"\.")):
        parse_policy(raw)


def test_policy_overrides_for_simulation():
    policy = load_policy(DEFAULT_POLICY_FILE)
    alt = policy.with_overrides(threshold_multiple=3.0, min_cohort_size=50)
    assert (alt.threshold_multiple, alt.min_cohort_size) == (3.0, 50)
    assert alt.version.endswith("+sim") and policy.threshold_multiple == 2.0


def test_rates_by_currency():
    assert rates_by_currency(0.05) == {"*": 0.05}
    assert rates_by_currency({"default": 0.03, "GBP": 0.02}) == {"*": 0.03, "GBP": 0.02}
    assert rates_by_currency(None) == {}


def test_schedule_builds_the_month_that_just_closed():
    import datetime as dt

    import dagster as dg

    from dagster_project.defs.jobs import monthly_pipeline
    from dagster_project.defs.schedules import build_monthly_schedule, month_that_closed

    assert month_that_closed(dt.datetime(2026, 1, 2, 6, tzinfo=dt.UTC)) == "2025-12"
    monthly_schedule = build_monthly_schedule(monthly_pipeline, day=2, hour=6)
    assert monthly_schedule.cron_schedule == "0 6 2 * *"
    ctx = dg.build_schedule_context(scheduled_execution_time=dt.datetime(2026, 11, 2, 6, tzinfo=dt.UTC))
    request = monthly_schedule(ctx)
    assert request.partition_key == "2026-10"


def test_partitions_cover_old_and_current_months():
    from dagster_project.defs.partitions import monthly_partitions

    keys = monthly_partitions.get_partition_keys()
    assert "2015-01" in keys and "2026-01" in keys
    assert keys == sorted(keys)
