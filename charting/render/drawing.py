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
from matplotlib.lines import Line2D
from matplotlib.patches import PathPatch, Rectangle
from matplotlib.path import Path
from matplotlib.ticker import MaxNLocator
from matplotlib.transforms import IdentityTransform, blended_transform_factory

from charting.render import layout, outline, ticks
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
    """Bars oldest first. `times` are aware UTC datetimes; `last` is the
    newest bar's (open, high, low, close) as given, for the legend."""

    times: tuple[datetime, ...]
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    last: tuple

    @classmethod
    def from_rows(cls, rows: Sequence[tuple]) -> "CandleSeries":
        """`rows` of (time, open, high, low, close[, volume]), oldest first."""
        if not rows:
            raise ValueError("no candles to draw")
        columns = list(zip(*((*r[:5], r[5] if len(r) > 5 else 0) for r in rows)))
        as_array = lambda values: np.fromiter((float(v) for v in values), dtype=float, count=len(values))  # noqa: E731
        return cls(tuple(columns[0]), *(as_array(values) for values in columns[1:]), last=tuple(rows[-1][1:5]))

    @property
    def last_close(self) -> Decimal:
        return Decimal(self.last[3])

    def __len__(self):
        return len(self.times)


@dataclass(frozen=True)
class SignalTrade:
    """A position a signal opened: its fill, and its close once closed."""

    opened_at: datetime
    open_price: Decimal
    closed_at: datetime | None = None
    close_price: Decimal | None = None
    close_reason: str | None = None


@dataclass(frozen=True)
class SignalMarks:
    side: str  # "buy" | "sell"
    time: datetime
    entry: Decimal
    stop: Decimal | None
    target: Decimal | None
    version: int
    producer: str = ""
    status: str = ""  # pending, approved, rejected, expired
    expires_at: datetime | None = None
    trades: tuple[SignalTrade, ...] = ()


# --- public renderers ---------------------------------------------------------

def render_candles(*, candles: CandleSeries, instrument: str, timeframe: str, precision: int,
                   size: Size = Size(), max_bytes: int | None = None, style: Style = STYLE) -> bytes:
    """The bars with the last close tagged on the price axis, the last bar's
    open, high, low and close in a legend, and a volume pane below (left out
    when the bars carry no volume or the picture is too low for it)."""
    intraday = _is_intraday(timeframe)

    def draw(fig, scale):
        ax, below = layout.price_axes(fig, size, scale, style, precision, top_price=float(candles.high.max()),
                                      volume=bool(candles.volume.any()))
        _draw_candles(ax, candles, style)
        legend = _ohlc_legend(candles, precision, ax, size, scale, style)
        layout.set_price_limits(ax, float(candles.low.min()), float(candles.high.max()),
                                top_px=legend * layout.font_px(style, scale) * 1.5 + 4 * scale,
                                axis_px=layout.axis_px(ax, size))
        layout.set_title(fig, size, scale, style, f"{instrument} · {timeframe}",
                         f"{len(candles)} bars to {format_time(candles.times[-1])}")
        prices = _draw_price_labels(ax, size, scale, style, precision,
                                    [_PriceLabel(candles.last_close, _last_colour(candles, style), "", dashed=False)])
        if below is not None:
            _draw_volume(below, candles, style, scale)
        xs, labels = ticks.axis_time_ticks(below if below is not None else ax, candles.times,
                                           np.arange(len(candles)), size, scale, style, intraday=intraday)
        if below is not None:
            ticks.draw_ticks(ax, xs, [], prices, [f"{p:.{precision}f}" for p in prices], style=style, scale=scale)
            top = float(candles.volume.max())
            ticks.draw_ticks(below, xs, labels, [top], [_compact(top)], style=style, scale=scale)
        else:
            ticks.draw_ticks(ax, xs, labels, prices, [f"{p:.{precision}f}" for p in prices], style=style,
                             scale=scale)

    return render(draw, size, max_bytes, style)


