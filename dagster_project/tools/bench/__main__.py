"""`make bench`: cost per event, fixed cost, scaling with data and with history, distance to a fair bare baseline.

Writes BENCHMARKS.md (and data/bench/results.json). Sizes: D (the demo month: 2000 users, one month, ~0.5 M
events), K (~2.5 M events: 10,000 users, one month), S (the demo data, 4 months, the last one benched), M (~20-26 M
events in one month), L (~100-130 M events in one month). Data is generated once per size and reused.

Per size: the pipeline (`fairuse run --month`, a whole process, fresh warehouse, median of repeats), the bare
baseline (baseline.py: the dbt models' own SQL compiled once and run as one plain DuckDB script in one fresh
process), the check that both agree row for row on every published table, and only then the ratio. Also two
references that are not checked: the old hand-written usage-only script (bare.sql) and pandas (usage only).
Every timing is a whole process (subprocess); peak RSS from getrusage of the children (the largest process of the
run, dbt's included).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

from dagster_project.domain.publish import publishes_incrementally
from dagster_project.domain.settings import REPO_ROOT, build_db_for
from dagster_project.tools.bench import baseline
from dagster_project.tools.bench.measure import (
    BENCH,
    HASH_KEY,
    PY,
    STAGES,
    empty_trash,
    events_in_month,
    fresh_dir,
    parse_steps,
    rss_of,
    stage_of,
)

SIZES = {  # name -> (users, months, calls_per_user)
    "D": (2000, "2026-10", None),
    "K": (10_000, "2026-10", None),
    "S": (2000, "2026-07..2026-10", None),
    "M": (50_000, "2026-10", 116.0),
    "L": (250_000, "2026-10", 116.0),
}
DEFAULT_SIZES = "D,K,M,L"
STAGE_NAMES = {"raw": "raw step", "dbt": "dbt", "publish": "publish", "exports": "exports/report",
               "orchestration": "orchestration"}


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
    secs, rss, out = rss_of(cmd)
    rows = int(re.search(r"generated ([\d,]+) rows", out).group(1).replace(",", ""))
    marker.write_text(json.dumps({"rows": rows, "seconds": secs, "rss_gib": rss}))
    return raw


def pipeline_run(raw: Path, work: Path, months: list[str], fresh: bool = True) -> dict:
    if fresh:
        fresh_dir(work)
    work.mkdir(parents=True, exist_ok=True)
    cmd = [PY, "-m", "dagster_project.cli.main", "run", "--raw-dir", str(raw),
           "--warehouse", str(work / "warehouse.duckdb"),
           "--exports-dir", str(work / "exports")]
    for m in months:
        cmd += ["--month", m]
    secs, rss, out = rss_of(cmd, env={"FAIRUSE_HASH_KEY": HASH_KEY})
    steps = parse_steps(out)
    stages = dict.fromkeys(STAGES, 0.0)
    for step, s in steps.items():
        stages[stage_of(step)] += s
    stages["orchestration"] = secs - sum(steps.values())
    # What each month took inside the process ("[YYYY-MM] done in 4.2s"): the run of the month, steps and Dagster
    # around them, without the process's start (Python, imports, definitions, instance), paid once per command.
    month = sum(float(x) for x in re.findall(r"^\[\d{4}-\d{2}\] done in ([\d.]+)s", out, re.M))
    return {"seconds": secs, "rss_gib": rss, "stages": stages, "steps": steps, "month_seconds": month}


def handwritten_usage(raw: Path, month: str, out_dir: Path) -> dict:
    """The old hand-written script (bare.sql): usage (and rough cohorts, ratios, flags, surcharge candidates)
    straight from the Parquet in one DuckDB process. A reference only: not the pipeline's rules, not checked."""
    from dagster_project.domain.policy import load_policy
    from dagster_project.domain.settings import DEFAULT_POLICY_FILE

    p = load_policy(DEFAULT_POLICY_FILE)
    sql = (Path(__file__).with_name("bare.sql").read_text()
           .replace("{raw}", str(raw)).replace("{month}", month)
           .replace("{i1}", str(p.billing_initial_seconds)).replace("{i2}", str(p.billing_subsequent_seconds))
           .replace("{min_cohort}", str(p.min_cohort_size)).replace("{tm}", str(p.threshold_multiple))
           .replace("{cc_minutes}", str(p.contact_center_minutes_per_user)))
    out_dir.mkdir(parents=True, exist_ok=True)
    script = out_dir / "handwritten.sql"
    script.write_text(sql)
    code = ("import duckdb,sys;c=duckdb.connect();"
            "c.execute(\"set memory_limit='3GB'\");"
            "[c.execute(s) for s in open(sys.argv[1]).read().split(';\\n') if s.strip()]")
    secs, rss, _ = rss_of([PY, "-c", code, str(script)])
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
    secs, rss, _ = rss_of([PY, "-c", code])
    return {"seconds": secs, "rss_gib": rss}


