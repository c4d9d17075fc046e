"""The one door to APIs that Dagster, dagster-dbt and dbt-duckdb do not publish.

Nothing else in the project imports a `dagster._` module, `dagster_dbt.asset_utils` or dbt-duckdb's internals;
each use is a small function or class here, whose docstring says what it relies on and why no public API does
the job. tests/test_private_apis.py (fast tier) is the canary: it checks every one of them against the installed
versions and, when an upgrade changes one, fails naming the item and what changed. Fix the item here (or replace
it with the public API the upgrade brought), nothing else.

Versions these were written against: dagster 1.13, dagster-dbt 0.29, dbt-duckdb 1.11; CPython 3.11-3.13 (the exit
handlers, below).

Importing this module imports nothing heavier than `dagster` and `dagster_dbt` themselves (which every caller has
imported already); dbt-duckdb and Dagster's workspace modules are imported when their function is called.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._serdes import ConfigurableClassData
from dagster_dbt import DagsterDbtTranslator, DbtProject
from dagster_dbt import asset_utils as _dbt_asset_utils

# ---------------------------------------------------------------------------------------------------------------
# dagster-dbt: how a @dbt_assets step decides what it runs and reports (defs/assets/dbt.py)


def dbt_selection_for_step(context: dg.AssetExecutionContext, manifest: Mapping[str, Any],
                           translator: DagsterDbtTranslator) -> tuple[list[str], str | None]:
    """dbt's selection arguments (`--select ... --exclude ...`) for the assets and checks a @dbt_assets step was
    asked for, and the indirect-selection mode to pass, exactly as dagster-dbt computes them for its own runs
    (the op's select/exclude/selector tags, the whole project unless the run selected a subset, the
    DBT_INDIRECT_SELECTION environment variable).

    Relies on `dagster_dbt.asset_utils.get_subset_selection_for_context` and the op-tag keys
    `DAGSTER_DBT_SELECT_METADATA_KEY`, `DAGSTER_DBT_EXCLUDE_METADATA_KEY`, `DAGSTER_DBT_SELECTOR_METADATA_KEY`,
    `DBT_INDIRECT_SELECTION_ENV`. Public only inside `DbtCliResource.cli(..., context=...)`, which runs dbt as a
    subprocess; the project runs dbt in process (domain/dbt_runner.py) and needs the same selection."""
    args, indirect = _dbt_asset_utils.get_subset_selection_for_context(
        context=context, manifest=manifest,
        select=context.op.tags.get(_dbt_asset_utils.DAGSTER_DBT_SELECT_METADATA_KEY),
        exclude=context.op.tags.get(_dbt_asset_utils.DAGSTER_DBT_EXCLUDE_METADATA_KEY),
        selector=context.op.tags.get(_dbt_asset_utils.DAGSTER_DBT_SELECTOR_METADATA_KEY),
        dagster_dbt_translator=translator,
        current_dbt_indirect_selection_env=os.getenv(_dbt_asset_utils.DBT_INDIRECT_SELECTION_ENV),
    )
    return list(args), indirect


def dbt_check_key_for_test(manifest: Mapping[str, Any], translator: DagsterDbtTranslator, test_unique_id: str,
                           project: DbtProject | None) -> dg.AssetCheckKey | None:
    """The asset check key dagster-dbt gives a dbt test (None when the test is not a check of one node): the
    key a step must report the test's result under.

    Relies on `dagster_dbt.asset_utils.get_asset_check_key_for_test`. dagster-dbt builds these keys when it
    defines the checks, but exposes the mapping test -> check only to its own `DbtCliInvocation` event stream
    (a subprocess's structured log)."""
    return _dbt_asset_utils.get_asset_check_key_for_test(manifest, translator, test_unique_id, project)


def dbt_source_checks_upstream(assets_def: dg.AssetsDefinition,
                               selected: Sequence[dg.AssetKey] | set[dg.AssetKey]) -> set[dg.AssetCheckKey]:
    """Checks (dbt tests on sources, `enable_source_tests_as_checks`) that a step selecting `selected` runs and
    must report although they are checks of upstream assets.

    Relies on `dagster_dbt.asset_utils.get_checks_on_sources_upstream_of_selected_assets`; public only inside
    `DbtCliResource.cli`, as above."""
    return set(_dbt_asset_utils.get_checks_on_sources_upstream_of_selected_assets(assets_def, set(selected)))


# ---------------------------------------------------------------------------------------------------------------
# dbt-duckdb (domain/dbt_runner.py)


def dbt_duckdb_database_name(path: Path | str) -> str:
    """The catalog name dbt-duckdb gives a database file (its file name up to the extension, with dbt-duckdb's
    rules for MotherDuck and DuckLake paths): what parsed nodes carry as their `database`.

    Relies on `dbt.adapters.duckdb.credentials.DuckDBCredentials.path_derived_database_name` (a static method of
    an internal class). dbt-duckdb documents the behaviour (the database is named after the file) but no function
    to ask it; copying its rules would drift when they change."""
    from dbt.adapters.duckdb.credentials import DuckDBCredentials

    return DuckDBCredentials.path_derived_database_name(str(path))


def close_dbt_duckdb() -> None:
    """Close the DuckDB database dbt-duckdb keeps open after an invocation, so that this process (publish, the
    next month) can open the file again, with any configuration.

    Relies on `DuckDBConnectionManager._LOCK` and `_ENV` (dbt.adapters.duckdb.connections): the process-wide
    environment holding the DuckDB instance. The public `close_all_connections()` forgets the environment without
    closing it (the file stays open until garbage collection, and DuckDB refuses to open it with another
    configuration meanwhile)."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager as manager

    with manager._LOCK:
        env, manager._ENV = manager._ENV, None
    if env is not None:
        env.close()


# ---------------------------------------------------------------------------------------------------------------
# Dagster: the local development instance's event log (dagster_home.yaml)


def _no_fsync(connection: Any) -> None:
    connection.exec_driver_sql("PRAGMA synchronous=OFF")


class UnsyncedSqliteEventLogStorage(SqliteEventLogStorage):
    """Dagster's SQLite event log, committing without an fsync per event: for local development only
    (dagster_home.yaml, `make demo` / `make ui`); a production instance uses Dagster's stock storage.

    A month's run writes ~160 events; SqliteEventLogStorage commits each in SQLite's default synchronous=FULL
    mode (two fsyncs, ~12 ms on these disks: 3-4 s of a demo month). Here every connection Dagster opens to
    write is set to synchronous=OFF before its transaction: SQLite still journals (WAL, Dagster's setting), so a
    killed process loses nothing it committed and never tears a file; what goes is durability against an
    operating-system crash or power loss in the seconds after a write (the run history, not the warehouse).

    Relies on `dagster._core.storage.event_log.sqlite.sqlite_event_log.SqliteEventLogStorage` (not exported by
    `dagster`), its private context manager `_connect(shard)` (every read and write of a run's or the index's
    file goes through it; it yields a SQLAlchemy connection before any statement of its transaction) and
    `dagster._serdes.ConfigurableClassData`. Dagster has no setting for SQLite's synchronous mode."""

    @classmethod
    def config_type(cls) -> dict:
        return {"base_dir": dg.Field(dg.StringSource, is_required=False)}

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData | None,
                          config_value: Mapping[str, Any]) -> UnsyncedSqliteEventLogStorage:
        # Dagster's own default place for the runs' files
        base_dir = config_value.get("base_dir") or os.path.join(os.environ["DAGSTER_HOME"], "history", "runs")
        return cls(base_dir=base_dir, inst_data=inst_data)

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Any]:
        with super()._connect(shard) as conn:
            _no_fsync(conn)
            yield conn


