"""Only whole months that arrived whole are published, provoked for real on generated data: a month killed in its
dbt step, a lost build folder, a missing dataset, a truncated month, a thinned month, a normal month and the
operator's override; after each, the published state is either a clean build's or exactly what it was."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from dagster_project.domain import month_state
from tests.conftest import REPO, run_pipeline
from tests.helpers import dump_tables

pytestmark = pytest.mark.slow

MONTHS = ["2026-01", "2026-02", "2026-03"]


def _files_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _published(work: Path) -> tuple[bytes, dict[str, str]]:
    """What analysts and finance see: the warehouse file's bytes and every export file."""
    return (work / "warehouse.duckdb").read_bytes(), _files_digest(work / "exports")


def _copy_work(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, symlinks=True, ignore=shutil.ignore_patterns("raw", "logs"))
    return dst


def _run(work: Path, raw: Path, months, **kw):
    from dagster_project.cli.run import run_months
    from dagster_project.domain.settings import get_settings

    settings = get_settings(str(raw), str(work / "warehouse.duckdb"), str(work / "exports"))
    out = io.StringIO()
    return run_months(settings, months, out=out, **kw), out.getvalue()


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    from dagster_project.tools.generate import generate

    raw = tmp_path_factory.mktemp("whole-raw") / "raw"
    generate(out=raw, users=150, months=MONTHS, seed=11, calls_per_user=15)
    return raw


@pytest.fixture(scope="module")
def built(raw, tmp_path_factory):
    """January built and published, kept aside; February (a normal second month passes the gate), kept aside; then
    March: the clean build of all three months."""
    work = tmp_path_factory.mktemp("whole-clean")
    kept = {}
    for name, month in (("one", "2026-01"), ("two", "2026-02"), (None, "2026-03")):
        _, outcomes = run_pipeline(work, raw, months=[month])
        assert all(o.success for o in outcomes), outcomes
        if name:
            kept[name] = _copy_work(work, tmp_path_factory.mktemp(f"whole-{name}") / "work")
    states = month_state.read_months(work / "warehouse.duckdb")
    assert {m: (states[m]["state"], states[m]["gate"]) for m in MONTHS} == {m: ("published", "passed") for m in MONTHS}
    return {**kept, "clean": work, "tables": dump_tables(work / "warehouse.duckdb"),
            "exports": _files_digest(work / "exports")}


def _march_variant(raw: Path, dest: Path, change) -> Path:
    """A copy of the raw folder whose March calls are changed by `change(table) -> table` (None: folder removed)."""
    shutil.copytree(raw, dest)
    folder = dest / "calls" / "month=2026-03"
    if change is None:
        shutil.rmtree(folder)
        return dest
    for f in sorted(folder.glob("*.parquet")):
        st = f.stat()
        pq.write_table(change(pq.read_table(f)), f)
        os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))  # same delivery time as before
    return dest


def _thinned(table):  # 40 % of the rows (every row whose position is 0 or 1 modulo 5)
    keep = [i % 5 < 2 for i in range(table.num_rows)]
    return table.filter(keep)


def _truncated(table):  # calls stop on the 12th
    cut = pa.scalar(dt.datetime(2026, 3, 12), table.schema.field("started_at").type)
    return table.filter(pc.fill_null(pc.less(table["started_at"], cut), True))


@pytest.mark.parametrize("case, change, dataset, reason", [
    ("missing", None, "calls", "no files for 2026-03"),
    ("truncated", _truncated, "calls", "data stops at 2026-03-1"),
    ("thinned", _thinned, "calls", "rows counted, below 0.5 x the median of 2026-01..2026-02"),
])
def test_an_incomplete_month_is_held_and_nothing_is_published(raw, built, tmp_path, case, change, dataset, reason):
    work = _copy_work(built["two"], tmp_path / "work")
    before = _published(work)
    variant = _march_variant(raw, tmp_path / "raw", change)
    outcomes, out = _run(work, variant, ["2026-03"])
    assert not outcomes[0].success
    error = outcomes[0].error
    assert error.startswith(f"held by the completeness gate: {dataset}: ") and reason in error, error
    assert "\n" not in error and "--accept-incomplete" in error
    assert _published(work) == before  # the warehouse file and the exports exactly as they were
    assert not (work / "exports" / "2026-03").exists() and not (work / "reports" / "2026-03").exists()
    entry = month_state.read_months(work / "warehouse.duckdb")["2026-03"]
    assert entry["state"] == "held" and reason in entry["reason"]