def median_of(n: int, fn) -> dict:
    return summarize([fn() for _ in range(n)])


def summarize(runs: list[dict]) -> dict:
    out = {"seconds": statistics.median(r["seconds"] for r in runs), "rss_gib": max(r["rss_gib"] for r in runs),
           "runs": [round(r["seconds"], 2) for r in runs]}
    for key in ("raw_step", "sql", "close", "month_seconds"):
        if key in runs[0]:
            out[key] = statistics.median(r[key] for r in runs)
    if "stages" in runs[0]:
        out["stages"] = {k: statistics.median(r["stages"].get(k, 0.0) for r in runs) for k in runs[0]["stages"]}
    if "statements" in runs[0]:  # per statement of the bare script: the median over the runs
        labels = [label for label, _ in runs[0]["statements"]]
        per = [dict(r["statements"]) for r in runs]
        out["statements"] = [(label, statistics.median(p.get(label, 0.0) for p in per)) for label in labels]
    return out


# ---------------------------------------------------------------------------------------------------------------
# The bare baseline of one size: compiled once per month, run, checked against the pipeline's warehouse


_scripts: dict[str, str] = {}


def bare_script(month: str, size_dir: Path) -> Path:
    """The month's bare script (dbt compile once per month per bench run), written under the size's folder."""
    if month not in _scripts:
        _scripts[month] = baseline.compile_script(month, hash_key=HASH_KEY, workdir=BENCH / "compile")
    path = size_dir / "bare" / "script.sql"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_scripts[month])
    return path


def pipeline_and_bare(raw: Path, month: str, size_dir: Path, repeats: int) -> tuple[dict, dict, Path]:
    """`repeats` runs of each side, alternating (pipeline, bare, pipeline, ...) so that both see the same load
    from whatever else runs on the machine; medians of each. The last pipeline run's warehouse is kept."""
    script = bare_script(month, size_dir)
    db = size_dir / "bare" / "run" / f"{baseline.CATALOG}.duckdb"
    pipe_runs, bare_runs = [], []
    for _ in range(repeats):
        pipe_runs.append(pipeline_run(raw, size_dir / "work", [month]))
        bare_runs.append(baseline.bare_run(raw, month, script, db, hash_key=HASH_KEY))
    pipe, bare = summarize(pipe_runs), summarize(bare_runs)
    bare["script"] = str(script.relative_to(REPO_ROOT)) if script.is_relative_to(REPO_ROOT) else str(script)
    return pipe, bare, db


# ---------------------------------------------------------------------------------------------------------------
# A month launched through the Dagster run launcher (the UI's path)

# HOOK: another change adds dagster_project/tools/bench/launcher.py. The benchmark uses the first of these functions
# it finds there, called as fn(raw=Path, work=Path, month="YYYY-MM") and returning {"seconds": float, ...} (or the
# seconds): one month launched through the Dagster run launcher, as from the UI, timed end to end. Until the module
# exists, the UI-launched target reads "not measured".
LAUNCHER_FUNCTIONS = ("time_launched_month", "launched_month", "launch_month")


def launcher_function():
    try:
        from dagster_project.tools.bench import launcher  # noqa: PLC0415 - optional, written separately
    except ImportError:
        return None
    for name in LAUNCHER_FUNCTIONS:
        fn = getattr(launcher, name, None)
        if callable(fn):
            return fn
    return None


def launched_month(raw: Path, work: Path, month: str, repeats: int) -> dict | None:
    fn = launcher_function()
    if fn is None:
        return None

    def once() -> dict:
        fresh_dir(work)
        r = fn(raw=raw, work=work, month=month)
        r = {"seconds": float(r)} if isinstance(r, int | float) else dict(r)
        r.setdefault("rss_gib", 0.0)
        return r

    return median_of(repeats, once)


# ---------------------------------------------------------------------------------------------------------------


