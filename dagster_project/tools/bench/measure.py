"""How the benchmark measures: whole processes, wall time and peak RSS (shared by __main__ and baseline)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from dagster_project.domain.settings import REPO_ROOT

BENCH = REPO_ROOT / "data" / "bench"
PY = sys.executable


def rss_of(cmd: list[str], env: dict | None = None) -> tuple[float, float, str]:
    """Run `cmd` from a fresh Python that reports its children's peak RSS, so each measurement stands alone.
    Returns (wall seconds of the whole process, peak RSS in GiB, the command's stdout)."""
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
