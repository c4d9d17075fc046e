"""`fairuse evaluate`: prohibited-use flags against a generator's ground truth, precision and recall per pattern."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from dagster_project.domain.policy import PATTERNS
from dagster_project.domain.settings import get_settings


def truth_path(raw_dir: str | Path) -> Path:
    """Where a generator writes the ground truth of a raw directory: `<raw>.truth.json` beside it."""
    raw_dir = Path(raw_dir)
    return raw_dir.with_name(raw_dir.name + ".truth.json")


def evaluate(warehouse: Path, truth_file: Path) -> dict[str, dict[str, float | int | None]]:
    truth = json.loads(Path(truth_file).read_text())
    months = set(truth["months"])
    expected = {(t["month"], t["user_id"], t["pattern"]) for t in truth["prohibited_use"]}
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        got = {(m, u, p) for m, u, p in con.execute(
            "select strftime(month, '%Y-%m'), user_id, pattern from marts.fct_prohibited_use_flags").fetchall()
            if m in months}
    finally:
        con.close()
    out = {}
    for pattern in PATTERNS:
        e = {x for x in expected if x[2] == pattern}
        g = {x for x in got if x[2] == pattern}
        tp = len(e & g)
        out[pattern] = {
            "expected": len(e), "flagged": len(g), "true_positives": tp,
            "precision": tp / len(g) if g else None, "recall": tp / len(e) if e else None,
            "false_positives": sorted(f"{m} {u}" for m, u, _ in g - e),
            "missed": sorted(f"{m} {u}" for m, u, _ in e - g),
        }
    return out


def format_report(report: dict) -> str:
    def pct(x):
        return "  n/a" if x is None else f"{x:5.2f}"

    lines = [f"{'pattern':<26} {'truth':>6} {'flagged':>8} {'TP':>5} {'precision':>10} {'recall':>7}"]
    for p, r in report.items():
        lines.append(f"{p:<26} {r['expected']:>6} {r['flagged']:>8} {r['true_positives']:>5} "
                     f"{pct(r['precision']):>10} {pct(r['recall']):>7}")
        for fp in r["false_positives"][:5]:
            lines.append(f"    false positive: {fp}")
        for m in r["missed"][:5]:
            lines.append(f"    missed:         {m}")
    return "\n".join(lines)


def evaluate_cli(args) -> int:
    settings = get_settings(None, args.warehouse, None, None)
    truth = Path(args.truth) if args.truth else truth_path(settings.raw_dir)
    if not truth.exists():
        print(f"fairuse evaluate: no ground truth at {truth} (pass --truth)")
        return 2
    print(format_report(evaluate(settings.warehouse, truth)))
    return 0
