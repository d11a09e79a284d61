"""Ticks: which dates and values get a label, and the grid lines and labels
drawn for them (one line collection and one path of glyph outlines;
matplotlib's own tick machinery builds a dozen artists per tick)."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Sequence

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.ticker import MaxNLocator

from charting.render import outline
from charting.render.layout import font, font_px, pt


def nbins(axis_px: float) -> int:
    """Price labels about every 75 px: enough to read a level off the axis,
    few enough that each is a text matplotlib has to lay out and draw."""
    return max(3, min(10, int(axis_px / 75)))


def nice_ticks(ax, bins: int, *, integer: bool = False) -> list[float]:
    """Round values for the y axis inside its limits."""
    low, high = ax.get_ylim()
    locator = MaxNLocator(nbins=bins, steps=[1, 2, 2.5, 5, 10], integer=integer)
    return [v for v in locator.tick_values(low, high) if low <= v <= high]


def percent_label(value, *, signed=False) -> str:
    if abs(value) < 1e-12:
        return "0%"
    digits = 0 if abs(value) >= 1 and float(value).is_integer() else 1
    return f"{value:+.{digits}f}%" if signed else f"{value:.{digits}f}%"


def draw_ticks(ax, xs, xlabels, ys, ylabels, *, style, scale):
    """Grid lines at `xs` and `ys` (one collection), labels under the panel
    and on its right (glyph outlines, `outline`). Call last: the lines span
    the limits and the labels are placed where the limits put them."""
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    segments = [((x, y0), (x, y1)) for x in xs] + [((x0, y), (x1, y)) for y in ys]
    if segments:
        ax.add(LineCollection(segments, colors=style.grid, linewidths=0.7 * scale, zorder=0.5))
    fig = ax.figure
    pad = pt(fig, 4 * scale)
    (_, bottom), (right, _) = ax.transAxes.transform([(0, 0), (1, 1)])
    label_font = font(style, scale)
    if len(xlabels):
        at = ax.transData.transform([(x, y0) for x in xs[:len(xlabels)]])[:, 0]
        outline.write(fig, [(x, bottom - pad, label) for x, label in zip(at, xlabels)], font=label_font,
                      colour=style.text, ha="center", va="top")
    if len(ylabels):
        at = ax.transData.transform([(x0, y) for y in ys[:len(ylabels)]])[:, 1]
        outline.write(fig, [(right + pad, y, label) for y, label in zip(at, ylabels)], font=label_font,
                      colour=style.text, ha="left", va="center")


def axis_time_ticks(ax, times, positions, size, scale, style, *, intraday=False) -> tuple[list[float], list[str]]:
    """Date labels at calendar boundaries (day, month, hour...) on the bars'
    own positions, as many as fit. `intraday` (bars shorter than a day): the
    short labels of `time_ticks(intraday=True)`, so about twice as many fit."""
    axis_px = size.width * ax.get_position().width
    spacing = (INTRADAY_LABEL_PX if intraday else LABEL_PX) * scale
    ticks, labels = time_ticks(times, max_ticks=max(2, int(axis_px / spacing)), intraday=intraday)
    left, right = ax.get_xlim()
    at_px = [(positions[i] - left) / (right - left) * axis_px for i in ticks]
    x0_px = size.width * ax.get_position().x0
    keep = readable_ticks(at_px, labels, char_px=font_px(style, scale) * 0.62, pad_px=12 * scale,
                          left_px=x0_px, right_px=size.width - x0_px)
    return [positions[ticks[k]] for k in keep], [labels[k] for k in keep]


def readable_ticks(at_px: Sequence[float], labels: Sequence[str], *, char_px: float, pad_px: float,
                   left_px: float = 0.0, right_px: float = math.inf) -> list[int]:
    """Indices of the labels to keep so that none overlaps the next or hangs
    more than `left_px` beyond the panel's left edge (or past `right_px`,
    the picture's right edge, measured from the panel's left). A label
    crowded by its successor starts a short period (the two hours of Sunday
    evening before Monday, say), so it is the one dropped."""
    half = [len(label) * char_px / 2 for label in labels]
    keep = []
    for k in range(len(labels)):
        if at_px[k] - half[k] < -left_px or at_px[k] + half[k] > right_px:
            continue
        if k + 1 < len(labels) and at_px[k + 1] - at_px[k] < half[k] + half[k + 1] + pad_px:
            continue
        if keep and at_px[k] - at_px[keep[-1]] < half[k] + half[keep[-1]] + pad_px:
            continue
        keep.append(k)
    return keep


# Room per date label: "03 Nov 14:00" and "Dec 2026" with their gaps; the
# intraday labels are never longer than "03 Nov".
LABEL_PX = 130
INTRADAY_LABEL_PX = 60

_HOURS = 3600
# (unit, step): the boundary levels tried for date ticks, finest first.
_LEVELS = [("m", 1), ("m", 5), ("m", 15), ("m", 30), ("h", 1), ("h", 2), ("h", 4), ("h", 6), ("h", 12),
           ("D", 1), ("M", 1), ("M", 3), ("Y", 1)]


def time_ticks(times: Sequence[datetime], *, max_ticks: int, intraday: bool = False) -> tuple[list[int], list[str]]:
    """Indices of the bars that open a new period and their labels.

    The chosen level is the coarsest one that still gives at least half the
    labels that fit (so 1000 hourly bars get every few days, not one month
    label); it is then thinned to `max_ticks`. A label names the larger unit
    (the date, the year) whenever it differs from the previous label's.

    `intraday`: the finest level whose every boundary fits wins when it
    gives at least half the labels that fit, so bars shorter than a day get
    times of day ("14:00") whenever a label per 12 hours fits, the date
    ("03 Nov") at each midnight, and never the longer "03 Nov 14:00".
    """
    seconds = np.fromiter((t.timestamp() for t in times), dtype=np.int64, count=len(times))
    stamps = seconds.astype("datetime64[s]")
    enough = max(1, max_ticks // 2)
    chosen = None
    for unit, step in _LEVELS:
        if unit in ("m", "h"):
            period = 60 * step if unit == "m" else _HOURS * step
            keys = seconds // period
        else:
            keys = stamps.astype(f"datetime64[{unit}]").astype(np.int64) // step
        boundaries = np.flatnonzero(np.diff(keys)) + 1
        if intraday and enough <= len(boundaries) <= max_ticks:
            chosen = (unit, boundaries)
            break
        if len(boundaries) >= enough:
            chosen = (unit, boundaries)
        elif chosen is not None:
            break
    if chosen is None:
        return [0], [_tick_label(times[0], "D", None)]
    unit, boundaries = chosen
    stride = max(1, math.ceil(len(boundaries) / max_ticks))
    picked = boundaries[::stride].tolist()
    label = _intraday_label if intraday else _tick_label
    labels = [label(times[i], unit, times[picked[k - 1]] if k else None) for k, i in enumerate(picked)]
    return picked, labels


def _intraday_label(when: datetime, unit: str, before: datetime | None) -> str:
    if unit in ("m", "h") and (when.hour, when.minute) != (0, 0):
        return when.strftime("%H:%M")
    return _tick_label(when, unit, before)


def _tick_label(when: datetime, unit: str, before: datetime | None) -> str:
    if unit in ("m", "h"):
        if before is not None and before.date() == when.date():
            return when.strftime("%H:%M")
        return when.strftime("%d %b") if (when.hour, when.minute) == (0, 0) else when.strftime("%d %b %H:%M")
    if unit == "D":
        return when.strftime("%d %b")
    if unit == "M":
        return when.strftime("%b %Y") if before is None or before.year != when.year else when.strftime("%b")
    return when.strftime("%Y")
