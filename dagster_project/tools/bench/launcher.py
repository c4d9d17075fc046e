"""One month launched through Dagster's run launcher, as the schedule, the sensor, a backfill or the UI do.

`time_launched_month(raw=, work=, month=)` (what `make bench` calls) runs, in a fresh Python process, the path a
run from the UI takes: a DagsterInstance on its own DAGSTER_HOME (default run coordinator and launcher, SQLite
storage), a code server process that loads `dagster_project.definitions` (as `dagster dev` does, long-lived: its
start is reported apart), a run of `monthly_pipeline` for the month created from the code server's snapshot and
submitted: the launcher starts a new run-worker process, which executes the steps with the job's executor.
It returns the seconds from submit to the run's end (comparable to `fairuse run` of the month, a whole process)
with the run's status and each step's duration.

`python -m dagster_project.tools.bench.launcher --raw DIR --work DIR --month YYYY-MM [--executor in_process|
multiprocess] [--cli]` prints the same as JSON; `--cli` also times `fairuse run` of the month into a second
folder, for the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from dagster_project.domain.settings import REPO_ROOT
from dagster_project.private_apis import RUN_AT_ONCE

JOB = "monthly_pipeline"
LOCATION = "fairuse"
# The instance of the measurement: the operators' (dagster_home.yaml: its event log storage, no telemetry), but runs
# launched at once (no queue, so no daemon needed; the queue's limit goes with it): private_apis.RUN_AT_ONCE.


def dagster_yaml() -> str:
    import yaml

    config = yaml.safe_load((REPO_ROOT / "dagster_home.yaml").read_text()) or {}
    config.pop("concurrency", None)
    return yaml.safe_dump({**config, **RUN_AT_ONCE}, sort_keys=True)


def _launch(month: str, dagster_home: Path, run_config: dict[str, Any], timeout: float) -> dict[str, Any]:
    """In this process (whose environment the code server inherits): start the code server, create the run,
    submit it, wait for its end."""
    from dagster import DagsterInstance

    from dagster_project.private_apis import dagster_workspace_api

    JobSubsetSelector, WorkspaceProcessContext, ModuleTarget = dagster_workspace_api()  # noqa: N806 - classes

    instance = DagsterInstance.from_config(str(dagster_home))
    t0 = time.perf_counter()
    target = ModuleTarget("dagster_project.definitions", None, str(REPO_ROOT), LOCATION)
    with WorkspaceProcessContext(instance, target) as process_context:
        request = process_context.create_request_context()
        location = request.get_code_location(LOCATION)
        server_seconds = time.perf_counter() - t0
        repo = next(iter(location.get_repositories().values()))
        remote_job = location.get_job(JobSubsetSelector(location_name=location.name, repository_name=repo.name,
                                                        job_name=JOB, op_selection=None))
        plan = location.get_execution_plan(remote_job, run_config, step_keys_to_execute=None, known_state=None,
                                           instance=instance).execution_plan_snapshot
        run = instance.create_run(
            job_name=JOB, run_id=None, run_config=run_config, status=None,
            tags={**remote_job.tags, "dagster/partition": month}, root_run_id=None, parent_run_id=None,
            step_keys_to_execute=plan.step_keys_to_execute, execution_plan_snapshot=plan,
            job_snapshot=remote_job.job_snapshot, parent_job_snapshot=remote_job.parent_job_snapshot,
            asset_selection=None, asset_check_selection=None,
            resolved_op_selection=remote_job.resolved_op_selection, op_selection=None,
            remote_job_origin=remote_job.get_remote_origin(), job_code_origin=remote_job.get_python_origin(),
            asset_graph=repo.asset_graph)
        t1 = time.perf_counter()
        instance.submit_run(run.run_id, request)
        while True:
            current = instance.get_run_by_id(run.run_id)
            if current is not None and current.is_finished:
                break
            if time.perf_counter() - t1 > timeout:
                raise TimeoutError(f"run {run.run_id} of {month} not finished after {timeout:.0f}s")
            time.sleep(0.05)
        seconds = time.perf_counter() - t1
        steps = {s.step_key: round((s.end_time or 0) - (s.start_time or 0), 2)
                 for s in instance.get_run_step_stats(run.run_id)}
        failure = None
        if not current.is_success:
            failures = [e for e in instance.all_logs(run.run_id) if e.is_dagster_event
                        and e.dagster_event.event_type_value in ("STEP_FAILURE", "RUN_FAILURE")]
            failure = "; ".join((e.dagster_event.message or e.user_message or "")[:500] for e in failures[:3])
    return {"seconds": round(seconds, 2), "status": current.status.value, "run_id": run.run_id,
            "code_server_start_seconds": round(server_seconds, 2), "steps": steps, "failure": failure,
            "executor": run_config.get("execution", {}).get("config", "job default")}


def time_launched_month(raw: Path, work: Path, month: str, executor: str | None = None,
                        policy: Path | None = None, timeout: float = 3600) -> dict[str, Any]:
    """One month of `raw` launched through the run launcher into `work` (warehouse, exports, DAGSTER_HOME).

    `executor`: None runs the job with its own executor; "in_process" or "multiprocess" pick one through run
    config (only while the job uses Dagster's default executor). Runs in a fresh Python process, so that nothing
    of this one (imports, environment) helps or hinders; returns {"seconds", "status", "steps", ...}."""
    work = Path(work)
    home = work / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(dagster_yaml())
    env = {**os.environ, "DAGSTER_HOME": str(home), "FAIRUSE_RAW_DIR": str(raw),
           "FAIRUSE_WAREHOUSE": str(work / "warehouse.duckdb"), "FAIRUSE_EXPORTS_DIR": str(work / "exports")}
    if policy is not None:
        env["FAIRUSE_POLICY_FILE"] = str(policy)
    out = work / "launched.json"  # not stdout: the code server and the run worker (dbt's log) print there
    out.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "dagster_project.tools.bench.launcher", "--inner", "--month", month,
           "--dagster-home", str(home), "--timeout", str(timeout), "--out", str(out)]
    if executor:
        cmd += ["--executor", executor]
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    if proc.returncode != 0 or not out.exists():
        raise RuntimeError(f"launching {month} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    result = json.loads(out.read_text())
    if result["status"] != "SUCCESS":
        raise RuntimeError(f"the launched run of {month} ended {result['status']}: {result['failure']}")
    return result


def time_cli_month(raw: Path, work: Path, month: str, policy: Path | None = None) -> dict[str, Any]:
    """`fairuse run` of the month into `work`, whole process: the reference of the ratio."""
    work.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "dagster_project.cli.main", "run", "--raw-dir", str(raw), "--month", month,
           "--warehouse", str(work / "warehouse.duckdb"), "--exports-dir", str(work / "exports")]
    if policy is not None:
        cmd += ["--policy", str(policy)]
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"fairuse run {month} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return {"seconds": round(seconds, 2), "out": proc.stdout}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m dagster_project.tools.bench.launcher", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--month", required=True)
    ap.add_argument("--raw", type=Path)
    ap.add_argument("--work", type=Path)
    ap.add_argument("--policy", type=Path)
    ap.add_argument("--executor", choices=("in_process", "multiprocess"))
    ap.add_argument("--cli", action="store_true", help="also time `fairuse run` of the month (into WORK/cli)")
    ap.add_argument("--timeout", type=float, default=3600)
    ap.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--dagster-home", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.inner:
        run_config = {"execution": {"config": {args.executor: {}}}} if args.executor else {}
        args.out.write_text(json.dumps(_launch(args.month, args.dagster_home, run_config, args.timeout)))
        return 0
    if args.raw is None or args.work is None:
        ap.error("--raw and --work are required")
    out: dict[str, Any] = {"launched": time_launched_month(args.raw, args.work / "launched", args.month,
                                                           args.executor, args.policy, args.timeout)}
    if args.cli:
        out["cli"] = {k: v for k, v in time_cli_month(args.raw, args.work / "cli", args.month, args.policy).items()
                      if k != "out"}
        out["ratio"] = round(out["launched"]["seconds"] / out["cli"]["seconds"], 2)
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
