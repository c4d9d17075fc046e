"""dbt in the step's process (parsed once per process), its results as Dagster events, and publishing in
proportion to the month.

Fast tier: publishing on small hand-made DuckDB files (a reader opened before keeps its state), the event
translation on made-up dbt results, the manifest cache (one dbt parse at most). Slow tier: two real months in one
process (events in the run, no second parse, earlier months untouched by the next publish) and a failing model
naming itself.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb
import pytest

from dagster_project.domain import publish as pub
from dagster_project.domain.dbt_runner import BuildResult, NodeResult, dbt_environment

MONTH_TABLES = frozenset({"marts.fct_usage", "audit.load_balance"})


# ---------------------------------------------------------------------------------------------------------------
# Publishing: a copy of the previous file plus the rebuilt months


def _build_month(build_db: Path, month: str, users: int = 3, bump: int = 0) -> None:
    """What a dbt build of `month` does to the published schemas: replace the month's rows of the month tables,
    rebuild the cross-month table over every month."""
    build_db.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(build_db))
    try:
        for schema in ("raw", "marts", "audit"):
            con.execute(f"create schema if not exists {schema}")
        con.execute("create table if not exists raw.calls (month date, from_number varchar)")
        con.execute("create table if not exists marts.fct_usage (month date, user_id varchar, calls int)")
        con.execute("create table if not exists audit.load_balance (month date, dataset varchar, rows_read bigint)")
        start = f"{month}-01"
        pub.mark_unpublished(build_db, month)
        con.execute("delete from marts.fct_usage where month = ?", [start])
        con.execute("insert into marts.fct_usage by name select ?::date as month, 'u-' || i as user_id, "
                    "i * 10 + ? as calls from range(?) t(i)",
                    [start, bump, users])
        con.execute("delete from audit.load_balance where month = ?", [start])
        con.execute("insert into audit.load_balance values (?, 'calls', ?)", [start, 100 + bump])
        con.execute("insert into raw.calls values (?, '+6421000000')", [start])
        con.execute("create or replace table marts.fct_enforcement as "
                    "select month, count(*) as users, sum(calls) as calls from marts.fct_usage group by month")
    finally:
        con.close()


def _rows(db: Path, table: str, month: str | None = None) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        where = f" where month = '{month}-01'" if month else ""
        return con.execute(f"select * from {table}{where} order by all").fetchall()
    finally:
        con.close()


def _tables(db: Path) -> set[str]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {f"{s}.{t}" for s, t in con.execute("select schema_name, table_name from duckdb_tables()").fetchall()}
    finally:
        con.close()


@pytest.fixture
def dbs(tmp_path):
    return tmp_path / "build" / "wh.build.duckdb", tmp_path / "wh.duckdb"


def test_first_publish_is_a_full_copy_of_marts_and_audit_only(dbs):
    build, wh = dbs
    _build_month(build, "2026-01")
    r = pub.publish(build, wh, "2026-01", MONTH_TABLES)
    assert r.mode == "full" and "no previous" in r.reason
    assert _tables(wh) == {"marts.fct_usage", "marts.fct_enforcement", "audit.load_balance"}  # never raw
    assert r.counts == {"audit.load_balance": 1, "marts.fct_enforcement": 1, "marts.fct_usage": 3}
    assert pub.unpublished_months(build) == []


def test_next_month_is_incremental_and_leaves_other_months_identical(dbs):
    build, wh = dbs
    _build_month(build, "2026-01")
    pub.publish(build, wh, "2026-01", MONTH_TABLES)
    january = _rows(wh, "marts.fct_usage", "2026-01")
    reader = duckdb.connect(str(wh), read_only=True)  # opened before the next publish
    _build_month(build, "2026-02", users=4)
    r = pub.publish(build, wh, "2026-02", MONTH_TABLES)
    assert r.mode == "incremental", r.reason
    assert r.months == ["2026-02-01"]
    # The reader keeps what it opened (January only) and never blocked the publish.
    assert reader.execute("select count(*) from marts.fct_usage").fetchone()[0] == 3
    assert reader.execute("select count(*) from marts.fct_enforcement").fetchone()[0] == 1
    reader.close()  # (DuckDB shares one open file per path within a process: close it before reopening)
    # One opening now sees February; January's rows are the ones published before, and every table is what a
    # full copy would have published.
    assert _rows(wh, "marts.fct_usage", "2026-01") == january
    for table in ("marts.fct_usage", "marts.fct_enforcement", "audit.load_balance"):
        assert _rows(wh, table) == _rows(build, table), table


def test_rerun_of_a_month_replaces_it_and_a_month_built_but_never_published_is_caught_up(dbs):
    build, wh = dbs
    for m in ("2026-01", "2026-02"):
        _build_month(build, m)
        pub.publish(build, wh, m, MONTH_TABLES)
    # January rebuilt by a run that died before publishing, then February published alone.
    _build_month(build, "2026-01", bump=5)
    _build_month(build, "2026-02", bump=7)
    r = pub.publish(build, wh, "2026-02", MONTH_TABLES)
    assert r.mode == "incremental" and r.months == ["2026-01-01", "2026-02-01"]
    for table in ("marts.fct_usage", "marts.fct_enforcement", "audit.load_balance"):
        assert _rows(wh, table) == _rows(build, table), table


def test_falls_back_to_a_full_copy_when_the_previous_file_cannot_be_trusted(dbs, tmp_path):
    build, wh = dbs
    _build_month(build, "2026-01")
    pub.publish(build, wh, "2026-01", MONTH_TABLES)
    # A schema change: a new column.
    con = duckdb.connect(str(build))
    con.execute("alter table marts.fct_usage add column minutes int default 0")
    con.close()
    _build_month(build, "2026-02")
    r = pub.publish(build, wh, "2026-02", MONTH_TABLES)
    assert r.mode == "full" and "columns changed" in r.reason
    assert _rows(wh, "marts.fct_usage") == _rows(build, "marts.fct_usage")
    # A new table.
    con = duckdb.connect(str(build))
    con.execute("create table audit.month_watermarks as select distinct month from marts.fct_usage")
    con.close()
    _build_month(build, "2026-02")
    r = pub.publish(build, wh, "2026-02", MONTH_TABLES)
    assert r.mode == "full" and "audit.month_watermarks" in _tables(wh)
    # The published file replaced by something else than the last publish.
    copy = tmp_path / "elsewhere.duckdb"
    os.replace(wh, copy)
    copy.rename(wh)
    os.utime(wh, ns=(1, 1))
    _build_month(build, "2026-02")
    assert pub.publish(build, wh, "2026-02", MONTH_TABLES).mode == "full"
    # No month given (any caller of the old signature): full.
    assert pub.publish(build, wh).mode == "full"


def test_a_recreated_build_database_is_published_as_a_full_copy(dbs):
    build, wh = dbs
    for m in ("2026-01", "2026-02"):
        _build_month(build, m)
        pub.publish(build, wh, m, MONTH_TABLES)
    build.unlink()  # the journal beside it stays
    _build_month(build, "2026-03")
    r = pub.publish(build, wh, "2026-03", MONTH_TABLES)
    assert r.mode == "full" and "differ from the build" in r.reason
    assert _rows(wh, "marts.fct_usage") == _rows(build, "marts.fct_usage")


def test_month_partitioned_tables_come_from_the_manifest_materialization():
    manifest = {"nodes": {
        "model.p.fct_usage": {"resource_type": "model", "name": "fct_usage",
                              "config": {"schema": "marts", "materialized": "incremental"}},
        "model.p.fct_flags": {"resource_type": "model", "name": "fct_flags",
                              "config": {"schema": "marts", "materialized": "table"}},
        "model.p.audit_lb": {"resource_type": "model", "name": "audit_lb",
                             "config": {"schema": "audit", "alias": "load_balance", "materialized": "incremental"}},
        "model.p.int_x": {"resource_type": "model", "name": "int_x",
                          "config": {"schema": "intermediate", "materialized": "incremental"}},
        "test.p.t": {"resource_type": "test", "name": "t", "config": {"schema": "marts"}},
    }}
    assert pub.month_partitioned_tables(manifest) == {"marts.fct_usage", "audit.load_balance"}


# ---------------------------------------------------------------------------------------------------------------
# The in-process runner


def test_dbt_environment_sets_unsets_and_restores(monkeypatch):
    monkeypatch.setenv("FAIRUSE_TEST_A", "before")
    monkeypatch.delenv("FAIRUSE_TEST_B", raising=False)
    with dbt_environment({"FAIRUSE_TEST_A": None, "FAIRUSE_TEST_B": "during"}):
        assert "FAIRUSE_TEST_A" not in os.environ and os.environ["FAIRUSE_TEST_B"] == "during"
    assert os.environ["FAIRUSE_TEST_A"] == "before" and "FAIRUSE_TEST_B" not in os.environ


def test_the_parsed_manifest_is_kept_per_process():
    from dagster_project.domain import dbt_runner

    first = dbt_runner.parsed_manifest("warehouse")
    parses = dbt_runner.parse_count
    assert dbt_runner.parsed_manifest("warehouse") is first  # dbt's Manifest, reused by every build
    assert dbt_runner.parse_count == parses  # no parse while the project's files are unchanged
    # The database name dbt-duckdb derives from the build file is what the parsed nodes carry.
    assert dbt_runner.dbt_database(Path("/x/build/warehouse.build.duckdb")) == "warehouse"
    assert {n.database for n in first.nodes.values() if n.resource_type == "model"} == {"warehouse"}


@pytest.fixture(scope="module")
def dbt_assets_def():
    from dagster_project.defs.assets.dbt import build_dbt_assets
    from dagster_project.domain.dbt_project import ensure_manifest

    return build_dbt_assets(ensure_manifest())


class _Log:
    def __init__(self):
        self.lines = []

    def info(self, msg):
        self.lines.append(msg)


class _Context:
    """What `dagster_events` reads of an AssetExecutionContext: the whole definition selected."""

    def __init__(self, assets_def):
        self.assets_def = assets_def
        self.selected_asset_keys = assets_def.keys
        self.selected_asset_check_keys = assets_def.check_keys
        self.log = _Log()


def _node(uid: str, resource_type: str, status: str, materialized: str | None = "table", **kw) -> NodeResult:
    name = uid.split(".")[-1]
    return NodeResult(unique_id=uid, resource_type=resource_type, name=name, path=f"models/{name}.sql",
                      materialized=materialized, status=status, message=kw.get("message"), execution_time=0.5,
                      failures=kw.get("failures"), rows_affected=kw.get("rows_affected"))


def test_dbt_results_become_materializations_and_check_results(dbt_assets_def):
    import dagster as dg

    from dagster_project.defs.assets.dbt import dagster_events, node_keys
    from dagster_project.domain.dbt_project import ensure_manifest

    keys = node_keys(ensure_manifest())
    assert set(dbt_assets_def.keys) <= set(keys.assets.values())  # every asset of the definition is a model
    assert set(dbt_assets_def.check_keys) <= set(keys.checks.values())  # every check spec is a dbt test
    model_uid = next(uid for uid, key in keys.assets.items() if key in dbt_assets_def.keys)
    test_uid, check = next((uid, c) for uid, c in keys.checks.items() if c in dbt_assets_def.check_keys)
    result = BuildResult(success=False, invocation_id="inv-1", seconds=1.0, manifest_seconds=0.0, parsed=False,
                         nodes=[_node(model_uid, "model", "success", rows_affected=12),
                                _node(test_uid, "test", "fail", None, failures=3, message="Got 3 results"),
                                _node("test.fairuse.not_a_check", "test", "pass", None),
                                _node("model.fairuse.downstream", "model", "skipped")])
    context = _Context(dbt_assets_def)
    events = list(dagster_events(context, result, keys))
    assert len(events) == 2
    mat, chk = events
    assert isinstance(mat, dg.MaterializeResult) and mat.asset_key == keys.assets[model_uid]
    assert mat.metadata["rows_affected"] == 12 and mat.metadata["unique_id"] == model_uid
    assert isinstance(chk, dg.AssetCheckResult)
    assert (chk.asset_key, chk.check_name, chk.passed) == (check.asset_key, check.name, False)
    assert chk.metadata["dagster_dbt/failed_row_count"].value == 3
    assert any("not_a_check" in line for line in context.log.lines)  # tests that are not checks: logged
    message = result.error_message("dbt build of 2026-01")
    assert test_uid.split(".")[-1] in message and "Got 3 results" in message and "1 node(s) skipped" in message


# ---------------------------------------------------------------------------------------------------------------
# End to end: two months in one process


@pytest.fixture(scope="module")
def two_months(tmp_path_factory):
    from dagster_project.tools.generate import generate

    tmp = tmp_path_factory.mktemp("inproc")
    raw = tmp / "raw"
    generate(out=raw, users=120, months=["2026-01", "2026-02"], seed=5, calls_per_user=10)
    return tmp, raw


@pytest.mark.slow
def test_two_months_in_one_process_events_one_parse_and_incremental_publish(two_months):
    import dagster as dg

    from dagster_project.cli.run import QUIET
    from dagster_project.definitions import build_definitions
    from dagster_project.domain import dbt_runner
    from dagster_project.domain.settings import get_settings

    tmp, raw = two_months
    settings = get_settings(str(raw), str(tmp / "wh" / "warehouse.duckdb"), str(tmp / "wh" / "exports"))
    defs = build_definitions(settings)
    job = defs.resolve_job_def("monthly_pipeline")
    dbt_def = defs.resolve_assets_def(dg.AssetKey(["marts", "fct_user_monthly_usage"]))  # the @dbt_assets
    instance = dg.DagsterInstance.ephemeral()

    first = job.execute_in_process(partition_key="2026-01", instance=instance, run_config=QUIET)
    assert first.success
    parses = dbt_runner.parse_count
    january = {t: _rows(settings.warehouse, t, "2026-01")
               for t in ("marts.fct_user_monthly_usage", "marts.fct_user_excess_ratios", "audit.load_balance")}

    second = job.execute_in_process(partition_key="2026-02", instance=instance, run_config=QUIET)
    assert second.success
    assert dbt_runner.parse_count == parses  # the second month reused the first month's parse

    for result in (first, second):
        materialized = {e.asset_key for e in result.all_events if e.event_type_value == "ASSET_MATERIALIZATION"}
        assert set(dbt_def.keys) <= materialized
        checked = {e.event_specific_data.asset_check_key for e in result.all_events
                   if e.event_type_value == "ASSET_CHECK_EVALUATION"}
        assert set(dbt_def.check_keys) <= checked
        mats = [e for e in result.all_events if e.event_type_value == "ASSET_MATERIALIZATION"
                and e.asset_key in dbt_def.keys]
        assert all("Execution Duration" in e.materialization.metadata for e in mats)

    # February's publish copied the previous file and added February: January is untouched, row for row.
    mat = next(e for e in second.all_events if e.event_type_value == "ASSET_MATERIALIZATION"
               and e.asset_key == dg.AssetKey(["publish", "warehouse"]))
    assert mat.materialization.metadata["publish_mode"].value.startswith("incremental")
    for table, rows in january.items():
        assert _rows(settings.warehouse, table, "2026-01") == rows, table


@pytest.mark.slow
def test_a_failing_model_fails_the_step_naming_the_model(two_months, monkeypatch):
    import io

    from dagster_project.cli.run import run_months
    from dagster_project.defs.assets import dbt as dbt_defs
    from dagster_project.domain.settings import get_settings

    tmp, raw = two_months
    real = dbt_defs.dbt_vars_for_month
    monkeypatch.setattr(dbt_defs, "dbt_vars_for_month", lambda m, p, *a: {**real(m, p, *a), "month": "2026-13-01"})
    settings = get_settings(str(raw), str(tmp / "bad" / "warehouse.duckdb"), str(tmp / "bad" / "exports"))
    outcomes = run_months(settings, ["2026-01"], out=io.StringIO())
    assert not outcomes[0].success
    assert outcomes[0].error.startswith("dbt_models: ")
    assert "dbt build of 2026-01 failed" in outcomes[0].error and "model " in outcomes[0].error
    assert "Conversion Error" in outcomes[0].error  # dbt's own message for the model
    assert not settings.warehouse.exists()  # nothing published
    kept = Path(outcomes[0].error.split("compiled SQL: ")[1].split()[0])  # kept for inspection: named, exists
    assert kept.is_dir()
    shutil.rmtree(kept)


def test_publishes_incrementally_names_the_published_file_itself_not_a_copy(dbs, tmp_path):
    build, wh = dbs
    assert not pub.publishes_incrementally(build, wh)  # nothing published yet
    _build_month(build, "2026-01")
    pub.publish(build, wh, "2026-01", MONTH_TABLES)
    assert pub.publishes_incrementally(build, wh)
    linked = tmp_path / "linked.duckdb"
    os.link(wh, linked)  # the same file (what the benchmark's restored history uses)
    assert pub.publishes_incrementally(build, linked)
    copied = tmp_path / "copied.duckdb"
    shutil.copy2(wh, copied)  # same bytes, another file
    assert not pub.publishes_incrementally(build, copied)


def _build(settings, month: str):
    """`fairuse run` of one month (its outcome)."""
    import io

    from dagster_project.cli.run import run_months

    return run_months(settings, [month], out=io.StringIO())[0]


def _january_built(two_months, folder: str):
    """Settings of a warehouse under `folder` with January built and published."""
    from dagster_project.domain.settings import get_settings

    tmp, raw = two_months
    settings = get_settings(str(raw), str(tmp / folder / "warehouse.duckdb"), str(tmp / folder / "exports"))
    assert _build(settings, "2026-01").success
    return settings


def _execute(db: Path, *statements: str) -> None:
    con = duckdb.connect(str(db))
    try:
        for sql in statements:
            con.execute(sql)
    finally:
        con.close()


@pytest.mark.slow
def test_a_month_table_whose_columns_changed_fails_the_next_month_naming_them(two_months):
    """dbt-duckdb's incremental with on_schema_change='fail' (dbt_project.yml): a month table built with other
    columns than the model now writes (a type changed, a column gone) stops the next month, naming the table, and
    nothing is published. (dbt's own error does not name the columns; its debug log does.)"""
    settings = _january_built(two_months, "drift")
    published = _rows(settings.warehouse, "marts.fct_user_monthly_usage")
    _execute(settings.build_db,  # as a warehouse built by an older version would have it
             "alter table marts.fct_user_monthly_usage alter column calls_inbound type hugeint",
             "alter table marts.fct_user_monthly_usage add column retired_metric integer")
    outcome = _build(settings, "2026-02")
    assert not outcome.success
    assert "fct_user_monthly_usage" in outcome.error and "out of sync" in outcome.error
    assert _rows(settings.warehouse, "marts.fct_user_monthly_usage") == published  # nothing published
    shutil.rmtree(outcome.error.split("compiled SQL: ")[1].split()[0], ignore_errors=True)


@pytest.mark.slow
def test_a_model_whose_relation_changed_kind_is_rebuilt(two_months):
    """A table where a view model now is, and a view where a table model is (an earlier version's
    materialization): dbt-duckdb's materializations replace it with the model's kind."""
    settings = _january_built(two_months, "kinds")
    _execute(settings.build_db,
             "drop view staging.stg_usage__calls",
             "create table staging.stg_usage__calls as select 1 as stale",
             "drop table intermediate.int_users__as_of_month",
             "create view intermediate.int_users__as_of_month as select 1 as stale")
    assert _build(settings, "2026-02").success
    con = duckdb.connect(str(settings.build_db), read_only=True)
    try:
        kinds = dict(con.execute(
            "select table_schema || '.' || table_name, table_type from information_schema.tables "
            "where table_name in ('stg_usage__calls', 'int_users__as_of_month')").fetchall())
    finally:
        con.close()
    assert kinds == {"staging.stg_usage__calls": "VIEW", "intermediate.int_users__as_of_month": "BASE TABLE"}


@pytest.mark.slow
def test_a_rerun_month_keeps_none_of_the_rows_it_no_longer_has(two_months):
    """Month-grain tables are dbt-duckdb's incremental with the append strategy after the pre-hook deleted the
    month (dbt_project.yml): rows of the month that the re-run no longer produces are gone (delete+insert on a
    key would keep them when the month now brings none). Other months: test_next_month_is_incremental_..."""
    settings = _january_built(two_months, "rerun")
    tables = ("marts.fct_user_monthly_usage", "audit.quarantined_rows", "intermediate.int_usage__exceptions")
    before = {t: _rows(settings.build_db, t) for t in tables}
    _execute(settings.build_db, *(f"insert into {t} (month) values ('2026-01-01')" for t in tables))
    assert _build(settings, "2026-01").success
    assert {t: _rows(settings.build_db, t) for t in tables} == before
