"""The monthly report and the customer notices.

Fast tier: formatting, change-vs-previous, notice wording on hand-made rows, the restatement diff, charts; the
report page and a notice of each prohibited-use pattern of the policy (a label and the notices' wording for each,
message blasting rendered end to end).
Slow tier (`slow`): on a generated and built warehouse, the Dagster asset writes the report, headless Chromium
opens it (screenshot in tests/artifacts/report.png) and the totals on the page equal the marts; an unchanged
re-run rewrites nothing; a late file restates February and the changed notices are listed.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from types import SimpleNamespace

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dagster_project.domain.policy import PATTERNS
from dagster_project.domain.report import charts
from dagster_project.domain.report.data import ExportState, Glance, MonthData
from dagster_project.domain.report.fmt import (
    PATTERN_LABELS,
    Change,
    add_months,
    fmt_amount,
    fmt_money,
    fmt_num,
    month_label,
)
from dagster_project.domain.report.notices import build_notices, notice_changes
from dagster_project.domain.report.report import glance_sections, render_report
from tests.conftest import REPO

os.environ.pop("FAIRUSE_REPORTS_DIR", None)  # reports go beside each test's warehouse

MONTHS = ["2026-01", "2026-02"]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = REPO / "tests" / "artifacts"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars"]
PHONE = re.compile(r"\+\d{6,}")  # E.164 in clear
SVG_NS = "http://www.w3.org/2000/svg"
POLICY = SimpleNamespace(  # the parts of a Policy the notices use
    version="test-1", contact_center_minutes_per_user=3000,
    metrics={"calls": {"offering": "calling", "excess_unit_rate": 0.05},
             "call_minutes": {"offering": "calling", "excess_unit_rate": 0.02},
             "team_chats": {"offering": "chat"},
             "messages": {"offering": "messaging", "excess_unit_rate": {"default": 0.03, "GBP": 0.02}}})


# ---------------------------------------------------------------------------------------------- fast tier

def test_month_arithmetic_and_formats():
    assert add_months("2026-01", -1) == "2025-12"
    assert add_months("2025-12", 1) == "2026-01"
    assert add_months("2026-10", -11) == "2025-11"
    assert month_label("2026-02") == "February 2026"
    assert fmt_money(decimal.Decimal("1234.5"), "NZD") == "NZD 1,234.50"
    assert fmt_num(2980.0) == "2,980"
    assert fmt_num(2980.3333333) == "2,980.33"
    assert fmt_amount(decimal.Decimal("56.98000"), "NZD") == "NZD 56.98"
    assert fmt_amount(decimal.Decimal("5.316666666"), "AUD") == "AUD 5.3167"


def test_change_against_previous_month():
    assert Change(12, 10).text() == "+2 (+20.0%)"
    assert Change(5, 10).text() == "−5 (−50.0%)"
    assert Change(3, 3).text() == "no change"
    assert Change(4, 0).text() == "+4 (new)"
    assert Change(4, None).text() == "–"  # previous month not built
    money = Change(decimal.Decimal("7.66"), decimal.Decimal("10.00"), money=True, currency="AUD")
    assert money.text() == "−AUD 2.34 (−23.4%)" and money.direction() == "down"


def test_glance_rows_carry_values_and_changes():
    g = Glance(counts={k: (10, 8) for k in (
        "events_counted", "events_counted.calls", "events_counted.messages", "events_counted.chats", "rows_read",
        "rows_quarantined", "duplicates_dropped", "conflicting_duplicates", "users", "flagged_users",
        "flagged_user_metrics", "flagged_accounts", "contact_centers", "contact_centers_to_discuss",
        "prohibited_use_flags", "prohibited_use_accounts")},
        quarantined_by_reason={"wrong_month": (1, 0)}, actions={"limit_access": (2, 1)},
        excess_charges={"NZD": (decimal.Decimal("3.00"), decimal.Decimal("0.00"))})
    rows = {r["key"]: r for s in glance_sections(g, previous_built=True) for r in s["rows"]}
    assert rows["users"]["value"] == "10" and rows["users"]["change"] == "+2 (+25.0%)"
    assert rows["quarantined.wrong_month"]["change"] == "+1 (new)"
    assert rows["action.ask_to_moderate"]["value"] == "0"
    assert rows["excess_charges.NZD"]["value"] == "3.00"
    assert rows["surcharges_applied"]["this"] == "none"
    g.counts = {k: (v[0], None) for k, v in g.counts.items()}  # as load_month gives for a first month
    g.excess_charges = {"NZD": (decimal.Decimal("3.00"), None)}
    first = {r["key"]: r for s in glance_sections(g, previous_built=False) for r in s["rows"]}
    assert first["users"]["previous"] == "–" and first["users"]["change"] == "–"
    assert first["excess_charges.NZD"]["change"] == "–" and first["surcharges_applied"]["previous"] == "–"


def _flag(user, metric, value, excess, *, account="acc-1", months=2, ratio_c=3.0, ratio_e=2.5, ref=100.0,
          est=120.0, threshold=200.0, currency="NZD"):
    return {"account_id": account, "user_id": user, "metric": metric, "value": value, "reference_mean": ref,
            "estimated_value": est, "ratio_to_cohort": ratio_c, "ratio_to_estimate": ratio_e,
            "threshold_multiple": 2.0, "severity": "material", "consecutive_months": months, "excess_value": excess,
            "offering": "calling", "currency": currency, "policy_version": "test-1", "country": "NZ",
            "plan": "pro", "cohort_level": "country_plan", "cohort_users": 40, "threshold_value": threshold}


def _month(**kw) -> MonthData:
    base = dict(month="2026-02", built=True, previous_built=True, data_complete_to=dt.datetime(2026, 2, 28, 23, 59),
                policy_versions=["test-1"], glance=Glance(), distributions=[], flagged_values=[], trend_months=[],
                trend=[], contact_centers=[], prohibited_by_pattern={}, ladder=[], discussions=[], prohibited=[],
                load_balance=[], quarantine=[], conflicts=[], late_files=[], flags=[])
    return MonthData(**{**base, **kw})


def test_notices_wording_numbers_and_computation():
    # acc-1 is at step 2: 300 calls, charged above 2 x max(100, 120) = 240 -> 60 x 0.05 = 3.00, plus
    # 530 minutes above 2 x 120 = 240 -> 290.5 x 0.02 = 5.81; total 8.81.
    data = _month(
        ladder=[{"account_id": "acc-1", "action": "require_excess_payment", "consecutive_months": 2,
                 "flagged_users": 1, "excess_charge_amount": decimal.Decimal("8.81"), "currency": "NZD"},
                {"account_id": "acc-2", "action": "ask_to_moderate", "consecutive_months": 1, "flagged_users": 1,
                 "excess_charge_amount": decimal.Decimal("0.00"), "currency": "NZD"}],
        flags=[_flag("u-1", "calls", 300.0, 60.0),
               _flag("u-1", "call_minutes", 530.5, 290.5, ratio_c=1.5, threshold=240.0),
               _flag("u-1", "team_chats", 9000.0, 3000.0),  # no excess rate: adds nothing
               _flag("u-2", "calls", 500.0, 260.0, account="acc-2", months=1)],
        discussions=[{"account_id": "acc-3", "declared": False, "detected": True, "users": 2,
                      "minutes_per_user": 4100.0, "surcharge_minutes": 8200.0, "inbound_share": 0.75,
                      "outbound_share": 0.25, "consecutive_months": 1, "rate_per_minute": decimal.Decimal("0.0100"),
                      "amount_if_applied": decimal.Decimal("82.00"), "currency": "NZD"}],
        prohibited=[{"account_id": "acc-3", "user_id": "u-9", "pattern": "voicemail_blasting",
                     "evidence": "Dropped up to 237 voicemails within 10 minutes."}])
    notices = {n.account_id: n for n in build_notices(data, POLICY)}
    assert list(notices) == ["acc-1", "acc-2", "acc-3"]
    one = notices["acc-1"].markdown
    assert "Payment for excessive usage: NZD 8.81" in one
    assert "| u-1 | Calls (all directions) | 300 calls | 200 calls (NZ, pro plan) | 3.0× | 2 |" in one
    assert "| 240 (your plan's estimated use: 120) | 60 calls | NZD 0.05 | NZD 3.00 |" in one
    assert "| 240 (your plan's estimated use: 120) | 290.5 minutes | NZD 0.02 | NZD 5.81 |" in one
    assert "| 3,000 chats | no charge | NZD 0.00 |" in one
    assert "rounded to the cent: **NZD 8.81**" in one and "different amount" not in one
    two = notices["acc-2"].markdown
    assert "We ask you to moderate your usage" in two and "Nothing is charged" in two
    assert "How the amount was computed" not in two
    three = notices["acc-3"].markdown
    assert "Contact-center surcharge: let's discuss" in three and "NZD 82.00" in three
    assert "from 3,000 we treat an account as a contact center" in three
    assert "Voicemail blasting" in three and "strictly prohibits" in three
    assert notices["acc-3"].index_row["reasons"] == "contact_center_surcharge;prohibited_use"
    for n in notices.values():
        assert n.html.startswith("<!DOCTYPE html>") and "<table>" in n.html
        assert not PHONE.search(n.markdown) and not PHONE.search(n.html)


def _glance(**counts) -> Glance:
    """A month at a glance with every count the report shows (0 unless given)."""
    keys = ("events_counted", "events_counted.calls", "events_counted.messages", "events_counted.chats",
            "rows_read", "rows_quarantined", "duplicates_dropped", "conflicting_duplicates", "users", "flagged_users",
            "flagged_user_metrics", "flagged_accounts", "contact_centers", "contact_centers_to_discuss",
            "prohibited_use_flags", "prohibited_use_accounts")
    return Glance(counts={k: counts.get(k, (0, 0)) for k in keys})


MESSAGE_BLASTING_EVIDENCE = (
    "Sent 2,412 messages (2,412 SMS or MMS, 0 WhatsApp) to 1,187 numbers, 1,160 of them (97.7%) numbers the "
    "account had not messaged or heard from earlier this month, of which 2.1% wrote back; up to 38 sent within "
    "60 s; the cohort's median user (NZ pro) messaged 6 new numbers.")


def _rows_of(html: str, table_id: str) -> list[list[str]]:
    """The cells' text of each body row of the report's table `table_id`."""
    body = re.search(rf'<table id="{table_id}">.*?<tbody>(.*?)</tbody>', html, re.DOTALL).group(1)
    return [[re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.DOTALL)]
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.DOTALL)]


def test_report_and_notice_of_a_message_blasting_flag():
    data = _month(prohibited=[{"account_id": "acc-7", "user_id": "u-70", "pattern": "message_blasting",
                               "evidence": MESSAGE_BLASTING_EVIDENCE}],
                  prohibited_by_pattern={p: int(p == "message_blasting") for p in PATTERNS},
                  glance=_glance(prohibited_use_flags=(1, 0), prohibited_use_accounts=(1, 0)))
    [notice] = build_notices(data, POLICY)
    assert notice.account_id == "acc-7" and notice.reasons == ["prohibited_use"]
    assert notice.index_row["prohibited_use_patterns"] == "message_blasting"
    md = notice.markdown
    assert "## Prohibited use found" in md and "bulk text and WhatsApp messages" in " ".join(md.split())
    assert f"| u-70 | Message blasting (bulk SMS, MMS or WhatsApp) | {MESSAGE_BLASTING_EVIDENCE} |" in md
    assert "Nothing is charged" not in md and "How the amount was computed" not in md  # not the ladder's
    assert "Message blasting (bulk SMS, MMS or WhatsApp)" in notice.html and "1,187 numbers" in notice.html

    html = render_report(data, ExportState(None, None, []), [notice], 1, [])
    assert _rows_of(html, "prohibited-table") == [
        ["acc-7", "u-70", "Message blasting (bulk SMS, MMS or WhatsApp)",
         MESSAGE_BLASTING_EVIDENCE.replace("'", "&#39;")]]
    chart = _parse(re.search(r'<svg[^>]*data-chart="prohibited-by-pattern".*?</svg>', html, re.DOTALL).group(0))
    bar = _by_id(chart, "prohibited-by-pattern-bar-message_blasting")[0]
    assert bar.find(f"{{{SVG_NS}}}title").text == "Message blasting (bulk SMS, MMS or WhatsApp): 1"
    assert "No prohibited use found this month." not in html


# The notices' paragraph on prohibited use: the words naming each pattern of the policy.
PROHIBITED_USE_WORDING = {
    "auto_dialing": 'auto-dialing or "predictive" dialing', "outbound_telemarketing": "high-volume outbound "
    "telemarketing", "forwarding_to_multi_line": "forwarding your number to a system that handles several calls",
    "voicemail_blasting": "bulk voicemail", "bulk_call_in_line": "bulk call-in lines",
    "message_blasting": "bulk text and WhatsApp messages"}


def test_every_pattern_of_the_policy_has_its_label_and_wording_in_the_report_and_the_notices():
    assert set(PATTERN_LABELS) == set(PATTERNS), "a pattern without a label shows its key to customers"
    assert set(PROHIBITED_USE_WORDING) == set(PATTERNS), "name the new pattern in notice.md.j2's paragraph"
    data = _month(prohibited=[{"account_id": f"acc-{i}", "user_id": f"u-{i}", "pattern": p,
                               "evidence": f"Evidence {i}."} for i, p in enumerate(PATTERNS)],
                  prohibited_by_pattern={p: 1 for p in PATTERNS}, glance=_glance())
    notices = build_notices(data, POLICY)
    assert [n.account_id for n in notices] == [f"acc-{i}" for i in range(len(PATTERNS))]
    html = render_report(data, ExportState(None, None, []), notices, 1, [])
    rows = _rows_of(html, "prohibited-table")
    for i, (pattern, notice) in enumerate(zip(PATTERNS, notices, strict=True)):
        label = PATTERN_LABELS[pattern]
        assert label != pattern and pattern not in notice.markdown, pattern
        assert f"| u-{i} | {label} | Evidence {i}. |" in notice.markdown
        assert PROHIBITED_USE_WORDING[pattern] in " ".join(notice.markdown.split()), pattern
        assert rows[i] == [f"acc-{i}", f"u-{i}", label, f"Evidence {i}."]
        assert f'id="prohibited-by-pattern-bar-{pattern}"' in html


def test_notice_html_renders_tables_and_shows_markup_as_text():
    from dagster_project.domain.report.notices import _markdown_to_html

    html = _markdown_to_html("Hello **acc-1**\n\n| user | used |\n|---|--:|\n| u-<b>1</b> & co | 1,200 |\n")
    assert "<strong>acc-1</strong>" in html
    assert '<td style="text-align: right">1,200</td>' in html
    # a "<" in a value is shown, never interpreted or dropped
    assert "<td>u-&lt;b&gt;1&lt;/b&gt; &amp; co</td>" in html


def test_notice_without_the_policy_keeps_the_recorded_amount():
    data = _month(ladder=[{"account_id": "acc-1", "action": "limit_access", "consecutive_months": 3,
                           "flagged_users": 1, "excess_charge_amount": decimal.Decimal("3.00"), "currency": "NZD"}],
                  flags=[_flag("u-1", "calls", 300.0, 60.0, months=3)])
    md = build_notices(data, None)[0].markdown
    assert "Notice of limited access" in md and "access to calling" in md
    assert "were not available" in md and "NZD 3.00" in md


def test_notice_changes_lists_added_changed_withdrawn():
    before = [{"account_id": "a", "sha256": "1", "reasons": "limit_access", "excess_charge_amount": "1.00",
               "currency": "NZD"},
              {"account_id": "b", "sha256": "2", "reasons": "ask_to_moderate", "excess_charge_amount": "0.00",
               "currency": "NZD"},
              {"account_id": "c", "sha256": "3", "reasons": "prohibited_use", "excess_charge_amount": "",
               "currency": "NZD"}]
    after = [{**before[0], "sha256": "9", "excess_charge_amount": "2.00"}, before[1],
             {"account_id": "d", "sha256": "4", "reasons": "prohibited_use", "excess_charge_amount": "",
              "currency": "AUD"}]
    rows = notice_changes(before, after, revision=2)
    assert [(r["account_id"], r["change"]) for r in rows] == [("a", "changed"), ("c", "withdrawn"), ("d", "added")]
    assert rows[0]["excess_charge_before"] == "1.00" and rows[0]["excess_charge_after"] == "2.00"
    assert all(r["revision"] == 2 for r in rows)


def _parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)  # well-formed XML
    assert root.tag == f"{{{SVG_NS}}}svg"
    assert root.get("class") == "chart" and root.get("role") == "img" and root.get("aria-label")
    assert re.fullmatch(r"0 0 [\d.]+ [\d.]+", root.get("viewBox"))
    assert root.find(f"{{{SVG_NS}}}title").text == root.get("aria-label")
    return root


def _by_id(root: ET.Element, prefix: str) -> list[ET.Element]:
    """The elements whose id starts with `prefix` (the charts give their marks ids: `<chart>-box-0`, ...)."""
    return [e for e in root.iter() if (e.get("id") or "").startswith(prefix)]


def _drawn(group: ET.Element) -> list[ET.Element]:
    """The shapes a group draws: paths and marker uses, not the definitions they refer to."""
    defs = {id(d) for e in group.iter(f"{{{SVG_NS}}}defs") for d in e.iter()}
    return [e for e in group.iter() if e.tag in (f"{{{SVG_NS}}}path", f"{{{SVG_NS}}}use") and id(e) not in defs]


def _texts(root: ET.Element) -> list[ET.Element]:
    return [t for t in root.iter(f"{{{SVG_NS}}}text") if t.text]


def _x(e: ET.Element) -> float:
    """The x of a vertical line's first point, or of a text."""
    return float(e.get("x") if e.get("x") is not None else e.get("d").split()[1])


