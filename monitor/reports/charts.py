"""The monthly report's charts, drawn with matplotlib (Agg) in a CJK font. Pure: values in,
SVG or PNG bytes out, no clock, no journal.

Deterministic: the same values give the same bytes (no dates in the files, a fixed SVG hash
salt, no software tag in PNGs), so re-running a closed month rewrites identical charts.

The font: Debian's `fonts-noto-cjk` (Noto Sans CJK SC), installed by `./dev test` and the
packaging; any other CJK font matplotlib knows also works. Without one, `cjk_font` raises
`ChartError` naming the package: a report with empty boxes for every label helps nobody.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from functools import cache
from typing import TYPE_CHECKING

from alerts.errors import HallwatchError

if TYPE_CHECKING:  # matplotlib is imported when a chart is drawn: the daemon starts without it
    from matplotlib.figure import Figure


# Preferred first; the first one matplotlib knows is used.
CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "Noto Sans SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Noto Sans CJK TC",
    "Noto Sans CJK JP",
    "Droid Sans Fallback",
)
INSTALL_HINT = "install a CJK font: apt-get install fonts-noto-cjk (Debian, Ubuntu)"
RED, GREY, BLUE = "#c0392b", "#888888", "#2c6fbb"


class ChartError(HallwatchError):
    """A chart cannot be drawn as asked (no CJK font)."""


@dataclass(frozen=True, slots=True)
class Chart:
    """One drawn chart: a name for files, its title, and its bytes."""

    name: str
    title: str
    svg: bytes
    png: bytes


@cache
def cjk_font() -> str:
    """The family name of an installed CJK font; ChartError when there is none."""
    from matplotlib import font_manager

    known = {f.name for f in font_manager.fontManager.ttflist}
    for family in CJK_FAMILIES:
        if family in known:
            return family
    for path in font_manager.findSystemFonts():  # installed after matplotlib's font cache
        if any(k in path for k in ("CJK", "wqy", "SourceHan", "DroidSansFallback")):
            font_manager.fontManager.addfont(path)
    known = {f.name for f in font_manager.fontManager.ttflist}
    for family in CJK_FAMILIES:
        if family in known:
            return family
    raise ChartError(f"no CJK font for the report's charts: {INSTALL_HINT}")


def _figure(width: float, height: float) -> Figure:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    fig.set_facecolor("white")
    return fig


def _style(fig: Figure) -> str:
    family = cjk_font()
    for ax in fig.axes:
        ax.spines[["top", "right"]].set_visible(False)
    return family


def render(fig: Figure, name: str, title: str) -> Chart:
    """SVG (vector, for the page and print) and PNG (for the workbook and docs), reproducible."""
    import matplotlib

    with matplotlib.rc_context({"svg.hashsalt": "hallwatch", "svg.fonttype": "path"}):
        svg = io.BytesIO()
        fig.savefig(svg, format="svg", metadata={"Date": None, "Creator": None})
        png = io.BytesIO()
        fig.savefig(png, format="png", dpi=110, metadata={"Software": None})
    return Chart(name=name, title=title, svg=svg.getvalue(), png=png.getvalue())


def on_time_trend(
    points: Sequence[tuple[str, Fraction | None]],
    title: str,
    split: int | None = None,
    floor: float = 0.0,
) -> Chart:
    """On-time rate per period (earlier months first, then the days of the month); a period
    with nothing completed under a limit is a gap. `split`: index of the first day point."""
    return render(trend_figure(points, title, split, floor), "on_time", title)


def trend_figure(
    points: Sequence[tuple[str, Fraction | None]],
    title: str,
    split: int | None = None,
    floor: float = 0.0,
) -> Figure:
    """The trend's figure. The axis runs from `floor` (0 %, or a floor its label states) to
    100 %: a rate of 99 % reads as nearly all, not as a fall."""
    fig = _figure(8.0, 3.2)
    ax = fig.add_subplot()
    family = _style(fig)
    xs = list(range(len(points)))
    ys = [float(r) * 100 if r is not None else float("nan") for _, r in points]
    ax.plot(xs, ys, marker="o", markersize=3, color=BLUE, linewidth=1.4)
    ax.axhline(100, color=GREY, linewidth=0.8, linestyle="--")
    if split is not None and 0 < split < len(points):
        ax.axvline(split - 0.5, color=GREY, linewidth=0.8)
    ax.set_xticks(xs, [label for label, _ in points], rotation=90, fontfamily=family, fontsize=7)
    ax.set_ylim(floor, 102.0)
    ax.set_yticks([t for t in range(0, 101, 10) if t >= floor])
    label = "按时办结率 %" if floor <= 0 else f"按时办结率 %（纵轴自 {floor:g}% 起）"
    ax.set_ylabel(label, fontfamily=family)
    ax.set_title(title, fontfamily=family, fontsize=11)
    ax.grid(axis="y", linewidth=0.3)
    return fig


def cards_by_rule(counts: Mapping[str, int], labels: Mapping[str, str], title: str) -> Chart:
    """Horizontal bars: cards of the month per rule, most first."""
    items = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    fig = _figure(8.0, 0.8 + 0.28 * max(1, len(items)))
    ax = fig.add_subplot()
    family = _style(fig)
    ys = list(range(len(items)))
    values = [n for _, n in items]
    ax.barh(ys, values, color=RED, height=0.65)
    ax.set_yticks(ys, [labels.get(r, r) for r, _ in items], fontfamily=family, fontsize=8)
    ax.invert_yaxis()
    for y, n in zip(ys, values, strict=True):
        ax.text(n, y, f" {n}", va="center", fontsize=8)
    ax.set_xlabel("卡片数", fontfamily=family)
    ax.margins(x=0.1)
    ax.set_xlim(left=0)
    ax.set_title(title, fontfamily=family, fontsize=11)
    if not items:
        ax.text(0.5, 0.5, "本月无卡片", ha="center", va="center", fontfamily=family)
    return render(fig, "cards_by_rule", title)


def heat_map(
    cells: Mapping[tuple[str, date], float],
    windows: Sequence[str],
    days: Sequence[date],
    title: str,
    labels: Sequence[str] | None = None,
) -> Chart:
    """Window × day grid; the colour is the value (minutes) from 0, white is none. `labels`:
    the windows' names (default their ids)."""
    fig = _figure(8.0, 1.2 + 0.22 * max(1, len(windows)))
    ax = fig.add_subplot()
    family = _style(fig)
    grid = [[cells.get((w, d), 0.0) for d in days] for w in windows]
    peak = max((v for row in grid for v in row), default=0.0) or 1.0
    image = ax.imshow(grid, aspect="auto", cmap="Reds", vmin=0, vmax=peak, interpolation="none")
    ax.set_xticks(range(len(days)), [str(d.day) for d in days], fontsize=7)
    ax.set_yticks(range(len(windows)), list(labels or windows), fontfamily=family, fontsize=7)
    ax.set_xlabel("日", fontfamily=family)
    bar = fig.colorbar(image, ax=ax, fraction=0.03, pad=0.01)
    bar.set_label("分钟", fontfamily=family)
    ax.set_title(title, fontfamily=family, fontsize=11)
    return render(fig, "unstaffed", title)
