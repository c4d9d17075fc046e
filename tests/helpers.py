"""Small helpers shared by the end-to-end tests."""

from __future__ import annotations

from pathlib import Path

import duckdb


def dump_tables(warehouse: Path, schemas=("marts", "audit")) -> dict[str, list[tuple]]:
    """Every row of every table of the given schemas, sorted: equal dumps mean identical tables."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        names = con.execute(
            "select schema_name || '.' || table_name from duckdb_tables() where schema_name in "
            f"({', '.join(repr(s) for s in schemas)}) order by 1").fetchall()
        return {n: con.execute(f"select * from {n} order by all").fetchall() for (n,) in names}
    finally:
        con.close()


def local_files(root: Path) -> dict[str, bytes]:
    """Every file under a folder (relative path -> bytes)."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def bucket_files(fs, prefix: str) -> dict[str, bytes]:
    """Every object under a bucket's prefix (key relative to the prefix -> bytes), through an fsspec file system."""
    return {k[len(prefix) + 1:]: fs.cat_file(k) for k in sorted(fs.find(prefix))}
