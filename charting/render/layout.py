"""Where things go on a chart: a fixed layout computed from the pixel size
(no `tight_layout`, which costs a full extra draw), the panels, their data
limits, the title, and price tags kept apart."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from matplotlib.ticker import NullLocator

from charting.render.style import Style

BASE_DPI = 100


@dataclass(frozen=True)
class Size:
    width: int = 1200
    height: int = 600


@dataclass(frozen=True)
class Margins:
    left: float
    right: float
    top: float
    bottom: float


def ui_scale(size: Size) -> float:
    return float(np.clip(math.sqrt(min(size.width / 1200, size.height / 600)), 0.8, 1.5))


def font_px(style: Style, scale: float) -> float:
    return style.font_size * scale * BASE_DPI / 72


def margins(size: Size, scale: float, style: Style, *, label_chars: int) -> Margins:
    """Fixed margins in figure fractions: room for the title on top, the date
    labels below and `label_chars` characters of price labels on the right."""
    px = font_px(style, scale)
    right = label_chars * px * 0.64 + 16 * scale
    return Margins(left=10 * scale / size.width, right=right / size.width,
                   top=3.3 * px / size.height, bottom=2.2 * px / size.height)


def axis_px(ax, size: Size) -> float:
    return size.height * ax.get_position().height


def box_px(lines: int, style: Style, scale: float) -> float:
    """Height of a text box of `lines` lines at line spacing 1.5, with padding."""
    return (lines * 1.5 + 1.6) * font_px(style, scale)


def style_axes(ax, scale, style):
    ax.set_facecolor(style.background)
    for side, spine in ax.spines.items():
        spine.set_visible(side in ("right", "bottom"))
        spine.set_color(style.spine)
        spine.set_linewidth(0.8 * scale)
    # Grid and tick labels come from `ticks.draw_ticks`: matplotlib's own
    # ticks build a dozen artists each and were most of a chart's drawing time.
    ax.xaxis.set_major_locator(NullLocator())
    ax.yaxis.set_major_locator(NullLocator())


def price_axes(fig, size, scale, style, precision, *, top_price: float, tag_name_chars: int = 0):
    """One full-width price panel, price scale on the right as traders expect,
    wide enough for the longest price tag."""
    chars = len(f"{top_price:.{precision}f}") + tag_name_chars + 1
    frame = margins(size, scale, style, label_chars=chars)
    ax = fig.add_axes((frame.left, frame.bottom, 1 - frame.left - frame.right, 1 - frame.bottom - frame.top))
    style_axes(ax, scale, style)
    return ax


def set_price_limits(ax, low, high, *, top_px: float = 0.0, axis_px: float = 1.0):
    """Data limits with breathing room; `top_px` keeps a band at the top of
    the panel free of data for a box or legend drawn there."""
    span = high - low or abs(high) * 0.01 or 1.0
    top = min(0.5, 0.06 + top_px / axis_px)
    below = 0.06
    # Solve for limits where the data fills exactly 1 - top - below of the panel.
    full = span / (1 - top - below)
    ax.set_ylim(low - full * below, high + full * top)


def set_title(fig, size, scale, style, title, subtitle):
    """The title on the left; the subtitle on the right when both fit side
    by side (on a narrow chart the title alone)."""
    px = font_px(style, scale)
    x = 10 * scale / size.width
    y = 1 - 0.7 * px / size.height
    fig.text(x, y, title, ha="left", va="top", color=style.text, fontsize=style.font_size * 1.35 * scale,
             family=style.font_family, weight="bold")
    # Generous widths (bold DejaVu Sans averages ~0.7 em, regular ~0.6 em).
    needed = len(title) * px * 1.35 * 0.72 + len(subtitle) * px * 0.62 + 40 * scale
    if needed <= size.width:
        fig.text(1 - x, y - 0.2 * px / size.height, subtitle, ha="right", va="top", color=style.muted,
                 fontsize=style.font_size * scale, family=style.font_family)


def spread_apart(values: Sequence[float], *, min_gap: float, low: float, high: float) -> list[float]:
    """Positions as close as possible to `values`, at least `min_gap` apart
    and inside [low, high] (when they fit), in the input order."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    pos = [min(max(values[i], low), high) for i in order]
    for k in range(1, len(pos)):
        pos[k] = max(pos[k], pos[k - 1] + min_gap)
    if pos and pos[-1] > high:
        pos[-1] = high
        for k in range(len(pos) - 2, -1, -1):
            pos[k] = min(pos[k], pos[k + 1] - min_gap)
    result = [0.0] * len(values)
    for k, i in enumerate(order):
        result[i] = pos[k]
    return result
