"""The bare-DuckDB baseline of `make bench`: the dbt models' own SQL, compiled once, run as one plain DuckDB script.

What the pipeline/bare ratio measures is what orchestration, tests and publishing add, so the bare side must do the
same work: read the same Parquet with the contract's types and build every table the pipeline publishes for the
month (usage, cohorts, ratios, flags, enforcement, thresholds, surcharge and discussions, prohibited-use flags, the
audit tables). It does not re-implement a rule: it is the SQL of every dbt model, so it cannot drift from them.

- `compile_script(month)`: `dbt compile` of every model (no tests; not the month-to-date watch's, which no
  month's run builds) once, with the month's vars, against an empty
  scratch DuckDB that has only the raw sources (so every incremental model compiles as its full select:
  `is_incremental()` is false and the `delete_month_being_built` pre-hook renders to nothing). The models, in
  dependency order (manifest `depends_on`), become `create or replace view|table <relation> as (<compiled SQL>)`.
- The compiled SQL names relations with the catalog of the scratch file (`"bare"."marts"."fct_..."`; dbt-duckdb
  derives the catalog from the file name). The script is run in a DuckDB file with that same name (`bare.duckdb`,
  in its own folder), so the SQL is executed byte for byte as dbt compiled it, with no text rewriting that could
  also touch a string literal; the runner checks `current_database()` against the script's catalog first.
- `bare_run(raw, month, script, db)`: one fresh Python process: a fresh DuckDB file with the pipeline's settings
  (TimeZone UTC, memory_limit 3GB or FAIRUSE_DUCKDB_MEMORY_LIMIT), the raw step's `record_month` (footer checks and
  the raw views: the least any script must do to read the files with the contract's types), then every statement
  in order. No Dagster, no dbt at run time, no data tests, no publish copy, no exports.
- `agree(warehouse, bare_db, month)`: every table of `marts` and `audit` in the published warehouse against the bare
  database's table of the same name: the month's rows (all rows if the table has no `month` column), sorted, row
  for row, floats equal to 1e-9 relative. `make bench` reports no ratio for a size whose sides disagree.
"""

from __future__ import annotations

import argparse
import dataclasses
import graphlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from dagster_project.tools.bench.measure import BENCH, PY, rss_of

CATALOG = "bare"  # the scratch file of the compile and the run's database file are both named bare.duckdb
PUBLISHED_SCHEMAS = ("marts", "audit")  # what publish_warehouse copies (domain/publish.py)
REL_TOL = 1e-9
# Hooks the baseline knows to be no-ops on a fresh database (is_incremental() is false there).
NOOP_HOOKS = {"{{ delete_month_being_built() }}"}
_MARKER = re.compile(r"^-- \[bench\] (.+)$", re.M)
# The pseudonymisation key reaches DuckDB as a variable set with a bound parameter (never in SQL text), as the
# dbt-duckdb plugin does for dbt (domain/duckdb_key_plugin.py): the script names the variable in its header.
_KEY_LINE = re.compile(r"^-- key variable: (\w+)$", re.M)


class BaselineError(RuntimeError):
    """The models cannot be turned into a plain script (dbt compile failed, or a model uses a feature the script
    does not replay)."""


# ---------------------------------------------------------------------------------------------------------------
# Compile


def _policy(policy: Any):
    from dagster_project.domain.policy import Policy, load_policy
    from dagster_project.domain.settings import DEFAULT_POLICY_FILE

    if isinstance(policy, Policy):
        return policy
    return load_policy(Path(policy) if policy else DEFAULT_POLICY_FILE)