def test_charts_are_well_formed_svg_with_one_mark_per_datum():
    rows = [{"country": c, "plan": p, "users": 40, "p05": 1, "q1": 5, "median": 10, "q3": 20, "p95": 60,
             "max_value": 900, "threshold_value": 200 if p == "pro" else None, "offering_is_free": p == "pro"}
            for c, p in (("NZ", "pro"), ("NZ", "lite"), ("AU", "pro"))]
    flagged = [("NZ", "pro", 900.0), ("NZ", "pro", 250.0), ("AU", "pro", 300.0), ("XX", "pro", 1.0)]  # XX: no row
    months = ["2026-01", "2026-02", "2026-03"]
    trend = [{"month": m, "metric": k, "users": i + 1} for i, m in enumerate(months) for k in ("any", "calls")]
    centers = [{"account_id": f"acc-{i:03d}", "inbound_minutes": 100.0 * (30 - i), "outbound_minutes": 10.0 * i,
                "status": "apply" if i % 2 else "pending_discussion"} for i in range(30)]
    counts = {"auto_dialing": 3, "forwarding_to_multi_line": 0, "voicemail_blasting": 12}

    svgs = {"dist": charts.cohort_distribution("calls", rows, flagged, "dist"),
            "trend": charts.flagged_trend(months, trend, "trend"),
            "cc": charts.contact_center_minutes(centers, "cc"),
            "prohibited": charts.prohibited_by_pattern(counts, "prohibited")}  # the same bytes again: test below
    for svg in svgs.values():
        assert svg.startswith("<svg") and "<?xml" not in svg and "dc:date" not in svg and "<metadata" not in svg
    roots = {k: _parse(v) for k, v in svgs.items()}
    assert {k: r.get("data-chart") for k, r in roots.items()} == {k: k for k in svgs}

    # Distribution: a box per cohort (hover: its percentiles), the highest user, the flagged users of known cohorts,
    # a threshold bar where there is one, drawn at its value on the logarithmic axis.
    dist = roots["dist"]
    texts = {t.text: t for t in _texts(dist)}
    assert {"Calls (all directions)", "calls per user this month (logarithmic above 10)"} <= set(texts)
    assert len(_by_id(dist, "dist-box-")) == 3 and len(_drawn(_by_id(dist, "dist-max")[0])) == 3
    assert len(_drawn(_by_id(dist, "dist-flagged")[0])) == 3
    box = _by_id(dist, "dist-box-0")[0]
    assert box.find(f"{{{SVG_NS}}}title").text == (
        "AU · pro (n=40): p5 1, p25 5, median 10, p75 20, p95 60, highest 900, threshold 200")
    thresholds = _by_id(dist, "dist-threshold-")
    assert [t.get("id") for t in thresholds] == ["dist-threshold-0", "dist-threshold-2"]  # AU pro, NZ pro
    assert _x(texts["100"]) < _x(_drawn(thresholds[0])[0]) < _x(texts["1,000"])  # 200: between 100 and 1,000
    assert _x(texts["0"]) < _x(texts["10"]) < _x(texts["100"]) < _x(texts["1,000"])
    assert all(charts.THRESHOLD_COLOR in _drawn(t)[0].get("style") for t in thresholds)
    labels = sorted((t for t in _texts(dist) if "·" in t.text), key=lambda t: float(t.get("y")))
    assert [t.text for t in labels] == ["AU · pro (n=40)", "NZ · lite (n=40), not free", "NZ · pro (n=40)"]
    legend = {t.text for t in _texts(dist)} - {t.text for t in labels}
    assert {"highest", "flagged user", "published threshold (none where the offering is not free)"} <= legend

    # Trend: every month of every series (zeros included), the dashed "any metric" line, the axis title.
    trend_root = roots["trend"]
    series = _by_id(trend_root, "trend-series-")
    assert [s.get("id") for s in series] == [f"trend-series-{m}" for m in ("any", "calls", "call_minutes", "team_chats",
                                                                 "messages")]
    assert all(len([e for e in _drawn(s) if e.tag.endswith("use")]) == 3 for s in series)
    assert "stroke-dasharray" in _drawn(series[0])[0].get("style")
    assert series[1].find(f"{{{SVG_NS}}}title").text == "Calls (all directions): 2026-01 1, 2026-02 2, 2026-03 3"
    texts = {t.text for t in _texts(trend_root)}
    assert set(months) <= texts and "flagged users" in texts and "any metric (users)" in texts

    # Contact centers: inbound and outbound bars of the largest 25, the pending ones hatched, a note per bar.
    cc = roots["cc"]
    bars = _by_id(cc, "cc-inbound-") + _by_id(cc, "cc-outbound-")
    assert len(bars) == 2 * charts.MAX_BARS
    assert sum("url(#" in (_drawn(b)[0].get("style") or "") for b in bars) == 2 * 13  # pending discussion: hatched
    assert "acc-000" in svgs["cc"] and "acc-025" not in svgs["cc"]
    assert "3,000 min · to discuss" in {t.text for t in _texts(cc)}

    # Prohibited use: every pattern, zeros too, with its count.
    prohibited = roots["prohibited"]
    assert [b.get("id") for b in _by_id(prohibited, "prohibited-bar-")] == [f"prohibited-bar-{p}" for p in counts]
    assert {"12", "0", "flags (user × pattern)"} <= {t.text for t in _texts(prohibited)}

    # Colours of the report: threshold red, box blue, one colour per metric.
    assert charts.THRESHOLD_COLOR in svgs["dist"] and charts.BOX_COLOR in svgs["dist"]
    assert all(charts.METRIC_COLORS[m] in svgs["trend"] for m in charts.METRIC_COLORS)
    # Ids: stable, and unique across the charts of one page; every reference stays inside the chart (offline).
    page = "".join(svgs.values())
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids))
    for name, svg in svgs.items():
        assert all(i.startswith(f"{name}-") for i in re.findall(r'\bid="([^"]+)"', svg))
        refs = re.findall(r'href="([^"]*)"', svg) + re.findall(r"url\(([^)]*)\)", svg)
        assert refs and all(r.startswith(f"#{name}-") for r in refs)
        assert "http" not in re.sub(r'\sxmlns(:\w+)?="[^"]*"', "", svg)  # nothing fetched: no URL but namespaces
        assert f'svg[data-chart="{name}"] *{{' in svg and "<style" in svg and "*{" not in svg.replace(
            f'svg[data-chart="{name}"] *{{', "")  # matplotlib's default style applies to this chart only
    # Empty data: a message instead of axes.
    for svg, text in ((charts.cohort_distribution("calls", [], [], "e1"), "no users this month"),
                      (charts.flagged_trend([], [], "e2"), "no month built"),
                      (charts.contact_center_minutes([], "e3"), "no contact-center account this month"),
                      (charts.prohibited_by_pattern({}, "e4"), "no pattern to show")):
        assert text in {t.text for t in _texts(_parse(svg))}


