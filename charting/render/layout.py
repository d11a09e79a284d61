"""Where things go on a chart: a fixed layout computed from the pixel size
(no `tight_layout`, which costs a full extra draw), the panels, their data
limits, the title, and price tags kept apart."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.lines import Line2D
from matplotlib.transforms import Bbox, BboxTransformFrom, BboxTransformTo, TransformedBbox

from charting.render import outline
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


def pt(fig, points: float) -> float:
    """`points` in the figure's pixels (its dpi shrinks under a byte cap)."""
    return points * fig.dpi / 72


def font(style: Style, scale: float, factor: float = 1.0, weight: str = "normal") -> outline.Font:
    """The chart's font at `factor` times its size."""
    return outline.Font(style.font_family, style.font_size * factor * scale, weight)


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


class Panel:
    """A plotting area of the figure: its data limits, the transforms from
    data (`transData`) and from panel fractions (`transAxes`) to pixels, and
    the right and bottom spines; artists added to it are drawn on the figure
    in data coordinates (unless they bring a transform of their own),
    clipped to the panel.

    It stands in for the few parts of matplotlib's `Axes` the charts use:
    an Axes builds some forty artists of its own (ticks, tick labels,
    titles, offsets) that no chart draws, a sixth of a render's time. Grid
    and tick labels come from `ticks.draw_ticks`, the background is the
    figure's."""

    def __init__(self, fig, rect: tuple[float, float, float, float], *, style: Style, scale: float,
                 spines: bool = True):
        self.figure = fig
        self._position = Bbox.from_bounds(*rect)
        self._view = Bbox.unit()  # the data limits; the transforms follow its changes
        self.transAxes = BboxTransformTo(TransformedBbox(self._position, fig.transFigure))
        self.transData = BboxTransformFrom(self._view) + self.transAxes
        self._clip = TransformedBbox(Bbox.unit(), self.transAxes)
        if spines:
            fig.add_artist(LineCollection([((1, 0), (1, 1)), ((0, 0), (1, 0))], colors=style.spine,
                                          linewidths=0.8 * scale, transform=self.transAxes, zorder=2.5))

    def get_position(self) -> Bbox:
        return self._position

    def get_xlim(self) -> tuple[float, float]:
        return tuple(self._view.intervalx)

    def get_ylim(self) -> tuple[float, float]:
        return tuple(self._view.intervaly)

    def set_xlim(self, low: float, high: float):
        self._view.intervalx = (low, high)

    def set_ylim(self, low: float, high: float):
        self._view.intervaly = (low, high)

    def add(self, artist):
        if not artist.is_transform_set():
            artist.set_transform(self.transData)
        artist.set_clip_box(self._clip)
        return self.figure.add_artist(artist)

    def plot(self, x, y, **line) -> Line2D:
        """A `Line2D` of `line`'s properties (as `Axes.plot` takes them); a
        point may be given as two numbers."""
        return self.add(Line2D(np.atleast_1d(x), np.atleast_1d(y), **line))


# The volume pane's share of the panels' height, and the least height (px)
# of both panels together for it to be drawn: below that the price pane
# would be too flat to read.
VOLUME_SHARE = 0.2
VOLUME_MIN_PANELS_PX = 150


def price_axes(fig, size, scale, style, precision, *, top_price: float, tag_name_chars: int = 0,
               volume: bool = False):
    """The price panel, price scale on the right as traders expect, wide
    enough for the longest price tag; with `volume`, a volume panel under
    it (when the picture is tall enough). Returns (price, volume or None)."""
    chars = len(f"{top_price:.{precision}f}") + tag_name_chars + 1
    frame = margins(size, scale, style, label_chars=chars)
    width, total = 1 - frame.left - frame.right, 1 - frame.bottom - frame.top
    if not volume or total * size.height < VOLUME_MIN_PANELS_PX * scale:
        return Panel(fig, (frame.left, frame.bottom, width, total), style=style, scale=scale), None
    gap = 4 * scale / size.height
    volume_height = (total - gap) * VOLUME_SHARE
    below = Panel(fig, (frame.left, frame.bottom, width, volume_height), style=style, scale=scale)
    ax = Panel(fig, (frame.left, frame.bottom + volume_height + gap, width, total - volume_height - gap),
               style=style, scale=scale)
    return ax, below


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
    (left, top), (right, below) = fig.transFigure.transform([(x, y), (1 - x, y - 0.2 * px / size.height)])
    outline.write(fig, [(left, top, title)], font=font(style, scale, 1.35, "bold"), colour=style.text, va="top")
    # Generous widths (bold DejaVu Sans averages ~0.7 em, regular ~0.6 em).
    needed = len(title) * px * 1.35 * 0.72 + len(subtitle) * px * 0.62 + 40 * scale
    if needed <= size.width:
        outline.write(fig, [(right, below, subtitle)], font=font(style, scale), colour=style.muted, ha="right",
                      va="top")


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
