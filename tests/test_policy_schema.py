"""The policy file as a schema and the settings as one model: every kind of mistake refused in one line naming the
key (or variable), before anything is built; the shipped policy accepted; docs/POLICY.md matching the file.

Fast tier, but for the Dagster run with a bad policy (definitions loaded, no data read: a few seconds).
"""

from __future__ import annotations

import copy
import logging
import re
from pathlib import Path

import dagster as dg
import pytest
import yaml

from dagster_project.cli.main import main
from dagster_project.defs.resources import FairuseResource
from dagster_project.domain.policy import METRICS, PolicyError, load_policy, named_reference_values, parse_policy
from dagster_project.domain.policy_doc import POLICY_DOC, declared_keys, documented_keys, rendered, value_at
from dagster_project.domain.settings import DEFAULT_POLICY_FILE, SettingsError, settings_from_env

REPO = Path(__file__).resolve().parents[1]
CONFORMANCE_RAW = REPO / "tests" / "conformance" / "raw"
SHIPPED = yaml.safe_load(DEFAULT_POLICY_FILE.read_text())


def _refused(mutate) -> str:
    raw = copy.deepcopy(SHIPPED)
    mutate(raw)
    with pytest.raises(PolicyError) as err:
        parse_policy(raw)
    message = str(err.value)
    assert "\n" not in message
    return message


def _set(path: str, value):
    """A mutation setting (or, with value ..., deleting) a dotted key."""
    def mutate(raw):
        *parents, leaf = path.split(".")
        node = raw
        for p in parents:
            node = node[int(p)] if isinstance(node, list) else node[p]
        if value is ...:
            del node[leaf]
        else:
            node[leaf] = value
    return mutate


def test_the_shipped_policy_is_accepted_and_declares_what_the_pipeline_computes():
    policy = load_policy(DEFAULT_POLICY_FILE)
    assert METRICS == ("calls", "call_minutes", "team_chats", "messages")
    assert policy.version == SHIPPED["version"]
    assert policy.dbt_vars()["threshold_multiple"] == SHIPPED["thresholds"]["threshold_multiple"]
    # the metrics dbt computes (int_user_metrics__monthly.sql's `metrics` mapping) are the ones the schema declares
    sql = (REPO / "dbt_models" / "models" / "intermediate" / "policy" / "int_user_metrics__monthly.sql").read_text()
    assert re.findall(r"^    '([a-z_]+)': \(", sql, flags=re.MULTILINE) == list(METRICS)