def test_long_category_labels_are_shortened_not_overlapping():
    name = "a-plan-name-far-too-long-to-fit-beside-the-chart-" * 3
    rows = [{"country": "NZ", "plan": name, "users": 1, "p05": 1, "q1": 1, "median": 1, "q3": 1, "p95": 1,
             "max_value": 1, "threshold_value": None, "offering_is_free": False}]
    root = _parse(charts.cohort_distribution("calls", rows, [], "long"))
    label = next(t for t in _texts(root) if t.text.startswith("NZ"))
    assert label.text.endswith("…")
    assert charts.text_width(label.text) <= charts.WIDTH * 72 * charts.LABEL_SHARE < charts.text_width(name)
    tip = _by_id(root, "long-label-0")[0].find(f"{{{SVG_NS}}}title")
    assert tip.text == f"NZ · {name} (n=1), not free"  # the full label on hover
    # A long pattern name is wrapped on two lines.
    root = _parse(charts.prohibited_by_pattern({"forwarding_to_multi_line": 1}, "pp"))
    assert [t.text for t in _texts(root) if not re.fullmatch(r"[\d,]+|flags.*", t.text)] == [
        "Forwarding to a multi-line", "system (PBX, key system)"]


def test_charts_are_the_same_bytes_in_another_process_and_import_matplotlib_only_to_draw():
    """What a re-run of the report does: a new process draws the same bytes (ids are salted per chart, no date).
    matplotlib is imported when a chart is drawn, not when the report's modules are imported."""
    rows = [{"country": "NZ", "plan": "pro", "users": 40, "p05": 1, "q1": 5, "median": 10, "q3": 20, "p95": 60,
             "max_value": 900, "threshold_value": 200, "offering_is_free": True}]
    args = ("calls", rows, [("NZ", "pro", 900.0)], "d")
    code = ("import sys\n"
            "from dagster_project.domain.report import charts, report\n"
            "assert 'matplotlib' not in sys.modules, 'imported with the module'\n"
            f"sys.stdout.write(charts.cohort_distribution(*{args!r}))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONHASHSEED": "1"})
    here = charts.cohort_distribution(*args)
    assert out.stdout == here and here == charts.cohort_distribution(*args)


