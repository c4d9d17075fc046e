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


def _dbt_node(reporter: Reporter, ev: NodeEvent) -> None:
    """What a dbt node's event reaches under `fairuse run`: the Reporter's lines and, through the dbt step's own
    watcher, the run's progress record, which the heartbeat reads (domain/run_progress.py)."""
    reporter.dbt_node(ev)
    reporter.progress.dbt_node(ev)


def test_the_heartbeat_fills_a_long_silence_and_plain_lines_have_no_control_characters(tmp_path):
    out = io.StringIO()
    build_db = tmp_path / "build" / "warehouse.build.duckdb"
    build_db.parent.mkdir()
    reporter = Reporter(out, "plain", heartbeat=0.2)
    reporter.start(build_db, ["2026-01"])
    with reporter:
        reporter.month_started("2026-01", tmp_path / "run-2026-01.log")
        _dbt_node(reporter, _node("start", "stg_calls", 1))
        _dbt_node(reporter, _node("finish", "stg_calls", 1, status_="success", seconds=0.5))
        _dbt_node(reporter, _node("start", "not_null_x", 2, resource_type="test"))
        _dbt_node(reporter, _node("finish", "not_null_x", 2, resource_type="test", status_="pass"))
        _dbt_node(reporter, _node("start", "int_slow", 3))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (
                status.read_progress(build_db) or {}).get("node") or sum("..." in t for _, t in reporter.lines) < 2:
            time.sleep(0.05)
        record = status.read_progress(build_db)
        _dbt_node(reporter, _node("finish", "int_slow", 3, status_="success", seconds=1.2))
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
    # The progress record named the same, for `fairuse status`; when the run is over, it says it ended.
    assert record["pid"] == os.getpid() and record["month"] == "2026-01" and record["node"] == "model int_slow"
    assert record["dbt_done"] == 2 and record["dbt_total"] == 3 and not record.get("ended")
    after = status.read_progress(build_db)
    assert after["ended"] >= record["updated"] and after["outcome"] == "succeeded" and after["node"] is None
    assert after["dbt_done"] == 3


def test_quiet_prints_nothing_and_still_keeps_the_progress_record(tmp_path):
    out = io.StringIO()
    build_db = tmp_path / "warehouse.build.duckdb"
    reporter = Reporter(out, display_for(out, quiet=True), heartbeat=0.1)
    reporter.start(build_db, ["2026-01"])
    with reporter:
        reporter.month_started("2026-01", tmp_path / "log")
        _dbt_node(reporter, _node("start", "stg_calls", 1))
        deadline = time.monotonic() + 30
        while not (status.read_progress(build_db) or {}).get("node") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert status.read_progress(build_db)["node"] == "model stg_calls"
        time.sleep(0.3)  # past the heartbeat: still nothing
        _dbt_node(reporter, _node("finish", "stg_calls", 1, status_="success"))
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
        _dbt_node(reporter, _node("start", "int_slow", 1, total=2))
        time.sleep(1.5)  # the bar redraws; no heartbeat lines on a terminal
        _dbt_node(reporter, _node("finish", "int_slow", 1, total=2, status_="success", seconds=1.5))
    text = out.getvalue()
    assert "\x1b[" in text  # drawn with terminal control sequences
    assert re.search(r"dbt 0/2 nodes, running model int_slow for \d+s", text)  # the bar's text
    assert re.search(r"dbt +1/2 model int_slow .* 1\.50s +success", text)
    assert "] ... " not in text  # (the heartbeat line's mark)


def test_the_progress_record_stays_cheap_and_a_write_error_never_reaches_the_run(tmp_path, caplog):
    from dagster_project.domain.run_progress import RunProgress

    build_db = tmp_path / "warehouse.build.duckdb"
    progress = RunProgress(build_db, interval=0.5)
    assert progress.run_started("run-1", "2026-01", "dbt_models")
    t0 = time.monotonic()
    for i in range(1, 61):  # a node every 50 ms for 3 s: a write every `interval`, not one per node
        progress.dbt_node(_node("start", f"m{i}", i, total=60))
        time.sleep(0.05)
        progress.dbt_node(_node("finish", f"m{i}", i, total=60, status_="success"))
    time.sleep(1.2)
    elapsed = time.monotonic() - t0
    assert progress.writes <= 2 + elapsed / 0.5, (progress.writes, elapsed)
    assert status.read_progress(build_db)["dbt_done"] == 60  # the last of them written all the same
    progress.finish("succeeded")
    assert status.read_progress(build_db)["outcome"] == "succeeded"

    # A record that cannot be written (its folder is a file): logged once, never raised.
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    broken = RunProgress(blocked / "warehouse.build.duckdb", interval=0.1)
    with caplog.at_level("WARNING", logger="dagster_project.domain.run_progress"):
        broken.run_started("run-2", "2026-01", "raw_month")
        broken.step_finished("raw_month", True)
        broken.dbt_node(_node("start", "m1", 1))
        time.sleep(0.6)
        broken.finish("failed")
    problems = [r.getMessage() for r in caplog.records if "not written" in r.getMessage()]
    assert len(problems) == 1 and str(blocked) in problems[0], problems
    assert broken.writes == 0


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
# A run launched by Dagster (the daemon, the UI: no `fairuse run`) keeps the same progress record

