"""Which policy version a month is computed with (domain/policy_versions.py): the rules with hand-made histories,
and `effective_from` in the policy schema. Fast tier: no build."""

from __future__ import annotations

import pytest
import yaml

from dagster_project.domain.policy import PolicyError, parse_policy
from dagster_project.domain.policy_versions import IN_FORCE, RESTATED, History, Stored, policy_for_month
from tests.conftest import REPO

SHIPPED = yaml.safe_load((REPO / "policy" / "fair_use_policy.yaml").read_text())


def _policy(version: str, effective_from: str | None = None, calls_rate: float = 0.05):
    raw = yaml.safe_load(yaml.safe_dump(SHIPPED))
    raw["version"] = version
    raw["metrics"]["calls"]["excess_unit_rate"] = calls_rate
    if effective_from:
        raw["effective_from"] = effective_from
    return parse_policy(raw)


def _history(*versions, months: dict[str, tuple[str, str]] | None = None) -> History:
    return History({p.version: Stored(p, p.content_hash()) for p in versions}, dict(months or {}))


V1 = _policy("v1")  # no effective_from: the first version, in force from the first month
V2 = _policy("v2", "2026-03", calls_rate=0.5)
V3 = _policy("v3", "2026-06", calls_rate=0.7)


def test_effective_from_is_a_month_and_optional():
    assert V1.effective_from is None and V2.effective_from == "2026-03"
    raw = {**SHIPPED, "effective_from": "2026-3"}
    with pytest.raises(PolicyError) as e:
        parse_policy(raw)
    assert str(e.value) == "policy: effective_from: must be a month YYYY-MM (e.g. 2027-01), got '2026-3'"


def test_a_new_month_takes_the_latest_version_whose_effective_month_is_not_after_it():
    history = _history(V1, V2, months={"2026-01": ("v1", IN_FORCE)})
    # configured: v3 (from June); stored: v1 (from the start), v2 (from March)
    cases = {"2026-02": "v1", "2026-03": "v2", "2026-05": "v2", "2026-06": "v3", "2027-01": "v3"}
    assert {m: policy_for_month(m, V3, history)[0].version for m in cases} == cases
    assert {policy_for_month(m, V3, history)[1] for m in cases} == {IN_FORCE}


def test_a_built_month_keeps_its_version_and_how_it_applied():
    # February was built under v1, then v2 was given effective from February: a re-run keeps v1 (no silent
    # restatement); March, never built, takes v2. A month restated before stays restated under its version.
    v2_feb = _policy("v2", "2026-02", calls_rate=0.5)
    history = _history(V1, months={"2026-01": ("v1", RESTATED), "2026-02": ("v1", IN_FORCE)})
    assert policy_for_month("2026-02", v2_feb, history)[0].version == "v1"
    assert policy_for_month("2026-03", v2_feb, history)[0].version == "v2"
    assert policy_for_month("2026-01", v2_feb, history)[1] == RESTATED


def test_restating_is_explicit_and_recorded_unless_it_is_the_version_in_force():
    history = _history(V1, V2, months={"2026-01": ("v1", IN_FORCE), "2026-03": ("v2", IN_FORCE)})
    policy, applied = policy_for_month("2026-01", V2, history, restate_under="v2")
    assert (policy.version, applied, policy.metrics["calls"]["excess_unit_rate"]) == ("v2", RESTATED, 0.5)
    assert policy_for_month("2026-03", V2, history, restate_under="v2")[1] == IN_FORCE
    assert policy_for_month("2026-03", V2, history, restate_under="v1")[1] == RESTATED
    with pytest.raises(PolicyError, match=r"^--restate-under v9: no such policy version \(known: v1, v2\)$"):
        policy_for_month("2026-01", V2, history, restate_under="v9")


def test_a_version_reused_with_other_content_is_refused():
    history = _history(V1, months={"2026-01": ("v1", IN_FORCE), "2026-02": ("v1", IN_FORCE)})
    changed = _policy("v1", calls_rate=0.06)
    with pytest.raises(PolicyError) as e:
        policy_for_month("2026-03", changed, history, source="policy p.yaml")
    assert str(e.value) == ("policy p.yaml: version v1 already exists with different content (months "
                            "2026-01..2026-02 were computed with it): a changed policy needs a new version")
    assert policy_for_month("2026-03", _policy("v1"), history)[0].version == "v1"  # same content: fine


def test_a_new_version_needs_its_own_effective_month_once_versions_are_stored():
    history = _history(V1, V2, months={"2026-01": ("v1", IN_FORCE)})
    with pytest.raises(PolicyError, match=r"^policy: effective_from: missing key: version v4 is new and versions "
                                          r"are in force already \(v1 from the first month, v2 from 2026-03\)"):
        policy_for_month("2026-04", _policy("v4"), history)
    with pytest.raises(PolicyError, match=r"^policy: effective_from 2026-03 is already that of version v2"):
        policy_for_month("2026-04", _policy("v4", "2026-03"), history)
    # nothing stored yet (a first build): a file without effective_from applies to every month
    assert policy_for_month("2020-01", _policy("v4"), History())[0].version == "v4"


def test_a_month_before_every_version_has_none():
    with pytest.raises(PolicyError, match=r"^policy: no version is in force for 2026-01 \(the first, v2, applies "
                                          r"from 2026-03\)$"):
        policy_for_month("2026-01", V2, History())


def test_stored_content_reads_back_to_the_same_hash():
    # what audit.policy_months stores (content) parses back to the very version (hash), defaults included
    import json

    again = parse_policy(json.loads(V2.content()))
    assert again.content_hash() == V2.content_hash() and again.effective_from == "2026-03"
    assert V1.content_hash() != V2.content_hash()
