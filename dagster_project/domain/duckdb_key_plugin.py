"""A dbt-duckdb plugin (profiles.yml `plugins:`) that hands the pseudonymisation key to DuckDB at run time.

The key is set as a DuckDB variable on every connection dbt opens, as a bound parameter, so it is never part of
any SQL text: compiled and run SQL, manifests, run results, logs and docs only ever say
`getvariable('fairuse_hash_key')` (macros/keyed_hash.sql). It comes from FAIRUSE_HASH_KEY in dbt's environment,
which Dagster sets for the dbt invocation from the settings (domain/settings.py `dbt_env`).
"""

from __future__ import annotations

import os

from dbt.adapters.duckdb.plugins import BasePlugin

KEY_VARIABLE = "fairuse_hash_key"


def set_key(conn) -> None:
    key = os.environ.get("FAIRUSE_HASH_KEY")
    if key:
        conn.execute(f"set variable {KEY_VARIABLE} = ?", [key])


class Plugin(BasePlugin):
    def configure_connection(self, conn) -> None:
        set_key(conn)

    def configure_cursor(self, cursor) -> None:
        set_key(cursor)
