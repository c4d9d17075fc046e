"""One SQL, two engines: `fairuse run --engine spark` publishes the same DuckDB warehouse (marts and
audit row for row, floats to 1e-9 relative), the same summary and the same finance exports and report, byte for
byte, as the DuckDB engine; Spark's tables outlive the run in its persistent catalog; and the same holds on a
Spark Connect server (started here, on 127.0.0.1) with the conformance vectors.

Each Spark run is a real `fairuse run` process (Dagster in process, dbt-spark, the JVM), so the catalog is seen
from a fresh process afterwards. Needs the spark extra and Java: `pip install -e '.[spark]'` and a JDK 17
(Debian: openjdk-17-jre-headless). Without them the tests are skipped, saying so.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from tests.conftest import REPO, SAMPLE_MONTHS  # noqa: F401 (REPO: the project's files below)

pytestmark = pytest.mark.slow

# A key that cannot occur by chance in any file: the tests look for it everywhere Spark and dbt write.
KEY = "spark-test-key-7f3a9c0e51d24b86a0c4e2f19d7b5a31"


def _spark_or_skip():
    from dagster_project.domain.spark_engine import spark_available

    why = spark_available()
    if why:
        pytest.skip(f"Spark engine not available: {why}. Enable: apt-get install openjdk-17-jre-headless && "
                    f"pip install -e '.[spark]'")


# ---------------------------------------------------------------------------------------------------------------
# Comparing two published warehouses


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


def _columns(con) -> dict[str, list[tuple[str, str]]]:
    rows = con.execute("select schema_name || '.' || table_name, column_name, data_type from duckdb_columns() "
                       "where schema_name in ('marts', 'audit') order by 1, column_index").fetchall()
    out: dict[str, list[tuple[str, str]]] = {}
    for t, c, typ in rows:
        out.setdefault(t, []).append((c, typ))
    return out


# DuckDB sums integers as HUGEINT, Spark as BIGINT: the same values (the only type that differs).
_SAME_TYPE = {"HUGEINT": "BIGINT"}


def compare_warehouses(duck_path: Path, spark_path: Path) -> dict[str, int]:
    """Every marts and audit table: same columns in the same order, same types (HUGEINT ~ BIGINT), same rows."""
    a = duckdb.connect(str(duck_path), read_only=True)
    b = duckdb.connect(str(spark_path), read_only=True)
    try:
        ta, tb = _columns(a), _columns(b)
        assert sorted(ta) == sorted(tb), \
            f"tables differ: duckdb only {set(ta) - set(tb)}, spark only {set(tb) - set(ta)}"
        counts = {}
        for table, cols in ta.items():
            assert [c for c, _ in tb[table]] == [c for c, _ in cols], f"{table}: columns {tb[table]} vs {cols}"
            assert [_SAME_TYPE.get(t, t) for _, t in tb[table]] == [_SAME_TYPE.get(t, t) for _, t in cols], \
                f"{table}: types {tb[table]} on Spark, {cols} on DuckDB"
            sel = ", ".join(f'"{c}"' for c, _ in cols)
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


def same_files(ours: Path, theirs: Path) -> int:
    """Every file under `ours` exists under `theirs` with the same bytes, and nothing more; returns how many."""
    mine = sorted(p.relative_to(ours) for p in ours.rglob("*") if p.is_file())
    other = sorted(p.relative_to(theirs) for p in theirs.rglob("*") if p.is_file())
    assert mine == other, (ours, set(mine) ^ set(other))
    for rel in mine:
        assert (ours / rel).read_bytes() == (theirs / rel).read_bytes(), rel
    return len(mine)


def summary_rows(stdout: str) -> list[str]:
    """The per-month lines of `fairuse run`'s summary (rows read, loaded, quarantined, duplicates, users)."""
    lines = stdout.split("\nSummary\n", 1)[1].splitlines()
    return [line for line in lines if line.strip()[:4].isdigit() or line.strip().startswith("month")]


def files_containing(root: Path, needle: bytes) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


# ---------------------------------------------------------------------------------------------------------------
# `fairuse run` as a process


