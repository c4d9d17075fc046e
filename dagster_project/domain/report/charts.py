"""Charts of the monthly report: matplotlib figures rendered to SVG text, to be inlined in the HTML.

matplotlib is imported inside the functions, never when this module is imported (the pipeline's other steps and
the CLI do not pay for it), and only through its object API: a `Figure` saved as SVG, no pyplot, so no global
figure state and no interactive backend. Deterministic bytes, so that an unchanged re-run rewrites nothing: a fixed
`svg.hashsalt` per chart, no date or creator in the metadata, ids prefixed with the chart's name (stable, and unique
between the charts of one page). Text stays text (`svg.fonttype: none`: small, searchable), laid out with the
metrics of DejaVu Sans, the font that ships with matplotlib, so the layout does not depend on the machine's fonts.
Marks given a `gid` get a hover title (<title>) with their numbers.

Every chart takes the few aggregated rows that data.py queried.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterable
from typing import TYPE_CHECKING

from dagster_project.domain.report.fmt import METRIC_LABELS, METRIC_UNITS, PATTERN_LABELS, fmt_num

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

THRESHOLD_COLOR = "#c62828"
BOX_COLOR = "#90caf9"
METRIC_COLORS = {"calls": "#1565c0", "call_minutes": "#2e7d32", "team_chats": "#ef6c00", "messages": "#6a1b9a",
                 "any": "#424242"}
INBOUND_COLOR = "#26a69a"
OUTBOUND_COLOR = "#ffa726"
PATTERN_COLOR = "#8d6e63"
MAX_COLOR = "#455a64"
WHISKER_COLOR = "#64b5f6"
BOX_EDGE = "#1e88e5"
MEDIAN_COLOR = "#0d47a1"
MUTED = "#616161"
GRID_COLOR = "#eeeeee"
MAX_BARS = 25

WIDTH = 6.4  # inches (460.8 pt); the page scales every chart to its column
FONT_SIZE = 9  # points: tick and category labels
SMALL = 7.5  # legends and bar notes
LABEL_SHARE = 0.4  # the widest category label, as a share of the chart's width; longer ones are shortened
RC = {
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],  # ships with matplotlib; the SVG names it (then sans-serif) for browsers
    "font.size": FONT_SIZE,
    "text.color": "#212121",
    "text.parse_math": False,  # a "$" in a plan or account name is text
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#757575",
    "axes.labelcolor": MUTED,
    "xtick.color": "#757575",
    "ytick.color": "#757575",
    "xtick.labelcolor": "#424242",
    "ytick.labelcolor": "#212121",
    "legend.fontsize": SMALL,
    "legend.frameon": False,
    "svg.fonttype": "none",
}


def _mpl():
    """matplotlib, imported on first use (about half a second): the report's step pays for it, nothing else."""
    import matplotlib
    import matplotlib.figure
    import matplotlib.lines
    import matplotlib.patches
    import matplotlib.textpath
    import matplotlib.ticker

    return matplotlib


def text_width(text: str, size: float = FONT_SIZE) -> float:
    """Width in points of `text` set in DejaVu Sans at `size`, as matplotlib lays it out."""
    mpl = _mpl()
    prop = mpl.font_manager.FontProperties(family="DejaVu Sans", size=size)
    return mpl.textpath.text_to_path.get_text_width_height_descent(text, prop, ismath=False)[0]


def _shorten(text: str, max_width: float, size: float = FONT_SIZE) -> str:
    """`text`, cut with an ellipsis if it is wider than `max_width` points."""
    if text_width(text, size) <= max_width:
        return text
    while text and text_width(text.rstrip() + "…", size) > max_width:
        text = text[:-1]
    return text.rstrip() + "…"