_DAGSTER_RUN = """
import sys, time
from pathlib import Path
import dagster as dg
from dagster_project.defs.partitions import monthly_partitions
from dagster_project.defs.warehouse_lock import hold_warehouse
from dagster_project.domain.settings import get_settings

settings = get_settings(*sys.argv[1:4])
go, fail = Path(sys.argv[4]), sys.argv[5] == "fail"

@dg.asset(partitions_def=monthly_partitions)
def raw_month(context):
    hold_warehouse(context, settings)  # as every step that writes does

@dg.asset(deps=[raw_month], partitions_def=monthly_partitions)
def dbt_models(context):
    hold_warehouse(context, settings)
    print("mid-run", flush=True)
    while not go.exists():
        time.sleep(0.05)
    if fail:
        raise RuntimeError("broken on purpose")

result = dg.materialize([raw_month, dbt_models], partition_key="2026-03", raise_on_error=False)
print("success" if result.success else "failure", flush=True)
"""


@pytest.mark.parametrize("outcome", ["succeeded", "failed"])
def test_a_run_launched_by_dagster_shows_its_progress_in_status_and_then_that_it_ended(tmp_path, outcome):
    settings = _settings(tmp_path)
    script, go = tmp_path / "dagster_run.py", tmp_path / "go"
    script.write_text(_DAGSTER_RUN)
    run = subprocess.Popen(  # a process of its own, as the run worker the daemon or the UI launches
        [sys.executable, str(script), str(settings.raw_dir), str(settings.warehouse), str(settings.exports_dir),
         str(go), "fail" if outcome == "failed" else "ok"],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE, text=True)
    try:
        assert run.stdout.readline().strip() == "mid-run"
        during = json.loads(_status_cli(settings, "--format", "json").stdout)
        table = _status_cli(settings).stdout
        go.touch()
        assert run.stdout.readline().strip() == ("success" if outcome == "succeeded" else "failure")
        run.wait(timeout=60)
    finally:
        run.kill()
        run.wait()
    # While it runs: the holder (the run's process, named as a Dagster run), its month, its step, the step done.
    held = during["run"]
    assert (held["pid"], held["state"], held["months"]) == (run.pid, "running", ["2026-03"])
    assert held["command"].startswith("Dagster run ")
    progress = held["progress"]
    assert (progress["month"], progress["step"], progress["steps_done"]) == ("2026-03", "dbt_models", 1)
    assert progress["run_id"].startswith(held["command"].split()[-1]) and not progress.get("ended")
    assert "month 2026-03; step dbt_models (1 step(s) done)" in table, table
    # After: its process has exited (a Dagster run keeps the lock until then); the record says it ended, and how.
    after = status.collect(settings)["run"]
    assert after["pid"] == run.pid and after["state"].startswith(f"ended ({outcome}) at "), after
    assert after["progress"]["outcome"] == outcome and after["progress"]["ended"] >= progress["updated"]
    assert after["progress"]["step"] is None
    if outcome == "failed":
        assert after["progress"]["failed_step"] == "dbt_models"
    else:
        assert after["progress"]["steps_done"] == 2
    assert f"ended ({outcome})" in _status_cli(settings).stdout


@pytest.mark.slow
def test_the_monthly_job_run_by_dagster_keeps_its_progress_record_step_and_dbt_nodes(tmp_path):
    import dagster as dg

    from dagster_project.cli.run import QUIET
    from dagster_project.definitions import build_definitions
    from dagster_project.domain.dbt_runner import watch_nodes

    settings = _settings(tmp_path, copy_conformance_raw(tmp_path))
    job = build_definitions(settings).resolve_job_def("monthly_pipeline")
    seen: dict = {}

    def mid_run(ev: NodeEvent) -> None:
        """Halfway through the dbt build: what `fairuse status` shows, from another process."""
        if seen or ev.kind != "finish" or ev.index < ev.total // 2:
            return
        deadline = time.monotonic() + 30
        while not (status.read_progress(settings.build_db) or {}).get("dbt_done") and time.monotonic() < deadline:
            time.sleep(0.1)  # node counts are written every few seconds
        seen["json"] = json.loads(_status_cli(settings, "--format", "json").stdout)
        seen["table"] = _status_cli(settings).stdout

    try:
        with watch_nodes(mid_run):  # the Dagster run, no `fairuse run` around it
            result = job.execute_in_process(partition_key="2026-01", instance=dg.DagsterInstance.ephemeral(),
                                            run_config=QUIET)
        assert result.success
        after = status.collect(settings)["run"]
    finally:
        warehouse_lock.release(settings.build_db)  # a Dagster run keeps the lock until its process exits
    during = seen["json"]["run"]
    assert (during["pid"], during["state"], during["months"]) == (os.getpid(), "running", ["2026-01"])
    progress = during["progress"]
    assert (progress["run_id"], progress["month"], progress["step"]) == (result.run_id, "2026-01", "dbt_models")
    assert 0 < progress["dbt_done"] < progress["dbt_total"] and progress["steps_done"] >= 1
    assert re.search(r"month 2026-01; step dbt_models \(\d step\(s\) done\); dbt \d+/\d+ nodes", seen["table"])
    # After the run: the record says it ended, and how; every node and step counted.
    assert after["state"].startswith("ended (succeeded) at ") and after["progress"]["run_id"] == result.run_id
    record = after["progress"]
    assert record["dbt_done"] == record["dbt_total"] > progress["dbt_done"] and record["step"] is None
    steps = {e.step_key for e in result.all_events if e.event_type_value == "STEP_SUCCESS"}
    assert record["steps_done"] == len(steps) >= 4


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
