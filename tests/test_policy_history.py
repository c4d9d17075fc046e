"""Each month under the policy version in force for it, end to end on generated months (real Dagster, dbt, DuckDB):
a new version effective from March leaves January and February exactly as they were (marts, audit, exports);
re-runs keep each month's version; late data restates an old month under its own version; an explicit
restatement is recorded; a version reused with other content is refused; simulate works over mixed versions."""

from __future__ import annotations

import decimal
import hashlib
import io
import os
import shutil
import time
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
import yaml

from dagster_project.domain.policy import load_policy
from tests.conftest import REPO, run_pipeline

pytestmark = pytest.mark.slow

MONTHS = ["2026-01", "2026-02", "2026-03"]
V1, V2 = "2026.11-1", "2027.03-1"


def _write_policy(path: Path, **changes) -> Path:
    raw = yaml.safe_load((REPO / "policy" / "fair_use_policy.yaml").read_text())
    raw["cohorts"]["min_cohort_size"] = 3
    for dotted, value in changes.items():
        node = raw
        *parents, leaf = dotted.split(".")
        for p in parents:
            node = node[p]
        node[leaf] = value
    path.write_text(yaml.safe_dump(raw))
    return path


def _digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _month_rows(warehouse: Path, months: list[str]) -> dict[str, list[tuple]]:
    """Every row of the given months in every published table with a month column, sorted."""
    starts = [f"{m}-01" for m in months]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = [t for (t,) in con.execute(
            "select table_schema || '.' || table_name from information_schema.columns where table_schema in "
            "('marts', 'audit') and column_name = 'month' order by 1").fetchall()]
        marks = ", ".join("?" for _ in starts)
        return {t: con.execute(f"select * from {t} where cast(month as varchar) in ({marks}) order by all",
                               starts).fetchall() for t in tables}


def _one(warehouse: Path, sql: str, params=()) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql, list(params)).fetchall()


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, symlinks=True, ignore=shutil.ignore_patterns("logs"))
    return dst


def _expected_charges(warehouse: Path, month: str, rates: dict[str, dict[str, float]]) -> dict[str, decimal.Decimal]:
    """The month's excess charges recomputed here from its flags and the given rates (metric -> currency or '*' ->
    rate), by the contract's rule: sum of excess x rate, rounded once per account-month to cents, half away from
    zero; accounts asked to moderate pay nothing."""
    flags = _one(warehouse, "select account_id, metric, currency, excess_value from marts.fct_fair_use_flags "
                            "where month = ?", [f"{month}-01"])
    asked = {a for (a,) in _one(warehouse, "select account_id from marts.fct_account_enforcement where month = ? "
                                           "and action = 'ask_to_moderate'", [f"{month}-01"])}
    raw: dict[str, decimal.Decimal] = {}
    for account, metric, currency, excess in flags:
        per = rates.get(metric, {})
        rate = per.get(currency, per.get("*", 0))
        raw[account] = raw.get(account, decimal.Decimal(0)) + decimal.Decimal(str(excess)) * decimal.Decimal(str(rate))
    return {a: v.quantize(decimal.Decimal("0.01"), rounding=decimal.ROUND_HALF_UP)
            for a, v in raw.items() if a not in asked and v.quantize(decimal.Decimal("0.01")) > 0}


def _charges(warehouse: Path, month: str) -> dict[str, decimal.Decimal]:
    return dict(_one(warehouse, "select account_id, excess_charge_amount from marts.fct_account_enforcement "
                                "where month = ? and excess_charge_amount > 0", [f"{month}-01"]))


V1_RATES = {"calls": {"*": 0.05}, "call_minutes": {"*": 0.02}, "messages": {"*": 0.03, "GBP": 0.02}}
V2_RATES = {**V1_RATES, "calls": {"*": 0.5}}


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    from dagster_project.tools.generate import generate

    raw = tmp_path_factory.mktemp("policy-history-raw") / "raw"
    generate(out=raw, users=150, months=MONTHS, seed=11, calls_per_user=15)
    return raw


