"""The faults the pipeline promises to survive, provoked for real: two runs at once, a killed lock holder, a full
disk while exporting, and the pseudonymisation key and file modes after a full run."""

from __future__ import annotations

import errno
import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from dagster_project.domain import warehouse_lock
from tests.conftest import REPO, copy_conformance_raw, run_pipeline
from tests.helpers import dump_tables

pytestmark = pytest.mark.slow

KEY = "fault-test-key-7f3a9c"


def _cli(*args: str) -> subprocess.Popen:
    env = {**os.environ, "FAIRUSE_HASH_KEY": KEY}
    return subprocess.Popen([sys.executable, "-m", "dagster_project.cli.main", *args], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def _run_args(raw: Path, work: Path) -> list[str]:
    return ["run", "--raw-dir", str(raw), "--warehouse", str(work / "warehouse.duckdb"),
            "--exports-dir", str(work / "exports")]


def _wait_for_holder(work: Path, pid: int, timeout: float = 120) -> None:
    lock = warehouse_lock.lock_path(work / "build" / "warehouse.build.duckdb")
    deadline = time.time() + timeout
    while time.time() < deadline:
        holder = warehouse_lock.read_holder(lock)
        if holder and holder.pid == pid:
            return
        time.sleep(0.05)
    raise AssertionError("the first run never took the lock")


def _files_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    return copy_conformance_raw(tmp_path_factory.mktemp("faults"))


@pytest.fixture(scope="module")
def clean(raw, tmp_path_factory, monkeypatch_module):
    """One undisturbed run of both conformance months: what every recovered run must equal."""
    monkeypatch_module.setenv("FAIRUSE_HASH_KEY", KEY)
    settings, outcomes = run_pipeline(tmp_path_factory.mktemp("clean"), raw)
    assert all(o.success for o in outcomes), outcomes
    return settings, dump_tables(settings.warehouse), _files_digest(settings.exports_dir)


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def test_a_second_run_waits_and_no_wait_is_refused(raw, clean, tmp_path):
    _, tables, exports = clean
    first = _cli(*_run_args(raw, tmp_path))
    _wait_for_holder(tmp_path, first.pid)
    refused = _cli(*_run_args(raw, tmp_path), "--no-wait")
    _, err = refused.communicate(timeout=120)
    assert refused.returncode == 2
    assert f"being built by PID {first.pid}" in err and "2026-01, 2026-02" in err and "Traceback" not in err
    second = _cli(*_run_args(raw, tmp_path))
    out1, err1 = first.communicate(timeout=600)
    out2, err2 = second.communicate(timeout=600)
    assert first.returncode == 0, err1[-2000:]
    assert second.returncode == 0, err2[-2000:]
    assert "waiting for the warehouse" in out2 and f"PID {first.pid}" in out2
    assert dump_tables(tmp_path / "warehouse.duckdb") == tables
    assert _files_digest(tmp_path / "exports") == exports


def _wait_for_dbt_build(work: Path, proc: subprocess.Popen, timeout: float = 300) -> None:
    """Until dbt has built a node of the first month (`fairuse run` sends dbt's console log, one line per node, to
    the month's log file), failing if the run ends first."""
    log = work / "logs" / "run-2026-01.log"
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert proc.poll() is None, f"the run ended (exit {proc.returncode}) before dbt built anything"
        if log.exists() and " OK created " in log.read_text(errors="replace"):
            return
        time.sleep(0.05)
    raise AssertionError(f"dbt built no node within {timeout:.0f}s ({log})")


def test_a_killed_lock_holder_is_taken_over(raw, clean, tmp_path):
    _, tables, exports = clean
    first = _cli(*_run_args(raw, tmp_path))
    _wait_for_holder(tmp_path, first.pid)
    _wait_for_dbt_build(tmp_path, first)  # the kill lands inside the first month's dbt build ...
    assert first.poll() is None  # ... of a run that is still alive
    os.killpg(first.pid, signal.SIGKILL)
    out1, _ = first.communicate(timeout=60)
    assert first.returncode == -signal.SIGKILL  # killed, not finished
    assert "done in" not in out1 and not (tmp_path / "warehouse.duckdb").exists()  # no month was published
    again = _cli(*_run_args(raw, tmp_path))
    out, err = again.communicate(timeout=600)
    assert again.returncode == 0, err[-2000:]
    assert f"took over the lock left by PID {first.pid}" in out
    assert dump_tables(tmp_path / "warehouse.duckdb") == tables
    assert _files_digest(tmp_path / "exports") == exports


def test_a_full_disk_while_exporting_leaves_the_exports_as_they_were(raw, clean, tmp_path, monkeypatch):
    from dagster_project.domain import exports as exports_module
    from dagster_project.domain import locations  # where exports write their files (a folder or a bucket)

    monkeypatch.setenv("FAIRUSE_HASH_KEY", KEY)
    settings, outcomes = run_pipeline(tmp_path, raw)
    assert all(o.success for o in outcomes)
    before = _files_digest(settings.exports_dir)
    real_write = locations._write_temp
    calls = {"n": 0}

    def full_disk(path, data):  # the disk fills while the second file of the month is written
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real_write(path, data)

    monkeypatch.setattr(locations, "_write_temp", full_disk)
    _, outcomes = run_pipeline(tmp_path, raw, months=["2026-01"])
    assert not outcomes[0].success and "No space left" in outcomes[0].error
    assert _files_digest(settings.exports_dir) == before  # nothing half-written, no temporary file left
    monkeypatch.setattr(locations, "_write_temp", real_write)
    _, outcomes = run_pipeline(tmp_path, raw, months=["2026-01"])  # the next run recovers
    assert all(o.success for o in outcomes)
    assert _files_digest(settings.exports_dir) == before
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        assert exports_module.check_month_export(con, settings.exports_dir, "2026-01")[0]


def test_a_full_disk_while_publishing_leaves_the_warehouse_as_it_was(raw, clean, tmp_path, monkeypatch):
    from dagster_project.domain import publish as publish_module

    _, tables, _ = clean
    monkeypatch.setenv("FAIRUSE_HASH_KEY", KEY)
    settings, outcomes = run_pipeline(tmp_path, raw)
    assert all(o.success for o in outcomes)
    published = settings.warehouse.read_bytes()

    def full_disk(src, dst):  # half the copy lands, then the disk is full
        data = Path(src).read_bytes()
        Path(dst).write_bytes(data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device", str(dst))

    monkeypatch.setattr(publish_module, "_clone", full_disk)
    _, outcomes = run_pipeline(tmp_path, raw, months=["2026-02"])
    assert not outcomes[0].success and "No space left" in outcomes[0].error
    assert settings.warehouse.read_bytes() == published  # readers see exactly what they saw before
    assert not list(settings.data_dir.glob(".warehouse.duckdb.publishing-*"))  # no half-written copy left
    monkeypatch.undo()
    monkeypatch.setenv("FAIRUSE_HASH_KEY", KEY)
    _, outcomes = run_pipeline(tmp_path, raw, months=["2026-02"])  # the next run recovers
    assert all(o.success for o in outcomes)
    assert dump_tables(settings.warehouse) == tables


def test_no_key_in_any_file_and_modes(clean):
    settings, _, _ = clean
    env = {**os.environ, "FAIRUSE_BUILD_DB": str(settings.build_db), "FAIRUSE_HASH_KEY": KEY}
    from dagster_project.domain.dbt_project import dbt_executable
    from dagster_project.domain.settings import DBT_PROJECT_DIR

    docs = subprocess.run([dbt_executable(), "docs", "generate", "--project-dir", str(DBT_PROJECT_DIR),
                           "--profiles-dir", str(DBT_PROJECT_DIR)], cwd=DBT_PROJECT_DIR, env=env,
                          capture_output=True, text=True)
    assert docs.returncode == 0, docs.stdout[-2000:]
    leaks = [str(p) for folder in (settings.data_dir, DBT_PROJECT_DIR / "target", DBT_PROJECT_DIR / "logs")
             if folder.exists() for p in folder.rglob("*")
             if p.is_file() and KEY.encode() in p.read_bytes()]
    assert not leaks, leaks
    build = settings.build_db.parent
    assert build.stat().st_mode & 0o777 == 0o700  # database, WAL, spill files, lock: owner only
    assert warehouse_lock.lock_path(settings.build_db).stat().st_mode & 0o777 == 0o600
    assert settings.warehouse.stat().st_mode & 0o040  # the published warehouse: readable by the group
    for f in settings.exports_dir.rglob("*.csv"):
        assert f.stat().st_mode & 0o040


def test_the_generated_key_file_is_owner_only(tmp_path, monkeypatch):
    from dagster_project.domain.settings import hash_key, settings_from_env

    s = settings_from_env({}, warehouse=str(tmp_path / "data" / "warehouse.duckdb"))
    key = hash_key(s)
    assert len(key) == 64 and hash_key(s) == key
    assert (tmp_path / "data" / ".hash_key").stat().st_mode & 0o777 == 0o600


def test_a_dagster_run_that_cannot_get_the_lock_says_who_holds_it(raw, tmp_path):
    import dagster as dg

    from dagster_project.definitions import build_definitions
    from dagster_project.domain.settings import get_settings

    settings = get_settings(str(raw), str(tmp_path / "warehouse.duckdb"), str(tmp_path / "exports"), lock_timeout=0.5)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; "
         "from dagster_project.domain import warehouse_lock as wl; "
         "wl.acquire(Path(sys.argv[1]), ['2026-01'], 'fairuse run'); print('held', flush=True); time.sleep(60)",
         str(settings.build_db)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        job = build_definitions(settings).resolve_job_def("monthly_pipeline")
        result = job.execute_in_process(partition_key="2026-01", raise_on_error=False,
                                        instance=dg.DagsterInstance.ephemeral())
    finally:
        holder.kill()
        holder.wait()
    assert not result.success
    failures = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert failures[0].step_key == "raw_month"
    message = failures[0].event_specific_data.error_display_string
    assert f"being built by PID {holder.pid}" in message and "2026-01" in message
    assert "IOException" not in message
