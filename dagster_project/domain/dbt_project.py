"""The dbt project: where it lives, the dbt executable of this environment, and its manifest (parsed when stale).

Parsing happens in this process (domain/dbt_runner.py: dbt's partial parsing, the parsed Manifest kept for the
builds of this process); manifest.json, what @dbt_assets reads, is written from it atomically. This module uses
dbt_runner, never the other way round."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from dagster_project.domain.dbt_runner import dbt_database, newest_source_mtime, write_manifest_json
from dagster_project.domain.settings import DBT_PROJECT_DIR

MANIFEST_PATH = DBT_PROJECT_DIR / "target" / "manifest.json"
# The build database of the default warehouse (settings.py): its name is the catalog name parsed nodes carry.
DEFAULT_BUILD_DB_NAME = "warehouse.build.duckdb"


def dbt_executable() -> str:
    """The dbt of this interpreter's environment, so a venv works without being activated."""
    candidate = Path(sys.executable).with_name("dbt")
    return str(candidate) if candidate.exists() else (shutil.which("dbt") or "dbt")


def manifest_is_stale() -> bool:
    return not MANIFEST_PATH.exists() or MANIFEST_PATH.stat().st_mtime < newest_source_mtime()


def ensure_manifest(force: bool = False) -> Path:
    """Parse the project when a model, macro or test changed since the manifest was written; return its path.

    The parse is dbt's, in this process (partial parsing from the last parse of any process); the Manifest it
    gives is also what the builds of this process start from (no second parse for the default warehouse name)."""
    if force or manifest_is_stale():
        write_manifest_json(dbt_database(Path(DEFAULT_BUILD_DB_NAME)), MANIFEST_PATH, force=force)
    return MANIFEST_PATH
