"""The production instance (deploy/dagster.yaml: Dagster's state in PostgreSQL, a queued run coordinator with one
run per warehouse) and what the systemd units of deploy/ start, against a real throwaway PostgreSQL on 127.0.0.1,
with raw data (and, for `fairuse run`, the exports) in buckets of a real S3-compatible server (moto's).

Needs Debian's `postgresql` and the `deploy` extra (dagster-postgres); .ci/run installs both and fails if it
cannot. systemd itself cannot run here: the units' commands are started as subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import copy_conformance_raw, late_calls_file, upload_conformance_raw
from tests.deploy_services import (
    REGION,
    REPO,
    Services,
    dagster_home,
    postgres_bindir,
    postgres_cluster,
    s3_server,
)
from tests.helpers import bucket_files, dump_tables, local_files

PG_BIN = postgres_bindir()
try:
    import dagster_postgres  # noqa: F401 - the deploy extra
    HAVE_EXTRA = True
except ImportError:
    HAVE_EXTRA = False

needs_services = pytest.mark.skipif(
    PG_BIN is None or not HAVE_EXTRA,
    reason="needs Debian's postgresql and pip install -e '.[deploy]' (.ci/run installs both)")

FAIRUSE = Path(sys.executable).with_name("fairuse")


@pytest.fixture(scope="module")
def pg():
    with postgres_cluster(PG_BIN) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    """A real S3-compatible server (moto's) on 127.0.0.1, for raw data and exports in buckets."""
    with s3_server(tmp_path_factory.mktemp("s3")) as server:
        yield server


HASH_KEY = "deploy-test-key"


def _settings(pg, raw: Path | str, data: Path, exports: Path | str | None = None, s3=None) -> dict[str, str]:
    """What an operator puts in the environment file (deploy/fairuse.env): paths, key, PostgreSQL, AWS."""
    return {**pg.env(), **(s3.env() if s3 else {}), "FAIRUSE_RAW_DIR": str(raw),
            "FAIRUSE_WAREHOUSE": str(data / "warehouse.duckdb"),
            "FAIRUSE_EXPORTS_DIR": str(exports or data / "exports"), "FAIRUSE_HASH_KEY": HASH_KEY}


def _env(home: Path, pg, raw: Path | str, data: Path, exports: Path | str | None = None, s3=None) -> dict[str, str]:
    # the region as documented, by AWS_REGION alone (botocore reads only AWS_DEFAULT_REGION)
    base = {k: v for k, v in os.environ.items() if k != "AWS_DEFAULT_REGION"}
    return {**base, **_settings(pg, raw, data, exports, s3), "DAGSTER_HOME": str(home)}


def _raw_in_a_bucket(s3, tmp_path: Path, bucket: str) -> tuple[Path, str]:
    """The conformance raw set copied locally and uploaded to a new bucket as delivered: (local copy, URL)."""
    raw = copy_conformance_raw(tmp_path)
    fs = s3.fs()
    fs.mkdir(bucket)
    upload_conformance_raw(fs, raw, f"{bucket}/raw")
    return raw, f"s3://{bucket}/raw"


def test_every_run_of_the_job_carries_its_warehouse_tag_the_queue_limits(tmp_path):
    from dagster_project.definitions import build_definitions
    from dagster_project.defs.jobs import WAREHOUSE_TAG
    from dagster_project.domain.settings import settings_from_env

    settings = settings_from_env({}, raw_dir=str(tmp_path / "raw"), warehouse=str(tmp_path / "wh.duckdb"),
                                 exports_dir=str(tmp_path / "exports"))
    defs = build_definitions(settings)
    job = defs.resolve_job_def("monthly_pipeline")
    assert job.run_tags[WAREHOUSE_TAG] == str(tmp_path / "wh.duckdb")
    assert defs.resolve_sensor_def("late_data_sensor").job_name == "monthly_pipeline"
    limits = yaml.safe_load((REPO / "deploy" / "dagster.yaml").read_text())["concurrency"]["runs"]
    assert {"key": WAREHOUSE_TAG, "value": {"applyLimitPerUniqueValue": True}, "limit": 1} in \
        limits["tag_concurrency_limits"]


def test_the_instance_file_uses_stock_classes_and_no_secret():
    config = yaml.safe_load((REPO / "deploy" / "dagster.yaml").read_text())
    db = config["storage"]["postgres"]["postgres_db"]
    assert {k: v for k, v in db.items()} == {
        "hostname": {"env": "DAGSTER_PG_HOST"}, "port": {"env": "DAGSTER_PG_PORT"},
        "username": {"env": "DAGSTER_PG_USERNAME"}, "password": {"env": "DAGSTER_PG_PASSWORD"},
        "db_name": {"env": "DAGSTER_PG_DB"}, "scheme": "postgresql+psycopg2"}
    assert config["telemetry"] == {"enabled": False}
    modules = [v["module"] for v in config.values() if isinstance(v, dict) and "module" in v]
    assert modules and all(not m.startswith("dagster_project") for m in modules)
    template = (REPO / "deploy" / "fairuse.env").read_text()
    for var in ("FAIRUSE_HASH_KEY", "DAGSTER_PG_HOST", "DAGSTER_PG_PORT", "DAGSTER_PG_USERNAME",
                "DAGSTER_PG_PASSWORD", "DAGSTER_PG_DB", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION",
                "AWS_ENDPOINT_URL"):
        lines = [ln for ln in template.splitlines() if ln.lstrip("# ").startswith(var + "=")]
        assert lines == [ln.split("=")[0] + "=" for ln in lines] and lines, var  # named, no value


def test_the_units_commands_resolve_to_this_checkouts_programs(tmp_path):
    """What the services test starts is read from the unit files: each ExecStart= names a program of the virtual
    environment, in the checkout, on loopback, the workspace and the environment file the units share."""
    from tests.deploy_services import BIN, Services

    home = tmp_path / "dagster_home"
    services = Services(tmp_path, home, {"FAIRUSE_RAW_DIR": "/data/raw"})
    commands = {unit: services.command(unit) for unit in
                ("fairuse-code-server", "fairuse-dagster-daemon", "fairuse-dagster-webserver")}
    for unit, (args, env, workdir) in commands.items():
        assert Path(args[0]).parent == BIN and os.access(args[0], os.X_OK), (unit, args)
        assert workdir == REPO and env["DAGSTER_HOME"] == str(home), unit
        assert env["PATH"].split(":")[0] == str(BIN) and env["FAIRUSE_RAW_DIR"] == "/data/raw", unit
    code_server = commands["fairuse-code-server"][0]
    assert code_server[1:3] == ["code-server", "start"] and "dagster_project.definitions" in code_server
    assert code_server[code_server.index("-h") + 1] == "127.0.0.1"
    assert code_server[code_server.index("-p") + 1] == str(services.code_port)
    webserver = commands["fairuse-dagster-webserver"][0]
    assert webserver[webserver.index("-p") + 1] == str(services.web_port)
    for unit in ("fairuse-dagster-daemon", "fairuse-dagster-webserver"):
        args = commands[unit][0]
        assert args[args.index("-w") + 1] == str(services.workspace), unit


@pytest.mark.parametrize("variables, region", [
    ({"AWS_REGION": "eu-west-3"}, "eu-west-3"),                                  # the documented variable
    ({"AWS_DEFAULT_REGION": "eu-west-1"}, "eu-west-1"),                          # botocore's own
    ({"AWS_REGION": "eu-west-3", "AWS_DEFAULT_REGION": "eu-west-1"}, "eu-west-3"),  # AWS_REGION wins, as in the CLI
], ids=["AWS_REGION", "AWS_DEFAULT_REGION", "both"])
def test_the_aws_region_variables_set_the_region_of_every_bucket_client(monkeypatch, tmp_path, variables, region):
    """The S3 clients of the exports and raw files (locations.filesystem) and the one dbt-duckdb opens on dbt's
    connection (profiles.yml `duckdb_s3` `filesystems`, made as dbt-duckdb makes it, in the variables dbt runs
    with) are in the region the variables name. Nothing is contacted: a client is made, not used."""
    pytest.importorskip("s3fs", reason="the deploy extra (pip install -e '.[deploy]'; .ci/run installs it)")
    import fsspec

    from dagster_project.domain import locations
    from dagster_project.domain.dbt_runner import dbt_environment
    from dagster_project.domain.settings import dbt_env, settings_from_env

    for var in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))  # no profile region of the machine's
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    for var, value in variables.items():
        monkeypatch.setenv(var, value)

    fs, _ = locations.filesystem("s3://landing/raw")
    assert fs.connect().meta.region_name == region

    entry = dict(yaml.safe_load((REPO / "dbt_models" / "profiles.yml").read_text())
                 ["fairuse"]["outputs"]["duckdb_s3"]["filesystems"][0])
    settings = settings_from_env({}, raw_dir="s3://landing/raw", warehouse=str(tmp_path / "wh.duckdb"),
                                 exports_dir=str(tmp_path / "exports"), hash_key="k")
    with dbt_environment(dbt_env(settings)):  # what dbt-duckdb does with the entry (environments/__init__.py)
        dbt_fs = fsspec.filesystem(entry.pop("fs"), **entry)
        assert dbt_fs.connect().meta.region_name == region


