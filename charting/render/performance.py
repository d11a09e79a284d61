"""The performance charts: monthly returns as a calendar heatmap, the
drawdown as an underwater curve, and the histogram of realized R multiples.
Plain data in (the analytics app computes it), PNG bytes out, with the same
rules as `drawing`: a fresh figure per call, no pyplot, no rcParams, the
byte cap, and the same bytes for the same data.

Returns and drawdowns arrive as fractions (0.0123 is +1.23 %), as the
analytics app computes them; they are printed in percent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Sequence

import numpy as np
from matplotlib.collections import PolyCollection
from matplotlib.colors import to_rgb
from matplotlib.patches import Rectangle

from charting.render import layout, outline, ticks
from charting.render.drawing import draw_histogram, draw_underwater, render, rule
from charting.render.layout import Size
from charting.render.style import STYLE, Style

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class MonthlyReturns:
    """(year, month 1-12, return as a fraction) per month, in any order, no
    month twice; `label` names the account or strategy in the subtitle."""

    months: tuple[tuple[int, int, float], ...]
    label: str = ""


@dataclass(frozen=True)
class Underwater:
    """The drawdown (a fraction <= 0: -0.052 is 5.2 % under the running
    peak) on each of `days`, ascending."""

    days: tuple[date, ...]
    drawdown: tuple[float, ...]
    label: str = ""


@dataclass(frozen=True)
class RMultiples:
    """The realized R (profit over initial risk) of each closed trade."""

    values: tuple[float, ...]
    label: str = ""


def _subtitle(label: str, *parts: str) -> str:
    return " · ".join(part for part in (label, *parts) if part)


# --- monthly returns ---------------------------------------------------------------------

def compounded(returns: Sequence[float]) -> float:
    """The return of the months one after the other: (1 + r1)(1 + r2)... - 1."""
    return float(np.prod([1 + r for r in returns]) - 1)


def _percent(value: float, digits: int, sign: bool = True) -> str:
    text = f"{value * 100:+.{digits}f}"
    # "+0.0" or "-0.0" would read as a gain or a loss that is not there.
    text = text[1:] if float(text) == 0 else text
    return text + "%" if sign else text


# How a cell's value is written, best first: (decimals, with the % sign).
# A narrow heatmap drops the sign (the title then says the values are in
# percent) before it drops the decimal.
CELL_FORMATS = ((1, True), (1, False), (0, False))
# Average advance of a digit, sign or "%" in DejaVu Sans, in ems.
CHAR_EM = 0.72


def _cell_colour(value: float, extreme: float, style: Style) -> tuple:
    """The background blended towards up (gain) or down (loss), the more the
    further from zero, relative to the largest move shown in its column group."""
    strength = 0.18 + 0.72 * min(1.0, abs(value) / extreme) if extreme > 0 else 0.18
    base, ink = np.array(to_rgb(style.background)), np.array(to_rgb(style.up if value >= 0 else style.down))
    return tuple(base + (ink - base) * strength)


def render_monthly_returns(data: MonthlyReturns, *, size: Size = Size(), max_bytes: int | None = None,
                           style: Style = STYLE) -> bytes:
    """A calendar heatmap: one row per year (oldest on top), a column per
    month and one for the year's compounded return, each cell coloured by its
    sign and size and labelled in percent; months without data stay blank."""
    if not data.months:
        raise ValueError("no monthly returns to draw")
    by_month = {(year, month): float(value) for year, month, value in data.months}
    years = list(range(min(year for year, _ in by_month), max(year for year, _ in by_month) + 1))
    yearly = {year: compounded([by_month[(year, m)] for m in range(1, 13) if (year, m) in by_month])
              for year in years if any((year, m) in by_month for m in range(1, 13))}
    month_extreme = max(abs(v) for v in by_month.values())
    year_extreme = max(abs(v) for v in yearly.values())
    total = compounded([by_month[key] for key in sorted(by_month)])

    def draw(fig, scale):
        px = layout.font_px(style, scale)
        left = 5 * px * 0.62 + 14 * scale  # room for "2026"
        top, bottom = 3.3 * px + 1.6 * px, 8 * scale
        columns, rows = 13.25, len(years)  # a quarter column apart between the months and the year
        panel_w, panel_h = size.width - left - 8 * scale, size.height - top - bottom
        cell_w = panel_w / columns
        # Rows no taller than a wide cell: a short history stays a table at the top, not tall stripes.
        cell_h = min(panel_h / rows, max(2.6 * px, 0.8 * cell_w))
        ax = layout.Panel(fig, (left / size.width, 1 - (top + cell_h * rows) / size.height, panel_w / size.width,
                                cell_h * rows / size.height), style=style, scale=scale, spines=False)
        ax.set_xlim(0, columns)
        ax.set_ylim(rows, 0)
        # The first format, at the largest font (up to the usual size), whose widest value fits a cell.
        widest = max([*by_month.values(), *yearly.values()], key=lambda v: len(_percent(v, 1)))
        fits = [(digits, sign, fraction) for digits, sign in CELL_FORMATS for fraction in (1.0, 0.9, 0.8, 0.7)
                if len(_percent(widest, digits, sign)) * px * fraction * CHAR_EM <= cell_w - 4 * scale]
        digits, sign, fraction = fits[0] if fits else (0, False, 0.7)
        show_values = bool(fits) and px * fraction * 1.1 <= cell_h
        cells, colours = [], []
        labels = {column: [""] * len(years) for column in range(13)}
        for row, year in enumerate(years):
            for column in range(13):
                if column < 12:
                    value = by_month.get((year, column + 1))
                    x, extreme = column, month_extreme
                else:
                    value = yearly.get(year)
                    x, extreme = 12.25, year_extreme
                if value is None:
                    continue
                inset = 0.04
                cells.append([(x + inset, row + inset), (x + 1 - inset, row + inset),
                              (x + 1 - inset, row + 1 - inset), (x + inset, row + 1 - inset)])
                colours.append(_cell_colour(value, extreme, style))
                labels[column][row] = _percent(value, digits, sign)
        ax.add(PolyCollection(cells, facecolors=colours, edgecolors="none"))
        to_px = ax.transData.transform
        if show_values:
            for bold in (False, True):
                outline.write(fig, [(*to_px((12.75 if column == 12 else column + 0.5, row + 0.5)), text)
                                    for column, lines in labels.items() if (column == 12) == bold
                                    for row, text in enumerate(lines) if text],
                              font=layout.font(style, scale, fraction, "bold" if bold else "normal"),
                              colour=style.text, ha="center", va="center")
        header = min(1.0, fraction + 0.1)
        outline.write(fig, [(*to_px((column + 0.5, -0.08)), name if cell_w >= 3.4 * px * 0.62 else name[0])
                            for column, name in enumerate(MONTHS)], font=layout.font(style, scale, header),
                      colour=style.muted, ha="center", va="bottom")
        outline.write(fig, [(*to_px((12.75, -0.08)), "Year")], font=layout.font(style, scale, header, "bold"),
                      colour=style.text, ha="center", va="bottom")
        outline.write(fig, [(*to_px((-0.12, row + 0.5)), str(year)) for row, year in enumerate(years)],
                      font=layout.font(style, scale), colour=style.text, ha="right", va="center")
        layout.set_title(fig, size, scale, style, "Monthly returns" if sign or not show_values else "Monthly returns, %",
                         _subtitle(data.label, f"{len(by_month)} months", f"total {_percent(total, 1)}"))

    return render(draw, size, max_bytes, style)


# --- drawdown -------------------------------------------------------------------------------

def longest_under_water(drawdown: np.ndarray) -> tuple[int, int]:
    """(first, last) index of the longest run of days below the peak; (0, -1) if none."""
    best, start = (0, -1), None
    for i, value in enumerate(np.append(drawdown, 0.0)):
        if value < 0 and start is None:
            start = i
        elif value >= 0 and start is not None:
            if i - start > best[1] - best[0] + 1:
                best = (start, i - 1)
            start = None
    return best


def render_drawdown(data: Underwater, *, size: Size = Size(), max_bytes: int | None = None,
                    style: Style = STYLE) -> bytes:
    """The underwater curve: the drawdown in percent below the zero line,
    filled, the deepest point and the longest stretch under water marked."""
    if not data.days:
        raise ValueError("no drawdown to draw")
    if len(data.days) != len(data.drawdown):
        raise ValueError("one drawdown per day")
    values = np.minimum(np.asarray(data.drawdown, dtype=float), 0.0) * 100
    times = tuple(datetime(d.year, d.month, d.day, tzinfo=timezone.utc) for d in data.days)
    x = np.arange(len(values), dtype=float)
    worst = int(np.argmin(values))
    first, last = longest_under_water(values)

    def draw(fig, scale):
        margins = layout.margins(size, scale, style, label_chars=6)
        ax = layout.Panel(fig, (margins.left, margins.bottom, 1 - margins.left - margins.right,
                                1 - margins.bottom - margins.top), style=style, scale=scale)
        ax.set_xlim(-0.5, max(len(x) - 0.5, 0.5))
        floor = float(values.min())
        headroom = (layout.box_px(1, style, scale) + 6 * scale) / layout.axis_px(ax, size)
        depth = min(floor, -1.0) * 1.12
        top = -depth * headroom / max(0.2, 1 - headroom)
        ax.set_ylim(depth, top)
        if last >= first:
            ax.add(Rectangle((first - 0.5, depth), last - first + 1, top - depth, facecolor=style.muted,
                                   alpha=0.12, edgecolor="none", linewidth=0, zorder=0.6))
        draw_underwater(ax, x, values, style=style, linewidth=1.1 * scale)
        rule(ax, y=0, colour=style.muted, linewidth=0.8 * scale)
        if floor < 0:
            ax.plot([worst], [floor], linestyle="none", marker="o", markersize=5 * scale,
                    markerfacecolor=style.text, markeredgecolor="none")
        xs, labels = ticks.axis_time_ticks(ax, times, x, size, scale, style)
        ys = [v for v in ticks.nice_ticks(ax, ticks.nbins(layout.axis_px(ax, size))) if v <= 0]
        ticks.draw_ticks(ax, xs, labels, ys, [ticks.percent_label(v) for v in ys], style=style, scale=scale)
        if last >= first:
            days = (data.days[last] - data.days[first]).days + 1
            # From the stretch's edge nearer the middle, so the words stay inside the panel.
            early = (first + last) / 2 < len(x) / 2
            at = ax.transData.transform((first - 0.5 if early else last + 0.5, depth * 0.97))
            outline.write(fig, [(*at, f" longest under water: {days} days ")], font=layout.font(style, scale, 0.9),
                          colour=style.muted, ha="left" if early else "right", va="bottom")
        if floor < 0:
            right_half = worst > len(x) * 0.6
            at_x, at_y = ax.transData.transform((worst, floor))
            outline.write(fig, [(at_x + layout.pt(fig, (-6 if right_half else 6) * scale),
                                 at_y + layout.pt(fig, 2 * scale), f"max {floor:.1f}% on {data.days[worst]:%d %b %Y}")],
                          font=layout.font(style, scale), colour=style.text, ha="right" if right_half else "left",
                          va="bottom")
        layout.set_title(fig, size, scale, style, "Drawdown",
                         _subtitle(data.label, f"max {floor:.1f}%", f"now {values[-1]:.1f}%",
                                   f"{data.days[0]:%d %b %Y} to {data.days[-1]:%d %b %Y}"))

    return render(draw, size, max_bytes, style)


# --- R multiples ------------------------------------------------------------------------------

def r_label(value: float) -> str:
    if abs(value) < 1e-12:
        return "0R"
    return f"{value:+.{0 if float(value).is_integer() else 1}f}R"


def render_r_multiples(data: RMultiples, *, size: Size = Size(), max_bytes: int | None = None,
                       style: Style = STYLE) -> bytes:
    """Histogram of realized R: losing trades' bins red, winning green, zero
    and the mean (the expectancy in R) marked, a summary box."""
    values = np.asarray(data.values, dtype=float)
    if values.size == 0:
        raise ValueError("no R multiples to draw")
    decided = values[values != 0]
    wins = float((decided > 0).mean() * 100) if decided.size else 0.0
    summary = (f"trades {values.size}\nwin rate {wins:.0f}%\nmean {values.mean():+.2f}R\n"
               f"best {values.max():+.2f}R\nworst {values.min():+.2f}R")
    return draw_histogram(values, label=r_label, mean_label=f"mean {values.mean():+.2f}R", summary=summary,
                          title="R multiples", subtitle=_subtitle(data.label, f"{values.size} closed trades"),
                          size=size, max_bytes=max_bytes, style=style)

