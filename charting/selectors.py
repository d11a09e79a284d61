"""Reads for the charts: the bars and points a chart draws, and a cheap
"data version" of their series, which goes into the cache key so that new or
corrected data makes a new key (nothing is ever purged)."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Max, Model, QuerySet
from django.db.models.functions import TruncDate

from charting.models import TIMEFRAME_SECONDS, Candle, EquityPoint
from signals.models import Instrument, Signal

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


def last_candles_window(*, instrument, timeframe: str, bars: int) -> Window:
    return Window(Candle, {"instrument": instrument, "timeframe": timeframe}, limit=bars)


def ohlc_rows(window: Window) -> list[tuple]:
    """The window's bars as (time, open, high, low, close), oldest first."""
    return sorted(window.queryset().values_list(*OHLC), key=lambda row: row[0])


def chart_signals(signals: QuerySet[Signal]) -> QuerySet[Signal]:
    """`signals` as a signal chart reads them: with the instrument, without
    the resource's other joins or the payload (up to 64 KiB of JSON that
    would be parsed for nothing on every cached answer)."""
    return signals.select_related(None).select_related("instrument").defer("payload")


def signal_timeframe(*, signal) -> str | None:
    """The preferred timeframe that has a bar shortly before the signal."""
    found = signal_series_version(signal=signal)
    return found[0] if found is not None else None


def signal_series_version(*, signal) -> tuple[str, tuple] | None:
    """The preferred timeframe with a bar shortly before the signal, and the
    data version of its bars (see series_version), or None.

    One query, as it runs on every request for a signal's chart (the one
    embedded through `chart_url`): one EXISTS probe per candidate timeframe,
    the first that finds a bar wins, instead of a round trip per timeframe
    and another for the version.
    """
    quote = connection.ops.quote_name
    table = quote(Candle._meta.db_table)
    column = lambda name: f"{table}.{quote(Candle._meta.get_field(name).column)}"  # noqa: E731
    time_field = Candle._meta.get_field("time")
    instrument = Candle._meta.get_field("instrument").get_db_prep_value(signal.instrument_id, connection)
    # VALUES columns are column1, column2, ... on PostgreSQL and SQLite alike:
    # the timeframe, its rank and the earliest bar time that counts as near.
    candidates, candidate_params = [], []
    for rank, timeframe in enumerate(SIGNAL_TIMEFRAME_PREFERENCE):
        reach = timedelta(seconds=max(4 * 86400, 2 * TIMEFRAME_SECONDS[timeframe]))
        candidates.append("(%s, %s, %s)")
        candidate_params += [timeframe, rank, time_field.get_db_prep_value(signal.time - reach, connection)]
    series = f"{column('instrument')} = %s AND {column('timeframe')} = pref.column1"
    sql = (f"SELECT pref.column1, {_version_columns(Candle, series)} "
           f"FROM (VALUES {', '.join(candidates)}) AS pref "
           f"WHERE EXISTS (SELECT 1 FROM {table} WHERE {series} "
           f"AND {column('time')} <= %s AND {column('time')} > pref.column3) "
           "ORDER BY pref.column2 LIMIT 1")
    params = [instrument, instrument, *candidate_params, instrument,
              time_field.get_db_prep_value(signal.time, connection)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return (row[0], _stamps(row[1:])) if row is not None else None


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


def active_user_equity_version(*, user_id) -> tuple | None:
    """The data version of an active user's equity (see series_version), or
    None when no active user has this id: what a signed equity or returns
    link needs from the database before its cached image, in one query."""
    quote = connection.ops.quote_name
    users = get_user_model()._meta
    where = (f"{quote(EquityPoint._meta.db_table)}.{quote(EquityPoint._meta.get_field('owner').column)} "
             f"= u.{quote(users.pk.column)}")
    sql = (f"SELECT {_version_columns(EquityPoint, where)} FROM {quote(users.db_table)} u "
           f"WHERE u.{quote(users.pk.column)} = %s AND u.{quote(users.get_field('is_active').column)}")
    with connection.cursor() as cursor:
        cursor.execute(sql, [users.pk.get_db_prep_value(users.pk.to_python(user_id), connection)])
        row = cursor.fetchone()
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
