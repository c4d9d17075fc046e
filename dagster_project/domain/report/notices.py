"""Customer notices: one Markdown + HTML letter per account that needs contact this month, an index, and the list
of notices a restatement changed.

Who gets one: an account on the enforcement ladder (ask to moderate, require payment of excess use, limit access),
a contact center whose surcharge is still to be discussed, or an account with prohibited use found. The wording is
in templates/notice.md.j2 (the HTML is the same Markdown rendered); users appear by user_id only, never by number.
"""

from __future__ import annotations

import csv
import decimal
import hashlib
import io
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import cmarkgfm
import jinja2
from cmarkgfm.cmark import Options

from dagster_project.domain.policy import Policy, rates_by_currency
from dagster_project.domain.report.data import MonthData
from dagster_project.domain.report.fmt import (
    ACTION_LABELS,
    ACTION_STEPS,
    METRIC_LABELS,
    METRIC_UNITS,
    OFFERING_LABELS,
    PATTERN_LABELS,
    fmt_amount,
    fmt_int,
    fmt_money,
    fmt_num,
    fmt_pct,
    fmt_rate,
    fmt_ratio,
    fmt_timestamp,
    month_label,
    round_cents,
    to_decimal,
)

TEMPLATES = Path(__file__).parent / "templates"
REASONS = ("ask_to_moderate", "require_excess_payment", "limit_access", "contact_center_surcharge", "prohibited_use")
REASON_LABELS = {**ACTION_LABELS, "contact_center_surcharge": "Contact-center surcharge to discuss",
                 "prohibited_use": "Prohibited use found"}
INDEX_COLUMNS = ["account_id", "reasons", "action", "consecutive_months", "flagged_users", "excess_charge_amount",
                 "surcharge_if_applied", "prohibited_use_patterns", "currency", "notice_md", "notice_html", "sha256"]
CHANGES_COLUMNS = ["revision", "account_id", "change", "reasons_before", "reasons_after", "excess_charge_before",
                   "excess_charge_after", "currency"]


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True,
                             autoescape=jinja2.select_autoescape(["html.j2"]))
    env.filters.update(num=fmt_num, int=fmt_int, ratio=fmt_ratio, pct=fmt_pct, money=fmt_money, rate=fmt_rate,
                       timestamp=fmt_timestamp)
    return env


# cmark-gfm (C): CommonMark with GitHub's table extension, ~15x faster than a pure-Python parser (a month can have
# thousands of notices: 1,414 at M took 1.2 s with markdown-it-py, 0.09 s here). Alignment as style attributes.
_CMARK_OPTIONS = Options.CMARK_OPT_TABLE_PREFER_STYLE_ATTRIBUTES


def _markdown_to_html(text: str) -> str:
    """The notice's Markdown as HTML. Raw HTML in the text (none in the template; a data value could hold a "<")
    is shown as text, never interpreted: "<" reaches the renderer as the entity &lt;. No code spans are used, where
    that entity would show literally."""
    return cmarkgfm.markdown_to_html_with_extensions(text.replace("<", "&lt;"), options=_CMARK_OPTIONS,
                                                     extensions=["table"])


def unit_rate(policy: Policy | None, metric: str, currency: str | None) -> decimal.Decimal | None:
    """The metric's excess unit rate for the currency (else the default), as the marts use it (6 decimals); 0 for
    a metric without a rate (it adds nothing), None when the policy is not known."""
    if policy is None:
        return None
    rates = rates_by_currency(policy.metrics.get(metric, {}).get("excess_unit_rate"))
    rate = rates.get(currency or "", rates.get("*", 0))
    return decimal.Decimal(str(rate)).quantize(decimal.Decimal("0.000001"))


def _excess_units(value: float | None) -> decimal.Decimal:
    """excess_value as the marts price it: cast to decimal(38, 10)."""
    return to_decimal(value or 0).quantize(decimal.Decimal("1e-10"), rounding=decimal.ROUND_HALF_UP)


def flag_line(f: dict, policy: Policy | None) -> dict:
    """A flagged user-metric in a customer's terms: their number, the published threshold of their cohort, months
    in a row, and what the charge counts from."""
    tm = f["threshold_multiple"]
    refs = []
    if f["ratio_to_cohort"] is not None and f["ratio_to_cohort"] >= tm and f["reference_mean"] is not None:
        refs.append(("the average of the other users in your cohort", f["reference_mean"]))
    if f["ratio_to_estimate"] is not None and f["ratio_to_estimate"] >= tm and f["estimated_value"] is not None:
        refs.append(("your plan's estimated use", f["estimated_value"]))
    basis_label, basis = max(refs, key=lambda r: r[1]) if refs else ("", None)
    rate = unit_rate(policy, f["metric"], f["currency"])
    excess = _excess_units(f["excess_value"])
    amount = excess * rate if rate is not None else None
    ratio = max(x for x in (f["ratio_to_cohort"], f["ratio_to_estimate"], 0) if x is not None)
    return {
        "user_id": f["user_id"], "metric": f["metric"], "metric_label": METRIC_LABELS.get(f["metric"], f["metric"]),
        "unit": METRIC_UNITS.get(f["metric"], ""), "value": f["value"], "threshold": f["threshold_value"],
        "cohort": f"{f['country'] or '?'}, {f['plan'] or '?'} plan", "ratio": ratio,
        "ratio_to_cohort": f["ratio_to_cohort"], "ratio_to_estimate": f["ratio_to_estimate"],
        "reference_mean": f["reference_mean"], "estimated_value": f["estimated_value"],
        "months_in_a_row": f["consecutive_months"], "severity": f["severity"], "offering": f["offering"],
        "multiple": tm, "basis_label": basis_label, "basis": basis,
        "charged_above": None if basis is None else tm * basis, "excess": f["excess_value"] or 0,
        "rate": rate, "rate_text": "–" if rate is None else "no charge" if rate == 0 else fmt_rate(rate, f["currency"]),
        "amount": amount, "amount_text": "–" if amount is None else fmt_amount(amount, f["currency"]),
    }


