"""Which engine builds the dbt models: the one place that branches on `Settings.engine` (FAIRUSE_ENGINE, `fairuse
run --engine`).

An engine does the three steps that touch the build's storage; everything else (the footer checks, dbt's graph,
the Dagster events, the published DuckDB file, the exports, the report, the lock) is shared:

- `record_month`: check the month's files and point the `raw.*` relations at them (the raw asset);
- `dbt_build`: `dbt build` of the month in this process, on the engine's profiles.yml output (the dbt asset);
- `publish`: the analysts' DuckDB warehouse, replaced atomically (the publish asset);
- `build_query`: rows of a query on the build's tables (the completeness gate's figures).

`duckdb` (the default) builds in the DuckDB build database. `spark` (domain/spark_engine.py, imported only here,
only when chosen: pyspark stays out of the DuckDB engine's processes) builds on Apache Spark and copies the marts
and audit tables into the same kind of DuckDB file before publishing it the same way.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Protocol

from dagster_project.domain.dbt_runner import BuildResult
from dagster_project.domain.locations import is_url, register_filesystem
from dagster_project.domain.publish import PublishResult
from dagster_project.domain.raw_load import DeliveryRecord
from dagster_project.domain.settings import Settings


class EngineUnavailable(RuntimeError):
    """The chosen engine cannot run here (no Java, extra not installed); the message says how to enable it."""


class Engine(Protocol):
    name: str

    def record_month(self, s: Settings, month: str) -> DeliveryRecord: ...

    def dbt_build(self, s: Settings, args: Sequence[str]) -> BuildResult: ...

    def publish(self, s: Settings, month: str, month_tables: Collection[str]) -> PublishResult: ...

    def build_query(self, s: Settings, sql: str) -> list[tuple]: ...


class DuckDBEngine:
    """The build database is a DuckDB file (settings.build_db); dbt-duckdb builds in it; publish copies from it."""

    name = "duckdb"

    def record_month(self, s: Settings, month: str) -> DeliveryRecord:
        from dagster_project.domain import raw_load

        con = raw_load.connect(s.build_db, memory_limit=s.duckdb_memory_limit)
        try:
            register_filesystem(con, s.raw_dir)  # raw in a bucket: footers and views read through s3fs
            return raw_load.record_month(con, s.raw_dir, month)
        finally:
            con.close()  # dbt needs the write lock next

    def dbt_build(self, s: Settings, args: Sequence[str]) -> BuildResult:
        from dagster_project.domain.dbt_runner import dbt_build
        from dagster_project.domain.settings import dbt_env

        # raw in a bucket: the profiles.yml output whose `filesystems` registers s3fs on dbt's connection
        target = "duckdb_s3" if is_url(s.raw_dir) else "duckdb"
        return dbt_build(args, env=dbt_env(s), build_db=s.build_db, profile_target=target)

    def publish(self, s: Settings, month: str, month_tables: Collection[str]) -> PublishResult:
        from dagster_project.domain.publish import publish

        return publish(s.build_db, s.warehouse, month, month_tables)

    def build_query(self, s: Settings, sql: str) -> list[tuple]:
        """Rows of a query on the build database (read-only; e.g. the completeness gate's figures)."""
        import duckdb

        con = duckdb.connect()
        try:
            con.execute("set TimeZone = 'UTC'")
            con.execute("attach ? as build (read_only)", [str(s.build_db)])
            con.execute("use build")
            return con.execute(sql).fetchall()
        finally:
            con.close()


def check_available(s: Settings) -> None:
    """Raise EngineUnavailable, saying how to enable it, when the chosen engine cannot run here."""
    if s.engine == "spark":
        from dagster_project.domain.spark_engine import spark_available

        why = spark_available()
        if why:
            raise EngineUnavailable(f"the Spark engine is not available: {why}; or run with --engine duckdb")


def engine_for(s: Settings) -> Engine:
    """The engine the settings name."""
    if s.engine == "spark":
        from dagster_project.domain.spark_engine import SparkEngine

        return SparkEngine()
    return DuckDBEngine()