def test_the_cli_exits_non_zero_naming_the_dataset_and_the_override_publishes_and_says_so(raw, built, tmp_path):
    work = _copy_work(built["two"], tmp_path / "work")
    before = _published(work)
    variant = _march_variant(raw, tmp_path / "raw", _thinned)
    args = [sys.executable, "-m", "dagster_project.cli.main", "run", "--raw-dir", str(variant), "--warehouse",
            str(work / "warehouse.duckdb"), "--exports-dir", str(work / "exports"), "--month", "2026-03"]
    held = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert held.returncode == 1, held.stderr[-2000:]
    last = held.stderr.strip().splitlines()[-1]
    assert last.startswith("fairuse run: month 2026-03 failed: held by the completeness gate: calls: "), last
    assert "HELD 2026-03" in held.stdout and _published(work) == before

    # The operator knows the month is genuinely small: accepted, published, and the exports and report say so.
    outcomes, _ = _run(work, variant, ["2026-03"], accept_incomplete=True)
    assert outcomes[0].success, outcomes
    manifest = json.loads((work / "exports" / "2026-03" / "manifest.json").read_text())
    assert manifest["accepted_incomplete"]["reason"].startswith("calls: ")
    assert "below 0.5 x the median" in manifest["accepted_incomplete"]["reason"]
    assert "accepted_incomplete" not in json.loads((work / "exports" / "2026-02" / "manifest.json").read_text())
    assert 'id="accepted-incomplete"' in (work / "reports" / "2026-03" / "report.html").read_text()
    assert month_state.read_months(work / "warehouse.duckdb")["2026-03"]["state"] == "accepted_incomplete"

    # The whole month arrives later: a full re-run gives the clean build, and the note is gone.
    outcomes, _ = _run(work, raw, MONTHS)
    assert all(o.success for o in outcomes), outcomes
    assert dump_tables(work / "warehouse.duckdb") == built["tables"]
    assert "accepted_incomplete" not in json.loads((work / "exports" / "2026-03" / "manifest.json").read_text())
    assert month_state.read_months(work / "warehouse.duckdb")["2026-03"]["state"] == "published"


def _dbt_nodes_done(log: Path) -> tuple[int, int]:
    """(nodes finished, nodes in the build) as dbt's log of the month says so far (`12 of 52 OK created ...`)."""
    done = re.findall(r"(\d+) of (\d+) (?:OK|PASS)", log.read_text() if log.exists() else "")
    return (max(int(d) for d, _ in done), int(done[0][1])) if done else (0, 0)