@pytest.mark.parametrize(("mutate", "expected"), [
    # a misspelt key in each section, with the nearest declared key
    (_set("metrics.calls.excess_unit_rates", 0.05),
     "policy: metrics.calls.excess_unit_rates: unknown key (did you mean excess_unit_rate?)"),
    (_set("thresholds.treshold_multiple", 3), "thresholds.treshold_multiple: unknown key (did you mean "
                                               "threshold_multiple?)"),
    (_set("billing_increment.initial_second", 60), "billing_increment.initial_second: unknown key (did you mean "
                                                    "initial_seconds?)"),
    (_set("cohorts.min_cohort", 30), "cohorts.min_cohort: unknown key (did you mean min_cohort_size?)"),
    (_set("contact_center.minutes_per_users", 3000), "contact_center.minutes_per_users: unknown key (did you mean "
                                                      "minutes_per_user?)"),
    (_set("estimates.pro.call", 3), "estimates.pro.call: unknown key (did you mean calls?)"),
    (_set("free_offerings.0.plans", ["pro"]), "free_offerings[0].plans: unknown key (did you mean plan?)"),
    (_set("prohibited_use.auto_dialling", {}), "prohibited_use.auto_dialling: unknown key (did you mean "
                                                "auto_dialing?)"),
    (_set("prohibited_use.voicemail_blasting.window_second", 600),
     "prohibited_use.voicemail_blasting.window_second: unknown key (did you mean window_seconds?)"),
    # an unknown section
    (_set("contact_centre", {"minutes_per_user": 3000}), "contact_centre: unknown key (did you mean contact_center?)"),
    # an unknown metric (not one the pipeline computes)
    (_set("metrics.voice_minutes", {"offering": "calling"}), "metrics.voice_minutes: unknown key"),
    (_set("estimates.pro.minutes", 5), "estimates.pro.minutes: unknown key"),
    # a wrong type
    (_set("thresholds.threshold_multiple", "2.0"), "thresholds.threshold_multiple: must be a number, got '2.0'"),
    (_set("billing_increment.initial_seconds", 1.5), "billing_increment.initial_seconds: must be a whole number"),
    (_set("metrics.calls", 400), "metrics.calls: must be a mapping of keys"),
    (_set("free_offerings.3.country", False), "free_offerings[3].country: must be text, got False"),  # YAML's NO
    (_set("metrics.calls.offering", "fax"), "metrics.calls.offering: must be one of"),
    # out of range
    (_set("thresholds.severe_multiple", 1.0), "thresholds.severe_multiple: must be >= thresholds.threshold_multiple"),
    (_set("metrics.calls.floor", -1), "metrics.calls.floor: must be >= 0, got -1"),
    (_set("contact_center.minutes_per_user", 0), "contact_center.minutes_per_user: must be a positive number"),
    (_set("prohibited_use.outbound_telemarketing.min_new_number_share", 1.5),
     "prohibited_use.outbound_telemarketing.min_new_number_share: is a fraction and must be <= 1, got 1.5"),
    (_set("prohibited_use.bulk_call_in_line.cohort_multiple", 0.5),
     "prohibited_use.bulk_call_in_line.cohort_multiple: must be >= 1, got 0.5"),
    (_set("metrics.calls.excess_unit_rate", {"NZD": -1}), "metrics.calls.excess_unit_rate.NZD: must be >= 0"),
    # a missing required key / section
    (_set("cohorts.min_cohort_size", ...), "cohorts.min_cohort_size: missing key"),
    (_set("metrics.messages", ...), "metrics.messages: missing key"),
    (_set("prohibited_use", ...), "prohibited_use: missing key"),
    (_set("version", ...), "version: missing key"),
    # an unknown currency or country (not a code)
    (_set("metrics.messages.excess_unit_rate", {"default": 0.03, "pounds": 0.02}),
     "metrics.messages.excess_unit_rate.pounds: must be an ISO 4217 currency code"),
    (_set("contact_center.default_rate_per_minute", {"gbp": 0.01}),
     "contact_center.default_rate_per_minute.gbp: must be an ISO 4217 currency code"),
    (_set("free_offerings.3.country", "nz"), "free_offerings[3].country: must be an ISO 3166"),
    # well formed, but no such code: a typo that would leave a rate or a cohort unused
    (_set("contact_center.default_rate_per_minute", {"GPB": 0.01}),
     "contact_center.default_rate_per_minute.GPB: 'GPB' is not an ISO 4217 currency code"),
    (_set("free_offerings.3.country", "UK"), "free_offerings[3].country: 'UK' is not an ISO 3166 alpha-2 country"),
])
def test_each_kind_of_mistake_is_refused_in_one_line_naming_the_key(mutate, expected):
    assert expected in _refused(mutate)


def test_a_key_written_twice_is_refused_naming_its_path_and_lines(tmp_path):
    """Plain YAML keeps the last of two equal keys: the second `threshold_multiple` would win in silence."""
    text = DEFAULT_POLICY_FILE.read_text()
    line = next(x for x in text.splitlines() if x.strip().startswith("threshold_multiple:"))
    path = tmp_path / "twice.yaml"
    path.write_text(text.replace(line, f"{line}\n{line.split(':')[0]}: 3.0", 1))
    first = text.splitlines().index(line) + 1
    with pytest.raises(PolicyError) as refused:
        load_policy(path)
    assert str(refused.value) == (f"policy {path}: thresholds.threshold_multiple (lines {first} and {first + 1}): "
                                  "a key written twice (YAML would keep the last silently)")


def test_optional_keys_take_their_documented_defaults():
    raw = copy.deepcopy(SHIPPED)
    del raw["metrics"]["calls"]["floor"], raw["metrics"]["calls"]["excess_unit_rate"], raw["estimates"]
    policy = parse_policy(raw)
    assert policy.metrics["calls"]["floor"] == 0 and policy.metrics["calls"]["excess_unit_rate"] is None
    assert policy.estimates == {} and policy.dbt_vars()["policy_estimates"] == []
    assert not [r for r in policy.dbt_vars()["policy_excess_rates"] if r["metric"] == "calls"]


def test_simulation_overrides_are_validated_like_the_file():
    policy = load_policy(DEFAULT_POLICY_FILE)
    with pytest.raises(PolicyError, match="thresholds.severe_multiple: must be >= thresholds.threshold_multiple"):
        policy.with_overrides(threshold_multiple=6.0)