# ---------------------------------------------------------------------------------------------------------------
# Dagster: launching a run as the UI does (tools/bench/launcher.py, the benchmark only)


def dagster_workspace_api() -> tuple[type, type, type]:
    """(JobSubsetSelector, WorkspaceProcessContext, ModuleTarget): what the benchmark needs to start a code
    server for the project, find the job and submit a run through the instance's run launcher, as the UI does.

    Relies on `dagster._core.definitions.selector`, `dagster._core.workspace.context` and
    `dagster._core.workspace.load_target`. Dagster's public ways to launch a run (the UI, GraphQL, `dagster job
    launch`) go through a webserver or a CLI process, which would time those too."""
    from dagster._core.definitions.selector import JobSubsetSelector
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import ModuleTarget

    return JobSubsetSelector, WorkspaceProcessContext, ModuleTarget


# The instance configuration that launches runs at once, without a queue (tools/bench/launcher.py, the benchmark)
RUN_AT_ONCE = {"run_coordinator": {"module": "dagster._core.run_coordinator", "class": "DefaultRunCoordinator"},
               "run_launcher": {"module": "dagster._core.launcher", "class": "DefaultRunLauncher"}}
"""dagster.yaml's `run_coordinator` and `run_launcher` as Dagster's defaults, by module path: Dagster's instance
configuration names a class by its module, and its defaults live in `dagster._core` (there is no public alias)."""


# ---------------------------------------------------------------------------------------------------------------
# CPython: the exit handlers, run before the CLI leaves without the interpreter's teardown (cli/main.py `entry`)


def run_exit_handlers() -> None:
    """Run (and clear) the callbacks registered with `atexit`, as the interpreter's shutdown runs them first.

    Relies on `atexit._run_exitfuncs`, CPython's undocumented function that the interpreter's own shutdown
    calls; the `atexit` module publishes no way to run its callbacks early."""
    import atexit

    atexit._run_exitfuncs()