# ---------------------------------------------------------------------------------------------- slow tier

def _files(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _materialize(settings, month: str):
    import dagster as dg

    from dagster_project.defs.assets.report import monthly_report
    from dagster_project.defs.resources import FairuseResource

    return dg.materialize([monthly_report], partition_key=month,
                          resources={"fairuse": FairuseResource.from_settings(settings)},
                          instance=dg.DagsterInstance.ephemeral())


@pytest.fixture(scope="module")
def generated(sample_raw):
    return sample_raw


@pytest.fixture(scope="module")
def built(sample_build):
    """Both sample months through the pipeline (shared), then the report asset of each month through Dagster."""
    settings = sample_build
    results = {}
    for month in MONTHS:
        t0 = time.perf_counter()
        result = _materialize(settings, month)
        assert result.success
        (event,) = result.get_asset_materialization_events()
        assert event.asset_key.path == ["publish", "report"]
        results[month] = (event.materialization.metadata, time.perf_counter() - t0)
    return settings, results


def _chromium(tmp: Path, *args: str) -> str:
    profile = tmp / f"profile-{time.monotonic_ns()}"
    proc = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True,
                          timeout=180)
    return proc.stdout


def _raw_numbers(raw: Path) -> set[str]:
    numbers: set[str] = set()
    for dataset, cols in (("calls", ["from_number", "to_number", "forwarded_to"]),
                          ("messages", ["counterparty_number"])):
        for f in raw.glob(f"{dataset}/month=*/*.parquet"):
            t = pq.read_table(f, columns=[c for c in cols if c in pq.read_schema(f).names])
            for c in t.column_names:
                numbers.update(v for v in t.column(c).unique().to_pylist() if v)
    return numbers


