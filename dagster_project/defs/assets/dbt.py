"""The dbt models as Dagster assets: one `dbt build` per month, with the month and the policy as vars.

Keys, groups and owners come from the dbt project itself (translator below, `meta.dagster.owners` in
dbt_project.yml), so the graph in the UI is the dbt graph, with nothing typed twice.
"""


import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject, dbt_assets

from dagster_project.defs.partitions import monthly_partitions, one_month_per_run
from dagster_project.defs.resources import FairuseResource
from dagster_project.domain.dbt_vars import dbt_vars_for_month
from dagster_project.domain.settings import DBT_PROJECT_DIR, dbt_env


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


@contextmanager
def dbt_environment(variables: dict[str, str]) -> Iterator[None]:
    """Set the variables dbt reads for the duration of one dbt invocation (it copies os.environ at start)."""
    saved = {k: os.environ.get(k) for k in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def build_dbt_assets(manifest: Path) -> dg.AssetsDefinition:
    @dbt_assets(
        manifest=manifest,
        project=dbt_project(),
        partitions_def=monthly_partitions,
        backfill_policy=one_month_per_run,
        # Tests on dbt sources (the raw assets) are asset checks of those assets like any other dbt test.
        dagster_dbt_translator=FairuseDbtTranslator(DagsterDbtTranslatorSettings(enable_source_tests_as_checks=True)),
        op_tags={"dagster/concurrency_key": "warehouse"},
    )
    def dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, fairuse: FairuseResource):
        """`dbt build` of one month: models (incremental on the month) and their data tests. dbt's unit tests
        check the SQL, not the month's data: they run in the test suite (tests/test_dbt_unit_tests.py)."""
        dbt_vars = dbt_vars_for_month(context.partition_key, fairuse.policy())
        with dbt_environment(dbt_env(fairuse.settings())):
            invocation = dbt.cli(["build", "--exclude", "test_type:unit", "--vars", json.dumps(dbt_vars)],
                                 context=context)
        yield from invocation.stream()

    return dbt_models