def render_signal(*, candles: CandleSeries, signal: SignalMarks, instrument: str, timeframe: str,
                  precision: int, size: Size = Size(), max_bytes: int | None = None,
                  style: Style = STYLE) -> bytes:
    """Candles around the signal with its entry, stop and target as dashed
    lines labelled on the price axis, the risk and reward zones shaded from
    the signal's bar onwards, a marker at the entry on that bar, a box with
    the producer, the strategy version, the status, the expiry and the
    reward to risk, and, once traded, the fill and the close on their bars."""
    at = signal_bar_index(candles.times, signal.time)
    box = _signal_box(signal, precision)

    def draw(fig, scale):
        levels = [float(signal.entry)] + [float(p) for p in (signal.stop, signal.target) if p is not None]
        levels += [float(p) for trade in signal.trades for p in (trade.open_price, trade.close_price)
                   if p is not None]
        ax, _ = layout.price_axes(fig, size, scale, style, precision,
                                  top_price=max(float(candles.high.max()), *levels), tag_name_chars=len("Entry "))
        # A fresh signal has no bars after it yet: keep room on the right so
        # its zones show where the trade is heading, as a position tool does.
        right = max(len(candles), at + 1 + max(10, len(candles) // 5)) - 0.5
        _shade_zones(ax, signal, at, right, style)
        _draw_candles(ax, candles, style)
        ax.set_xlim(-0.8, right + 0.3)
        layout.set_price_limits(ax, min(float(candles.low.min()), *levels), max(float(candles.high.max()), *levels),
                                top_px=layout.box_px(len(box), style, scale * 1.05), axis_px=layout.axis_px(ax, size))
        marker = "^" if signal.side == "buy" else "v"
        colour = style.up if signal.side == "buy" else style.down
        ax.plot([at], [float(signal.entry)], linestyle="none", marker=marker, markersize=11 * scale,
                markerfacecolor=colour, markeredgecolor=style.text, markeredgewidth=0.8 * scale, zorder=6)
        for trade in signal.trades:
            _draw_trade(ax, candles, trade, signal.side, precision, size, scale, style)
        layout.set_title(fig, size, scale, style, f"{instrument} · {timeframe} · {signal.side.upper()}",
                         f"signal at {format_time(signal.time)}")
        labels = [_PriceLabel(signal.entry, style.entry, "Entry")]
        if signal.stop is not None:
            labels.append(_PriceLabel(signal.stop, style.stop, "SL"))
        if signal.target is not None:
            labels.append(_PriceLabel(signal.target, style.target, "TP"))
        prices = _draw_price_labels(ax, size, scale, style, precision, labels)
        xs, dates = ticks.axis_time_ticks(ax, candles.times, np.arange(len(candles)), size, scale, style,
                                          intraday=_is_intraday(timeframe))
        ticks.draw_ticks(ax, xs, dates, prices, [f"{p:.{precision}f}" for p in prices], style=style, scale=scale)
        _draw_box(ax, box, scale, style)

    return render(draw, size, max_bytes, style)


def render_equity(*, times: Sequence[datetime], equity: Sequence, balance: Sequence, currency: str | None = None,
                  size: Size = Size(), max_bytes: int | None = None, style: Style = STYLE) -> bytes:
    """The equity and balance curves over time, the value axis in the
    account's `currency`, and the drawdown in percent once, in its own
    underwater panel below."""
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
        width = 1 - margins.left - margins.right
        ax = layout.Panel(fig, (margins.left, margins.bottom + dd_h + gap, width, main_h), style=style, scale=scale)
        dd = layout.Panel(fig, (margins.left, margins.bottom, width, dd_h), style=style, scale=scale)
        for axes in (ax, dd):
            axes.set_xlim(x[0], x[-1] if len(x) > 1 else x[0] + 1)
        ax.plot(x, bal, color=style.balance, linewidth=1.0 * scale, drawstyle="steps-post", alpha=0.8)
        ax.plot(x, eq, color=style.equity, linewidth=1.6 * scale)
        lo, hi = float(min(eq.min(), bal.min())), float(max(eq.max(), bal.max()))
        layout.set_price_limits(ax, lo, hi, top_px=layout.box_px(2, style, scale * 0.9),
                                axis_px=layout.axis_px(ax, size))

        draw_underwater(dd, x, drawdown, style=style, linewidth=0.9 * scale)
        floor = float(drawdown.min())
        dd.set_ylim(min(floor * 1.15, -1.0), 0.0)

        xs, dates = ticks.axis_time_ticks(dd, tuple(times), x, size, scale, style)
        values = ticks.nice_ticks(ax, ticks.nbins(layout.axis_px(ax, size)))
        ticks.draw_ticks(ax, xs, [], values, [f"{v:,.0f}" for v in values], style=style, scale=scale)
        percents = ticks.nice_ticks(dd, 3)
        ticks.draw_ticks(dd, xs, dates, percents, [ticks.percent_label(v) for v in percents], style=style,
                         scale=scale)
        small = layout.font(style, scale, 0.9)
        outline.write(fig, [(*dd.transAxes.transform((0.005, 0.06)), "drawdown")], font=small, colour=style.muted,
                      va="bottom")
        if floor < 0:
            at_x, at_y = dd.transData.transform((x[worst], floor))
            outline.write(fig, [(at_x + layout.pt(fig, 4 * scale), at_y + layout.pt(fig, 2 * scale),
                                 f"max {floor:.1f}%")], font=small, colour=style.text, va="bottom")
        if currency:
            # The unit over the value axis, where a reader looks for it.
            at_x, at_y = ax.transAxes.transform((1, 1))
            outline.write(fig, [(at_x + layout.pt(fig, 4 * scale), at_y + layout.pt(fig, 3 * scale), currency)],
                          font=layout.font(style, scale, weight="bold"), colour=style.muted, va="bottom")
        change = (eq[-1] / eq[0] - 1) * 100 if eq[0] else 0.0
        amount = f"{eq[-1]:,.2f} {currency}" if currency else f"{eq[-1]:,.2f}"
        layout.set_title(fig, size, scale, style, "Equity",
                         f"{amount} ({change:+.2f}%) · max drawdown {floor:.1f}% · to {format_time(times[-1])}")
        _legend(ax, [("equity", style.equity, 1.6 * scale, None), ("balance", style.balance, 1.0 * scale, 0.8)],
                style=style, scale=scale)

    return render(draw, size, max_bytes, style)


def _legend(ax, entries, *, style, scale):
    """(name, colour, line width, alpha) as short lines and names in the
    panel's top-left corner, spaced as `ax.legend(loc="upper left",
    frameon=False, handlelength=1.6)` spaces them (in font sizes)."""
    fig = ax.figure
    font = layout.font(style, scale, 0.9)
    em = layout.pt(fig, font.points)
    left, top = ax.transAxes.transform((0, 1))
    rows = [top - em * (1.4 + 1.5 * row) for row in range(len(entries))]
    for y, (_, colour, linewidth, alpha) in zip(rows, entries):
        fig.add_artist(Line2D([left + 0.9 * em, left + 2.5 * em], [y, y], color=colour, linewidth=linewidth,
                              alpha=alpha, transform=IdentityTransform(), zorder=6))
    outline.write(fig, [(left + 3.3 * em, y, name) for y, (name, *_) in zip(rows, entries)], font=font,
                  colour=style.text, va="center")


def render_returns(*, returns_pct: Sequence[float], first_day, last_day, size: Size = Size(),
                   max_bytes: int | None = None, style: Style = STYLE) -> bytes:
    """Histogram of daily returns (in percent): losing bins red, winning bins
    green, with the mean and zero marked and a summary box."""
    values = np.asarray(returns_pct, dtype=float)
    if values.size == 0:
        raise ValueError("no returns to draw")
    std = float(values.std(ddof=1)) if values.size > 1 else 0.0
    wins = float((values > 0).mean() * 100)
    summary = (f"days {values.size}\nwinning {wins:.0f}%\nstdev {std:.2f}%\n"
               f"best {values.max():+.2f}%\nworst {values.min():+.2f}%")
    return draw_histogram(values, label=lambda v: ticks.percent_label(v, signed=True),
                          mean_label=f"mean {values.mean():+.2f}%", summary=summary, title="Daily returns",
                          subtitle=f"{first_day:%d %b %Y} to {last_day:%d %b %Y} · {values.size} days",
                          size=size, max_bytes=max_bytes, style=style)


def draw_histogram(values: np.ndarray, *, label, mean_label: str, summary: str, title: str, subtitle: str,
                   size: Size, max_bytes: int | None, style: Style) -> bytes:
    """A histogram of `values` (a bin edge at zero: losing bins red, winning
    green), zero and the mean marked, `summary` in a box; `label` writes an
    x value."""
    def draw(fig, scale):
        margins = layout.margins(size, scale, style, label_chars=5)
        ax = layout.Panel(fig, (margins.left, margins.bottom, 1 - margins.left - margins.right,
                                1 - margins.bottom - margins.top), style=style, scale=scale)
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
        ax.add(PolyCollection(verts, facecolors=colours, edgecolors="none"))
        ax.set_xlim(edges[0] - (edges[1] - edges[0]), edges[-1] + (edges[1] - edges[0]))
        lines = summary.count("\n") + 1
        # Headroom: the summary box and the mean's label sit above the tallest bar.
        ax.set_ylim(0, max(1, counts.max()) / max(0.3, 1 - (layout.box_px(lines, style, scale) + 12)
                                                   / layout.axis_px(ax, size)))
        x0, x1 = ax.get_xlim()
        xs = [v for v in MaxNLocator(nbins=max(3, int(size.width / 130)), symmetric=True).tick_values(x0, x1)
              if x0 <= v <= x1]
        ys = ticks.nice_ticks(ax, ticks.nbins(layout.axis_px(ax, size)), integer=True)
        ticks.draw_ticks(ax, xs, [label(v) for v in xs], ys, [f"{v:.0f}" for v in ys], style=style, scale=scale)
        mean = float(values.mean())
        rule(ax, x=0, colour=style.muted, linewidth=0.8 * scale)
        rule(ax, x=mean, colour=style.entry, linewidth=1.2 * scale, linestyle=(0, (4, 3)))
        # The summary box takes the top corner away from the mean; the mean's
        # label points away from the box (unless that would leave the panel).
        where = (mean - x0) / (x1 - x0)
        box_left = where >= 0.5
        label_right = where < 0.8 if box_left else where < 0.2
        (mean_px, _), (_, top_px) = ax.transData.transform((mean, 0)), ax.transAxes.transform((0, 1))
        outline.write(fig, [(mean_px + layout.pt(fig, (4 if label_right else -4) * scale),
                             top_px - layout.pt(fig, 4 * scale), mean_label)], font=layout.font(style, scale),
                      colour=style.entry, ha="left" if label_right else "right", va="top")
        outline.write_boxed(fig, *ax.transAxes.transform((0.012 if box_left else 0.988, 0.97)),
                            [(line, style.text) for line in summary.split("\n")], font=layout.font(style, scale),
                            frame=outline.Frame(style.background, edgecolor=style.spine, linewidth=0.8 * scale),
                            ha="left" if box_left else "right", va="top", linespacing=1.5)
        layout.set_title(fig, size, scale, style, title, subtitle)

    return render(draw, size, max_bytes, style)


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

def render(draw, size: Size, max_bytes: int | None, style: Style) -> bytes:
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


def format_time(when: datetime) -> str:
    return when.strftime("%d %b %Y %H:%M UTC")


def rule(ax, *, colour: str, linewidth: float, x: float | None = None, y: float | None = None,
         linestyle="solid", zorder: float = 2.0):
    """A line across the panel at data `x` (upright) or `y` (level), as
    `axvline` and `axhline` draw it."""
    if x is not None:
        line = Line2D([x, x], [0, 1], transform=blended_transform_factory(ax.transData, ax.transAxes))
    else:
        line = Line2D([0, 1], [y, y], transform=blended_transform_factory(ax.transAxes, ax.transData))
    line.set(color=colour, linewidth=linewidth, linestyle=linestyle, zorder=zorder)
    ax.add(line)


def draw_underwater(ax, x: np.ndarray, drawdown: np.ndarray, *, style: Style, linewidth: float):
    """The drawdown (<= 0) filled from zero down and its edge: one patch and
    one line (`fill_between` builds a collection that Agg draws slower)."""
    area = Path(np.column_stack([np.concatenate([[x[0]], x, [x[-1]]]), np.concatenate([[0.0], drawdown, [0.0]])]))
    ax.add(PathPatch(area, facecolor=style.stop, alpha=0.45, edgecolor="none", linewidth=0, zorder=1))
    ax.plot(x, drawdown, color=style.stop, linewidth=linewidth)


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
    ax.add(PathCollection(wicks, facecolors="none", edgecolors=colours, linewidths=0.9, zorder=2))
    ax.add(PathCollection(bodies, facecolors=colours, edgecolors="none", zorder=3))
    ax.set_xlim(-0.8, n - 0.2)


def _draw_volume(ax, candles: CandleSeries, style: Style, scale: float):
    """One bar per candle, in the candle's colour, dimmed, as one collection per colour."""
    n = len(candles)
    x = np.arange(n, dtype=float)
    rising = candles.close >= candles.open
    half = 0.36
    for group, colour in ((rising, style.up), (~rising, style.down)):
        xs, heights = x[group], candles.volume[group]
        verts = np.stack([np.column_stack([xs - half, np.zeros_like(xs)]), np.column_stack([xs - half, heights]),
                          np.column_stack([xs + half, heights]), np.column_stack([xs + half, np.zeros_like(xs)])],
                         axis=1)
        ax.add(PolyCollection(verts, facecolors=colour, edgecolors="none", alpha=0.55, zorder=2))
    ax.set_xlim(-0.8, n - 0.2)
    ax.set_ylim(0, float(candles.volume.max()) * 1.25)
    outline.write(ax.figure, [(*ax.transAxes.transform((0.005, 0.96)), "Vol")], font=layout.font(style, scale, 0.9),
                  colour=style.muted, va="top")


def _compact(value: float) -> str:
    """A volume in at most four significant characters: 950, 12.5k, 3.1M."""
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if value >= limit:
            return f"{value / limit:.3g}{suffix}"
    return f"{value:.3g}"


def _ohlc_legend(candles: CandleSeries, precision: int, ax, size: Size, scale: float, style: Style) -> int:
    """The last bar's prices in the panel's top-left corner, on one line or,
    on a narrow panel, two. Returns the lines used."""
    open_, high, low, close = (Decimal(value) for value in candles.last)
    change = (close / open_ - 1) * 100 if open_ else Decimal(0)
    parts = [f"O {open_:.{precision}f}", f"H {high:.{precision}f}", f"L {low:.{precision}f}",
             f"C {close:.{precision}f}", f"{change:+.2f}%"]
    panel_px = size.width * ax.get_position().width
    char_px = layout.font_px(style, scale) * 0.62
    one_line = "  ".join(parts)
    text = one_line if len(one_line) * char_px + 12 * scale <= panel_px else \
        "  ".join(parts[:2]) + "\n" + "  ".join(parts[2:])
    outline.write(ax.figure, [(*ax.transAxes.transform((0.006, 0.985)), text)], font=layout.font(style, scale),
                  colour=_last_colour(candles, style), va="top", linespacing=1.4)
    return text.count("\n") + 1


def _is_intraday(timeframe: str) -> bool:
    return timeframe.startswith(("M", "H"))


def _last_colour(candles, style):
    return style.up if candles.close[-1] >= candles.open[-1] else style.down


# --- signal chart -----------------------------------------------------------------

def _shade_zones(ax, signal, start, right, style):
    entry = float(signal.entry)
    for level, colour in ((signal.stop, style.stop), (signal.target, style.target)):
        if level is None:
            continue
        low, high = sorted((entry, float(level)))
        ax.add(Rectangle((start - 0.5, low), right - start + 0.5, high - low, facecolor=colour, alpha=0.16,
                         edgecolor="none", zorder=1))


STATUS_COLOURS = {"pending": "entry", "approved": "target", "rejected": "stop", "expired": "muted"}
CLOSE_REASONS = {"take_profit": "TP", "stop_loss": "SL"}


def _signal_box(signal: SignalMarks, precision: int) -> list[tuple[str, str]]:
    """The box's lines, each (text, the Style attribute of its colour)."""
    lines = []
    if signal.producer:
        lines.append((f"{signal.producer} · strategy version {signal.version}", "text"))
    else:
        lines.append((f"strategy version {signal.version}", "text"))
    if signal.status:
        status = signal.status
        if signal.expires_at is not None:
            expiry = signal.expires_at.strftime("%d %b %H:%M UTC")
            status += f" · {'expired' if signal.status == 'expired' else 'expires'} {expiry}"
        lines.append((status, STATUS_COLOURS.get(signal.status, "text")))
    if signal.stop is None or signal.target is None:
        lines.append(("R:R n/a (no stop or no target)", "muted"))
    else:
        risk = abs(signal.entry - signal.stop)
        reward = abs(signal.target - signal.entry)
        ratio = reward / risk if risk else Decimal(0)
        lines.append((f"R:R 1 : {ratio:.2f} · risk {risk:.{precision}f} · reward {reward:.{precision}f}", "text"))
    return lines


def _draw_box(ax, lines, scale, style):
    """Lines of text in a framed box in the panel's top-left corner, each in its colour."""
    outline.write_boxed(ax.figure, *ax.transAxes.transform((0.012, 0.97)),
                        [(line, getattr(style, colour)) for line, colour in lines],
                        font=layout.font(style, scale, 1.05), linespacing=1.5,
                        frame=outline.Frame(style.background, edgecolor=style.spine, linewidth=0.8 * scale))


def _draw_trade(ax, candles: CandleSeries, trade: SignalTrade, side: str, precision: int, size: Size,
                scale: float, style: Style):
    """The fill as a ring on its bar and the close as a cross on its bar,
    joined by a dotted line in the colour of the outcome, each labelled
    (with its price where the panel is wide enough)."""
    wide = size.width * ax.get_position().width >= 500
    def label(at, text, colour, *, below):
        x, y = ax.transData.transform(at)
        outline.write_boxed(ax.figure, x + layout.pt(ax.figure, 7 * scale),
                            y + layout.pt(ax.figure, (-8 if below else 8) * scale),
                            [(text, colour)], font=layout.font(style, scale, 0.9), va="top" if below else "bottom",
                            frame=outline.Frame(style.background, pad=0.2, alpha=0.8))

    fill = (signal_bar_index(candles.times, trade.opened_at), float(trade.open_price))
    ax.plot(*fill, linestyle="none", marker="o", markersize=9 * scale, markerfacecolor="none",
            markeredgecolor=style.entry, markeredgewidth=1.6 * scale, zorder=9)
    label(fill, f"fill {trade.open_price:.{precision}f}" if wide else "fill", style.entry, below=True)
    if trade.closed_at is None or trade.close_price is None:
        return
    close = (signal_bar_index(candles.times, trade.closed_at), float(trade.close_price))
    gained = (trade.close_price > trade.open_price) == (side == "buy") and trade.close_price != trade.open_price
    outcome = style.up if gained else style.down
    ax.plot(*zip(fill, close), color=outcome, linewidth=1.2 * scale, linestyle=(0, (1, 2)), zorder=8)
    ax.plot(*close, linestyle="none", marker="X", markersize=10 * scale, markerfacecolor=outcome,
            markeredgecolor=style.text, markeredgewidth=0.8 * scale, zorder=9)
    reason = CLOSE_REASONS.get(trade.close_reason or "", (trade.close_reason or "").replace("_", " "))
    text = f"close {trade.close_price:.{precision}f} {reason}" if wide else f"close {reason}"
    label(close, text.strip(), outcome, below=False)


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
    fig = ax.figure
    right = ax.transAxes.transform((1, 0))[0]
    tag_x = right + layout.pt(fig, 4 * scale)
    for label, price, at in zip(labels, wanted, placed):
        rule(ax, y=price, colour=label.colour, linewidth=1.1 * scale,
             linestyle=(0, (5, 3)) if label.dashed else (0, (1, 2)), zorder=4)
        (_, price_px), (_, at_px) = ax.transData.transform([(0, price), (0, at)])
        tag = outline.write_boxed(fig, tag_x, at_px, [(f"{label.name} {label.price:.{precision}f}".strip(),
                                                       style.label_text)],
                                  font=layout.font(style, scale, weight="bold"), va="center",
                                  frame=outline.Frame(label.colour, style="square", pad=0.3))
        if abs(at - price) >= per_px:
            # A leader from the true price towards the middle of the tag pushed away from it, up to the tag's
            # frame, over the other tags it crosses (as an annotation's arrow is).
            middle = np.array([(tag.x0 + tag.x1) / 2, (tag.y0 + tag.y1) / 2])
            away = np.array([right, price_px]) - middle
            half = np.array([tag.x1 - tag.x0, tag.y1 - tag.y0]) / 2
            edge = middle + away * min(half / np.maximum(np.abs(away), 1e-9))
            fig.add_artist(Line2D([right, edge[0]], [price_px, edge[1]], color=label.colour, linewidth=0.8 * scale,
                                  transform=IdentityTransform(), zorder=7))
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
