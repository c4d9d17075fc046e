"""Charts of the monthly report: SVG written directly as text, to be inlined in the HTML.

No plotting library: a chart is a few dozen shapes, and building them as strings costs milliseconds where
importing and running matplotlib cost seconds. Deterministic: no randomness, no clock, coordinates with at most
two decimals, ids prefixed with the chart's name (stable, and unique between the charts of one page). Text is kept
as text (searchable, small); a viewBox lets the page scale each chart. Label widths are estimated from the advance
widths of DejaVu Sans (the font asked for; browsers falling back to another sans are narrower, never wider), so
long labels are wrapped or truncated (full text in a tooltip) instead of overlapping.

Every chart takes the few aggregated rows that data.py queried.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence

from dagster_project.domain.report.fmt import METRIC_LABELS, METRIC_UNITS, PATTERN_LABELS, fmt_num

THRESHOLD_COLOR = "#c62828"
BOX_COLOR = "#90caf9"
METRIC_COLORS = {"calls": "#1565c0", "call_minutes": "#2e7d32", "team_chats": "#ef6c00", "messages": "#6a1b9a",
                 "any": "#424242"}
MAX_BARS = 25

WIDTH = 560  # viewBox units (CSS px when shown at natural size)
FONT_FAMILY = "DejaVu Sans, Verdana, Arial, sans-serif"
FONT_SIZE = 11  # tick and category labels
SMALL = 10  # legends and bar annotations
TITLE_SIZE = 13
TEXT_COLOR = "#212121"
MUTED = "#616161"
AXIS_COLOR = "#757575"
GRID_COLOR = "#eeeeee"
INBOUND_COLOR = "#26a69a"
OUTBOUND_COLOR = "#ffa726"
PATTERN_COLOR = "#8d6e63"
MAX_COLOR = "#455a64"
WHISKER_COLOR = "#64b5f6"
BOX_EDGE = "#1e88e5"
MEDIAN_COLOR = "#0d47a1"

# Advance widths of DejaVu Sans, per 1000 units of font size, for the characters " " to "~"; then a few others.
_ASCII_WIDTHS = (
    318, 401, 460, 838, 636, 950, 780, 275, 390, 390, 500, 838, 318, 361, 318, 337, 636, 636, 636, 636, 636, 636,
    636, 636, 636, 636, 337, 337, 838, 838, 838, 531, 1000, 684, 686, 698, 770, 632, 575, 775, 752, 295, 295, 656,
    557, 863, 748, 787, 603, 787, 695, 635, 611, 732, 684, 989, 685, 611, 685, 390, 337, 390, 838, 500, 500, 613,
    635, 550, 635, 615, 352, 635, 634, 278, 278, 579, 278, 974, 634, 612, 635, 635, 411, 521, 392, 634, 592, 818,
    592, 592, 525, 636, 337, 636, 838)
_OTHER_WIDTHS = {"·": 318, "×": 838, "–": 500, "—": 1000, "…": 1000, "’": 318}
_BOLD = 1.1  # DejaVu Sans Bold is about a tenth wider


# ------------------------------------------------------------------------------------------------ primitives

def _n(v: float) -> str:
    """A coordinate: fixed precision (two decimals), no trailing zeros, no negative zero."""
    s = f"{v:.2f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def _esc(text: str) -> str:
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;"))


def text_width(text: str, size: float, bold: bool = False) -> float:
    """Estimated rendered width of `text` in DejaVu Sans at `size`."""
    units = 0
    for ch in text:
        o = ord(ch)
        units += _ASCII_WIDTHS[o - 32] if 32 <= o < 127 else _OTHER_WIDTHS.get(ch, 700)
    return units * size / 1000 * (_BOLD if bold else 1)


def _truncate(text: str, size: float, max_width: float) -> str:
    if text_width(text, size) <= max_width:
        return text
    while text and text_width(text.rstrip() + "…", size) > max_width:
        text = text[:-1]
    return text.rstrip() + "…"


def _wrap(text: str, size: float, max_width: float, max_lines: int = 2) -> list[str]:
    """`text` on one line if it fits, else on two lines of about equal width (at a space), else truncated."""
    if text_width(text, size) <= max_width or max_lines < 2:
        return [_truncate(text, size, max_width)]
    words = text.split(" ")
    splits = [(" ".join(words[:i]), " ".join(words[i:])) for i in range(1, len(words))]
    fitting = [s for s in splits if max(text_width(part, size) for part in s) <= max_width]
    if fitting:
        return list(min(fitting, key=lambda s: max(text_width(part, size) for part in s)))
    first = max((s for s in splits if text_width(s[0], size) <= max_width), key=lambda s: len(s[0]), default=None)
    if first is None:
        return [_truncate(text, size, max_width)]
    return [first[0], _truncate(first[1], size, max_width)]


def _text(x: float, y: float, text: str, *, anchor: str = "start", valign: str = "middle", size: float | None = None,
          color: str | None = None, bold: bool = False, rotate: float = 0, tooltip: str | None = None,
          cls: str | None = None) -> str:
    """A <text>; valign 'middle' centres it on y, 'top' hangs it from y, 'baseline' sits on y."""
    attrs = [f'x="{_n(x)}"', f'y="{_n(y)}"']
    dy = {"middle": "0.35em", "top": "0.8em", "baseline": None}[valign]
    if dy:
        attrs.append(f'dy="{dy}"')
    if anchor != "start":
        attrs.append(f'text-anchor="{anchor}"')
    if size is not None:
        attrs.append(f'font-size="{_n(size)}"')
    if color is not None:
        attrs.append(f'fill="{color}"')
    if bold:
        attrs.append('font-weight="bold"')
    if rotate:
        attrs.append(f'transform="rotate({_n(rotate)} {_n(x)} {_n(y)})"')
    if cls:
        attrs.append(f'class="{cls}"')
    inner = _esc(text) + (f"<title>{_esc(tooltip)}</title>" if tooltip and tooltip != text else "")
    return f"<text {' '.join(attrs)}>{inner}</text>"


def _label_lines(x: float, y: float, lines: list[str], line_height: float, *, anchor: str = "end",
                 tooltip: str | None = None) -> str:
    """A category label of one or more lines, centred vertically on y."""
    if len(lines) == 1:
        return _text(x, y, lines[0], anchor=anchor, tooltip=tooltip)
    top = y - line_height * (len(lines) - 1) / 2
    spans = "".join(f'<tspan x="{_n(x)}" y="{_n(top + i * line_height)}" dy="0.35em">{_esc(line)}</tspan>'
                    for i, line in enumerate(lines))
    tip = f"<title>{_esc(tooltip)}</title>" if tooltip else ""
    return f'<text text-anchor="{anchor}">{spans}{tip}</text>'


def _stroke(d: str, color: str, width: float, *, dash: str | None = None, cls: str | None = None) -> str:
    extra = (f' stroke-dasharray="{dash}"' if dash else "") + (f' class="{cls}"' if cls else "")
    return f'<path d="{d}" fill="none" stroke="{color}" stroke-width="{_n(width)}"{extra}/>'


def _hline(x0: float, x1: float, y: float) -> str:
    return f"M{_n(x0)} {_n(y)}H{_n(x1)}"


def _vline(x: float, y0: float, y1: float) -> str:
    return f"M{_n(x)} {_n(y0)}V{_n(y1)}"


def _rect_d(x: float, y: float, w: float, h: float) -> str:
    return f"M{_n(x)} {_n(y)}h{_n(w)}v{_n(h)}h{_n(-w)}Z"


def _rect(x: float, y: float, w: float, h: float, fill: str, *, stroke: str | None = None, width: float = 0,
          cls: str | None = None) -> str:
    extra = (f' stroke="{stroke}" stroke-width="{_n(width)}"' if stroke else "") + (f' class="{cls}"' if cls else "")
    return f'<path d="{_rect_d(x, y, w, h)}" fill="{fill}"{extra}/>'


def _diamond_d(x: float, y: float, r: float) -> str:
    return f"M{_n(x)} {_n(y - r)}L{_n(x + r)} {_n(y)}L{_n(x)} {_n(y + r)}L{_n(x - r)} {_n(y)}Z"


def _cross_d(x: float, y: float, r: float) -> str:
    return f"M{_n(x - r)} {_n(y - r)}L{_n(x + r)} {_n(y + r)}M{_n(x - r)} {_n(y + r)}L{_n(x + r)} {_n(y - r)}"


def _circle_d(x: float, y: float, r: float) -> str:
    return f"M{_n(x - r)} {_n(y)}a{_n(r)} {_n(r)} 0 1 0 {_n(2 * r)} 0a{_n(r)} {_n(r)} 0 1 0 {_n(-2 * r)} 0Z"


def _hatch_pattern(pid: str, color: str, width: float) -> str:
    """Diagonal lines ('////'), drawn over a bar's fill."""
    return (f'<pattern id="{pid}" patternUnits="userSpaceOnUse" width="5" height="5" '
            f'patternTransform="rotate(45)"><path d="M0 0V5" stroke="{color}" stroke-width="{_n(width)}"/></pattern>')


