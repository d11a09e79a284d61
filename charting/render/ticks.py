"""Ticks: which dates and values get a label, and the grid lines and labels
drawn for them (one line collection and plain texts; matplotlib's own tick
machinery builds a dozen artists per tick)."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Sequence

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.ticker import MaxNLocator
from matplotlib.transforms import ScaledTranslation, blended_transform_factory

from charting.render.layout import font_px


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
    and on its right (plain texts). Call last: the lines span the limits."""
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    segments = [((x, y0), (x, y1)) for x in xs] + [((x0, y), (x1, y)) for y in ys]
    if segments:
        ax.add_collection(LineCollection(segments, colors=style.grid, linewidths=0.7 * scale, zorder=0.5),
                          autolim=False)
    pad = 4 * scale / 72  # inches
    dpi_scale = ax.figure.dpi_scale_trans
    below = blended_transform_factory(ax.transData, ax.transAxes) + ScaledTranslation(0, -pad, dpi_scale)
    beside = blended_transform_factory(ax.transAxes, ax.transData) + ScaledTranslation(pad, 0, dpi_scale)
    font = {"color": style.text, "fontsize": style.font_size * scale, "family": style.font_family}
    for x, label in zip(xs, xlabels):
        ax.text(x, 0, label, transform=below, ha="center", va="top", **font)
    for y, label in zip(ys, ylabels):
        ax.text(1, y, label, transform=beside, ha="left", va="center", **font)


def axis_time_ticks(ax, times, positions, size, scale, style) -> tuple[list[float], list[str]]:
    """Date labels at calendar boundaries (day, month, hour...) chosen so that
    about one label fits per 130 px, on the bars' own positions."""
    axis_px = size.width * ax.get_position().width
    ticks, labels = time_ticks(times, max_ticks=max(2, int(axis_px / (130 * scale))))
    left, right = ax.get_xlim()
    at_px = [(positions[i] - left) / (right - left) * axis_px for i in ticks]
    keep = readable_ticks(at_px, labels, char_px=font_px(style, scale) * 0.62, pad_px=12 * scale,
                          left_px=size.width * ax.get_position().x0)
    return [positions[ticks[k]] for k in keep], [labels[k] for k in keep]


def readable_ticks(at_px: Sequence[float], labels: Sequence[str], *, char_px: float, pad_px: float,
                   left_px: float = 0.0) -> list[int]:
    """Indices of the labels to keep so that none overlaps the next or hangs
    more than `left_px` beyond the panel's left edge. A label crowded by its
    successor starts a short period (the two hours of Sunday evening before
    Monday, say), so it is the one dropped."""
    half = [len(label) * char_px / 2 for label in labels]
    keep = []
    for k in range(len(labels)):
        if at_px[k] - half[k] < -left_px:
            continue
        if k + 1 < len(labels) and at_px[k + 1] - at_px[k] < half[k] + half[k + 1] + pad_px:
            continue
        if keep and at_px[k] - at_px[keep[-1]] < half[k] + half[keep[-1]] + pad_px:
            continue
        keep.append(k)
    return keep


_HOURS = 3600
# (unit, step): the boundary levels tried for date ticks, finest first.
_LEVELS = [("m", 1), ("m", 5), ("m", 15), ("m", 30), ("h", 1), ("h", 2), ("h", 4), ("h", 6), ("h", 12),
           ("D", 1), ("M", 1), ("M", 3), ("Y", 1)]


def time_ticks(times: Sequence[datetime], *, max_ticks: int) -> tuple[list[int], list[str]]:
    """Indices of the bars that open a new period and their labels.

    The chosen level is the coarsest one that still gives at least half the
    labels that fit (so 1000 hourly bars get every few days, not one month
    label); it is then thinned to `max_ticks`. A label names the larger unit
    (the date, the year) whenever it differs from the previous label's.
    """
    seconds = np.fromiter((t.timestamp() for t in times), dtype=np.int64, count=len(times))
    stamps = seconds.astype("datetime64[s]")
    chosen = None
    for unit, step in _LEVELS:
        if unit in ("m", "h"):
            period = 60 * step if unit == "m" else _HOURS * step
            keys = seconds // period
        else:
            keys = stamps.astype(f"datetime64[{unit}]").astype(np.int64) // step
        boundaries = np.flatnonzero(np.diff(keys)) + 1
        if len(boundaries) >= max(1, max_ticks // 2):
            chosen = (unit, boundaries)
        elif chosen is not None:
            break
    if chosen is None:
        return [0], [_tick_label(times[0], "D", None)]
    unit, boundaries = chosen
    stride = max(1, math.ceil(len(boundaries) / max_ticks))
    picked = boundaries[::stride].tolist()
    labels = [_tick_label(times[i], unit, times[picked[k - 1]] if k else None) for k, i in enumerate(picked)]
    return picked, labels


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
