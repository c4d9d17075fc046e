"""How the benchmark measures, shared by every part of it (__main__, baseline, spark): whole processes, wall time
and peak RSS, the stages of `fairuse run`'s step lines, the events of a month."""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from dagster_project.domain.settings import REPO_ROOT

BENCH = REPO_ROOT / "data" / "bench"
PY = sys.executable
TRASH = BENCH / ".trash"
_set_aside = itertools.count()
HASH_KEY = "bench"  # the pseudonymisation key of every benchmark run (pipeline and bare alike)
STAGES = ("raw", "dbt", "publish", "exports", "orchestration")


def fresh_dir(path: Path) -> Path:
    """An empty `path` for the next measured run. The previous run's folder is renamed into data/bench/.trash, not
    deleted: deleting thousands of files (a month's notices) just before a run makes ext4 skip the freed inodes
    for the next minutes (`recently_deleted`, in the kernel, on every file the run creates: a M month's 2,830
    notices took 2.4 s instead of 1.2 s), a cost of the benchmark's own clean-up, not of the pipeline.
    `empty_trash` deletes them after the measurements."""
    if path.exists():
        TRASH.mkdir(parents=True, exist_ok=True)
        path.rename(TRASH / f"{path.parent.name}-{path.name}-{os.getpid()}-{next(_set_aside)}")
    path.mkdir(parents=True)
    return path


def empty_trash() -> None:
    shutil.rmtree(TRASH, ignore_errors=True)


def rss_of(cmd: list[str], env: dict | None = None) -> tuple[float, float, str]:
    """Run `cmd` from a fresh Python that reports its children's peak RSS, so each measurement stands alone.
    Returns (wall seconds of the whole process, peak RSS in GiB, the command's stdout).

    The file systems are flushed first (sync): files written just before (a restored snapshot of built months,
    the previous run's outputs) would otherwise be written back to disk during the measured run."""
    os.sync()
    code = ("import resource, subprocess, sys, time, json, os;"
            "t=time.perf_counter();p=subprocess.run(sys.argv[1:],capture_output=True,text=True);"
            "s=time.perf_counter()-t;"
            "print(json.dumps({'secs':s,'rc':p.returncode,'rss':resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,"
            "'out':p.stdout[-20000:],'err':p.stderr[-3000:]}))")
    proc = subprocess.run([PY, "-c", code, *cmd], cwd=REPO_ROOT, env={**os.environ, **(env or {})},
                          capture_output=True, text=True)
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    if r["rc"] != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{r['out'][-2000:]}\n{r['err']}")
    return r["secs"], r["rss"] / 1024 / 1024, r["out"]


def events_in_month(raw: Path, month: str) -> int:
    import duckdb

    con = duckdb.connect()
    sql = "select coalesce(sum(num_rows), 0) from parquet_file_metadata('{}/{}/month={}/*.parquet')"
    return sum(con.execute(sql.format(raw, ds, month)).fetchone()[0] for ds in ("calls", "messages", "chats"))


def stage_of(step: str) -> str:
    """The stage a step of `fairuse run` belongs to (its step keys: raw_month, dbt_models, publish__warehouse,
    publish__finance_exports, publish__report and the checks of publish assets, named after the asset)."""
    if step.startswith("raw"):
        return "raw"
    if step.startswith("dbt"):
        return "dbt"
    if step.startswith("publish__warehouse"):
        return "publish"
    return "exports"


def parse_steps(out: str) -> dict[str, float]:
    """Step key -> seconds, from the per-step lines `fairuse run` prints ("  [2026-10] dbt_models   4.95s  ...")."""
    steps: dict[str, float] = {}
    for step, s in re.findall(r"^\s*\[\d{4}-\d{2}\]\s+(\S+)\s+([\d.]+)s", out, re.M):
        steps[step] = steps.get(step, 0.0) + float(s)
    return steps
