"""`fairuse simulate` on a warehouse built by `fairuse run` (every policy table already there, several months).

The simulation rebuilds the policy models over every built month in a scratch copy: the month-grain tables exist,
so their pre-hook deletes what they hold (every month) before the new rows are appended. The published file and
the exports must come out of it untouched.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
from pathlib import Path

import duckdb
import pytest

from dagster_project.cli.main import main
from tests.conftest import copy_conformance_raw, policy_with, run_pipeline


def _fingerprint(path: Path) -> dict[str, tuple[int, str]]:
    """Every file under (or at) `path`: mtime in ns and SHA-256 of the bytes."""
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    return {str(p): (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest()) for p in files}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Both conformance months through `fairuse run`'s pipeline, with no floors so that some users are flagged
    at the policy's threshold (2) and some of them only below 3."""
    tmp = tmp_path_factory.mktemp("simulate")
    policy = policy_with(tmp, **{"cohorts.min_cohort_size": 3, **{f"metrics.{m}.floor": 0 for m in (
        "calls", "call_minutes", "team_chats", "messages")}})
    settings, outcomes = run_pipeline(tmp, copy_conformance_raw(tmp), policy=policy)
    assert all(o.success for o in outcomes), outcomes
    return settings


def _simulate(settings, *extra: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["simulate", "--warehouse", str(settings.warehouse), "--policy", str(settings.policy_file),
                     *extra])
    return code, out.getvalue(), err.getvalue()


def test_simulate_on_the_fast_tiers_warehouse(conformance_build):
    """The fast tier's guard for the defect (the month-grain pre-hook failed on `month: all` once the tables
    existed): simulate over every month of a warehouse the pipeline built, which it leaves as it was."""
    settings = conformance_build
    published = {**_fingerprint(settings.warehouse), **_fingerprint(settings.exports_dir),
                 **_fingerprint(settings.build_db)}
    code, out, err = _simulate(settings, "--threshold-multiple", "3")
    assert code == 0, err
    assert [line.split()[0] for line in out.splitlines() if line.strip()[:4].isdigit()
            and len(line.split()) == 8] == ["2026-01", "2026-02"]
    assert {**_fingerprint(settings.warehouse), **_fingerprint(settings.exports_dir),
            **_fingerprint(settings.build_db)} == published


@pytest.mark.slow  # its own warehouse (no floors), built by the pipeline
def test_simulate_on_a_warehouse_built_by_run(built):
    settings = built
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        months = [m for (m,) in con.execute(
            "select distinct strftime(month, '%Y-%m') from marts.fct_user_monthly_usage order by 1").fetchall()]
        # Independently of the simulation: a flag at threshold 2 whose ratios both stay under 3 goes at 3.
        expected_gone = con.execute("""
            select strftime(month, '%Y-%m'), user_id, metric, 'no longer flagged' from marts.fct_fair_use_flags
            where greatest(coalesce(ratio_to_cohort, 0), coalesce(ratio_to_estimate, 0)) < 3
            order by 1, 2, 3""").fetchall()
        flagged_now = dict(con.execute("""
            select strftime(month, '%Y-%m'), count(distinct user_id) from marts.fct_fair_use_flags
            group by 1""").fetchall())
    assert len(months) >= 2 and expected_gone, "the fixture must give the simulation something to change"
    published = {**_fingerprint(settings.warehouse), **_fingerprint(settings.exports_dir),
                 **_fingerprint(settings.build_db)}

    code, text, err = _simulate(settings, "--threshold-multiple", "3")
    assert code == 0, err
    assert {**_fingerprint(settings.warehouse), **_fingerprint(settings.exports_dir),
            **_fingerprint(settings.build_db)} == published

    rows = {line.split()[0]: [int(v) for v in line.split()[1:]] for line in text.splitlines()
            if line.strip()[:4].isdigit() and len(line.split()) == 8}
    assert sorted(rows) == months
    for month, (now, alt, added, removed, *_accounts) in rows.items():
        assert now == flagged_now.get(month, 0)
        assert added == 0  # a higher threshold flags no one new
        assert alt == now - removed
    changed = [line.split() for line in text.splitlines() if line.endswith("no longer flagged")]
    assert [(m, u, metric, "no longer flagged") for m, u, metric, *_ in changed] == expected_gone[:20]


@pytest.mark.slow
def test_simulate_twice_in_one_process_gives_the_same_answer(built):
    """The in-process runner keeps dbt's parsed project between invocations: a second simulation (and a month
    built after it) must not see the first one's scratch database or vars."""
    from dagster_project.domain.policy import load_policy
    from dagster_project.domain.simulate import run_simulation

    policy = load_policy(built.policy_file).with_overrides(threshold_multiple=3.0)
    first = run_simulation(built, policy)
    second = run_simulation(built, policy)
    assert (first.rows, first.changed_users) == (second.rows, second.changed_users)