def fairuse_run(raw: Path, work: Path, *extra: str, env: dict | None = None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "dagster_project.cli.main", "run", "--raw-dir", str(raw),
           "--warehouse", str(work / "warehouse.duckdb"), "--exports-dir", str(work / "exports"), *extra]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=1500,
                          env={**os.environ, "FAIRUSE_HASH_KEY": KEY, **(env or {})})
    assert proc.returncode == 0, f"{' '.join(cmd)}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


SMALL_MONTH = "2026-03"


@pytest.fixture(scope="module")
def small_month(tmp_path_factory):
    """A generated month (250 users: planted bad rows, duplicates, a late file, prohibited-use patterns), built by
    `fairuse run` on DuckDB (the default engine) and with `--engine spark` (local[2], its persistent catalog)."""
    _spark_or_skip()
    from dagster_project.tools.generate import generate

    tmp = tmp_path_factory.mktemp("spark-small")
    raw = tmp / "raw"
    generate(out=raw, users=250, months=[SMALL_MONTH], seed=5, calls_per_user=15)
    t0 = time.perf_counter()
    duck = fairuse_run(raw, tmp / "duckdb")
    t1 = time.perf_counter()
    spark = fairuse_run(raw, tmp / "spark", "--engine", "spark")
    t2 = time.perf_counter()
    print(f"duckdb engine {t1 - t0:.1f}s, spark engine {t2 - t1:.1f}s")
    return tmp, duck.stdout, spark.stdout


def test_fairuse_run_engine_spark_publishes_what_duckdb_does(small_month):
    tmp, duck_out, spark_out = small_month
    # The summary `fairuse run` prints (from the published file) is the same.
    assert summary_rows(duck_out) == summary_rows(spark_out)
    assert len(summary_rows(spark_out)) == 2, spark_out  # header + the month
    # Every step ran on Spark's side of the engine: the dbt step reported its models to Dagster.
    assert "dbt_models" in spark_out and "stg_usage__calls" in spark_out, spark_out
    counts = compare_warehouses(tmp / "duckdb" / "warehouse.duckdb", tmp / "spark" / "warehouse.duckdb")
    assert counts["marts.fct_user_monthly_usage"] > 200 and counts["marts.fct_prohibited_use_flags"] > 0, counts
    assert counts["audit.quarantined_rows"] > 0 and counts["marts.fct_contact_center_surcharge"] > 0, counts
    # Finance exports (CSV, Parquet, manifest) and the report with its notices: byte for byte.
    assert same_files(tmp / "duckdb" / "exports", tmp / "spark" / "exports") >= 5
    assert same_files(tmp / "duckdb" / "reports", tmp / "spark" / "reports") >= 2
    # The Spark engine's files (catalog, tables, logs) hold the key nowhere; the published file has no hash.
    spark_dir = tmp / "spark" / "build" / "warehouse.spark"
    assert (spark_dir / "metastore_db").is_dir() and (spark_dir / "warehouse" / "marts.db").is_dir()
    assert files_containing(tmp / "spark", KEY.encode()) == []
    assert files_containing(REPO / "dbt_models" / "target", KEY.encode()) == []


