"""Performance charts (monthly, drawdown, r-multiples): our cold render vs a plain pyplot script (target <= 0.5x).

    .venv/bin/python -m bench charts_analytics [--repeat 15]

For each chart, the same data drawn at 1200x600 px to PNG bytes: our
renderer (charting.render.performance) against what a straightforward
matplotlib script draws for the same picture with pyplot, element for
element: `imshow` and a text per cell, the year's compounded column in
bold, for the heatmap; `fill_between` and `plot` for the underwater curve
with the zero line, the longest stretch under water shaded and labelled,
the deepest point marked and annotated, percent ticks; `hist` with bars
coloured by sign, `axvline` for zero and the mean, a legend and the
summary in a framed text for the R multiples; a title and a subtitle on
each; `savefig` to a PNG, `plt.close`. The pyplot script runs in a process of its own (pyplot
keeps global state), the two interleaved; medians of `--repeat` runs each
after one warm-up. Data: ten years of monthly returns (120 cells), five
years of daily drawdowns (1,260 days), 1,000 realized R multiples; seeded,
the same in both processes. Needs neither a database nor Django. Exits 1 if
a target is missed.
"""

import argparse
import io
from datetime import date, timedelta

from bench.harness import Checks, argument_parser, interleaved_medians, serve_timings

SMOKE = ["--repeat", "3"]
WIDTH, HEIGHT = 1200, 600
CHARTS = ("monthly", "drawdown", "r-multiples")


def bench_data():
    """(months, (days, drawdowns), r multiples): the same in every process."""
    import numpy as np

    rng = np.random.default_rng(15)
    months = [(2016 + i // 12, i % 12 + 1, float(rng.normal(0.008, 0.035))) for i in range(120)]
    returns = rng.normal(0.0004, 0.009, 1260)
    equity = np.cumprod(1 + returns)
    drawdown = equity / np.maximum.accumulate(equity) - 1
    days = [date(2021, 1, 4) + timedelta(days=i) for i in range(1260)]
    r = [float(v) for v in rng.normal(0.25, 1.3, 1000)]
    return months, (days, [float(v) for v in drawdown]), r


def our_renders():
    from charting.render.layout import Size
    from charting.render.performance import (MonthlyReturns, RMultiples, Underwater, render_drawdown,
                                             render_monthly_returns, render_r_multiples)

    months, (days, drawdown), r = bench_data()
    size = Size(WIDTH, HEIGHT)
    return {
        "monthly": lambda: render_monthly_returns(MonthlyReturns(months=tuple(months)), size=size),
        "drawdown": lambda: render_drawdown(Underwater(days=tuple(days), drawdown=tuple(drawdown)), size=size),
        "r-multiples": lambda: render_r_multiples(RMultiples(values=tuple(r)), size=size),
    }


def pyplot_child(chart):
    """The straightforward script, once per line read from stdin."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.ticker import PercentFormatter

    from charting.render.performance import longest_under_water

    months, (days, drawdown), r = bench_data()

    def save(fig):
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=100)
        plt.close(fig)
        return buffer.getvalue()

    def monthly():
        years = sorted({year for year, _, _ in months})
        grid = np.full((len(years), 13), np.nan)
        for year, month, value in months:
            grid[years.index(year), month - 1] = value * 100
        for row in range(len(years)):  # the year's column: its months compounded
            grid[row, 12] = (np.prod(1 + grid[row, :12][~np.isnan(grid[row, :12])] / 100) - 1) * 100
        fig, ax = plt.subplots(figsize=(WIDTH / 100, HEIGHT / 100))
        ax.imshow(grid, cmap="RdYlGn", aspect="auto", vmin=-10, vmax=10)
        for (row, column), value in np.ndenumerate(grid):
            if not np.isnan(value):
                ax.text(column, row, f"{value:+.1f}%", ha="center", va="center", fontsize=8,
                        weight="bold" if column == 12 else "normal")
        ax.set_xticks(range(13), ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                                  "Dec", "Year"])
        ax.set_yticks(range(len(years)), years)
        ax.set_title("Monthly returns", loc="left")
        ax.set_title(f"{len(months)} months", loc="right", fontsize=9)
        return save(fig)

    def underwater():
        values = np.asarray(drawdown) * 100
        worst = int(np.argmin(values))
        first, last = longest_under_water(values)
        fig, ax = plt.subplots(figsize=(WIDTH / 100, HEIGHT / 100))
        ax.axvspan(days[first], days[last], color="grey", alpha=0.12)
        ax.set_ylim(bottom=values[worst] * 1.12)
        ax.text(days[first], values[worst] * 1.09, f" longest under water: {(days[last] - days[first]).days + 1} days",
                fontsize=8, color="grey", va="bottom")
        ax.fill_between(days, values, 0, color="red", alpha=0.4)
        ax.plot(days, values, color="red", linewidth=1)
        ax.axhline(0, color="grey", linewidth=0.8)
        ax.plot([days[worst]], [values[worst]], "o", color="black", markersize=5)
        ax.annotate(f"max {values[worst]:.1f}% on {days[worst]:%d %b %Y}", (days[worst], values[worst]),
                    xytext=(6, 2), textcoords="offset points")
        ax.yaxis.set_major_formatter(PercentFormatter())
        ax.set_title("Drawdown", loc="left")
        ax.set_title(f"max {values[worst]:.1f}% · now {values[-1]:.1f}%", loc="right", fontsize=9)
        return save(fig)

    def r_multiples():
        values = np.asarray(r)
        fig, ax = plt.subplots(figsize=(WIDTH / 100, HEIGHT / 100))
        _, edges, bars = ax.hist(values, bins=30)
        for bar, left in zip(bars, edges):
            bar.set_facecolor("green" if left >= 0 else "red")
        ax.axvline(float(np.mean(values)), color="blue", linestyle="--", label=f"mean {np.mean(values):+.2f}R")
        ax.axvline(0, color="grey")
        ax.legend(loc="upper left")
        ax.text(0.98, 0.97, f"trades {values.size}\nwin rate {(values > 0).mean() * 100:.0f}%\n"
                f"mean {values.mean():+.2f}R\nbest {values.max():+.2f}R\nworst {values.min():+.2f}R",
                transform=ax.transAxes, ha="right", va="top", linespacing=1.5,
                bbox={"boxstyle": "round", "facecolor": "white"})
        ax.set_title("R multiples", loc="left")
        ax.set_title(f"{values.size} closed trades", loc="right", fontsize=9)
        return save(fig)

    serve_timings({"monthly": monthly, "drawdown": underwater, "r-multiples": r_multiples}[chart])


def main(argv):
    parser = argument_parser(__name__, __doc__)
    parser.add_argument("--repeat", type=int, default=15, help="timed runs of each kind (default 15)")
    parser.add_argument("--pyplot-child", choices=CHARTS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.pyplot_child:
        return pyplot_child(args.pyplot_child)

    check = Checks()
    ours = our_renders()
    print(f"{WIDTH}x{HEIGHT}, median of {args.repeat} (wall clock / CPU time):")
    for chart in CHARTS:
        mine, theirs = interleaved_medians(ours[chart], ["charts_analytics", "--pyplot-child", chart], args.repeat)
        print(f"  {chart:12s} pyplot {theirs[0] * 1000:6.1f} / {theirs[1] * 1000:6.1f} ms   "
              f"ours {mine[0] * 1000:6.1f} / {mine[1] * 1000:6.1f} ms   CPU ratio {mine[1] / theirs[1]:.2f}")
        check.ratio(f"{chart}: ours / pyplot, wall clock:", mine[0] / theirs[0], at_most=0.5)
    return check.status()
