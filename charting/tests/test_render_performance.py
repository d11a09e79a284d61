"""The performance charts and what the candles, signal and equity charts
grew, drawn from hand-made data (charting/render/)."""

from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import pytest

from charting.render.drawing import CandleSeries, SignalTrade, render_candles, render_equity, render_signal
from charting.render.layout import Size
from charting.render.performance import (
    MonthlyReturns,
    RMultiples,
    Underwater,
    compounded,
    longest_under_water,
    render_drawdown,
    render_monthly_returns,
    render_r_multiples,
)
from charting.render.style import STYLE
from charting.render.ticks import time_ticks
from charting.tests.conftest import START, candle_rows
from charting.tests.test_render import chunks, pixels, signal_marks

MONTHS = MonthlyReturns(months=((2025, 11, 0.10), (2025, 12, -0.10), (2026, 1, 0.021), (2026, 3, -0.004)),
                        label="alpha")
UNDERWATER = Underwater(days=tuple(date(2026, 1, 1) + timedelta(days=i) for i in range(8)),
                        drawdown=(0, -0.01, -0.03, 0, -0.02, -0.05, -0.04, -0.01))
R = RMultiples(values=(-1.0, -1.0, 2.0, 3.1, 0.5, -0.4))


def size_of(png):
    header = dict(chunks(png))[b"IHDR"]
    return int.from_bytes(header[:4], "big"), int.from_bytes(header[4:8], "big")


@pytest.mark.parametrize("render, data", [(render_monthly_returns, MONTHS), (render_drawdown, UNDERWATER),
                                          (render_r_multiples, R)])
@pytest.mark.parametrize("size", [Size(1200, 600), Size(400, 250), Size(200, 120)])
def test_each_performance_chart_is_drawn_at_its_size_the_same_every_time(render, data, size):
    png = render(data, size=size)
    assert size_of(png) == (size.width, size.height)
    assert [kind for kind, _ in chunks(png)] == [b"IHDR", b"IDAT", b"IEND"]
    assert render(data, size=size) == png


@pytest.mark.parametrize("render, empty", [(render_monthly_returns, MonthlyReturns(())),
                                           (render_drawdown, Underwater((), ())), (render_r_multiples, RMultiples(()))])
def test_nothing_to_draw_is_an_error(render, empty):
    with pytest.raises(ValueError):
        render(empty)


def test_the_byte_cap_holds_for_the_new_charts():
    full = render_monthly_returns(MONTHS)
    capped = render_monthly_returns(MONTHS, max_bytes=len(full) // 2)
    assert len(capped) <= len(full) // 2 and size_of(capped)[0] < 1200


def test_a_year_compounds_its_months_and_the_order_of_months_does_not_matter():
    assert compounded([0.10, -0.10]) == pytest.approx(-0.01)
    shuffled = MonthlyReturns(months=tuple(reversed(MONTHS.months)), label="alpha")
    assert render_monthly_returns(shuffled) == render_monthly_returns(MONTHS)


def colour(name):
    return np.array([int(getattr(STYLE, name)[i:i + 2], 16) for i in (1, 3, 5)])


def test_the_heatmap_colours_gains_green_and_losses_red():
    """One month, +10 %: the strongest green; then the same month at -10 %."""
    gain = pixels(render_monthly_returns(MonthlyReturns(months=((2026, 1, 0.10),)), size=Size(600, 300)))
    loss = pixels(render_monthly_returns(MonthlyReturns(months=((2026, 1, -0.10),)), size=Size(600, 300)))
    greenish = lambda image: (np.abs(image.astype(int) - colour("up")).sum(axis=2) < 60).sum()  # noqa: E731
    reddish = lambda image: (np.abs(image.astype(int) - colour("down")).sum(axis=2) < 60).sum()  # noqa: E731
    assert greenish(gain) > 500 and reddish(gain) == 0
    assert reddish(loss) > 500 and greenish(loss) == 0


def test_the_longest_stretch_under_water_is_found():
    assert longest_under_water(np.array([0, -1, -3, 0, -2, -5, -4, -1])) == (4, 7)
    assert longest_under_water(np.array([0.0, 0.0])) == (0, -1)


def test_the_mean_r_changes_the_picture():
    assert render_r_multiples(R) != render_r_multiples(RMultiples(values=R.values + (5.0,)))


def series(n, step=timedelta(hours=1), volume=True):
    return CandleSeries.from_rows([(r["time"], r["open"], r["high"], r["low"], r["close"],
                                    r["volume"] if volume else 0) for r in candle_rows(n, step=step)])


def test_intraday_labels_are_times_of_day_and_dates_at_midnight():
    times = [START + timedelta(minutes=15 * i) for i in range(200)]  # 50 hours of M15
    _, labels = time_ticks(times, max_ticks=5, intraday=True)
    assert labels == ["12:00", "03 Nov", "12:00", "04 Nov"]
    _, labels = time_ticks(times[:40], max_ticks=5, intraday=True)
    assert labels == ["02:00", "04:00", "06:00", "08:00"]


def test_candles_have_a_volume_pane_when_the_bars_carry_volume():
    with_volume = pixels(render_candles(candles=series(60), instrument="EURUSD", timeframe="H1", precision=5,
                                        size=Size(400, 250)))
    without = pixels(render_candles(candles=series(60, volume=False), instrument="EURUSD", timeframe="H1",
                                    precision=5, size=Size(400, 250)))
    # The volume bars are the candle colours dimmed over the background, in the lower fifth.
    dimmed = (colour("up") * 0.55 + colour("background") * 0.45).round()
    near = lambda image: (np.abs(image[180:230].astype(int) - dimmed).sum(axis=2) < 12).sum()  # noqa: E731
    assert near(with_volume) > 1000 and near(without) < 20  # a stray antialiased pixel at most


def test_the_legend_shows_the_last_bars_prices():
    """Another close of the last bar changes the legend (and the last price tag) only."""
    rows = [(r["time"], r["open"], r["high"], r["low"], r["close"], r["volume"]) for r in candle_rows(60)]
    changed = rows[:-1] + [rows[-1][:4] + (rows[-1][4] + Decimal("0.00001"), rows[-1][5])]
    kwargs = {"instrument": "EURUSD", "timeframe": "H1", "precision": 5, "size": Size(800, 400)}
    a = pixels(render_candles(candles=CandleSeries.from_rows(rows), **kwargs))
    b = pixels(render_candles(candles=CandleSeries.from_rows(changed), **kwargs))
    differs = np.argwhere((a != b).any(axis=2))
    assert differs[:, 0].min() < 70  # in the legend at the top of the price pane


def test_the_signal_chart_draws_its_trade_and_the_equity_chart_its_currency():
    marks = signal_marks(producer="alpha-engine", status="approved", expires_at=START + timedelta(hours=81))
    traded = signal_marks(producer="alpha-engine", status="approved", expires_at=START + timedelta(hours=81),
                          trades=(SignalTrade(START + timedelta(hours=80, minutes=3), Decimal("1.08810"),
                                              START + timedelta(hours=100), Decimal("1.09400"), "take_profit"),))
    kwargs = {"candles": series(120, volume=False), "instrument": "EURUSD", "timeframe": "H1", "precision": 5}
    assert render_signal(signal=marks, **kwargs) != render_signal(signal=traded, **kwargs)
    times = [START + timedelta(hours=6 * i) for i in range(40)]
    equity = [Decimal(10000 + 25 * i) for i in range(40)]
    assert render_equity(times=times, equity=equity, balance=equity, currency="EUR") != render_equity(
        times=times, equity=equity, balance=equity)