@pytest.mark.slow  # end-to-end: real PostgreSQL, Dagster, dbt and DuckDB
@needs_services
def test_fairuse_run_records_its_runs_in_postgresql(pg, s3, tmp_path):
    """`fairuse run` on the production instance, raw data and exports in buckets (every request in the region
    AWS_REGION names), builds the same warehouse and byte-identical exports as the local run of the same raw data,
    with its run in PostgreSQL."""
    home = dagster_home(tmp_path)
    raw, raw_url = _raw_in_a_bucket(s3, tmp_path, "landing-run")
    s3.fs().mkdir("finance-run")
    data = tmp_path / "data"
    env = _env(home, pg, raw_url, data, exports="s3://finance-run/exports", s3=s3)
    with s3.recording() as requests:
        out = subprocess.run([str(FAIRUSE), "run", "--month", "2026-01"], env=env, cwd=tmp_path,
                             capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    assert requests and {r.region for r in requests} == {REGION}
    runs = pg.query("select run_id, pipeline_name, status from runs")
    assert [(r[1], r[2]) for r in runs] == [("monthly_pipeline", "SUCCESS")]
    run_id = runs[0][0]
    tags = dict(pg.query("select key, value from run_tags where run_id = %s", (run_id,)))
    assert tags["dagster/partition"] == "2026-01"
    assert tags["fairuse/warehouse"] == str(data / "warehouse.duckdb")
    materialized = pg.query("select count(distinct asset_key) from event_logs where run_id = %s and "
                            "dagster_event_type = 'ASSET_MATERIALIZATION'", (run_id,))[0][0]
    assert materialized >= 30  # raw, every dbt model, warehouse, exports, report
    # the latest materialization is indexed for the asset catalog (the asset_keys table)
    assert pg.query("select count(*) from asset_keys where last_materialization_timestamp is not null")[0][0] >= 30
    # nothing of the run history went to SQLite files in DAGSTER_HOME
    assert not list(home.rglob("*.db"))
    assert s3.fs().exists("finance-run/exports/2026-01/manifest.json")
    assert (data / "warehouse.duckdb").exists()

    # the local run: the same raw files from a folder, exports on disk, Dagster's ephemeral instance
    local = tmp_path / "local"
    local_env = {**{k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}, "FAIRUSE_RAW_DIR": str(raw),
                 "FAIRUSE_WAREHOUSE": str(local / "warehouse.duckdb"), "FAIRUSE_EXPORTS_DIR": str(local / "exports"),
                 "FAIRUSE_HASH_KEY": HASH_KEY}
    out = subprocess.run([str(FAIRUSE), "run", "--month", "2026-01"], env=local_env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    marts = dump_tables(data / "warehouse.duckdb", ("marts",))
    assert len(marts) >= 5 and marts["marts.fct_user_monthly_usage"]
    assert marts == dump_tables(local / "warehouse.duckdb", ("marts",))
    exported = bucket_files(s3.fs(), "finance-run/exports")
    assert "2026-01/manifest.json" in exported and "2026-01/contact_center_surcharge.parquet" in exported
    assert exported == local_files(local / "exports")
    assert len(pg.query("select run_id from runs")) == 1  # the local run is not in PostgreSQL


@pytest.mark.slow  # end-to-end: real PostgreSQL, Dagster, dbt and DuckDB
@needs_services
def test_the_units_services_run_queued_months_one_at_a_time_on_postgresql(pg, s3, tmp_path):
    """Code server, daemon and webserver on the production instance, raw data in a bucket: two months launched
    together through the webserver run one after the other (the tag limit), by the daemon's queue, on the code
    server; then a late file uploaded to the bucket is picked up by the sensor, whose run restates the month."""
    from dagster_graphql import DagsterGraphQLClient

    # a database of its own, so that the runs of the test above are not in the way
    pg.query("select 1")
    import psycopg2

    con = psycopg2.connect(host=pg.host, port=pg.port, user=pg.user, password=pg.password, dbname=pg.db)
    con.autocommit = True
    with con.cursor() as cur:
        cur.execute("create database fairuse_services")
    con.close()
    pg = type(pg)(pg.host, pg.port, pg.user, pg.password, "fairuse_services")

    home = dagster_home(tmp_path)
    raw, raw_url = _raw_in_a_bucket(s3, tmp_path, "landing-services")
    data = tmp_path / "data"
    services = Services(tmp_path, home, _settings(pg, raw_url, data, s3=s3))
    try:
        services.start()
        # the daemon's threads report to the instance: scheduler, sensors, run queue, run monitoring
        deadline = time.time() + 120
        wanted = {"SCHEDULER", "SENSOR", "QUEUED_RUN_COORDINATOR", "MONITORING"}
        while not wanted <= {r[0] for r in pg.query("select daemon_type from daemon_heartbeats")}:
            assert time.time() < deadline, services.log("daemon")[-3000:]
            time.sleep(2)

        client = DagsterGraphQLClient("127.0.0.1", port_number=services.web_port, timeout=60)
        run_ids = [client.submit_job_execution("monthly_pipeline", repository_location_name="fairuse",
                                               repository_name="__repository__", tags={"dagster/partition": m})
                   for m in ("2026-01", "2026-02")]
        deadline = time.time() + 900
        while True:
            statuses = [client.get_run_status(r).value for r in run_ids]
            if all(s in ("SUCCESS", "FAILURE", "CANCELED") for s in statuses):
                break
            assert time.time() < deadline, (statuses, services.log("daemon")[-3000:])
            time.sleep(3)
        assert statuses == ["SUCCESS", "SUCCESS"], services.log("code-server")[-3000:]

        # a late file in the bucket: the sensor (a tick a minute) requests a run of its month, which publishes it
        late = late_calls_file(raw, tmp_path / "zz-late.parquet")
        s3.fs().put_file(str(late), "landing-services/raw/calls/month=2026-02/zz-late.parquet")
        deadline = time.time() + 600
        while True:
            late_runs = pg.query("select r.run_id, r.status from runs r join run_tags t on t.run_id = r.run_id "
                                 "where t.key = 'fairuse/trigger' and t.value = 'late-data'")
            if late_runs and all(r[1] in ("SUCCESS", "FAILURE", "CANCELED") for r in late_runs):
                break
            assert time.time() < deadline, services.log("daemon")[-3000:]
            time.sleep(3)
        assert [r[1] for r in late_runs] == ["SUCCESS"], services.log("code-server")[-3000:]
        late_tags = dict(pg.query("select key, value from run_tags where run_id = %s", (late_runs[0][0],)))
        assert late_tags["dagster/partition"] == "2026-02"

        # Runs the daemon launched keep the progress record `fairuse status` shows, as `fairuse run` does; once
        # over, it says so (the sensor's run was the last one).
        from dagster_project.domain import status, warehouse_lock
        from dagster_project.domain.settings import build_db_for

        build_db = build_db_for(data / "warehouse.duckdb")
        deadline = time.time() + 30
        while not (status.read_progress(build_db) or {}).get("ended") and time.time() < deadline:
            time.sleep(0.2)  # written as the run ends, just after Dagster records its success
        record = status.read_progress(build_db)
        assert (record["run_id"], record["month"], record["outcome"]) == (late_runs[0][0], "2026-02", "succeeded")
        assert record["dbt_done"] == record["dbt_total"] > 0 and record["steps_done"] >= 4
        assert warehouse_lock.read_holder(warehouse_lock.lock_path(build_db)).pid == record["pid"]
    finally:
        services.stop()

    rows = pg.query("select run_id, start_time, end_time from runs where run_id in %s", (tuple(run_ids),))
    times = {r[0]: (r[1], r[2]) for r in rows}
    (start1, end1), (start2, end2) = sorted(times[r] for r in run_ids)
    assert end1 <= start2, "two runs of the same warehouse were in progress at once"
    for run_id in run_ids:
        tags = dict(pg.query("select key, value from run_tags where run_id = %s", (run_id,)))
        assert tags["fairuse/warehouse"] == str(data / "warehouse.duckdb")
    import duckdb

    con = duckdb.connect(str(data / "warehouse.duckdb"), read_only=True)
    try:
        months = con.execute("select distinct strftime(month, '%Y-%m') from marts.fct_user_monthly_usage "
                             "order by 1").fetchall()
    finally:
        con.close()
    assert months == [("2026-01",), ("2026-02",)]
    con = duckdb.connect(str(data / "warehouse.duckdb"), read_only=True)
    try:
        late_loaded = con.execute("select count(*) from audit.loaded_files "
                                  "where source_file = 'calls/month=2026-02/zz-late.parquet'").fetchone()[0]
    finally:
        con.close()
    assert late_loaded == 1
    assert not list(home.rglob("*.db"))