@dataclass
class Notice:
    account_id: str
    reasons: list[str]
    markdown: str
    html: str
    index_row: dict


def build_notices(data: MonthData, policy: Policy | None = None) -> list[Notice]:
    """Every notice of the month, in account order (rendered in memory; report.py writes them).

    `policy` (the configuration the month was computed with, or None) only explains: unit rates and the
    contact-center level. Every amount comes from the marts."""
    enforcement = {r["account_id"]: r for r in data.ladder}
    discussions = {r["account_id"]: r for r in data.discussions}
    flags: dict[str, list[dict]] = {}
    for f in data.flags:
        flags.setdefault(f["account_id"], []).append(f)
    prohibited: dict[str, list[dict]] = {}
    for p in data.prohibited:
        prohibited.setdefault(p["account_id"], []).append(p)
    accounts = sorted(set(enforcement) | set(discussions) | set(prohibited))
    md_template = environment().get_template("notice.md.j2")
    html_template = environment().get_template("notice.html.j2")
    version = policy_label(data)
    out = []
    for account in accounts:
        enf = enforcement.get(account)
        disc = discussions.get(account)
        lines = [flag_line(f, policy) for f in flags.get(account, [])]
        reasons = ([enf["action"]] if enf else []) + (["contact_center_surcharge"] if disc else []) + (
            ["prohibited_use"] if account in prohibited else [])
        currency = (enf or disc or {}).get("currency") or next((f["currency"] for f in flags.get(account, [])), None)
        computation = None
        if enf and enf["action"] != "ask_to_moderate":
            known = all(ln["amount"] is not None for ln in lines)
            total = sum((ln["amount"] for ln in lines), decimal.Decimal("0")) if known else None
            computation = {
                "known": known,
                "unrounded": None if total is None else fmt_amount(total, currency),
                "matches": total is not None and round_cents(total) == to_decimal(enf["excess_charge_amount"]),
            }
        context = {
            "account_id": account, "month": data.month, "month_label": month_label(data.month),
            "data_complete_to": fmt_timestamp(data.data_complete_to), "policy_version": version,
            "reference": f"FU-{data.month}-{account}", "currency": currency, "reasons": reasons,
            "reason_labels": REASON_LABELS, "enforcement": enf,
            "step": ACTION_STEPS.get(enf["action"]) if enf else None,
            "amount": fmt_money(enf["excess_charge_amount"], enf["currency"]) if enf else None,
            "lines": lines, "computation": computation,
            "services": sorted({OFFERING_LABELS.get(ln["offering"], ln["offering"]) for ln in lines}),
            "discussion": disc and {
                **disc, "amount": fmt_money(disc["amount_if_applied"], disc["currency"]),
                "rate": fmt_rate(disc["rate_per_minute"], disc["currency"]),
                "minutes_threshold": policy.contact_center_minutes_per_user if policy else None},
            "prohibited": [{**p, "pattern_label": PATTERN_LABELS.get(p["pattern"], p["pattern"])}
                           for p in prohibited.get(account, [])],
        }
        markdown = md_template.render(**context)
        html = html_template.render(title=f"Fair use notice {account}, {month_label(data.month)}",
                                    body=_markdown_to_html(markdown))
        index_row = {
            "account_id": account, "reasons": ";".join(reasons), "action": enf["action"] if enf else "",
            "consecutive_months": enf["consecutive_months"] if enf else "",
            "flagged_users": enf["flagged_users"] if enf else "",
            "excess_charge_amount": format(to_decimal(enf["excess_charge_amount"]), "f") if enf else "",
            "surcharge_if_applied": format(to_decimal(disc["amount_if_applied"]), "f") if disc else "",
            "prohibited_use_patterns": ";".join(sorted({p["pattern"] for p in prohibited.get(account, [])})),
            "currency": currency or "", "notice_md": f"{account}.md", "notice_html": f"{account}.html",
            "sha256": hashlib.sha256(markdown.encode("utf-8")).hexdigest(),
        }
        out.append(Notice(account, reasons, markdown, html, index_row))
    return out


def csv_bytes(columns: list[str], rows: list[dict]) -> bytes:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({c: r.get(c, "") for c in columns})
    return buf.getvalue().encode("utf-8")


def read_csv(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def notice_changes(previous: list[dict], current: list[dict], revision: int) -> list[dict]:
    """Index rows before and after -> one row per account whose notice was added, changed or withdrawn."""
    before = {r["account_id"]: r for r in previous}
    after = {r["account_id"]: r for r in current}
    rows = []
    for acc in sorted(set(before) | set(after)):
        b, a = before.get(acc), after.get(acc)
        if b is not None and a is not None and b["sha256"] == a["sha256"]:
            continue
        rows.append({
            "revision": revision, "account_id": acc,
            "change": "added" if b is None else "withdrawn" if a is None else "changed",
            "reasons_before": (b or {}).get("reasons", ""), "reasons_after": (a or {}).get("reasons", ""),
            "excess_charge_before": (b or {}).get("excess_charge_amount", ""),
            "excess_charge_after": (a or {}).get("excess_charge_amount", ""),
            "currency": (a or b or {}).get("currency", ""),
        })
    return rows


def policy_label(data: MonthData) -> str:
    """The month's policy version, saying so when an operator restated the month under it."""
    label = ", ".join(data.policy_versions) or "–"
    return f"{label} (the month restated under it by an operator)" if data.policy_restated else label