def test_names_the_policy_gives_countries_plans_and_currencies_are_listed_with_their_keys():
    names = named_reference_values(load_policy(DEFAULT_POLICY_FILE))
    assert names["country"] == {"NZ": {"free_offerings[3].country"}, "AU": {"free_offerings[4].country"}}
    assert names["currency"]["EUR"] == {"contact_center.default_rate_per_minute.EUR"}
    assert "free_offerings[5].plan" in names["plan"]["lite"] and "estimates.lite" in names["plan"]["lite"]


def test_names_no_account_has_are_reported_against_the_months_snapshot(tmp_path):
    """The conformance accounts (2026-01-31 snapshot): AU/IE/NZ, plans pro and lite, AUD/EUR/NZD."""
    from dagster_project.domain.policy_reference import month_snapshots, names_without_accounts

    raw = copy.deepcopy(SHIPPED)
    raw["free_offerings"][3]["plan"] = "standrad"  # a typo: no account has that plan
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(raw))
    lines = names_without_accounts(load_policy(path), CONFORMANCE_RAW, "2026-01")
    assert "plan 'standrad' (free_offerings[3].plan): no account of 2026-01 has it" in lines
    assert "currency 'GBP' (contact_center.default_rate_per_minute.GBP, metrics.messages.excess_unit_rate.GBP): " \
           "no account of 2026-01 has it" in lines
    assert not [x for x in lines if "'NZ'" in x or "'AU'" in x or "'EUR'" in x or "'pro'" in x or "'lite'" in x]
    assert [p.parent.name for p in month_snapshots(CONFORMANCE_RAW, "2026-02")] == [
        "snapshot_date=2026-01-31", "snapshot_date=2026-02-15"]


# ---------------------------------------------------------------- the command line


def _bad_policy(tmp_path: Path) -> Path:
    raw = copy.deepcopy(SHIPPED)
    raw["metrics"]["calls"]["excess_unit_rates"] = raw["metrics"]["calls"].pop("excess_unit_rate")
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_fairuse_run_with_a_bad_policy_exits_2_in_one_line_and_builds_nothing(tmp_path, capsys):
    bad = _bad_policy(tmp_path)
    work = tmp_path / "work"
    code = main(["run", "--raw-dir", str(CONFORMANCE_RAW), "--warehouse", str(work / "warehouse.duckdb"),
                 "--exports-dir", str(work / "exports"), "--policy", str(bad)])
    err = capsys.readouterr().err
    assert code == 2
    assert err == (f"fairuse run: policy {bad}: metrics.calls.excess_unit_rates: unknown key "
                   f"(did you mean excess_unit_rate?)\n")
    assert not work.exists()  # no build database, no warehouse, no exports folder