@pytest.mark.slow
def test_asset_writes_report_and_notices(built):
    settings, results = built
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    for month in MONTHS:
        meta, _ = results[month]
        report = settings.reports_dir / month / "report.html"
        assert meta["report"].value == str(report) and meta["report_url"].value == report.resolve().as_uri()
        assert f"Fair-use report {month_label(month)}" in meta["summary"].value
        html = report.read_text()
        # Self-contained: nothing is fetched (SVG namespaces aside), no script.
        stripped = re.sub(r'xmlns(:\w+)?="[^"]*"', "", html)
        assert "http://" not in stripped and "https://" not in stripped and "<script" not in html
        assert html.count('<svg class="chart"') == 7
        # No wall-clock time: the month's watermark is the only timestamp of the header.
        wm = con.execute("select data_complete_to from audit.month_watermarks where month = ?",
                         [f"{month}-01"]).fetchone()[0]
        assert f'id="data-complete-to">{wm.replace(microsecond=0).isoformat(sep=" ")} UTC<' in html
        # One notice per account to contact, and only those.
        expected = {r[0] for r in con.execute(
            "select account_id from marts.fct_account_enforcement where month = ? union "
            "select account_id from marts.fct_contact_center_discussions where month = ? union "
            "select account_id from marts.fct_prohibited_use_flags where month = ?", [f"{month}-01"] * 3).fetchall()}
        notices = settings.reports_dir / month / "notices"
        assert {p.stem for p in notices.glob("*.md")} == expected == {p.stem for p in notices.glob("*.html")}
        index = (notices / "index.csv").read_text().splitlines()
        assert len(index) == len(expected) + 1 and meta["notices"].value == len(expected)
        for md in notices.glob("*.md"):
            text = md.read_text()
            assert "different amount" not in text and "were not available" not in text  # amounts explained
    # February has accounts at step 2: their notice shows the amount and how it was computed.
    step2 = con.execute("select account_id, excess_charge_amount, currency from marts.fct_account_enforcement "
                        "where month = '2026-02-01' and excess_charge_amount > 0 order by 1 limit 1").fetchone()
    con.close()
    assert step2 is not None
    text = (settings.reports_dir / "2026-02" / "notices" / f"{step2[0]}.md").read_text()
    assert f"rounded to the cent: **{fmt_money(step2[1], step2[2])}**" in text


