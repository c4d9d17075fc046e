"""`fairuse status`: where every month stands, and what the warehouse is doing now, from files a run never locks.

Read-only and safe during a run: it never opens the build database (a run holds it). It reads
- the month states (domain/month_state.py: building, built, published, failed, held, ...; when, policy and code
  versions, the failing step, the reason a month is held);
- the published warehouse, read-only (which months it holds, their rows; what files each month loaded, compared
  with the raw folder now: files delivered after the month was built, which the late-data sensor re-runs);
- the warehouse lock's holder file (domain/warehouse_lock.py) and the progress record the holding run keeps
  beside it (`<build folder>/<warehouse>.build.progress.json`, written as it goes by any run, `fairuse run` or
  launched by Dagster: domain/run_progress.py; it says when the run ended, and how);
- the exports and reports folders.

Imports nothing heavy (no Dagster, no dbt): it answers in a fraction of a second.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import socket
import subprocess
from pathlib import Path
from typing import Any

import duckdb

from dagster_project.domain import month_state, warehouse_lock
from dagster_project.domain.locations import Folder
from dagster_project.domain.raw_files import late_files, months_in_raw
from dagster_project.domain.settings import REPO_ROOT, Settings


@functools.cache
def code_version() -> str:
    """The code a run builds with: the git commit of the checkout (`+dirty` when tracked files changed), else the
    installed package's version (`fairuse 0.1.0`)."""
    try:
        def git(*args: str) -> str:
            return subprocess.run(["git", "-C", str(REPO_ROOT), *args], capture_output=True, text=True,
                                  timeout=10, check=True).stdout.strip()

        commit = git("rev-parse", "--short=12", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
        return commit + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        from importlib.metadata import PackageNotFoundError, version

        try:
            return f"fairuse {version('fairuse')}"
        except PackageNotFoundError:
            return "unknown"


# ---------------------------------------------------------------------------------------------------------------
# The running process's progress record (written by domain/run_progress.py, read here)


def progress_path(build_db: Path) -> Path:
    """Beside the warehouse lock, in the owner-only build folder."""
    return build_db.with_suffix(".progress.json")


def write_progress(build_db: Path, record: dict[str, Any]) -> None:
    """Replace the progress record atomically (a reader sees the old or the new one, never half)."""
    path = progress_path(build_db)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(record, sort_keys=True))
    os.replace(tmp, path)


