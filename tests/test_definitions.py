"""The Dagster definitions load, cleanly, from settings alone; lineage and groups come from the dbt manifest.

Fast tier: no run, no data. The manifest is parsed only if a model changed since it was written.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import warnings

import dagster as dg
import pytest

from dagster_project.defs.assets.publish import EXPORTS_KEY, WAREHOUSE_KEY
from dagster_project.domain.dbt_project import ensure_manifest
from dagster_project.domain.settings import REPO_ROOT, settings_from_env


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("defs")
    return settings_from_env({"FAIRUSE_SCHEDULE_DAY": "3", "FAIRUSE_SCHEDULE_HOUR": "7"},
                             raw_dir=str(tmp / "raw"), warehouse=str(tmp / "wh.duckdb"),
                             exports_dir=str(tmp / "exports"))


@pytest.fixture(scope="module")
def defs(settings):
    from dagster_project.definitions import build_definitions

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        d = build_definitions(settings)
        d.resolve_job_def("monthly_pipeline")
    dagster_warnings = [w for w in caught if not issubclass(w.category, DeprecationWarning)
                        and "dagster" in w.filename]
    return d, dagster_warnings


def test_definitions_load_without_warnings(defs):
    d, dagster_warnings = defs
    assert dg.Definitions.validate_loadable(d) is None
    assert not dagster_warnings, [str(w.message) for w in dagster_warnings]


def test_every_dbt_model_is_an_asset_with_group_and_owner(defs):
    d, _ = defs
    graph = d.resolve_asset_graph()
    manifest = json.loads(ensure_manifest().read_text())
    models = {n["name"]: n for n in manifest["nodes"].values() if n["resource_type"] == "model"
              and "watch" not in n["config"].get("tags", [])}  # provisional: `fairuse watch` only (below)
    for name, node in models.items():
        key = dg.AssetKey([node["config"]["schema"], node["alias"]])
        asset = graph.get(key)
        folders = node["fqn"][1:-1]
        expected_group = folders[1] if folders[0] == "marts" else folders[0]
        assert asset.group_name == expected_group, name
        assert asset.owners == ["team:data-platform"], name


def test_publish_depends_on_every_published_model(defs):
    d, _ = defs
    graph = d.resolve_asset_graph()
    manifest = json.loads(ensure_manifest().read_text())
    marts = {dg.AssetKey(["marts", n["name"]]) for n in manifest["nodes"].values()
             if n["resource_type"] == "model" and n["config"]["schema"] == "marts"
             and "watch" not in n["config"].get("tags", [])}  # provisional: `fairuse watch` only
    assert marts, "no marts in the manifest"
    assert set(graph.get(WAREHOUSE_KEY).parent_keys) == marts
    assert set(graph.get(EXPORTS_KEY).parent_keys) == {WAREHOUSE_KEY}
    # Internal models never reach the published schema.
    assert not any(k.path[1].startswith("int_") for k in marts)


def test_the_completeness_gate_is_a_blocking_check_upstream_of_every_publish_asset(defs):
    d, _ = defs
    graph = d.resolve_asset_graph()
    usage = dg.AssetKey(["marts", "fct_user_monthly_usage"])
    gate = dg.AssetCheckKey(usage, "completeness_gate")
    assert graph.get_check_spec(gate).blocking  # a failed gate stops the run's later steps
    publish = {k for k in graph.get_all_asset_keys() if k.path[0] == "publish"}
    assert publish == {WAREHOUSE_KEY, EXPORTS_KEY, dg.AssetKey(["publish", "report"])}
    assert usage in graph.get(WAREHOUSE_KEY).parent_keys
    assert all(usage in graph.get_ancestor_asset_keys(k) for k in publish)
    # ... and the monthly job runs it, between the checked model and the publish assets.
    assert gate in d.resolve_job_def("monthly_pipeline").asset_layer.asset_graph.asset_check_keys


def test_settings_reach_resources_and_schedule(defs, settings):
    d, _ = defs
    schedule = d.resolve_schedule_def("monthly_pipeline_schedule")
    assert schedule.cron_schedule == "0 7 3 * *"
    fairuse = d.resources["fairuse"]
    for field in ("raw_dir", "warehouse", "exports_dir", "policy_file", "reports_dir", "build_db"):
        assert getattr(fairuse.settings(), field) == getattr(settings, field)


def test_the_watch_is_a_stopped_daily_schedule_and_no_asset_of_a_month(defs):
    d, _ = defs
    schedule = d.resolve_schedule_def("month_to_date_watch_schedule")
    assert schedule.cron_schedule == "0 7 * * *"
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
    assert schedule.job_name == "month_to_date_watch_job"
    keys = d.resolve_asset_graph().get_all_asset_keys()
    assert dg.AssetKey(["marts", "fct_month_to_date_watch"]) not in keys
    assert dg.AssetKey(["marts", "fct_published_thresholds"]) in keys
    context = dg.build_schedule_context(scheduled_execution_time=dt.datetime(2026, 3, 16, 7, tzinfo=dt.UTC))
    request = schedule.evaluate_tick(context).run_requests[0]
    assert request.run_config == {"ops": {"month_to_date_watch": {"config": {"month": "2026-03"}}}}


def test_every_asset_has_one_backfill_policy(defs):
    d, _ = defs
    graph = d.resolve_asset_graph()
    policies = {graph.get(k).backfill_policy for k in graph.executable_asset_keys}
    assert policies == {dg.BackfillPolicy.multi_run(max_partitions_per_run=1)}


def test_importing_the_package_has_no_side_effects(tmp_path):
    """Importing every module changes neither the environment nor the files around it."""
    code = ("import os, pkgutil, importlib, dagster_project;"
            "before = dict(os.environ);"
            "mods = pkgutil.walk_packages(dagster_project.__path__, 'dagster_project.');"
            "[importlib.import_module(m.name) for m in mods if '__main__' not in m.name];"
            "assert dict(os.environ) == before, set(os.environ.items()) ^ set(before.items())")
    data = REPO_ROOT / "data"
    listing = sorted(p.name for p in data.iterdir()) if data.exists() else []
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (sorted(p.name for p in data.iterdir()) if data.exists() else []) == listing


def test_one_setting_picks_the_engine(tmp_path):
    """FAIRUSE_ENGINE (or --engine) reaches the resource the assets read; the default is DuckDB; a typo is refused
    naming the variable; `fairuse run --engine` parses."""
    from dagster_project.cli.args import build_parser
    from dagster_project.defs.resources import FairuseResource
    from dagster_project.domain.engine import DuckDBEngine, engine_for
    from dagster_project.domain.settings import SettingsError

    wh = str(tmp_path / "wh.duckdb")
    assert settings_from_env({}, warehouse=wh).engine == "duckdb"
    assert isinstance(engine_for(settings_from_env({}, warehouse=wh)), DuckDBEngine)
    spark = settings_from_env({"FAIRUSE_ENGINE": "spark", "FAIRUSE_SPARK_REMOTE": "sc://10.0.0.5:15002"}, warehouse=wh)
    assert FairuseResource.from_settings(spark).settings() == spark
    assert (spark.engine, spark.spark_remote) == ("spark", "sc://10.0.0.5:15002")
    assert settings_from_env({"FAIRUSE_ENGINE": "spark"}, warehouse=wh, engine="duckdb").engine == "duckdb"
    assert spark.spark_dir.parent == spark.build_db.parent  # the owner-only build folder
    with pytest.raises(SettingsError, match="FAIRUSE_ENGINE"):
        settings_from_env({"FAIRUSE_ENGINE": "sparkk"}, warehouse=wh)
    assert build_parser().parse_args(["run", "--engine", "spark"]).engine == "spark"


def test_pyspark_stays_out_unless_spark_runs(tmp_path):
    """Loading the definitions (the UI), on either engine, and picking the DuckDB engine import no pyspark and no
    dbt-spark: the default `make demo` never pays for them, and the UI loads without the spark extra."""
    code = ("import sys; from dagster_project.definitions import build_definitions;"
            "from dagster_project.domain.settings import settings_from_env;"
            "from dagster_project.domain.engine import engine_for;"
            f"wh = {str(tmp_path / 'wh.duckdb')!r};"
            "[build_definitions(settings_from_env({'FAIRUSE_ENGINE': e}, warehouse=wh)) for e in ('duckdb', 'spark')];"
            "engine_for(settings_from_env({}, warehouse=wh));"
            "bad = [m for m in sys.modules if m.startswith(('pyspark', 'dbt.adapters.spark'))];"
            "assert not bad, bad")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
