"""Publishing: the analysts' warehouse is replaced as a whole, atomically, after each month is built.

Runs write to a separate build database. Publishing prepares a new file beside the warehouse and renames it over
the warehouse path. A reader that opened the warehouse before keeps its (old) file and never blocks the run; one
that opens it after sees the new state; nobody ever sees a half-built month. Raw, staging and intermediate (phone
numbers in clear, internal steps) never reach the published file: only the `marts` and `audit` schemas.

The new file costs what the month costs, not what history costs: it starts as a copy of the previous published
file (a reflink where the file system has them, else a kernel file copy: no rows decoded or re-encoded), then
- month-partitioned tables (dbt `incremental` models with a `month` column: built one month at a time) get the
  rows of the months rebuilt since the last publish (delete + insert of those months),
- cross-month tables (dbt `table` models, rebuilt over every month each run, small) are replaced whole,
and it is checkpointed and renamed. The rebuilt months are those a dbt build touched since the last publish
(`mark_unpublished`, called before dbt writes, in a journal beside the build database), so a month built by a run
that died before publishing is published by the next one.

Only whole months are published (`check_publishable`, before any copy): the month just built must have passed its
build and the completeness gate (domain/completeness.py, recorded in domain/month_state.py), every other month the
journal holds must be whole too (a month whose dbt build was killed or failed, or that the gate held, would be
copied with it, and the cross-month tables computed over it), and the build database must hold every month the
published warehouse holds (a lost or recreated build folder would otherwise drop them). Each refusal is one line
naming the months and the command that rebuilds them; the published file is then untouched.

Anything that could make the copy differ from a full copy falls back to the full copy (every table of `marts` and
`audit` copied into a fresh file): no previous file, a previous file not published from this journal (replaced
by hand, first publish of this version), another table list or other columns, months present on one side only
beyond the rebuilt ones (build database recreated), or a previous file more than half free space (compaction).
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import shutil
import time
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import Any

import duckdb

from dagster_project.domain import month_state

PUBLISHED_SCHEMAS = ("marts", "audit")
# Provisional tables (`fairuse watch`: domain/watch.py): never in the build database; published beside the marts
# by `publish_provisional`, carried over by every publish, and a month's rows removed once that month is built.
PROVISIONAL_TABLES = ("marts.fct_month_to_date_watch", "marts.fct_month_to_date_watch_accounts")
FICLONE = 0x40049409  # linux/fs.h: share the source's blocks (btrfs, XFS, bcachefs...)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _swap_in(tmp: Path, warehouse: Path) -> None:
    """Rename the finished file `tmp` over the published `warehouse`, durably: readers see the old or the new."""
    _fsync(tmp)
    os.replace(tmp, warehouse)
    _fsync(warehouse.parent)


def month_partitioned_tables(manifest: Mapping[str, Any]) -> frozenset[str]:
    """`schema.table` of the published dbt models built one month at a time (materialized incremental), from a
    dbt manifest (manifest.json as a mapping). `table` models are rebuilt over every month: replaced whole."""
    out = set()
    for node in manifest.get("nodes", {}).values():
        config = node.get("config", {})
        schema = config.get("schema") or node.get("schema")
        if (node.get("resource_type") == "model" and schema in PUBLISHED_SCHEMAS
                and config.get("materialized") == "incremental"):
            out.add(f"{schema}.{config.get('alias') or node['name']}")
    return frozenset(out)


# ---------------------------------------------------------------------------------------------------------------
# The journal: months rebuilt in the build database and not yet published, and which published file it refers to


def _journal_path(build_db: Path) -> Path:
    return build_db.with_name(build_db.name + ".unpublished.json")


def _identity(path: Path) -> list[int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return [st.st_ino, st.st_size, st.st_mtime_ns]


def _read_journal(build_db: Path) -> dict | None:
    try:
        j = json.loads(_journal_path(build_db).read_text())
    except (OSError, ValueError):
        return None
    return j if isinstance(j, dict) and isinstance(j.get("pending"), list) else None


def _write_journal(build_db: Path, published: list[int] | None, pending: Iterable[str]) -> None:
    path = _journal_path(build_db)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w") as f:
        json.dump({"published": published, "pending": sorted(set(pending))}, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _month_start(month: str) -> str:
    return month if len(month) == 10 else f"{month}-01"


def mark_unpublished(build_db: Path, month: str) -> None:
    """Record, before dbt writes the build database, that `month` (YYYY-MM) is rebuilt and not yet published."""
    j = _read_journal(build_db)
    published = j.get("published") if j else None  # no journal: the next publish is a full copy
    _write_journal(build_db, published, [*(j["pending"] if j else []), _month_start(month)])


def _names(journal: dict | None, identity: list[int] | None) -> bool:
    """Whether the journal was written by the publish of the file of this identity (inode, size, mtime)."""
    return journal is not None and identity is not None and journal.get("published") == identity


def publishes_incrementally(build_db: Path, warehouse: Path) -> bool:
    """Whether the next publish can start from `warehouse` (the journal names that very file: same inode, size,
    modification time); a copy of it, or a file replaced by hand, is published by a full copy."""
    return _names(_read_journal(build_db), _identity(warehouse))


def unpublished_months(build_db: Path) -> list[str]:
    j = _read_journal(build_db)
    return list(j["pending"]) if j else []


# ---------------------------------------------------------------------------------------------------------------
# Whole months only


class NotPublishable(RuntimeError):
    """Publishing would put a partial, held or unfinished month in the warehouse, or drop published months; the
    message (one line) names the months and the command that rebuilds them."""


WHOLE_GATES = ("passed", "accepted")  # the completeness gate's verdicts a built month may be published with


def rebuild_command(months: Iterable[str]) -> str:
    return "fairuse run " + " ".join(f"--month {m}" for m in sorted(months))


def _months_of(path: Path, attach: bool) -> set[str]:
    """Months (YYYY-MM) of audit.load_balance in a DuckDB file; none when the file or the table is missing."""
    if not path.exists():
        return set()
    con = duckdb.connect() if attach else duckdb.connect(str(path), read_only=True)
    try:
        if attach:  # the build database may be open in this process already (dbt): attach it read-only
            con.execute("attach ? as build (read_only)", [str(path)])
            con.execute("use build")
        return {str(m)[:7] for (m,) in con.execute("select distinct month from audit.load_balance").fetchall()}
    except duckdb.CatalogException:
        return set()
    finally:
        con.close()


def published_months(warehouse: Path) -> set[str]:
    """Months (YYYY-MM) in the published warehouse."""
    return _months_of(warehouse, attach=False)


def built_months(build_db: Path) -> set[str]:
    """Months (YYYY-MM) in the build database."""
    return _months_of(build_db, attach=True)


def is_whole(entry: Mapping[str, Any] | None) -> bool:
    """Whether a month's record (domain/month_state.py) says its build is whole and may be published (for a
    published month whose rebuild failed or was held, the rebuild's record says)."""
    if not entry:
        return False
    if entry.get("rebuild"):
        return is_whole(entry["rebuild"])
    return (entry.get("state") in month_state.PUBLISHED_STATES
            or (entry.get("state") == "built" and entry.get("gate") in WHOLE_GATES))


