"""The Spark engine (FAIRUSE_ENGINE=spark): the same dbt models on Apache Spark, via dbt-spark's `session` method.

Optional: needs `pip install -e '.[spark]'` (pyspark, dbt-spark) and a Java runtime. Nothing here is imported by
the DuckDB engine; pyspark is imported inside the functions.

- One SparkSession per process (`spark_session`), session time zone UTC. dbt-spark's `session` method calls
  `SparkSession.builder.getOrCreate()`, so dbt runs on this very session (its catalog, views and functions).
- The pseudonymisation key never appears in SQL text: it is registered as a session function
  `fairuse_hash_key()` (a Python UDF closing over the key, from FAIRUSE_HASH_KEY) that macros/keyed_hash.sql's
  `spark__keyed_hash` calls. Compiled SQL, logs and manifests only name the function.
- The raw step (`record_month`): the footers are checked by the shared code (domain/raw_files.py, DuckDB in
  memory, no rows read); then, per dataset, a view `raw.<dataset>` over the month's explicit file list, each file
  read in place (`parquet.\\`path\\``), cast to the contract's types, with source_file, source_row (the row's
  position in its file: Spark's `_metadata.row_index`), delivered_at (the file's mtime) and the month; and the
  delivery record `raw.delivered_files`.
- `dbt_build_spark`: `dbt build --target spark` in this process.
- `publish_from_spark`: the marts and audit tables copied (Spark -> Arrow -> DuckDB) into a DuckDB file laid
  out like the DuckDB engine's warehouse.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb

from dagster_project.domain.contract import EVENT_DATASETS, REFERENCE_DATASETS, Dataset
from dagster_project.domain.raw_files import BadRawFile, InspectedFile, inspect, list_files

KEY_FUNCTION = "fairuse_hash_key"
SPARK_TYPES = {"VARCHAR": "string", "INTEGER": "int", "TIMESTAMP": "timestamp", "BOOLEAN": "boolean",
               "DATE": "date", "DECIMAL(10,4)": "decimal(10,4)", "BIGINT": "bigint"}
PUBLISHED_SCHEMAS = ("marts", "audit")


def spark_available() -> str | None:
    """None when the Spark engine can run here, else why not."""
    import shutil

    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        return "no Java runtime (install a JDK 17, e.g. Debian openjdk-17-jre-headless)"
    try:
        import dbt.adapters.spark  # noqa: F401
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark / dbt-spark missing (pip install -e '.[spark]')"
    return None


def spark_session(warehouse_dir: Path, key: str | None = None):
    """The process's SparkSession (local, 2 threads unless FAIRUSE_SPARK_MASTER), UTC, with the key function."""
    from pyspark.sql import SparkSession

    warehouse_dir = Path(warehouse_dir)
    warehouse_dir.mkdir(parents=True, exist_ok=True)
    warehouse_dir.chmod(0o700)
    builder = (SparkSession.builder.master(os.environ.get("FAIRUSE_SPARK_MASTER", "local[2]"))
               .appName("fairuse")
               .config("spark.sql.session.timeZone", "UTC")
               .config("spark.sql.warehouse.dir", str(warehouse_dir / "spark-warehouse"))
               .config("spark.sql.sources.partitionOverwriteMode", "dynamic")
               .config("spark.sql.shuffle.partitions", "4")
               .config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false")
               .config("spark.driver.bindAddress", "127.0.0.1")
               .config("spark.driver.host", "127.0.0.1")
               .config("spark.sql.ansi.enabled", "false"))
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    register_key(spark, key if key is not None else os.environ.get("FAIRUSE_HASH_KEY"))
    return spark


def register_key(spark, key: str | None) -> None:
    """`fairuse_hash_key()` in this session: the key, or null without one (keyed_hash then fails the run)."""
    from pyspark.sql.types import StringType

    value = key or None
    spark.udf.register(KEY_FUNCTION, lambda: value, StringType())


# ---------------------------------------------------------------------------------------------------------------
# The raw step


def _q(s: str) -> str:
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _cast(col: str, target: str, stored: str | None) -> str:
    t = SPARK_TYPES[target]
    if stored is None:
        return f"cast(null as {t}) as {col}"
    return f"cast(`{col}` as {t}) as {col}"


