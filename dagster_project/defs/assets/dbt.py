"""The dbt models as Dagster assets: one `dbt build` per month, with the month and the policy as vars.

Keys, groups and owners come from the dbt project itself (translator below, `meta.dagster.owners` in
dbt_project.yml), so the graph in the UI is the dbt graph, with nothing typed twice.

dbt runs in the step's own process (domain/dbt_runner.py: parsed once per process, no `dbt --version`, no
re-parse per month); its per-node results become what dagster-dbt would report: a materialization per model that
ran, an asset check result per dbt test that is a check of these assets (other tests are logged).
"""


import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtProject, dbt_assets

from dagster_project.defs.partitions import monthly_partitions, one_month_per_run
from dagster_project.defs.resources import FairuseResource
from dagster_project.defs.warehouse_lock import hold_warehouse
from dagster_project.domain import month_state, policy_versions, run_progress
from dagster_project.domain.dbt_runner import BuildResult, DbtBuildError, dbt_environment, watch_nodes
from dagster_project.domain.dbt_vars import dbt_vars_for_month
from dagster_project.domain.engine import engine_for
from dagster_project.domain.publish import mark_unpublished
from dagster_project.domain.settings import DBT_PROJECT_DIR
from dagster_project.private_apis import dbt_check_key_for_test, dbt_selection_for_step, dbt_source_checks_upstream

__all__ = ["FairuseDbtTranslator", "build_dbt_assets", "dbt_environment", "dbt_project"]

# dbt's unit tests check the SQL, not the month's data: they run in the test suite (tests/test_dbt_unit_tests.py).
# Exposures (models/exposures.yml) document what reads the marts; a build has nothing to do for them.
EXCLUDE_ALWAYS = "test_type:unit resource_type:exposure"
# The provisional month-to-date watch (tag `watch`) is built only by `fairuse watch`, in a scratch copy
# (domain/watch.py): never an asset of a month's run.
NOT_MONTHLY = "tag:watch"


class FairuseDbtTranslator(DagsterDbtTranslator):
    """Keys are schema/table (the table's name in the warehouse: alias, else model name), so dbt's source
    raw.calls is the raw step's asset raw/calls, and audit/load_balance is the table analysts query.
    Groups follow the dbt folders: `staging`, `intermediate`, and under marts/ the subject (`usage`, `policy`,
    `surcharge`, `detection`)."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return dg.AssetKey([dbt_resource_props["source_name"], dbt_resource_props["name"]])
        config = dbt_resource_props.get("config", {})
        schema = config.get("schema") or dbt_resource_props["schema"]
        return dg.AssetKey([schema, config.get("alias") or dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        folders = dbt_resource_props.get("fqn", [])[1:-1]
        if not folders:
            return None
        return folders[1] if folders[0] == "marts" and len(folders) > 1 else folders[0]


def dbt_project() -> DbtProject:
    return DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


class _NodeKeys:
    """dbt unique ids -> Dagster keys, from the manifest of the @dbt_assets definition: the asset key of each
    model (the translator's asset spec), the check key of each test attached to one node (as dagster-dbt builds
    them). Which of them a step reports is decided by its selection."""

    def __init__(self, manifest: Mapping[str, Any], translator: DagsterDbtTranslator, project: DbtProject):
        self.manifest, self.translator = manifest, translator
        self.assets: dict[str, dg.AssetKey] = {}
        self.checks: dict[str, dg.AssetCheckKey] = {}
        for uid, node in manifest["nodes"].items():
            if node["resource_type"] in ("model", "seed", "snapshot"):
                self.assets[uid] = translator.get_asset_spec(manifest, uid, project).key
            elif node["resource_type"] == "test":
                check = dbt_check_key_for_test(manifest, translator, uid, project)
                if check is not None:
                    self.checks[uid] = check


def _dbt_selection(context: dg.AssetExecutionContext, keys: _NodeKeys) -> list[str]:
    """dbt selection arguments for the assets and checks this step was asked for (dagster-dbt's own logic: the
    whole project unless the run selected a subset), dbt's unit tests always left out."""
    args, indirect = dbt_selection_for_step(context, keys.manifest, keys.translator)
    if "--exclude" in args:
        i = args.index("--exclude") + 1
        args[i] = f"{args[i]} {EXCLUDE_ALWAYS}"
    else:
        args += ["--exclude", EXCLUDE_ALWAYS]
    if indirect:
        args += ["--indirect-selection", indirect]
    return args


