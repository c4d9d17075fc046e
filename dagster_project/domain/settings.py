"""Paths and FAIRUSE_* environment, resolved once to absolute paths.

Dagster (this process) and dbt (a subprocess with cwd dbt_models/) must agree on one absolute DuckDB path,
so the build database path is also exported as FAIRUSE_BUILD_DB, which dbt's profiles.yml reads.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT_DIR = REPO_ROOT / "dbt_models"
DEFAULT_POLICY_FILE = REPO_ROOT / "policy" / "fair_use_policy.yaml"


@dataclass(frozen=True)
class Settings:
    raw_dir: Path
    warehouse: Path  # the published, read-only-for-analysts DuckDB file
    exports_dir: Path
    policy_file: Path

    @property
    def reports_dir(self) -> Path:
        """Monthly reports and customer notices: FAIRUSE_REPORTS_DIR, else `reports/` beside the warehouse."""
        env = os.environ.get("FAIRUSE_REPORTS_DIR")
        return _abs(env) if env else self.data_dir / "reports"

    @property
    def build_db(self) -> Path:
        """The DuckDB file runs write to; only publishing touches `warehouse`."""
        return self.warehouse.with_name(self.warehouse.stem + ".build.duckdb")

    @property
    def data_dir(self) -> Path:
        return self.warehouse.parent


def _abs(value: str) -> Path:
    p = Path(value).expanduser()
    return (p if p.is_absolute() else Path.cwd() / p).resolve()


def get_settings(
    raw_dir: str | None = None,
    warehouse: str | None = None,
    exports_dir: str | None = None,
    policy_file: str | None = None,
) -> Settings:
    """Explicit arguments win over FAIRUSE_* variables, which win over the defaults under data/."""
    env = os.environ
    s = Settings(
        raw_dir=_abs(raw_dir or env.get("FAIRUSE_RAW_DIR") or str(REPO_ROOT / "data" / "raw")),
        warehouse=_abs(warehouse or env.get("FAIRUSE_WAREHOUSE") or str(REPO_ROOT / "data" / "warehouse.duckdb")),
        exports_dir=_abs(exports_dir or env.get("FAIRUSE_EXPORTS_DIR") or str(REPO_ROOT / "data" / "exports")),
        policy_file=_abs(policy_file or env.get("FAIRUSE_POLICY_FILE") or str(DEFAULT_POLICY_FILE)),
    )
    return s


def export_to_environment(s: Settings) -> None:
    """Make the settings visible to dbt subprocesses (profiles.yml reads FAIRUSE_BUILD_DB)."""
    os.environ["FAIRUSE_RAW_DIR"] = str(s.raw_dir)
    os.environ["FAIRUSE_WAREHOUSE"] = str(s.warehouse)
    os.environ["FAIRUSE_EXPORTS_DIR"] = str(s.exports_dir)
    os.environ["FAIRUSE_POLICY_FILE"] = str(s.policy_file)
    os.environ["FAIRUSE_BUILD_DB"] = str(s.build_db)
    os.environ.setdefault("FAIRUSE_HASH_KEY", hash_key(s))


def hash_key(s: Settings) -> str:
    """Key for hashing phone numbers: FAIRUSE_HASH_KEY, else a random key kept beside the warehouse.

    The key is never in the repository; data/ is git-ignored.
    """
    if os.environ.get("FAIRUSE_HASH_KEY"):
        return os.environ["FAIRUSE_HASH_KEY"]
    key_file = s.data_dir / ".hash_key"
    if not key_file.exists():
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_hex(32))
    return key_file.read_text().strip()