@pytest.mark.slow
def test_no_phone_number_in_report_or_notices(built, generated):
    settings, _ = built
    numbers = _raw_numbers(generated)
    assert numbers  # the raw data does carry numbers
    bare = {n.lstrip("+") for n in numbers}
    for path in settings.reports_dir.rglob("*"):
        if path.is_file():
            text = path.read_text()
            assert not PHONE.search(text), path
            assert not bare & set(re.findall(r"\d{7,}", text)), path


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed (apt-get install chromium): "
                                             "the report is not opened in a browser")
def test_report_in_browser_shows_charts_and_the_marts_totals(built, tmp_path):
    settings, _ = built
    month = "2026-02"
    report = settings.reports_dir / month / "report.html"
    dom = _chromium(tmp_path, "--dump-dom", report.as_uri())
    assert "Fair-use report: February 2026" in dom
    # Charts: seven inline SVGs, each with drawn paths and text.
    svgs = re.findall(r'<svg class="chart".*?</svg>', dom, flags=re.S)
    assert len(svgs) == 7
    for svg in svgs:
        assert svg.count("<path") >= 3 and "<text" in svg
    # Every total on the page equals the marts.
    shown = dict(re.findall(r'<tr data-key="([^"]+)" data-value="([^"]*)"', dom))
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    m = f"{month}-01"

    def one(sql: str):
        return con.execute(sql, [m]).fetchone()[0]

    expected = {
        "users": one("select count(*) from marts.fct_user_monthly_usage where month = ?"),
        "flagged_users": one("select count(distinct user_id) from marts.fct_fair_use_flags where month = ?"),
        "flagged_accounts": one("select count(*) from marts.fct_account_enforcement where month = ?"),
        "events_counted": one("select sum(rows_counted) from audit.load_balance where month = ?"),
        "rows_quarantined": one("select count(*) from audit.quarantined_rows where month = ?"),
        "conflicting_duplicates": one("select count(*) from audit.conflicting_duplicates where month = ?"),
        "contact_centers_to_discuss": one("select count(*) from marts.fct_contact_center_discussions "
                                          "where month = ?"),
        "prohibited_use_flags": one("select count(*) from marts.fct_prohibited_use_flags where month = ?"),
    }
    for action, n in con.execute("select action, count(*) from marts.fct_account_enforcement where month = ? "
                                 "group by 1", [m]).fetchall():
        expected[f"action.{action}"] = n
    for cur, amount in con.execute("select currency, sum(excess_charge_amount) from marts.fct_account_enforcement "
                                   "where month = ? and excess_charge_amount > 0 group by 1", [m]).fetchall():
        expected[f"excess_charges.{cur}"] = amount
    for cur, amount in con.execute("select currency, sum(surcharge_amount) from marts.fct_contact_center_surcharge "
                                   "where month = ? and status = 'apply' group by 1", [m]).fetchall():
        expected[f"surcharges_applied.{cur}"] = amount
    ladder = con.execute("select account_id, excess_charge_amount from marts.fct_account_enforcement "
                         "where month = ? order by 1", [m]).fetchall()
    con.close()
    assert any(k.startswith("excess_charges.") for k in expected)
    for key, value in expected.items():
        assert decimal.Decimal(shown[key]) == decimal.Decimal(str(value)), key
    ladder_html = dom.split('id="ladder-table"')[1].split("</table>")[0]
    rows = re.findall(r'<tr data-account="([^"]+)" data-amount="([^"]+)" data-currency', ladder_html)
    assert sorted((a, decimal.Decimal(v)) for a, v in rows) == [(a, decimal.Decimal(v)) for a, v in ladder]
    # What a person sees: a full-page screenshot with the charts drawn (the threshold red is on screen).
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report.png"
    shot.unlink(missing_ok=True)
    _chromium(tmp_path, "--window-size=1400,8000", f"--screenshot={shot}", report.as_uri())  # the whole page
    assert shot.stat().st_size > 50_000
    import numpy as np
    from PIL import Image  # pillow: a dependency of matplotlib

    px = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    red = int(((px[..., 0] > 170) & (px[..., 1] < 80) & (px[..., 2] < 80)).sum())
    assert red > 500, "no threshold marks visible: the charts did not render"


