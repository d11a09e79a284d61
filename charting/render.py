"""Chart renderers: plain data in, PNG bytes out.

Everything here is a pure function of its arguments, so it is safe to call
from many threads at once and trivially cacheable:

- Only matplotlib's object-oriented API: a fresh `Figure` on the Agg canvas per
  call. `pyplot` keeps a global figure registry and is not thread-safe.
- `rcParams` are never changed; every style is passed to the artists
  explicitly (`STYLE`), so charts look the same whatever else the process does.
- A fixed layout computed from the pixel size: `tight_layout` and
  `bbox_inches="tight"` each cost a full extra draw.
- Candles are two collections (bodies, wicks), not one artist per bar; grid
  lines are one collection and tick labels plain texts, because matplotlib's
  tick machinery (a dozen artists per tick) was most of the drawing time.
- The PNG carries no timestamp and no software tag: the same data gives the
  same bytes, which makes strong ETags meaningful across processes.

Prices arrive as `Decimal` (or anything `float()` accepts) and are drawn as
floats; every printed price (the axis, the entry/stop/target tags, risk and
reward) has the instrument's precision, and the tags are formatted from the
original decimals.
"""

from __future__ import annotations

import math
import struct
import zlib
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection, PathCollection, PolyCollection
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.path import Path
from matplotlib.ticker import MaxNLocator, NullLocator
from matplotlib.transforms import ScaledTranslation, blended_transform_factory

BASE_DPI = 100
# Below this the chart stops being legible; a cap that cannot be met above it is a configuration error.
MIN_SCALE = 0.2
# zlib level 2 takes half the time of the default 6 for ~40 % more bytes:
# about 50 KB for a 1200x600 chart, far under any cap.
PNG_COMPRESS_LEVEL = 2


class ChartTooLarge(ValueError):
    """The byte cap cannot be met even at the smallest legible size."""


@dataclass(frozen=True)
class Style:
    """Colours chosen for dark chat themes (Slack, Telegram, Discord night
    modes): a near-black background of its own so the chart never blends into
    the page, and saturated up/down colours with contrast above 4.5:1."""

    background: str = "#131722"
    grid: str = "#262b38"
    spine: str = "#363c4e"
    text: str = "#d1d4dc"
    muted: str = "#8b92a3"
    up: str = "#26a69a"
    down: str = "#ef5350"
    entry: str = "#4da3ff"
    stop: str = "#ff6b6b"
    target: str = "#3ddc97"
    equity: str = "#4da3ff"
    balance: str = "#8b92a3"
    label_text: str = "#0b0e14"
    font_family: str = "DejaVu Sans"
    font_size: float = 9.0


STYLE = Style()


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


@dataclass(frozen=True)
class Size:
    width: int = 1200
    height: int = 600


# --- public renderers ---------------------------------------------------------