def read_progress(build_db: Path) -> dict[str, Any] | None:
    try:
        record = json.loads(progress_path(build_db).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


# ---------------------------------------------------------------------------------------------------------------
# Collecting


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True


def _iso(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _run(settings: Settings) -> dict[str, Any] | None:
    """The run holding the warehouse lock, if any, with its progress. The lock file keeps its holder's description
    while held (a clean release empties it; a run launched by Dagster keeps the lock until its process exits): a
    description whose process is gone is a run that ended, as its progress record says, or else was killed."""
    holder = warehouse_lock.read_holder(warehouse_lock.lock_path(settings.build_db))
    if holder is None:
        return None
    run: dict[str, Any] = {"pid": holder.pid, "host": holder.host, "started_at": holder.started_at,
                           "months": holder.months, "command": holder.command}
    progress = read_progress(settings.build_db)
    if not (progress and progress.get("pid") == holder.pid):
        progress = None
    ended = progress.get("ended") if progress else None
    local = holder.host == socket.gethostname()
    if ended:
        run["state"] = f"ended ({progress.get('outcome') or 'outcome unknown'}) at {_iso(ended)}"
        if local and _pid_alive(holder.pid):
            run["state"] += "; its process still holds the lock until it exits"
    elif not local:
        run["state"] = "running (on another host: not checked)"
    elif _pid_alive(holder.pid):
        run["state"] = "running"
    else:
        run["state"] = "ended without releasing the lock (killed?); the next run takes it over"
        return run
    if progress:
        run["progress"] = progress
    return run


def _warehouse_months(warehouse: Path) -> dict[str, dict[str, Any]]:
    """Months in the published warehouse -> rows read and loaded (audit.load_balance), files loaded
    (audit.loaded_files)."""
    if not warehouse.exists():
        return {}
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = con.execute(
            "select strftime(b.month, '%Y-%m'), sum(b.rows_read), sum(b.rows_counted), "
            "(select count(*) from audit.loaded_files f where f.month = b.month) "
            "from audit.load_balance b group by b.month order by 1").fetchall()
    except duckdb.Error:
        return {}
    finally:
        con.close()
    return {m: {"rows_read": int(r or 0), "rows_loaded": int(c or 0), "files": int(f or 0)} for m, r, c, f in rows}


def _exports(exports_dir: Path | str) -> dict[str, dict[str, Any]]:
    """Every exported month's manifest, from a folder or a bucket (domain/locations.py)."""
    root = Folder(exports_dir)
    out = {}
    for month in root.month_folders():
        d = root / month
        try:
            manifest = json.loads(d.read_bytes("manifest.json"))
        except (OSError, ValueError):
            continue
        out[month] = {"directory": str(d), "revision": manifest.get("revision"),
                      "policy_version": manifest.get("policy_version"),
                      "policy_restated_under": manifest.get("policy_restated_under"),
                      "files": [f.get("name") for f in manifest.get("files", [])],
                      "written_at": None if d.remote else _iso_mtime(Path(str(d)) / "manifest.json")}
    return out


def _reports(reports_dir: Path) -> dict[str, dict[str, Any]]:
    out = {}
    for d in sorted(Path(reports_dir).glob("????-??")):
        page = d / "report.html"
        if page.exists():
            notices = d / "notices" / "index.csv"
            out[d.name] = {"report": str(page), "written_at": _iso_mtime(page),
                           "notices_index": str(notices) if notices.exists() else None}
    return out


def _iso_mtime(path: Path) -> str | None:
    try:
        t = path.stat().st_mtime
    except OSError:
        return None
    return _iso(t)


def collect(settings: Settings) -> dict[str, Any]:
    """Everything `fairuse status` shows, as plain JSON-able values."""
    recorded = month_state.read_months(settings.warehouse)
    published = _warehouse_months(settings.warehouse)
    late = late_files(settings.raw_dir, settings.warehouse) if published else {}
    exports, reports = _exports(settings.exports_dir), _reports(settings.reports_dir)
    raw = set(months_in_raw(settings.raw_dir))
    months = []
    for m in sorted(raw | set(recorded) | set(published) | set(exports) | set(reports)):
        record = dict(recorded.get(m, {}))
        state = record.pop("state", None) or ("published" if m in published else "not built")
        entry: dict[str, Any] = {"month": m, "state": state, "in_raw": m in raw,
                                 "in_warehouse": m in published, **record}
        if m in published:
            entry.update(published[m])
        if m in late:
            lf = late[m]
            entry["late_files"] = {"summary": lf.describe(), "new": lf.added, "changed": lf.changed,
                                   "removed": lf.removed}
        if m in exports:
            entry["exports"] = exports[m]
        if m in reports:
            entry["report"] = reports[m]
        months.append(entry)
    return {
        "generated_at": month_state.now_utc(),
        "warehouse": {"path": str(settings.warehouse), "exists": settings.warehouse.exists(),
                      "published_at": _iso_mtime(settings.warehouse)},
        "raw_dir": str(settings.raw_dir),
        "exports_dir": str(settings.exports_dir),
        "reports_dir": str(settings.reports_dir),
        "code_version": code_version(),
        "run": _run(settings),
        "months": months,
    }


# ---------------------------------------------------------------------------------------------------------------
# Showing


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = int(seconds)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


def describe_progress(p: dict[str, Any], now: float | None = None) -> str:
    """One line of a run's progress record: month, step, dbt nodes done/total and the current one, elapsed."""
    import time

    now = time.time() if now is None else now
    parts = [f"month {p.get('month') or '-'}"]
    if p.get("months_total"):
        parts[0] += f" ({min(p.get('months_done', 0) + 1, p['months_total'])} of {p['months_total']})"
    if p.get("ended"):
        parts.append(f"ended ({p.get('outcome') or '?'}) {_duration(now - p['ended'])} ago")
        if p.get("failed_step"):
            parts.append(f"failed at {p['failed_step']}")
        parts.append(f"{p.get('steps_done', 0)} step(s) done")
    if p.get("step"):
        parts.append(f"step {p['step']} ({p.get('steps_done', 0)} step(s) done)")
    if p.get("dbt_total"):
        parts.append(f"dbt {p.get('dbt_done', 0)}/{p['dbt_total']} nodes")
    if p.get("node"):
        parts.append(f"running {p['node']} for {_duration(now - p.get('node_started', now))}")
    if p.get("month_started"):
        parts.append(f"month elapsed {_duration((p.get('ended') or now) - p['month_started'])}")
    if p.get("updated"):
        parts.append(f"updated {_duration(now - p['updated'])} ago")
    return "; ".join(parts)


def _when(entry: dict[str, Any]) -> str:
    key = f"{entry['state']}_at"
    stamp = entry.get(key) or entry.get("updated_at")
    return stamp.replace("T", " ") if stamp else "-"


def render_table(status: dict[str, Any]) -> str:
    """The plain-text screen of `fairuse status`."""
    wh = status["warehouse"]
    lines = [f"warehouse  {wh['path']}" + (f"  (last published {wh['published_at'].replace('T', ' ')})"
                                           if wh["exists"] else "  (not published yet)")]
    run = status["run"]
    if run is None:
        lines.append("run        none holds the warehouse")
    else:
        lines.append(f"run        {run['command']}: PID {run['pid']} on {run['host']}, since "
                     f"{run['started_at']}; months {', '.join(run['months']) or '-'}; {run['state']}")
        if run.get("progress"):
            lines.append(f"           {describe_progress(run['progress'])}")
    lines.append(f"code       {status['code_version']}")
    lines.append("")
    header = (f"{'month':<8} {'state':<20} {'when (UTC)':<20} {'policy':<10} {'code':<18} {'rows read':>12} "
              f"{'exports':>8} {'report':>6}  late files")
    lines += [header, "-" * len(header)]
    for e in status["months"]:
        exports = f"r{e['exports']['revision']}" if e.get("exports") else "-"
        policy = e.get("policy_version") or (e["exports"]["policy_version"] if e.get("exports") else None) or "-"
        policy += " (restated)" if e.get("policy_applied") == "restated" else ""
        rows = f"{e['rows_read']:,}" if "rows_read" in e else "-"
        late = e["late_files"]["summary"] if e.get("late_files") else "-"
        lines.append(f"{e['month']:<8} {e['state']:<20} {_when(e):<20} {policy:<10} {e.get('code_version', '-'):<18} "
                     f"{rows:>12} {exports:>8} {'yes' if e.get('report') else '-':>6}  {late}")
        if e["state"] == "failed":
            lines.append(f"{'':<8} failed at {e.get('step', '?')}: {e.get('error', '(no detail)')}")
        elif e.get("reason"):
            lines.append(f"{'':<8} {e['state']}: {e['reason']}")
        rebuild = e.get("rebuild")
        if rebuild:  # a published month whose rebuild failed or was held: still published as before
            why = (f"failed at {rebuild.get('step', '?')}: {rebuild.get('error', '(no detail)')}"
                   if rebuild.get("state") == "failed" else f"held: {rebuild.get('reason')}"
                   if rebuild.get("state") == "held" else f"is {rebuild.get('state')}, not published")
            lines.append(f"{'':<8} its rebuild {why} (what is published is unchanged)")
        if e.get("late_files"):
            lf = e["late_files"]
            names = [*lf["new"], *lf["changed"], *lf["removed"]]
            lines.append(f"{'':<8} delivered after the build (the late-data sensor re-runs it): "
                         + ", ".join(names[:3]) + (f" +{len(names) - 3} more" if len(names) > 3 else ""))
    if not status["months"]:
        lines.append("(no month in the raw data, the warehouse, the exports or the reports yet)")
    lines.append("")
    lines.append(f"exports    {status['exports_dir']} ({sum(bool(e.get('exports')) for e in status['months'])} "
                 f"month(s))")
    lines.append(f"reports    {status['reports_dir']} ({sum(bool(e.get('report')) for e in status['months'])} "
                 f"month(s))")
    return "\n".join(lines)
