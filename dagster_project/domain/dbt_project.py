"""The dbt project, and preparing its manifest once (not on every run, not at every import)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from dagster_dbt import DbtProject

from dagster_project.domain.settings import DBT_PROJECT_DIR, export_to_environment, get_settings

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
# Only under `dagster dev` (the CLI and tests call ensure_manifest() themselves). It runs `dbt` from PATH, so
# make this environment's bin directory visible even when the virtualenv is not activated.
if os.environ.get("DAGSTER_IS_DEV_CLI"):
    export_to_environment(get_settings())  # profiles.yml reads FAIRUSE_BUILD_DB
    _bin = str(Path(sys.executable).parent)
    if _bin not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = _bin + os.pathsep + os.environ.get("PATH", "")
dbt_project.prepare_if_dev()


def _newest_source_mtime() -> float:
    paths = [DBT_PROJECT_DIR / "dbt_project.yml", DBT_PROJECT_DIR / "profiles.yml"]
    for sub in ("models", "macros", "tests"):
        paths += [p for p in (DBT_PROJECT_DIR / sub).rglob("*") if p.is_file()]
    return max(p.stat().st_mtime for p in paths if p.exists())


def manifest_is_stale() -> bool:
    manifest = Path(dbt_project.manifest_path)
    return not manifest.exists() or manifest.stat().st_mtime < _newest_source_mtime()


def ensure_manifest(force: bool = False) -> Path:
    """Run `dbt parse` when the models changed since the manifest was written."""
    if force or manifest_is_stale():
        export_to_environment(get_settings())
        from dagster_project.defs.resources import dbt_executable

        cmd = [dbt_executable(), "parse", "--quiet",
               "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)]
        proc = subprocess.run(cmd, cwd=DBT_PROJECT_DIR, env=os.environ.copy(), capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"dbt parse failed:\n{proc.stdout}\n{proc.stderr}")
    return Path(dbt_project.manifest_path)
