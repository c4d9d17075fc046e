"""dbt's unit tests (the `unit_tests:` of the models' .yml files): the arithmetic rules on hand-computed rows.

billing increments, flags (floor, free offering, most favourable excess), leave-one-out and fallback, the ladder
and excess charges, surcharge gating and cent rounding, and each prohibited pattern's threshold edges. They run
here, once, not in every month's `dbt build`: dbt needs the models' parent relations to exist, so the project is
first built empty (`dbt run --empty`) into a scratch database. Part of the fast tier (~13 s, no data): a change to
any rule fails `make test-fast`.

The vars come from policy/fair_use_policy.yaml (`--vars`, as a month's build gets them); a unit test overrides
only what its rule is about. The prohibited-use edges are written for the policy file's thresholds and must not
carry a copy of them (test_detection_unit_tests_take_the_thresholds_from_the_policy_file).
"""

from __future__ import annotations

import json
import os
import subprocess

import yaml

from dagster_project.domain import raw_load
from dagster_project.domain.dbt_project import dbt_executable, ensure_manifest
from dagster_project.domain.dbt_vars import dbt_vars_for_month
from dagster_project.domain.policy import PATTERNS, load_policy
from dagster_project.domain.settings import DBT_PROJECT_DIR, DEFAULT_POLICY_FILE


def _dbt(args: list[str], db, target) -> subprocess.CompletedProcess:
    ensure_manifest()
    env = {**os.environ, "FAIRUSE_BUILD_DB": str(db), "FAIRUSE_HASH_KEY": "unit-test-key"}
    vars_ = dbt_vars_for_month("2026-01", load_policy(DEFAULT_POLICY_FILE))
    cmd = [dbt_executable(), *args, "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
           "--target-path", str(target), "--log-path", str(target), "--vars", json.dumps(vars_)]
    return subprocess.run(cmd, cwd=DBT_PROJECT_DIR, env=env, capture_output=True, text=True)


def test_dbt_unit_tests_pass(tmp_path):
    db = tmp_path / "unit.duckdb"
    con = raw_load.connect(db)
    raw_load.ensure_sources(con)  # the (empty) sources the models read
    con.close()
    built = _dbt(["run", "--empty", "--quiet"], db, tmp_path / "target")
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-2000:]
    tested = _dbt(["test", "--select", "test_type:unit"], db, tmp_path / "target")
    assert tested.returncode == 0, tested.stdout[-5000:]
    results = json.loads((tmp_path / "target" / "run_results.json").read_text())["results"]
    names = {r["unique_id"].split(".")[-1] for r in results if r["status"] == "pass"}
    for expected in ("billable_seconds_60_60", "flag_floor_free_offering_and_most_favourable_excess",
                     "excess_ratios_leave_one_out_and_fallback", "enforcement_ladder_and_excess_charge",
                     "surcharge_gating_detection_and_cent_rounding", "detection_signals_hand_computed",
                     "detection_dialing_hand_computed", "detection_outbound_pace_hand_computed",
                     "detection_inbound_hand_computed", "detection_regularity_over_the_whole_gap_distribution",
                     "detection_messages_hand_computed",
                     "detection_outbound_windows_fractional_edges", "detection_message_burst_fractional_edges",
                     "detection_cohorts_fallback_and_medians",
                     "watch_steady_pace_above_and_below_the_threshold", "prohibited_use_evidence_sentences",
                     *(f"prohibited_use_{p}_edges" for p in PATTERNS)):
        assert expected in names, (expected, sorted(names))


def _unit_tests() -> list[tuple[str, dict]]:
    out = []
    for path in sorted((DBT_PROJECT_DIR / "models").rglob("*.yml")):
        for test in (yaml.safe_load(path.read_text()) or {}).get("unit_tests") or []:
            out.append((f"{path.relative_to(DBT_PROJECT_DIR)}: {test['name']}", test))
    return out


def test_detection_unit_tests_take_the_thresholds_from_the_policy_file():
    """The prohibited-use edge tests were written against their own copy of the thresholds, which had drifted
    from the policy file (min_session_calls 10 there, 5 in the file): no unit test may set `prohibited_use`; the
    runner passes the policy file's values."""
    tests = _unit_tests()
    detection = [name for name, t in tests if t["model"] in {
        "fct_prohibited_use_flags", "int_calls__user_dialing", "int_calls__user_outbound_pace",
        "int_calls__user_inbound", "int_calls__user_signals", "int_users__detection_cohorts"}]
    assert len(detection) >= 10, detection  # the edge tests are found where they live
    copies = [name for name, t in tests if "prohibited_use" in ((t.get("overrides") or {}).get("vars") or {})]
    assert not copies, f"unit tests carrying their own prohibited_use thresholds: {copies}"
    assert "prohibited_use" in dbt_vars_for_month("2026-01", load_policy(DEFAULT_POLICY_FILE))