@pytest.mark.slow
def test_rerun_is_byte_identical(built):
    from dagster_project.domain.report import build_month_report

    settings, _ = built
    before = _files(settings.reports_dir)
    for month in MONTHS:
        r = build_month_report(settings.warehouse, settings.exports_dir, settings.reports_dir, month,
                               policy_file=settings.policy_file)
        assert r.files_written == 0 and r.notices_changed == []
    assert _files(settings.reports_dir) == before


@pytest.mark.slow
def test_restated_month_gets_a_new_report_and_lists_changed_notices(built, generated, tmp_path):
    from tests.conftest import run_pipeline

    settings, _ = built
    work = tmp_path / "work"
    shutil.copytree(settings.data_dir, work, ignore=shutil.ignore_patterns("logs", "*.wal"))
    raw = tmp_path / "raw"
    shutil.copytree(generated, raw)
    con = duckdb.connect(str(work / "warehouse.duckdb"), read_only=True)
    user, account, amount = con.execute(
        "select f.user_id, f.account_id, e.excess_charge_amount from marts.fct_fair_use_flags f "
        "join marts.fct_account_enforcement e using (month, account_id) "
        "where f.month = '2026-02-01' and f.metric = 'calls' and e.excess_charge_amount > 0 "
        "order by f.account_id, f.user_id limit 1").fetchone()
    con.close()
    # A late delivery for February: 40 more short outbound calls of a user already charged for calls.
    start = 1771322400_000000  # 2026-02-17 10:00 UTC
    ts = pa.array([start + i * 300_000000 for i in range(40)], pa.timestamp("us"))
    late = pa.table({
        "call_id": [f"late-report-{i}" for i in range(40)], "account_id": [account] * 40, "user_id": [user] * 40,
        "direction": ["outbound"] * 40, "started_at": ts, "answered_at": ts,
        "ended_at": pa.array([start + i * 300_000000 + 30_000000 for i in range(40)], pa.timestamp("us")),
        "from_number": ["+6420000000"] * 40, "to_number": ["+6420000001"] * 40, "disposition": ["answered"] * 40,
        "forwarded_to": pa.nulls(40, pa.string()), "initiated_via": ["app"] * 40,
    })
    pq.write_table(late, raw / "calls/month=2026-02/zz-late.parquet")
    january = _files(work / "reports" / "2026-01")
    old_notice = (work / "reports" / "2026-02" / "notices" / f"{account}.md").read_bytes()
    # The monthly job re-runs February and its report (the report asset is part of it).
    s2, outcomes = run_pipeline(work, raw, months=["2026-02"])
    assert all(o.success for o in outcomes), outcomes
    assert _files(s2.reports_dir / "2026-01") == january  # an earlier month does not move
    assert _materialize(s2, "2026-02").success  # materializing again changes nothing more
    feb = s2.reports_dir / "2026-02"
    changes = (feb / "notices" / "changes.csv").read_text()
    assert f",{account},changed," in changes
    assert (feb / "notices" / "revisions" / "r001" / f"{account}.md").read_bytes() == old_notice
    html = (feb / "report.html").read_text()
    assert 'id="restated"' in html and "revision 2" in html
    assert f'<tr data-account="{account}"><td class="id">{account}</td><td>changed</td>' in html
    con = duckdb.connect(str(s2.warehouse), read_only=True)
    new_amount = con.execute("select excess_charge_amount from marts.fct_account_enforcement "
                             "where month = '2026-02-01' and account_id = ?", [account]).fetchone()[0]
    con.close()
    assert new_amount > amount
    assert fmt_money(new_amount, None) in (feb / "notices" / f"{account}.md").read_text()