def render_candles(*, candles: CandleSeries, instrument: str, timeframe: str, precision: int,
                   size: Size = Size(), max_bytes: int | None = None, style: Style = STYLE) -> bytes:
    def draw(fig, scale):
        ax = _price_axes(fig, size, scale, style, precision, top_price=float(candles.high.max()))
        _draw_candles(ax, candles, style)
        low, high = float(candles.low.min()), float(candles.high.max())
        _set_price_limits(ax, low, high)
        _set_title(fig, size, scale, style, f"{instrument} · {timeframe}",
                   f"{len(candles)} bars to {_format_time(candles.times[-1])}")
        prices = _draw_price_labels(ax, size, scale, style, precision,
                                    [_PriceLabel(candles.last_close, _last_colour(candles, style), "", dashed=False)])
        _draw_ticks(ax, *_time_ticks(ax, candles.times, np.arange(len(candles)), size, scale, style),
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
        ax = _price_axes(fig, size, scale, style, precision, top_price=max(float(candles.high.max()), *levels),
                         tag_name_chars=len("Entry "))
        # A fresh signal has no bars after it yet: keep room on the right so
        # its zones show where the trade is heading, as a position tool does.
        right = max(len(candles), at + 1 + max(10, len(candles) // 5)) - 0.5
        _shade_zones(ax, signal, at, right, style)
        _draw_candles(ax, candles, style)
        ax.set_xlim(-0.8, right + 0.3)
        _set_price_limits(ax, min(float(candles.low.min()), *levels), max(float(candles.high.max()), *levels),
                          top_px=_box_px(2, style, scale * 1.05), axis_px=_axis_px(ax, size))
        marker = "^" if signal.side == "buy" else "v"
        colour = style.up if signal.side == "buy" else style.down
        ax.plot([at], [float(signal.entry)], linestyle="none", marker=marker, markersize=11 * scale,
                markerfacecolor=colour, markeredgecolor=style.text, markeredgewidth=0.8 * scale, zorder=6)
        _set_title(fig, size, scale, style,
                   f"{instrument} · {timeframe} · {signal.side.upper()} · strategy v{signal.version}",
                   f"signal at {_format_time(signal.time)}")
        labels = [_PriceLabel(signal.entry, style.entry, "Entry")]
        if signal.stop is not None:
            labels.append(_PriceLabel(signal.stop, style.stop, "SL"))
        if signal.target is not None:
            labels.append(_PriceLabel(signal.target, style.target, "TP"))
        prices = _draw_price_labels(ax, size, scale, style, precision, labels)
        _draw_ticks(ax, *_time_ticks(ax, candles.times, np.arange(len(candles)), size, scale, style),
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
        margins = _margins(size, scale, style, label_chars=10)
        gap = 6 * scale / size.height
        main_h, dd_h = (1 - margins.bottom - margins.top - gap) * np.array([0.72, 0.28])
        ax = fig.add_axes((margins.left, margins.bottom + dd_h + gap, 1 - margins.left - margins.right, main_h))
        dd = fig.add_axes((margins.left, margins.bottom, 1 - margins.left - margins.right, dd_h))
        for axes in (ax, dd):
            _style_axes(axes, scale, style)
            axes.set_xlim(x[0], x[-1] if len(x) > 1 else x[0] + 1)
        ax.plot(x, bal, color=style.balance, linewidth=1.0 * scale, drawstyle="steps-post", alpha=0.8)
        ax.fill_between(x, eq, peak, where=peak > eq, interpolate=True, color=style.stop, alpha=0.30, linewidth=0)
        ax.plot(x, eq, color=style.equity, linewidth=1.6 * scale)
        lo, hi = float(min(eq.min(), bal.min())), float(max(eq.max(), bal.max()))
        _set_price_limits(ax, lo, hi, top_px=_box_px(2, style, scale * 0.9), axis_px=_axis_px(ax, size))

        dd.fill_between(x, drawdown, 0, color=style.stop, alpha=0.45, linewidth=0)
        dd.plot(x, drawdown, color=style.stop, linewidth=0.9 * scale)
        floor = float(drawdown.min())
        dd.set_ylim(min(floor * 1.15, -1.0), 0.0)

        xs, dates = _time_ticks(dd, tuple(times), x, size, scale, style)
        values = _nice_ticks(ax, _nbins(_axis_px(ax, size)))
        _draw_ticks(ax, xs, [], values, [f"{v:,.0f}" for v in values], style=style, scale=scale)
        percents = _nice_ticks(dd, 3)
        _draw_ticks(dd, xs, dates, percents, [_percent_label(v) for v in percents], style=style, scale=scale)
        dd.text(0.005, 0.06, "drawdown", transform=dd.transAxes, color=style.muted,
                fontsize=style.font_size * 0.9 * scale, family=style.font_family, va="bottom")
        if floor < 0:
            dd.annotate(f"max {floor:.1f}%", xy=(x[worst], floor), xytext=(4 * scale, 2 * scale),
                        textcoords="offset points", color=style.text, fontsize=style.font_size * 0.9 * scale,
                        family=style.font_family, va="bottom")
        change = (eq[-1] / eq[0] - 1) * 100 if eq[0] else 0.0
        _set_title(fig, size, scale, style, "Equity",
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
        margins = _margins(size, scale, style, label_chars=5)
        ax = fig.add_axes((margins.left, margins.bottom, 1 - margins.left - margins.right,
                           1 - margins.bottom - margins.top))
        _style_axes(ax, scale, style)
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
        ax.set_ylim(0, max(1, counts.max()) / max(0.3, 1 - (_box_px(5, style, scale) + 12) / _axis_px(ax, size)))
        x0, x1 = ax.get_xlim()
        xs = [v for v in MaxNLocator(nbins=max(3, int(size.width / 130)), symmetric=True).tick_values(x0, x1)
              if x0 <= v <= x1]
        ys = _nice_ticks(ax, _nbins(_axis_px(ax, size)), integer=True)
        _draw_ticks(ax, xs, [_percent_label(v, signed=True) for v in xs], ys, [f"{v:.0f}" for v in ys],
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
        _set_title(fig, size, scale, style, "Daily returns",
                   f"{first_day:%d %b %Y} to {last_day:%d %b %Y} · {values.size} days")

    return _render(draw, size, max_bytes, style)


def _percent_label(value, *, signed=False) -> str:
    if abs(value) < 1e-12:
        return "0%"
    digits = 0 if abs(value) >= 1 and float(value).is_integer() else 1
    return f"{value:+.{digits}f}%" if signed else f"{value:.{digits}f}%"


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
    draw(fig, _ui_scale(size))
    canvas.draw()
    return encode_png(np.asarray(canvas.buffer_rgba()))


def encode_png(rgba: np.ndarray, *, level: int = PNG_COMPRESS_LEVEL) -> bytes:
    """A minimal PNG (8-bit RGBA, "Up" filter on every row, no ancillary
    chunks) of an RGBA buffer.

    Why not `print_png`: Pillow's encoder tries every filter on every row,
    two thirds of a 1200x600 render's time; one vectorised filter compresses
    these mostly flat charts as well. Measured on the benchmark's 500-candle
    chart (CPU ms, Pillow 13, matplotlib 3.11): this 7 ms and 58 KB; Pillow
    itself at the same zlib level with no metadata (`Image.save`, which has
    no option to choose the filter) 20 ms and 58 KB; `print_png(metadata=
    {"Software": None})` 39 ms. All three give the same bytes every time;
    Pillow's 13 ms more alone would take the cold render past the issue's
    0.5x mplfinance target. The opaque alpha channel filters to
    zeros, which cost zlib almost nothing, less than copying the colour
    channels out would. Having no tEXt/tIME/pHYs chunk at all also makes the
    bytes a function of the pixels alone.
    """
    height, width, _ = rgba.shape
    flat = rgba.reshape(height, width * 4)
    rows = np.empty((height, width * 4 + 1), dtype=np.uint8)
    rows[:, 0] = 2  # filter type "Up": each byte minus the one above it (mod 256)
    rows[0, 1:] = flat[0]
    np.subtract(flat[1:], flat[:-1], out=rows[1:, 1:])

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA, no interlace
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(rows, level)) + chunk(b"IEND", b""))


# --- layout ---------------------------------------------------------------------

@dataclass(frozen=True)
class _Margins:
    left: float
    right: float
    top: float
    bottom: float


def _ui_scale(size: Size) -> float:
    return float(np.clip(math.sqrt(min(size.width / 1200, size.height / 600)), 0.8, 1.5))


def _font_px(style: Style, scale: float) -> float:
    return style.font_size * scale * BASE_DPI / 72


def _margins(size: Size, scale: float, style: Style, *, label_chars: int) -> _Margins:
    """Fixed margins in figure fractions: room for the title on top, the date
    labels below and `label_chars` characters of price labels on the right."""
    px = _font_px(style, scale)
    right = label_chars * px * 0.64 + 16 * scale
    return _Margins(left=10 * scale / size.width, right=right / size.width,
                    top=3.3 * px / size.height, bottom=2.2 * px / size.height)


def _axis_px(ax, size: Size) -> float:
    return size.height * ax.get_position().height


def _box_px(lines: int, style: Style, scale: float) -> float:
    """Height of a text box of `lines` lines at line spacing 1.5, with padding."""
    return (lines * 1.5 + 1.6) * _font_px(style, scale)


def _nbins(axis_px: float) -> int:
    """Price labels about every 75 px: enough to read a level off the axis,
    few enough that each is a text matplotlib has to lay out and draw."""
    return max(3, min(10, int(axis_px / 75)))


def _style_axes(ax, scale, style):
    ax.set_facecolor(style.background)
    for side, spine in ax.spines.items():
        spine.set_visible(side in ("right", "bottom"))
        spine.set_color(style.spine)
        spine.set_linewidth(0.8 * scale)
    # Grid and tick labels come from `_draw_ticks`: matplotlib's own ticks
    # build a dozen artists each and were most of a chart's drawing time.
    ax.xaxis.set_major_locator(NullLocator())
    ax.yaxis.set_major_locator(NullLocator())


def _nice_ticks(ax, nbins: int, *, integer: bool = False) -> list[float]:
    """Round values for the y axis inside its limits."""
    low, high = ax.get_ylim()
    locator = MaxNLocator(nbins=nbins, steps=[1, 2, 2.5, 5, 10], integer=integer)
    return [v for v in locator.tick_values(low, high) if low <= v <= high]


def _draw_ticks(ax, xs, xlabels, ys, ylabels, *, style, scale):
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


def _price_axes(fig, size, scale, style, precision, *, top_price: float, tag_name_chars: int = 0):
    """One full-width price panel, price scale on the right as traders expect,
    wide enough for the longest price tag."""
    chars = len(f"{top_price:.{precision}f}") + tag_name_chars + 1
    margins = _margins(size, scale, style, label_chars=chars)
    ax = fig.add_axes((margins.left, margins.bottom, 1 - margins.left - margins.right,
                       1 - margins.bottom - margins.top))
    _style_axes(ax, scale, style)
    return ax


def _set_price_limits(ax, low, high, *, top_px: float = 0.0, axis_px: float = 1.0):
    """Data limits with breathing room; `top_px` keeps a band at the top of
    the panel free of data for a box or legend drawn there."""
    span = high - low or abs(high) * 0.01 or 1.0
    top = min(0.5, 0.06 + top_px / axis_px)
    below = 0.06
    # Solve for limits where the data fills exactly 1 - top - below of the panel.
    full = span / (1 - top - below)
    ax.set_ylim(low - full * below, high + full * top)


def _set_title(fig, size, scale, style, title, subtitle):
    """The title on the left; the subtitle on the right when both fit side
    by side (on a narrow chart the title alone)."""
    px = _font_px(style, scale)
    x = 10 * scale / size.width
    y = 1 - 0.7 * px / size.height
    fig.text(x, y, title, ha="left", va="top", color=style.text, fontsize=style.font_size * 1.35 * scale,
             family=style.font_family, weight="bold")
    # Generous widths (bold DejaVu Sans averages ~0.7 em, regular ~0.6 em).
    needed = len(title) * px * 1.35 * 0.72 + len(subtitle) * px * 0.62 + 40 * scale
    if needed <= size.width:
        fig.text(1 - x, y - 0.2 * px / size.height, subtitle, ha="right", va="top", color=style.muted,
                 fontsize=style.font_size * scale, family=style.font_family)


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


def _time_ticks(ax, times, positions, size, scale, style) -> tuple[list[float], list[str]]:
    """Date labels at calendar boundaries (day, month, hour...) chosen so that
    about one label fits per 130 px, on the bars' own positions."""
    axis_px = size.width * ax.get_position().width
    ticks, labels = time_ticks(times, max_ticks=max(2, int(axis_px / (130 * scale))))
    left, right = ax.get_xlim()
    at_px = [(positions[i] - left) / (right - left) * axis_px for i in ticks]
    keep = readable_ticks(at_px, labels, char_px=_font_px(style, scale) * 0.62, pad_px=12 * scale,
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
    axis_px = _axis_px(ax, size)
    per_px = (y1 - y0) / axis_px
    tag_px = _font_px(style, scale) * 1.75
    wanted = [float(label.price) for label in labels]
    placed = spread_apart(wanted, min_gap=tag_px * per_px, low=y0 + tag_px * per_px / 2,
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
    return [t for t in _nice_ticks(ax, _nbins(axis_px)) if all(abs(t - at) > tag_px * per_px for at in placed)]


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
