"""The four charts: candles, a signal on its candles, equity with its
drawdown, and the histogram of daily returns, each drawn on a fresh figure
and encoded to PNG, redrawn smaller when over a byte cap.

Prices arrive as `Decimal` (or anything `float()` accepts) and are drawn as
floats; every printed price (the axis, the entry/stop/target tags, risk and
reward) has the instrument's precision, and the tags are formatted from the
original decimals.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PathCollection, PolyCollection
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.path import Path
from matplotlib.ticker import MaxNLocator
from matplotlib.transforms import blended_transform_factory

from charting.render import layout, ticks
from charting.render.layout import BASE_DPI, Size
from charting.render.png import encode_png
from charting.render.style import STYLE, Style

# Below this the chart stops being legible; a cap that cannot be met above it is a configuration error.
MIN_SCALE = 0.2


class ChartTooLarge(ValueError):
    """The byte cap cannot be met even at the smallest legible size."""


# --- inputs -------------------------------------------------------------------

@dataclass(frozen=True)
class CandleSeries:
    """Bars oldest first. `times` are aware UTC datetimes."""

    times: tuple[datetime, ...]
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    last_close: Decimal

    @classmethod
    def from_rows(cls, rows: Sequence[tuple]) -> "CandleSeries":
        """`rows` of (time, open, high, low, close), oldest first."""
        if not rows:
            raise ValueError("no candles to draw")
        times, opens, highs, lows, closes = zip(*((r[0], r[1], r[2], r[3], r[4]) for r in rows))
        as_array = lambda values: np.fromiter((float(v) for v in values), dtype=float, count=len(values))  # noqa: E731
        return cls(tuple(times), as_array(opens), as_array(highs), as_array(lows), as_array(closes),
                   Decimal(closes[-1]))

    def __len__(self):
        return len(self.times)


@dataclass(frozen=True)
class SignalMarks:
    side: str  # "buy" | "sell"
    time: datetime
    entry: Decimal
    stop: Decimal | None
    target: Decimal | None
    version: int


# --- public renderers ---------------------------------------------------------

def render_candles(*, candles: CandleSeries, instrument: str, timeframe: str, precision: int,
                   size: Size = Size(), max_bytes: int | None = None, style: Style = STYLE) -> bytes:
    def draw(fig, scale):
        ax = layout.price_axes(fig, size, scale, style, precision, top_price=float(candles.high.max()))
        _draw_candles(ax, candles, style)
        low, high = float(candles.low.min()), float(candles.high.max())
        layout.set_price_limits(ax, low, high)
        layout.set_title(fig, size, scale, style, f"{instrument} · {timeframe}",
                         f"{len(candles)} bars to {_format_time(candles.times[-1])}")
        prices = _draw_price_labels(ax, size, scale, style, precision,
                                    [_PriceLabel(candles.last_close, _last_colour(candles, style), "", dashed=False)])
        ticks.draw_ticks(ax, *ticks.axis_time_ticks(ax, candles.times, np.arange(len(candles)), size, scale, style),
                         prices, [f"{p:.{precision}f}" for p in prices], style=style, scale=scale)

    return _render(draw, size, max_bytes, style)


def render_signal(*, candles: CandleSeries, signal: SignalMarks, instrument: str, timeframe: str,
                  precision: int, size: Size = Size(), max_bytes: int | None = None,
                  style: Style = STYLE) -> bytes:
    """Candles around the signal with its entry, stop and target as dashed
    lines labelled on the price axis, the risk and reward zones shaded from
    the signal's bar onwards, and a marker at the entry on that bar."""
    at = signal_bar_index(candles.times, signal.time)

    def draw(fig, scale):
        levels = [float(signal.entry)] + [float(p) for p in (signal.stop, signal.target) if p is not None]
        ax = layout.price_axes(fig, size, scale, style, precision,
                               top_price=max(float(candles.high.max()), *levels), tag_name_chars=len("Entry "))
        # A fresh signal has no bars after it yet: keep room on the right so
        # its zones show where the trade is heading, as a position tool does.
        right = max(len(candles), at + 1 + max(10, len(candles) // 5)) - 0.5
        _shade_zones(ax, signal, at, right, style)
        _draw_candles(ax, candles, style)
        ax.set_xlim(-0.8, right + 0.3)
        layout.set_price_limits(ax, min(float(candles.low.min()), *levels), max(float(candles.high.max()), *levels),
                                top_px=layout.box_px(2, style, scale * 1.05), axis_px=layout.axis_px(ax, size))
        marker = "^" if signal.side == "buy" else "v"
        colour = style.up if signal.side == "buy" else style.down
        ax.plot([at], [float(signal.entry)], linestyle="none", marker=marker, markersize=11 * scale,
                markerfacecolor=colour, markeredgecolor=style.text, markeredgewidth=0.8 * scale, zorder=6)
        layout.set_title(fig, size, scale, style,
                         f"{instrument} · {timeframe} · {signal.side.upper()} · strategy v{signal.version}",
                         f"signal at {_format_time(signal.time)}")
        labels = [_PriceLabel(signal.entry, style.entry, "Entry")]
        if signal.stop is not None:
            labels.append(_PriceLabel(signal.stop, style.stop, "SL"))
        if signal.target is not None:
            labels.append(_PriceLabel(signal.target, style.target, "TP"))
        prices = _draw_price_labels(ax, size, scale, style, precision, labels)
        ticks.draw_ticks(ax, *ticks.axis_time_ticks(ax, candles.times, np.arange(len(candles)), size, scale, style),
                         prices, [f"{p:.{precision}f}" for p in prices], style=style, scale=scale)
        _draw_ratio_box(ax, signal, precision, scale, style)

    return _render(draw, size, max_bytes, style)


def render_equity(*, times: Sequence[datetime], equity: Sequence, balance: Sequence,
                  size: Size = Size(), max_bytes: int | None = None, style: Style = STYLE) -> bytes:
    """The equity curve over time with the gap to its running peak shaded, and
    an underwater panel of the drawdown in percent below it."""
    if not times:
        raise ValueError("no equity points to draw")
    x = np.fromiter((t.timestamp() for t in times), dtype=float, count=len(times))
    eq = np.fromiter((float(v) for v in equity), dtype=float, count=len(times))
    bal = np.fromiter((float(v) for v in balance), dtype=float, count=len(times))
    peak = np.maximum.accumulate(eq)
    drawdown = np.where(peak > 0, (eq - peak) / np.where(peak > 0, peak, 1) * 100, 0.0)
    worst = int(np.argmin(drawdown))

    def draw(fig, scale):
        margins = layout.margins(size, scale, style, label_chars=10)
        gap = 6 * scale / size.height
        main_h, dd_h = (1 - margins.bottom - margins.top - gap) * np.array([0.72, 0.28])
        ax = fig.add_axes((margins.left, margins.bottom + dd_h + gap, 1 - margins.left - margins.right, main_h))
        dd = fig.add_axes((margins.left, margins.bottom, 1 - margins.left - margins.right, dd_h))
        for axes in (ax, dd):
            layout.style_axes(axes, scale, style)
            axes.set_xlim(x[0], x[-1] if len(x) > 1 else x[0] + 1)
        ax.plot(x, bal, color=style.balance, linewidth=1.0 * scale, drawstyle="steps-post", alpha=0.8)
        ax.fill_between(x, eq, peak, where=peak > eq, interpolate=True, color=style.stop, alpha=0.30, linewidth=0)
        ax.plot(x, eq, color=style.equity, linewidth=1.6 * scale)
        lo, hi = float(min(eq.min(), bal.min())), float(max(eq.max(), bal.max()))
        layout.set_price_limits(ax, lo, hi, top_px=layout.box_px(2, style, scale * 0.9),
                                axis_px=layout.axis_px(ax, size))

        dd.fill_between(x, drawdown, 0, color=style.stop, alpha=0.45, linewidth=0)
        dd.plot(x, drawdown, color=style.stop, linewidth=0.9 * scale)
        floor = float(drawdown.min())
        dd.set_ylim(min(floor * 1.15, -1.0), 0.0)

        xs, dates = ticks.axis_time_ticks(dd, tuple(times), x, size, scale, style)
        values = ticks.nice_ticks(ax, ticks.nbins(layout.axis_px(ax, size)))
        ticks.draw_ticks(ax, xs, [], values, [f"{v:,.0f}" for v in values], style=style, scale=scale)
        percents = ticks.nice_ticks(dd, 3)
        ticks.draw_ticks(dd, xs, dates, percents, [ticks.percent_label(v) for v in percents], style=style,
                         scale=scale)
        dd.text(0.005, 0.06, "drawdown", transform=dd.transAxes, color=style.muted,
                fontsize=style.font_size * 0.9 * scale, family=style.font_family, va="bottom")
        if floor < 0:
            dd.annotate(f"max {floor:.1f}%", xy=(x[worst], floor), xytext=(4 * scale, 2 * scale),
                        textcoords="offset points", color=style.text, fontsize=style.font_size * 0.9 * scale,
                        family=style.font_family, va="bottom")
        change = (eq[-1] / eq[0] - 1) * 100 if eq[0] else 0.0
        layout.set_title(fig, size, scale, style, "Equity",
                         f"{eq[-1]:,.2f} ({change:+.2f}%) · max drawdown {floor:.1f}% · to {_format_time(times[-1])}")
        ax.legend(handles=ax.lines[::-1], labels=["equity", "balance"], loc="upper left", frameon=False,
                  prop={"family": style.font_family, "size": style.font_size * 0.9 * scale},
                  labelcolor=style.text, handlelength=1.6)

    return _render(draw, size, max_bytes, style)


def render_returns(*, returns_pct: Sequence[float], first_day, last_day, size: Size = Size(),
                   max_bytes: int | None = None, style: Style = STYLE) -> bytes:
    """Histogram of daily returns (in percent): losing bins red, winning bins
    green, with the mean and zero marked and a summary box."""
    values = np.asarray(returns_pct, dtype=float)
    if values.size == 0:
        raise ValueError("no returns to draw")

    def draw(fig, scale):
        margins = layout.margins(size, scale, style, label_chars=5)
        ax = fig.add_axes((margins.left, margins.bottom, 1 - margins.left - margins.right,
                           1 - margins.bottom - margins.top))
        layout.style_axes(ax, scale, style)
        edges = _histogram_edges(values)
        counts, edges = np.histogram(values, bins=edges)
        centres = (edges[:-1] + edges[1:]) / 2
        widths = np.diff(edges) * 0.9
        colours = [style.up if c > 0 else style.down if c < 0 else style.muted for c in centres]
        left = centres - widths / 2
        verts = np.stack([np.column_stack([left, np.zeros_like(left)]),
                          np.column_stack([left, counts]),
                          np.column_stack([left + widths, counts]),
                          np.column_stack([left + widths, np.zeros_like(left)])], axis=1)
        ax.add_collection(PolyCollection(verts, facecolors=colours, edgecolors="none"))
        ax.set_xlim(edges[0] - (edges[1] - edges[0]), edges[-1] + (edges[1] - edges[0]))
        # Headroom: the summary box and the mean's label sit above the tallest bar.
        ax.set_ylim(0, max(1, counts.max()) / max(0.3, 1 - (layout.box_px(5, style, scale) + 12)
                                                   / layout.axis_px(ax, size)))
        x0, x1 = ax.get_xlim()
        xs = [v for v in MaxNLocator(nbins=max(3, int(size.width / 130)), symmetric=True).tick_values(x0, x1)
              if x0 <= v <= x1]
        ys = ticks.nice_ticks(ax, ticks.nbins(layout.axis_px(ax, size)), integer=True)
        ticks.draw_ticks(ax, xs, [ticks.percent_label(v, signed=True) for v in xs], ys, [f"{v:.0f}" for v in ys],
                         style=style, scale=scale)
        mean = float(values.mean())
        ax.axvline(0, color=style.muted, linewidth=0.8 * scale)
        ax.axvline(mean, color=style.entry, linewidth=1.2 * scale, linestyle=(0, (4, 3)))
        # The summary box takes the top corner away from the mean; the mean's
        # label points away from the box (unless that would leave the panel).
        where = (mean - x0) / (x1 - x0)
        box_left = where >= 0.5
        label_right = where < 0.8 if box_left else where < 0.2
        ax.annotate(f"mean {mean:+.2f}%", xy=(mean, 1.0), xycoords=("data", "axes fraction"),
                    xytext=(4 * scale if label_right else -4 * scale, -4 * scale), textcoords="offset points",
                    va="top", ha="left" if label_right else "right", color=style.entry,
                    fontsize=style.font_size * scale, family=style.font_family)
        std = float(values.std(ddof=1)) if values.size > 1 else 0.0
        wins = float((values > 0).mean() * 100)
        summary = (f"days {values.size}\nwinning {wins:.0f}%\nstdev {std:.2f}%\n"
                   f"best {values.max():+.2f}%\nworst {values.min():+.2f}%")
        ax.text(0.012 if box_left else 0.988, 0.97, summary, transform=ax.transAxes, va="top",
                ha="left" if box_left else "right", linespacing=1.5,
                color=style.text, fontsize=style.font_size * scale, family=style.font_family,
                bbox={"boxstyle": "round,pad=0.5", "facecolor": style.background, "edgecolor": style.spine,
                      "linewidth": 0.8 * scale})
        layout.set_title(fig, size, scale, style, "Daily returns",
                         f"{first_day:%d %b %Y} to {last_day:%d %b %Y} · {values.size} days")

    return _render(draw, size, max_bytes, style)


def signal_bar_index(times: Sequence[datetime], when: datetime) -> int:
    """The bar that contains `when`: the last one opening at or before it
    (the first bar when the signal predates all of them)."""
    lo, hi = 0, len(times)
    while lo < hi:
        mid = (lo + hi) // 2
        if times[mid] <= when:
            lo = mid + 1
        else:
            hi = mid
    return max(0, lo - 1)


# --- rendering core -------------------------------------------------------------

def _render(draw, size: Size, max_bytes: int | None, style: Style) -> bytes:
    """Draw at the asked size; over the cap, redraw smaller (fonts, lines and
    all, so it stays the same picture) until it fits."""
    scale = 1.0
    while True:
        png = _draw_png(draw, size, scale, style)
        if max_bytes is None or len(png) <= max_bytes:
            return png
        # Bytes grow roughly with the pixel area; aim a bit under the cap.
        scale *= max(0.3, min(0.9, math.sqrt(max_bytes / len(png)) * 0.95))
        if scale < MIN_SCALE:
            raise ChartTooLarge(f"cannot fit the chart in {max_bytes} bytes")


def _draw_png(draw, size: Size, scale: float, style: Style) -> bytes:
    dpi = BASE_DPI * scale
    fig = Figure(figsize=(size.width / BASE_DPI, size.height / BASE_DPI), dpi=dpi,
                 facecolor=style.background, edgecolor=style.background)
    canvas = FigureCanvasAgg(fig)
    # Layout is computed in base pixels and points, so a lower dpi shrinks the
    # whole picture uniformly; `ui_scale` only grows fonts and lines on big sizes.
    draw(fig, layout.ui_scale(size))
    canvas.draw()
    return encode_png(np.asarray(canvas.buffer_rgba()))


def _format_time(when: datetime) -> str:
    return when.strftime("%d %b %Y %H:%M UTC")


# --- candles --------------------------------------------------------------------

def _draw_candles(ax, candles: CandleSeries, style: Style):
    """Two collections for all the bars: wicks and bodies, each one compound
    path per colour (rising, falling), so the cost does not grow with a
    Python object per bar."""
    n = len(candles)
    x = np.arange(n, dtype=float)
    # Bodies a bit under a bar wide, so neighbours stay apart at any density.
    half = 0.36
    top = np.maximum(candles.open, candles.close)
    bottom = np.minimum(candles.open, candles.close)
    # A doji would have no height at all; give it a hairline so it still shows.
    min_body = (float(candles.high.max()) - float(candles.low.min())) * 0.0015
    bottom = np.where(top - bottom < min_body, (top + bottom - min_body) / 2, bottom)
    top = np.maximum(top, bottom + min_body)
    rising = candles.close >= candles.open
    wicks, bodies = [], []
    for group in (rising, ~rising):
        xs = x[group]
        wick = np.empty((len(xs), 2, 2))
        wick[:, :, 0] = xs[:, None]
        wick[:, 0, 1], wick[:, 1, 1] = candles.low[group], candles.high[group]
        wicks.append(Path(wick.reshape(-1, 2), np.tile([Path.MOVETO, Path.LINETO], len(xs))))
        body = np.empty((len(xs), 5, 2))
        body[:, (0, 1, 4), 0] = xs[:, None] - half
        body[:, (2, 3), 0] = xs[:, None] + half
        body[:, (0, 3, 4), 1] = bottom[group][:, None]
        body[:, (1, 2), 1] = top[group][:, None]
        codes = [Path.MOVETO, Path.LINETO, Path.LINETO, Path.LINETO, Path.CLOSEPOLY]
        bodies.append(Path(body.reshape(-1, 2), np.tile(codes, len(xs))))
    colours = [style.up, style.down]
    ax.add_collection(PathCollection(wicks, facecolors="none", edgecolors=colours, linewidths=0.9, zorder=2),
                      autolim=False)
    ax.add_collection(PathCollection(bodies, facecolors=colours, edgecolors="none", zorder=3), autolim=False)
    ax.set_xlim(-0.8, n - 0.2)


def _last_colour(candles, style):
    return style.up if candles.close[-1] >= candles.open[-1] else style.down


# --- signal chart -----------------------------------------------------------------

def _shade_zones(ax, signal, start, right, style):
    entry = float(signal.entry)
    for level, colour in ((signal.stop, style.stop), (signal.target, style.target)):
        if level is None:
            continue
        low, high = sorted((entry, float(level)))
        ax.add_patch(Rectangle((start - 0.5, low), right - start + 0.5, high - low, facecolor=colour,
                               alpha=0.16, edgecolor="none", zorder=1))


def _draw_ratio_box(ax, signal, precision, scale, style):
    if signal.stop is None or signal.target is None:
        text = "R:R n/a (no stop or no target)"
    else:
        risk = abs(signal.entry - signal.stop)
        reward = abs(signal.target - signal.entry)
        ratio = reward / risk if risk else Decimal(0)
        text = f"R:R 1 : {ratio:.2f}\nrisk {risk:.{precision}f} · reward {reward:.{precision}f}"
    ax.text(0.012, 0.97, text, transform=ax.transAxes, va="top", ha="left", linespacing=1.5,
            color=style.text, fontsize=style.font_size * 1.05 * scale, family=style.font_family,
            bbox={"boxstyle": "round,pad=0.5", "facecolor": style.background, "edgecolor": style.spine,
                  "linewidth": 0.8 * scale}, zorder=7)


@dataclass(frozen=True)
class _PriceLabel:
    price: Decimal
    colour: str
    name: str
    dashed: bool = True


def _draw_price_labels(ax, size, scale, style, precision, labels) -> list[float]:
    """Each level as a line across the panel and a filled tag on the price
    axis. Tags closer than their own height are pushed apart (with a leader
    back to the true price). Returns the price axis ticks that stay clear of
    every tag."""
    y0, y1 = ax.get_ylim()
    axis_px = layout.axis_px(ax, size)
    per_px = (y1 - y0) / axis_px
    tag_px = layout.font_px(style, scale) * 1.75
    wanted = [float(label.price) for label in labels]
    placed = layout.spread_apart(wanted, min_gap=tag_px * per_px, low=y0 + tag_px * per_px / 2,
                                 high=y1 - tag_px * per_px / 2)
    across = blended_transform_factory(ax.transAxes, ax.transData)
    tag_x = 1.0 + 4 * scale / (size.width * ax.get_position().width)
    for label, price, at in zip(labels, wanted, placed):
        ax.axhline(price, color=label.colour, linewidth=1.1 * scale,
                   linestyle=(0, (5, 3)) if label.dashed else (0, (1, 2)), zorder=4)
        text = f"{label.name} {label.price:.{precision}f}".strip()
        ax.annotate(text, xy=(1.0, price), xycoords=across, xytext=(tag_x, at), textcoords=across,
                    ha="left", va="center", color=style.label_text, fontsize=style.font_size * scale,
                    family=style.font_family, weight="bold", annotation_clip=False, zorder=8,
                    bbox={"boxstyle": "square,pad=0.3", "facecolor": label.colour, "edgecolor": "none"},
                    arrowprops=None if abs(at - price) < per_px else
                    {"arrowstyle": "-", "color": label.colour, "linewidth": 0.8 * scale,
                     "shrinkA": 0, "shrinkB": 0})
    return [t for t in ticks.nice_ticks(ax, ticks.nbins(axis_px))
            if all(abs(t - at) > tag_px * per_px for at in placed)]


# --- returns histogram ------------------------------------------------------------

def _histogram_edges(values: np.ndarray) -> np.ndarray:
    """Freedman-Diaconis bin width, clamped to 8-40 bins, with a bin edge at
    zero so no bar mixes winning and losing days."""
    lo, hi = float(values.min()), float(values.max())
    if hi - lo < 1e-9:
        return np.array([lo - 0.5, lo + 0.5])
    q75, q25 = np.percentile(values, [75, 25])
    width = 2 * (q75 - q25) / max(1, values.size) ** (1 / 3) or (hi - lo) / 10
    bins = int(np.clip(math.ceil((hi - lo) / width), 8, 40))
    width = (hi - lo) / bins
    start = math.floor(lo / width) * width
    count = max(1, math.ceil((hi - start) / width - 1e-9))
    return start + width * np.arange(count + 1)