@pytest.fixture(scope="module")
def history(raw, tmp_path_factory):
    """January and February built under V1 (kept aside), then March under V2 (effective from March: the calls
    excess rate x10 and a lower threshold multiple)."""
    root = tmp_path_factory.mktemp("policy-history")
    v1 = _write_policy(root / "v1.yaml")
    v2 = _write_policy(root / "v2.yaml", version=V2, effective_from="2026-03",
                       **{"metrics.calls.excess_unit_rate": 0.5, "thresholds.threshold_multiple": 1.8})
    work = root / "work"
    _, outcomes = run_pipeline(work, raw, months=MONTHS[:2], policy=v1)
    assert all(o.success for o in outcomes), outcomes
    before = {"rows": _month_rows(work / "warehouse.duckdb", MONTHS[:2]),
              "exports": {m: _digests(work / "exports" / m) for m in MONTHS[:2]}}
    two = _copy(work, root / "two")
    _, outcomes = run_pipeline(work, raw, months=MONTHS[2:], policy=v2)
    assert all(o.success for o in outcomes), outcomes
    return {"raw": raw, "work": work, "two": two, "v1": v1, "v2": v2, "before": before}


def test_building_a_month_under_a_new_version_leaves_every_earlier_month_as_it_was(history):
    wh = history["work"] / "warehouse.duckdb"
    assert _month_rows(wh, MONTHS[:2]) == history["before"]["rows"]
    assert {m: _digests(history["work"] / "exports" / m) for m in MONTHS[:2]} == history["before"]["exports"]
    # February has charges (the comparison means something), priced at V1's rates; March at V2's
    assert _charges(wh, "2026-02") and _charges(wh, "2026-02") == _expected_charges(wh, "2026-02", V1_RATES)
    assert _charges(wh, "2026-03") and _charges(wh, "2026-03") == _expected_charges(wh, "2026-03", V2_RATES)
    labels = _one(wh, "select cast(month as varchar), min(policy_version), max(policy_version), "
                      "min(threshold_multiple) from marts.fct_fair_use_flags group by 1 order by 1")
    assert labels == [("2026-01-01", V1, V1, 2.0), ("2026-02-01", V1, V1, 2.0), ("2026-03-01", V2, V2, 1.8)]


def test_the_history_is_visible_in_the_warehouse_the_exports_and_status(history):
    from dagster_project.domain.settings import get_settings
    from dagster_project.domain.status import collect

    work = history["work"]
    v1, v2 = load_policy(history["v1"]), load_policy(history["v2"])
    assert _one(work / "warehouse.duckdb", "select policy_version, effective_from, content_hash, "
                "cast(first_month as varchar), cast(last_month as varchar), months from audit.policy_versions "
                "order by 1") == [(V1, None, v1.content_hash(), "2026-01-01", "2026-02-01", 2),
                                  (V2, "2026-03", v2.content_hash(), "2026-03-01", "2026-03-01", 1)]
    manifests = {m: yaml.safe_load((work / "exports" / m / "manifest.json").read_text()) for m in MONTHS}
    assert {m: (x["policy_version"], "policy_restated_under" in x) for m, x in manifests.items()} == {
        "2026-01": (V1, False), "2026-02": (V1, False), "2026-03": (V2, False)}
    status = collect(get_settings(None, str(work / "warehouse.duckdb"), str(work / "exports")))
    assert {e["month"]: e["policy_version"] for e in status["months"]} == {
        "2026-01": V1, "2026-02": V1, "2026-03": V2}


def test_re_running_every_month_keeps_each_under_its_own_version(history, raw, tmp_path):
    work = _copy(history["work"], tmp_path / "work")
    rows, exports = _month_rows(work / "warehouse.duckdb", MONTHS), _digests(work / "exports")
    _, outcomes = run_pipeline(work, raw, months=MONTHS, policy=history["v2"])  # V2 configured: from March on
    assert all(o.success for o in outcomes), outcomes
    assert _month_rows(work / "warehouse.duckdb", MONTHS) == rows
    assert _digests(work / "exports") == exports