def _svg(name: str, title: str, height: float, body: list[str], defs: Sequence[str] = ()) -> str:
    """The chart as an inline <svg>: scalable (viewBox), accessible (role, aria-label, <title>), stable ids."""
    h = math.ceil(height)
    head = (f'<svg class="chart" role="img" aria-label="{_esc(title)}" data-chart="{_esc(name)}" '
            f'xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {h}" width="{WIDTH}" height="{h}" '
            f'font-family="{FONT_FAMILY}" font-size="{FONT_SIZE}" fill="{TEXT_COLOR}">')
    parts = [head, f"<title>{_esc(title)}</title>"]
    if defs:
        parts.append(f"<defs>{''.join(defs)}</defs>")
    parts += body
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _empty(name: str, title: str, message: str, height: float, heading: str | None = None) -> str:
    body = [_text(8, 16, heading, size=TITLE_SIZE, bold=True)] if heading else []
    body.append(_text(WIDTH / 2, height / 2, message, anchor="middle", color=MUTED, cls="empty"))
    return _svg(name, title, height, body)


# ------------------------------------------------------------------------------------------------ scales, ticks

class Linear:
    """Maps [d0, d1] onto [r0, r1]."""

    def __init__(self, d0: float, d1: float, r0: float, r1: float):
        self.d0, self.d1, self.r0, self.r1 = d0, d1 if d1 != d0 else d0 + 1, r0, r1

    def __call__(self, v: float) -> float:
        return self.r0 + (v - self.d0) / (self.d1 - self.d0) * (self.r1 - self.r0)


