"""Reads for the charts: the bars and points a chart draws, and a cheap
"data version" of their series, which goes into the cache key so that new or
corrected data makes a new key (nothing is ever purged)."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import Max, Model, QuerySet
from django.db.models.functions import TruncDate

from charting.models import TIMEFRAME_SECONDS, Candle, EquityPoint
from signals.models import Instrument

# Which timeframe a signal chart uses when the caller names none: the first
# one with bars near the signal, in order of usefulness for a trade idea.
SIGNAL_TIMEFRAME_PREFERENCE = ["H1", "M15", "H4", "M30", "M5", "D1", "M1"]
# Bars after the signal: a quarter of the chart, when the market has moved on.
SIGNAL_AFTER_SHARE = 4

OHLC = ("time", "open", "high", "low", "close")


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


def series_version(model: type[Model], match: dict) -> tuple:
    """The time of the newest row and the last change of a whole series
    (a user's equity, one instrument's bars in one timeframe).

    Every write is an upsert stamping `updated_at` under the series' lock
    (charting/services.py) and the application never deletes rows, so a new
    bar or point and any correction change this pair. Two index seeks in raw
    SQL: it runs on every chart request, and the cached answer costs only a
    couple of milliseconds in all; an ORM aggregate would compile longer than
    it runs and, with two MAX()es in one SELECT, scan the series.
    """
    field = model._meta.get_field
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    where = " AND ".join(f"{table}.{quote(field(name).column)} = %s" for name in match)
    params = [field(name).get_db_prep_value(getattr(value, "pk", value), connection) for name, value in match.items()]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {_version_columns(model, where)}", params * 2)
        return _stamps(cursor.fetchone())


def _version_columns(model: type[Model], where: str) -> str:
    table = connection.ops.quote_name(model._meta.db_table)
    column = lambda name: f"{table}.{connection.ops.quote_name(model._meta.get_field(name).column)}"  # noqa: E731
    return (f"(SELECT MAX({column('time')}) FROM {table} WHERE {where}), "
            f"(SELECT MAX({column('updated_at')}) FROM {table} WHERE {where})")


def _stamps(values) -> tuple:
    return tuple(str(value) if value is not None else None for value in values)


@dataclass(frozen=True)
class CandleSeriesState:
    instrument_id: int
    symbol: str
    digits: int
    version: tuple  # see series_version; (None, None) without bars


def candle_series_state(*, symbol: str, timeframe: str) -> CandleSeriesState | None:
    """The instrument called `symbol` (None if there is none) with the data
    version of its bars in `timeframe`, in one query: with authentication,
    all the database work of a cached candles chart."""
    quote = connection.ops.quote_name
    instrument = Instrument._meta
    candles = quote(Candle._meta.db_table)
    column = lambda meta, name: quote(meta.get_field(name).column)  # noqa: E731
    where = (f"{candles}.{column(Candle._meta, 'instrument')} = i.{column(instrument, 'id')} "
             f"AND {candles}.{column(Candle._meta, 'timeframe')} = %s")
    sql = (f"SELECT i.{column(instrument, 'id')}, i.{column(instrument, 'symbol')}, "
           f"i.{column(instrument, 'digits')}, {_version_columns(Candle, where)} "
           f"FROM {quote(instrument.db_table)} i WHERE i.{column(instrument, 'symbol')} = %s")
    with connection.cursor() as cursor:
        cursor.execute(sql, [timeframe, timeframe, symbol.strip().upper()])
        row = cursor.fetchone()
    if row is None:
        return None
    return CandleSeriesState(instrument_id=row[0], symbol=row[1], digits=row[2], version=_stamps(row[3:]))


def candle_series(*, instrument, timeframe: str) -> QuerySet[Candle]:
    return Candle.objects.filter(instrument=instrument, timeframe=timeframe)


def last_candles_window(*, instrument, timeframe: str, bars: int) -> Window:
    return Window(Candle, {"instrument": instrument, "timeframe": timeframe}, limit=bars)


def ohlc_rows(window: Window) -> list[tuple]:
    """The window's bars as (time, open, high, low, close), oldest first."""
    return sorted(window.queryset().values_list(*OHLC), key=lambda row: row[0])


def signal_timeframe(*, signal) -> str | None:
    """The preferred timeframe that has a bar shortly before the signal."""
    for timeframe in SIGNAL_TIMEFRAME_PREFERENCE:
        reach = timedelta(seconds=max(4 * 86400, 2 * TIMEFRAME_SECONDS[timeframe]))
        if candle_series(instrument=signal.instrument, timeframe=timeframe).filter(
                time__lte=signal.time, time__gt=signal.time - reach).exists():
            return timeframe
    return None


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
    return series_version(Candle, {"instrument": instrument, "timeframe": timeframe})


def equity_version(*, owner) -> tuple:
    return series_version(EquityPoint, {"owner": owner})


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
