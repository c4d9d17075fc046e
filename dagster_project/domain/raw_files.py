"""The raw folder: which files a month (or the reference snapshots) consists of, and what their footers say.

The raw folder is a local folder or a bucket's prefix (`s3://bucket/prefix`, domain/locations.py): a file's
delivery record is its size and modification time either way (in a bucket the object's LastModified, which every
upload sets; its ETag joins the month's fingerprint). Footers are read by DuckDB, through the bucket's fsspec file
system registered on the connection (`locations.register_filesystem`) when the folder is a bucket's.

Nothing here reads event rows. A file's schema and row count come from its Parquet footer; a column is scanned
only when its stored type is not the contract's and its values must be tried (e.g. timestamps stored as text).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from dagster_project.domain.contract import EVENT_DATASETS, Dataset
from dagster_project.domain.locations import LocationError, describe_error, filesystem, is_url

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
    path: Path | str  # a local path, or the object's URL (s3://bucket/key)
    rel: str  # relative to the raw dir, POSIX
    partition_value: str  # YYYY-MM or YYYY-MM-DD
    size: int
    mtime_us: int
    etag: str | None = None  # an object's ETag (a bucket's); None on disk


@dataclass(frozen=True)
class InspectedFile:
    file: RawFile
    dataset: str
    columns: dict[str, str]  # column -> stored DuckDB type
    rows: int


def list_files(raw_dir: Path | str, ds: Dataset, partition_value: str | None = None) -> list[RawFile]:
    """Files of a dataset, optionally of one partition folder, sorted by relative path (deterministic)."""
    if is_url(raw_dir):
        return _list_bucket(str(raw_dir), ds, partition_value)
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


def _listing(url: str, list_call) -> list[dict]:
    """Entries of a listing in a bucket: [] for a prefix that holds nothing, a LocationError (one line naming the
    bucket, the credentials or the endpoint) for a store that cannot be used."""
    try:
        return list_call()
    except FileNotFoundError as e:
        if "bucket does not exist" in str(e).lower():
            raise LocationError(describe_error(url, e)) from None
        return []
    except Exception as e:  # noqa: BLE001 - any failure of the store is reported, in one line
        raise LocationError(describe_error(url, e)) from None


def _list_bucket(url: str, ds: Dataset, partition_value: str | None) -> list[RawFile]:
    """As list_files, for a bucket's prefix: the objects directly in the partition "folders" (key prefixes)."""
    fs, root = filesystem(url)
    scheme = url.split("://", 1)[0]
    base = f"{root}/{ds.name}"
    if partition_value:
        entries = _listing(url, lambda: fs.ls(f"{base}/{ds.partition}={partition_value}", detail=True))
    else:
        entries = _listing(url, lambda: list(fs.find(base, detail=True).values()))
    pattern = re.compile(rf"^{re.escape(ds.name)}/{re.escape(ds.partition)}=([^/]+)/[^/]+\.parquet$")
    out = []
    for e in entries:
        rel = e["name"][len(root) + 1:]
        m = pattern.match(rel)
        if e.get("type") != "file" or not m:
            continue
        modified = e["LastModified"]
        mtime_us = int(modified.timestamp()) * 1_000_000 + modified.microsecond
        out.append(RawFile(f"{scheme}://{e['name']}", rel, m.group(1), int(e["size"]), mtime_us,
                           str(e.get("ETag") or "").strip('"') or None))
    return sorted(out, key=lambda f: f.rel)


def month_fingerprint(raw_dir: Path | str, month: str) -> str:
    """A fingerprint of the event files of a month as they are now (paths, sizes, modification times; in a bucket
    also the objects' ETags)."""
    now = {(f.rel, f.size, f.mtime_us, *([f.etag] if f.etag else []))
           for ds in EVENT_DATASETS for f in list_files(raw_dir, ds, month)}
    return hashlib.sha256(repr(sorted(now)).encode()).hexdigest()[:16]


def months_in_raw(raw_dir: Path | str) -> list[str]:
    """Every YYYY-MM with an event folder, sorted."""
    months = set()
    if is_url(raw_dir):
        fs, root = filesystem(str(raw_dir))
        for ds in EVENT_DATASETS:
            entries = _listing(str(raw_dir), lambda ds=ds: fs.ls(f"{root}/{ds.name}", detail=True))
            names = [e["name"].rstrip("/").rsplit("/", 1)[-1] for e in entries if e.get("type") == "directory"]
            months.update(n.split("=", 1)[1] for n in names if n.startswith("month="))
        return sorted(months)
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
        detail = str(e).strip().splitlines()[0] if str(e).strip() else ""  # not DuckDB's query and caret lines
        raise BadRawFile(f"{f.rel}: cannot be read as Parquet ({e.__class__.__name__}: {detail})") from e
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


def late_files(raw_dir: Path | str, warehouse: Path) -> dict[str, LateFiles]:
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
