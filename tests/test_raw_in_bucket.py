"""Raw data in a bucket (`--raw-dir s3://bucket/prefix`, domain/raw_files.py) against a real S3-compatible server
(moto's, on 127.0.0.1): with raw data and exports in buckets a run builds the same marts and byte-identical exports
as the local run; a late file uploaded to the bucket is seen by the sensor's change detection and a re-run
restates the month; a missing bucket, refused credentials or an unreachable endpoint fail in one line with nothing
published; the Spark engine reads the objects as s3a:// paths and, without Hadoop's S3A connector (none here), stops
in one line naming it."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from dagster_project.cli.run import run_months
from dagster_project.defs.sensors import changed_months
from dagster_project.domain import exports
from dagster_project.domain.contract import CALLS
from dagster_project.domain.raw_files import list_files, months_in_raw
from dagster_project.domain.settings import get_settings
from tests.conftest import copy_conformance_raw, late_calls_file, policy_with, upload_conformance_raw
from tests.deploy_services import REGION, s3_server

pytest.importorskip("s3fs", reason="the deploy extra (pip install -e '.[deploy]'; .ci/run installs it)")
pytest.importorskip("moto.server", reason="moto[server], a dev dependency")

pytestmark = pytest.mark.slow  # end-to-end: real S3 server, Dagster, dbt and DuckDB runs

FAIRUSE = Path(sys.executable).with_name("fairuse")
RAW_URL = "s3://landing/usage/raw"
EXPORTS_URL = "s3://finance/fairuse/exports"
MONTHS = ["2026-01", "2026-02"]


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    with s3_server(tmp_path_factory.mktemp("s3")) as server:
        fs = server.fs()
        fs.mkdir("landing")
        fs.mkdir("finance")
        yield server


@pytest.fixture(scope="module")
def built(s3, tmp_path_factory):
    """The conformance months built twice: raw and exports on local disk, and in buckets (with the requests the
    bucket run made). The region is given as documented, by AWS_REGION alone."""
    tmp = tmp_path_factory.mktemp("built")
    env = s3.env()
    saved = {k: os.environ.get(k) for k in [*env, "AWS_DEFAULT_REGION"]}
    os.environ.pop("AWS_DEFAULT_REGION", None)
    os.environ.update(env)
    try:
        raw = copy_conformance_raw(tmp)
        upload_conformance_raw(s3.fs(), raw, RAW_URL.removeprefix("s3://"))
        policy = policy_with(tmp, **{"cohorts.min_cohort_size": 3})
        local = get_settings(str(raw), str(tmp / "local" / "warehouse.duckdb"), str(tmp / "local" / "exports"),
                             str(policy))
        remote = get_settings(RAW_URL, str(tmp / "remote" / "warehouse.duckdb"), EXPORTS_URL, str(policy))
        outcomes = run_months(local, MONTHS, out=io.StringIO())
        assert all(o.success for o in outcomes), outcomes
        with s3.recording() as requests:
            outcomes = run_months(remote, MONTHS, out=io.StringIO())
        assert all(o.success for o in outcomes), outcomes
        yield local, remote, requests
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _tables(warehouse: Path, schema: str) -> dict[str, list[tuple]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        names = [r[0] for r in con.execute("select table_name from information_schema.tables "
                                           "where table_schema = ? order by 1", [schema]).fetchall()]
        return {n: con.execute(f"select * from {schema}.{n} order by all").fetchall() for n in names}


def _local_files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _bucket_files(fs, prefix: str) -> dict[str, bytes]:
    return {k[len(prefix) + 1:]: fs.cat_file(k) for k in sorted(fs.find(prefix))}


def test_raw_and_exports_in_buckets_build_the_local_runs_marts_and_bytes(s3, built, monkeypatch):
    local, remote, _ = built
    for k, v in s3.env().items():
        monkeypatch.setenv(k, v)
    # the bucket's listing is the folder's: same files, sizes and months
    assert months_in_raw(RAW_URL) == months_in_raw(local.raw_dir) == MONTHS
    in_bucket = [(f.rel, f.size) for f in list_files(RAW_URL, CALLS, "2026-01")]
    assert in_bucket == [(f.rel, f.size) for f in list_files(local.raw_dir, CALLS, "2026-01")]
    assert len(in_bucket) == 5

    marts_local, marts_remote = _tables(local.warehouse, "marts"), _tables(remote.warehouse, "marts")
    assert marts_local.keys() == marts_remote.keys() and len(marts_local) >= 5
    assert all(marts_local[t] for t in ("fct_user_monthly_usage",))
    assert marts_remote == marts_local
    # the delivery record: the same files, sizes and rows (the times are the uploads')
    with duckdb.connect(str(remote.warehouse), read_only=True) as con:
        loaded = con.execute("select dataset, source_file, size_bytes, rows_read from audit.loaded_files "
                             "order by all").fetchall()
    with duckdb.connect(str(local.warehouse), read_only=True) as con:
        assert loaded == con.execute("select dataset, source_file, size_bytes, rows_read from audit.loaded_files "
                                     "order by all").fetchall()
    assert _bucket_files(s3.fs(), EXPORTS_URL.removeprefix("s3://")) == _local_files(Path(local.exports_dir))


def test_every_request_of_the_bucket_run_is_in_the_region_aws_region_names(built):
    """AWS_REGION (the documented variable; botocore reads only AWS_DEFAULT_REGION) reaches every S3 client of the
    run: the raw files' listing and footers, DuckDB's reads through dbt-duckdb's file system, the exports."""
    *_, requests = built
    raw_prefix, exports_prefix = RAW_URL.removeprefix("s3://"), EXPORTS_URL.removeprefix("s3://")
    reads = [r for r in requests if r.method == "GET" and r.key.startswith(raw_prefix + "/")]
    writes = [r for r in requests if r.method == "PUT" and r.key.startswith(exports_prefix + "/")]
    assert reads and writes  # the Parquet objects read (DuckDB, dbt) and the exports written
    assert {r.region for r in requests} == {REGION}, sorted({(r.region, r.method, r.key) for r in requests
                                                             if r.region != REGION})[:10]


