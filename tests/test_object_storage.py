"""Exports in a bucket (`--exports-dir s3://bucket/prefix`, domain/locations.py) against a real S3-compatible
server (moto's, on 127.0.0.1): the same bytes as the local run's exports, revisions and changes.csv included, each
manifest written after the files it lists (the server's record of requests); an unusable bucket (missing, refusing
the credentials, unreachable) fails in one line before anything is published."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from dagster_project.cli.run import run_months
from dagster_project.domain import exports
from dagster_project.domain.settings import get_settings
from tests.conftest import copy_conformance_raw, policy_with
from tests.deploy_services import s3_server

pytest.importorskip("s3fs", reason="the deploy extra (pip install -e '.[deploy]'; .ci/run installs it)")
pytest.importorskip("moto.server", reason="moto[server], a dev dependency")

pytestmark = pytest.mark.slow  # end-to-end: real S3 server, Dagster, dbt and DuckDB runs

FAIRUSE = Path(sys.executable).with_name("fairuse")


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    with s3_server(tmp_path_factory.mktemp("s3")) as server:
        server.fs().mkdir("finance")
        yield server


def _local_files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _bucket_files(fs, prefix: str) -> dict[str, bytes]:
    return {k[len(prefix) + 1:]: fs.cat_file(k) for k in sorted(fs.find(prefix))}


def _assert_each_manifest_written_after_its_files(fs, requests, prefix: str) -> None:
    """In each folder of the exports, every manifest.json written (uploaded, or copied to revisions/) comes after
    a write of every file it lists, since the folder's previous manifest: a reader that trusts the manifest never
    finds it ahead of the files it describes. Swapping the two writes of exports.export_month fails here."""
    writes: dict[str, list] = {}
    for r in requests:
        if r.method == "PUT" and r.key.startswith(prefix + "/"):
            folder, name = r.key.rsplit("/", 1)
            writes.setdefault(folder, []).append((name, r))
    months = [f for f in writes if f.count("/") == prefix.count("/") + 1]
    assert len(months) == 2 and any("/revisions/" in f for f in writes), sorted(writes)
    for folder, sequence in writes.items():
        assert sequence[-1][0] == "manifest.json", (folder, [n for n, _ in sequence])
        since: set[str] = set()
        for name, r in sequence:
            if name != "manifest.json":
                since.add(name)
                continue
            # a copy's body is the source's: the kept revision, written once, is the one in the bucket
            manifest = json.loads(fs.cat_file(r.key) if r.copy_source else r.body)
            listed = {f["name"] for f in manifest["files"]}
            assert listed and listed <= since, f"{folder}/manifest.json written before {sorted(listed - since)}"
            since = set()


def test_exports_in_a_bucket_are_the_local_runs_bytes_with_revisions(s3, tmp_path, monkeypatch):
    for k, v in s3.env().items():
        monkeypatch.setenv(k, v)
    raw = copy_conformance_raw(tmp_path)
    policy = policy_with(tmp_path, **{"cohorts.min_cohort_size": 3})
    local, remote = tmp_path / "local", tmp_path / "remote"
    # a month, then a new policy version it is restated under (a revision and changes.csv), each in both places
    (tmp_path / "restated").mkdir()
    restated = policy_with(tmp_path / "restated", **{"cohorts.min_cohort_size": 3, "version": "2026.11-test",
                                                     "effective_from": "2026-03"})
    requests: list = []
    for policy_file, restate_under in ((policy, None), (restated, "2026.11-test")):
        for work, exports_dir in ((local, local / "exports"), (remote, "s3://finance/fairuse/exports")):
            settings = get_settings(str(raw), str(work / "warehouse.duckdb"), str(exports_dir), str(policy_file))
            with s3.recording() as recorded:
                outcomes = run_months(settings, ["2026-01", "2026-02"], out=io.StringIO(),
                                      restate_under=restate_under)
            requests += recorded
            assert all(o.success for o in outcomes), outcomes
    fs = s3.fs()
    in_bucket = _bucket_files(fs, "finance/fairuse/exports")
    on_disk = _local_files(local / "exports")
    assert in_bucket.keys() == on_disk.keys()
    assert in_bucket == on_disk
    assert "2026-01/revisions/r001/manifest.json" in in_bucket and "2026-01/changes.csv" in in_bucket
    _assert_each_manifest_written_after_its_files(fs, requests, "finance/fairuse/exports")

    # a re-run on unchanged data writes identical bytes
    settings = get_settings(str(raw), str(remote / "warehouse.duckdb"), "s3://finance/fairuse/exports",
                            str(restated))
    assert all(o.success for o in run_months(settings, ["2026-01"], out=io.StringIO()))
    assert _bucket_files(fs, "finance/fairuse/exports") == in_bucket
    with duckdb.connect(str(remote / "warehouse.duckdb"), read_only=True) as con:
        assert all(exports.check_month_export(con, "s3://finance/fairuse/exports", m)[0]
                   for m in ("2026-01", "2026-02"))


@pytest.mark.parametrize("case", ["missing bucket", "refused credentials", "unreachable endpoint"])
def test_an_unusable_bucket_fails_in_one_line_and_nothing_is_published(s3, tmp_path, case):
    raw = copy_conformance_raw(tmp_path)
    env = {**os.environ, **s3.env()}
    url = "s3://finance/fairuse/exports"
    if case == "missing bucket":
        url = "s3://no-such-bucket/exports"
    elif case == "unreachable endpoint":
        env["AWS_ENDPOINT_URL"] = "http://127.0.0.1:9"  # nothing listens on the discard port
    with s3.checking_credentials() if case == "refused credentials" else contextlib.nullcontext():
        out = subprocess.run([str(FAIRUSE), "run", "--raw-dir", str(raw), "--warehouse",
                              str(tmp_path / "w.duckdb"), "--exports-dir", url, "--month", "2026-01"], env=env,
                             capture_output=True, text=True, timeout=300)
    assert out.returncode == 2, out.stdout + out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"fairuse run: {url}: "), out.stderr
    expected = {"missing bucket": "bucket 'no-such-bucket' does not exist",
                "refused credentials": "access refused by http://127.0.0.1:",
                "unreachable endpoint": "cannot reach http://127.0.0.1:9"}[case]
    assert expected in lines[0]
    assert not (tmp_path / "w.duckdb").exists()
