"""The raw step of a month: record what was delivered, and make the files readable where they lie.

Raw Parquet is never copied. For the month being built (and every reference snapshot) this writes, in one
transaction, after every file's footer has been checked:
- `raw.delivered_files`: the delivery record the files cannot keep themselves (dataset, month or snapshot date,
  relative path, size, modification time, rows from the footer);
- views `raw.calls`, `raw.messages`, `raw.chats` over the month's explicit file list and `raw.accounts`,
  `raw.users` over every snapshot file: each file read in place, cast to the contract's types, with the file,
  the row's position in it and the delivery time (the file's modification time).
Every row rule (de-duplication, quarantine, conservation) is dbt SQL over these (models/intermediate/usage,
models/audit). A bad file raises `BadRawFile` before anything is written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from dagster_project.domain.contract import EVENT_DATASETS, REFERENCE_DATASETS, Dataset
from dagster_project.domain.raw_files import BadRawFile, InspectedFile, inspect, list_files, sql_str

__all__ = ["BadRawFile", "DeliveryRecord", "connect", "ensure_sources", "record_month"]

DELIVERED_FILES_DDL = """
create table if not exists raw.delivered_files (
    dataset varchar, month date, snapshot_date date, source_file varchar, size_bytes bigint,
    modified_at timestamp, rows_read bigint)
"""


def connect(path: str | Path, read_only: bool = False, memory_limit: str = "3GB") -> duckdb.DuckDBPyConnection:
    """A connection to the build database. Its folder is owner-only (0700): the database, its WAL and DuckDB's
    spill files hold phone numbers in clear."""
    if not read_only:
        folder = Path(path).parent
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o700)
    con = duckdb.connect(str(path), read_only=read_only)
    # Month truncation of TIMESTAMPTZ follows the session zone: pin it so results never depend on the machine.
    con.execute("set TimeZone = 'UTC'")
    # Bounded memory: DuckDB spills to a temp directory beside the database beyond this.
    con.execute(f"set memory_limit = '{memory_limit}'")
    con.execute("set preserve_insertion_order = false")  # as dbt's profile: no table relies on row order
    return con


@dataclass
class DeliveryRecord:
    month: str
    files: dict[str, int]  # dataset -> files
    rows_read: dict[str, int]  # dataset -> rows (Parquet footers)


def _cast(col: str, target: str, stored: str | None) -> str:
    if stored is None:
        return f"cast(null as {target}) as {col}"
    if target == "TIMESTAMP" and stored.startswith("TIMESTAMP WITH TIME ZONE"):
        return f"cast({col} as TIMESTAMP) as {col}"  # the session zone is UTC: the UTC wall-clock instant
    return f"cast({col} as {target}) as {col}"


def _file_select(ds: Dataset, f: InspectedFile) -> str:
    cols = [_cast(c, t, f.columns.get(c)) for c, t in ds.columns.items()]
    part = f"date {sql_str(f.file.partition_value + ('-01' if ds.partition == 'month' else ''))} as {ds.partition}"
    return (f"select {', '.join(cols)}, {sql_str(f.file.rel)} as source_file, file_row_number as source_row, "
            f"make_timestamp({f.file.mtime_us}) as delivered_at, {part} "
            f"from read_parquet({sql_str(str(f.file.path))}, file_row_number = true)")


def view_sql(ds: Dataset, files: list[InspectedFile],
             file_select: Callable[[Dataset, InspectedFile], str] = _file_select,
             type_name: Callable[[str], str] = str) -> str:
    """The SQL of view raw.<dataset>: every file's select (`file_select`, the engine's reader), one after the other;
    with no file, an empty relation of the same columns. `type_name` maps the contract's type names (VARCHAR,
    BIGINT, ...) to the engine's. Shared by both engines (domain/spark_engine.py passes Spark's)."""
    if files:
        return "\nunion all\n".join(file_select(ds, f) for f in files)
    cols = ", ".join(f"cast(null as {type_name(t)}) as {c}" for c, t in ds.columns.items())
    return (f"select {cols}, cast(null as {type_name('VARCHAR')}) as source_file, "
            f"cast(null as {type_name('BIGINT')}) as source_row, "
            f"cast(null as {type_name('TIMESTAMP')}) as delivered_at, "
            f"cast(null as {type_name('DATE')}) as {ds.partition} where false")


def _replace_view(con: duckdb.DuckDBPyConnection, ds: Dataset, files: list[InspectedFile]) -> None:
    kind = con.execute("select table_type from information_schema.tables where table_schema = 'raw' "
                       "and table_name = ?", [ds.name]).fetchone()
    if kind and kind[0] != "VIEW":  # a build database from before raw stayed in place
        con.execute(f"drop table raw.{ds.name}")
    con.execute(f"create or replace view raw.{ds.name} as {view_sql(ds, files)}")


def ensure_sources(con: duckdb.DuckDBPyConnection) -> None:
    """The relations dbt's sources name, empty if nothing was recorded yet."""
    con.execute("create schema if not exists raw")
    con.execute(DELIVERED_FILES_DDL)
    for ds in EVENT_DATASETS + REFERENCE_DATASETS:
        exists = con.execute("select count(*) from information_schema.tables where table_schema = 'raw' "
                             "and table_name = ? and table_type = 'VIEW'", [ds.name]).fetchone()[0]
        if not exists:
            _replace_view(con, ds, [])


def record_month(con: duckdb.DuckDBPyConnection, raw_dir: Path | str, month: str) -> DeliveryRecord:
    """Check every file of month `YYYY-MM` and every snapshot, then replace the month's delivery record and the
    raw views in one transaction. `raw_dir` is a folder or a bucket's URL (its file system registered on `con`:
    locations.register_filesystem; the views read the objects through it)."""
    inspected = {ds.name: inspect(con, ds, list_files(raw_dir, ds, month)) for ds in EVENT_DATASETS}
    inspected |= {ds.name: inspect(con, ds, list_files(raw_dir, ds)) for ds in REFERENCE_DATASETS}
    if not inspected["users"]:
        raise BadRawFile(f"{raw_dir}/users: no users snapshot found; cannot resolve users")

    con.execute("begin transaction")
    try:
        con.execute("create schema if not exists raw")
        con.execute(DELIVERED_FILES_DDL)
        con.execute("delete from raw.delivered_files where month = ? or snapshot_date is not null",
                    [f"{month}-01"])
        for ds in EVENT_DATASETS + REFERENCE_DATASETS:
            for f in inspected[ds.name]:
                event = ds.partition == "month"
                con.execute("insert into raw.delivered_files values (?, ?, ?, ?, ?, make_timestamp(?), ?)",
                            [ds.name, f"{month}-01" if event else None, None if event else f.file.partition_value,
                             f.file.rel, f.file.size, f.file.mtime_us, f.rows])
            _replace_view(con, ds, inspected[ds.name])
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return DeliveryRecord(month, {n: len(fs) for n, fs in inspected.items()},
                          {n: sum(f.rows for f in fs) for n, fs in inspected.items()})
