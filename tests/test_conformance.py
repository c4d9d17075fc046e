"""CONTRACT conformance (docs/CONTRACT.md): the golden vectors of tests/conformance, table by table.

Both conformance months through the real pipeline (Dagster in process, dbt, DuckDB) are part of the fast tier
(~15 s): a change to any rule of §1-§3 fails `make test-fast`. The 6/6 run east of UTC and `dbt docs generate` are
slow."""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys

import duckdb
import pytest

from tests.conftest import CONFORMANCE, REPO

FLOAT_COLUMNS = {
    "minutes_inbound", "minutes_outbound", "minutes_internal", "value", "mean_value", "median_value",
    "p95_value", "p99_value", "reference_mean", "ratio_to_cohort",
}

TABLES = {
    "fct_user_monthly_usage.csv": "marts.fct_user_monthly_usage",
    "audit_quarantined_rows.csv": "audit.quarantined_rows",
    "audit_load_balance.csv": "audit.load_balance",
    "audit_conflicting_duplicates.csv": "audit.conflicting_duplicates",
    "fct_cohort_monthly_averages.csv": "marts.fct_cohort_monthly_averages",
    "fct_user_excess_ratios.csv": "marts.fct_user_excess_ratios",
}


def _norm(col: str, value, floats=FLOAT_COLUMNS):
    if value is None or value == "":
        return None
    if col in floats:
        return float(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return a == b


def compare_table(warehouse, expected_csv: str, table: str, folder=None, floats=FLOAT_COLUMNS) -> None:
    """Every row of `table` against the expected CSV (the columns it names), floats to a relative 1e-9."""
    with open((folder or CONFORMANCE / "expected") / expected_csv, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        cols = reader.fieldnames
        expected = [tuple(_norm(c, r[c], floats) for c in cols) for r in reader]
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        got_raw = con.execute(f"select {', '.join(cols)} from {table}").fetchall()
    finally:
        con.close()
    got = [tuple(_norm(c, v, floats) for c, v in zip(cols, row, strict=True)) for row in got_raw]
    key = lambda r: tuple("" if v is None else (f"{v:.9g}" if isinstance(v, float) else v) for v in r)  # noqa: E731
    expected.sort(key=key)
    got.sort(key=key)
    assert len(got) == len(expected), f"{table}: {len(got)} rows, expected {len(expected)}"
    for g, e in zip(got, expected, strict=True):
        assert all(_same(a, b) for a, b in zip(g, e, strict=True)), f"{table}:\n got      {g}\n expected {e}"


@pytest.mark.parametrize("expected_csv", sorted(TABLES))
def test_conformance_table(conformance_build, expected_csv):
    compare_table(conformance_build.warehouse, expected_csv, TABLES[expected_csv])  # a missing table fails


def test_data_complete_to(conformance_build):
    expected = json.loads((CONFORMANCE / "expected" / "data_complete_to.json").read_text())
    con = duckdb.connect(str(conformance_build.warehouse), read_only=True)
    rows = dict(con.execute("select strftime(month, '%Y-%m'), data_complete_to from audit.month_watermarks")
                .fetchall())
    con.close()
    assert {m: t.isoformat() + "+00:00" for m, t in rows.items()} == expected


@pytest.mark.slow
def test_conformance_at_6_6_east_of_utc(tmp_path):
    """The 6/6 increment, run in a process whose time zone is east of UTC (Pacific/Auckland)."""
    code = f"""
import sys; sys.path.insert(0, {str(REPO)!r})
from pathlib import Path
from tests.conftest import copy_conformance_raw, policy_with, run_pipeline
tmp = Path({str(tmp_path)!r})
raw = copy_conformance_raw(tmp)
policy = policy_with(tmp, **{{"cohorts.min_cohort_size": 3, "billing_increment.initial_seconds": 6,
                             "billing_increment.subsequent_seconds": 6}})
settings, outcomes = run_pipeline(tmp, raw, policy=policy)
assert all(o.success for o in outcomes), outcomes
"""
    env = {**os.environ, "TZ": "Pacific/Auckland"}
    proc = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    compare_table(tmp_path / "warehouse.duckdb", "fct_user_monthly_usage_6_6.csv", "marts.fct_user_monthly_usage")
    compare_table(tmp_path / "warehouse.duckdb", "audit_quarantined_rows.csv", "audit.quarantined_rows")


@pytest.mark.slow
def test_dbt_docs_generate(conformance_build, tmp_path):
    """`dbt docs generate` works on a built warehouse (the docs site for analysts)."""
    from dagster_project.domain.dbt_project import dbt_executable
    from dagster_project.domain.settings import DBT_PROJECT_DIR

    env = {**os.environ, "FAIRUSE_BUILD_DB": str(conformance_build.build_db)}
    proc = subprocess.run([dbt_executable(), "docs", "generate", "--project-dir", str(DBT_PROJECT_DIR),
                           "--profiles-dir", str(DBT_PROJECT_DIR), "--target-path", str(tmp_path)],
                          cwd=DBT_PROJECT_DIR, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:]
    catalog = json.loads((tmp_path / "catalog.json").read_text())
    assert "model.fairuse.fct_user_monthly_usage" in catalog["nodes"]
    assert (tmp_path / "index.html").exists()