def _wrap(text: str, max_width: float, size: float = FONT_SIZE) -> str:
    """`text` on one line if it fits, else on two lines of about equal length (the second shortened if need be)."""
    if text_width(text, size) <= max_width or " " not in text:
        return _shorten(text, max_width, size)
    first, *rest = textwrap.wrap(text, width=len(text) // 2 + 1, break_long_words=False)
    return f"{_shorten(first, max_width, size)}\n{_shorten(' '.join(rest), max_width, size)}"


def _figure(height: float) -> tuple[Figure, Axes]:
    mpl = _mpl()
    with mpl.rc_context(RC):
        fig = mpl.figure.Figure(figsize=(WIDTH, height), layout="constrained")
        fig.get_layout_engine().set(w_pad=2 / 72, h_pad=2 / 72)
        return fig, fig.add_subplot()


def _svg(fig: Figure, name: str, title: str, tooltips: dict[str, str] | None = None) -> str:
    """The figure as an inline <svg> element: no XML prologue or metadata, ids prefixed with `name`, the default
    style scoped to this chart, an accessible title, and a <title> in each group whose gid is in `tooltips`."""
    import io

    mpl = _mpl()
    buf = io.StringIO()
    with mpl.rc_context({**RC, "svg.hashsalt": f"fairuse-{name}"}):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    svg = buf.getvalue()
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r"\s*<metadata>.*?</metadata>", "", svg, count=1, flags=re.S)
    # Plain element ids (figure_1, axes_1, ...) repeat across charts; prefix them so the page's ids are unique.
    svg = re.sub(r'\bid="([^"]+)"', lambda mo: f'id="{name}-{mo.group(1)}"', svg)
    svg = re.sub(r'(xlink:href|href)="#([^"]+)"', lambda mo: f'{mo.group(1)}="#{name}-{mo.group(2)}"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", lambda mo: f"url(#{name}-{mo.group(1)})", svg)
    # matplotlib's default style is a `*{...}` rule: inline in a page it would apply to every element of the page.
    svg = svg.replace("*{stroke-linejoin", f'svg[data-chart="{name}"] *{{stroke-linejoin', 1)
    for gid, tip in (tooltips or {}).items():
        svg = svg.replace(f'<g id="{name}-{gid}">', f'<g id="{name}-{gid}">\n  <title>{_escape(tip)}</title>', 1)
    head = f'<svg class="chart" role="img" aria-label="{_escape(title)}" data-chart="{name}"'
    svg = svg.replace("<svg", head, 1)
    svg = svg.replace(">", f">\n <title>{_escape(title)}</title>", 1)
    return svg.strip() + "\n"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")


def _empty(ax: Axes, text: str) -> None:
    ax.set_axis_off()
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color=MUTED, style="italic")


def _style_value_axis(ax: Axes, axis: str) -> None:
    """Light grid lines behind the marks along the value axis; values written as the report writes numbers."""
    mpl = _mpl()
    ax.grid(axis=axis, color=GRID_COLOR, linewidth=0.6)
    ax.set_axisbelow(True)
    getattr(ax, f"{axis}axis").set_major_formatter(mpl.ticker.FuncFormatter(lambda v, _: fmt_num(v, 0)))


