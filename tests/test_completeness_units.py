"""The completeness gate's verdict and the whole-month rule, on hand-made figures (fast tier). The end-to-end cases
on generated data are in tests/test_whole_months.py."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from dagster_project.domain import month_state
from dagster_project.domain.completeness import DatasetFigures, GateSettings, judge
from dagster_project.domain.publish import NotPublishable, check_publishable, mark_unpublished

PRESENT = {"calls": 3, "messages": 2, "chats": 2}
SNAPSHOTS = {"accounts": ["2026-03-15"], "users": ["2026-03-15"]}


def _month(calls=10_000, messages=2_000, chats=5_000, latest="2026-03-31 20:00", accounts=None):
    t = dt.datetime.fromisoformat(latest)
    return {"calls": DatasetFigures(calls, t, accounts or {}), "messages": DatasetFigures(messages, t),
            "chats": DatasetFigures(chats, t)}


def _history(**march):
    return {"2025-12": _month(latest="2025-12-31 20:00"), "2026-01": _month(calls=12_000, latest="2026-01-31 20:00"),
            "2026-02": _month(calls=8_000, latest="2026-02-28 20:00"), "2026-03": _month(**march)}


def _judge(figures, present=PRESENT, snapshots=SNAPSHOTS, gs=None):
    return judge("2026-03", present, snapshots, figures, [m for m in figures if m < "2026-03"], gs or GateSettings())


def test_a_normal_month_passes():
    # Median of the last three months' calls: 10,000 (8,000 / 10,000 / 12,000); 5,001 is above half of it.
    v = _judge(_history(calls=5_001))
    assert not v.held and v.history == ["2025-12", "2026-01", "2026-02"]


def test_a_thinned_dataset_is_held_naming_it():
    v = _judge(_history(calls=4_000))  # 40 % of the median (10,000): below half
    assert v.held and len(v.reasons) == 1
    assert v.reasons[0].startswith("calls: 4,000 rows counted, below 0.5 x the median of 2025-12..2026-02 (10,000)")


def test_only_the_last_three_built_months_count():
    figures = _history(calls=6_000)
    figures["2025-11"] = _month(calls=100_000, latest="2025-11-30 20:00")  # four months back: not in the median
    assert not _judge(figures).held


def test_a_missing_dataset_is_held():
    v = _judge(_history(chats=0), present={**PRESENT, "chats": 0})
    assert v.reasons == ["chats: no files for 2026-03 (raw folder chats/month=2026-03)"]


def test_a_truncated_dataset_is_held_by_its_watermark():
    figures = _history()
    figures["2026-03"]["calls"].latest = dt.datetime(2026, 3, 12, 18, 0)  # calls stop on the 12th
    v = _judge(figures)
    # 1 April 00:00 - 12 March 18:00 = 19.25 days
    assert v.reasons == ["calls: data stops at 2026-03-12 18:00 UTC, 19.2 days before the month's end (allowed 3)"]


def test_a_quiet_last_weekend_passes():
    figures = _history()
    figures["2026-03"]["calls"].latest = dt.datetime(2026, 3, 29, 1, 0)  # 2 days 23 hours before the end
    assert not _judge(figures).held


def test_a_big_accounts_missing_export_does_not_hide_in_the_total():
    big = {"acc-big": (3_000, 40), "acc-small": (7_000, 200)}
    figures = {m: _month(latest=f"{m}-28 20:00", accounts=big) for m in ("2025-12", "2026-01", "2026-02")}
    figures["2026-03"] = _month(calls=7_000, accounts={"acc-small": (7_000, 200)})  # 70 % of the total: passes
    v = _judge(figures)
    assert v.reasons == ["calls: account acc-big has 0 rows from 0 users, below 0.5 x its median of "
                         "2025-12..2026-02 (3,000 rows from 40 users)"]


def test_one_heavy_users_quiet_month_is_not_a_missing_export():
    # The account's rows fall to a tenth (a heavy user back to normal), its active users do not: not held.
    figures = {m: _month(latest=f"{m}-28 20:00", accounts={"acc-1": (9_000, 30)})
               for m in ("2025-12", "2026-01", "2026-02")}
    figures["2026-03"] = _month(accounts={"acc-1": (900, 29)})
    assert not _judge(figures).held


def test_the_first_month_is_judged_on_presence_watermark_and_snapshot_only():
    first = {"2026-03": _month(calls=150)}
    assert not _judge(first).held
    first["2026-03"]["calls"].latest = dt.datetime(2026, 3, 10)
    assert _judge(first).reasons[0].startswith("calls: data stops at 2026-03-10 00:00 UTC")


def test_a_small_dataset_is_judged_on_presence_only():
    figures = _history(messages=20)
    for m in ("2025-12", "2026-01", "2026-02"):
        figures[m]["messages"].rows = 90  # below 100 rows: a halved month is ordinary
    figures["2026-03"]["messages"].latest = dt.datetime(2026, 3, 5)  # and so is a quiet month-end
    assert not _judge(figures).held


def test_a_month_without_its_snapshot_is_held():
    v = _judge(_history(), snapshots={"accounts": ["2026-02-15"], "users": ["2026-03-31"]})
    assert v.reasons == ["accounts: no snapshot dated in or after 2026-03 (latest 2026-02-15)"]


def test_the_settings_move_the_thresholds():
    assert _judge(_history(calls=4_000), gs=GateSettings(min_share=0.3)).reasons == []


# ---------------------------------------------------------------------------------------------------------------
# The whole-month rule (domain/publish.check_publishable)


@pytest.fixture
def paths(tmp_path):
    return tmp_path / "build" / "warehouse.build.duckdb", tmp_path / "warehouse.duckdb"


def test_a_month_killed_in_its_build_blocks_every_other_publish(paths):
    build, wh = paths
    mark_unpublished(build, "2026-02")
    month_state.record(wh, "2026-02", "building", step="dbt_models")  # killed: never left `building`
    mark_unpublished(build, "2026-03")
    month_state.record(wh, "2026-03", "built", gate="passed")
    with pytest.raises(NotPublishable) as e:
        check_publishable(build, wh, "2026-03", month_state.read_months(wh))
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith("month 2026-02 must be rebuilt first (its run was killed")
    assert "`fairuse run --month 2026-02`" in msg and "warehouse and exports are unchanged" in msg
    # Rebuilt whole: both go out together.
    month_state.record(wh, "2026-02", "built", gate="passed")
    assert check_publishable(build, wh, "2026-02", month_state.read_months(wh)) == ["2026-02", "2026-03"]


def test_a_held_month_is_not_published_nor_carried_by_another(paths):
    build, wh = paths
    mark_unpublished(build, "2026-02")
    month_state.record(wh, "2026-02", "held", gate="held", reason="calls: no files for 2026-02")
    with pytest.raises(NotPublishable, match=r"^month 2026-02 is not published: held by the completeness gate: "
                                             r"calls: no files for 2026-02; accept it as it is with "
                                             r"`fairuse run --month 2026-02 --accept-incomplete`"):
        check_publishable(build, wh, "2026-02", month_state.read_months(wh))
    mark_unpublished(build, "2026-03")
    month_state.record(wh, "2026-03", "built", gate="passed")
    with pytest.raises(NotPublishable, match=r"or accept it with `fairuse run --month 2026-02 --accept-incomplete`"):
        check_publishable(build, wh, "2026-03", month_state.read_months(wh))


def test_the_gate_must_have_run(paths):
    build, wh = paths
    mark_unpublished(build, "2026-03")
    month_state.record(wh, "2026-03", "built")
    with pytest.raises(NotPublishable, match="completeness gate did not run"):
        check_publishable(build, wh, "2026-03", month_state.read_months(wh))


def test_a_failed_month_names_its_step(paths):
    build, wh = paths
    mark_unpublished(build, "2026-01")
    month_state.record(wh, "2026-01", "failed", step="dbt_models", error="dbt build of 2026-01: boom")
    mark_unpublished(build, "2026-02")
    month_state.record(wh, "2026-02", "built", gate="accepted", reason="x")
    with pytest.raises(NotPublishable, match=r"month 2026-01 must be rebuilt first \(its run failed in dbt_models\)"):
        check_publishable(build, wh, "2026-02", month_state.read_months(wh))
    assert json.loads(month_state.state_path(wh).read_text())["months"]["2026-02"]["gate"] == "accepted"


def test_the_late_data_sensor_reruns_a_held_month_when_its_files_change(tmp_path):
    from dagster_project.defs.sensors import changed_held_months
    from dagster_project.domain.raw_files import month_fingerprint

    raw, wh = tmp_path / "raw", tmp_path / "warehouse.duckdb"
    folder = raw / "calls" / "month=2026-03"
    folder.mkdir(parents=True)
    (folder / "part-000.parquet").write_bytes(b"first half")
    month_state.record(wh, "2026-03", "held", gate="held", reason="calls: ...",
                       fingerprint=month_fingerprint(raw, "2026-03"))
    assert changed_held_months(raw, wh) == {}
    (folder / "part-001.parquet").write_bytes(b"the rest of the delivery")
    assert changed_held_months(raw, wh) == {"2026-03": month_fingerprint(raw, "2026-03")}


def test_a_published_month_whose_rebuild_failed_stays_published_and_is_carried_only_once_whole(paths):
    build, wh = paths
    published = month_state.record(wh, "2026-02", "published", gate="passed", policy_version="v1")
    mark_unpublished(build, "2026-02")  # rebuilt in the build database, then failed there
    month_state.keep_published(wh, "2026-02", published, {"state": "failed", "step": "dbt_models", "error": "boom"})
    feb = month_state.read_months(wh)["2026-02"]
    assert (feb["state"], feb["policy_version"], feb["published_at"]) == ("published", "v1", published["published_at"])
    assert feb["rebuild"] == {"state": "failed", "step": "dbt_models", "error": "boom"}
    mark_unpublished(build, "2026-03")
    month_state.record(wh, "2026-03", "built", gate="passed")
    with pytest.raises(NotPublishable, match=r"^month 2026-02 must be rebuilt first \(published, but its rebuild is "
                                             r"not whole: its run failed in dbt_models\)"):
        check_publishable(build, wh, "2026-03", month_state.read_months(wh))
    # Its rebuild whole (a later month's failure stopped the run before the publish that would carry it): carried.
    month_state.keep_published(wh, "2026-02", published, {"state": "built", "gate": "passed"})
    assert check_publishable(build, wh, "2026-03", month_state.read_months(wh)) == ["2026-02", "2026-03"]
    # The next state recorded for the month replaces the rebuild's record.
    assert "rebuild" not in month_state.record(wh, "2026-02", "building")
    with pytest.raises(ValueError, match="not published"):
        month_state.keep_published(wh, "2026-03", month_state.read_months(wh)["2026-03"], {"state": "failed"})
