"""`make bench`: cost per event, scaling with data and with history, distance to bare DuckDB and pandas.

Writes BENCHMARKS.md. Sizes: S (the demo data), M (~20 M events in one month), L (~100 M events in one month,
generated once and reused). Every timing is a whole process (subprocess), peak RSS from getrusage of the
children (the largest process of the run, dbt's included).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

from dagster_project.domain.settings import REPO_ROOT

BENCH = REPO_ROOT / "data" / "bench"
SIZES = {  # name -> (users, months, calls_per_user)
    "S": (2000, "2026-07..2026-10", None),
    "M": (50_000, "2026-10", 116.0),
    "L": (250_000, "2026-10", 116.0),
}
PY = sys.executable


def _rss_of(cmd: list[str], env: dict | None = None) -> tuple[float, float, str]:
    """Run in a fresh Python that reports its children's peak RSS, so each measurement stands alone."""
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


def generate(size: str, force: bool = False) -> Path:
    users, months, cpu = SIZES[size]
    raw = BENCH / size / "raw"
    marker = BENCH / size / "generated.json"
    if marker.exists() and not force:
        return raw
    cmd = [PY, "-m", "dagster_project.cli.main", "generate", "--out", str(raw), "--users", str(users),
           "--months", months, "--seed", "7"]
    if cpu:
        cmd += ["--calls-per-user", str(cpu)]
    secs, rss, out = _rss_of(cmd)
    rows = int(re.search(r"generated ([\d,]+) rows", out).group(1).replace(",", ""))
    marker.write_text(json.dumps({"rows": rows, "seconds": secs, "rss_gib": rss}))
    return raw


def events_in_month(raw: Path, month: str) -> int:
    import duckdb

    con = duckdb.connect()
    sql = "select coalesce(sum(num_rows), 0) from parquet_file_metadata('{}/{}/month={}/*.parquet')"
    return sum(con.execute(sql.format(raw, ds, month)).fetchone()[0] for ds in ("calls", "messages", "chats"))


def pipeline_run(raw: Path, work: Path, months: list[str], fresh: bool = True) -> dict:
    if fresh and work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    cmd = [PY, "-m", "dagster_project.cli.main", "run", "--raw-dir", str(raw),
           "--warehouse", str(work / "warehouse.duckdb"),
           "--exports-dir", str(work / "exports")]
    for m in months:
        cmd += ["--month", m]
    secs, rss, out = _rss_of(cmd)
    stages: dict[str, float] = {}
    for step, s in re.findall(r"\]\s+(\S+)\s+([\d.]+)s", out):
        key = "load" if step.startswith("raw") else "dbt" if step.startswith("dbt") else "publish"
        stages[key] = stages.get(key, 0.0) + float(s)
    stages["orchestration"] = secs - sum(stages.values())
    return {"seconds": secs, "rss_gib": rss, "stages": stages}


def bare_duckdb(raw: Path, month: str) -> dict:
    from dagster_project.domain.policy import load_policy
    from dagster_project.domain.settings import DEFAULT_POLICY_FILE

    p = load_policy(DEFAULT_POLICY_FILE)
    sql = (Path(__file__).with_name("bare.sql").read_text()
           .replace("{raw}", str(raw)).replace("{month}", month)
           .replace("{i1}", str(p.billing_initial_seconds)).replace("{i2}", str(p.billing_subsequent_seconds))
           .replace("{min_cohort}", str(p.min_cohort_size)).replace("{tm}", str(p.threshold_multiple))
           .replace("{cc_minutes}", str(p.contact_center_minutes_per_user)))
    script = BENCH / "bare_run.sql"
    script.write_text(sql)
    code = ("import duckdb,sys;c=duckdb.connect();"
            "c.execute(\"set memory_limit='3GB'\");"
            "[c.execute(s) for s in open(sys.argv[1]).read().split(';\\n') if s.strip()]")
    secs, rss, _ = _rss_of([PY, "-c", code, str(script)])
    return {"seconds": secs, "rss_gib": rss}


def pandas_usage(raw: Path, month: str) -> dict:
    code = f"""
import numpy as np, pandas as pd, glob
calls = pd.concat([pd.read_parquet(f) for f in sorted(glob.glob('{raw}/calls/month={month}/*.parquet'))])
calls = calls.drop_duplicates('call_id', keep='last')
talk = np.ceil((calls.ended_at - calls.answered_at).dt.total_seconds().fillna(0)).astype('int64')
billable = np.where(talk == 0, 0, np.where(talk <= 60, 60, 60 + np.ceil((talk - 60) / 60) * 60))
calls = calls.assign(billable=billable)
usage = calls.pivot_table(index='user_id', columns='direction', values='billable', aggfunc=['count', 'sum'])
msgs = pd.concat([pd.read_parquet(f) for f in sorted(glob.glob('{raw}/messages/month={month}/*.parquet'))])
m = msgs.drop_duplicates('message_id', keep='last').groupby(['user_id', 'channel', 'direction']).size()
chats = pd.concat([pd.read_parquet(f) for f in sorted(glob.glob('{raw}/chats/month={month}/*.parquet'))])
h = chats.drop_duplicates('chat_message_id', keep='last').groupby('user_id').size()
print(len(usage), len(m), len(h))
"""
    secs, rss, _ = _rss_of([PY, "-c", code])
    return {"seconds": secs, "rss_gib": rss}