def test_a_month_killed_in_its_dbt_step_is_never_published_nor_what_depends_on_it(raw, built, tmp_path):
    work = _copy_work(built["one"], tmp_path / "work")  # January published; February never built before
    before = _published(work)
    proc = subprocess.Popen(
        [sys.executable, "-m", "dagster_project.cli.main", "run", "--raw-dir", str(raw), "--warehouse",
         str(work / "warehouse.duckdb"), "--exports-dir", str(work / "exports"), "--month", "2026-02"],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    # Killed half way through its dbt step: once dbt's log says half of the month's nodes are done.
    log, deadline = work / "logs" / "run-2026-02.log", time.time() + 300
    done, total = _dbt_nodes_done(log)
    while (not total or done < total // 2) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
        done, total = _dbt_nodes_done(log)
    alive = proc.poll() is None
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert alive, "the run of 2026-02 ended before it could be killed"
    assert total and total // 2 <= done < total, (done, total)  # dbt had started, and not finished
    feb = month_state.read_months(work / "warehouse.duckdb")["2026-02"]
    assert (feb["state"], feb["step"]) == ("building", "dbt_models")
    assert _published(work) == before and not (work / "exports" / "2026-02").exists()

    # March alone (as a schedule or a backfill would): refused, naming February and the command that rebuilds it.
    outcomes, _ = _run(work, raw, ["2026-03"])
    assert [o.month for o in outcomes] == ["2026-03"] and not outcomes[0].success
    error = outcomes[0].error
    assert error.startswith("publish__warehouse: month 2026-02 must be rebuilt first (its run was killed"), error
    assert "`fairuse run --month 2026-02`" in error and "\n" not in error
    assert _published(work) == before  # the warehouse file and every export file byte for byte
    assert not (work / "exports" / "2026-03").exists() and not (work / "reports" / "2026-03").exists()
    states = month_state.read_months(work / "warehouse.duckdb")
    assert (states["2026-02"]["state"], states["2026-03"]["state"]) == ("building", "built")

    # February rebuilt: published with March (built whole meanwhile, over the partial February): the clean build.
    outcomes, _ = _run(work, raw, ["2026-02"])
    assert all(o.success for o in outcomes), outcomes
    assert dump_tables(work / "warehouse.duckdb") == built["tables"]
    assert _files_digest(work / "exports") == built["exports"]
    states = month_state.read_months(work / "warehouse.duckdb")
    assert [states[m]["state"] for m in MONTHS] == ["published"] * 3


def test_a_lost_build_folder_never_shrinks_the_warehouse(raw, built, tmp_path):
    from dagster_project.definitions import build_definitions
    from dagster_project.domain.settings import get_settings

    work = _copy_work(built["clean"], tmp_path / "work")
    shutil.rmtree(work / "build")
    before = _published(work)

    # From Dagster (the UI, the schedule, a sensor): January alone refuses, naming the months it would drop.
    settings = get_settings(str(raw), str(work / "warehouse.duckdb"), str(work / "exports"))
    job = build_definitions(settings).resolve_job_def("monthly_pipeline")
    result = job.execute_in_process(partition_key="2026-01", raise_on_error=False,
                                    instance=dg.DagsterInstance.ephemeral())
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert failure.step_key == "publish__warehouse"
    message = failure.event_specific_data.error.cause.message
    assert "lacks published month(s) 2026-02, 2026-03 (build folder lost or recreated)" in message
    assert "`fairuse run --month 2026-01 --month 2026-02 --month 2026-03`" in message
    assert _published(work) == before

    # From the CLI: the missing months are rebuilt from the raw data first; the result is the clean build.
    outcomes, out = _run(work, raw, ["2026-01"])
    assert all(o.success for o in outcomes), outcomes
    assert "lacks published month(s) 2026-02, 2026-03: rebuilding them from the raw data" in out
    assert [o.month for o in outcomes] == MONTHS
    assert dump_tables(work / "warehouse.duckdb") == built["tables"]
    assert _files_digest(work / "exports") == built["exports"]


def test_a_lost_build_folder_keeps_an_accepted_month_accepted_and_never_downgrades_what_is_published(
        raw, built, tmp_path):
    from dagster_project.domain import status
    from dagster_project.domain.settings import get_settings

    # March is genuinely small (thinned), published by the operator's accept over a January and February built whole.
    work = _copy_work(built["two"], tmp_path / "work")
    variant = _march_variant(raw, tmp_path / "raw", _thinned)
    outcomes, _ = _run(work, variant, ["2026-03"], accept_incomplete=True)
    assert outcomes[0].success, outcomes
    accepted = month_state.read_months(work / "warehouse.duckdb")["2026-03"]
    reason = accepted["reason"]
    assert accepted["state"] == "accepted_incomplete" and "below 0.5 x the median of 2026-01..2026-02" in reason
    tables, exports = dump_tables(work / "warehouse.duckdb"), _files_digest(work / "exports")

    # The build folder lost: the lost months are rebuilt in month order, each once, March with the operator's earlier
    # accept; the gate compares March with January and February as when it was accepted (the same reason); exit 0
    # and everything as it was published.
    shutil.rmtree(work / "build")
    outcomes, out = _run(work, variant, ["2026-01"])
    assert all(o.success for o in outcomes) and [o.month for o in outcomes] == MONTHS, outcomes
    assert re.findall(r"\[(\d{4}-\d{2})\] building", out) == MONTHS, out
    assert "; 2026-03 with its earlier accept (accepted incomplete: calls: " in out
    states = month_state.read_months(work / "warehouse.duckdb")
    assert [states[m]["state"] for m in MONTHS] == ["published", "published", "accepted_incomplete"]
    assert states["2026-03"]["reason"] == reason
    assert json.loads((work / "exports" / "2026-03" / "manifest.json").read_text())["accepted_incomplete"] == {
        "reason": reason}
    assert dump_tables(work / "warehouse.duckdb") == tables
    assert _files_digest(work / "exports") == exports

    # Lost again, and a March file broken meanwhile: the recovery stops at March (exit 1), nothing is published,
    # and every month stays recorded as published, the rebuild's record beside it.
    shutil.rmtree(work / "build")
    broken = sorted((variant / "calls" / "month=2026-03").glob("*.parquet"))[0]
    broken.write_bytes(b"not a parquet file")
    before = _published(work)
    outcomes, out = _run(work, variant, ["2026-01"])
    assert re.findall(r"\[(\d{4}-\d{2})\] building", out) == MONTHS, out
    assert [o.month for o in outcomes] == ["2026-03"] and broken.name in outcomes[0].error, outcomes
    assert _published(work) == before
    states = month_state.read_months(work / "warehouse.duckdb")
    assert [states[m]["state"] for m in MONTHS] == ["published", "published", "accepted_incomplete"]
    assert states["2026-03"]["reason"] == reason
    assert (states["2026-03"]["rebuild"]["state"], states["2026-03"]["rebuild"]["step"]) == ("failed", "raw_month")
    assert [states[m]["rebuild"]["state"] for m in MONTHS[:2]] == ["built", "built"]  # built whole, not published
    settings = get_settings(str(variant), str(work / "warehouse.duckdb"), str(work / "exports"))
    table = status.render_table(status.collect(settings))
    assert re.search(r"2026-03 +accepted_incomplete", table) and "its rebuild failed at raw_month" in table, table
