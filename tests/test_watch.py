"""`fairuse watch`: the open month's provisional projections, and provisional never becoming final.

Fast: the publishing of provisional tables on small hand-made DuckDB files (kept across a publish, a month's rows
gone once the month is built, the publish journal still naming the file). Slow (end to end on the generated
sample): a month cut at day 15 gives watch rows (the per-account table adds up its users' rows) and its page, and
changes nothing final (no report, notice or export of the month); building it for real afterwards removes them,
the page included, and gives what a build without the watch gives. `fairuse watch --backtest` on the built sample
meets its target at day 15. The projection arithmetic is the dbt unit test
`watch_steady_pace_above_and_below_the_threshold` (models/marts/watch/_watch.yml).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from dagster_project.cli.main import main
from dagster_project.defs.resources import FairuseResource
from dagster_project.defs.watch_job import build_watch_job
from dagster_project.domain import month_state
from dagster_project.domain.publish import PROVISIONAL_TABLES, publish, publish_provisional, publishes_incrementally
from tests.conftest import run_pipeline
from tests.helpers import dump_tables

WATCH, ACCOUNTS = PROVISIONAL_TABLES


def _build_db(path: Path, months: list[str]) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute("create schema if not exists audit; create schema if not exists marts")
        con.execute("create or replace table audit.load_balance as select cast(m as date) as month, 1 as rows_read "
                    "from unnest(?) as t(m)", [[f"{m}-01" for m in months]])
        con.execute("create or replace table marts.fct_x as select cast(m as date) as month, 7 as v "
                    "from unnest(?) as t(m)", [[f"{m}-01" for m in months]])


def _watch_db(path: Path, month: str, users: list[str]) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts")
        con.execute(f"create table {WATCH} as select cast(? as date) as month, u as user_id, true as "
                    f"is_provisional from unnest(?) as t(u)", [f"{month}-01", users])
        con.execute(f"create table {ACCOUNTS} as select cast(? as date) as month, 'a' as account_id",
                    [f"{month}-01"])


def _rows(warehouse: Path, table: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(f"select strftime(month, '%Y-%m'), * exclude (month) from {table} order by all").fetchall()


def test_provisional_rows_are_replaced_by_the_next_watch_kept_by_publish_and_dropped_once_built(tmp_path):
    build, warehouse = tmp_path / "build" / "w.build.duckdb", tmp_path / "w.duckdb"
    build.parent.mkdir()
    _build_db(build, ["2026-01"])
    publish(build, warehouse, "2026-01")
    assert publishes_incrementally(build, warehouse)

    _watch_db(tmp_path / "w1.duckdb", "2026-02", ["u1", "u2"])
    assert publish_provisional(build, warehouse, tmp_path / "w1.duckdb", "2026-02") == {WATCH: 2, ACCOUNTS: 1}
    _watch_db(tmp_path / "w2.duckdb", "2026-02", ["u3"])  # the next watch of the month replaces it
    publish_provisional(build, warehouse, tmp_path / "w2.duckdb", "2026-02")
    _watch_db(tmp_path / "w3.duckdb", "2026-03", ["u9"])
    publish_provisional(build, warehouse, tmp_path / "w3.duckdb", "2026-03")
    assert _rows(warehouse, WATCH) == [("2026-02", "u3", True), ("2026-03", "u9", True)]
    assert publishes_incrementally(build, warehouse), "the journal names the file the watch wrote"
    assert _rows(warehouse, "marts.fct_x") == [("2026-01", 7)]

    _build_db(build, ["2026-01", "2026-02"])  # February built for real
    res = publish(build, warehouse, "2026-02")
    assert res.mode == "incremental", res.reason
    assert _rows(warehouse, WATCH) == [("2026-03", "u9", True)]
    assert _rows(warehouse, ACCOUNTS) == [("2026-03", "a")]
    assert _rows(warehouse, "marts.fct_x") == [("2026-01", 7), ("2026-02", 7)]

    warehouse.touch()  # not the file the journal names: a full copy, which carries the provisional tables over
    _build_db(build, ["2026-01", "2026-02", "2026-03"])
    res = publish(build, warehouse, "2026-03")
    assert res.mode == "full"
    assert _rows(warehouse, WATCH) == [] and _rows(warehouse, ACCOUNTS) == []


def test_a_bad_policy_is_refused_first_in_one_line_by_the_command_and_the_job(tmp_path):
    """As `fairuse run`: the policy is validated before anything else is looked at (here: no warehouse at all)."""
    from dagster_project.domain.settings import get_settings
    from tests.conftest import policy_with

    bad = policy_with(tmp_path, **{"metrics.calls.excess_unit_rates": 0.05})
    line = f"policy {bad}: metrics.calls.excess_unit_rates: unknown key (did you mean excess_unit_rate?)"
    work = tmp_path / "work"
    for extra in ([], ["--backtest"]):
        code, out, err = _cli("watch", "--raw-dir", str(tmp_path / "raw"), "--warehouse", str(work / "w.duckdb"),
                              "--policy", str(bad), "--month", "2026-03", *extra)
        assert (code, out, err) == (2, "", f"fairuse watch: {line}\n")
    settings = get_settings(str(tmp_path / "raw"), str(work / "w.duckdb"), None, str(bad))
    result = build_watch_job().execute_in_process(
        run_config={"ops": {"month_to_date_watch": {"config": {"month": "2026-03"}}}},
        resources={"fairuse": FairuseResource.from_settings(settings)}, instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False)
    failures = [ev for ev in result.all_events if ev.event_type_value == "STEP_FAILURE"]
    assert not result.success and len(failures) == 1
    assert failures[0].event_specific_data.user_failure_data.description == line
    assert not work.exists()


# ---------------------------------------------------------------------------------------------------------------
# End to end on the generated sample (two months: January built, February watched, then built)


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _final(warehouse: Path) -> dict[str, list[tuple]]:
    return {t: rows for t, rows in dump_tables(warehouse).items() if t not in PROVISIONAL_TABLES}


def _cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def _assert_only_the_watch_page(settings) -> None:
    """Before the month is built, the watch has written its page and nothing else of the month: no report, no
    customer notice of the ladder, no exports."""
    month_dir = settings.reports_dir / "2026-02"
    assert sorted(p.name for p in month_dir.iterdir()) == ["watch.html"]
    page = (month_dir / "watch.html").read_text()
    assert "rovisional" in page
    assert not (settings.exports_dir / "2026-02").exists()
    assert sorted(p.name for p in settings.exports_dir.iterdir() if p.is_dir()) == ["2026-01"]


def _assert_accounts_sum_up_their_users(warehouse: Path) -> None:
    """The per-account table is its users' rows summed up: every account of the watch, each of its columns."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        users = con.execute(f"select account_id, user_id, on_track_to_exceed, projected_ratio, "
                            f"projected_crossing_date, as_of from {WATCH} where month = date '2026-02-01'").fetchall()
        accounts = {r[0]: r[1:] for r in con.execute(
            f"select account_id, as_of, users, users_on_track, user_metrics_on_track, max_projected_ratio, "
            f"earliest_crossing_date, on_track_to_exceed, is_provisional from {ACCOUNTS} "
            f"where month = date '2026-02-01'").fetchall()}
    expected = {}
    for account in {u[0] for u in users}:
        rows = [u for u in users if u[0] == account]
        on_track = [u for u in rows if u[2]]
        ratios = [u[3] for u in rows if u[3] is not None]
        crossings = [u[4] for u in on_track if u[4] is not None]
        expected[account] = (max(u[5] for u in rows), len({u[1] for u in rows}), len({u[1] for u in on_track}),
                             len(on_track), max(ratios) if ratios else None, min(crossings) if crossings else None,
                             bool(on_track), True)
    assert accounts == expected
    assert sum(a[2] > 0 for a in expected.values()) >= 1 and any(a[1] > 1 for a in expected.values())