class Symlog:
    """Linear from 0 to `linthresh`, logarithmic above it (base 10); [0, dmax] (at least [0, linthresh]) onto
    [r0, r1], with `headroom` (a fraction of the axis) left after dmax."""

    def __init__(self, dmax: float, r0: float, r1: float, linthresh: float = 10, headroom: float = 0.0):
        self.linthresh, self.r0, self.r1 = linthresh, r0, r1
        self.tmax = max(self.t(dmax), 1.0) * (1 + headroom)

    def t(self, v: float) -> float:
        a = abs(v)
        t = a / self.linthresh if a <= self.linthresh else 1 + math.log10(a / self.linthresh)
        return math.copysign(t, v)

    @property
    def vmax(self) -> float:
        """The value at the end of the axis."""
        return self.tmax * self.linthresh if self.tmax <= 1 else self.linthresh * 10 ** (self.tmax - 1)

    def __call__(self, v: float) -> float:
        return self.r0 + self.t(v) / self.tmax * (self.r1 - self.r0)


def nice_step(span: float, target: int = 5, integer: bool = False) -> float:
    """The 1-2-5 step (times a power of ten) giving about `target` intervals over `span`."""
    raw = max(span, 1e-12) / max(target, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw * (1 - 1e-9))
    return max(step, 1.0) if integer else step


def linear_ticks(hi: float, step: float) -> list[float]:
    """0, step, 2 step, ... up to hi (inclusive)."""
    return [round(k * step, 10) for k in range(int(math.floor(hi / step + 1e-9)) + 1)]


def _labels_fit(positions: list[float], labels: list[str], size: float, gap: float = 6) -> bool:
    spans = sorted((p - text_width(s, size) / 2, p + text_width(s, size) / 2) for p, s in zip(positions, labels,
                                                                                             strict=True))
    return all(a[1] + gap <= b[0] for a, b in zip(spans, spans[1:], strict=False))