def _link_published(src: str, dst: str) -> None:
    """copytree's copy function for a built state: the published warehouse file is hard-linked, everything else
    copied. The pipeline never writes a published file in place (it publishes a new file and renames it over),
    so the link stays as it was; a copy would be another file to the publish journal (another inode), which then,
    rightly, publishes by a full copy: not what month 12 costs an operator."""
    if Path(src).name == "warehouse.duckdb":
        os.link(src, dst)
    else:
        shutil.copy2(src, dst)


def history(repeats: int) -> dict:
    """Month 12 with 11 months built vs month 1 on an empty warehouse (same users, same volume)."""
    raw = BENCH / "H" / "raw"
    marker = BENCH / "H" / "generated.json"
    if not marker.exists():
        subprocess.run([PY, "-m", "dagster_project.cli.main", "generate", "--out", str(raw), "--users", "20000",
                        "--months", "2025-11..2026-10", "--seed", "3"], cwd=REPO_ROOT, check=True, capture_output=True)
        marker.write_text("{}")
    work = BENCH / "H" / "work"
    pipeline_run(raw, work, [f"2025-{m:02d}" for m in (11, 12)] + [f"2026-{m:02d}" for m in range(1, 10)])
    snapshot = BENCH / "H" / "after11"
    shutil.rmtree(snapshot, ignore_errors=True)
    shutil.copytree(work, snapshot, copy_function=_link_published)

    def month12():
        fresh_dir(work).rmdir()
        shutil.copytree(snapshot, work, copy_function=_link_published)
        warehouse = work / "warehouse.duckdb"
        if not publishes_incrementally(build_db_for(warehouse), warehouse):
            raise RuntimeError(f"{work}: the restored state would publish month 12 by a full copy")
        return pipeline_run(raw, work, ["2026-10"], fresh=False)

    # alternating, so that both see the same load from whatever else runs on the machine
    first_runs, last_runs = [], []
    for _ in range(repeats):
        first_runs.append(pipeline_run(raw, BENCH / "H" / "work-month1", ["2025-11"]))
        last_runs.append(month12())
    first, last = summarize(first_runs), summarize(last_runs)
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