def test_fairuse_policy_check_prints_what_the_file_sets(tmp_path, capsys):
    assert main(["policy", "check", str(DEFAULT_POLICY_FILE)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{DEFAULT_POLICY_FILE}: valid (version {SHIPPED['version']};")
    assert "  thresholds.threshold_multiple" in out and "metrics.team_chats.excess_unit_rate" in out
    assert "(default)" in out.split("metrics.team_chats.excess_unit_rate", 1)[1].split("\n", 1)[0]
    bad = _bad_policy(tmp_path)
    assert main(["policy", "check", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "metrics.calls.excess_unit_rates: unknown key" in err


def test_fairuse_simulate_refuses_a_bad_policy_the_same_way(tmp_path, capsys):
    bad = _bad_policy(tmp_path)
    assert main(["simulate", "--warehouse", str(tmp_path / "none.duckdb"), "--policy", str(bad)]) == 2
    assert "metrics.calls.excess_unit_rates: unknown key (did you mean excess_unit_rate?)" in capsys.readouterr().err


# ---------------------------------------------------------------- Dagster


def test_a_dagster_run_with_a_bad_policy_fails_at_its_first_step_with_the_same_sentence(tmp_path):
    from dagster_project.definitions import build_definitions

    bad = _bad_policy(tmp_path)
    work = tmp_path / "work"
    settings = settings_from_env({}, raw_dir=str(CONFORMANCE_RAW), warehouse=str(work / "warehouse.duckdb"),
                                 exports_dir=str(work / "exports"), policy_file=str(bad))
    job = build_definitions(settings).resolve_job_def("monthly_pipeline")
    result = job.execute_in_process(partition_key="2026-01", raise_on_error=False,
                                    instance=dg.DagsterInstance.ephemeral())
    assert not result.success
    failures = [ev for ev in result.all_events if ev.event_type_value == "STEP_FAILURE"]
    assert [ev.step_key for ev in failures] == ["raw_month"]
    with pytest.raises(PolicyError) as err:
        load_policy(bad)
    error = failures[0].event_specific_data.error
    while error.cause is not None and error.cls_name != "PolicyError":
        error = error.cause
    assert (error.cls_name, error.message.strip()) == ("PolicyError", f"dagster_project.domain.policy.PolicyError: "
                                                                      f"{err.value}")
    assert not work.exists()


def test_a_dagster_run_reports_the_names_no_account_has(tmp_path):
    """The raw step logs a warning per policy name no account of the month has, and lists them in `raw/accounts`'
    metadata; the month is still loaded."""
    from dagster_project.defs.assets.raw import raw_month
    from dagster_project.defs.resources import FairuseResource

    raw = copy.deepcopy(SHIPPED)
    raw["free_offerings"][3]["plan"] = "standrad"
    policy = tmp_path / "typo.yaml"
    policy.write_text(yaml.safe_dump(raw))
    work = tmp_path / "work"
    settings = settings_from_env({}, raw_dir=str(CONFORMANCE_RAW), warehouse=str(work / "warehouse.duckdb"),
                                 exports_dir=str(work / "exports"), policy_file=str(policy))
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize([raw_month], partition_key="2026-01", instance=instance,
                            resources={"fairuse": FairuseResource.from_settings(settings)})
    assert result.success
    line = "plan 'standrad' (free_offerings[3].plan): no account of 2026-01 has it"
    warnings = [e.user_message for e in instance.all_logs(result.run_id) if e.level == logging.WARNING]
    assert f"policy typo.yaml: {line}" in warnings
    accounts = next(m for m in result.asset_materializations_for_node("raw_month")
                    if m.asset_key == dg.AssetKey(["raw", "accounts"]))
    assert f"- {line}" in accounts.metadata["policy_names_without_accounts"].value


def test_the_hash_key_is_a_variable_never_a_value_in_dagsters_config(monkeypatch, tmp_path):
    key = "k3y-that-must-not-show-" + "x" * 20
    monkeypatch.setenv("FAIRUSE_HASH_KEY", key)
    settings = settings_from_env(warehouse=str(tmp_path / "wh.duckdb"))
    assert key not in repr(settings) and key not in str(settings)
    resource = FairuseResource.from_settings(settings)
    shown = dg.Definitions(resources={"fairuse": resource}).get_repository_def() \
        .get_top_level_resources()["fairuse"].config_schema.default_value
    assert shown["hash_key"] == {"env": "FAIRUSE_HASH_KEY"} and key not in repr(shown) and key not in repr(resource)

    seen = {}

    @dg.asset
    def probe(fairuse: FairuseResource):
        seen["key"] = fairuse.settings().hash_key.get_secret_value()

    assert dg.materialize([probe], resources={"fairuse": resource}).success
    assert seen["key"] == key  # the run reads the variable
    # a key that is not the process's variable cannot reach Dagster without showing: refused
    with pytest.raises(SettingsError, match="FAIRUSE_HASH_KEY"):
        FairuseResource.from_settings(settings_from_env({"FAIRUSE_HASH_KEY": "other"}))


# ---------------------------------------------------------------- settings


@pytest.mark.parametrize(("env", "options", "expected"), [
    ({"FAIRUSE_LOCK_TIMEOUT": "abc"}, {}, "FAIRUSE_LOCK_TIMEOUT='abc': a number of seconds > 0"),
    ({"FAIRUSE_LOCK_TIMEOUT": "-5"}, {}, "FAIRUSE_LOCK_TIMEOUT='-5': a number of seconds > 0"),
    ({"FAIRUSE_SCHEDULE_DAY": "31"}, {}, "FAIRUSE_SCHEDULE_DAY='31': a day of the month, 1-28"),
    ({"FAIRUSE_SCHEDULE_HOUR": "six"}, {}, "FAIRUSE_SCHEDULE_HOUR='six': an hour of the day, 0-23"),
    ({"FAIRUSE_ENGINE": "sparkk"}, {}, "FAIRUSE_ENGINE='sparkk': one of duckdb, spark"),
    ({"FAIRUSE_DUCKDB_MEMORY_LIMIT": "lots"}, {}, "FAIRUSE_DUCKDB_MEMORY_LIMIT='lots': a DuckDB memory size"),
    ({"FAIRUSE_SPARK_REMOTE": "http://h:1"}, {}, "FAIRUSE_SPARK_REMOTE='http://h:1': a Spark Connect URL"),
    ({"FAIRUSE_LOCK_TIMEOUT": "10"}, {"lock_timeout": -1}, "--lock-timeout=-1: a number of seconds > 0"),
    ({}, {"engine": "oracle"}, "--engine='oracle': one of duckdb, spark"),
])
def test_a_bad_setting_names_the_variable_or_option_and_what_it_accepts(env, options, expected):
    with pytest.raises(SettingsError) as err:
        settings_from_env(env, **options)
    assert str(err.value).startswith(expected)


def test_settings_come_from_options_then_variables_then_defaults(tmp_path):
    env = {"FAIRUSE_WAREHOUSE": str(tmp_path / "env.duckdb"), "FAIRUSE_LOCK_TIMEOUT": "12",
           "FAIRUSE_SCHEDULE_DAY": "5", "FAIRUSE_RAW_DIR": ""}  # empty = unset
    s = settings_from_env(env, warehouse=str(tmp_path / "opt.duckdb"))
    assert s.warehouse == tmp_path / "opt.duckdb" and s.reports_dir == tmp_path / "reports"
    assert (s.lock_timeout, s.schedule_day, s.schedule_hour) == (12.0, 5, 6)
    assert s.raw_dir == REPO / "data" / "raw" and s.hash_key is None
    assert s.replace(lock_timeout=3).lock_timeout == 3.0
    with pytest.raises(SettingsError, match="lock_timeout=0: a number of seconds"):
        s.replace(lock_timeout=0)


def test_the_resource_is_the_settings_fields(tmp_path):
    from dagster_project.domain.settings import Settings

    assert set(FairuseResource.model_fields) == set(Settings.model_fields)
    s = settings_from_env({"FAIRUSE_ENGINE": "spark", "FAIRUSE_SCHEDULE_HOUR": "4"},
                          warehouse=str(tmp_path / "w.duckdb"))
    assert FairuseResource.from_settings(s).settings() == s


# ---------------------------------------------------------------- documentation


def test_policy_doc_matches_the_policy_file_and_the_schema():
    """docs/POLICY.md: the generated table of every key is the file's (regenerate it with
    `python -m dagster_project.domain.policy_doc`); every key the prose names is declared; every `key: value`
    written in the prose is the file's value."""
    doc = POLICY_DOC.read_text()
    policy = load_policy(DEFAULT_POLICY_FILE)
    assert rendered(doc, policy) == doc, "docs/POLICY.md is stale: run python -m dagster_project.domain.policy_doc"
    named = documented_keys(doc)
    assert sorted(set(named) - declared_keys()) == []
    for path, value in named.items():
        if value is not None and "<" not in path:
            assert yaml.safe_load(value) == value_at(policy, path), path


def test_the_doc_check_catches_a_stale_key_and_a_stale_value():
    doc = POLICY_DOC.read_text()
    stale = doc + "\n| x | `outbound_telemarketing.min_outbound_calls` | `thresholds.threshold_multiple: 3.0` |\n"
    named = documented_keys(stale)
    assert "prohibited_use.outbound_telemarketing.min_outbound_calls" in set(named) - declared_keys()
    assert yaml.safe_load(named["thresholds.threshold_multiple"]) != value_at(
        load_policy(DEFAULT_POLICY_FILE), "thresholds.threshold_multiple")
    changed = copy.deepcopy(SHIPPED)
    changed["prohibited_use"]["voicemail_blasting"]["min_voicemails_in_window"] = 25
    assert rendered(doc, parse_policy(changed)) != doc


def test_the_shipped_files_other_copies_are_accepted():
    """Every policy YAML in the repository (README examples, tests' fixtures) validates."""
    for path in REPO.glob("**/*.yaml"):
        if ".venv" in path.parts or "target" in path.parts or not path.is_file():
            continue
        text = path.read_text()
        if "prohibited_use:" in text and "billing_increment:" in text:
            load_policy(path)