def test_a_late_file_in_the_bucket_is_detected_and_a_rerun_restates_the_month(s3, built, monkeypatch, tmp_path):
    local, remote, _ = built
    for k, v in s3.env().items():
        monkeypatch.setenv(k, v)
    assert changed_months(RAW_URL, remote.warehouse) == {}
    # a late delivery: new calls for February
    fs = s3.fs()
    late = late_calls_file(local.raw_dir, tmp_path / "zz-late.parquet")
    fs.put_file(str(late), f"{RAW_URL.removeprefix('s3://')}/calls/month=2026-02/zz-late.parquet")

    changed = changed_months(RAW_URL, remote.warehouse)
    assert list(changed) == ["2026-02"]
    with duckdb.connect(str(remote.warehouse), read_only=True) as con:
        (before,) = con.execute("select rows_read from audit.load_balance where dataset = 'calls' "
                                "and month = date '2026-02-01'").fetchone()

    outcomes = run_months(remote, ["2026-02"], out=io.StringIO())
    assert all(o.success for o in outcomes), outcomes
    assert changed_months(RAW_URL, remote.warehouse) == {}
    with duckdb.connect(str(remote.warehouse), read_only=True) as con:
        (after,) = con.execute("select rows_read from audit.load_balance where dataset = 'calls' "
                               "and month = date '2026-02-01'").fetchone()
        files = [r[0] for r in con.execute("select source_file from audit.loaded_files where dataset = 'calls' "
                                           "order by 1").fetchall()]
    assert after == before + 4
    assert "calls/month=2026-02/zz-late.parquet" in files
    # the restated month's exports in the bucket are whole and match the published month
    with duckdb.connect(str(remote.warehouse), read_only=True) as con:
        ok, why = exports.check_month_export(con, EXPORTS_URL, "2026-02")
    assert ok, why