def bench_size(size: str, repeats: int) -> dict:
    raw = generate(size)
    month = SIZES[size][1].split("..")[-1]
    events = events_in_month(raw, month)
    reps = 1 if size == "L" else repeats
    load = os.getloadavg()[0]  # other work on the machine skews every number: recorded with them
    print(f"[bench] {size}: {events:,} events in {month} (load average {load:.1f})", flush=True)
    size_dir = BENCH / size
    work = size_dir / "work"
    pipe, bare, bare_db = pipeline_and_bare(raw, month, size_dir, reps)
    print(f"[bench] {size}: pipeline {pipe['seconds']:.2f}s (runs {pipe['runs']})", flush=True)
    print(f"[bench] {size}: bare {bare['seconds']:.2f}s (runs {bare['runs']})", flush=True)
    ok, tables = baseline.agree(work / "warehouse.duckdb", bare_db, month)  # the last pipeline run's warehouse
    print(f"[bench] {size}: pipeline and bare {'agree' if ok else 'DISAGREE'} on every published table:\n"
          + baseline.format_agreement(tables), flush=True)
    try:
        hand = median_of(1, lambda: handwritten_usage(raw, month, size_dir / "bare"))
    except RuntimeError as exc:  # the old script no longer fits the raw layout: a reference only
        print(f"[bench] {size}: hand-written usage-only script failed: {exc}", flush=True)
        hand = None
    pand = median_of(1, lambda: pandas_usage(raw, month)) if size != "L" else None
    return {"events": events, "month": month, "pipeline": pipe, "bare": bare, "load": load,
            "agreement": {"ok": ok, "tables": [dataclasses.asdict(t) for t in tables]},
            "ratio": pipe["seconds"] / bare["seconds"] if ok else None,
            "handwritten": hand, "pandas": pand,
            "generated": json.loads((size_dir / "generated.json").read_text())}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="bench")
    ap.add_argument("--sizes", default=DEFAULT_SIZES, help=f"comma-separated, of {','.join(SIZES)}")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--history", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--launcher", action=argparse.BooleanOptionalAction, default=True,
                    help="time one month launched through the Dagster run launcher (needs launcher.py)")
    ap.add_argument("--out", default=str(REPO_ROOT / "BENCHMARKS.md"))
    ap.add_argument("--merge", action="store_true",
                    help="start from the previous data/bench/results.json: what this invocation does not measure "
                         "(other sizes, the history, the launcher) is kept from there, so a report can be built "
                         "in parts")
    ap.add_argument("--spark-sizes", default="K",
                    help="sizes for the Spark leg (tools/bench/spark.py: local[1], local[2] vs DuckDB; '' for none; "
                         "skipped without Java or the spark extra)")
    args = ap.parse_args(argv)
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    unknown = [s for s in sizes if s not in SIZES]
    if unknown:
        ap.error(f"unknown size(s) {unknown}; known: {', '.join(SIZES)}")
    BENCH.mkdir(parents=True, exist_ok=True)
    previous = {}
    if args.merge and (BENCH / "results.json").exists():
        previous = json.loads((BENCH / "results.json").read_text())
    results = dict(previous.get("results") or {})
    for size in sizes:
        results[size] = bench_size(size, args.repeats)
        r = results[size]
        print(f"[bench] {size}: " + (f"pipeline / bare = {r['ratio']:.2f}" if r["ratio"] is not None
                                      else "no ratio: the sides disagree"), flush=True)
    launched = None
    small = next((s for s in ("D", "K", "S") if s in results), None)
    if args.launcher and small:
        launched = launched_month(BENCH / small / "raw", BENCH / small / "launched", results[small]["month"],
                                  args.repeats)
        if launched is not None:
            launched |= {"size": small, "month": results[small]["month"]}
        else:
            print("[bench] no dagster_project/tools/bench/launcher.py (or no launch function): UI-launched month "
                  "not measured", flush=True)
    if launched is None:
        launched = previous.get("launched")
    hist = history(args.repeats) if args.history else previous.get("history")
    if args.spark_sizes:
        from dagster_project.tools.bench import spark as spark_bench

        spark_bench.main(["--sizes", args.spark_sizes, "--repeats", str(args.repeats)])
    (BENCH / "results.json").write_text(json.dumps({"results": results, "history": hist, "launched": launched},
                                                   indent=1, default=str))
    Path(args.out).write_text(render(results, hist, launched) + kept_notes(Path(args.out)))
    print(f"[bench] wrote {args.out}")
    empty_trash()  # the folders of earlier runs, set aside (not deleted) between measurements
    disagree = [s for s, r in results.items() if not r["agreement"]["ok"]]
    if disagree:
        print(f"[bench] no ratio for {', '.join(disagree)}: the bare script and the pipeline disagree (above)",
              file=sys.stderr)
        return 1
    return 0


# ---------------------------------------------------------------------------------------------------------------
# BENCHMARKS.md


def _verdict(ok: bool | None) -> str:
    return "not measured" if ok is None else "met" if ok else "missed"


def _differing(r: dict) -> str:
    bad = [t["table"] for t in r["agreement"]["tables"] if not t["equal"]]
    return ", ".join(bad) or "no table compared"


