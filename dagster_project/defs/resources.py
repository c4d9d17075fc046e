"""The pipeline's resource: the settings (domain/settings.py) as Dagster config, and the policy they point at.

The resource's fields are generated from `Settings`' fields (paths as text, which Dagster's config takes), so a
setting is declared once, in domain/settings.py. The hash key is the one field that never holds a value: it is
the environment variable FAIRUSE_HASH_KEY (`dg.EnvVar`), read when a run starts; Dagster's UI shows the
variable's name, never the key.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, get_args

import dagster as dg
from pydantic import SecretStr, create_model

from dagster_project.domain import gc_tuning
from dagster_project.domain.policy import Policy, load_policy
from dagster_project.domain.settings import HASH_KEY_VARIABLE, Settings, SettingsError


def _config_type(annotation: Any) -> Any:
    """A settings field's type as a Dagster config type: paths and secrets as text, Literal choices as text."""
    args = [a for a in get_args(annotation) if a is not type(None)]
    if args and len(args) < len(get_args(annotation)):  # Optional[X]
        return _config_type(args[0]) | None
    path_or_url = bool(args) and set(args) <= {Path, str}  # the exports: a folder or a bucket's URL
    if annotation in (Path, SecretStr) or path_or_url or getattr(annotation, "__origin__", None) is not None:
        return str
    return annotation


_FIELDS = {name: (_config_type(f.annotation), None if f.default is None else
                  str(f.default) if isinstance(f.default, Path) else f.default)
           for name, f in Settings.model_fields.items()}
_SettingsConfig = create_model("SettingsConfig", **_FIELDS)  # every setting, as Dagster config (see above)


class FairuseResource(dg.ConfigurableResource, _SettingsConfig):
    """The settings, resolved where the definitions are built (definitions.py); shown in the UI's resource page
    (the hash key as the name of its variable only)."""

    @classmethod
    def from_settings(cls, s: Settings) -> FairuseResource:
        values = {name: (str(v) if isinstance(v, Path) else v) for name, v in s if name != "hash_key"}
        return cls(**values, hash_key=_hash_key_config(s))

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """A run (UI, schedule, sensor, backfill) builds its month in its own process (in-process executor):
        Python's collector tuned for that (domain/gc_tuning.py: ~0.25 s of collections less in the dbt step).
        Not when the resource serves a sensor's tick (no run): that is the long-lived code server's process."""
        if context.run_id is not None:
            gc_tuning.for_building_months()

    def settings(self) -> Settings:
        return Settings(**{name: getattr(self, name) for name in Settings.model_fields})

    def policy(self) -> Policy:
        return load_policy(self.policy_file)


def _hash_key_config(s: Settings) -> Any:
    """None (the key file beside the warehouse), or the variable FAIRUSE_HASH_KEY: a key given to the settings
    some other way cannot reach a Dagster run without showing in its config, so it is refused."""
    if s.hash_key is None:
        return None
    if os.environ.get(HASH_KEY_VARIABLE) != s.hash_key.get_secret_value():
        raise SettingsError(f"{HASH_KEY_VARIABLE}: the hash key reaches Dagster only as this environment variable "
                            "of the process that loads the definitions")
    return dg.EnvVar(HASH_KEY_VARIABLE)


