"""Canary of dagster_project/private_apis.py: every unpublished API the project relies on is still there and still
does what the module says, on the installed Dagster, dagster-dbt and dbt-duckdb. A failure names the item and
what changed: fix that item in private_apis.py (or move it to the public API the upgrade brought).

Also: nothing else in the project imports those APIs (the one door)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from dagster_project import private_apis

ROOT = Path(__file__).resolve().parents[1]
PRIVATE_IMPORT = re.compile(r"from dagster\._|import dagster\._|dagster_dbt\.asset_utils|"
                            r"from dbt\.adapters\.duckdb\.(connections|credentials)|atexit\._")


def _params(fn) -> list[str]:
    return list(inspect.signature(fn).parameters)


def _require(item: str, ok: bool, what: str) -> None:
    if not ok:
        pytest.fail(f"private_apis.{item}: {what} (an upgrade changed an API this item relies on)", pytrace=False)


def test_only_private_apis_imports_private_apis():
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "dagster_project").rglob("*.py")
                 if p.name != "private_apis.py" and PRIVATE_IMPORT.search(p.read_text())]
    assert offenders == [], f"private APIs imported outside dagster_project/private_apis.py: {offenders}"


def test_dagster_dbt_selection_helpers():
    from dagster_dbt import asset_utils

    for name in ("DAGSTER_DBT_SELECT_METADATA_KEY", "DAGSTER_DBT_EXCLUDE_METADATA_KEY",
                 "DAGSTER_DBT_SELECTOR_METADATA_KEY", "DBT_INDIRECT_SELECTION_ENV",
                 "get_subset_selection_for_context", "get_asset_check_key_for_test",
                 "get_checks_on_sources_upstream_of_selected_assets"):
        _require("dbt_selection_for_step", hasattr(asset_utils, name), f"dagster_dbt.asset_utils.{name} is gone")
    _require("dbt_selection_for_step",
             {"context", "manifest", "select", "exclude", "selector", "dagster_dbt_translator",
              "current_dbt_indirect_selection_env"} <= set(_params(asset_utils.get_subset_selection_for_context)),
             f"get_subset_selection_for_context now takes {_params(asset_utils.get_subset_selection_for_context)}")
    _require("dbt_check_key_for_test",
             _params(asset_utils.get_asset_check_key_for_test)[:4] == [
                 "manifest", "dagster_dbt_translator", "test_unique_id", "project"],
             f"get_asset_check_key_for_test now takes {_params(asset_utils.get_asset_check_key_for_test)}")
    _require("dbt_source_checks_upstream",
             len(_params(asset_utils.get_checks_on_sources_upstream_of_selected_assets)) == 2,
             "get_checks_on_sources_upstream_of_selected_assets now takes "
             f"{_params(asset_utils.get_checks_on_sources_upstream_of_selected_assets)}")


def test_dagster_dbt_check_keys_are_the_definitions():
    """The check key of each dbt test, as the step reports it, is a check the @dbt_assets definition declares
    (and every declared check has its test)."""
    from dagster_project.defs.assets.dbt import build_dbt_assets, node_keys
    from dagster_project.domain.dbt_project import ensure_manifest

    manifest = ensure_manifest()
    assets_def = build_dbt_assets(manifest)
    keys = node_keys(manifest)
    _require("dbt_check_key_for_test", set(assets_def.check_keys) <= set(keys.checks.values()),
             f"checks without a dbt test: {sorted(map(str, set(assets_def.check_keys) - set(keys.checks.values())))}")
    source_checks = private_apis.dbt_source_checks_upstream(assets_def, set(assets_def.keys))
    _require("dbt_source_checks_upstream", all(c.asset_key.path[0] == "raw" for c in source_checks),
             f"not checks of the raw sources: {sorted(map(str, source_checks))}")


def test_dbt_duckdb_internals():
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    _require("dbt_duckdb_database_name",
             private_apis.dbt_duckdb_database_name("/x/build/warehouse.build.duckdb") == "warehouse",
             "DuckDBCredentials.path_derived_database_name names warehouse.build.duckdb otherwise")
    for attr in ("_LOCK", "_ENV"):
        _require("close_dbt_duckdb", attr in vars(DuckDBConnectionManager),
                 f"DuckDBConnectionManager.{attr} is gone (where dbt-duckdb keeps its open DuckDB)")
    private_apis.close_dbt_duckdb()  # nothing open: nothing to do, no error
    assert DuckDBConnectionManager._ENV is None


def test_dagster_sqlite_event_log_connect(tmp_path, monkeypatch):
    from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

    _require("UnsyncedSqliteEventLogStorage", "_connect" in vars(SqliteEventLogStorage)
             and _params(SqliteEventLogStorage._connect) == ["self", "shard"],
             "SqliteEventLogStorage._connect(shard) is gone or changed")
    for public in ("run_connection", "index_connection", "store_event"):
        _require("UnsyncedSqliteEventLogStorage", "_connect(" in inspect.getsource(
            next(c for c in SqliteEventLogStorage.__mro__ if public in vars(c)).__dict__[public])
            or public == "store_event", f"SqliteEventLogStorage.{public} no longer goes through _connect")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    storage = private_apis.UnsyncedSqliteEventLogStorage.from_config_value(None, {})
    for conn_of in (lambda: storage.run_connection("run-a"), storage.index_connection):
        with conn_of() as conn:
            _require("UnsyncedSqliteEventLogStorage", conn.exec_driver_sql("PRAGMA synchronous").scalar() == 0,
                     "a connection of the event log is not synchronous=OFF")
    storage.dispose()


def test_dagster_workspace_api():
    selector, context, target = private_apis.dagster_workspace_api()
    _require("dagster_workspace_api", {"location_name", "repository_name", "job_name", "op_selection"}
             <= set(_params(selector)), f"JobSubsetSelector now takes {_params(selector)}")
    fields = list(getattr(target, "_fields", None) or _params(target))  # a record: a named tuple's fields
    _require("dagster_workspace_api", fields[:4] == ["module_name", "attribute", "working_directory", "location_name"],
             f"ModuleTarget takes {fields}")
    _require("dagster_workspace_api", hasattr(context, "create_request_context"),
             "WorkspaceProcessContext.create_request_context is gone")


def test_run_at_once_instance_config():
    import importlib

    for key, ref in private_apis.RUN_AT_ONCE.items():
        module = importlib.import_module(ref["module"])
        _require("RUN_AT_ONCE", isinstance(getattr(module, ref["class"], None), type),
                 f"{key}: {ref['module']}.{ref['class']} is gone")


def test_run_exit_handlers():
    """In a fresh process (running the handlers here would run pytest's own): a registered callback runs, once."""
    import subprocess
    import sys

    code = ("import atexit, os\n"
            "from dagster_project.private_apis import run_exit_handlers\n"
            "atexit.register(print, 'handler ran')\n"
            "run_exit_handlers()\n"
            "print('after', flush=True)\n"
            "os._exit(0)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False)
    _require("run_exit_handlers", out.returncode == 0 and out.stdout.split("\n")[:2] == ["handler ran", "after"],
             f"atexit._run_exitfuncs did not run the callback: {out.stdout!r} {out.stderr[-300:]!r}")
