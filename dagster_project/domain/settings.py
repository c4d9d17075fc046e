"""Where the pipeline reads and writes, and which policy applies: resolved once, to absolute paths.

`settings_from_env` is the one place that reads FAIRUSE_* variables (the CLI passes its options on top). Nothing
here writes the environment: dbt, a subprocess, gets its variables from `dbt_env` at the moment it is started.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dagster_project.domain.locations import resolve

REPO_ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT_DIR = REPO_ROOT / "dbt_models"
DEFAULT_POLICY_FILE = REPO_ROOT / "policy" / "fair_use_policy.yaml"
DEFAULT_DATA_DIR = REPO_ROOT / "data"
ENGINES = ("duckdb", "spark")  # FAIRUSE_ENGINE / `fairuse run --engine`: what builds the dbt models (domain/engine.py)


class SettingsError(ValueError):
    """A setting that cannot be used (an unknown engine); the message names the variable or option."""


def build_db_for(warehouse: Path) -> Path:
    """The build database of a warehouse file (`Settings.build_db`)."""
    return warehouse.parent / "build" / (warehouse.stem + ".build.duckdb")


@dataclass(frozen=True)
class Settings:
    raw_dir: Path
    warehouse: Path  # the published, read-only-for-analysts DuckDB file
    exports_dir: Path | str  # a folder, or a bucket's URL (s3://bucket/prefix: domain/locations.py)
    policy_file: Path
    reports_dir: Path
    schedule_day: int = 2  # the monthly schedule: day of month and hour (UTC)
    schedule_hour: int = 6
    duckdb_memory_limit: str = "3GB"
    hash_key: str | None = None  # FAIRUSE_HASH_KEY; else a random key kept in <data>/.hash_key
    lock_timeout: float = 3600.0  # how long a run waits for another run of the same warehouse (seconds)
    engine: str = "duckdb"  # FAIRUSE_ENGINE: duckdb | spark (domain/engine.py)
    spark_master: str = "local[2]"  # FAIRUSE_SPARK_MASTER: the local Spark session's master (engine spark)
    spark_remote: str | None = None  # FAIRUSE_SPARK_REMOTE: a Spark Connect server, sc://host:port (a cluster)
    spark_driver_memory: str = "4g"  # FAIRUSE_SPARK_DRIVER_MEMORY: heap of the local Spark session

    def __post_init__(self):
        if self.engine not in ENGINES:
            raise SettingsError(f"unknown engine {self.engine!r} (FAIRUSE_ENGINE / --engine): "
                                f"one of {', '.join(ENGINES)}")

    @property
    def build_db(self) -> Path:
        """The DuckDB file runs write to; only publishing touches `warehouse`. It holds phone numbers in clear
        (staging), so it lives in an owner-only folder (`build/` beside the warehouse, 0700) with its WAL and
        DuckDB's spill files."""
        return build_db_for(self.warehouse)

    @property
    def data_dir(self) -> Path:
        return self.warehouse.parent

    @property
    def spark_dir(self) -> Path:
        """The Spark engine's catalog (an embedded Derby metastore) and its tables (warehouse dir), beside the
        build database in the owner-only build folder: the tables outlive the process, queryable from Spark."""
        return self.build_db.parent / (self.warehouse.stem + ".spark")


def _abs(value: str | Path) -> Path:
    p = Path(value).expanduser()
    return (p if p.is_absolute() else Path.cwd() / p).resolve()


def settings_from_env(
    env: Mapping[str, str] | None = None,
    *,
    raw_dir: str | None = None,
    warehouse: str | None = None,
    exports_dir: str | None = None,
    policy_file: str | None = None,
    engine: str | None = None,
) -> Settings:
    """Explicit arguments win over FAIRUSE_* variables, which win over the defaults under data/."""
    env = os.environ if env is None else env
    wh = _abs(warehouse or env.get("FAIRUSE_WAREHOUSE") or DEFAULT_DATA_DIR / "warehouse.duckdb")
    return Settings(
        raw_dir=_abs(raw_dir or env.get("FAIRUSE_RAW_DIR") or DEFAULT_DATA_DIR / "raw"),
        warehouse=wh,
        exports_dir=resolve(exports_dir or env.get("FAIRUSE_EXPORTS_DIR") or DEFAULT_DATA_DIR / "exports"),
        policy_file=_abs(policy_file or env.get("FAIRUSE_POLICY_FILE") or DEFAULT_POLICY_FILE),
        reports_dir=_abs(env.get("FAIRUSE_REPORTS_DIR") or wh.parent / "reports"),
        schedule_day=int(env.get("FAIRUSE_SCHEDULE_DAY", "2")),
        schedule_hour=int(env.get("FAIRUSE_SCHEDULE_HOUR", "6")),
        duckdb_memory_limit=env.get("FAIRUSE_DUCKDB_MEMORY_LIMIT", "3GB"),
        hash_key=env.get("FAIRUSE_HASH_KEY") or None,
        lock_timeout=float(env.get("FAIRUSE_LOCK_TIMEOUT", "3600")),
        engine=(engine or env.get("FAIRUSE_ENGINE") or "duckdb").lower(),
        spark_master=env.get("FAIRUSE_SPARK_MASTER") or "local[2]",
        spark_remote=env.get("FAIRUSE_SPARK_REMOTE") or None,
        spark_driver_memory=env.get("FAIRUSE_SPARK_DRIVER_MEMORY") or "4g",
    )


def get_settings(
    raw_dir: str | None = None,
    warehouse: str | None = None,
    exports_dir: str | None = None,
    policy_file: str | None = None,
    engine: str | None = None,
) -> Settings:
    """`settings_from_env` of this process's environment (the CLI's options first)."""
    return settings_from_env(raw_dir=raw_dir, warehouse=warehouse, exports_dir=exports_dir,
                             policy_file=policy_file, engine=engine)


def hash_key(s: Settings) -> str:
    """Key for hashing phone numbers: FAIRUSE_HASH_KEY, else a random key kept beside the warehouse (created
    on first use). The key is never in the repository; data/ is git-ignored."""
    if s.hash_key:
        return s.hash_key
    key_file = s.data_dir / ".hash_key"
    if not key_file.exists():
        key_file.parent.mkdir(parents=True, exist_ok=True)
        try:  # owner-only from the first byte (0600), never world-readable in between
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it first: use theirs
            return key_file.read_text().strip()
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    return key_file.read_text().strip()


def dbt_env(s: Settings) -> dict[str, str]:
    """The variables dbt's profiles.yml and macros read, for a dbt process started with these settings."""
    return {
        "FAIRUSE_BUILD_DB": str(s.build_db),
        "FAIRUSE_HASH_KEY": hash_key(s),
        "FAIRUSE_DUCKDB_MEMORY_LIMIT": s.duckdb_memory_limit,
    }