def cohort_distribution(metric: str, rows: list[dict], flagged: Iterable[float | tuple], name: str) -> str:
    """One row per cohort (country x plan): box p25-p75 with the median, whiskers p5-p95, the maximum, the flagged
    users as crosses and the published threshold as a red bar. Log-like (symlog) axis: usage is very skewed."""
    mpl = _mpl()
    rows = sorted(rows, key=lambda r: (r["country"], r["plan"]))  # alphabetical, top-down
    heading = METRIC_LABELS.get(metric, metric)
    title = f"{heading}: per-user distribution by cohort"
    with mpl.rc_context(RC):
        fig, ax = _figure(1.15 + 0.26 * max(len(rows), 2) + (0.45 if rows else 0))
        fig.suptitle(heading, x=0.01, ha="left", fontsize=10, fontweight="bold")
        if not rows:
            _empty(ax, "no users this month")
            return _svg(fig, name, title)

        def num(v) -> float:
            return float(v or 0)

        labels = [f"{r['country']} · {r['plan']} (n={fmt_num(r['users'])})"
                  + ("" if r["threshold_value"] is not None else ", not free") for r in rows]
        pos = list(range(len(rows)))
        tips: dict[str, str] = {}
        for i, (r, label) in enumerate(zip(rows, labels, strict=True)):  # the box plot of the warehouse's percentiles
            tips[f"box-{i}"] = (
                f"{label}: p5 {fmt_num(num(r['p05']))}, p25 {fmt_num(num(r['q1']))}, median "
                f"{fmt_num(num(r['median']))}, p75 {fmt_num(num(r['q3']))}, p95 {fmt_num(num(r['p95']))}, highest "
                f"{fmt_num(num(r['max_value']))}"
                + (f", threshold {fmt_num(r['threshold_value'])}" if r["threshold_value"] is not None else ""))
        stats = [{"whislo": num(r["p05"]), "q1": num(r["q1"]), "med": num(r["median"]), "q3": num(r["q3"]),
                  "whishi": num(r["p95"]), "fliers": []} for r in rows]
        parts = ax.bxp(stats, positions=pos, orientation="horizontal", widths=0.55, patch_artist=True,
                       showfliers=False, boxprops={"facecolor": BOX_COLOR, "edgecolor": BOX_EDGE, "linewidth": 0.8},
                       medianprops={"color": MEDIAN_COLOR, "linewidth": 1.6},
                       whiskerprops={"color": WHISKER_COLOR}, capprops={"color": WHISKER_COLOR})
        for i, box in enumerate(parts["boxes"]):
            box.set_gid(f"box-{i}")
        ax.plot([num(r["max_value"]) for r in rows], pos, linestyle="", marker="D", markersize=4.5, color=MAX_COLOR,
                gid="max", zorder=3)
        index = {(r["country"], r["plan"]): i for i, r in enumerate(rows)}
        points = [(num(f[2]), pos[index[(f[0], f[1])]]) for f in flagged if (f[0], f[1]) in index]
        if points:
            ax.plot(*zip(*points, strict=True), linestyle="", marker="x", markersize=5, markeredgewidth=1.1,
                    color=THRESHOLD_COLOR, gid="flagged", zorder=4)
        for i, r in enumerate(rows):
            if r["threshold_value"] is not None:
                ax.plot([num(r["threshold_value"])] * 2, [i - 0.42, i + 0.42], color=THRESHOLD_COLOR, linewidth=2.4,
                        solid_capstyle="butt", gid=f"threshold-{i}", zorder=5)
                tips[f"threshold-{i}"] = f"{labels[i]}: published threshold {fmt_num(r['threshold_value'])}"
        ax.set_xscale("symlog", linthresh=10)
        ax.set_xlim(left=0)
        max_label = WIDTH * 72 * LABEL_SHARE
        ticks = ax.set_yticks(pos, [_shorten(s, max_label) for s in labels])
        for i, (tick, label) in enumerate(zip(ticks, labels, strict=True)):
            if tick.label1.get_text() != label:  # shortened: the whole label on hover
                tick.label1.set_gid(f"label-{i}")
                tips[f"label-{i}"] = label
        ax.set_ylim(len(rows) - 0.4, -0.6)  # first row on top
        _style_value_axis(ax, "x")
        ax.set_xlabel(f"{METRIC_UNITS.get(metric, metric)} per user this month (logarithmic above 10)")
        lines, patches = mpl.lines, mpl.patches
        handles = [patches.Patch(facecolor=BOX_COLOR, edgecolor=BOX_EDGE, label="middle half (p25–p75), median"),
                   lines.Line2D([], [], color=WHISKER_COLOR, label="p5–p95"),
                   lines.Line2D([], [], marker="D", markersize=4.5, linestyle="", color=MAX_COLOR, label="highest"),
                   lines.Line2D([], [], marker="x", markersize=5, linestyle="", color=THRESHOLD_COLOR,
                                label="flagged user"),
                   lines.Line2D([], [], color=THRESHOLD_COLOR, linewidth=2.4,
                                label="published threshold (none where the offering is not free)")]
        fig.legend(handles=handles, loc="outside lower center", ncols=2)
        return _svg(fig, name, title, tips)


def flagged_trend(months: list[str], rows: list[dict], name: str) -> str:
    """Flagged users per metric (and in any metric) over the built months of the last 12."""
    mpl = _mpl()
    title = "Flagged users by metric, last 12 months"
    counts = {(r["month"], r["metric"]): int(r["users"] or 0) for r in rows}
    with mpl.rc_context(RC):
        fig, ax = _figure(3.6 if months else 1.6)
        if not months:
            _empty(ax, "no month built")
            return _svg(fig, name, title)
        x = list(range(len(months)))
        tips = {}
        top = 0
        for metric in ("any", *METRIC_LABELS):
            y = [counts.get((mo, metric), 0) for mo in months]
            top = max(top, *y)
            label = "any metric (users)" if metric == "any" else METRIC_LABELS[metric]
            ax.plot(x, y, marker="o", markersize=3.5, linewidth=2.4 if metric == "any" else 1.4,
                    linestyle="--" if metric == "any" else "-", color=METRIC_COLORS[metric], label=label,
                    gid=f"series-{metric}")
            tips[f"series-{metric}"] = f"{label}: " + ", ".join(f"{mo} {fmt_num(v)}" for mo, v in zip(months, y,
                                                                                                      strict=True))
        rotate = len(months) > 6
        ax.set_xticks(x, months, rotation=45 if rotate else 0, ha="right" if rotate else "center",
                      rotation_mode="anchor" if rotate else "default")
        ax.set_xlim(-0.5, len(months) - 0.5)
        ax.set_ylim(0, max(top, 1) * 1.08)
        ax.yaxis.set_major_locator(mpl.ticker.MaxNLocator(nbins=5, steps=[1, 2, 5, 10], integer=True))
        _style_value_axis(ax, "y")
        ax.set_ylabel("flagged users")
        fig.legend(loc="outside lower center", ncols=2)
        return _svg(fig, name, title, tips)