def linear_axis_ticks(hi: float, scale_for: Callable[[float], Callable[[float], float]], *, integer: bool = False,
                      extend: bool = True, fmt: Callable[[float], str] = lambda v: fmt_num(v, 0),
                      vertical: bool = False) -> tuple[float, list[float]]:
    """(domain max, ticks) of a linear axis from 0: the densest 1-2-5 ticks (about 5 to 2) whose labels do not
    overlap. `extend` rounds the domain up to the next tick; `scale_for(domain_max)` gives the scale."""
    hi = hi if hi > 0 else 1.0
    chosen: tuple[float, list[float]] | None = None
    for target in (6, 5, 4, 3, 2, 1):
        step = nice_step(hi, target, integer)
        top = math.ceil(hi / step - 1e-9) * step if extend else hi
        ticks = linear_ticks(top, step)
        scale = scale_for(top)
        chosen = (top, ticks)
        if vertical:
            if abs(scale(0) - scale(step)) >= FONT_SIZE * 1.6:
                break
        elif _labels_fit([scale(t) for t in ticks], [fmt(t) for t in ticks], FONT_SIZE):
            break
    assert chosen is not None
    return chosen


def symlog_ticks(scale: Symlog) -> tuple[list[float], list[float]]:
    """(labelled, minor) ticks of a symlog axis: 1-2-5 values on a short axis (when they fit), else powers of ten
    (every other one, or third, when even these crowd). Minor ticks at 2..9 times each power of ten."""
    top = scale.vmax * (1 + 1e-9)
    decades = [10.0 ** k for k in range(0, 16) if 10.0 ** k <= top and 10.0 ** k >= scale.linthresh]
    dense = [0.0, *(v for v in (scale.linthresh / 2, *(m * d for d in decades for m in (1, 2, 5))) if v <= top)]
    candidates = [[0.0, *decades], [0.0, *decades[::2]], [0.0, *decades[::3]]]
    if top <= scale.linthresh * 100:  # two decades or less: 1-2-5 values, if they fit
        candidates.insert(0, dense)
    labelled = candidates[-1]
    for c in candidates:
        if _labels_fit([scale(v) for v in c], [fmt_num(v, 0) for v in c], FONT_SIZE):
            labelled = c
            break
    minor = [m * d for d in decades for m in range(2, 10) if m * d <= top and m * d not in labelled]
    return labelled, minor


def _x_axis(scale: Callable[[float], float], ticks: list[float], y: float, y_top: float, x0: float, x1: float,
            *, minor: Iterable[float] = (), fmt: Callable[[float], str] = lambda v: fmt_num(v, 0)) -> list[str]:
    """Vertical grid lines, the bottom axis line, tick marks and labels."""
    grid = "".join(_vline(scale(t), y_top, y) for t in ticks if t > 0)
    out = [_stroke(grid, GRID_COLOR, 0.8)] if grid else []
    marks = "".join(_vline(scale(t), y, y + 4) for t in ticks) + "".join(_vline(scale(t), y, y + 2) for t in minor)
    out.append(_stroke(_hline(x0, x1, y) + marks, AXIS_COLOR, 0.8, cls="axis"))
    labels = "".join(_text(scale(t), y + 6, fmt(t), anchor="middle", valign="top") for t in ticks)
    out.append(f'<g class="tick-labels" fill="#424242">{labels}</g>')
    return out


def _y_categories(x_axis: float, y0: float, y1: float, centers: list[float], labels: list[list[str]],
                  tooltips: list[str | None], line_height: float) -> list[str]:
    """The left axis line with a tick and a (possibly wrapped) label per category."""
    ticks = "".join(f"M{_n(x_axis - 4)} {_n(c)}H{_n(x_axis)}" for c in centers)
    out = [_stroke(_vline(x_axis, y0, y1) + ticks, AXIS_COLOR, 0.8, cls="axis")]
    text = "".join(_label_lines(x_axis - 7, c, lines, line_height, tooltip=tip)
                   for c, lines, tip in zip(centers, labels, tooltips, strict=True))
    out.append(f'<g class="category-labels">{text}</g>')
    return out


def _legend(items: list[tuple[Callable[[float, float], str], str]], y: float, ncols: int,
            size: float = SMALL) -> tuple[list[str], float]:
    """Legend entries (swatch drawer, label), filled column by column, centred under the chart; (parts, height).
    Fewer columns when they do not fit; labels truncated as a last resort."""
    swatch, pad, gap, row_h = 22, 6, 22, size * 1.6
    avail = WIDTH - 16
    for cols in range(max(ncols, 1), 0, -1):
        rows = math.ceil(len(items) / cols)
        columns = [items[c * rows:(c + 1) * rows] for c in range(cols)]
        widths = [max(swatch + pad + text_width(label, size) for _, label in col) for col in columns if col]
        total = sum(widths) + gap * (len(widths) - 1)
        if total <= avail or cols == 1:
            break
    parts = ['<g class="legend">']
    x = max((WIDTH - min(total, avail)) / 2, 8)
    for col, w in zip(columns, widths, strict=False):
        for r, (draw, label) in enumerate(col):
            cy = y + row_h * (r + 0.5)
            parts.append(draw(x, cy))
            parts.append(_text(x + swatch + pad, cy, _truncate(label, size, avail - swatch - pad), size=size,
                               tooltip=label))
        x += w + gap
    parts.append("</g>")
    return parts, rows * row_h


