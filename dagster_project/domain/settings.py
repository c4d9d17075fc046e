"""Where the pipeline reads and writes, which policy applies and how it runs: the settings, declared ONCE.

`Settings` is a pydantic model: each field its type, range, default, variable (FAIRUSE_<FIELD NAME>), command-line
option where there is one, and what it accepts (`_setting`). `settings_from_env` is the one place that reads
FAIRUSE_* variables: an option given on the command line wins, then the variable, then the default. A bad value
is a SettingsError naming the option or variable and what it accepts, e.g.
`FAIRUSE_LOCK_TIMEOUT='abc': a number of seconds`. The Dagster resource (defs/resources.py) is built from these
fields, never restating them. Adding a setting = one field here (with `_setting`), documented in docs/operators.md.

The hash key (FAIRUSE_HASH_KEY) is a secret (`SecretStr`: never in a repr, a log or Dagster's UI).
Nothing here writes the environment: dbt, a subprocess, gets its variables from `dbt_env` when it is started.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from dagster_project.domain.locations import aws_region_env, resolve

REPO_ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT_DIR = REPO_ROOT / "dbt_models"
DEFAULT_POLICY_FILE = REPO_ROOT / "policy" / "fair_use_policy.yaml"
DEFAULT_DATA_DIR = REPO_ROOT / "data"
ENGINES = ("duckdb", "spark")  # FAIRUSE_ENGINE / `fairuse run --engine`: what builds the dbt models (domain/engine.py)
ENV_PREFIX = "FAIRUSE_"
HASH_KEY_VARIABLE = "FAIRUSE_HASH_KEY"


class SettingsError(ValueError):
    """A setting that cannot be used; the message names the variable or option and what it accepts."""


def build_db_for(warehouse: Path) -> Path:
    """The build database of a warehouse file (`Settings.build_db`)."""
    return warehouse.parent / "build" / (warehouse.stem + ".build.duckdb")


def _setting(default: Any, accepts: str, *, option: str | None = None, **constraints: Any) -> Any:
    """A field of Settings: `accepts` is said when a value is refused; `option` the command line's, if any."""
    return Field(default, description=accepts, json_schema_extra={"option": option} if option else None,
                 **constraints)


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)

    raw_dir: Path | str = _setting(DEFAULT_DATA_DIR / "raw", "a folder path or a bucket's URL (s3://bucket/prefix)",
                                   option="--raw-dir")
    warehouse: Path = _setting(DEFAULT_DATA_DIR / "warehouse.duckdb", "a file path (the published DuckDB file)",
                               option="--warehouse")
    exports_dir: Path | str = _setting(DEFAULT_DATA_DIR / "exports", "a folder path or a bucket's URL "
                                       "(s3://bucket/prefix)", option="--exports-dir")
    policy_file: Path = _setting(DEFAULT_POLICY_FILE, "a policy YAML file path", option="--policy")
    reports_dir: Path | None = _setting(None, "a folder path (default: reports/ beside the warehouse)")
    schedule_day: int = _setting(2, "a day of the month, 1-28", ge=1, le=28)  # the monthly schedule (UTC)
    schedule_hour: int = _setting(6, "an hour of the day, 0-23 (UTC)", ge=0, le=23)
    duckdb_memory_limit: str = _setting("3GB", "a DuckDB memory size such as 3GB or 500MB",
                                        pattern=r"(?i)^\s*\d+(\.\d+)?\s*(%|[KMGT]i?B|[KMGT]|B|bytes)?\s*$")
    hash_key: SecretStr | None = _setting(None, "the pseudonymisation key (text); unset: a random key kept in "
                                                "<data>/.hash_key")
    lock_timeout: float = _setting(3600.0, "a number of seconds > 0", option="--lock-timeout", gt=0)
    engine: Literal["duckdb", "spark"] = _setting("duckdb", f"one of {', '.join(ENGINES)}", option="--engine")
    spark_master: str = _setting("local[2]", "a Spark master URL such as local[2]", min_length=1)
    spark_remote: str | None = _setting(None, "a Spark Connect URL, sc://host:port", pattern=r"^sc://")
    spark_driver_memory: str = _setting("4g", "a JVM memory size such as 4g", pattern=r"^\d+[kmgtKMGT]?$")
    # The completeness gate (domain/completeness.py): operational settings, not policy.
    gate_min_share: float = _setting(0.5, "a share of the recent months' median, 0-1 (a month below it is held)",
                                     ge=0, le=1)
    gate_history_months: int = _setting(3, "a number of built months >= 1 (the median is taken over them)", ge=1)
    gate_watermark_days: float = _setting(3.0, "a number of days >= 0 (latest event at most this long before month "
                                               "end)", ge=0)
    gate_min_rows: int = _setting(100, "a number of rows >= 0 (fewer: judged on presence only)", ge=0)
    gate_account_min_users: int = _setting(10, "a number of users >= 1 (accounts this large are judged on their "
                                               "own)", ge=1)

    @field_validator("warehouse", "policy_file", "reports_dir")
    @classmethod
    def _absolute(cls, value: Path | None) -> Path | None:
        return None if value is None else _abs(value)

    @field_validator("exports_dir", "raw_dir", mode="before")
    @classmethod
    def _location(cls, value: Any) -> Any:
        return resolve(value) if isinstance(value, str | Path) else value  # domain/locations.py

    @field_validator("raw_dir")
    @classmethod
    def _s3_only(cls, value: Path | str) -> Path | str:
        # DuckDB reads raw data in a bucket through s3fs (profiles.yml `duckdb_s3`): no other scheme
        if isinstance(value, str) and not value.startswith("s3://"):
            raise ValueError("not an s3:// URL")
        return value

    @field_validator("engine", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _reports_beside_the_warehouse(self) -> Settings:
        if self.reports_dir is None:
            object.__setattr__(self, "reports_dir", self.warehouse.parent / "reports")
        return self

    def replace(self, **changes: Any) -> Settings:
        """A copy with some settings changed, validated again (a bad value: SettingsError naming the field)."""
        return _validated({**dict(self), **changes}, {k: k for k in changes})

    @property
    def build_db(self) -> Path:
        """The DuckDB file runs write to; only publishing touches `warehouse`. It holds phone numbers in clear
        (staging), so it lives in an owner-only folder (`build/` beside the warehouse, 0700) with its WAL and
        DuckDB's spill files."""
        return build_db_for(self.warehouse)

    @property
    def gate(self):
        """The completeness gate's settings (domain/completeness.py)."""
        from dagster_project.domain.completeness import GateSettings

        return GateSettings(min_share=self.gate_min_share, history_months=self.gate_history_months,
                            watermark_days=self.gate_watermark_days, min_rows=self.gate_min_rows,
                            account_min_users=self.gate_account_min_users)

    @property
    def data_dir(self) -> Path:
        return self.warehouse.parent

    @property
    def spark_dir(self) -> Path:
        """The Spark engine's catalog (an embedded Derby metastore) and its tables (warehouse dir), beside the
        build database in the owner-only build folder: the tables outlive the process, queryable from Spark."""
        return self.build_db.parent / (self.warehouse.stem + ".spark")


def variable_of(field: str) -> str:
    """The FAIRUSE_* variable of a setting."""
    return ENV_PREFIX + field.upper()


def option_of(field: str) -> str | None:
    """The command line's option for a setting, if it has one."""
    extra = Settings.model_fields[field].json_schema_extra
    return extra.get("option") if isinstance(extra, dict) else None


def _abs(value: str | Path) -> Path:
    p = Path(value).expanduser()
    return (p if p.is_absolute() else Path.cwd() / p).resolve()


def _validated(values: dict[str, Any], sources: dict[str, str]) -> Settings:
    try:
        return Settings(**values)
    except ValidationError as e:
        err = e.errors()[0]
        field = str(err["loc"][0]) if err["loc"] else ""
        accepts = Settings.model_fields[field].description if field in Settings.model_fields else err["msg"]
        where = sources.get(field, field)
        shown = "<hidden>" if field == "hash_key" else repr(values.get(field))
        raise SettingsError(f"{where}={shown}: {accepts}") from None


def settings_from_env(env: Mapping[str, str] | None = None, **options: Any) -> Settings:
    """Options given (not None) win over FAIRUSE_* variables (empty = unset), which win over the defaults.
    `options` are fields of Settings (the CLI's --raw-dir, --warehouse, --policy ... under their field names)."""
    env = os.environ if env is None else env
    unknown = set(options) - set(Settings.model_fields)
    if unknown:
        raise TypeError(f"not a setting: {', '.join(sorted(unknown))}")
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for field in Settings.model_fields:
        if options.get(field) is not None:
            values[field] = options[field]
            sources[field] = option_of(field) or field
        elif env.get(variable_of(field)):
            values[field] = env[variable_of(field)]
            sources[field] = variable_of(field)
    return _validated(values, sources)


def get_settings(
    raw_dir: str | None = None,
    warehouse: str | None = None,
    exports_dir: str | None = None,
    policy_file: str | None = None,
    **options: Any,
) -> Settings:
    """`settings_from_env` of this process's environment (the CLI's options first)."""
    return settings_from_env(raw_dir=raw_dir, warehouse=warehouse, exports_dir=exports_dir,
                             policy_file=policy_file, **options)


def hash_key(s: Settings) -> str:
    """Key for hashing phone numbers: FAIRUSE_HASH_KEY, else a random key kept beside the warehouse (created
    on first use). The key is never in the repository; data/ is git-ignored."""
    if s.hash_key is not None and s.hash_key.get_secret_value():
        return s.hash_key.get_secret_value()
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
    """The variables dbt's profiles.yml and macros read, for a dbt process started with these settings; with
    AWS_REGION set, AWS_DEFAULT_REGION too (the S3 file system of profiles.yml `duckdb_s3`: botocore reads only
    that name)."""
    return {
        "FAIRUSE_BUILD_DB": str(s.build_db),
        "FAIRUSE_HASH_KEY": hash_key(s),
        "FAIRUSE_DUCKDB_MEMORY_LIMIT": s.duckdb_memory_limit,
        **aws_region_env(),
    }