@pytest.mark.slow
def test_watch_at_day_15_changes_nothing_final_and_the_real_build_removes_it(sample_raw, sample_build, tmp_path):
    settings, outcomes = run_pipeline(tmp_path, sample_raw, months=["2026-01"])
    assert all(o.success for o in outcomes), outcomes
    wh = str(settings.warehouse)
    before = (_final(settings.warehouse), _digest(settings.exports_dir),
              hashlib.sha256(settings.build_db.read_bytes()).hexdigest(), month_state.read_months(settings.warehouse))

    code, out, err = _cli("watch", "--raw-dir", str(sample_raw), "--warehouse", wh, "--month", "2026-02",
                          "--as-of", "2026-02-16")
    assert code == 0, err
    assert "PROVISIONAL" in out and "thresholds from the 2026-01 cohort" in out

    with duckdb.connect(wh, read_only=True) as con:
        n, users, as_of, provisional = con.execute(
            f"select count(*), count(distinct user_id), min(as_of), bool_and(is_provisional) from {WATCH} "
            f"where month = date '2026-02-01'").fetchone()
        assert n == 4 * users and users > 100 and provisional
        assert str(as_of) == "2026-02-16 00:00:00"
    with duckdb.connect(str(sample_build.warehouse), read_only=True) as ref:
        finals = dict(((u, m), v) for u, m, v in ref.execute(
            "select user_id, metric, value from marts.fct_user_excess_ratios where month = date '2026-02-01'"
        ).fetchall())
    with duckdb.connect(wh, read_only=True) as con:
        to_date = con.execute(f"select user_id, metric, value_to_date, projected_value from {WATCH}").fetchall()
    assert all(v <= finals[(u, m)] + 1e-9 for u, m, v, _ in to_date)
    assert sum(v < finals[(u, m)] for u, m, v, _ in to_date) > len(to_date) / 2, "the cut left later events out"

    # nothing final changed: marts, audit (loaded files), exports, build database, month states
    after = (_final(settings.warehouse), _digest(settings.exports_dir),
             hashlib.sha256(settings.build_db.read_bytes()).hexdigest(), month_state.read_months(settings.warehouse))
    assert after == before
    code, out, _ = _cli("sql", "--warehouse", wh, "--query", "on_track", "--param", "month=2026-02",
                        "--format", "csv")
    assert code == 0 and out.startswith("account_id,user_id,metric")
    with duckdb.connect(wh, read_only=True) as con:
        on_track = con.execute(f"select count(*) from {WATCH} where on_track_to_exceed").fetchone()[0]
    assert len(out.strip().splitlines()) - 1 == on_track > 0
    _assert_accounts_sum_up_their_users(settings.warehouse)
    _assert_only_the_watch_page(settings)

    # the schedule's job: the next watch of the month replaces its rows (here: the same cut, the same rows)
    watched = dump_tables(settings.warehouse)[WATCH]
    result = build_watch_job().execute_in_process(
        run_config={"ops": {"month_to_date_watch": {"config": {"month": "2026-02", "as_of": "2026-02-16"}}}},
        resources={"fairuse": FairuseResource.from_settings(settings)}, instance=dg.DagsterInstance.ephemeral())
    assert result.success
    assert dump_tables(settings.warehouse)[WATCH] == watched
    assert _final(settings.warehouse) == before[0]
    _assert_only_the_watch_page(settings)

    # February built for real: its provisional rows go, and the result is a build's without the watch
    _, outcomes = run_pipeline(tmp_path, sample_raw, months=["2026-02"])
    assert all(o.success for o in outcomes), outcomes
    with duckdb.connect(wh, read_only=True) as con:
        assert con.execute(f"select count(*) from {WATCH}").fetchone() == (0,)
        assert con.execute(f"select count(*) from {ACCOUNTS}").fetchone() == (0,)
    assert _final(settings.warehouse) == _final(sample_build.warehouse)
    assert _digest(settings.exports_dir) == _digest(sample_build.exports_dir)
    # ... and its reports folder is a build's without the watch: the report and the notices, no watch page
    month_dir = settings.reports_dir / "2026-02"
    assert not (month_dir / "watch.html").exists()
    assert (month_dir / "report.html").is_file() and (month_dir / "notices" / "index.csv").is_file()
    assert _digest(month_dir) == _digest(sample_build.reports_dir / "2026-02")

    code, _, err = _cli("watch", "--raw-dir", str(sample_raw), "--warehouse", wh, "--month", "2026-02")
    assert code == 2 and "is built" in err


