"""Upgrading a warehouse built before policy versions (no audit.policy_months, no rates by month): a run refuses,
in one line saying what to do, before it rebuilds the charges of every month, rather than price the months without
a policy record at 0. Fast tier: a copy of the session's conformance warehouse (the same scenario with charges,
the data test behind the refusal and the rebuild that follows are end to end in tests/test_policy_history.py)."""

from __future__ import annotations

import contextlib
import hashlib
import io
import shutil
from pathlib import Path

import duckdb

from dagster_project.cli.main import main
from dagster_project.domain.settings import build_db_for
from tests.conftest import run_pipeline

PRE_VERSION_TABLES = ("intermediate.int_policy__excess_rates_by_month", "audit.policy_versions",
                      "audit.policy_months")


def as_before_policy_versions(built: Path, dest: Path) -> Path:
    """A copy of a folder a run built (warehouse, build database, exports, raw, policy.yaml) with the tables the
    code before policy versions did not write dropped from the build database and the published file."""
    shutil.copytree(built, dest, ignore=shutil.ignore_patterns("logs"))
    for db in (dest / "warehouse.duckdb", build_db_for(dest / "warehouse.duckdb")):
        with duckdb.connect(str(db)) as con:
            for table in PRE_VERSION_TABLES:
                con.execute(f"drop table if exists {table}")
    return dest


def digests(*paths: Path) -> dict[str, str]:
    files = [f for p in paths for f in ([p] if p.is_file() else sorted(p.rglob("*"))) if f.is_file()]
    return {str(f): hashlib.sha256(f.read_bytes()).hexdigest() for f in files}


def refusal(first: str, missing: str, build_folder: Path) -> str:
    return (f"{missing} built before policy versions (no policy record): building {first} would price it without "
            f"rates; move the build folder {build_folder} aside and run again: the published months are rebuilt "
            f"from the raw data first; nothing was built")


def test_a_run_over_months_without_a_policy_record_is_refused_in_one_line_before_any_work(conformance_build,
                                                                                        tmp_path):
    work = as_before_policy_versions(conformance_build.warehouse.parent, tmp_path / "work")
    wh, build_db = work / "warehouse.duckdb", build_db_for(work / "warehouse.duckdb")
    before = digests(work)
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = main(["run", "--raw-dir", str(work / "raw"), "--warehouse", str(wh), "--exports-dir",
                     str(work / "exports"), "--policy", str(work / "policy.yaml"), "--month", "2026-01"])
    assert (code, err.getvalue()) == (2, f"fairuse run: {refusal('2026-01', 'month 2026-02 was', build_db.parent)}\n")
    assert digests(work) == before  # nothing built, nothing published, no month state recorded

    # A run launched from Dagster (the UI, the schedule, the sensor) refuses at its dbt step, with the same line,
    # before dbt rebuilds anything
    published = digests(wh, work / "exports")
    _, outcomes = run_pipeline(work, work / "raw", months=["2026-01"], policy=work / "policy.yaml")
    assert len(outcomes) == 1 and not outcomes[0].success
    assert outcomes[0].error.startswith("dbt_models: ")
    assert outcomes[0].error.endswith(refusal("2026-01", "month 2026-02 was", build_db.parent))
    assert digests(wh, work / "exports") == published