def _dbt_compile(month: str, policy: Any, hash_key: str, workdir: Path) -> dict:
    """`dbt compile` of every model for `month` into workdir/target; returns the manifest."""
    from dagster_project.domain import raw_load
    from dagster_project.domain.dbt_project import dbt_executable
    from dagster_project.domain.dbt_vars import dbt_vars_for_month
    from dagster_project.domain.settings import DBT_PROJECT_DIR

    workdir.mkdir(parents=True, exist_ok=True)
    scratch = workdir / f"{CATALOG}.duckdb"
    for p in (scratch, Path(f"{scratch}.wal")):
        p.unlink(missing_ok=True)
    con = raw_load.connect(scratch)  # empty but for the sources dbt names: nothing is incremental here
    try:
        raw_load.ensure_sources(con)
    finally:
        con.close()
    target = workdir / "target"
    shutil.rmtree(target / "compiled", ignore_errors=True)
    cmd = [dbt_executable(), "compile", "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
           "--target-path", str(target), "--log-path", str(target), "--log-level-file", "none",
           "--no-send-anonymous-usage-stats", "--quiet",
           "--select", "resource_type:model", "--exclude", "resource_type:test", "resource_type:unit_test", "tag:watch",
           "--indirect-selection", "empty",
           "--vars", json.dumps(dbt_vars_for_month(month, _policy(policy)))]
    env = {**os.environ, "FAIRUSE_BUILD_DB": str(scratch), "FAIRUSE_HASH_KEY": hash_key}
    proc = subprocess.run(cmd, cwd=DBT_PROJECT_DIR, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BaselineError(f"dbt compile failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return json.loads((target / "manifest.json").read_text())


def _hooks(config: dict, key: str) -> list[str]:
    return [h["sql"] if isinstance(h, dict) else str(h) for h in (config.get(key) or [])]


def _models_in_order(manifest: dict) -> list[dict]:
    # The month-to-date watch (tag `watch`) is no part of a month's build: `fairuse watch` builds it apart.
    models = {uid: n for uid, n in manifest["nodes"].items()
              if n["resource_type"] == "model" and "watch" not in n.get("tags", [])}
    graph = graphlib.TopologicalSorter()
    for uid in sorted(models):
        graph.add(uid, *sorted(d for d in models[uid]["depends_on"]["nodes"] if d in models))
    return [models[uid] for uid in graph.static_order()]


def _statement(node: dict) -> str | None:
    """The model as one statement, or None for an ephemeral model (dbt inlines those where they are used)."""
    uid, config = node["unique_id"], node["config"]
    materialized = config["materialized"]
    if materialized == "ephemeral":
        return None
    if materialized not in ("view", "table", "incremental"):
        raise BaselineError(f"{uid}: materialization {materialized!r} is not replayed by the bare script")
    for key in ("pre-hook", "post-hook"):
        unknown = [h for h in _hooks(config, key) if h.strip() not in NOOP_HOOKS]
        if unknown:
            raise BaselineError(f"{uid}: {key} {unknown} is not replayed by the bare script")
    if (config.get("contract") or {}).get("enforced") or config.get("sql_header"):
        raise BaselineError(f"{uid}: contracts and sql_header are not replayed by the bare script")
    sql = (node.get("compiled_code") or "").strip().rstrip(";").rstrip()
    relation = node.get("relation_name")
    if not sql or not relation:
        raise BaselineError(f"{uid}: no compiled SQL in the manifest")
    if not relation.startswith(f'"{CATALOG}".'):
        raise BaselineError(f"{uid}: compiled for catalog {relation!r}, expected {CATALOG!r}")
    if materialized == "incremental" and relation in sql:
        # an incremental model reading itself was compiled as an increment, not as its full select
        raise BaselineError(f"{uid}: compiled SQL reads its own relation {relation}: is_incremental() was true")
    kind = "view" if materialized == "view" else "table"
    return f"create or replace {kind} {relation} as (\n{sql}\n)"


def compile_script(month: str, policy: Any = None, hash_key: str = "bench", workdir: Path | None = None) -> str:
    """The month's bare script: the compiled SQL of every dbt model, in dependency order, as plain DuckDB
    statements (each after a `-- [bench] <unique_id> <kind>` line). Run it with `run_script` (or `bare_run`).

    `policy`: a Policy, a policy file, or None for policy/fair_use_policy.yaml. `hash_key`: FAIRUSE_HASH_KEY of
    the dbt compile (the key never appears in compiled SQL: the run sets it as a DuckDB variable). `workdir`: the
    scratch database and dbt's target folder (default data/bench/compile)."""
    workdir = Path(workdir) if workdir else BENCH / "compile"
    manifest = _dbt_compile(month, policy, hash_key, workdir)
    nodes = _models_in_order(manifest)
    schemas = sorted({n["schema"] for n in nodes if n["config"]["materialized"] != "ephemeral"})
    parts = [f"-- Bare-DuckDB baseline for {month}: every dbt model's SQL as `dbt compile` produced it "
             f"(dagster_project/tools/bench/baseline.py),",
             f"-- in dependency order. Catalog: {CATALOG}. Run in a DuckDB file named {CATALOG}.duckdb after "
             f"raw_load.record_month (the raw views).",
             "-- Generated: edit the models, not this file."]
    try:
        from dagster_project.domain.duckdb_key_plugin import KEY_VARIABLE

        parts.append(f"-- key variable: {KEY_VARIABLE}")
    except ImportError:  # a project without the key plugin: nothing to set
        pass
    for schema in schemas:
        parts += [f"-- [bench] schema {schema}", f'create schema if not exists "{CATALOG}"."{schema}";']
    for node in nodes:
        stmt = _statement(node)
        if stmt is not None:
            parts += [f"-- [bench] {node['unique_id']} {node['config']['materialized']}", stmt + ";"]
    return "\n".join(parts) + "\n"


def statements(script: str) -> list[tuple[str, str]]:
    """(label, SQL) of each statement of a script made by `compile_script`."""
    pieces = _MARKER.split(script)
    return [(label, sql.strip().rstrip(";").rstrip()) for label, sql in zip(pieces[1::2], pieces[2::2], strict=True)]


# ---------------------------------------------------------------------------------------------------------------
# Run (in a fresh process)


def run_script(raw: Path, month: str, script: Path, db: Path) -> dict:
    """What the bare process does: a fresh DuckDB file, the raw step, every statement. Returns timings."""
    from dagster_project.domain import raw_load

    db = Path(db)
    if db.stem != CATALOG:
        raise BaselineError(f"the script names catalog {CATALOG!r}: run it in a file named {CATALOG}.duckdb")
    db.parent.mkdir(parents=True, exist_ok=True)
    for p in (db, Path(f"{db}.wal")):
        p.unlink(missing_ok=True)
    text = Path(script).read_text()
    stmts = statements(text)
    key_variable = _KEY_LINE.search(text)
    con = raw_load.connect(db, memory_limit=os.environ.get("FAIRUSE_DUCKDB_MEMORY_LIMIT", "3GB"))
    try:
        catalog = con.execute("select current_database()").fetchone()[0]
        if catalog != CATALOG:
            raise BaselineError(f"database {db} opened as catalog {catalog!r}, the script names {CATALOG!r}")
        if key_variable and os.environ.get("FAIRUSE_HASH_KEY"):
            con.execute(f"set variable {key_variable.group(1)} = ?", [os.environ["FAIRUSE_HASH_KEY"]])
        t0 = time.perf_counter()
        raw_load.record_month(con, Path(raw), month)
        raw_step = time.perf_counter() - t0
        timings = []
        for label, sql in stmts:
            t = time.perf_counter()
            try:
                con.execute(sql)
            except Exception as exc:
                raise BaselineError(f"{label}: {exc}") from exc
            timings.append((label, round(time.perf_counter() - t, 4)))
        sql_seconds = time.perf_counter() - t0 - raw_step
        t = time.perf_counter()
    finally:
        con.close()
    return {"raw_step": raw_step, "sql": sql_seconds, "close": time.perf_counter() - t, "statements": timings}


def bare_run(raw: Path, month: str, script: Path | None = None, db: Path | None = None,
             hash_key: str = "bench") -> dict:
    """The bare script in one fresh Python process, timed as a whole (start, imports, raw step, SQL, close) with
    its peak RSS. `script`: made by `compile_script` (compiled now into data/bench/bare/ if not given); `db`: the
    database file to (re)create, named bare.duckdb (default data/bench/bare/run/bare.duckdb); `hash_key`: the
    pseudonymisation key (FAIRUSE_HASH_KEY of the process, as for the pipeline)."""
    if script is None:
        script = BENCH / "bare" / f"script-{month}.sql"
        script.parent.mkdir(parents=True, exist_ok=True)
        script.write_text(compile_script(month, hash_key=hash_key))
    db = Path(db) if db else BENCH / "bare" / "run" / f"{CATALOG}.duckdb"
    cmd = [PY, "-m", "dagster_project.tools.bench.baseline", "--raw", str(raw), "--month", month,
           "--script", str(script), "--db", str(db)]
    secs, rss, out = rss_of(cmd, env={"FAIRUSE_HASH_KEY": hash_key})
    inner = json.loads(out.strip().splitlines()[-1])
    return {"seconds": secs, "rss_gib": rss, "raw_step": inner["raw_step"], "sql": inner["sql"],
            "close": inner["close"], "statements": inner["statements"]}


# ---------------------------------------------------------------------------------------------------------------
# Agreement


@dataclasses.dataclass
class TableAgreement:
    table: str  # schema.name
    rows_pipeline: int | None
    rows_bare: int | None
    equal: bool
    mismatches: int = 0  # row positions that differ (after sorting)
    problem: str | None = None  # missing table, different columns, or the first differing row

    def line(self) -> str:
        rows = f"{self.rows_pipeline if self.rows_pipeline is not None else '-':>9} pipeline " \
               f"{self.rows_bare if self.rows_bare is not None else '-':>9} bare"
        verdict = "equal" if self.equal else f"DIFFERS ({self.mismatches} row(s)): {self.problem}"
        return f"  {self.table:<40} {rows}  {verdict}"


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _columns(con, catalog: str, schema: str, table: str) -> list[tuple[str, str]]:
    return con.execute("select column_name, data_type from duckdb_columns() where database_name = ? "
                       "and schema_name = ? and table_name = ? order by column_index",
                       [catalog, schema, table]).fetchall()


def _short(row: dict) -> str:
    text = ", ".join(f"{k}={v!r}" for k, v in row.items())
    return text if len(text) <= 600 else text[:600] + " ..."


def _compare(con, schema: str, table: str, month: str) -> TableAgreement:
    name = f"{schema}.{table}"
    cols_p, cols_b = _columns(con, "p", schema, table), _columns(con, "b", schema, table)
    if cols_p != cols_b:
        return TableAgreement(name, None, None, False, 0, f"columns differ: pipeline {cols_p} vs bare {cols_b}")
    names = [c for c, _ in cols_p]
    floats = {c for c, t in cols_p if t in ("DOUBLE", "FLOAT", "REAL")}
    # Sort on every column, exact ones first: a last-digit difference in a float never reorders the rows.
    order = ", ".join(f"{_q(c)} asc nulls last" for c in [*(c for c in names if c not in floats),
                                                          *(c for c in names if c in floats)])
    where = f"where month = date '{month}-01'" if "month" in names else ""
    for side in ("p", "b"):
        con.execute(f"create or replace temp table _{side} as select *, row_number() over (order by {order}) "
                    f"as __rn from {side}.{_q(schema)}.{_q(table)} {where}")
    n_p = con.execute("select count(*) from _p").fetchone()[0]
    n_b = con.execute("select count(*) from _b").fetchone()[0]

    def same(c: str) -> str:
        a, b = f"a.{_q(c)}", f"b.{_q(c)}"
        if c in floats:
            return (f"coalesce({a} is not distinct from {b} "
                    f"or abs({a} - {b}) <= {REL_TOL} * greatest(abs({a}), abs({b})), false)")
        return f"{a} is not distinct from {b}"

    all_same = " and ".join(same(c) for c in names) or "true"
    bad, first = con.execute(
        f"select count(*), min(coalesce(a.__rn, b.__rn)) from _p a full join _b b on a.__rn = b.__rn "
        f"where a.__rn is null or b.__rn is null or not ({all_same})").fetchone()
    problem = None
    if bad:
        rows = {}
        for side in ("p", "b"):
            cur = con.execute(f"select * exclude (__rn) from _{side} where __rn = ?", [first])
            got = cur.fetchone()
            rows[side] = dict(zip([d[0] for d in cur.description], got, strict=True)) if got else None
        if rows["p"] and rows["b"]:
            differing = [c for c in names if rows["p"][c] != rows["b"][c]]
            problem = (f"first difference at sorted row {first}, columns {differing}: "
                       f"pipeline ({_short(rows['p'])}) vs bare ({_short(rows['b'])})")
        else:
            only = "pipeline" if rows["p"] else "bare"
            problem = f"row {first} only on the {only} side: {_short(rows['p'] or rows['b'])}"
    con.execute("drop table _p")
    con.execute("drop table _b")
    return TableAgreement(name, n_p, n_b, not bad, bad, problem)


def agree(pipeline_warehouse: Path, bare_db: Path, month: str) -> tuple[bool, list[TableAgreement]]:
    """Every table of the published schemas (`marts`, `audit`) of the warehouse against the bare database's table
    of the same name, the month's rows, row for row after sorting; floats to 1e-9 relative."""
    import duckdb

    con = duckdb.connect()
    try:
        con.execute("set TimeZone = 'UTC'")
        con.execute(f"attach '{Path(pipeline_warehouse)}' as p (read_only)")
        con.execute(f"attach '{Path(bare_db)}' as b (read_only)")
        schemas = ", ".join(f"'{s}'" for s in PUBLISHED_SCHEMAS)
        found = {side: {f"{s}.{t}" for s, t in con.execute(
            f"select schema_name, table_name from duckdb_tables() where database_name = ? "
            f"and schema_name in ({schemas})", [side]).fetchall()} for side in ("p", "b")}
        details = []
        for name in sorted(found["p"] | found["b"]):
            if name not in found["b"]:
                details.append(TableAgreement(name, None, None, False, 0, "missing from the bare database"))
            elif name not in found["p"]:
                details.append(TableAgreement(name, None, None, False, 0, "missing from the published warehouse"))
            else:
                details.append(_compare(con, *name.split(".", 1), month))
    finally:
        con.close()
    ok = bool(details) and all(d.equal for d in details)
    return ok, details


def format_agreement(details: list[TableAgreement]) -> str:
    return "\n".join(d.line() for d in details)


def main(argv: list[str] | None = None) -> int:
    """The bare process itself (`bare_run` starts it): prints its timings as one JSON line."""
    ap = argparse.ArgumentParser(prog="bench-baseline")
    ap.add_argument("--raw", required=True)
    ap.add_argument("--month", required=True)
    ap.add_argument("--script", required=True)
    ap.add_argument("--db", required=True)
    a = ap.parse_args(argv)
    print(json.dumps(run_script(Path(a.raw), a.month, Path(a.script), Path(a.db))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
