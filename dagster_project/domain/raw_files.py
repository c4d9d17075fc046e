"""The raw folder: which files a month (or the reference snapshots) consists of, and what their footers say.

Nothing here reads event rows. A file's schema and row count come from its Parquet footer; a column is scanned
only when its stored type is not the contract's and its values must be tried (e.g. timestamps stored as text).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import duckdb

from dagster_project.domain.contract import EVENT_DATASETS, Dataset

# Stored types that read as the contract's type without a value check.
_SAFE = {
    "TIMESTAMP": ("TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S"),
    "VARCHAR": ("VARCHAR",),
    "INTEGER": ("INTEGER", "SMALLINT", "TINYINT", "UTINYINT", "USMALLINT"),
    "BOOLEAN": ("BOOLEAN",),
    "DATE": ("DATE",),
    "DECIMAL(10,4)": ("DECIMAL(10,4)",),
}


class BadRawFile(RuntimeError):
    """A raw file that cannot be loaded; the message names the file and, where one is at fault, the column."""


@dataclass(frozen=True)
class RawFile:
    path: Path
    rel: str  # relative to the raw dir, POSIX
    partition_value: str  # YYYY-MM or YYYY-MM-DD
    size: int
    mtime_us: int


@dataclass(frozen=True)
class InspectedFile:
    file: RawFile
    dataset: str
    columns: dict[str, str]  # column -> stored DuckDB type
    rows: int


def list_files(raw_dir: Path, ds: Dataset, partition_value: str | None = None) -> list[RawFile]:
    """Files of a dataset, optionally of one partition folder, sorted by relative path (deterministic)."""
    base = Path(raw_dir) / ds.name
    if not base.is_dir():
        return []
    folders = [base / f"{ds.partition}={partition_value}"] if partition_value else sorted(
        base.glob(f"{ds.partition}=*"))
    out = []
    for folder in folders:
        if not folder.is_dir():
            continue
        for p in sorted(folder.glob("*.parquet")):
            st = p.stat()
            out.append(RawFile(p, p.relative_to(raw_dir).as_posix(), folder.name.split("=", 1)[1],
                               st.st_size, st.st_mtime_ns // 1000))
    return out


def month_fingerprint(raw_dir: Path, month: str) -> str:
    """A fingerprint of the event files of a month as they are now (paths, sizes, modification times)."""
    now = {(f.rel, f.size, f.mtime_us) for ds in EVENT_DATASETS for f in list_files(raw_dir, ds, month)}
    return hashlib.sha256(repr(sorted(now)).encode()).hexdigest()[:16]


def months_in_raw(raw_dir: Path) -> list[str]:
    """Every YYYY-MM with an event folder, sorted."""
    months = set()
    for ds in EVENT_DATASETS:
        base = Path(raw_dir) / ds.name
        if base.is_dir():
            months.update(p.name.split("=", 1)[1] for p in base.glob("month=*") if p.is_dir())
    return sorted(months)


def sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _footer(con: duckdb.DuckDBPyConnection, f: RawFile) -> tuple[dict[str, str], int]:
    try:
        rows = con.execute(f"describe select * from read_parquet({sql_str(str(f.path))})").fetchall()
        (n,) = con.execute(f"select num_rows from parquet_file_metadata({sql_str(str(f.path))})").fetchone()
    except duckdb.Error as e:
        raise BadRawFile(f"{f.rel}: cannot be read as Parquet ({e.__class__.__name__}: {e})") from e
    return {r[0]: r[1] for r in rows}, int(n)


def inspect(con: duckdb.DuckDBPyConnection, ds: Dataset, files: list[RawFile]) -> list[InspectedFile]:
    """Footers of `files`, checked against the contract: every required column present, every value castable.
    Raises BadRawFile naming the file (and column) at fault."""
    out = []
    for f in files:
        columns, rows = _footer(con, f)
        for col, target in ds.columns.items():
            stored = columns.get(col)
            if stored is None:
                if col in ds.optional:
                    continue
                raise BadRawFile(f"{f.rel}: required column '{col}' is missing")
            if stored in _SAFE[target]:
                continue
            (bad,) = con.execute(
                f"select count(*) from read_parquet({sql_str(str(f.path))}) "
                f"where {col} is not null and try_cast({col} as {target}) is null").fetchone()
            if bad:
                raise BadRawFile(f"{f.rel}: column '{col}' ({stored}) cannot be cast to {target} "
                                 f"({bad} value(s))")
        out.append(InspectedFile(f, ds.name, columns, rows))
    return out


@dataclass(frozen=True)
class LateFiles:
    """How a built month's raw files now differ from what its last build loaded (audit.loaded_files)."""

    month: str
    added: list[str]  # relative paths
    changed: list[str]  # same path, other size or modification time
    removed: list[str]
    fingerprint: str  # of the month's files now present: one change, one fingerprint

    def describe(self) -> str:
        parts = [f"{len(v)} {k}" for k, v in (("new", self.added), ("changed", self.changed),
                                               ("removed", self.removed)) if v]
        return ", ".join(parts)


def late_files(raw_dir: Path, warehouse: Path) -> dict[str, LateFiles]:
    """Built months (those the published warehouse lists loaded files of) whose raw files differ from what was
    loaded: new, changed or removed files. Reads the warehouse read-only; {} when nothing was published yet."""
    if not Path(warehouse).exists():
        return {}
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        loaded = con.execute("select strftime(month, '%Y-%m'), source_file, size_bytes, epoch_us(modified_at) "
                             "from audit.loaded_files").fetchall()
    except duckdb.CatalogException:
        return {}
    finally:
        con.close()
    built: dict[str, dict[str, tuple[int, int]]] = {}
    for month, rel, size, mtime in loaded:
        built.setdefault(month, {})[rel] = (size, mtime)
    out = {}
    for month, files in sorted(built.items()):
        now = {f.rel: (f.size, f.mtime_us) for ds in EVENT_DATASETS for f in list_files(raw_dir, ds, month)}
        if now == files:
            continue
        out[month] = LateFiles(month, sorted(set(now) - set(files)),
                               sorted(r for r in set(now) & set(files) if now[r] != files[r]),
                               sorted(set(files) - set(now)), month_fingerprint(raw_dir, month))
    return out