def test_spark_catalog_outlives_the_run(small_month):
    """A fresh process opens the same catalog (settings -> the same Derby metastore and warehouse dir) and sees
    intermediate, marts and audit tables with the rows that were published; marts are partitioned by month."""
    tmp, _, _ = small_month
    code = """
import json, sys
from pyspark.sql import SparkSession
from dagster_project.domain.settings import get_settings
from dagster_project.domain.spark_engine import _local_builder
s = get_settings(warehouse=sys.argv[1], engine="spark")
spark = _local_builder(SparkSession.builder, s).getOrCreate()
dbs = ("intermediate", "marts", "audit")
out = {"tables": {db: sorted(t.name for t in spark.catalog.listTables(db)) for db in dbs},
       "usage": spark.table("marts.fct_user_monthly_usage").count(),
       "balance": [r.asDict() for r in spark.sql("select dataset, cast(rows_read as bigint) as rows_read "
                                                 "from audit.load_balance order by 1").collect()],
       "partitions": [r[0] for r in spark.sql("show partitions marts.fct_user_monthly_usage").collect()]}
print("RESULT " + json.dumps(out))
"""
    proc = subprocess.run([sys.executable, "-c", code, str(tmp / "spark" / "warehouse.duckdb")], cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    seen = json.loads(proc.stdout.split("RESULT ", 1)[1])
    con = duckdb.connect(str(tmp / "duckdb" / "warehouse.duckdb"), read_only=True)
    try:
        usage = con.execute("select count(*) from marts.fct_user_monthly_usage").fetchone()[0]
        balance = [{"dataset": d, "rows_read": n} for d, n in con.execute(
            "select dataset, rows_read from audit.load_balance order by 1").fetchall()]
        marts = sorted(t for (t,) in con.execute(
            "select table_name from duckdb_tables() where schema_name = 'marts'").fetchall())
    finally:
        con.close()
    assert seen["usage"] == usage and seen["balance"] == balance, seen
    assert sorted(seen["tables"]["marts"]) == marts
    assert "int_usage__exceptions" in seen["tables"]["intermediate"] and "load_balance" in seen["tables"]["audit"]
    assert seen["partitions"] == [f"month={SMALL_MONTH}-01"]


# ---------------------------------------------------------------------------------------------------------------
# A Spark Connect server on 127.0.0.1 (what a cluster offers): the conformance vectors through it


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def connect_server(tmp_path_factory):
    """`SparkConnectServer` from pip's pyspark (its jars ship the server), bound to 127.0.0.1 on a free port, its
    files under a temporary folder; stopped (its process group) at the end of the module."""
    _spark_or_skip()
    import pyspark

    home = Path(pyspark.__file__).parent
    d = tmp_path_factory.mktemp("connect-server")
    port = _free_port()
    cmd = [str(home / "bin" / "spark-submit"), "--class", "org.apache.spark.sql.connect.service.SparkConnectServer",
           "--master", "local[2]", "--name", "fairuse-test-connect",
           "--conf", "spark.connect.grpc.binding.address=127.0.0.1",
           "--conf", f"spark.connect.grpc.binding.port={port}",
           "--conf", f"spark.sql.warehouse.dir={d / 'warehouse'}",
           "--conf", "spark.ui.enabled=false", "--conf", "spark.driver.bindAddress=127.0.0.1",
           "--conf", "spark.driver.host=127.0.0.1", "--conf", "spark.sql.session.timeZone=UTC"]
    log = open(d / "server.log", "w")  # noqa: SIM115 (open for the server's lifetime)
    proc = subprocess.Popen(cmd, cwd=d, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                            env={**os.environ, "SPARK_HOME": str(home)})
    try:
        deadline = time.monotonic() + 240
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None, (d / "server.log").read_text()[-3000:]
                assert time.monotonic() < deadline, "Spark Connect server did not open its port in 240 s"
                time.sleep(0.5)
        yield f"sc://127.0.0.1:{port}", d
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(30)
        log.close()


def test_conformance_through_spark_connect_equals_duckdb(conformance_build, connect_server, tmp_path):
    """Both conformance months (min_cohort_size 3) through a Spark Connect server: every marts and audit table and
    every export equal to the DuckDB engine's; the key never reached the server's files or log."""
    url, server_dir = connect_server
    duck = conformance_build
    work = tmp_path / "via-connect"
    out = fairuse_run(duck.raw_dir, work, "--engine", "spark", "--policy", str(duck.policy_file),
                      env={"FAIRUSE_SPARK_REMOTE": url}).stdout
    assert "2 month(s) built" in out, out
    counts = compare_warehouses(duck.warehouse, work / "warehouse.duckdb")
    assert counts["marts.fct_user_monthly_usage"] > 0, counts
    assert same_files(duck.exports_dir, work / "exports") >= 6
    # The tables were written by the server (its warehouse dir), not by a local session of the client.
    assert (server_dir / "warehouse" / "marts.db").is_dir()
    assert not (work / "build" / "warehouse.spark").exists()
    assert files_containing(server_dir, KEY.encode()) == []