def dagster_events(context: dg.AssetExecutionContext, result: BuildResult, keys: _NodeKeys) -> Iterator[
        dg.MaterializeResult | dg.AssetCheckResult]:
    """What dagster-dbt reports for a build, from dbt's per-node results, in dbt's order: a materialization for
    each selected model that ran, a check result for each expected asset check; other tests are logged."""
    selected_assets = context.selected_asset_keys
    expected_checks = {*context.selected_asset_check_keys,
                       *dbt_source_checks_upstream(context.assets_def, selected_assets)}
    for n in result.nodes:
        common = {"unique_id": n.unique_id, "invocation_id": result.invocation_id, "status": n.status,
                  "Execution Duration": n.execution_time}
        if n.is_model:
            key = keys.assets.get(n.unique_id)
            if n.status != "success":
                continue
            if key is None or key not in selected_assets:
                context.log.info(f"dbt built {n.unique_id}, not an asset of this step")
                continue
            metadata = dict(common)
            if n.rows_affected is not None:
                metadata["rows_affected"] = n.rows_affected
            yield dg.MaterializeResult(asset_key=key, metadata=metadata)
        elif n.resource_type == "test" and n.status != "skipped":
            check = keys.checks.get(n.unique_id)
            if check is None or check not in expected_checks:
                context.log.info(f"dbt test {n.name}: {n.status}")
                continue
            metadata = dict(common)
            if n.failures is not None:
                metadata["dagster_dbt/failed_row_count"] = n.failures
            yield dg.AssetCheckResult(
                asset_key=check.asset_key, check_name=check.name, passed=n.status == "pass",
                severity=dg.AssetCheckSeverity.WARN if n.status == "warn" else dg.AssetCheckSeverity.ERROR,
                metadata=metadata)


def translator() -> FairuseDbtTranslator:
    # Tests on dbt sources (the raw assets) are asset checks of those assets like any other dbt test.
    return FairuseDbtTranslator(DagsterDbtTranslatorSettings(enable_source_tests_as_checks=True))


def node_keys(manifest: Path, dbt_translator: DagsterDbtTranslator | None = None) -> _NodeKeys:
    """The keys of the @dbt_assets built from this manifest.json with this translator (default: the project's)."""
    return _NodeKeys(json.loads(manifest.read_text()), dbt_translator or translator(), dbt_project())


def build_dbt_assets(manifest: Path) -> dg.AssetsDefinition:
    dbt_translator = translator()
    built: list[_NodeKeys] = []  # built on first use: the definition's manifest does not change

    @dbt_assets(
        manifest=manifest,
        project=dbt_project(),
        partitions_def=monthly_partitions,
        backfill_policy=one_month_per_run,
        dagster_dbt_translator=dbt_translator,
        exclude=NOT_MONTHLY,
        op_tags={"dagster/concurrency_key": "warehouse"},
    )
    def dbt_models(context: dg.AssetExecutionContext, fairuse: FairuseResource):
        """`dbt build` of one month, in this process: models (incremental on the month) and their data tests."""
        s = fairuse.settings()
        configured = fairuse.policy()  # an invalid policy file fails here too (a run of these assets alone), first
        hold_warehouse(context, s)
        month = context.partition_key
        # Months built before policy versions (no record, no rates): refused, before dbt rebuilds their charges.
        policy_versions.check_recorded(s, [month])
        # The month's own version (a re-run keeps it), or the one an operator restates it under (run tag).
        policy, applied = policy_versions.policy_for_month(
            month, configured, policy_versions.read_history(s), context.run.tags.get(policy_versions.RESTATE_TAG),
            source=f"policy {s.policy_file}")
        context.log.info(f"{month}: policy {policy.version} ({applied.replace('_', ' ')})")
        if not built:
            built.append(node_keys(manifest, dbt_translator))
        keys = built[0]
        dbt_vars = dbt_vars_for_month(month, policy, applied)
        args = ["build", *_dbt_selection(context, keys), "--vars", json.dumps(dbt_vars)]
        # Before dbt writes: the month is being built (not whole until dbt succeeds: domain/month_state.py), and
        # its published tables are about to differ from the published file, until the next publish (which copies
        # the months so marked, only when every one of them is whole: domain/publish.py).
        month_state.record(s.warehouse, month, "building", run_id=context.run_id, step="dbt_models", error=None,
                           gate=None, reason=None)
        mark_unpublished(s.build_db, month)
        try:
            # each node starting and finishing goes to the run's progress record (`fairuse status`)
            with watch_nodes(run_progress.for_build_db(s.build_db).dbt_node):
                result = engine_for(s).dbt_build(s, args)  # the engine's profiles.yml output (domain/engine.py)
        except BaseException as e:  # a kill (SIGKILL) records nothing: the month stays `building`, never whole
            month_state.record(s.warehouse, month, "failed", step="dbt_models", error=str(e).splitlines()[0][:500])
            raise
        models = sum(n.is_model for n in result.nodes)
        tests = sum(n.resource_type == "test" for n in result.nodes)
        context.log.info(f"dbt build of {month}: {models} models, {tests} tests in {result.seconds:.2f}s; manifest "
                         f"{'parsed' if result.parsed else 'reused'} in {result.manifest_seconds:.2f}s")
        yield from dagster_events(context, result, keys)
        if not result.success:
            error = result.error_message(f"dbt build of {month}")
            month_state.record(s.warehouse, month, "failed", step="dbt_models", error=error.splitlines()[0][:500])
            raise DbtBuildError(error)
        month_state.record(s.warehouse, month, "built", step=None)

    return dbt_models