def targets(results: dict, hist: dict | None, launched: dict | None) -> list[tuple[str, str, str]]:
    """(target, measured, verdict) for every target, computed from the numbers."""
    rows: list[tuple[str, str, str]] = []

    def end_to_end(size: str, what: str, limit: float) -> None:
        r = results.get(size)
        if r is None:
            rows.append((f"{size}: {what} ≤ {limit:g} s end to end", "-", _verdict(None)))
            return
        s = r["pipeline"]["seconds"]
        rows.append((f"{size}: {what} ≤ {limit:g} s end to end", f"{s:.1f} s ({r['events']:,} events)",
                     _verdict(s <= limit)))

    def ratio(size: str, limit: float) -> None:
        r = results.get(size)
        name = f"{size}: pipeline / bare DuckDB ≤ {limit:g}"
        if r is None:
            rows.append((name, "-", _verdict(None)))
        elif r["ratio"] is None:
            rows.append((name, f"sides disagree ({_differing(r)})", "not reported"))
        else:
            rows.append((name, f"{r['ratio']:.2f} ({r['pipeline']['seconds']:.1f} s vs {r['bare']['seconds']:.1f} s)",
                         _verdict(r["ratio"] <= limit)))

    def rss(size: str, limit: float) -> None:
        r = results.get(size)
        name = f"{size}: peak RSS ≤ {limit:g} GiB"
        if r is None:
            rows.append((name, "-", _verdict(None)))
        else:
            rows.append((name, f"{r['pipeline']['rss_gib']:.2f} GiB", _verdict(r["pipeline"]["rss_gib"] <= limit)))

    def in_process(size: str, what: str, limit: float) -> None:
        r = results.get(size)
        name = f"{size}: {what} ≤ {limit:g} s, the month alone in a running process"
        month = (r or {}).get("pipeline", {}).get("month_seconds")
        if not month:
            rows.append((name, "-", _verdict(None)))
            return
        rows.append((name, f"{month:.1f} s (`fairuse run`'s \"done in\": without the process's start)",
                     _verdict(month <= limit)))

    end_to_end("D", "demo month (~0.5 M events)", 5)
    end_to_end("K", "2.5 M-event month", 8)
    in_process("D", "demo month", 5)
    in_process("K", "2.5 M-event month", 8)
    ratio("M", 1.5)
    m = results.get("M")
    rate = m["events"] / m["pipeline"]["seconds"] if m else None
    rows.append(("M: ≥ 1 M events/s end to end", f"{rate / 1e6:.2f} M events/s" if m else "-",
                 _verdict(None if m is None else rate >= 1e6)))
    rss("M", 4)
    ratio("L", 1.3)
    rss("L", 8)
    if hist:
        m1, m12 = hist["month1"]["seconds"], hist["month12"]["seconds"]
        rows.append(("month 12 within 10% of month 1 (median of runs)",
                     f"{100 * (m12 / m1 - 1):+.1f}% ({m1:.1f} s → {m12:.1f} s)", _verdict(abs(m12 / m1 - 1) <= 0.10)))
    else:
        rows.append(("month 12 within 10% of month 1 (median of runs)", "-", _verdict(None)))
    if launched:
        cli = results[launched["size"]]["pipeline"]["seconds"]
        f = launched["seconds"] / cli
        rows.append(("UI-launched month ≤ 1.2 × `fairuse run`",
                     f"{f:.2f} × ({launched['seconds']:.1f} s vs {cli:.1f} s, {launched['size']})", _verdict(f <= 1.2)))
    else:
        rows.append(("UI-launched month ≤ 1.2 × `fairuse run`", "no launcher.py yet", _verdict(None)))
    gen = [(s, r["generated"]) for s, r in results.items() if r["generated"]["rows"] >= 5_000_000]
    if gen:
        s, g = max(gen, key=lambda x: x[1]["rows"])
        per10m = 10e6 / (g["rows"] / g["seconds"])
        rows.append(("`fairuse generate`: 10 M events < 1 min", f"{per10m:.0f} s per 10 M rows (size {s})",
                     _verdict(per10m < 60)))
    return rows


NOTES_MARKER = "<!-- notes: written by hand, kept when make bench rewrites the numbers above -->"


def kept_notes(out: Path) -> str:
    """The hand-written part of an existing report (from NOTES_MARKER on), carried over to the new one."""
    try:
        text = out.read_text()
    except OSError:
        return ""
    i = text.find(NOTES_MARKER)
    return "\n" + text[i:] if i >= 0 else ""