def _swatch_box(fill: str, stroke: str | None = None, pattern: str | None = None) -> Callable[[float, float], str]:
    def draw(x: float, cy: float) -> str:
        out = _rect(x + 3, cy - 5, 16, 10, fill, stroke=stroke, width=0.8 if stroke else 0)
        return out + (_rect(x + 3, cy - 5, 16, 10, f"url(#{pattern})") if pattern else "")
    return draw


def _swatch_line(color: str, width: float, dash: str | None = None,
                 marker: Callable[[float, float], str] | None = None) -> Callable[[float, float], str]:
    def draw(x: float, cy: float) -> str:
        return _stroke(_hline(x, x + 22, cy), color, width, dash=dash) + (marker(x + 11, cy) if marker else "")
    return draw


# ------------------------------------------------------------------------------------------------ charts

def cohort_distribution(metric: str, rows: list[dict], flagged: Iterable[float | tuple], name: str) -> str:
    """One row per cohort (country x plan): box p25-p75 with the median, whiskers p5-p95, the maximum, the flagged
    users as crosses and the published threshold as a red bar. Log-like (symlog) axis: usage is very skewed."""
    rows = sorted(rows, key=lambda r: (r["country"], r["plan"]))  # top-down alphabetical
    heading = METRIC_LABELS.get(metric, metric)
    title = f"{heading}: per-user distribution by cohort"
    row_h = 20
    if not rows:
        return _empty(name, title, "no users this month", 28 + 3 * row_h, heading)

    def num(v) -> float:
        return float(v or 0)

    labels = [f"{r['country']} · {r['plan']} (n={fmt_num(r['users'])})"
              + ("" if r["threshold_value"] is not None else ", not free") for r in rows]
    index = {(r["country"], r["plan"]): i for i, r in enumerate(rows)}
    points: list[tuple[int, float]] = []
    for f in flagged:
        i = index.get((f[0], f[1]))
        if i is not None:
            points.append((i, num(f[2])))
    values = [num(r[k]) for r in rows for k in ("p05", "q1", "median", "q3", "p95", "max_value", "threshold_value")]
    dmax = max([*values, *(v for _, v in points), 0.0])

    label_w = min(max(text_width(s, FONT_SIZE) for s in labels), WIDTH * 0.4)
    x0, x1 = 8 + label_w + 8, WIDTH - 24
    top = 28
    y_axis = top + row_h * len(rows)
    scale = Symlog(dmax, x0, x1, headroom=0.04)
    ticks, minor = symlog_ticks(scale)

    body = [f'<g id="{name}-axes">', _text(8, 16, heading, size=TITLE_SIZE, bold=True)]
    body += _x_axis(scale, ticks, y_axis, top, x0, x1, minor=minor)
    centers = [top + row_h * (i + 0.5) for i in range(len(rows))]
    body += _y_categories(x0, top, y_axis, centers, [[_truncate(s, FONT_SIZE, label_w)] for s in labels],
                          labels, FONT_SIZE * 1.15)
    unit = METRIC_UNITS.get(metric, metric)
    body.append(_text((x0 + x1) / 2, y_axis + 24, f"{unit} per user this month (logarithmic above 10)",
                      anchor="middle", valign="top", color=MUTED, cls="axis-label"))
    body.append("</g>")

    body.append(f'<g id="{name}-marks">')
    box_h, cap = row_h * 0.55, row_h * 0.55 / 2
    for i, (r, cy) in enumerate(zip(rows, centers, strict=True)):
        p05, q1, med, q3, p95 = (num(r[k]) for k in ("p05", "q1", "median", "q3", "p95"))
        tip = (f"{labels[i]}: p5 {fmt_num(p05)}, p25 {fmt_num(q1)}, median {fmt_num(med)}, p75 {fmt_num(q3)}, "
               f"p95 {fmt_num(p95)}, highest {fmt_num(num(r['max_value']))}"
               + (f", threshold {fmt_num(r['threshold_value'])}" if r["threshold_value"] is not None else ""))
        whiskers = (_hline(scale(p05), scale(q1), cy) + _hline(scale(q3), scale(p95), cy)
                    + _vline(scale(p05), cy - cap / 2, cy + cap / 2) + _vline(scale(p95), cy - cap / 2, cy + cap / 2))
        body += [f'<g class="cohort"><title>{_esc(tip)}</title>', _stroke(whiskers, WHISKER_COLOR, 1),
                 _rect(scale(q1), cy - box_h / 2, scale(q3) - scale(q1), box_h, BOX_COLOR, stroke=BOX_EDGE,
                       width=0.8, cls="box"),
                 _stroke(_vline(scale(med), cy - box_h / 2, cy + box_h / 2), MEDIAN_COLOR, 1.8, cls="median"),
                 f'<path d="{_diamond_d(scale(num(r["max_value"])), cy, 3.4)}" fill="{MAX_COLOR}" class="max"/>',
                 "</g>"]
    if points:
        crosses = "".join(f'<path d="{_cross_d(scale(v), centers[i], 3)}" class="flagged"/>' for i, v in points)
        body.append(f'<g fill="none" stroke="{THRESHOLD_COLOR}" stroke-width="1.3">{crosses}</g>')
    for r, cy in zip(rows, centers, strict=True):
        if r["threshold_value"] is not None:
            x = scale(num(r["threshold_value"]))
            body.append(_stroke(_vline(x, cy - row_h * 0.42, cy + row_h * 0.42), THRESHOLD_COLOR, 3,
                                cls="threshold"))
    body.append("</g>")

    legend, legend_h = _legend([
        (_swatch_box(BOX_COLOR, BOX_EDGE), "middle half (p25–p75), median"),
        (_swatch_line(WHISKER_COLOR, 1.2), "p5–p95"),
        (lambda x, cy: f'<path d="{_diamond_d(x + 11, cy, 3.4)}" fill="{MAX_COLOR}"/>', "highest"),
        (lambda x, cy: _stroke(_cross_d(x + 11, cy, 3), THRESHOLD_COLOR, 1.3), "flagged user"),
        (_swatch_line(THRESHOLD_COLOR, 3), "published threshold (none where the offering is not free)"),
    ], y_axis + 44, ncols=2)
    body += legend
    return _svg(name, title, y_axis + 44 + legend_h + 6, body)


