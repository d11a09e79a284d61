"""Reads for the charts: the bars and points a chart draws, and a cheap
"data version" of their series, which goes into the cache key so that new or
corrected data makes a new key (nothing is ever purged)."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Max, Model, QuerySet
from django.db.models.functions import TruncDate

from charting import sql
from charting.models import TIMEFRAME_SECONDS, Candle, EquityPoint
from core.lookups import LOOKUP_CHUNK, chunks
from signals.models import Instrument, Signal

# Which timeframe a signal chart uses when the caller names none: the first
# one with bars near the signal, in order of usefulness for a trade idea.
SIGNAL_TIMEFRAME_PREFERENCE = ["H1", "M15", "H4", "M30", "M5", "D1", "M1"]
# Bars after the signal: a quarter of the chart, when the market has moved on.
SIGNAL_AFTER_SHARE = 4

OHLC = ("time", "open", "high", "low", "close")
OHLCV = (*OHLC, "volume")


def instrument_by_symbol(symbol: str) -> Instrument | None:
    return Instrument.objects.filter(symbol=symbol.strip().upper()).first()


@dataclass(frozen=True)
class Window:
    """The rows of one series that one chart draws: those matching `match`
    (field name to value), optionally after or up to a time, the `limit`
    newest (or oldest, with `newest_first` False) of them."""

    model: type[Model]
    match: dict
    limit: int | None = None
    newest_first: bool = True
    after: datetime | None = None
    until: datetime | None = None

    def queryset(self) -> QuerySet:
        rows = self.model.objects.filter(**self.match)
        if self.after is not None:
            rows = rows.filter(time__gt=self.after)
        if self.until is not None:
            rows = rows.filter(time__lte=self.until)
        rows = rows.order_by("-time" if self.newest_first else "time")
        return rows[:self.limit] if self.limit is not None else rows


def _fetchone(statement: str, params: dict) -> tuple | None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchone()


def _stamps(values) -> tuple:
    return tuple(str(value) if value is not None else None for value in values)


def _user_id(value):
    """A user's id (or a user) as the database stores it: UUIDs are hex text on SQLite."""
    pk = get_user_model()._meta.pk
    return pk.get_db_prep_value(pk.to_python(getattr(value, "pk", value)), connection)


@dataclass(frozen=True)
class CandleSeriesState:
    instrument_id: int
    symbol: str
    digits: int
    version: tuple  # see candles_version; (None, None) without bars


def candle_series_state(*, symbol: str, timeframe: str) -> CandleSeriesState | None:
    """The instrument called `symbol` (None if there is none) with the data
    version of its bars in `timeframe`, in one query: with authentication,
    all the database work of a cached candles chart."""
    row = _fetchone(sql.CANDLE_SERIES_STATE, {"symbol": symbol.strip().upper(), "timeframe": timeframe})
    if row is None:
        return None
    return CandleSeriesState(instrument_id=row[0], symbol=row[1], digits=row[2], version=_stamps(row[3:]))


def last_candles_window(*, instrument, timeframe: str, bars: int) -> Window:
    return Window(Candle, {"instrument": instrument, "timeframe": timeframe}, limit=bars)


def ohlcv_rows(window: Window) -> list[tuple]:
    """The window's bars as (time, open, high, low, close, volume), oldest first."""
    return sorted(window.queryset().values_list(*OHLCV), key=lambda row: row[0])


def finest_candle_timeframe(*, symbol: str) -> str | None:
    """The shortest timeframe that has bars of the instrument called `symbol`."""
    for timeframe in sorted(TIMEFRAME_SECONDS, key=TIMEFRAME_SECONDS.get):
        if Candle.objects.filter(instrument__symbol=symbol, timeframe=timeframe).exists():
            return timeframe
    return None


def candles_since(*, symbol: str, timeframe: str, since: datetime, limit: int) -> list[tuple]:
    """(time, open, high, low, close) of up to `limit` bars opening at or
    after `since`, oldest first."""
    rows = Candle.objects.filter(instrument__symbol=symbol, timeframe=timeframe, time__gte=since)
    return list(rows.order_by("time").values_list(*OHLC)[:limit])


def last_candle(*, symbol: str, timeframe: str) -> tuple | None:
    """(time, open, high, low, close) of the newest bar, or None."""
    rows = Candle.objects.filter(instrument__symbol=symbol, timeframe=timeframe)
    return rows.order_by("-time").values_list(*OHLC).first()


def chart_signals(signals: QuerySet[Signal]) -> QuerySet[Signal]:
    """`signals` as a signal chart reads them: with the instrument, without
    the resource's other joins or the payload (up to 64 KiB of JSON that
    would be parsed for nothing on every cached answer)."""
    return signals.select_related(None).select_related("instrument", "producer").defer("payload")


def signal_timeframe(*, signal) -> str | None:
    """The preferred timeframe that has a bar shortly before the signal."""
    found = signal_series_version(signal=signal)
    return found[0] if found is not None else None


def signal_series_version(*, signal) -> tuple[str, tuple] | None:
    """The preferred timeframe with a bar shortly before the signal, and the
    data version of its bars (see candles_version), or None.

    One query, as it runs on every request for a signal's chart (the one
    embedded through `chart_url`): one EXISTS probe per candidate timeframe,
    the first that finds a bar wins, instead of a round trip per timeframe
    and another for the version.
    """
    adapt_time = connection.ops.adapt_datetimefield_value
    params = {"instrument": signal.instrument_id, "signal_time": adapt_time(signal.time)}
    for rank, timeframe in enumerate(SIGNAL_TIMEFRAME_PREFERENCE):
        params[f"timeframe_{rank}"] = timeframe
        params[f"near_{rank}"] = adapt_time(signal.time - _near(timeframe))
    row = _fetchone(sql.signal_series_version(len(SIGNAL_TIMEFRAME_PREFERENCE)), params)
    return (row[0], _stamps(row[1:])) if row is not None else None


