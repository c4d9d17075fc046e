"""The dbt models as Dagster assets, one dbt invocation per month with vars from the partition."""


import json
from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets

from dagster_project.defs.partitions import monthly_partitions
from dagster_project.defs.resources import FairuseResource
from dagster_project.domain.dbt_project import dbt_project
from dagster_project.domain.dbt_vars import dbt_vars_for_month

# dbt folder -> Dagster asset group
_GROUPS = {"staging": "staging", "intermediate": "staging", "usage": "marts", "policy": "policy",
           "surcharge": "marts", "detection": "marts"}


class FairuseDbtTranslator(DagsterDbtTranslator):
    """Keys are schema/name, so dbt's source raw.calls is the raw loader's asset raw/calls: one graph."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return dg.AssetKey([dbt_resource_props["source_name"], dbt_resource_props["name"]])
        schema = dbt_resource_props.get("config", {}).get("schema") or dbt_resource_props["schema"]
        return dg.AssetKey([schema, dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn", [])
        for part in fqn[1:-1]:
            if part in _GROUPS:
                return _GROUPS[part]
        return "marts"

    def get_owners(self, dbt_resource_props: Mapping[str, Any]):
        return ["team:data-platform"]


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    partitions_def=monthly_partitions,
    dagster_dbt_translator=FairuseDbtTranslator(),
    op_tags={"dagster/concurrency_key": "warehouse"},
)
def dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, fairuse: FairuseResource):
    """`dbt build` of one month: models (incremental on the month) and their data tests."""
    dbt_vars = dbt_vars_for_month(context.partition_key, fairuse.policy())
    yield from dbt.cli(["build", "--vars", json.dumps(dbt_vars)], context=context).stream()