def median_of(n: int, fn) -> dict:
    runs = [fn() for _ in range(n)]
    out = {"seconds": statistics.median(r["seconds"] for r in runs), "rss_gib": max(r["rss_gib"] for r in runs),
           "runs": [round(r["seconds"], 2) for r in runs]}
    if "stages" in runs[0]:
        out["stages"] = {k: statistics.median(r["stages"][k] for r in runs) for k in runs[0]["stages"]}
    return out


def history(repeats: int) -> dict:
    """Month 12 with 11 months built vs month 1 on an empty warehouse (same users, same volume)."""
    raw = BENCH / "H" / "raw"
    marker = BENCH / "H" / "generated.json"
    if not marker.exists():
        subprocess.run([PY, "-m", "dagster_project.cli.main", "generate", "--out", str(raw), "--users", "20000",
                        "--months", "2025-11..2026-10", "--seed", "3"], cwd=REPO_ROOT, check=True, capture_output=True)
        marker.write_text("{}")
    work = BENCH / "H" / "work"
    first = median_of(repeats, lambda: pipeline_run(raw, work, ["2025-11"]))
    pipeline_run(raw, work, [f"2025-{m:02d}" for m in (11, 12)] + [f"2026-{m:02d}" for m in range(1, 10)])
    snapshot = BENCH / "H" / "after11"
    shutil.rmtree(snapshot, ignore_errors=True)
    shutil.copytree(work, snapshot)

    def month12():
        shutil.rmtree(work)
        shutil.copytree(snapshot, work)
        return pipeline_run(raw, work, ["2026-10"], fresh=False)

    last = median_of(repeats, month12)
    return {"month1": first, "month12": last, "events_month1": events_in_month(raw, "2025-11"),
            "events_month12": events_in_month(raw, "2026-10")}


def machine() -> str:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores ({cpu}), {mem:.0f} GiB RAM, "
            f"Python {platform.python_version()}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="bench")
    ap.add_argument("--sizes", default="S,M,L")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--history", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--out", default=str(REPO_ROOT / "BENCHMARKS.md"))
    args = ap.parse_args(argv)
    BENCH.mkdir(parents=True, exist_ok=True)
    results = {}
    for size in args.sizes.split(","):
        raw = generate(size)
        month = SIZES[size][1].split("..")[-1]
        events = events_in_month(raw, month)
        reps = 1 if size == "L" else args.repeats
        print(f"[bench] {size}: {events:,} events in {month}", flush=True)
        work = BENCH / size / "work"
        pipe = median_of(reps, lambda raw=raw, work=work, month=month: pipeline_run(raw, work, [month]))
        bare = median_of(reps, lambda raw=raw, month=month: bare_duckdb(raw, month))
        pand = median_of(1, lambda raw=raw, month=month: pandas_usage(raw, month)) if size != "L" else None
        results[size] = {"events": events, "month": month, "pipeline": pipe, "bare": bare, "pandas": pand,
                         "generated": json.loads((BENCH / size / "generated.json").read_text())}
        print(json.dumps(results[size], default=str), flush=True)
    hist = history(args.repeats) if args.history else None
    (BENCH / "results.json").write_text(json.dumps({"results": results, "history": hist}, indent=1, default=str))
    Path(args.out).write_text(render(results, hist))
    print(f"[bench] wrote {args.out}")
    return 0


def render(results: dict, hist: dict | None) -> str:
    header = ("size", "events", "pipeline s (runs)", "events/s", "peak RSS GiB", "bare DuckDB s", "pipeline / bare",
              "pandas usage s", "load s", "dbt s", "publish s", "orchestration s")
    lines = ["# Benchmarks", "", f"Machine: {machine()}.", "",
             "Medians of the runs shown (L: one run); whole processes; one month each. Peak RSS is the largest",
             "process of the run (DuckDB's memory_limit is 3 GB, FAIRUSE_DUCKDB_MEMORY_LIMIT; it spills beyond).", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for size, r in results.items():
        p, b, st = r["pipeline"], r["bare"], r["pipeline"].get("stages", {})
        cells = [size, f"{r['events']:,}", f"{p['seconds']:.1f} ({', '.join(map(str, p['runs']))})",
                 f"{r['events'] / p['seconds']:,.0f}", f"{p['rss_gib']:.2f}", f"{b['seconds']:.1f}",
                 f"{p['seconds'] / b['seconds']:.2f}", f"{r['pandas']['seconds']:.1f}" if r["pandas"] else "-",
                 *(f"{st.get(k, 0):.1f}" for k in ("load", "dbt", "publish", "orchestration"))]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Generation (`fairuse generate`, whole process):", ""]
    for size, r in results.items():
        g = r["generated"]
        lines.append(f"- {size}: {g['rows']:,} rows in {g['seconds']:.1f} s ({g['rows'] / g['seconds']:,.0f} rows/s), "
                     f"peak RSS {g['rss_gib']:.2f} GiB")
    if hist:
        m1, m12 = hist["month1"]["seconds"], hist["month12"]["seconds"]
        lines += ["", "## Growth with history", "",
                  f"20,000 users, 12 months of ~{hist['events_month12']:,} events each: month 1 on an empty warehouse "
                  f"took {m1:.1f} s (runs {hist['month1']['runs']}), month 12 with 11 months built {m12:.1f} s "
                  f"(runs {hist['month12']['runs']}): {100 * (m12 / m1 - 1):+.1f}%."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
