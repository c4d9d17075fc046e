"""domain/gc_tuning.py: the collector thresholds of a process that builds months."""

from __future__ import annotations

import gc

import pytest

from dagster_project.domain import gc_tuning


@pytest.fixture(autouse=True)
def restore_thresholds():
    saved = gc.get_threshold()
    yield
    gc.set_threshold(*saved)


def test_raises_the_default_thresholds():
    gc.set_threshold(700, 10, 10)  # Python's defaults
    gc_tuning.for_building_months()
    assert gc.get_threshold() == (50_000, 20, 1000)


def test_never_lowers_a_higher_threshold_and_is_idempotent():
    gc.set_threshold(80_000, 5, 5000)
    gc_tuning.for_building_months()
    gc_tuning.for_building_months()
    assert gc.get_threshold() == (80_000, 20, 5000)


def test_loading_the_definitions_raises_only_the_young_threshold_and_a_run_then_the_rest():
    gc.set_threshold(700, 10, 10)
    gc_tuning.for_loading_definitions()  # any Dagster process (webserver, daemon, code server, run worker)
    assert gc.get_threshold() == (50_000, 10, 10)
    gc_tuning.for_building_months()  # the run's process, when its run starts
    assert gc.get_threshold() == (50_000, 20, 1000)
    gc_tuning.for_loading_definitions()  # never lowers
    assert gc.get_threshold() == (50_000, 20, 1000)


def test_leaves_collection_switched_off():
    gc.set_threshold(0)
    gc_tuning.for_building_months()
    assert gc.get_threshold()[0] == 0


def test_nothing_is_tuned_at_import():
    import subprocess
    import sys

    code = ("import gc; before = gc.get_threshold(); import dagster_project.cli.main, dagster_project.defs.resources, "
            "dagster_project.definitions; assert gc.get_threshold() == before, gc.get_threshold()")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_resource_tunes_a_runs_process_not_a_sensors_tick(tmp_path):
    import dagster as dg

    from dagster_project.defs.resources import FairuseResource
    from dagster_project.domain.settings import get_settings

    settings = get_settings(tmp_path / "raw", tmp_path / "warehouse.duckdb", tmp_path / "exports", None)
    fairuse = FairuseResource.from_settings(settings)
    gc.set_threshold(700, 10, 10)
    with dg.build_resources({"fairuse": fairuse}):  # a sensor's or a schedule's tick: no run
        pass
    assert gc.get_threshold() == (700, 10, 10)

    @dg.asset(required_resource_keys={"fairuse"})
    def uses_it() -> None:
        return None

    assert dg.materialize([uses_it], resources={"fairuse": fairuse}).success  # a run
    assert gc.get_threshold() == gc_tuning.THRESHOLDS