def render(results: dict, hist: dict | None, launched: dict | None = None) -> str:
    lines = ["# Benchmarks", "", f"Machine: {machine()}.", "",
             "Generated by `make bench` (dagster_project/tools/bench). Medians of the runs shown (L: one run); whole "
             "processes; one month each on a fresh warehouse. Peak RSS is the largest process of the run (DuckDB's "
             "memory_limit is 3 GB, FAIRUSE_DUCKDB_MEMORY_LIMIT; it spills to disk beyond).", "",
             "## What is compared", "",
             "- **pipeline**: `fairuse run --month M`, the whole process: Dagster in process, the raw step, "
             "`dbt build` (models and data tests), publish (marts + audit copied into a new warehouse file), "
             "finance exports, the monthly report and notices, the asset checks.",
             "- **bare DuckDB**: the same SQL, none of the machinery. Every dbt model compiled once by `dbt compile` "
             "(the month's vars, against an empty database, so incremental models are their full selects) and "
             "written as one plain DuckDB script in dependency order (`data/bench/<size>/bare/script.sql`), run in "
             "one fresh Python process: DuckDB with the pipeline's settings, the raw step's `record_month` (footer "
             "checks and the raw views: the least any script must do to read the files with the contract's types), "
             "then every statement. No Dagster, no dbt at run time, no data tests, no publish copy, no exports or "
             "report. pipeline / bare is what orchestration, tests and publishing add; it is reported only when both "
             "sides agree row for row on every table the pipeline publishes (below).",
             "- **hand-written usage only**: the old `bare.sql`, usage (and rough cohorts, ratios, flags) straight "
             "from the Parquet, not the pipeline's rules and not checked: a floor for reading the files once.",
             "- **pandas usage**: usage only, in pandas.", ""]
    header = ("size", "events", "pipeline s (runs)", "events/s", "peak RSS GiB", "bare DuckDB s (runs)",
              "bare RSS GiB", "pipeline / bare", "hand-written usage only s", "pandas usage s",
              "load avg at start")
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for size, r in results.items():
        p, b = r["pipeline"], r["bare"]
        ratio = f"{r['ratio']:.2f}" if r["ratio"] is not None else f"not reported: {_differing(r)} differ(s)"
        cells = [size, f"{r['events']:,}", f"{p['seconds']:.1f} ({', '.join(map(str, p['runs']))})",
                 f"{r['events'] / p['seconds']:,.0f}", f"{p['rss_gib']:.2f}",
                 f"{b['seconds']:.1f} ({', '.join(map(str, b['runs']))})", f"{b['rss_gib']:.2f}", ratio,
                 f"{r['handwritten']['seconds']:.1f}" if r.get("handwritten") else "-",
                 f"{r['pandas']['seconds']:.1f}" if r.get("pandas") else "-",
                 f"{r['load']:.1f}" if r.get("load") is not None else "-"]
        lines.append("| " + " | ".join(cells) + " |")

    lines += ["", "## Against the targets", "", "| target | measured | verdict |", "|---|---|---|"]
    lines += [f"| {t} | {m} | {v} |" for t, m, v in targets(results, hist, launched)]

    lines += ["", "## Where the time goes", "",
              "Pipeline stages from the step times `fairuse run` prints (medians): raw step (`raw_month`), dbt "
              "(`dbt_models`: models and tests), publish (`publish__warehouse` and its check), exports/report "
              "(finance exports, report and notices, their checks); orchestration is the rest of the process "
              "(Python start, importing Dagster and the definitions, the run around the steps). Bare: the raw step, "
              "the SQL, and the rest of its process (Python start, imports, connect, close).", ""]
    header = ("size", *(f"{STAGE_NAMES[k]} s" for k in STAGES), "pipeline s", "bare: raw step s", "bare: SQL s",
              "bare: rest s", "bare s")
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for size, r in results.items():
        st, b = r["pipeline"].get("stages", {}), r["bare"]
        rest = b["seconds"] - b.get("raw_step", 0) - b.get("sql", 0)
        cells = [size, *(f"{st.get(k, 0):.2f}" for k in STAGES), f"{r['pipeline']['seconds']:.2f}",
                 f"{b.get('raw_step', 0):.2f}", f"{b.get('sql', 0):.2f}", f"{rest:.2f}", f"{b['seconds']:.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    if results:
        size = max(results, key=lambda s: results[s]["events"])
        top = sorted(results[size]["bare"].get("statements", []), key=lambda x: -x[1])[:8]
        if top:
            lines += ["", f"Slowest models of the bare script ({size}, seconds): "
                      + ", ".join(f"{label.split()[0].removeprefix('model.fairuse.')} {s:.2f}" for label, s in top)
                      + "."]

    lines += ["", "## Agreement", "",
              "Every table of `marts` and `audit` in the published warehouse against the bare database's table of the "
              "same name: the month's rows (all rows if no `month` column), sorted on every column (exact ones "
              "first), row for row; floats equal to 1e-9 relative.", ""]
    for size, r in results.items():
        tables = r["agreement"]["tables"]
        if r["agreement"]["ok"]:
            lines.append(f"- {size}: all {len(tables)} tables equal ("
                         + ", ".join(f"{t['table']} {t['rows_pipeline']:,}" for t in tables) + " rows).")
        else:
            lines.append(f"- {size}: **disagree**, no ratio reported:")
            lines += [f"  - {t['table']}: {t['problem']}" for t in tables if not t["equal"]]

    if launched:
        lines += ["", "## A month launched through the Dagster run launcher", "",
                  f"Size {launched['size']} ({launched['month']}): {launched['seconds']:.1f} s "
                  f"(runs {launched['runs']}) vs `fairuse run` "
                  f"{results[launched['size']]['pipeline']['seconds']:.1f} s."]

    lines += ["", "## Generation", "", "`fairuse generate`, whole process:", ""]
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