def _near(timeframe: str) -> timedelta:
    """How long before a signal a bar still counts as near it."""
    return timedelta(seconds=max(4 * 86400, 2 * TIMEFRAME_SECONDS[timeframe]))


def signals_with_bars(signals: list[Signal]) -> set:
    """The ids of those of `signals` that have a bar near them in a preferred
    timeframe (what signal_series_version looks for): an EXISTS probe per
    signal and reach (charting/sql.py, SIGNALS_WITH_BARS says why raw), from
    the signals' instrument and time, in one query per LOOKUP_CHUNK
    parameters. The signals need not be stored yet."""
    found = set()
    for part in chunks(signals, _WITH_BARS_CHUNK):
        with connection.cursor() as cursor:
            cursor.execute(*_with_bars_query(part))
            found.update(part[number].pk for number, in cursor.fetchall())
    return found


def _reaches() -> dict[timedelta, list[str]]:
    """The candidate timeframes by how long before a signal their bars count as near it."""
    by_reach = {}
    for timeframe in SIGNAL_TIMEFRAME_PREFERENCE:
        by_reach.setdefault(_near(timeframe), []).append(timeframe)
    return by_reach


# As many signals as one probe takes within LOOKUP_CHUNK parameters.
_WITH_BARS_CHUNK = (LOOKUP_CHUNK - len(SIGNAL_TIMEFRAME_PREFERENCE)) // (2 + len(_reaches()))


def _with_bars_query(signals: list[Signal]) -> tuple[str, dict]:
    """The statement and parameters of signals_with_bars for up to _WITH_BARS_CHUNK signals."""
    by_reach = _reaches()
    adapt_time = connection.ops.adapt_datetimefield_value
    params = {f"timeframe_{reach}_{rank}": timeframe
              for reach, timeframes in enumerate(by_reach.values()) for rank, timeframe in enumerate(timeframes)}
    for number, signal in enumerate(signals):
        params[f"instrument_{number}"] = signal.instrument_id
        params[f"time_{number}"] = adapt_time(signal.time)
        for reach, near in enumerate(by_reach):
            params[f"near_{number}_{reach}"] = adapt_time(signal.time - near)
    sizes = tuple(len(timeframes) for timeframes in by_reach.values())
    return sql.signals_with_bars(len(signals), sizes), params


def signal_windows(*, signal, timeframe: str, bars: int) -> list[Window]:
    """The bars around a signal: up to a quarter of them after it (fewer when
    the market has not got that far), the rest up to and including its bar."""
    match = {"instrument": signal.instrument_id, "timeframe": timeframe}
    after = Window(Candle, match, limit=bars // SIGNAL_AFTER_SHARE, newest_first=False, after=signal.time)
    # The size of the one sizes the other; a LIMITed count is cheap.
    before = Window(Candle, match, limit=bars - after.queryset().count(), until=signal.time)
    return [before, after]


def last_equity_window(*, owner, points: int) -> Window:
    return Window(EquityPoint, {"owner": owner}, limit=points)


def equity_rows(window: Window) -> list[tuple]:
    """(time, equity, balance), oldest first."""
    return sorted(window.queryset().values_list("time", "equity", "balance"), key=lambda row: row[0])


def candles_version(*, instrument, timeframe: str) -> tuple:
    """The data version of an instrument's bars in one timeframe: the time of
    the newest bar and the last change of any, (None, None) without bars.

    Every write is an upsert stamping `updated_at` under the series' lock
    (charting/services.py) and the application never deletes rows, so a new
    bar or point and any correction change this pair (the same holds for the
    equity versions below).
    """
    params = {"instrument": getattr(instrument, "pk", instrument), "timeframe": timeframe}
    return _stamps(_fetchone(sql.CANDLES_VERSION, params))


def equity_version(*, owner) -> tuple:
    """The data version of a user's equity points, as for candles_version."""
    return _stamps(_fetchone(sql.EQUITY_VERSION, {"owner": _user_id(owner)}))


def active_user_equity_version(*, user_id) -> tuple | None:
    """The data version of an active user's equity (see candles_version), or
    None when no active user has this id: what a signed equity or returns
    link needs from the database before its cached image, in one query."""
    row = _fetchone(sql.ACTIVE_USER_EQUITY_VERSION, {"user": _user_id(user_id)})
    return _stamps(row) if row is not None else None


def daily_closes(*, owner, days: int) -> list[tuple]:
    """(date, equity) of the last point of each of the user's last `days`
    UTC days that have points, oldest first."""
    last_of_day = (EquityPoint.objects.filter(owner=owner).annotate(day=TruncDate("time"))
                   .values("day").annotate(last=Max("time")).order_by("-day")[:days])
    times = [row["last"] for row in last_of_day]
    rows = EquityPoint.objects.filter(owner=owner, time__in=times).values_list("time", "equity")
    return sorted(((time.date(), equity) for time, equity in rows), key=lambda row: row[0])


def daily_returns_pct(closes: list[tuple]) -> list[float]:
    """Percent change from each day's close to the next one's; a close of
    zero or less (a blown account) has no meaningful return and is skipped."""
    returns = []
    for (_, before), (_, after) in zip(closes, closes[1:]):
        if before > 0:
            returns.append(float((after / before - 1) * 100))
    return returns
