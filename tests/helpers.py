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
