"""The four charts (docs/api.md#charts) as `Chart` values: what they draw (from the
selectors), how (charting/render/) and under which identity they are
cached. Authorization happens before: every function here gets objects the
caller may already see (an owner, a signal)."""

from dataclasses import dataclass

from django.conf import settings
from rest_framework.exceptions import NotFound, ValidationError

from charting import selectors
from charting.media import Chart
from charting.render.drawing import (
    CandleSeries,
    SignalMarks,
    render_candles,
    render_equity,
    render_returns,
    render_signal,
)
from charting.render.layout import Size
from core.chart_frame import DEFAULT_BARS, DEFAULT_HEIGHT, DEFAULT_WIDTH

NO_SIGNAL_CANDLES = "No candles around this signal's time."


@dataclass(frozen=True)
class Frame:
    """The common query parameters: pixel size and how many bars (or points,
    or days) to draw."""

    width: int = DEFAULT_WIDTH
    height: int = DEFAULT_HEIGHT
    bars: int = DEFAULT_BARS

    @property
    def size(self) -> Size:
        return Size(self.width, self.height)

    def identity(self) -> dict:
        # The cap changes the bytes, so it is part of what is cached.
        return {"width": self.width, "height": self.height, "bars": self.bars, "cap": settings.CHART_MAX_BYTES}


def candles_chart(*, symbol: str, timeframe: str, frame: Frame) -> Chart:
    state = selectors.candle_series_state(symbol=symbol, timeframe=timeframe)
    if state is None:
        raise ValidationError({"instrument": [f'"{symbol}" is not a known instrument.']})
    if state.version[0] is None:
        raise NotFound(f"No {timeframe} candles of {state.symbol} yet.")

    def draw():
        window = selectors.last_candles_window(instrument=state.instrument_id, timeframe=timeframe, bars=frame.bars)
        return render_candles(candles=CandleSeries.from_rows(selectors.ohlc_rows(window)),
                              instrument=state.symbol, timeframe=timeframe, precision=state.digits,
                              size=frame.size, max_bytes=settings.CHART_MAX_BYTES)

    return Chart("candles", {"instrument": state.symbol, "digits": state.digits, "timeframe": timeframe,
                             **frame.identity(), "data": state.version}, draw)


def signal_chart(*, signal, frame: Frame, timeframe: str | None = None) -> Chart:
    if timeframe:
        version = selectors.candles_version(instrument=signal.instrument_id, timeframe=timeframe)
    else:
        timeframe, version = selectors.signal_series_version(signal=signal) or (None, None)
    if version is None or version[0] is None:
        raise NotFound(NO_SIGNAL_CANDLES)
    instrument = signal.instrument

    def draw():
        windows = selectors.signal_windows(signal=signal, timeframe=timeframe, bars=frame.bars)
        rows = [row for window in windows for row in selectors.ohlc_rows(window)]
        if not rows:
            raise NotFound(NO_SIGNAL_CANDLES)
        marks = SignalMarks(side=signal.side, time=signal.time, entry=signal.entry_price,
                            stop=signal.stop_loss, target=signal.take_profit, version=signal.version)
        return render_signal(candles=CandleSeries.from_rows(sorted(rows, key=lambda row: row[0])),
                             signal=marks, instrument=instrument.symbol, timeframe=timeframe,
                             precision=instrument.digits, size=frame.size, max_bytes=settings.CHART_MAX_BYTES)

    # A signal's prices, side and time never change after it is stored.
    return Chart("signal", {"signal": str(signal.pk), "digits": instrument.digits, "timeframe": timeframe,
                            **frame.identity(), "data": version}, draw)


def _equity_version(owner_id, version: tuple | None) -> tuple:
    version = version if version is not None else selectors.equity_version(owner=owner_id)
    if version[0] is None:
        raise NotFound("No equity points yet.")
    return version


def equity_chart(*, owner_id, frame: Frame, version: tuple | None = None) -> Chart:
    """`version`: the owner's equity data version, when the caller has read it already."""
    version = _equity_version(owner_id, version)

    def draw():
        window = selectors.last_equity_window(owner=owner_id, points=frame.bars)
        times, equity, balance = zip(*selectors.equity_rows(window))
        return render_equity(times=times, equity=equity, balance=balance, size=frame.size,
                             max_bytes=settings.CHART_MAX_BYTES)

    return Chart("equity", {"owner": str(owner_id), **frame.identity(), "data": version}, draw)


def returns_chart(*, owner_id, frame: Frame, version: tuple | None = None) -> Chart:
    """`version` as for equity_chart: the returns are drawn from the equity points."""
    version = _equity_version(owner_id, version)

    def draw():
        # bars + 1 daily closes give `bars` daily returns.
        closes = selectors.daily_closes(owner=owner_id, days=frame.bars + 1)
        returns = selectors.daily_returns_pct(closes)
        if not returns:
            raise NotFound("Daily returns need equity points on at least two days.")
        return render_returns(returns_pct=returns, first_day=closes[0][0], last_day=closes[-1][0],
                              size=frame.size, max_bytes=settings.CHART_MAX_BYTES)

    return Chart("returns", {"owner": str(owner_id), **frame.identity(), "data": version}, draw)
