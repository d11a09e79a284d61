"""Demo market data for `python manage.py load_demo` (runs after the signal
feed, before the trader's bridge): ~1000 hourly bars of EURUSD and XAUUSD up to the
current hour, a year of equity for the demo trader, and a few past signals
on those bars so their charts have something to show.

The prices are a seeded random walk with GARCH(1,1) volatility clusters, a
busier London/New York session than the Asian one, and the weekend closure
(Friday 21:00 to Sunday 22:00 UTC) with a gap at the reopening. The last
close of the first run is pinned to the price the signal feed quotes, so
its signals sit on the chart. Re-running leaves stored bars alone and only
continues them up to the current hour; the equity history and the signals
are made once.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal

import numpy as np
from django.utils import timezone

from charting import services
from charting.models import Candle
from signals import services as signal_services
from signals.models import Instrument, Producer, Signal

BARS = 1000
EQUITY_DAYS = 300
SEED = 20261126
DEMO_PAYLOAD_TAG = "charting-demo"


@dataclass(frozen=True)
class Market:
    symbol: str
    last_close: float  # where the signal feed quotes it
    hourly_vol: float  # long-run volatility of one hour's log return
    volume: float


MARKETS = [Market("EURUSD", 1.08450, 0.0009, 1800), Market("XAUUSD", 2395.50, 0.0015, 900)]


def load(*, stdout, users):
    now = timezone.now()
    rng = np.random.default_rng(SEED)
    for market in MARKETS:
        instrument = Instrument.objects.get(symbol=market.symbol)
        last = Candle.objects.filter(instrument=instrument, timeframe="H1").order_by("-time").first()
        # Bars once stored never change (signals sit on them): a later run
        # only continues the walk from the last stored close up to this hour.
        times = [t for t in trading_hours(now, BARS) if last is None or t > last.time]
        if not times:
            continue
        rows = hourly_bars(market, times=times, rng=rng, digits=instrument.digits,
                           after_close=float(last.close) if last else None)
        result = services.upsert_candles(instrument=instrument, timeframe="H1", candles=rows)
        stdout.write(f"Candles {market.symbol} H1: {result.inserted} new "
                     f"({rows[0]['time']:%Y-%m-%d %H:%M} to {rows[-1]['time']:%Y-%m-%d %H:%M} UTC)")
    trader = users["trader"]
    if not trader.equity_points.exists():
        result = services.upsert_equity_points(owner=trader, points=equity_points(end=now, rng=rng))
        stdout.write(f"Equity of {trader.username}: {result.inserted} points over {EQUITY_DAYS} trading days")
    _signals_on_the_bars(trader)


def trading_hours(end: datetime, count: int) -> list[datetime]:
    """The last `count` hourly bar times up to `end`, skipping the weekend
    closure (Friday 21:00 to Sunday 22:00 UTC)."""
    hour = end.astimezone(dt_timezone.utc).replace(minute=0, second=0, microsecond=0)
    times = []
    while len(times) < count:
        weekday, h = hour.weekday(), hour.hour
        closed = (weekday == 4 and h >= 21) or weekday == 5 or (weekday == 6 and h < 22)
        if not closed:
            times.append(hour)
        hour -= timedelta(hours=1)
    return times[::-1]


def _session_factor(hour: int) -> float:
    if 12 <= hour < 16:  # London and New York overlap
        return 1.5
    if 7 <= hour < 21:
        return 1.15
    return 0.6  # Asia


def garch_returns(count: int, *, vol: float, rng, alpha=0.09, beta=0.89) -> tuple[np.ndarray, np.ndarray]:
    """Log returns with volatility clusters; also the per-step volatility."""
    omega = vol ** 2 * (1 - alpha - beta)
    variance, shock = vol ** 2, 0.0
    returns, sigmas = np.empty(count), np.empty(count)
    noise = rng.standard_t(df=5, size=count) / np.sqrt(5 / 3)  # fat tails, unit variance
    for i in range(count):
        variance = omega + alpha * shock ** 2 + beta * variance
        sigmas[i] = np.sqrt(variance)
        shock = sigmas[i] * noise[i]
        returns[i] = shock
    return returns, sigmas


def hourly_bars(market: Market, *, times: list[datetime], rng, digits: int,
                after_close: float | None) -> list[dict]:
    """Bars at `times`, continuing from `after_close`, or (for the first
    run) ending at the market's demo quote."""
    count = len(times)
    session = np.array([_session_factor(t.hour) for t in times])
    returns, sigmas = garch_returns(count, vol=market.hourly_vol, rng=rng)
    returns *= session
    sigmas *= session
    # The Sunday reopening gaps by a few hours' worth of news.
    reopened = np.array([i > 0 and (times[i] - times[i - 1]) > timedelta(hours=1) for i in range(count)])
    returns[reopened] += rng.normal(0, 4 * market.hourly_vol, size=reopened.sum())
    closes = np.exp(np.cumsum(returns))
    closes *= after_close if after_close is not None else market.last_close / closes[-1]
    opens = np.concatenate([[closes[0] / np.exp(returns[0])], closes[:-1]])
    # Wicks reach beyond the body by a part of the bar's own volatility.
    reach_up = np.abs(rng.normal(0, 0.6, count)) * sigmas
    reach_down = np.abs(rng.normal(0, 0.6, count)) * sigmas
    highs = np.maximum(opens, closes) * np.exp(reach_up)
    lows = np.minimum(opens, closes) * np.exp(-reach_down)
    volumes = market.volume * (sigmas / market.hourly_vol) * rng.lognormal(0, 0.3, count)
    def price(value):
        return Decimal(f"{float(value):.{digits}f}")

    rows = []
    for i, time in enumerate(times):
        o, c = price(opens[i]), price(closes[i])
        rows.append({"time": time, "open": o, "close": c, "high": max(price(highs[i]), o, c),
                     "low": min(price(lows[i]), o, c), "volume": Decimal(int(volumes[i]))})
    return rows


