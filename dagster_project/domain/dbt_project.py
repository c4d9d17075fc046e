"""The dbt project: where it lives, the dbt executable of this environment, and its manifest (parsed when stale)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from dagster_project.domain.settings import DBT_PROJECT_DIR

MANIFEST_PATH = DBT_PROJECT_DIR / "target" / "manifest.json"


def dbt_executable() -> str:
    """The dbt of this interpreter's environment, so a venv works without being activated."""
    candidate = Path(sys.executable).with_name("dbt")
    return str(candidate) if candidate.exists() else (shutil.which("dbt") or "dbt")


def _newest_source_mtime() -> float:
    paths = [DBT_PROJECT_DIR / "dbt_project.yml", DBT_PROJECT_DIR / "profiles.yml"]
    for sub in ("models", "macros", "tests"):
        paths += [p for p in (DBT_PROJECT_DIR / sub).rglob("*") if p.is_file()]
    return max(p.stat().st_mtime for p in paths if p.exists())


def manifest_is_stale() -> bool:
    return not MANIFEST_PATH.exists() or MANIFEST_PATH.stat().st_mtime < _newest_source_mtime()


def ensure_manifest(force: bool = False) -> Path:
    """Run `dbt parse` when a model, macro or test changed since the manifest was written; return its path."""
    if force or manifest_is_stale():
        cmd = [dbt_executable(), "parse", "--quiet",
               "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)]
        proc = subprocess.run(cmd, cwd=DBT_PROJECT_DIR, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"dbt parse failed:\n{proc.stdout}\n{proc.stderr}")
    return MANIFEST_PATH