def flagged_trend(months: list[str], rows: list[dict], name: str) -> str:
    """Flagged users per metric (and in any metric) over the built months of the last 12."""
    title = "Flagged users by metric, last 12 months"
    if not months:
        return _empty(name, title, "no month built", 120)
    counts = {(r["month"], r["metric"]): r["users"] for r in rows}
    series = [(metric, [int(counts.get((mo, metric), 0) or 0) for mo in months]) for metric in ("any", *METRIC_LABELS)]
    ymax = max(v for _, ys in series for v in ys)

    top, plot_h = 12, 200
    y_axis = top + plot_h
    ymax_dom, yticks = linear_axis_ticks(ymax, lambda d: Linear(0, d, y_axis, top), integer=True, vertical=True)
    yscale = Linear(0, ymax_dom, y_axis, top)
    tick_w = max(text_width(fmt_num(t, 0), FONT_SIZE) for t in yticks)
    x0 = 8 + FONT_SIZE + 10 + tick_w + 8
    x1 = WIDTH - 16
    band = (x1 - x0) / len(months)
    xs = [x0 + band * (i + 0.5) for i in range(len(months))]
    rotate = len(months) > 6 or max(text_width(m, FONT_SIZE) for m in months) + 8 > band

    body = [f'<g id="{name}-axes">']
    grid = "".join(_hline(x0, x1, yscale(t)) for t in yticks if t > 0)
    if grid:
        body.append(_stroke(grid, GRID_COLOR, 0.8))
    marks = "".join(f"M{_n(x0 - 4)} {_n(yscale(t))}H{_n(x0)}" for t in yticks)
    marks += "".join(_vline(x, y_axis, y_axis + 4) for x in xs)
    body.append(_stroke(_vline(x0, top, y_axis) + _hline(x0, x1, y_axis) + marks, AXIS_COLOR, 0.8, cls="axis"))
    labels = "".join(_text(x0 - 7, yscale(t), fmt_num(t, 0), anchor="end") for t in yticks)
    if rotate:
        labels += "".join(_text(x + 3, y_axis + 8, m, anchor="end", valign="middle", rotate=-45)
                          for x, m in zip(xs, months, strict=True))
        x_label_h = 8 + text_width("2026-10", FONT_SIZE) * math.sqrt(0.5) + FONT_SIZE
    else:
        labels += "".join(_text(x, y_axis + 6, m, anchor="middle", valign="top") for x, m in zip(xs, months,
                                                                                             strict=True))
        x_label_h = 6 + FONT_SIZE * 1.4
    body.append(f'<g class="tick-labels" fill="#424242">{labels}</g>')
    body.append(_text(14, (top + y_axis) / 2, "flagged users", anchor="middle", rotate=-90, color=MUTED,
                      cls="axis-label"))
    body.append("</g>")

    body.append(f'<g id="{name}-marks">')
    for metric, ys in series:
        color, width = METRIC_COLORS[metric], 3.2 if metric == "any" else 2
        pts = [(x, yscale(v)) for x, v in zip(xs, ys, strict=True)]
        line = "M" + "L".join(f"{_n(x)} {_n(y)}" for x, y in pts)
        label = "any metric (users)" if metric == "any" else METRIC_LABELS[metric]
        dots = "".join(f'<path d="{_circle_d(x, y, 2.6)}" class="point"><title>{_esc(label)}, {m}: {v}</title></path>'
                       for (x, y), m, v in zip(pts, months, ys, strict=True))
        body.append(f'<g class="series" data-metric="{metric}">'
                    + (_stroke(line, color, width, dash="7 4" if metric == "any" else None) if len(pts) > 1 else "")
                    + f'<g fill="{color}">{dots}</g></g>')
    body.append("</g>")

    def key(metric: str) -> Callable[[float, float], str]:
        color = METRIC_COLORS[metric]
        return _swatch_line(color, 3.2 if metric == "any" else 2, "7 4" if metric == "any" else None,
                            lambda x, cy: f'<path d="{_circle_d(x, cy, 2.6)}" fill="{color}"/>')

    legend_y = y_axis + x_label_h + 8
    legend, legend_h = _legend([(key(m), "any metric (users)" if m == "any" else METRIC_LABELS[m])
                                for m, _ in series], legend_y, ncols=2)
    body += legend
    return _svg(name, title, legend_y + legend_h + 6, body)