@pytest.mark.slow
def test_backtest_on_the_built_sample_meets_its_target_at_day_15(sample_raw, sample_build):
    """`fairuse watch --backtest` on the built sample (February watched at the end of day 10, 15 and 20 against its
    month-end flags): a row per day and metric with the median projection error, and at day 15 precision and
    recall of at least 0.8 for calls and call minutes. It reads the built warehouse and changes nothing in it."""
    before = dump_tables(sample_build.warehouse)
    code, out, err = _cli("watch", "--backtest", "--raw-dir", str(sample_raw), "--warehouse",
                          str(sample_build.warehouse))
    assert code == 0, err
    print(f"\n{out}")
    assert all(f"backtest: 2026-02 day {d}:" in err for d in (10, 15, 20)), err
    header, rule, *lines = out.strip().splitlines()
    assert header.split("|")[1:-1] == [
        " day ", " metric ", " on track ", " flagged at month end ", " both ", " precision ", " recall ",
        " median error ", " median error, pro rata by time "], header
    rows = {}
    for line in lines:
        day, metric, _on_track, flagged, _both, precision, recall, error, error_by_time = (
            c.strip() for c in line.split("|")[1:-1])
        rows[(int(day), metric)] = (int(flagged), precision, recall, float(error), float(error_by_time))
    metrics = {"calls", "call_minutes", "team_chats", "messages"}
    assert set(rows) == {(d, m) for d in (10, 15, 20) for m in metrics}, sorted(rows)
    for (day, metric), (_, _, _, error, error_by_time) in rows.items():
        assert 0 <= error < 1 and 0 <= error_by_time < 1, (day, metric, error)
    for metric in ("calls", "call_minutes"):
        flagged, precision, recall, _, _ = rows[(15, metric)]
        assert flagged > 0, (metric, out)
        assert float(precision) >= 0.8 and float(recall) >= 0.8, (metric, out)
    assert dump_tables(sample_build.warehouse) == before