def build_record(entry: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """A month's record as the build database has it: a failed or held rebuild's record for a month kept
    published, else the record itself."""
    return (entry or {}).get("rebuild") or entry or {}


def _why_not_whole(entry: Mapping[str, Any] | None) -> str:
    if (entry or {}).get("rebuild"):
        return f"published, but its rebuild is not whole: {_why_not_whole(entry['rebuild'])}"
    state = (entry or {}).get("state")
    if state == "held":
        return f"held by the completeness gate: {entry.get('reason')}"
    if state == "failed":
        return f"its run failed in {entry.get('step') or 'a step'}"
    if state == "building":
        return "its run was killed or is unfinished, its tables may be partial"
    if state == "built":
        return "built, but its completeness gate did not run"
    return "no record of a whole build"


def check_publishable(build_db: Path, warehouse: Path, month: str,
                      months: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The months (YYYY-MM) publishing `month` would copy, all of them whole; else NotPublishable (one line).
    `months`: every month's record (domain/month_state.read_months)."""
    pending = {m[:7] for m in unpublished_months(build_db)} | {month}
    this = months.get(month)
    if not is_whole(this):
        held = build_record(this).get("state") == "held"
        raise NotPublishable(
            f"month {month} is not published: {_why_not_whole(this)}; "
            + (f"accept it as it is with `{rebuild_command([month])} --accept-incomplete`, or rebuild it once its "
               f"data is complete: `{rebuild_command([month])}`" if held
               else f"build the whole month: `{rebuild_command([month])}`")
            + "; the published warehouse and exports are unchanged")
    partial = [m for m in sorted(pending - {month}) if not is_whole(months.get(m))]
    if partial:
        first = partial[0]
        held = build_record(months.get(first)).get("state") == "held"
        raise NotPublishable(
            f"month {first} must be rebuilt first ({_why_not_whole(months.get(first))}): publishing {month} would "
            f"publish it and what is computed from it (streaks, ladder, restatements); rebuild it with "
            f"`{rebuild_command(partial)}`"
            + (f" or accept it with `{rebuild_command([first])} --accept-incomplete`" if held else "")
            + "; the published warehouse and exports are unchanged")
    lost = sorted(published_months(warehouse) - built_months(build_db) - pending)
    if lost:
        raise NotPublishable(
            f"the build database lacks published month(s) {', '.join(lost)} (build folder lost or recreated): "
            f"publishing {month} would drop them from the warehouse; rebuild them from the raw data first: "
            f"`{rebuild_command([*lost, month])}`; the published warehouse and exports are unchanged")
    return sorted(pending)


# ---------------------------------------------------------------------------------------------------------------
# Publishing


@dataclasses.dataclass
class PublishResult:
    counts: dict[str, int]  # rows per published table, `schema.table`
    mode: str  # "incremental" (copy of the previous file + the rebuilt months) or "full"
    reason: str  # why this mode
    months: list[str]  # months whose rows were replaced (incremental)
    seconds: float


def _clone(src: Path, dst: Path) -> str:
    """Copy a file: a reflink (shared blocks, instant) where the file system allows, else a kernel copy."""
    with open(src, "rb") as fsrc, open(dst, "wb") as fdst:
        try:
            fcntl.ioctl(fdst.fileno(), FICLONE, fsrc.fileno())
            return "reflink"
        except OSError:
            pass
    shutil.copyfile(src, dst)  # sendfile/copy_file_range: no round trip through Python
    return "copy"


def _structure(con: duckdb.DuckDBPyConnection, database: str) -> dict[str, list[tuple[str, str]]]:
    schemas = ", ".join(f"'{s}'" for s in PUBLISHED_SCHEMAS)
    rows = con.execute(
        f"select schema_name || '.' || table_name, column_name, data_type from duckdb_columns() "
        f"where database_name = ? and schema_name in ({schemas}) order by 1, column_index", [database]).fetchall()
    out: dict[str, list[tuple[str, str]]] = {}
    for table, column, dtype in rows:
        out.setdefault(table, []).append((column, dtype))
    return out


def _months(con: duckdb.DuckDBPyConnection, qualified: str) -> set[str]:
    return {str(m) for (m,) in con.execute(f"select distinct month from {qualified}").fetchall()}


def _counts(con: duckdb.DuckDBPyConnection, tables: Iterable[str]) -> dict[str, int]:
    return {t: con.execute(f"select count(*) from {t}").fetchone()[0] for t in sorted(tables)}


def _full_copy(con: duckdb.DuckDBPyConnection, build: dict[str, list]) -> None:
    for table in sorted(build):
        schema = table.split(".")[0]
        con.execute(f"create schema if not exists {schema}")
        con.execute(f"create table {table} as select * from build.{table}")


def _try_incremental(con: duckdb.DuckDBPyConnection, build: dict[str, list], month_tables: Collection[str],
                     months: list[str]) -> str | None:
    """Bring a copy of the previous published file up to the build database; None, or why it cannot."""
    database = con.execute("select current_database()").fetchone()[0]
    total, free = con.execute("select total_blocks, free_blocks from pragma_database_size() "
                              "where database_name = ?", [database]).fetchone()
    if total and free * 2 > total:
        return f"previous file is {free}/{total} blocks free space: compacting"
    published = {t: c for t, c in _structure(con, database).items() if t not in PROVISIONAL_TABLES}
    if published != build:
        changed = sorted(set(published) ^ set(build)) or sorted(t for t in build if published[t] != build[t])
        return f"tables or columns changed: {', '.join(changed[:5])}"
    per_month = [t for t in sorted(build) if t in month_tables and ("month", "DATE") in build[t]]
    for table in per_month:
        differ = _months(con, table) ^ _months(con, f"build.{table}")
        if not differ <= set(months):
            return f"{table}: months {', '.join(sorted(differ - set(months))[:3])} differ from the build database"
    marks = ", ".join("?" for _ in months)
    con.execute("begin")
    for table in sorted(build):
        if table in per_month:
            if months:
                con.execute(f"delete from {table} where month in ({marks})", months)
                con.execute(f"insert into {table} select * from build.{table} where month in ({marks})", months)
        else:
            con.execute(f"create or replace table {table} as select * from build.{table}")
    con.execute("commit")
    return None


def publish(build_db: Path, warehouse: Path, month: str | None = None,
            month_tables: Collection[str] = frozenset()) -> PublishResult:
    """Publish the `marts` and `audit` schemas of `build_db` as `warehouse`, atomically.

    `month` (YYYY-MM) is the month just built; `month_tables` the `schema.table` names built one month at a time
    (`month_partitioned_tables` of the dbt manifest). Without them, or when the previous file cannot be brought up
    to date safely, every table is copied into a fresh file. A failure (a full disk, a kill) leaves the published
    file as it was and no half-written copy behind."""
    t0 = time.perf_counter()
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    tmp = warehouse.with_name(f".{warehouse.name}.publishing-{os.getpid()}")
    try:
        counts, mode, reason, months = _write_new_file(build_db, warehouse, tmp, month, month_tables)
        _swap_in(tmp, warehouse)
    except BaseException:
        _remove(tmp)
        raise
    # Only now is everything built so far published: the journal starts empty, tied to the new file.
    _write_journal(build_db, _identity(warehouse), [])
    return PublishResult(counts=counts, mode=mode, reason=reason, months=months if mode == "incremental" else [],
                         seconds=time.perf_counter() - t0)


def _tables_of(con: duckdb.DuckDBPyConnection, database: str) -> set[str]:
    return {t for (t,) in con.execute("select schema_name || '.' || table_name from duckdb_tables() "
                                      "where database_name = ?", [database]).fetchall()}


def _carry_provisional(con: duckdb.DuckDBPyConnection, warehouse: Path) -> None:
    """A full copy starts from an empty file: the previous file's provisional tables come along."""
    con.execute("attach ? as previous (read_only)", [str(warehouse)])
    try:
        for table in sorted(_tables_of(con, "previous") & set(PROVISIONAL_TABLES)):
            con.execute(f"create table {table} as select * from previous.{table}")
    finally:
        con.execute("detach previous")


def _drop_built_provisional(con: duckdb.DuckDBPyConnection) -> None:
    """A month built for real has no provisional rows left: its watch is over."""
    database = con.execute("select current_database()").fetchone()[0]
    tables = _tables_of(con, database)
    if "audit.load_balance" not in tables:
        return
    for table in sorted(tables & set(PROVISIONAL_TABLES)):
        con.execute(f"delete from {table} where month in (select distinct month from audit.load_balance)")


def publish_provisional(build_db: Path, warehouse: Path, source: Path, month: str) -> dict[str, int]:
    """Replace the provisional rows of `month` (YYYY-MM) in the published warehouse with the provisional tables of
    the DuckDB file `source` (the watch's scratch database), atomically, as `publish` does: a copy of the published
    file, changed, renamed over it. Nothing else of the file changes; a publish journal that named the previous
    file names the new one, so the next publish stays incremental. Returns the rows per provisional table."""
    if not warehouse.exists():
        raise FileNotFoundError(f"no published warehouse at {warehouse}")
    start = _month_start(month)
    journal = _read_journal(build_db)
    named = _names(journal, _identity(warehouse))
    tmp = warehouse.with_name(f".{warehouse.name}.provisional-{os.getpid()}")
    try:
        _remove(tmp)
        _clone(warehouse, tmp)
        con = duckdb.connect(str(tmp))
        try:
            con.execute("attach ? as watch (read_only)", [str(source)])
            ours = _structure(con, database=con.execute("select current_database()").fetchone()[0])
            theirs = _structure(con, "watch")
            con.execute("begin")
            for table in PROVISIONAL_TABLES:
                if table in ours and ours[table] != theirs[table]:  # columns changed: earlier watches go
                    con.execute(f"drop table {table}")
                if table not in ours or ours[table] != theirs[table]:
                    con.execute(f"create table {table} as select * from watch.{table} where false")
                con.execute(f"delete from {table} where month = ?", [start])
                con.execute(f"insert into {table} select * from watch.{table} where month = ?", [start])
            con.execute("commit")
            counts = {t: con.execute(f"select count(*) from {t} where month = ?", [start]).fetchone()[0]
                      for t in PROVISIONAL_TABLES}
            con.execute("detach watch")
            con.execute("checkpoint")
        finally:
            con.close()
        _swap_in(tmp, warehouse)
    except BaseException:
        _remove(tmp)
        raise
    if named:
        _write_journal(build_db, _identity(warehouse), journal["pending"])
    return counts


def _remove(db: Path) -> None:
    for leftover in (db, Path(str(db) + ".wal")):
        leftover.unlink(missing_ok=True)


def _write_new_file(build_db: Path, warehouse: Path, tmp: Path, month: str | None,
                    month_tables: Collection[str]) -> tuple[dict[str, int], str, str, list[str]]:
    """The new published file at `tmp`: the previous file brought up to date, else a full copy."""
    journal = _read_journal(build_db)
    months = sorted({*(journal["pending"] if journal else []), *([_month_start(month)] if month else [])})
    previous = _identity(warehouse)
    fallback = ("no month given" if month is None
                else "no previous published file" if previous is None
                else "no journal of what was published" if journal is None
                else "the published file is not the one the last publish wrote"
                if not _names(journal, previous) else None)
    _remove(tmp)
    how = _clone(warehouse, tmp) if fallback is None else None
    con = duckdb.connect(str(tmp))
    try:
        con.execute("attach ? as build (read_only)", [str(build_db)])
        build = _structure(con, "build")
        if fallback is None:
            fallback = _try_incremental(con, build, month_tables, months)
            if fallback is not None:  # start again from an empty file
                con.close()
                _remove(tmp)
                con = duckdb.connect(str(tmp))
                con.execute("attach ? as build (read_only)", [str(build_db)])
        if fallback is None:
            mode, reason = "incremental", f"previous file ({how}) + months {', '.join(m[:7] for m in months)}"
        else:
            mode, reason = "full", fallback
            _full_copy(con, build)
            if previous is not None:
                _carry_provisional(con, warehouse)
        _drop_built_provisional(con)
        counts = _counts(con, build)
        con.execute("detach build")
        con.execute("checkpoint")
    finally:
        con.close()
    return counts, mode, reason, months


def publish_warehouse(build_db: Path, warehouse: Path, month: str | None = None,
                      month_tables: Collection[str] = frozenset()) -> dict[str, int]:
    """`publish`, returning the rows per published table."""
    return publish(build_db, warehouse, month, month_tables).counts


RATIO_BUCKETS = ("< 0.5", "0.5-1", "1-2", "2-5", ">= 5", "n/a")


def month_figures(con: duckdb.DuckDBPyConnection, month: str) -> dict:
    """What an operator wants to see of a published month at a glance (plain values)."""
    start = f"{month}-01"
    counts = {
        "users": "select count(*) from marts.fct_user_monthly_usage where month = ?",
        "flagged_users": "select count(distinct user_id) from marts.fct_fair_use_flags where month = ?",
        "flagged_accounts": "select count(*) from marts.fct_account_enforcement where month = ?",
        "contact_centers": "select count(*) from marts.fct_contact_center_surcharge where month = ?",
        "prohibited_use_flags": "select count(*) from marts.fct_prohibited_use_flags where month = ?",
    }
    out: dict = {k: int(con.execute(sql, [start]).fetchone()[0] or 0) for k, sql in counts.items()}
    out["surcharge_totals"] = con.execute(
        "select currency, sum(surcharge_amount) from marts.fct_contact_center_surcharge "
        "where month = ? and status = 'apply' group by 1 order by 1", [start]).fetchall()
    buckets = dict(con.execute("""
        select bucket, count(*) from (
            select case when ratio_to_cohort is null then 'n/a' when ratio_to_cohort < 0.5 then '< 0.5'
                        when ratio_to_cohort < 1 then '0.5-1' when ratio_to_cohort < 2 then '1-2'
                        when ratio_to_cohort < 5 then '2-5' else '>= 5' end as bucket
            from marts.fct_user_excess_ratios where month = ?) group by 1""", [start]).fetchall())
    out["ratio_to_cohort_buckets"] = [(b, buckets.get(b, 0)) for b in RATIO_BUCKETS]
    out["prohibited_use_by_pattern"] = con.execute(
        "select pattern, count(*) from marts.fct_prohibited_use_flags where month = ? group by 1 order by 1",
        [start]).fetchall()
    return out