def _file_select(ds: Dataset, f: InspectedFile) -> str:
    cols = [_cast(c, t, f.columns.get(c)) for c, t in ds.columns.items()]
    part = f.file.partition_value + ("-01" if ds.partition == "month" else "")
    path = str(f.file.path).replace("`", "``")
    return (f"select {', '.join(cols)}, {_q(f.file.rel)} as source_file, "
            f"cast(_metadata.row_index as bigint) as source_row, "
            f"timestamp_micros({f.file.mtime_us}) as delivered_at, date {_q(part)} as {ds.partition} "
            f"from parquet.`{path}`")


def _view_sql(ds: Dataset, files: list[InspectedFile]) -> str:
    if files:
        return "\nunion all\n".join(_file_select(ds, f) for f in files)
    cols = ", ".join(f"cast(null as {SPARK_TYPES[t]}) as {c}" for c, t in ds.columns.items())
    return (f"select {cols}, cast(null as string) as source_file, cast(null as bigint) as source_row, "
            f"cast(null as timestamp) as delivered_at, cast(null as date) as {ds.partition} where false")


def record_month(spark, raw_dir: Path, month: str) -> dict[str, int]:
    """Check every file of `YYYY-MM` and every snapshot (shared footer checks), then point raw.* at them."""
    raw_dir = Path(raw_dir)
    con = duckdb.connect()
    try:
        inspected = {ds.name: inspect(con, ds, list_files(raw_dir, ds, month)) for ds in EVENT_DATASETS}
        inspected |= {ds.name: inspect(con, ds, list_files(raw_dir, ds)) for ds in REFERENCE_DATASETS}
    finally:
        con.close()
    if not inspected["users"]:
        raise BadRawFile(f"{raw_dir / 'users'}: no users snapshot found; cannot resolve users")
    spark.sql("create database if not exists raw")
    for ds in EVENT_DATASETS + REFERENCE_DATASETS:
        spark.sql(f"create or replace view raw.{ds.name} as {_view_sql(ds, inspected[ds.name])}")
    rows = []
    for ds in EVENT_DATASETS + REFERENCE_DATASETS:
        for f in inspected[ds.name]:
            event = ds.partition == "month"
            rows.append(
                f"select {_q(ds.name)} as dataset, "
                f"{'date ' + _q(month + '-01') if event else 'cast(null as date)'} as month, "
                f"{'cast(null as date)' if event else 'date ' + _q(f.file.partition_value)} as snapshot_date, "
                f"{_q(f.file.rel)} as source_file, cast({f.file.size} as bigint) as size_bytes, "
                f"timestamp_micros({f.file.mtime_us}) as modified_at, cast({f.rows} as bigint) as rows_read")
    # The delivery record of the month being built (staging reads the month's event files and the snapshots).
    spark.sql("create or replace view raw.delivered_files as " + "\nunion all\n".join(rows))
    return {n: len(fs) for n, fs in inspected.items()}


# ---------------------------------------------------------------------------------------------------------------
# dbt on Spark


def dbt_build_spark(dbt_vars: Mapping[str, Any], select: list[str] | None = None,
                    key: str | None = None) -> Any:
    """`dbt build --target spark` of one month in this process (on the session above); dbt's result."""
    from dbt.cli.main import dbtRunner

    from dagster_project.domain.dbt_project import DBT_PROJECT_DIR
    from dagster_project.domain.dbt_runner import _release_streams, dbt_environment

    target = DBT_PROJECT_DIR / "target" / "spark"
    target.mkdir(parents=True, exist_ok=True)
    args = ["build", "--target", "spark", "--vars", json.dumps(dict(dbt_vars)),
            "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
            "--target-path", str(target), "--log-path", str(target), "--log-level-file", "none",
            "--no-send-anonymous-usage-stats", "--no-write-json", "--no-use-colors",
            # dbt's unit tests run once on DuckDB (tests/test_dbt_unit_tests.py), not in each month's build
            "--exclude-resource-type", "unit_test"]
    if select:
        args += ["--select", *select]
    try:
        with dbt_environment({"FAIRUSE_ENGINE": "spark"}):
            res = dbtRunner().invoke(args)
    finally:
        _release_streams()
    return res


# ---------------------------------------------------------------------------------------------------------------
# Publishing from Spark


