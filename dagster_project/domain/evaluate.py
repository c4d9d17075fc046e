"""`fairuse evaluate`: prohibited-use flags against a generator's ground truth.

Reports precision and recall per pattern and per planted variant, and the hard negatives (honest businesses that
look like a pattern) that were flagged. Per pattern: precision = flags of the pattern on a user-month planted
with it / all flags of the pattern; recall = planted user-months flagged with their pattern / planted. Per
variant: recall likewise; precision = flags with the right pattern / every flag on the variant's user-months (a
variant flagged as another pattern loses precision). Reports of several runs add up with `combine`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb

from dagster_project.domain.policy import PATTERNS
from dagster_project.domain.settings import get_settings


def truth_path(raw_dir: str | Path) -> Path:
    """Where a generator writes the ground truth of a raw directory: `<raw>.truth.json` beside it."""
    raw_dir = Path(raw_dir)
    return raw_dir.with_name(raw_dir.name + ".truth.json")


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def _flags(warehouse: Path, months: set[str]) -> set[tuple[str, str, str]]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = con.execute("select strftime(month, '%Y-%m'), user_id, pattern "
                           "from marts.fct_prohibited_use_flags").fetchall()
    finally:
        con.close()
    return {(m, u, p) for m, u, p in rows if m in months}


def evaluate(warehouse: Path, truth_file: Path) -> dict[str, Any]:
    """Counts and lists for one warehouse and its ground truth (see the module docstring for the measures)."""
    truth = json.loads(Path(truth_file).read_text())
    got = _flags(warehouse, set(truth["months"]))
    planted = {(t["month"], t["user_id"], t["pattern"]): t.get("variant", "-") for t in truth["prohibited_use"]}
    report: dict[str, Any] = {"patterns": {}, "variants": {}, "hard_negatives": {}}
    for pattern in PATTERNS:
        e = {x for x in planted if x[2] == pattern}
        g = {x for x in got if x[2] == pattern}
        report["patterns"][pattern] = {
            "expected": len(e), "flagged": len(g), "true_positives": len(e & g),
            "false_positives": sorted(f"{m} {u}" for m, u, _ in g - e),
            "missed": sorted(f"{m} {u} ({planted[(m, u, p)]})" for m, u, p in e - g),
        }
    by_user_month: dict[tuple[str, str], set[str]] = {}
    for m, u, p in got:
        by_user_month.setdefault((m, u), set()).add(p)
    for (m, u, p), variant in planted.items():  # in the order of the ground truth
        v = report["variants"].setdefault(f"{p}/{variant}", {"planted": 0, "detected": 0, "flags": 0, "missed": [],
                                                             "flagged_as_other": []})
        flags = by_user_month.get((m, u), set())
        v["planted"] += 1
        v["detected"] += p in flags
        v["flags"] += len(flags)
        if p not in flags:
            v["missed"].append(f"{m} {u}")
        v["flagged_as_other"] += [f"{m} {u} {q}" for q in sorted(flags - {p})]
    for n in truth.get("hard_negatives", []):
        h = report["hard_negatives"].setdefault(n["kind"], {"user_months": 0, "flagged": []})
        h["user_months"] += 1
        h["flagged"] += [f"{n['month']} {n['user_id']} {p}" for p in sorted(by_user_month.get((n["month"],
                                                                                               n["user_id"]), ()))]
    return with_ratios(report)


def with_ratios(report: dict[str, Any]) -> dict[str, Any]:
    """(Re)compute precision and recall from the counts."""
    for r in report["patterns"].values():
        r["precision"] = _ratio(r["true_positives"], r["flagged"])
        r["recall"] = _ratio(r["true_positives"], r["expected"])
    for v in report["variants"].values():
        v["precision"] = _ratio(v["detected"], v["flags"])
        v["recall"] = _ratio(v["detected"], v["planted"])
    return report


def combine(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """Several runs' reports (other seeds, sizes) as one: counts added, lists joined, ratios recomputed."""
    out: dict[str, Any] = {"patterns": {}, "variants": {}, "hard_negatives": {}}
    for report in reports:
        for section, rows in report.items():
            for key, row in rows.items():
                acc = out[section].setdefault(key, {})
                for field, value in row.items():
                    if field in ("precision", "recall"):
                        continue
                    acc[field] = acc.get(field, type(value)()) + value
    return with_ratios(out)


def format_report(report: dict[str, Any]) -> str:
    def num(x):
        return "  n/a" if x is None else f"{x:5.2f}"

    lines = [f"{'pattern / variant':<42} {'truth':>6} {'flagged':>8} {'TP':>5} {'precision':>10} {'recall':>7}"]
    for pattern, r in report["patterns"].items():
        lines.append(f"{pattern:<42} {r['expected']:>6} {r['flagged']:>8} {r['true_positives']:>5} "
                     f"{num(r['precision']):>10} {num(r['recall']):>7}")
        for key, v in report["variants"].items():
            if key.split("/", 1)[0] == pattern:
                lines.append(f"  {key.split('/', 1)[1]:<40} {v['planted']:>6} {v['flags']:>8} {v['detected']:>5} "
                             f"{num(v['precision']):>10} {num(v['recall']):>7}")
    lines.append("")
    lines.append(f"{'hard negatives (kind)':<42} {'user-months':>12} {'flagged':>8}")
    for kind, h in report["hard_negatives"].items():
        lines.append(f"  {kind:<40} {h['user_months']:>12} {len(h['flagged']):>8}")
    details = []
    for pattern, r in report["patterns"].items():
        details += [f"  {pattern}: false positive {x}" for x in r["false_positives"][:10]]
        details += [f"  {pattern}: missed {x}" for x in r["missed"][:10]]
    for key, v in report["variants"].items():
        details += [f"  {key}: also flagged {x}" for x in v["flagged_as_other"][:10]]
    for kind, h in report["hard_negatives"].items():
        details += [f"  hard negative {kind} flagged: {x}" for x in h["flagged"][:10]]
    if details:
        lines += ["", "details:", *details]
    return "\n".join(lines)


def evaluate_cli(args) -> int:
    settings = get_settings(None, args.warehouse, None, None)
    truth = Path(args.truth) if args.truth else truth_path(settings.raw_dir)
    if not truth.exists():
        print(f"fairuse evaluate: no ground truth at {truth} (pass --truth)")
        return 2
    report = evaluate(settings.warehouse, truth)
    print(json.dumps(report, indent=1) if getattr(args, "json", False) else format_report(report))
    return 0