def contact_center_minutes(rows: list[dict], name: str) -> str:
    """Inbound and outbound billable minutes per contact-center account (top 25), stacked; hatched when the
    surcharge is still to be discussed."""
    mpl = _mpl()
    title = "Contact-center minutes by account"
    rows = rows[:MAX_BARS]  # the largest first, drawn top-down
    with mpl.rc_context(RC):
        fig, ax = _figure(1.1 + 0.28 * max(len(rows), 2) if rows else 1.4)
        if not rows:
            _empty(ax, "no contact-center account this month")
            return _svg(fig, name, title)
        y = list(range(len(rows)))
        inbound = [float(r["inbound_minutes"] or 0) for r in rows]
        outbound = [float(r["outbound_minutes"] or 0) for r in rows]
        pending = [r["status"] != "apply" for r in rows]
        ids = [str(r["account_id"]) for r in rows]
        hatch = ["////" if p else "" for p in pending]
        bars_in = ax.barh(y, inbound, height=0.8, color=INBOUND_COLOR, hatch=hatch, edgecolor="white",
                          linewidth=0.5)
        bars_out = ax.barh(y, outbound, height=0.8, left=inbound, color=OUTBOUND_COLOR, hatch=hatch,
                           edgecolor="white", linewidth=0.5)
        tips = {}
        for i, (acc, a, b, p) in enumerate(zip(ids, inbound, outbound, pending, strict=True)):
            bars_in[i].set_gid(f"inbound-{i}")
            bars_out[i].set_gid(f"outbound-{i}")
            tip = (f"{acc}: inbound {fmt_num(a, 0)} min, outbound {fmt_num(b, 0)} min, "
                   f"{'to discuss' if p else 'surcharge applies'}")
            tips[f"inbound-{i}"] = tips[f"outbound-{i}"] = tip
            ax.annotate(f"{fmt_num(a + b, 0)} min · {'to discuss' if p else 'surcharge applies'}", (a + b, i),
                        xytext=(3, 0), textcoords="offset points", va="center", fontsize=SMALL)
        ax.set_yticks(y, [_shorten(s, WIDTH * 72 * 0.3) for s in ids])
        ax.set_ylim(len(rows) - 0.5, -0.5)  # the largest on top
        ax.set_xlim(0, max([a + b for a, b in zip(inbound, outbound, strict=True)] + [1]) * 1.02)
        _style_value_axis(ax, "x")
        ax.set_xlabel("billable minutes (internal calls excluded)")
        patches = mpl.patches
        handles = [patches.Patch(color=INBOUND_COLOR, label="inbound"),
                   patches.Patch(color=OUTBOUND_COLOR, label="outbound"),
                   patches.Patch(facecolor="white", edgecolor=MUTED, hatch="////", label="pending discussion")]
        fig.legend(handles=handles, loc="outside lower center", ncols=3)
        return _svg(fig, name, title, tips)


def prohibited_by_pattern(counts: dict[str, int], name: str) -> str:
    """Prohibited-use flags per pattern, every pattern shown (zeros too)."""
    mpl = _mpl()
    title = "Prohibited-use flags by pattern"
    items = list(counts.items())  # in the given order, top-down
    with mpl.rc_context(RC):
        fig, ax = _figure(0.75 + 0.34 * len(items) if items else 1.2)
        if not items:
            _empty(ax, "no pattern to show")
            return _svg(fig, name, title)
        y = list(range(len(items)))
        values = [int(n or 0) for _, n in items]
        bars = ax.barh(y, values, height=0.72, color=PATTERN_COLOR)
        for i, ((pattern, _), v) in enumerate(zip(items, values, strict=True)):
            bars[i].set_gid(f"bar-{pattern}")
            ax.annotate(fmt_num(v), (v, i), xytext=(3, 0), textcoords="offset points", va="center")
        ax.set_yticks(y, [_wrap(PATTERN_LABELS.get(p, p), WIDTH * 72 * 0.42) for p, _ in items])
        ax.set_ylim(len(items) - 0.5, -0.5)
        ax.set_xlim(0, max([*values, 1]) * 1.15)
        ax.xaxis.set_major_locator(mpl.ticker.MaxNLocator(integer=True))
        _style_value_axis(ax, "x")
        ax.set_xlabel("flags (user × pattern)")
        tips = {f"bar-{p}": f"{PATTERN_LABELS.get(p, p)}: {fmt_num(v)}"
                for (p, _), v in zip(items, values, strict=True)}
        return _svg(fig, name, title, tips)