def spark_tables(spark, schemas=PUBLISHED_SCHEMAS) -> list[str]:
    out = []
    for schema in schemas:
        if not spark.catalog.databaseExists(schema):
            continue
        out += [f"{schema}.{t.name}" for t in spark.catalog.listTables(schema) if not t.isTemporary
                and t.tableType != "VIEW"]
    return sorted(out)


def _column_types(spark, table: str) -> list[tuple[str, str]]:
    return [(f.name, f.dataType.simpleString()) for f in spark.table(table).schema.fields]


def _duck_type(spark_type: str) -> str:
    t = spark_type.lower()
    if t.startswith("decimal"):
        return t.upper()
    return {"string": "VARCHAR", "int": "INTEGER", "bigint": "BIGINT", "double": "DOUBLE", "float": "FLOAT",
            "boolean": "BOOLEAN", "date": "DATE", "timestamp": "TIMESTAMP", "timestamp_ntz": "TIMESTAMP",
            "smallint": "SMALLINT", "tinyint": "TINYINT"}.get(t, "VARCHAR")


def copy_to_duckdb(spark, path: Path, column_order: Mapping[str, list[str]] | None = None,
                   column_types: Mapping[str, Mapping[str, str]] | None = None) -> dict[str, int]:
    """Every marts/audit table of the Spark catalog into a fresh DuckDB file at `path` (Arrow in between).
    `column_order` (table -> columns) restores the model's column order (Spark puts partition columns last);
    `column_types` (table -> column -> DuckDB type) the DuckDB engine's types where they differ (DuckDB's sum of
    integers is HUGEINT, Spark's BIGINT)."""
    path = Path(path)
    fd, tmpname = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    os.unlink(tmpname)
    counts = {}
    con = duckdb.connect(tmpname)
    try:
        con.execute("set TimeZone = 'UTC'")
        for table in spark_tables(spark):
            schema, _ = table.split(".")
            con.execute(f"create schema if not exists {schema}")
            types = dict(_column_types(spark, table))
            order = list((column_order or {}).get(table) or types)
            arrow = spark.table(table).select(*order).toArrow()  # noqa: F841 (read by DuckDB below)
            wanted = (column_types or {}).get(table, {})
            cols = ", ".join(f'cast("{c}" as {wanted.get(c) or _duck_type(types[c])}) as "{c}"' for c in order)
            con.execute(f"create table {table} as select {cols} from arrow")
            counts[table] = con.execute(f"select count(*) from {table}").fetchone()[0]
        con.execute("checkpoint")
    finally:
        con.close()
    os.replace(tmpname, path)
    return counts


class SparkBuildError(RuntimeError):
    """A dbt build on Spark failed; the message names each failing node with dbt's error."""


def _failures(res: Any) -> list[str]:
    out = []
    for r in getattr(res.result, "results", None) or []:
        if str(r.status) in ("error", "fail"):
            out.append(f"{r.node.resource_type} {r.node.name}: {(r.message or r.status)}".strip())
    if res.exception is not None:
        out.append(f"{type(res.exception).__name__}: {res.exception}")
    return out


def build_and_publish(raw_dir: Path, months: list[str], month_vars: list[Mapping[str, Any]], work_dir: Path,
                      warehouse: Path, column_order_from: Path | None = None, key: str | None = None) -> dict:
    """Build `months` in order on Spark (raw step, dbt build) and publish marts + audit to the DuckDB file
    `warehouse`. `column_order_from`: a DuckDB warehouse whose column order the copy follows."""
    spark = spark_session(Path(work_dir), key)
    for month, dbt_vars in zip(months, month_vars, strict=True):
        record_month(spark, raw_dir, month)
        res = dbt_build_spark(dbt_vars)
        if not res.success or _failures(res):
            raise SparkBuildError(f"dbt build of {month} on Spark failed:\n  " + "\n  ".join(_failures(res)))
    order = types = None
    if column_order_from is not None:
        con = duckdb.connect(str(column_order_from), read_only=True)
        try:
            order, types = {}, {}
            for t, c, typ in con.execute(
                    "select schema_name || '.' || table_name, column_name, data_type from duckdb_columns() "
                    "where schema_name in ('marts', 'audit') order by 1, column_index").fetchall():
                order.setdefault(t, []).append(c)
                types.setdefault(t, {})[c] = typ
        finally:
            con.close()
    return copy_to_duckdb(spark, warehouse, order, types)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