def equity_points(*, end: datetime, rng) -> list[dict]:
    """Four points a weekday: equity floats with open trades during the day,
    the balance catches up with it at each day's close (21:00 UTC)."""
    day = end.astimezone(dt_timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    days = []
    while len(days) < EQUITY_DAYS:
        day -= timedelta(days=1)
        if day.weekday() < 5:
            days.append(day)
    days.reverse()
    daily, _ = garch_returns(EQUITY_DAYS, vol=0.009, rng=rng, alpha=0.12, beta=0.8)
    daily += 0.0009  # a strategy with an edge, and its losing streaks
    balance, points = 10_000.0, []
    for day, change in zip(days, daily):
        closed = balance * np.exp(change)
        for hour, share in ((3, 0.2), (9, 0.55), (15, 0.8)):
            floating = balance + (closed - balance) * share + rng.normal(0, balance * 0.002)
            points.append(_point(day + timedelta(hours=hour), floating, balance))
        balance = closed
        points.append(_point(day + timedelta(hours=21), balance, balance))
    return points


def _point(time, equity, balance):
    return {"time": time, "equity": Decimal(f"{float(equity):.2f}"), "balance": Decimal(f"{float(balance):.2f}")}


def _signals_on_the_bars(trader):
    """Three past signals per instrument, entered at a bar's close with a
    stop 1.5 and a target 3 average bar ranges away, once."""
    producer = Producer.objects.filter(owner=trader).order_by("created_at").first()
    if producer is None or Signal.objects.filter(producer=producer, payload__source=DEMO_PAYLOAD_TAG).exists():
        return
    for market in MARKETS:
        instrument = Instrument.objects.get(symbol=market.symbol)
        bars = list(Candle.objects.filter(instrument=instrument, timeframe="H1").order_by("-time")[:400])[::-1]
        for version, (back, side) in enumerate([(330, "buy"), (190, "sell"), (60, "buy")], start=100):
            bar = bars[-back]
            recent = bars[-back - 20:-back]
            atr = sum(b.high - b.low for b in recent) / len(recent)
            quantum = Decimal(1).scaleb(-instrument.digits)
            risk, sign = (atr * Decimal("1.5")).quantize(quantum), 1 if side == "buy" else -1
            signal_services.ingest_signal(
                producer=producer, instrument=instrument, side=side, time=bar.time + timedelta(minutes=59),
                version=version, entry_price=bar.close, stop_loss=bar.close - sign * risk,
                take_profit=bar.close + sign * 2 * risk,
                payload={"source": DEMO_PAYLOAD_TAG, "strategy": "breakout", "atr": str(atr.quantize(quantum))})