def _bar_label_fit(totals: list[float], notes: list[str], width: float, size: float) -> float:
    """The smallest domain maximum for which every bar's note, written after the bar, stays inside `width`."""
    dom = max([*totals, 0.0])
    for t, note in zip(totals, notes, strict=True):
        room = width - text_width(note, size) - 6
        if t > 0 and room > 0:
            dom = max(dom, t * width / room)
    return dom if dom > 0 else 1.0


def contact_center_minutes(rows: list[dict], name: str) -> str:
    """Inbound and outbound billable minutes per contact-center account (top 25), stacked; hatched when the
    surcharge is still to be discussed."""
    title = "Contact-center minutes by account"
    rows = rows[:MAX_BARS]  # the largest first, drawn top-down
    if not rows:
        return _empty(name, title, "no contact-center account this month", 90)
    row_h = 22
    inbound = [float(r["inbound_minutes"] or 0) for r in rows]
    outbound = [float(r["outbound_minutes"] or 0) for r in rows]
    totals = [a + b for a, b in zip(inbound, outbound, strict=True)]
    pending = [r["status"] != "apply" for r in rows]
    notes = [f"{fmt_num(t, 0)} min · {'to discuss' if p else 'surcharge applies'}" for t, p in zip(totals, pending,
                                                                                                   strict=True)]
    ids = [str(r["account_id"]) for r in rows]
    label_w = min(max(text_width(s, FONT_SIZE) for s in ids), WIDTH * 0.3)
    x0, x1, top = 8 + label_w + 8, WIDTH - 12, 8
    y_axis = top + row_h * len(rows)
    dom = _bar_label_fit(totals, notes, x1 - x0, SMALL)
    dom, ticks = linear_axis_ticks(dom, lambda d: Linear(0, d, x0, x1), extend=False)
    scale = Linear(0, dom, x0, x1)
    centers = [top + row_h * (i + 0.5) for i in range(len(rows))]

    body = [f'<g id="{name}-axes">', *_x_axis(scale, ticks, y_axis, top, x0, x1),
            *_y_categories(x0, top, y_axis, centers, [[_truncate(s, FONT_SIZE, label_w)] for s in ids], ids,
                           FONT_SIZE * 1.15),
            _text((x0 + x1) / 2, y_axis + 24, "billable minutes (internal calls excluded)", anchor="middle",
                  valign="top", color=MUTED, cls="axis-label"), "</g>", f'<g id="{name}-marks">']
    bar_h = row_h * 0.8
    for cy, a, b, p, note, acc in zip(centers, inbound, outbound, pending, notes, ids, strict=True):
        y = cy - bar_h / 2
        parts = [f'<g class="account" data-account="{_esc(acc)}"><title>{_esc(acc)}: inbound {fmt_num(a, 0)} min, '
                 f'outbound {fmt_num(b, 0)} min, {"to discuss" if p else "surcharge applies"}</title>',
                 _rect(x0, y, scale(a) - x0, bar_h, INBOUND_COLOR, stroke="white", width=0.5, cls="bar"),
                 _rect(scale(a), y, scale(a + b) - scale(a), bar_h, OUTBOUND_COLOR, stroke="white", width=0.5,
                       cls="bar")]
        if p:
            parts.append(_rect(x0, y, scale(a + b) - x0, bar_h, f"url(#{name}-hatch)"))
        parts.append(_text(scale(a + b) + 4, cy, note, size=SMALL))
        parts.append("</g>")
        body.append("".join(parts))
    body.append("</g>")
    legend, legend_h = _legend([(_swatch_box(INBOUND_COLOR), "inbound"), (_swatch_box(OUTBOUND_COLOR), "outbound"),
                                (_swatch_box("white", MUTED, f"{name}-hatch-key"), "pending discussion")],
                               y_axis + 44, ncols=3)
    body += legend
    defs = [_hatch_pattern(f"{name}-hatch", "white", 1.2), _hatch_pattern(f"{name}-hatch-key", MUTED, 1)]
    return _svg(name, title, y_axis + 44 + legend_h + 6, body, defs)