def _late_january(raw: Path, dest: Path) -> Path:
    """A copy of the raw folder where January's calls lost every 40th row, delivered now (late data)."""
    shutil.copytree(raw, dest)
    now = time.time()
    for f in sorted((dest / "calls" / "month=2026-01").glob("*.parquet")):
        table = pq.read_table(f)
        pq.write_table(table.filter([i % 40 != 7 for i in range(table.num_rows)]), f)
        os.utime(f, (now, now))
    return dest


def test_late_data_restates_an_old_month_under_its_own_version(history, tmp_path):
    late = _late_january(history["raw"], tmp_path / "raw")
    # the same late data in the warehouse that never saw V2, and in the one where V2 is in force from March
    reference = _copy(history["two"], tmp_path / "reference")
    _, outcomes = run_pipeline(reference, late, months=["2026-01"], policy=history["v1"])
    assert all(o.success for o in outcomes), outcomes
    work = _copy(history["work"], tmp_path / "work")
    _, outcomes = run_pipeline(work, late, months=["2026-01"], policy=history["v2"])
    assert all(o.success for o in outcomes), outcomes
    got = _month_rows(work / "warehouse.duckdb", ["2026-01"])
    assert got == _month_rows(reference / "warehouse.duckdb", ["2026-01"])
    assert got != _month_rows(history["two"] / "warehouse.duckdb", ["2026-01"])  # the late data moved January
    assert got["audit.policy_months"][0][1:3] == (V1, None)
    manifest = yaml.safe_load((work / "exports" / "2026-01" / "manifest.json").read_text())
    assert manifest["policy_version"] == V1 and "policy_restated_under" not in manifest
    assert _month_rows(work / "warehouse.duckdb", ["2026-03"])["audit.policy_months"][0][1] == V2


def _cli(*argv: str) -> tuple[int, str]:
    from dagster_project.cli.main import main

    err = io.StringIO()
    with redirect_stdout(io.StringIO()), redirect_stderr(err):
        code = main(list(argv))
    return code, err.getvalue()


def _run_args(work: Path, raw: Path, policy: Path) -> list[str]:
    return ["run", "--raw-dir", str(raw), "--warehouse", str(work / "warehouse.duckdb"), "--exports-dir",
            str(work / "exports"), "--policy", str(policy), "--quiet"]


def test_an_explicit_restatement_is_recorded_and_kept(history, raw, tmp_path):
    work = _copy(history["work"], tmp_path / "work")
    code, err = _cli(*_run_args(work, raw, history["v2"]), "--month", "2026-01", "--restate-under", V2)
    assert code == 0, err
    wh = work / "warehouse.duckdb"
    assert _one(wh, "select cast(month as varchar), policy_version, applied from audit.policy_months "
                    "order by 1") == [("2026-01-01", V2, "restated"), ("2026-02-01", V1, "in_force"),
                                      ("2026-03-01", V2, "in_force")]
    assert _one(wh, "select distinct policy_version, threshold_multiple from marts.fct_fair_use_flags "
                    "where month = '2026-01-01'") == [(V2, 1.8)]
    # February keeps its version and its rates (its ladder may follow January's restated flags)
    assert _charges(wh, "2026-02") == _expected_charges(wh, "2026-02", V1_RATES)
    assert _one(wh, "select distinct policy_version from marts.fct_account_enforcement "
                    "where month = '2026-02-01'") == [(V1,)]
    manifest = yaml.safe_load((work / "exports" / "2026-01" / "manifest.json").read_text())
    assert (manifest["policy_version"], manifest["policy_restated_under"], manifest["revision"]) == (V2, V2, 2)
    report = (work / "reports" / "2026-01" / "report.html").read_text()
    assert f"{V2} (the month restated under it by an operator)" in report
    notices = sorted((work / "reports" / "2026-01" / "notices").glob("*.md"))
    assert notices and all("restated under it by an operator" in n.read_text() for n in notices)
    # a later re-run (late data, the sensor, a backfill) keeps the restated version
    _, outcomes = run_pipeline(work, raw, months=["2026-01"], policy=history["v2"])
    assert all(o.success for o in outcomes), outcomes
    assert _one(wh, "select policy_version, applied from audit.policy_months where month = '2026-01-01'") == [
        (V2, "restated")]


