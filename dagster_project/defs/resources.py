"""Resources built from settings: the pipeline's paths/policy, and the dbt CLI."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource

from dagster_project.domain.dbt_project import dbt_project
from dagster_project.domain.policy import Policy, load_policy
from dagster_project.domain.settings import Settings, export_to_environment, get_settings


class FairuseResource(dg.ConfigurableResource):
    """Where the raw data, the warehouse and the exports live, and which policy file applies.

    Empty strings mean: take FAIRUSE_* from the environment, else the defaults under data/.
    """

    raw_dir: str = ""
    warehouse: str = ""
    exports_dir: str = ""
    policy_file: str = ""

    def settings(self) -> Settings:
        s = get_settings(self.raw_dir or None, self.warehouse or None, self.exports_dir or None,
                         self.policy_file or None)
        export_to_environment(s)  # dbt (a subprocess) reads FAIRUSE_BUILD_DB and FAIRUSE_HASH_KEY
        Path(s.build_db).parent.mkdir(parents=True, exist_ok=True)
        return s

    def policy(self) -> Policy:
        return load_policy(self.settings().policy_file)


def dbt_executable() -> str:
    """The dbt of this interpreter's environment, so a venv works without being activated (`dagster dev` starts
    its code server with the resolved interpreter path, so look beside sys.prefix too)."""
    for candidate in (Path(sys.executable).with_name("dbt"), Path(sys.prefix) / "bin" / "dbt"):
        if candidate.exists():
            return str(candidate)
    return shutil.which("dbt") or "dbt"


def build_resources() -> dict:
    return {
        "fairuse": FairuseResource(),
        "dbt": DbtCliResource(project_dir=dbt_project, profiles_dir=str(dbt_project.profiles_dir),
                              dbt_executable=dbt_executable()),
    }