def prohibited_by_pattern(counts: dict[str, int], name: str) -> str:
    """Prohibited-use flags per pattern, every pattern shown (zeros too)."""
    title = "Prohibited-use flags by pattern"
    items = list(counts.items())  # in the given order, top-down
    if not items:
        return _empty(name, title, "no pattern to show", 80)
    row_h, line_h = 28, FONT_SIZE * 1.15
    full = [PATTERN_LABELS.get(p, p) for p, _ in items]
    natural = max(text_width(s, FONT_SIZE) for s in full)
    label_w = min(natural, WIDTH * 0.42)
    labels = [_wrap(s, FONT_SIZE, label_w, 2) for s in full]
    label_w = max(text_width(line, FONT_SIZE) for lines in labels for line in lines)
    x0, x1, top = 8 + label_w + 8, WIDTH - 12, 8
    y_axis = top + row_h * len(items)
    values = [int(n or 0) for _, n in items]
    notes = [fmt_num(n) for n in values]
    dom = max(_bar_label_fit([float(v) for v in values], notes, x1 - x0, FONT_SIZE), max([*values, 1]) * 1.15)
    dom, ticks = linear_axis_ticks(dom, lambda d: Linear(0, d, x0, x1), integer=True, extend=False)
    scale = Linear(0, dom, x0, x1)
    centers = [top + row_h * (i + 0.5) for i in range(len(items))]
    body = [f'<g id="{name}-axes">', *_x_axis(scale, ticks, y_axis, top, x0, x1),
            *_y_categories(x0, top, y_axis, centers, labels, full, line_h),
            _text((x0 + x1) / 2, y_axis + 24, "flags (user × pattern)", anchor="middle", valign="top", color=MUTED,
                  cls="axis-label"), "</g>", f'<g id="{name}-marks">']
    bar_h = row_h * 0.72
    for (pattern, _), v, note, cy in zip(items, values, notes, centers, strict=True):
        body.append(f'<g data-pattern="{_esc(pattern)}">'
                    + _rect(x0, cy - bar_h / 2, scale(v) - x0, bar_h, PATTERN_COLOR, cls="bar")
                    + _text(scale(v) + 4, cy, note) + "</g>")
    body.append("</g>")
    return _svg(name, title, y_axis + 44, body)