def test_a_version_reused_with_different_content_is_refused_before_any_work(history, raw, tmp_path):
    work = _copy(history["work"], tmp_path / "work")
    changed = _write_policy(tmp_path / "changed.yaml", **{"metrics.calls.excess_unit_rate": 0.07})  # still V1
    before = _digests(work)
    code, err = _cli(*_run_args(work, raw, changed), "--month", "2026-02")
    assert code == 2
    assert err == (f"fairuse run: policy {changed}: version {V1} already exists with different content (months "
                   f"2026-01..2026-02 were computed with it): a changed policy needs a new version\n")
    assert _digests(work) == before
    code, err = _cli(*_run_args(work, raw, history["v2"]), "--month", "2026-01", "--restate-under", "2099.01-1")
    assert code == 2 and err.startswith("fairuse run: --restate-under 2099.01-1: no such policy version")


def test_simulate_over_mixed_versions(history):
    from dagster_project.domain.settings import get_settings
    from dagster_project.domain.simulate import format_result, run_simulation

    wh = history["work"] / "warehouse.duckdb"
    published = hashlib.sha256(wh.read_bytes()).hexdigest()
    settings = get_settings(None, str(wh), None, str(history["v2"]))
    res = run_simulation(settings, load_policy(history["v2"]))
    assert res.current_versions == {"2026-01": V1, "2026-02": V1, "2026-03": V2}
    assert [r[0] for r in res.rows] == MONTHS
    # V2 over every month: January and February change (a lower threshold), March is what it is already
    changed_months = {m for m, *_ in res.changed_users}
    assert "2026-03" not in changed_months and changed_months & {"2026-01", "2026-02"}
    assert format_result(res, V2).splitlines()[0] == (
        f"policy now: {V1} (2026-01..2026-02), {V2} (2026-03)   alternative: {V2}")
    assert hashlib.sha256(wh.read_bytes()).hexdigest() == published


def test_a_warehouse_built_before_policy_versions_never_loses_its_charges_in_silence(history, raw, tmp_path,
                                                                                     monkeypatch):
    """January and February as the code before policy versions left them (no policy record, no rates by month),
    then March under the same policy: refused in one line rather than February's charges going to 0; behind the
    refusal, the data test on fct_account_enforcement fails the build; the rebuild the line asks for keeps them."""
    from dagster_project.domain import policy_versions
    from tests.test_policy_upgrade import as_before_policy_versions, digests

    work = as_before_policy_versions(history["two"], tmp_path / "work")
    wh, build = work / "warehouse.duckdb", work / "build"
    february = _charges(wh, "2026-02")
    assert february and february == _expected_charges(wh, "2026-02", V1_RATES)
    published = digests(wh, work / "exports")

    code, err = _cli(*_run_args(work, raw, history["v1"]), "--month", "2026-03")
    assert code == 2 and err.startswith(f"fairuse run: months 2026-01..2026-02 were built before policy versions "
                                        f"(no policy record): building 2026-03 would price them without rates; "
                                        f"move the build folder {build} aside and run again")
    assert digests(wh, work / "exports") == published

    # The data test behind the refusal: a month priced without its policy record fails the build, nothing published
    monkeypatch.setattr(policy_versions, "check_recorded", lambda *args, **kwargs: None)
    _, outcomes = run_pipeline(work, raw, months=["2026-03"], policy=history["v1"])
    assert not outcomes[0].success and outcomes[0].error.startswith("dbt_models: ")
    assert "relationships_fct_account_enforcement_month" in outcomes[0].error
    assert digests(wh, work / "exports") == published
    monkeypatch.undo()

    # What the line asks for: the build folder aside, the same run again
    shutil.move(build, tmp_path / "build-aside")
    code, err = _cli(*_run_args(work, raw, history["v1"]), "--month", "2026-03")
    assert code == 0, err
    assert _charges(wh, "2026-02") == february
    assert _one(wh, "select cast(month as varchar), policy_version, applied from audit.policy_months order by 1") == [
        (f"{m}-01", V1, "in_force") for m in MONTHS]
    assert {m: _digests(work / "exports" / m) for m in MONTHS[:2]} == history["before"]["exports"]
