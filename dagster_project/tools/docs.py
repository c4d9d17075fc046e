"""`make docs`: the dbt docs site for analysts, as one static page (`dbt docs generate --static`).

Works on a fresh clone (no data) as after `make demo`: dbt reads its catalog from a scratch DuckDB file under the
site's folder, never from the build database (a run may hold it, and it has numbers in clear). When a published
warehouse exists, the scratch file gets its `marts` and `audit` tables' columns and types (empty tables, read from
the published file opened read-only), so the site shows column types; without one it shows the descriptions only.
Prints the page's path (it opens offline, nothing to serve). Errors are one line: exit 1 with dbt's message.

    python -m dagster_project.tools.docs [--target-path DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb

from dagster_project.domain.dbt_project import DEFAULT_BUILD_DB_NAME, dbt_executable
from dagster_project.domain.publish import PUBLISHED_SCHEMAS
from dagster_project.domain.settings import DBT_PROJECT_DIR, SettingsError, settings_from_env

SITE_DIR = DBT_PROJECT_DIR / "target" / "docs"


def scratch_catalog(site: Path, warehouse: Path) -> tuple[Path, bool]:
    """A fresh DuckDB file named as the build database (its catalog name is baked into the parsed nodes), with
    the published tables' columns when `warehouse` exists. Returns (path, whether columns were copied)."""
    db = site / "catalog" / DEFAULT_BUILD_DB_NAME
    shutil.rmtree(db.parent, ignore_errors=True)
    db.parent.mkdir(parents=True)
    if not warehouse.is_file():
        return db, False
    with duckdb.connect(str(db)) as con:
        con.execute("attach ? as published (read_only)", [str(warehouse)])
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables where table_catalog = 'published' "
            f"and table_schema in ({', '.join('?' * len(PUBLISHED_SCHEMAS))}) order by all",
            list(PUBLISHED_SCHEMAS)).fetchall()
        for schema in sorted({s for s, _ in tables}):
            con.execute(f'create schema "{schema}"')
        for schema, table in tables:
            con.execute(f'create table "{schema}"."{table}" as from published."{schema}"."{table}" limit 0')
        con.execute("detach published")
    return db, bool(tables)


def generate(site: Path = SITE_DIR) -> int:
    try:
        warehouse = settings_from_env().warehouse
    except SettingsError as e:
        print(f"make docs: {e}", file=sys.stderr)
        return 2
    try:
        db, typed = scratch_catalog(site, warehouse)
    except duckdb.Error as e:
        print(f"make docs: cannot read the columns of {warehouse}: {' '.join(str(e).split())}", file=sys.stderr)
        return 1
    env = {**os.environ, "FAIRUSE_BUILD_DB": str(db), "FAIRUSE_ENGINE": "duckdb"}
    cmd = [dbt_executable(), "docs", "generate", "--static", "--project-dir", str(DBT_PROJECT_DIR),
           "--profiles-dir", str(DBT_PROJECT_DIR), "--target", "duckdb", "--target-path", str(site),
           "--log-path", str(site), "--no-send-anonymous-usage-stats", "--quiet"]
    done = subprocess.run(cmd, cwd=DBT_PROJECT_DIR, env=env, capture_output=True, text=True)
    page = site / "static_index.html"
    if done.returncode != 0 or not page.is_file():
        lines = [ln.strip() for ln in (done.stdout + done.stderr).splitlines() if ln.strip()]
        print(f"make docs: dbt docs generate failed: {lines[-1] if lines else done.returncode}", file=sys.stderr)
        return 1
    source = (f"column types from {warehouse}" if typed
              else "descriptions only: no published warehouse yet, `make demo` adds column types")
    print(f"dbt docs: {page} ({source}); open it in a browser, it needs no server")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dagster_project.tools.docs", description=__doc__.splitlines()[0])
    parser.add_argument("--target-path", type=Path, default=SITE_DIR, help=f"where the site goes (default {SITE_DIR})")
    return generate(parser.parse_args(argv).target_path.resolve())


if __name__ == "__main__":
    sys.exit(main())
