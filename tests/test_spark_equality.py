"""One SQL, two engines (issue 11): the conformance vectors built on DuckDB and on Apache Spark (dbt-spark,
method `session`) give the same marts and audit tables, row for row (floats to 1e-9 relative), and the same
finance exports, byte for byte.

Needs the spark extra and Java: `pip install -e '.[spark]'` and a JDK 17 (Debian: openjdk-17-jre-headless).
Without them the test is skipped, saying so.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
from pathlib import Path

import duckdb
import pytest

from tests.conftest import copy_conformance_raw, policy_with

pytestmark = pytest.mark.slow


def _spark_or_skip():
    from dagster_project.domain.spark_engine import spark_available

    why = spark_available()
    if why:
        pytest.skip(f"Spark engine not available: {why}. Enable: apt-get install openjdk-17-jre-headless && "
                    f"pip install -e '.[spark]'")


def _norm(v):
    if isinstance(v, decimal.Decimal):
        return ("dec", v.normalize())
    if isinstance(v, float):
        return ("f", v)
    if isinstance(v, dt.datetime):
        return ("ts", v.replace(tzinfo=None))
    return ("v", v)


def _same(a, b) -> bool:
    if a[0] == "f" and b[0] == "f":
        return math.isclose(a[1], b[1], rel_tol=1e-9, abs_tol=1e-12)
    return a == b


def _sort_key(row):
    return tuple((t, "" if v is None else (f"{v:.9g}" if t == "f" else str(v))) for t, v in row)


def _tables(con) -> dict[str, list[str]]:
    rows = con.execute("select schema_name || '.' || table_name, column_name from duckdb_columns() "
                       "where schema_name in ('marts', 'audit') order by 1, column_index").fetchall()
    out: dict[str, list[str]] = {}
    for t, c in rows:
        out.setdefault(t, []).append(c)
    return out


def compare_warehouses(duck_path: Path, spark_path: Path) -> dict[str, int]:
    a = duckdb.connect(str(duck_path), read_only=True)
    b = duckdb.connect(str(spark_path), read_only=True)
    try:
        ta, tb = _tables(a), _tables(b)
        assert sorted(ta) == sorted(tb), \
            f"tables differ: duckdb only {set(ta) - set(tb)}, spark only {set(tb) - set(ta)}"
        counts = {}
        for table, cols in ta.items():
            assert tb[table] == cols, f"{table}: columns {tb[table]} on Spark, {cols} on DuckDB"
            sel = ", ".join(f'"{c}"' for c in cols)
            ra = sorted((tuple(map(_norm, r)) for r in a.execute(f"select {sel} from {table}").fetchall()),
                        key=_sort_key)
            rb = sorted((tuple(map(_norm, r)) for r in b.execute(f"select {sel} from {table}").fetchall()),
                        key=_sort_key)
            assert len(ra) == len(rb), f"{table}: {len(rb)} rows on Spark, {len(ra)} on DuckDB"
            for x, y in zip(ra, rb, strict=True):
                assert all(_same(p, q) for p, q in zip(x, y, strict=True)), \
                    f"{table}:\n duckdb {x}\n spark  {y}"
            counts[table] = len(ra)
        return counts
    finally:
        a.close()
        b.close()


def _both_engines_equal(tmp_path, raw, policy_file=None):
    from dagster_project.cli.run import default_months
    from dagster_project.domain.dbt_vars import dbt_vars_for_month
    from dagster_project.domain.exports import export_month
    from dagster_project.domain.policy import load_policy
    from dagster_project.domain.spark_engine import build_and_publish
    from tests.conftest import run_pipeline

    duck_dir = tmp_path / "duckdb"
    duck_dir.mkdir()
    settings, outcomes = run_pipeline(duck_dir, raw, policy=policy_file)
    assert all(o.success for o in outcomes), outcomes
    months = default_months(settings)
    policy = load_policy(settings.policy_file)

    spark_dir = tmp_path / "spark"
    spark_warehouse = spark_dir / "warehouse.duckdb"
    build_and_publish(raw, months, [dbt_vars_for_month(m, policy) for m in months], spark_dir, spark_warehouse,
                      column_order_from=settings.warehouse)

    counts = compare_warehouses(settings.warehouse, spark_warehouse)
    print("equal tables:", counts)
    assert counts.get("marts.fct_user_monthly_usage")

    # Finance exports from the Spark-built warehouse, byte for byte those of the DuckDB engine.
    exports = spark_dir / "exports"
    con = duckdb.connect(str(spark_warehouse), read_only=True)
    try:
        for m in months:
            export_month(con, exports, m, policy.version)
    finally:
        con.close()
    for m in months:
        ours = sorted(p.name for p in (settings.exports_dir / m).iterdir() if p.is_file())
        theirs = sorted(p.name for p in (exports / m).iterdir() if p.is_file())
        assert ours == theirs, (m, ours, theirs)
        for name in ours:
            assert (settings.exports_dir / m / name).read_bytes() == (exports / m / name).read_bytes(), (m, name)
    return counts


def test_conformance_equal_on_spark_and_duckdb(tmp_path):
    _spark_or_skip()
    raw = copy_conformance_raw(tmp_path)
    _both_engines_equal(tmp_path, raw, policy_with(tmp_path, **{"cohorts.min_cohort_size": 3}))


def test_generated_sample_equal_on_spark_and_duckdb(tmp_path):
    """The small generated sample: planted bad rows, duplicates, a late file and prohibited-use patterns, so the
    flag, surcharge and enforcement marts have rows (the conformance vectors leave some empty)."""
    _spark_or_skip()
    from dagster_project.tools.generate import generate

    raw = tmp_path / "raw"
    generate(out=raw, users=150, months=["2026-01", "2026-02"], seed=11, calls_per_user=15)
    _both_engines_equal(tmp_path, raw)
