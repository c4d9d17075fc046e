"""`fairuse run` shows its work as it happens (cli/progress.py), starts clean on a fresh DAGSTER_HOME
(cli/instance.py), and `fairuse status` says where every month stands (domain/status.py): before, during and
after a run, and after a failed month."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from dagster_project.cli.args import build_parser
from dagster_project.cli.instance import SHIPPED, ensure_instance_config
from dagster_project.cli.progress import Reporter, display_for
from dagster_project.domain import status, warehouse_lock
from dagster_project.domain.dbt_runner import NodeEvent
from dagster_project.domain.settings import get_settings
from tests.conftest import REPO, copy_conformance_raw

CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # anything but \t and \n


def _settings(tmp_path: Path, raw: Path | None = None):
    return get_settings(str(raw or tmp_path / "raw"), str(tmp_path / "wh" / "warehouse.duckdb"),
                        str(tmp_path / "wh" / "exports"))


def _status_cli(settings, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dagster_project.cli.main", "status", "--raw-dir", str(settings.raw_dir),
         "--warehouse", str(settings.warehouse), "--exports-dir", str(settings.exports_dir), *extra],
        cwd=REPO, capture_output=True, text=True, timeout=120)


# ---------------------------------------------------------------------------------------------------------------
# A clean start


def test_a_fresh_dagster_home_gets_the_shipped_settings_and_an_existing_one_is_kept(tmp_path):
    fresh = tmp_path / "fresh"
    assert ensure_instance_config(fresh)
    assert (fresh / "dagster.yaml").read_text() == SHIPPED.read_text()
    assert "enabled: false" in SHIPPED.read_text()  # telemetry and nux off: no notice, no pop-up
    assert [p.name for p in fresh.iterdir()] == ["dagster.yaml"]  # no temporary file left

    production = tmp_path / "production"
    production.mkdir()
    (production / "dagster.yaml").write_text("run_storage:\n  module: somewhere\n")
    assert not ensure_instance_config(production)
    assert (production / "dagster.yaml").read_text() == "run_storage:\n  module: somewhere\n"


# ---------------------------------------------------------------------------------------------------------------
# Live progress


def _node(kind: str, name: str, index: int, total: int = 3, resource_type: str = "model", status_: str = "",
          seconds: float = 0.0) -> NodeEvent:
    return NodeEvent(kind, f"{resource_type}.p.{name}", name, resource_type, index, total, status_, seconds)


def test_the_heartbeat_fills_a_long_silence_and_plain_lines_have_no_control_characters(tmp_path):
    out = io.StringIO()
    build_db = tmp_path / "build" / "warehouse.build.duckdb"
    build_db.parent.mkdir()
    reporter = Reporter(out, "plain", heartbeat=0.2)
    reporter.start(build_db, ["2026-01"])
    with reporter:
        reporter.month_started("2026-01", tmp_path / "run-2026-01.log")
        reporter.dbt_node(_node("start", "stg_calls", 1))
        reporter.dbt_node(_node("finish", "stg_calls", 1, status_="success", seconds=0.5))
        reporter.dbt_node(_node("start", "not_null_x", 2, resource_type="test"))
        reporter.dbt_node(_node("finish", "not_null_x", 2, resource_type="test", status_="pass"))
        reporter.dbt_node(_node("start", "int_slow", 3))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (
                status.read_progress(build_db) or {}).get("node") or sum("..." in t for _, t in reporter.lines) < 2:
            time.sleep(0.05)
        record = status.read_progress(build_db)
        reporter.dbt_node(_node("finish", "int_slow", 3, status_="success", seconds=1.2))
    text = out.getvalue()
    assert not CONTROL.search(text)
    lines = text.splitlines()
    assert lines[:2] == ["1 month(s) to build: 2026-01",
                         f"[2026-01] building ... (dbt's log: {tmp_path / 'run-2026-01.log'})"]
    # A line per model as it finishes; a passing test is counted, not shown.
    assert any(re.search(r"dbt +1/3 model stg_calls .* 0\.50s +success$", line) for line in lines)
    assert any(re.search(r"dbt +3/3 model int_slow .* 1\.20s +success$", line) for line in lines)
    assert not any("not_null_x" in line for line in lines)
    # While int_slow ran, heartbeats said so: nodes done/total, the node, the month's elapsed time.
    beats = [line for line in lines if "..." in line and "running model int_slow" in line]
    assert beats and "dbt 2/3 nodes" in beats[0] and "month " in beats[0]
    # The progress record named the same, for `fairuse status`; gone when the run is over.
    assert record["pid"] == os.getpid() and record["month"] == "2026-01" and record["node"] == "model int_slow"
    assert record["dbt_done"] == 2 and record["dbt_total"] == 3
    assert status.read_progress(build_db) is None


def test_quiet_prints_nothing_and_still_keeps_the_progress_record(tmp_path):
    out = io.StringIO()
    build_db = tmp_path / "warehouse.build.duckdb"
    reporter = Reporter(out, display_for(out, quiet=True), heartbeat=0.1)
    reporter.start(build_db, ["2026-01"])
    with reporter:
        reporter.month_started("2026-01", tmp_path / "log")
        reporter.dbt_node(_node("start", "stg_calls", 1))
        deadline = time.monotonic() + 30
        while status.read_progress(build_db) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert status.read_progress(build_db)["node"] == "model stg_calls"
        time.sleep(0.3)  # past the heartbeat: still nothing
        reporter.dbt_node(_node("finish", "stg_calls", 1, status_="success"))
        reporter.month_finished("2026-01", True, 1.0)
    assert out.getvalue() == ""


def test_a_terminal_gets_the_live_display_and_anything_else_plain_lines(monkeypatch):
    class Tty(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setenv("TERM", "xterm-256color")
    assert display_for(io.StringIO()) == "plain"
    assert display_for(Tty()) == "rich"
    assert display_for(Tty(), quiet=True) == "quiet"
    monkeypatch.setenv("TERM", "dumb")
    assert display_for(Tty()) == "plain"
    args = build_parser().parse_args(["run", "--quiet", "--heartbeat", "2"])
    assert args.quiet and args.heartbeat == 2.0
    assert build_parser().parse_args(["status", "--format", "json"]).format == "json"


def test_on_a_terminal_the_lines_scroll_above_a_live_status_bar(tmp_path, monkeypatch):
    class Tty(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.delenv("NO_COLOR", raising=False)
    out = Tty()
    reporter = Reporter(out, display_for(out), heartbeat=0.2)
    reporter.start(tmp_path / "warehouse.build.duckdb", ["2026-01"])
    with reporter:
        reporter.month_started("2026-01", tmp_path / "log")
        reporter.dbt_node(_node("start", "int_slow", 1, total=2))
        time.sleep(1.5)  # the bar redraws; no heartbeat lines on a terminal
        reporter.dbt_node(_node("finish", "int_slow", 1, total=2, status_="success", seconds=1.5))
    text = out.getvalue()
    assert "\x1b[" in text  # drawn with terminal control sequences
    assert re.search(r"dbt 0/2 nodes, running model int_slow for \d+s", text)  # the bar's text
    assert re.search(r"dbt +1/2 model int_slow .* 1\.50s +success", text)
    assert "] ... " not in text  # (the heartbeat line's mark)


# ---------------------------------------------------------------------------------------------------------------
# fairuse status without a run


def test_status_before_any_run_lists_the_raw_months_and_writes_nothing(tmp_path):
    raw = copy_conformance_raw(tmp_path)
    settings = _settings(tmp_path, raw)
    proc = _status_cli(settings, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)
    assert [(m["month"], m["state"], m["in_raw"], m["in_warehouse"]) for m in found["months"]] == [
        ("2026-01", "not built", True, False), ("2026-02", "not built", True, False)]
    assert found["run"] is None and found["warehouse"]["exists"] is False
    assert not (tmp_path / "wh").exists()  # read-only: not even a folder
    table = _status_cli(settings)
    assert table.returncode == 0 and "2026-02  not built" in table.stdout and "none holds the warehouse" in table.stdout


def test_status_shows_a_held_month_and_an_accepted_incomplete_month_with_their_reasons(tmp_path):
    from dagster_project.domain import month_state

    settings = _settings(tmp_path, copy_conformance_raw(tmp_path))
    accepted = "calls: 37,411 rows counted, below 0.5 x the median of 2025-11..2025-12 (80,712)"
    held = "messages: no files for 2026-02 (raw folder messages/month=2026-02)"
    month_state.record(settings.warehouse, "2026-01", "accepted_incomplete", gate="accepted", reason=accepted)
    month_state.record(settings.warehouse, "2026-02", "held", gate="held", reason=held)
    table = _status_cli(settings)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    at = {m: next(i for i, line in enumerate(lines) if line.startswith(f"{m} ")) for m in ("2026-01", "2026-02")}
    assert re.match(r"2026-01 +accepted_incomplete ", lines[at["2026-01"]])
    assert lines[at["2026-01"] + 1].split() == ["accepted_incomplete:", *accepted.split()]
    assert re.match(r"2026-02 +held ", lines[at["2026-02"]])
    assert lines[at["2026-02"] + 1].split() == ["held:", *held.split()]
    found = {m["month"]: m for m in json.loads(_status_cli(settings, "--format", "json").stdout)["months"]}
    assert (found["2026-01"]["state"], found["2026-01"]["reason"]) == ("accepted_incomplete", accepted)
    assert (found["2026-02"]["state"], found["2026-02"]["reason"]) == ("held", held)


def test_status_names_the_process_holding_the_lock_with_its_progress_and_a_killed_one(tmp_path):
    settings = _settings(tmp_path)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; "
         "from dagster_project.domain import warehouse_lock as wl, status; import os; db = Path(sys.argv[1]); "
         "wl.acquire(db, ['2026-03'], 'fairuse run'); "
         "status.write_progress(db, {'pid': os.getpid(), 'month': '2026-03', 'step': 'dbt_models', "
         "'dbt_done': 12, 'dbt_total': 38, 'node': 'model int_calls__billed', 'node_started': time.time() - 40, "
         "'month_started': time.time() - 75, 'updated': time.time()}); "
         "print('held', flush=True); time.sleep(120)", str(settings.build_db)],
        cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        found = json.loads(_status_cli(settings, "--format", "json").stdout)
        table = _status_cli(settings).stdout
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    run = found["run"]
    assert (run["pid"], run["state"], run["months"]) == (holder.pid, "running", ["2026-03"])
    assert run["progress"]["dbt_done"] == 12
    assert f"PID {holder.pid}" in table
    assert "month 2026-03; step dbt_models" in table and "dbt 12/38 nodes" in table
    assert re.search(r"running model int_calls__billed for (4\d|[5-9]\d)s; month elapsed 1m\d\ds", table), table
    # Killed: its description stays in the lock file; status says it ended, and shows no stale progress.
    after = status.collect(settings)["run"]
    assert after["pid"] == holder.pid and after["state"].startswith("ended without releasing")
    assert "progress" not in after
    assert warehouse_lock.read_holder(warehouse_lock.lock_path(settings.build_db)) is not None


# ---------------------------------------------------------------------------------------------------------------
# A real run, piped


def _read_lines(stream, sink: list) -> None:
    for line in stream:
        sink.append((time.monotonic(), line.rstrip("\n")))


@pytest.mark.slow
def test_a_piped_run_shows_each_step_and_model_as_it_happens_and_status_follows_it(tmp_path, monkeypatch):
    raw = copy_conformance_raw(tmp_path)
    bad = sorted((raw / "calls" / "month=2026-02").glob("*.parquet"))[0]
    bad.write_bytes(b"not a parquet file")
    settings = _settings(tmp_path, raw)
    home = tmp_path / "dagster_home"  # does not exist: a fresh DAGSTER_HOME
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dagster_project.cli.main", "run", "--raw-dir", str(raw), "--warehouse",
         str(settings.warehouse), "--exports-dir", str(settings.exports_dir), "--heartbeat", "0.5"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[tuple[float, str]] = []
    errors: list[tuple[float, str]] = []
    readers = [threading.Thread(target=_read_lines, args=(proc.stdout, lines)),
               threading.Thread(target=_read_lines, args=(proc.stderr, errors))]
    for r in readers:
        r.start()
    during = None
    deadline = time.monotonic() + 600
    while proc.poll() is None and time.monotonic() < deadline:
        if during is None and any("dbt " in t and "model" in t for _, t in lines):
            during = json.loads(_status_cli(settings, "--format", "json").stdout)  # while the run holds the lock
        time.sleep(0.05)
    proc.wait(timeout=60)
    for r in readers:
        r.join()
    ended = time.monotonic()
    text = "\n".join(t for _, t in lines + errors)
    assert proc.returncode == 1, text

    # A clean start: the shipped instance settings, no Dagster notice.
    assert (home / "dagster.yaml").read_text() == SHIPPED.read_text()
    assert "dagster.yaml" not in text and "telemetry" not in text.lower(), text
    assert not CONTROL.search(text)

    def when(pattern: str) -> float:
        return next(t for t, line in lines if re.search(pattern, line))

    # Each step's line when the step ends, each model's when it finishes: spread over the month, not at its end.
    raw_step, dbt_step = when(r"\[2026-01\] raw_month "), when(r"\[2026-01\] dbt_models ")
    models = [t for t, line in lines if re.search(r"\[2026-01\] +dbt +\d+/\d+ model ", line)]
    month_done = when(r"\[2026-01\] done in")
    assert len(models) >= 20
    assert raw_step < models[0] and models[-1] < dbt_step < month_done < ended
    assert dbt_step - raw_step > 0.5  # the dbt step's own duration lies between the two lines
    # No silence longer than a few heartbeats (0.5 s here), from the first line to the last.
    gaps = [b[0] - a[0] for a, b in zip(lines, lines[1:], strict=False)]
    assert max(gaps) < 5.0, max(gaps)
    assert any(" ... " in t for _, t in lines)  # heartbeat lines filled the quiet moments

    # During the run: the holder, its progress.
    assert during is not None and during["run"]["pid"] == proc.pid and during["run"]["state"] == "running"
    assert during["run"]["progress"]["month"] == "2026-01"
    assert during["run"]["progress"]["step"] == "dbt_models"

    # After: 2026-01 published (when, policy, code), its exports and report; 2026-02 failed, step and file named.
    from dagster_project.domain.policy import load_policy

    after = json.loads(_status_cli(settings, "--format", "json").stdout)
    months = {m["month"]: m for m in after["months"]}
    jan, feb = months["2026-01"], months["2026-02"]
    assert after["run"] is None
    assert (jan["state"], jan["in_warehouse"], jan["policy_version"]) == (
        "published", True, load_policy(settings.policy_file).version)
    assert jan["code_version"] == status.code_version() and jan["published_at"]
    assert jan["exports"]["revision"] == 1 and jan["report"]["report"].endswith("2026-01/report.html")
    assert (feb["state"], feb["step"], feb["in_warehouse"]) == ("failed", "raw_month", False)
    assert bad.name in feb["error"] and feb["failed_at"]
    table = _status_cli(settings).stdout
    assert "failed at raw_month" in table and bad.name in table

    # The same facts in the Dagster UI: the month's publish records its versions and the status table.
    import dagster as dg

    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey(["publish", "finance_exports"]))
    metadata = event.asset_materialization.metadata
    assert metadata["policy_version"].value == jan["policy_version"]
    assert metadata["code_version"].value == jan["code_version"]
    assert re.search(r"2026-01 +published", metadata["months_status"].value)

    # A file delivered after the month was built: status names it (the late-data sensor's comparison).
    late = sorted((raw / "calls" / "month=2026-01").glob("*.parquet"))[0]
    os.utime(late, (time.time(), time.time()))
    jan = next(m for m in status.collect(settings)["months"] if m["month"] == "2026-01")
    assert jan["late_files"]["changed"] == [late.relative_to(raw).as_posix()]


@pytest.mark.slow
def test_a_quiet_run_prints_only_the_summary_and_its_error_on_stderr(tmp_path):
    raw = copy_conformance_raw(tmp_path)
    bad = sorted((raw / "calls" / "month=2026-02").glob("*.parquet"))[0]
    bad.write_bytes(b"not a parquet file")
    settings = _settings(tmp_path, raw)
    proc = subprocess.run(
        [sys.executable, "-m", "dagster_project.cli.main", "run", "--quiet", "--raw-dir", str(raw), "--warehouse",
         str(settings.warehouse), "--exports-dir", str(settings.exports_dir)],
        cwd=REPO, env={**os.environ, "DAGSTER_HOME": str(tmp_path / "dagster_home")}, capture_output=True, text=True,
        timeout=600)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    out = proc.stdout.strip().splitlines()
    # stdout: the summary, nothing before it (no month, step or model line), nothing after it.
    assert out[0] == "Summary", proc.stdout
    assert re.match(r"  1 month\(s\) built in \d+\.\ds$", out[-1]), proc.stdout
    assert re.match(r"  2026-01 +\d", out[2]) and "  FAILED 2026-02: raw_month: " in proc.stdout
    assert not re.search(r"\[2026-0\d\]|dbt |raw_month \d|building", proc.stdout), proc.stdout
    # stderr: the error, one line naming the month and the file; no progress either.
    err = proc.stderr.strip().splitlines()
    assert err[-1].startswith("fairuse run: month 2026-02 failed: raw_month: ") and bad.name in err[-1], proc.stderr
    assert not re.search(r"\[2026-0\d\]|dbt +\d+/\d+", proc.stderr), proc.stderr
