"""Charts of the monthly report: matplotlib figures rendered to SVG text, to be inlined in the HTML.

Deterministic: no pyplot (no global figure state), a fixed `svg.hashsalt` per chart (so ids are stable and differ
between the charts of one page), no date in the metadata, text kept as text (`svg.fonttype: none`, so the page
stays small and its numbers searchable). Every chart takes the few aggregated rows that data.py queried.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable

import matplotlib
import matplotlib.ticker
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from dagster_project.domain.report.fmt import METRIC_LABELS, PATTERN_LABELS, fmt_num

THRESHOLD_COLOR = "#c62828"
BOX_COLOR = "#90caf9"
METRIC_COLORS = {"calls": "#1565c0", "call_minutes": "#2e7d32", "team_chats": "#ef6c00", "messages": "#6a1b9a",
                 "any": "#424242"}
RC = {
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "svg.fonttype": "none",
}
MAX_BARS = 25


def to_svg(fig: Figure, name: str, title: str) -> str:
    """The figure as an inline <svg> element: stable ids, no XML prologue, scalable, with an accessible title."""
    buf = io.StringIO()
    with matplotlib.rc_context({**RC, "svg.hashsalt": f"fairuse-{name}"}):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None}, bbox_inches="tight",
                    pad_inches=0.05)
    svg = buf.getvalue()
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r"\s*<metadata>.*?</metadata>", "", svg, count=1, flags=re.S)
    # Plain element ids (figure_1, axes_1, ...) repeat across charts; prefix them so the page's ids are unique.
    svg = re.sub(r'\bid="([^"]+)"', lambda mo: f'id="{name}-{mo.group(1)}"', svg)
    svg = re.sub(r'(xlink:href|href)="#([^"]+)"', lambda mo: f'{mo.group(1)}="#{name}-{mo.group(2)}"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", lambda mo: f"url(#{name}-{mo.group(1)})", svg)
    attrs = f'<svg class="chart" role="img" aria-label="{_escape(title)}" data-chart="{name}"'
    return svg.replace("<svg", attrs, 1).strip() + "\n"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")


def _figure(width: float, height: float) -> Figure:
    with matplotlib.rc_context(RC):
        return Figure(figsize=(width, height), layout="constrained")


def _empty(fig: Figure, ax, text: str) -> None:
    ax.set_axis_off()
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="#616161")


def cohort_distribution(metric: str, rows: list[dict], flagged: Iterable[float | tuple], name: str) -> str:
    """One row per cohort (country x plan): box p25-p75 with the median, whiskers p5-p95, the maximum, the flagged
    users as crosses and the published threshold as a red bar. Log-like (symlog) axis: usage is very skewed."""
    rows = sorted(rows, key=lambda r: (r["country"], r["plan"]), reverse=True)  # top-down alphabetical
    title = f"{METRIC_LABELS.get(metric, metric)}: per-user distribution by cohort"
    with matplotlib.rc_context(RC):
        fig = _figure(6.4, 0.9 + 0.26 * max(len(rows), 2))
        ax = fig.add_subplot()
        if not rows:
            _empty(fig, ax, "no users this month")
            return to_svg(fig, name, title)
        stats = [{"label": f"{r['country']} · {r['plan']} (n={fmt_num(r['users'])})"
                  + ("" if r["threshold_value"] is not None else ", not free"), "whislo": r["p05"] or 0,
                  "q1": r["q1"] or 0, "med": r["median"] or 0, "q3": r["q3"] or 0, "whishi": r["p95"] or 0,
                  "fliers": []} for r in rows]
        pos = list(range(1, len(rows) + 1))
        ax.bxp(stats, positions=pos, orientation="horizontal", widths=0.55, patch_artist=True, showfliers=False,
               boxprops={"facecolor": BOX_COLOR, "edgecolor": "#1e88e5", "linewidth": 0.8},
               medianprops={"color": "#0d47a1", "linewidth": 1.4}, whiskerprops={"color": "#64b5f6"},
               capprops={"color": "#64b5f6"})
        ax.scatter([r["max_value"] or 0 for r in rows], pos, marker="d", s=14, color="#455a64", zorder=3)
        index = {(r["country"], r["plan"]): i for i, r in enumerate(rows)}
        fx, fy = [], []
        for f in flagged:
            i = index.get((f[0], f[1]))
            if i is not None:
                fx.append(f[2])
                fy.append(pos[i])
        if fx:
            ax.scatter(fx, fy, marker="x", s=16, linewidths=0.9, color=THRESHOLD_COLOR, zorder=4)
        for p, r in zip(pos, rows, strict=True):
            if r["threshold_value"] is not None:
                ax.plot([r["threshold_value"]] * 2, [p - 0.42, p + 0.42], color=THRESHOLD_COLOR, linewidth=2.2,
                        solid_capstyle="butt", zorder=5)
        ax.set_xscale("symlog", linthresh=10)
        ax.set_xlim(left=0)
        ax.set_yticks(pos, [s["label"] for s in stats])
        ax.set_ylim(0.4, len(rows) + 0.6)
        ax.grid(axis="x", color="#eeeeee", linewidth=0.6)
        ax.set_axisbelow(True)
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: fmt_num(v, 0)))
        ax.set_title(METRIC_LABELS.get(metric, metric), loc="left")
        handles = [Patch(facecolor=BOX_COLOR, edgecolor="#1e88e5", label="middle half (p25–p75), median"),
                   Line2D([], [], color="#64b5f6", label="p5–p95"),
                   Line2D([], [], marker="d", linestyle="", color="#455a64", label="highest"),
                   Line2D([], [], marker="x", linestyle="", color=THRESHOLD_COLOR, label="flagged user"),
                   Line2D([], [], color=THRESHOLD_COLOR, linewidth=2.2, label="published threshold "
                          "(none where the offering is not free)")]
        fig.legend(handles=handles, loc="outside lower center", ncols=2, frameon=False, fontsize=7.5)
    return to_svg(fig, name, title)


def flagged_trend(months: list[str], rows: list[dict], name: str) -> str:
    """Flagged users per metric (and in any metric) over the built months of the last 12."""
    title = "Flagged users by metric, last 12 months"
    counts = {(r["month"], r["metric"]): r["users"] for r in rows}
    with matplotlib.rc_context(RC):
        fig = _figure(6.4, 3.4)
        ax = fig.add_subplot()
        if not months:
            _empty(fig, ax, "no month built")
            return to_svg(fig, name, title)
        x = list(range(len(months)))
        for metric in ("any", *METRIC_LABELS):
            y = [counts.get((mo, metric), 0) for mo in months]
            label = "any metric (users)" if metric == "any" else METRIC_LABELS[metric]
            ax.plot(x, y, marker="o", markersize=3.5, linewidth=2.4 if metric == "any" else 1.4,
                    linestyle="--" if metric == "any" else "-", color=METRIC_COLORS[metric], label=label)
        ax.set_xticks(x, months, rotation=45 if len(months) > 6 else 0, ha="right" if len(months) > 6 else "center")
        ax.set_ylim(bottom=0)
        ax.yaxis.get_major_locator().set_params(integer=True)
        ax.set_ylabel("flagged users")
        ax.grid(axis="y", color="#eeeeee", linewidth=0.6)
        ax.set_axisbelow(True)
        fig.legend(loc="outside lower center", ncols=2, frameon=False, fontsize=7.5)
    return to_svg(fig, name, title)


def contact_center_minutes(rows: list[dict], name: str) -> str:
    """Inbound and outbound billable minutes per contact-center account (top 25), stacked; hatched when the
    surcharge is still to be discussed."""
    title = "Contact-center minutes by account"
    rows = rows[:MAX_BARS][::-1]
    with matplotlib.rc_context(RC):
        fig = _figure(6.4, 1.1 + 0.28 * max(len(rows), 2))
        ax = fig.add_subplot()
        if not rows:
            _empty(fig, ax, "no contact-center account this month")
            return to_svg(fig, name, title)
        y = list(range(len(rows)))
        inbound = [float(r["inbound_minutes"] or 0) for r in rows]
        outbound = [float(r["outbound_minutes"] or 0) for r in rows]
        hatch = ["////" if r["status"] != "apply" else "" for r in rows]
        ax.barh(y, inbound, color="#26a69a", hatch=hatch, edgecolor="white", linewidth=0.5, label="inbound")
        ax.barh(y, outbound, left=inbound, color="#ffa726", hatch=hatch, edgecolor="white", linewidth=0.5,
                label="outbound")
        for yi, r, a, b in zip(y, rows, inbound, outbound, strict=True):
            ax.annotate(f"{fmt_num(a + b, 0)} min · {'to discuss' if r['status'] != 'apply' else 'surcharge applies'}",
                        (a + b, yi), xytext=(3, 0), textcoords="offset points", va="center", fontsize=7.5)
        ax.set_yticks(y, [r["account_id"] for r in rows])
        ax.set_xlabel("billable minutes (internal calls excluded)")
        ax.margins(x=0.35)
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: fmt_num(v, 0)))
        ax.grid(axis="x", color="#eeeeee", linewidth=0.6)
        ax.set_axisbelow(True)
        handles = [Patch(color="#26a69a", label="inbound"), Patch(color="#ffa726", label="outbound"),
                   Patch(facecolor="white", edgecolor="#616161", hatch="////", label="pending discussion")]
        fig.legend(handles=handles, loc="outside lower center", ncols=3, frameon=False, fontsize=7.5)
    return to_svg(fig, name, title)


def prohibited_by_pattern(counts: dict[str, int], name: str) -> str:
    """Prohibited-use flags per pattern, every pattern shown (zeros too)."""
    title = "Prohibited-use flags by pattern"
    items = list(counts.items())[::-1]
    with matplotlib.rc_context(RC):
        fig = _figure(6.4, 0.9 + 0.3 * len(items))
        ax = fig.add_subplot()
        y = list(range(len(items)))
        ax.barh(y, [n for _, n in items], color="#8d6e63")
        for yi, (_, n) in zip(y, items, strict=True):
            ax.annotate(fmt_num(n), (n, yi), xytext=(3, 0), textcoords="offset points", va="center", fontsize=8)
        ax.set_yticks(y, [PATTERN_LABELS.get(p, p) for p, _ in items])
        ax.set_xlabel("flags (user × pattern)")
        ax.set_xlim(0, max([n for _, n in items] + [1]) * 1.15)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(axis="x", color="#eeeeee", linewidth=0.6)
        ax.set_axisbelow(True)
    return to_svg(fig, name, title)
