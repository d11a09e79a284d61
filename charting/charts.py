"""Charting's own charts (docs/api.md#charts): candles, equity and returns as
registered kinds (charting/registry.py), and the signal chart, which hangs
off the signal's own URL. Each says what it draws (from the selectors), how
(charting/render/) and under which identity it is cached. Authorization
happens before: every function here gets objects the caller may already
see (an owner, a signal)."""

from dataclasses import astuple

from django.conf import settings
from django.utils import timezone
from rest_framework.exceptions import NotFound, ValidationError

from charting import registry, selectors
from charting.media import Chart
from charting.registry import ChartData, ChartKind, Frame
from charting.render.drawing import (
    CandleSeries,
    SignalMarks,
    render_candles,
    render_equity,
    render_returns,
    render_signal,
)
from charting.serializers import CandleParamsSerializer

NO_SIGNAL_CANDLES = "No candles around this signal's time."


# --- candles ------------------------------------------------------------------------

def candles_subject(*, user, params) -> dict:
    # Any user may see any instrument's bars; whether it exists is checked with its data version.
    return {"instrument": params["instrument"].strip().upper(), "timeframe": params["timeframe"]}


def load_candles(*, subject, frame) -> ChartData:
    symbol, timeframe = subject["instrument"], subject["timeframe"]
    state = selectors.candle_series_state(symbol=symbol, timeframe=timeframe)
    if state is None:
        raise ValidationError({"instrument": [f'"{symbol}" is not a known instrument.']})
    if state.version[0] is None:
        raise NotFound(f"No {timeframe} candles of {state.symbol} yet.")

    def rows():
        window = selectors.last_candles_window(instrument=state.instrument_id, timeframe=timeframe, bars=frame.bars)
        return {"candles": CandleSeries.from_rows(selectors.ohlcv_rows(window)), "instrument": state.symbol,
                "timeframe": timeframe, "precision": state.digits}

    return ChartData(version=(state.digits, state.version), load=rows)


def draw_candles(data, *, size, max_bytes) -> bytes:
    return render_candles(**data, size=size, max_bytes=max_bytes)


# --- equity and returns ---------------------------------------------------------------

def account_subject(*, user, params) -> dict:
    """The caller's own account: no parameter can name another user's."""
    return {"owner": str(user.pk)}


def _equity_version(subject) -> tuple:
    # The owner must still be active (a link outlives a deactivation); one query with the version.
    version = selectors.active_user_equity_version(user_id=subject["owner"])
    if version is None:
        raise NotFound("No such chart.")
    if version[0] is None:
        raise NotFound("No equity points yet.")
    return version


def load_equity(*, subject, frame) -> ChartData:
    owner = subject["owner"]

    def rows():
        window = selectors.last_equity_window(owner=owner, points=frame.bars)
        times, equity, balance = zip(*selectors.equity_rows(window))
        # Read on a miss only: a new point changes the version anyway, and the
        # account's currency hardly ever changes.
        return {"times": times, "equity": equity, "balance": balance,
                "currency": registry.account_currency(owner_id=owner)}

    return ChartData(version=_equity_version(subject), load=rows)


def draw_equity(data, *, size, max_bytes) -> bytes:
    return render_equity(**data, size=size, max_bytes=max_bytes)


def load_returns(*, subject, frame) -> ChartData:
    """The returns are drawn from the equity points, so they share its version."""
    owner = subject["owner"]

    def rows():
        # bars + 1 daily closes give `bars` daily returns.
        closes = selectors.daily_closes(owner=owner, days=frame.bars + 1)
        returns = selectors.daily_returns_pct(closes)
        if not returns:
            raise NotFound("Daily returns need equity points on at least two days.")
        return {"returns_pct": returns, "first_day": closes[0][0], "last_day": closes[-1][0]}

    return ChartData(version=_equity_version(subject), load=rows)


def draw_returns(data, *, size, max_bytes) -> bytes:
    return render_returns(**data, size=size, max_bytes=max_bytes)


OWN_KINDS = [
    ChartKind(name="candles", summary="The last `bars` candles of an instrument in a timeframe.",
              subject=candles_subject, load=load_candles, draw=draw_candles, params=CandleParamsSerializer,
              uses_bars=True),
    ChartKind(name="equity", summary="The caller's equity curve: the last `bars` points.",
              subject=account_subject, load=load_equity, draw=draw_equity, uses_bars=True),
    ChartKind(name="returns", summary="Histogram of the caller's daily returns over the last `bars` days with points.",
              subject=account_subject, load=load_returns, draw=draw_returns, uses_bars=True),
]


# --- the signal chart -------------------------------------------------------------------

def signal_chart(*, signal, frame: Frame, timeframe: str | None = None) -> Chart:
    """`signal` from selectors.chart_signals (instrument and producer joined)."""
    if timeframe:
        version = selectors.candles_version(instrument=signal.instrument_id, timeframe=timeframe)
    else:
        timeframe, version = selectors.signal_series_version(signal=signal) or (None, None)
    if version is None or version[0] is None:
        raise NotFound(NO_SIGNAL_CANDLES)
    instrument = signal.instrument
    trades = registry.signal_trades(signal=signal)
    # A pending signal reads as expired once its time is up (signals.models).
    status = signal.effective_status(timezone.now())

    def draw():
        windows = selectors.signal_windows(signal=signal, timeframe=timeframe, bars=frame.bars)
        rows = [row for window in windows for row in selectors.ohlcv_rows(window)]
        if not rows:
            raise NotFound(NO_SIGNAL_CANDLES)
        marks = SignalMarks(side=signal.side, time=signal.time, entry=signal.entry_price,
                            stop=signal.stop_loss, target=signal.take_profit, version=signal.version,
                            producer=signal.producer.name, status=status, expires_at=signal.expires_at,
                            trades=trades)
        return render_signal(candles=CandleSeries.from_rows(sorted(rows, key=lambda row: row[0])),
                             signal=marks, instrument=instrument.symbol, timeframe=timeframe,
                             precision=instrument.digits, size=frame.size, max_bytes=settings.CHART_MAX_BYTES)

    # A signal's prices, side, time, producer and expiry never change after
    # it is stored; its status and trades do, and are part of the identity.
    return Chart("signal", {"signal": str(signal.pk), "digits": instrument.digits, "timeframe": timeframe,
                            **frame.identity(), "data": version, "status": status,
                            "trades": [astuple(trade) for trade in trades]}, draw)
