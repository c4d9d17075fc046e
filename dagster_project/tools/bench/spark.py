"""The Spark leg of `make bench`: one month through `fairuse run --engine spark` on Spark local mode with
1 and 2 cores (`local[1]`, `local[2]`) against `fairuse run` on DuckDB, on the same raw data.

Each run is a whole process on a fresh warehouse (JVM start, dbt parse when the project changed, the month, the
copy into the published DuckDB file, exports, report), timed end to end and per stage from the step lines `fairuse
run` prints; rows/s are the month's events (calls + messages + chats in the files' footers) per second. The Spark
warehouses are checked row for row against the DuckDB one (the benchmark's `agree`) before anything is reported.
Results are printed and written to `data/bench/spark_results.json`.

    python -m dagster_project.tools.bench.spark --sizes K [--raw-root DIR] [--masters local[1],local[2]]

`--raw-root` holds `<size>/raw` folders (default data/bench, where `make bench` generates them).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import time
from pathlib import Path

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

DEFAULT_MASTERS = ("local[1]", "local[2]")
SPARK_DRIVER_MEMORY = "6g"


def load_average() -> tuple[float, float, float]:
    return os.getloadavg()


def engine_run(raw: Path, work: Path, month: str, engine: str, master: str | None = None) -> dict:
    """`fairuse run --month M --engine E` in a fresh process on a fresh warehouse: seconds, per-stage seconds."""
    fresh_dir(work)
    cmd = [PY, "-m", "dagster_project.cli.main", "run", "--engine", engine, "--raw-dir", str(raw),
           "--warehouse", str(work / "warehouse.duckdb"), "--exports-dir", str(work / "exports"), "--month", month]
    env = {"FAIRUSE_HASH_KEY": HASH_KEY}
    if master:
        env |= {"FAIRUSE_SPARK_MASTER": master, "FAIRUSE_SPARK_DRIVER_MEMORY": SPARK_DRIVER_MEMORY}
    load_before = load_average()
    secs, rss, out = rss_of(cmd, env=env)
    steps = parse_steps(out)
    stages = dict.fromkeys(STAGES, 0.0)
    for step, s in steps.items():
        stages[stage_of(step)] += s
    stages["orchestration"] = secs - sum(steps.values())
    return {"engine": engine, "master": master, "seconds": secs, "stages": stages,
            # the Python process's peak RSS: Spark's JVM is a separate process, not counted here
            "python_rss_gib": rss, "load_before": load_before, "load_after": load_average(),
            "warehouse": str(work / "warehouse.duckdb")}


def widened_copy(spark_wh: Path, duck_wh: Path) -> tuple[Path, list[str]]:
    """A copy of the Spark engine's warehouse in which the BIGINT columns the DuckDB engine has as HUGEINT (DuckDB's
    sum of integers; the one type that differs, same values) are HUGEINT too, so the benchmark's row-for-row
    `agree` (which also compares types) can judge the values. Returns the copy and the columns widened."""
    import duckdb

    copy = spark_wh.with_name(spark_wh.stem + ".widened.duckdb")
    shutil.copyfile(spark_wh, copy)
    con = duckdb.connect(str(copy))
    widened = []
    try:
        con.execute("attach ? as d (read_only)", [str(duck_wh)])
        rows = con.execute(
            "select s.schema_name, s.table_name, s.column_name from duckdb_columns() s join duckdb_columns() d "
            "using (schema_name, table_name, column_name) where s.database_name = current_database() and "
            "d.database_name = 'd' and s.data_type = 'BIGINT' and d.data_type = 'HUGEINT'").fetchall()
        for schema, table, column in rows:
            con.execute(f'alter table {schema}.{table} alter column "{column}" type hugeint')
            widened.append(f"{schema}.{table}.{column}")
    finally:
        con.close()
    return copy, widened


def spark_leg(size: str, raw: Path, masters=DEFAULT_MASTERS, repeats: int = 1, out_root: Path | None = None) -> dict:
    """DuckDB, then Spark with each master, on the month of `raw` (its only or last month folder); `repeats` rounds,
    the masters' order reversed every other round (the machine may be shared: a neighbour's load falls on both)."""
    import statistics

    from dagster_project.domain.raw_files import months_in_raw
    from dagster_project.tools.bench import baseline

    month = months_in_raw(raw)[-1]
    events = events_in_month(raw, month)
    root = (out_root or BENCH / "spark") / size
    print(f"[bench spark] {size}: {events:,} events in {month} ({raw})", flush=True)
    runs = []
    for i in range(repeats):
        duck = engine_run(raw, root / "duckdb", month, "duckdb")
        runs.append(duck)
        print(f"[bench spark] {size}: duckdb {duck['seconds']:.1f}s", flush=True)
        for master in (masters if i % 2 == 0 else list(reversed(masters))):
            r = engine_run(raw, root / master.replace("[", "-").replace("]", ""), month, "spark", master)
            widened, r["hugeint_columns"] = widened_copy(Path(r["warehouse"]), Path(duck["warehouse"]))
            ok, tables = baseline.agree(Path(duck["warehouse"]), widened, month)
            r["agrees_with_duckdb"] = ok
            r["differing_tables"] = [t.table for t in tables if not t.equal]
            runs.append(r)
            verdict = "agrees with DuckDB" if ok else f"DISAGREES: {r['differing_tables']}"
            print(f"[bench spark] {size}: spark {master} {r['seconds']:.1f}s (dbt {r['stages']['dbt']:.1f}s; "
                  f"{verdict})", flush=True)
    for r in runs:
        r["events_per_second"] = events / r["seconds"]
        r["dbt_events_per_second"] = events / r["stages"]["dbt"] if r["stages"]["dbt"] else None
    medians = {}
    for key in ["duckdb", *masters]:
        mine = [r for r in runs if (r["master"] or "duckdb") == key]
        medians[key] = {"seconds": statistics.median(r["seconds"] for r in mine),
                        "dbt_seconds": statistics.median(r["stages"]["dbt"] for r in mine),
                        "runs": [round(r["seconds"], 1) for r in mine]}
        medians[key]["events_per_second"] = events / medians[key]["seconds"]
    return {"size": size, "month": month, "events": events, "raw": str(raw), "runs": runs, "medians": medians}


def render(results: list[dict]) -> str:
    lines = ["| size | events | engine | master | seconds | events/s | raw step s | dbt s | publish s | "
             "exports/report s | other s | agrees | load avg (1 min) before/after |", "|" + "---|" * 13]
    for res in results:
        for r in res["runs"]:
            st = r["stages"]
            lines.append(
                f"| {res['size']} | {res['events']:,} | {r['engine']} | {r['master'] or '-'} | {r['seconds']:.1f} | "
                f"{r['events_per_second']:,.0f} | {st['raw']:.1f} | {st['dbt']:.1f} | {st['publish']:.1f} | "
                f"{st['exports']:.1f} | {st['orchestration']:.1f} | "
                f"{'-' if r['engine'] == 'duckdb' else ('yes' if r['agrees_with_duckdb'] else 'NO')} | "
                f"{r['load_before'][0]:.2f} / {r['load_after'][0]:.2f} |")
    for res in results:
        lines.append(f"\n{res['size']} medians: " + "; ".join(
            f"{k} {m['seconds']:.1f} s ({m['events_per_second']:,.0f} events/s, runs {m['runs']})"
            for k, m in res.get("medians", {}).items()))
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="bench-spark")
    ap.add_argument("--sizes", default="K", help="comma-separated sizes (folders <raw-root>/<size>/raw)")
    ap.add_argument("--raw-root", default=str(BENCH), help="folder holding <size>/raw (default data/bench)")
    ap.add_argument("--masters", default=",".join(DEFAULT_MASTERS))
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--out", default=str(BENCH / "spark_results.json"))
    args = ap.parse_args(argv)
    from dagster_project.domain.spark_engine import spark_available

    why = spark_available()
    if why:
        print(f"[bench spark] skipped: {why}")
        return 0
    results = []
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    previous = json.loads(out.read_text()) if out.exists() else {}
    for size in [s.strip() for s in args.sizes.split(",") if s.strip()]:
        t0 = time.time()
        results.append(spark_leg(size, Path(args.raw_root) / size / "raw", args.masters.split(","), args.repeats))
        results[-1]["wall_clock_utc"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0))
        previous[size] = results[-1]
        out.write_text(json.dumps({**previous, "machine": f"{platform.machine()}, {os.cpu_count()} cores"},
                                  indent=1, default=str))
    print(render(results))
    print(f"[bench spark] wrote {out}")
    empty_trash()
    return 0 if all(r.get("agrees_with_duckdb", True) for res in results for r in res["runs"]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
