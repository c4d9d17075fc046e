"""The benchmark's bare baseline (dagster_project/tools/bench/baseline.py): the dbt models' own SQL, compiled once
and run as one plain DuckDB script, must produce every table the pipeline publishes, row for row; and the
agreement check must notice when it does not."""

from __future__ import annotations

import shutil

import duckdb
import pytest

from dagster_project.tools.bench import baseline
from tests.conftest import run_pipeline

MONTH = "2026-01"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A tiny generated month through the pipeline, and the bare script run on the same Parquet."""
    from dagster_project.domain.settings import hash_key
    from dagster_project.tools.generate import generate

    tmp = tmp_path_factory.mktemp("bench_baseline")
    raw = tmp / "raw"
    generate(out=raw, users=150, months=[MONTH], seed=11, calls_per_user=15)
    settings, outcomes = run_pipeline(tmp / "work", raw)
    assert outcomes and all(o.success for o in outcomes), outcomes
    key = hash_key(settings)
    text = baseline.compile_script(MONTH, hash_key=key, workdir=tmp / "compile")
    script = tmp / "bare" / "script.sql"
    script.parent.mkdir(parents=True)
    script.write_text(text)
    db = tmp / "bare" / "run" / f"{baseline.CATALOG}.duckdb"
    result = baseline.bare_run(raw, MONTH, script, db, hash_key=key)
    return {"settings": settings, "key": key, "raw": raw, "text": text, "db": db, "result": result}


@pytest.mark.slow
def test_the_script_is_every_model_in_dependency_order(built):
    stmts = baseline.statements(built["text"])
    labels = [label.split()[0] for label, _ in stmts]
    models = [label for label in labels if label.startswith("model.")]
    assert "model.fairuse.fct_user_monthly_usage" in models and "model.fairuse.audit_load_balance" in models
    assert len(models) == len(set(models))
    # staging before what reads it, flags before enforcement
    assert models.index("model.fairuse.stg_usage__calls") < models.index("model.fairuse.int_calls__billed")
    assert models.index("model.fairuse.fct_fair_use_flags") < models.index("model.fairuse.fct_account_enforcement")
    # plain SQL only: no hook, no increment, the key never in the text
    for label, sql in stmts:
        assert sql.startswith(("create schema", "create or replace view", "create or replace table")), label
    assert "delete from" not in built["text"]
    assert built["key"] not in built["text"]
    timings = dict(built["result"]["statements"])
    assert set(timings) == {label for label, _ in stmts}
    assert built["result"]["seconds"] > built["result"]["raw_step"] > 0


@pytest.mark.slow
def test_bare_script_agrees_with_the_published_warehouse_row_for_row(built):
    ok, details = baseline.agree(built["settings"].warehouse, built["db"], MONTH)
    assert ok, baseline.format_agreement(details)
    tables = {d.table: d for d in details}
    for name in ("marts.fct_user_monthly_usage", "marts.fct_cohort_monthly_averages", "marts.fct_user_excess_ratios",
                 "marts.fct_fair_use_flags", "marts.fct_account_enforcement", "marts.fct_published_thresholds",
                 "marts.fct_contact_center_surcharge", "marts.fct_prohibited_use_flags", "audit.load_balance",
                 "audit.quarantined_rows", "audit.loaded_files"):
        assert name in tables, sorted(tables)
    assert tables["marts.fct_user_monthly_usage"].rows_pipeline == 150
    assert all(d.rows_pipeline == d.rows_bare for d in details)


@pytest.mark.slow
def test_an_altered_bare_table_is_reported(built, tmp_path):
    db = tmp_path / "altered.duckdb"
    shutil.copyfile(built["db"], db)
    con = duckdb.connect(str(db))
    try:
        # a last-digit float difference is still agreement (1e-9 relative) ...
        con.execute("update marts.fct_user_excess_ratios set ratio_to_cohort = ratio_to_cohort * (1 + 1e-13)")
        # ... a changed count is not, nor is a missing row
        con.execute("update marts.fct_user_monthly_usage set calls_outbound = calls_outbound + 1 "
                    "where user_id = (select max(user_id) from marts.fct_user_monthly_usage)")
        con.execute("delete from audit.quarantined_rows where rowid = (select min(rowid) from audit.quarantined_rows)")
        con.execute("drop table marts.fct_contact_center_discussions")
    finally:
        con.close()
    ok, details = baseline.agree(built["settings"].warehouse, db, MONTH)
    assert not ok
    bad = {d.table: d for d in details if not d.equal}
    assert set(bad) == {"marts.fct_user_monthly_usage", "audit.quarantined_rows",
                        "marts.fct_contact_center_discussions"}, baseline.format_agreement(details)
    usage = bad["marts.fct_user_monthly_usage"]
    assert usage.mismatches >= 1 and "calls_outbound" in usage.problem and usage.rows_pipeline == usage.rows_bare
    assert bad["audit.quarantined_rows"].rows_bare == bad["audit.quarantined_rows"].rows_pipeline - 1
    assert "missing from the bare database" in bad["marts.fct_contact_center_discussions"].problem
    assert "DIFFERS" in baseline.format_agreement(details)


def test_no_ratio_when_the_sides_disagree():
    """BENCHMARKS.md states a verdict for every target and refuses a ratio for a size whose sides disagree."""
    from dagster_project.tools.bench.__main__ import render, targets

    def size(events, pipe, bare, ok):
        return {"events": events, "month": "2026-10",
                "pipeline": {"seconds": pipe, "rss_gib": 1.0, "runs": [pipe],
                             "stages": {"raw": 0.1, "dbt": 1.0, "publish": 0.2, "exports": 0.5, "orchestration": 2}},
                "bare": {"seconds": bare, "rss_gib": 0.5, "runs": [bare], "raw_step": 0.1, "sql": 0.5,
                         "statements": [["model.fairuse.fct_x table", 0.3]]},
                "agreement": {"ok": ok, "tables": [{"table": "marts.fct_x", "rows_pipeline": 3, "rows_bare": 3,
                                                    "equal": ok, "mismatches": 0 if ok else 1,
                                                    "problem": None if ok else "first difference ..."}]},
                "ratio": pipe / bare if ok else None, "handwritten": None, "pandas": None,
                "generated": {"rows": 10, "seconds": 1.0, "rss_gib": 0.1}}

    results = {"D": size(500_000, 4.0, 1.0, True), "M": size(25_000_000, 30.0, 15.0, False)}
    results["D"]["pipeline"]["month_seconds"] = 3.1
    verdicts = {t: v for t, _, v in targets(results, None, None)}
    assert verdicts["D: demo month (~0.5 M events) ≤ 5 s end to end"] == "met"
    assert verdicts["D: demo month ≤ 5 s, the month alone in a running process"] == "met"
    assert verdicts["K: 2.5 M-event month ≤ 8 s, the month alone in a running process"] == "not measured"
    assert verdicts["M: pipeline / bare DuckDB ≤ 1.5"] == "not reported"
    assert verdicts["K: 2.5 M-event month ≤ 8 s end to end"] == "not measured"
    text = render(results, None, None)
    assert "not reported: marts.fct_x differ(s)" in text and "**disagree**" in text


def test_fresh_dir_sets_the_previous_run_aside_and_empty_trash_deletes_it(tmp_path, monkeypatch):
    from dagster_project.tools.bench import measure

    monkeypatch.setattr(measure, "TRASH", tmp_path / "trash")
    work = tmp_path / "M" / "work"
    assert measure.fresh_dir(work) == work and list(work.iterdir()) == []
    (work / "notice.md").write_text("previous run")
    measure.fresh_dir(work)
    assert list(work.iterdir()) == []  # empty for the next run
    aside = list((tmp_path / "trash").iterdir())
    assert len(aside) == 1 and (aside[0] / "notice.md").read_text() == "previous run"  # moved, not deleted
    measure.empty_trash()
    assert not (tmp_path / "trash").exists()