@pytest.mark.parametrize("case", ["missing bucket", "refused credentials", "unreachable endpoint"])
def test_an_unusable_raw_bucket_fails_in_one_line_and_nothing_is_published(s3, tmp_path, case):
    env = {**os.environ, **s3.env()}
    url = RAW_URL
    if case == "missing bucket":
        url = "s3://no-such-bucket/raw"
    elif case == "unreachable endpoint":
        env["AWS_ENDPOINT_URL"] = "http://127.0.0.1:9"  # nothing listens on the discard port
    exports = tmp_path / "exports"
    with s3.checking_credentials() if case == "refused credentials" else contextlib.nullcontext():
        out = subprocess.run([str(FAIRUSE), "run", "--raw-dir", url, "--warehouse", str(tmp_path / "w.duckdb"),
                              "--exports-dir", str(exports)], env=env, capture_output=True, text=True,
                             timeout=300)
    assert out.returncode == 2, out.stdout + out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"fairuse run: {url}: "), out.stderr
    expected = {"missing bucket": "bucket 'no-such-bucket' does not exist",
                "refused credentials": "access refused by http://127.0.0.1:",
                "unreachable endpoint": "cannot reach http://127.0.0.1:9"}[case]
    assert expected in lines[0], lines[0]
    assert not (tmp_path / "w.duckdb").exists() and not exports.exists()


def test_the_spark_engine_without_the_s3a_connector_fails_in_one_line_and_nothing_is_published(s3, tmp_path):
    """Spark reads a bucket's objects as s3a:// paths (domain/spark_engine.py); pyspark ships no S3A connector, so
    here the raw step must stop in one line naming it, before dbt, with nothing published."""
    from dagster_project.domain.spark_engine import spark_available

    if why := spark_available():
        pytest.skip(f"Spark engine not available: {why} (apt-get install openjdk-17-jre-headless && "
                    f"pip install -e '.[spark]')")
    raw = copy_conformance_raw(tmp_path)
    upload_conformance_raw(s3.fs(), raw, "landing/spark/raw")
    url = "s3://landing/spark/raw"
    out = subprocess.run([str(FAIRUSE), "run", "--raw-dir", url, "--warehouse", str(tmp_path / "w.duckdb"),
                          "--exports-dir", str(tmp_path / "exports"), "--engine", "spark", "--month", "2026-01"],
                         env={**os.environ, **s3.env()}, capture_output=True, text=True, timeout=600)
    assert out.returncode != 0, out.stdout + out.stderr
    last = out.stderr.strip().splitlines()[-1]  # the error in one line, after Dagster's own log of the step
    assert last.startswith("fairuse run: month 2026-01 failed: raw_month: "), out.stderr
    assert (f"{url}: the Spark session cannot read s3a:// paths: Hadoop's S3A connector (hadoop-aws) is not on "
            f"its classpath (docs/operators.md: The Spark engine)") in last, last
    guide = (Path(__file__).parents[1] / "docs" / "operators.md").read_text()
    assert "\n### Raw data in a bucket with Spark\n" in guide
    assert not (tmp_path / "w.duckdb").exists() and not (tmp_path / "exports").exists()


def test_spark_reads_a_buckets_objects_as_s3a_with_the_endpoint_and_region_of_the_aws_variables():
    from dagster_project.domain.spark_engine import s3a_conf, spark_path

    assert spark_path("s3://landing/raw/calls/month=2026-01/a.parquet") == \
        "s3a://landing/raw/calls/month=2026-01/a.parquet"
    assert spark_path(Path("/data/raw/calls/month=2026-01/a.parquet")) == "/data/raw/calls/month=2026-01/a.parquet"
    env = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9000", "AWS_REGION": "eu-west-3", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "not-in-spark-conf"}
    assert s3a_conf(env) == {"spark.hadoop.fs.s3a.endpoint": "http://127.0.0.1:9000",
                             "spark.hadoop.fs.s3a.path.style.access": "true",
                             "spark.hadoop.fs.s3a.endpoint.region": "eu-west-3"}
    assert s3a_conf({"AWS_DEFAULT_REGION": "us-east-1"}) == {"spark.hadoop.fs.s3a.endpoint.region": "us-east-1"}
    assert s3a_conf({}) == {}
