"""Keeping the daily rollups up to date as the records arrive, inside the
transaction that writes them (the receivers in analytics/receivers.py call
these), and computing a rollup from the records themselves (what
`recompute_analytics` compares with).

Each entry point takes a batch (the positions one fills call closed) and
reads and writes its rows in a bounded number of statements, whatever the
batch's size. An account's rows are written under its bridge's lock, which
every call of the bridge takes first. Rows shared by many accounts (a
strategy's) are locked in one order, (scope, day), before the audit chain's
lock (analytics' receivers run before audit's, and execution announces its
changes last): two fills calls of different bridges queue on them and never
deadlock."""

from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal
from uuid import UUID

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import F, Max, Q, Sum

from analytics import stats
from analytics.models import DailyRollup, ScopeTotals
from core import raw_rows
from execution.models import AccountSnapshot, Fill, Order, Position
from signals.models import Signal

# Days this far behind a scope's newest stay out of its totals: late fills
# and closes mostly land on the last day or two, which are then refolded
# from their rows instead of the whole history.
SEAL_LAG_DAYS = 2
TRADE_FIELDS = [name for name in stats.Trades.__dataclass_fields__]
# What of a fold depends on the order of the trades (the rest are sums and
# extremes), and, with the count, all a fold needs of the trades before others.
STREAK_FIELDS = ["lead_losses", "trail_losses", "max_losses"]
BEFORE_FIELDS = [f"before_{name}" for name in ["trades", *STREAK_FIELDS]]
SNAPSHOT_FIELDS = ["base_time", "base_equity", "base_balance", "close_time", "close_equity", "close_balance",
                   "fills_money"]


def account_scope(bridge_id, instrument_id=None) -> str:
    return f"account:{bridge_id}" + (f":{instrument_id}" if instrument_id is not None else "")


def strategy_scope(producer_id, instrument_id=None) -> str:
    return f"strategy:{producer_id}" + (f":{instrument_id}" if instrument_id is not None else "")


def utc_day(moment: datetime) -> date:
    return moment.astimezone(dt_timezone.utc).date()


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=dt_timezone.utc)
    return start, start + timedelta(days=1)


def risk_free_daily() -> Decimal:
    return Decimal(str(settings.ANALYTICS_RISK_FREE_RATE)) / settings.ANALYTICS_PERIODS_PER_YEAR


@dataclass(frozen=True)
class Scope:
    scope: str
    bridge_id: UUID | None = None
    producer_id: UUID | None = None
    instrument_id: int | None = None

    def fields(self) -> dict:
        return {"scope": self.scope, "bridge_id": self.bridge_id, "producer_id": self.producer_id,
                "instrument_id": self.instrument_id}


def account(bridge_id, instrument_id=None) -> Scope:
    return Scope(account_scope(bridge_id, instrument_id), bridge_id=bridge_id, instrument_id=instrument_id)


def strategy(producer_id, instrument_id=None) -> Scope:
    return Scope(strategy_scope(producer_id, instrument_id), producer_id=producer_id, instrument_id=instrument_id)


def trade_scopes(bridge_id, producer_id, instrument_id) -> list[Scope]:
    """The scopes a trade counts in: its account's and its strategy's (if
    any), overall and on its instrument."""
    scopes = [account(bridge_id), account(bridge_id, instrument_id)]
    if producer_id is not None:
        scopes += [strategy(producer_id), strategy(producer_id, instrument_id)]
    return scopes


# --- Closed positions -----------------------------------------------------------------


@dataclass(frozen=True)
class ClosedTrade:
    position_id: UUID
    bridge_id: UUID
    producer_id: UUID | None
    instrument_id: int
    close_time: datetime
    pnl: Decimal
    r: Decimal | None  # realized P&L / initial risk
    hold_seconds: int
    account_return: Decimal | None  # realized P&L / the equity its order was sized at

    @property
    def order_key(self):
        return self.close_time, self.position_id

    def scopes(self) -> list[Scope]:
        return trade_scopes(self.bridge_id, self.producer_id, self.instrument_id)

    def as_trades(self) -> stats.Trades:
        return stats.Trades.one(pnl=self.pnl, r=self.r, hold_seconds=self.hold_seconds)


@dataclass(frozen=True)
class Revision:
    """A position counted as closed before whose figures changed since
    (execution's position_revised): reopened, or closed again otherwise.
    Counted at `previous_close_time`, in the strategy of `previous_order`
    (its order's id then, or None)."""

    position: Position
    previous_close_time: datetime
    previous_order: str | None


def add_account_return(day, scope: Scope, trade: ClosedTrade) -> None:
    """A strategy's day (a DayFold or its row: `return_sum`, `accounts`)
    takes a trade's return on its account; an account's day keeps none."""
    if scope.producer_id is not None and trade.account_return is not None:
        day.return_sum += trade.account_return
        if str(trade.bridge_id) not in day.accounts:
            day.accounts.append(str(trade.bridge_id))


@dataclass
class DayFold:
    """A scope's closed trades of a day folded in close order: its row's
    trade fields."""

    trades: stats.Trades = field(default_factory=stats.Trades)
    before: stats.Trades = field(default_factory=stats.Trades)  # the trades before the last close's time
    last: tuple = (None, None)
    return_sum: Decimal = Decimal(0)
    accounts: list = field(default_factory=list)

    def add(self, scope: Scope, trade: ClosedTrade) -> None:
        self.trades, self.before = fold_in_order(self.trades, [trade], before=self.before, last_time=self.last[0])
        self.last = trade.order_key
        add_account_return(self, scope, trade)

    def set_on(self, row: DailyRollup) -> None:
        set_folded(row, self.trades, self.before)
        row.last_close_time, row.last_position = self.last
        row.return_sum, row.accounts = self.return_sum, self.accounts


@dataclass(frozen=True)
class LateFills:
    """Fills of one call to ask about: late when no later than `newest`,
    the account's newest snapshot time."""

    bridge_id: UUID
    fill_ids: list
    newest: datetime


def closed_trades(positions) -> list[ClosedTrade]:
    """The closed ones of `positions`, with their strategy and the equity
    their orders were sized at (one query for all of them)."""
    positions = [position for position in positions if position.status == Position.Status.CLOSED]
    order_ids = sorted({position.order_id for position in positions if position.order_id})
    orders = {pk: (producer, equity) for pk, producer, equity in raw_rows.fetch(
        ORDERS_SQL.format(orders=_placeholders("o", order_ids)), _params("o", Order._meta.pk, order_ids),
        ORDERS_COLUMNS)} if order_ids else {}
    trades = []
    for position in positions:
        producer_id, equity = orders.get(position.order_id, (None, None))
        pnl, risk = position.realized_pnl, position.initial_risk
        trades.append(ClosedTrade(
            position_id=position.pk, bridge_id=position.bridge_id, producer_id=producer_id,
            instrument_id=position.instrument_id, close_time=position.close_time, pnl=pnl,
            r=(pnl / risk).quantize(stats.R_QUANTUM) if risk else None,
            hold_seconds=int((position.close_time - position.open_time).total_seconds()),
            account_return=(pnl / equity).quantize(stats.RETURN_QUANTUM) if equity else None,
        ))
    return trades


def record_closed_positions(positions, *, late: LateFills | None = None) -> bool | None:
    """Folds the closed positions into their days' rows: the account's and
    the strategy's, overall and on the instrument. `late`: the same call's
    fills, asked about (record_late_fills) in the same statement as the
    rows, a round trip saved on the fills path; returns whether one is late
    (None: not asked)."""
    trades = closed_trades(positions)
    if not trades:
        return None if late is None else late_fill_times(late) != []
    by_key = defaultdict(list)
    for trade in trades:
        for scope in trade.scopes():
            by_key[scope, utc_day(trade.close_time)].append(trade)
    rows, created, found_late = _locked_rows(by_key, late=late)
    closes = {}
    for (scope, day), items in by_key.items():
        row = rows[scope.scope, day]
        items.sort(key=lambda trade: trade.order_key)
        if row.last_close_time is None or items[0].order_key > (row.last_close_time, row.last_position):
            folded, before = fold_in_order(stats.Trades.of_row(row), items, before=_before(row),
                                           last_time=row.last_close_time)
            last = items[-1].order_key
        else:
            if items[0].close_time == row.last_close_time:
                # Sorting before one folded at the same time (the common
                # tie): that time's closes are folded again, after those
                # before it.
                again = closed_in_order(scope, row.last_close_time, day_bounds(day)[1])
                streaks, before = fold_in_order(_before(row), again)
                last = again[-1].order_key
            else:
                # Closed before those last folded: the loss streaks are
                # counted again over the day's closes in order.
                streaks, before, last = day_streaks(scope, day, closes=closes)
            # The sums and extremes take the new trades in any order; the
            # order decides the loss streaks alone.
            folded = replace(fold_in_order(stats.Trades.of_row(row), items)[0],
                             **{name: getattr(streaks, name) for name in STREAK_FIELDS})
        for trade in items:
            add_account_return(row, scope, trade)
        set_folded(row, folded, before)
        row.last_close_time, row.last_position = last
    _save(rows.values(), [*TRADE_FIELDS, *BEFORE_FIELDS, "last_close_time", "last_position", "return_sum",
                          "accounts"])
    if created or any(row.sealed for row in rows.values()):
        touch_totals({scope: {day for (s, day) in by_key if s == scope} for scope, _ in by_key})
    return found_late


def record_revised_positions(revised: list[Revision], *, closed=(), late: LateFills | None = None) -> bool | None:
    """Folds again from the records the days a revised position was counted
    in and is now (if closed), with the batch's newly `closed` positions:
    their days' rows as `recompute` makes them (those left without a trade
    or a snapshot dropped), and their scopes' totals. `late` as for
    record_closed_positions. Revisions are rare (a late fill of a closed
    position): each day is read whole."""
    previous_orders = sorted({revision.previous_order for revision in revised if revision.previous_order})
    producers = {str(pk): producer_id for pk, producer_id in
                 Order.objects.filter(pk__in=previous_orders).values_list("pk", "signal__producer_id")}
    keys = {(scope, utc_day(revision.previous_close_time))
            for revision in revised
            for scope in trade_scopes(revision.position.bridge_id, producers.get(revision.previous_order),
                                      revision.position.instrument_id)}
    keys |= {(scope, utc_day(trade.close_time))
             for trade in closed_trades([*closed, *(revision.position for revision in revised)])
             for scope in trade.scopes()}
    rows, _, found_late = _locked_rows(keys, late=late)
    for scope, day in keys:
        day_fold = DayFold()
        for trade in closed_in_order(scope, *day_bounds(day)):
            day_fold.add(scope, trade)
        day_fold.set_on(rows[scope.scope, day])
    emptied = {row.pk for row in rows.values() if row.trades == 0 and row.close_time is None}
    _save([row for row in rows.values() if row.pk not in emptied],
          [*TRADE_FIELDS, *BEFORE_FIELDS, "last_close_time", "last_position", "return_sum", "accounts"])
    DailyRollup.objects.filter(pk__in=emptied).delete()
    refold_totals({scope for scope, _ in keys})
    return found_late


def _save(rows, fields) -> None:
    """Writes `fields` of `rows` (of one model): one UPDATE per row, sent
    together (`executemany`: psycopg pipelines them, one round trip). A
    batch touches a handful of rows; a `save()` each was most of the
    rollups' cost on the fills path, and Django's bulk_update spends longer
    building its CASE expressions than the statement takes to run. A
    DailyRollup's revision moves on by one in the same statement."""
    rows = list(rows)
    if not rows:
        return
    meta = type(rows[0])._meta
    db = connections[DEFAULT_DB_ALIAS]
    quote = db.ops.quote_name
    columns = [meta.get_field(name) for name in fields]
    assignments = [f"{quote(field.column)} = %s" for field in columns]
    if meta.model is DailyRollup:
        revision = quote(meta.get_field("revision").column)
        assignments.append(f"{revision} = {revision} + 1")
    sql = f"UPDATE {quote(meta.db_table)} SET {', '.join(assignments)} WHERE {quote(meta.pk.column)} = %s"
    with db.cursor() as cursor:
        cursor.executemany(sql, [[*(field.get_db_prep_save(getattr(row, field.attname), db) for field in columns),
                                  row.pk] for row in rows])


def fold_in_order(folded: stats.Trades, trades, *, before: stats.Trades | None = None, last_time=None):
    """`trades` (in close order, after `folded`'s) folded onto `folded`;
    and the fold of those closed before the last one's time (`before`:
    `folded`'s before `last_time`, the time of its last close)."""
    for trade in trades:
        if trade.close_time != last_time:
            before, last_time = folded, trade.close_time
        folded = folded.then(trade.as_trades())
    return folded, before


def _before(row: DailyRollup) -> stats.Trades:
    return stats.Trades(trades=row.before_trades, **{name: getattr(row, f"before_{name}") for name in STREAK_FIELDS})


def set_folded(row: DailyRollup, folded: stats.Trades, before: stats.Trades) -> None:
    for name in TRADE_FIELDS:
        setattr(row, name, getattr(folded, name))
    for name in ["trades", *STREAK_FIELDS]:
        setattr(row, f"before_{name}", getattr(before, name))


def scope_positions(scope: Scope):
    positions = Position.objects.filter(status=Position.Status.CLOSED)
    if scope.bridge_id is not None:
        positions = positions.filter(bridge_id=scope.bridge_id)
    else:
        positions = positions.filter(order__signal__producer_id=scope.producer_id)
    if scope.instrument_id is not None:
        positions = positions.filter(instrument_id=scope.instrument_id)
    return positions


def closed_in_order(scope: Scope, start: datetime, end: datetime) -> list[ClosedTrade]:
    """`scope`'s positions closed in [start, end), in close order."""
    return closed_trades(scope_positions(scope).filter(close_time__gte=start, close_time__lt=end)
                         .order_by("close_time", "id"))


def day_streaks(scope: Scope, day: date, *, closes: dict) -> tuple[stats.Trades, stats.Trades, tuple]:
    """The loss streaks of `scope`'s day (stats.loss_streaks), of its closes
    before the last close's time, and the last close's order key: read as
    the closes' order and sign only. A busy account's day holds thousands of
    trades: making each a ClosedTrade again, for each of the four scopes a
    trade is in, took the rollups of a day's second, third and fourth
    1,000-fill calls to 0.5, 1.0 and 1.5 s (load 9). `closes`: the days read
    so far by the batch, each read once for the account or the strategy
    overall and its instruments."""
    overall = account(scope.bridge_id) if scope.bridge_id is not None else strategy(scope.producer_id)
    if (overall, day) not in closes:
        start, end = day_bounds(day)
        closes[overall, day] = list(
            scope_positions(overall).filter(close_time__gte=start, close_time__lt=end).order_by("close_time", "id")
            .values_list("close_time", "id", "instrument_id", "realized_pnl"))
    ordered = [(moment, pk, pnl < 0) for moment, pk, instrument_id, pnl in closes[overall, day]
               if scope.instrument_id in (None, instrument_id)]
    losses = [loss for _, _, loss in ordered]
    last_time, last_position, _ = ordered[-1]
    before = next(index for index, (moment, _, _) in enumerate(ordered) if moment == last_time)
    return stats.loss_streaks(losses), stats.loss_streaks(losses[:before]), (last_time, last_position)


def _locked_rows(keys, *, late: LateFills | None = None) -> tuple[dict, bool, bool | None]:
    """The rows of these (scope, day) keys, created where missing, locked in
    (scope, day) order; whether any was created (a new day, which the totals
    must hear of); and whether any of `late`'s fills is late (None: not
    asked). One written-out statement (core/raw_rows.py): on the fills path
    the ORM's building of it cost more than the database's answer."""
    days = sorted({day for _, day in keys})
    db = connections[DEFAULT_DB_ALIAS]

    def fetch(names):
        params = {**_params("s", DailyRollup._meta.get_field("scope"), names),
                  **_params("d", DailyRollup._meta.get_field("day"), days)}
        asked = "FALSE"
        if late is not None:
            params |= {"bridge": raw_rows.param(Fill._meta.get_field("bridge"), late.bridge_id),
                       "newest": raw_rows.param(Fill._meta.get_field("time"), late.newest),
                       **_params("f", Fill._meta.get_field("fill_id"), late.fill_ids)}
            asked = LATE_FILLS_SQL.format(fills=_placeholders("f", late.fill_ids))
        sql = LOCK_ROWS_SQL.format(asked=asked, scopes=_placeholders("s", names), days=_placeholders("d", days),
                                   lock=" FOR UPDATE" if db.features.has_select_for_update else "")
        return {(row[0].scope, row[0].day): row for row in (
            (DailyRollup.from_db(db.alias, ROW_FIELDS, values[:-1]), values[-1])
            for values in raw_rows.fetch(sql, params, ROW_COLUMNS))}

    found = fetch(sorted({scope.scope for scope, _ in keys}))
    missing = [(scope, day) for scope, day in keys if (scope.scope, day) not in found]
    if missing:
        DailyRollup.objects.bulk_create([DailyRollup(day=day, **scope.fields()) for scope, day in missing],
                                        ignore_conflicts=True)
        found.update(fetch(sorted({scope.scope for scope, _ in missing})))
    asked = None if late is None else any(bool(is_late) for _, is_late in found.values())
    return {key: row for key, (row, _) in found.items()}, bool(missing), asked


def _placeholders(prefix: str, values) -> str:
    return ", ".join(f"%({prefix}{index})s" for index in range(len(values)))


def _params(prefix: str, field, values) -> dict:
    return {f"{prefix}{index}": raw_rows.param(field, value) for index, value in enumerate(values)}


ROW_FIELDS = [field.attname for field in DailyRollup._meta.concrete_fields]
ROW_COLUMNS = [*DailyRollup._meta.concrete_fields, None]
LOCK_ROWS_SQL = (f"SELECT {', '.join(field.column for field in DailyRollup._meta.concrete_fields)}, {{asked}} "
                 f"FROM {DailyRollup._meta.db_table} WHERE scope IN ({{scopes}}) AND day IN ({{days}}) "
                 f"ORDER BY scope, day{{lock}}")
LATE_FILLS_SQL = (f"EXISTS (SELECT 1 FROM {Fill._meta.db_table} WHERE bridge_id = %(bridge)s "
                  f"AND fill_id IN ({{fills}}) AND time <= %(newest)s)")
ORDERS_SQL = (f"SELECT o.id, s.producer_id, o.equity_at_sizing FROM {Order._meta.db_table} o "
              f"JOIN {Signal._meta.db_table} s ON s.id = o.signal_id WHERE o.id IN ({{orders}})")
ORDERS_COLUMNS = (Order._meta.pk, Signal._meta.get_field("producer"), Order._meta.get_field("equity_at_sizing"))


# --- Account snapshots and the fills' money ----------------------------------------------


def fills_money(bridge_id, after: datetime, upto: datetime) -> Decimal:
    """The money (profit, commission, swap) of the account's fills in
    (after, upto]: what explains its change of balance. Read through the
    positions open now or closed since `after` (an index serves both): for
    the recent `after` of a snapshot or a late fill, the trading since then,
    not the history."""
    active = Position.objects.filter(bridge_id=bridge_id).filter(
        Q(status=Position.Status.OPEN) | Q(status=Position.Status.CLOSED, close_time__gt=after))
    money = (Fill.objects.filter(position__in=active, time__gt=after, time__lte=upto)
             .aggregate(money=Sum(F("profit") + F("commission") + F("swap")))["money"])
    return money or Decimal(0)


def _snapshot_in(bridge_id, start, end, *, last: bool):
    return (AccountSnapshot.objects.filter(bridge_id=bridge_id, time__gte=start, time__lt=end)
            .order_by("-time" if last else "time").only("time", "equity", "balance").first())


def account_day_of_records(bridge_id, day: date, *, money=fills_money) -> dict:
    """An account's day from the records: its last snapshot, its base and
    the fills' money between them (all None/0 without a snapshot that day).
    `money(bridge_id, after, upto)`: the fills' money in (after, upto]."""
    start, end = day_bounds(day)
    close = _snapshot_in(bridge_id, start, end, last=True)
    if close is None:
        return dict.fromkeys(SNAPSHOT_FIELDS) | {"fills_money": Decimal(0)}
    base = (AccountSnapshot.objects.filter(bridge_id=bridge_id, time__lt=start).order_by("-time")
            .only("time", "equity", "balance").first()) or _snapshot_in(bridge_id, start, end, last=False)
    return {"base_time": base.time, "base_equity": base.equity, "base_balance": base.balance,
            "close_time": close.time, "close_equity": close.equity, "close_balance": close.balance,
            "fills_money": money(bridge_id, base.time, close.time)}


def record_snapshot(snapshot: AccountSnapshot, *, previous_newest: datetime | None) -> None:
    """Moves the account's day to `snapshot` when it is the day's last so
    far. `previous_newest`: the account's newest snapshot time before this
    one; a snapshot older than it may also be the next day's new base."""
    bridge_id, moment = snapshot.bridge_id, snapshot.time
    scope, day = account(bridge_id), utc_day(moment)
    found, created, _ = _locked_rows({(scope, day): None})
    row = found[scope.scope, day]
    changed = {day}
    if row.close_time is not None and moment <= row.close_time:
        if moment >= row.base_time:
            return  # within the day: its base and close stay
        _set_snapshot_fields(row, account_day_of_records(bridge_id, day))  # earlier than the first day's base
    elif row.close_time is not None:
        row.fills_money += fills_money(bridge_id, row.close_time, moment)
        row.close_time, row.close_equity, row.close_balance = moment, snapshot.equity, snapshot.balance
    else:
        _set_snapshot_fields(row, account_day_of_records(bridge_id, day))
    rows = [row]
    if previous_newest is not None and moment < previous_newest:
        later = (DailyRollup.objects.select_for_update().filter(scope=scope.scope, day__gt=day,
                                                                close_time__isnull=False).order_by("day").first())
        if later is not None:
            _set_snapshot_fields(later, account_day_of_records(bridge_id, later.day))
            rows.append(later)
            changed.add(later.day)
    _save(rows, SNAPSHOT_FIELDS)
    if created or any(row.sealed for row in rows):
        touch_totals({scope: changed})


def _set_snapshot_fields(row: DailyRollup, values: dict) -> None:
    for name in SNAPSHOT_FIELDS:
        setattr(row, name, values[name])


def late_fill_times(late: LateFills) -> list[datetime]:
    return list(Fill.objects.filter(bridge_id=late.bridge_id, fill_id__in=late.fill_ids, time__lte=late.newest)
                .values_list("time", flat=True))


def record_late_fills(*, bridge_id, fill_times: list[datetime]) -> None:
    """Fills at or before a snapshot already folded: their money moves the
    split of that day's balance change from deposits to P&L. Their days'
    fills' money is read again."""
    if not fill_times:
        return
    scope = account(bridge_id)
    rows = list(DailyRollup.objects.select_for_update()
                .filter(scope=scope.scope, close_time__isnull=False, close_time__gte=min(fill_times)).order_by("day"))
    touched = {}
    for moment in fill_times:
        row = next((row for row in rows if row.close_time >= moment), None)
        if row is not None and moment > row.base_time:
            touched[row.day] = row
    for row in touched.values():
        row.fills_money = fills_money(bridge_id, row.base_time, row.close_time)
    if touched:
        _save(touched.values(), ["fills_money"])
        if any(row.sealed for row in touched.values()):
            touch_totals({scope: set(touched)})


# --- Totals ---------------------------------------------------------------------------------


def day_return(row) -> tuple[Decimal, Decimal] | None:
    """(return, pnl) of a row, None when it has no return: an account's
    day without a snapshot, a strategy's day without a sized position, any
    instrument's day."""
    if row.instrument_id is not None:
        return None
    if row.bridge_id is not None:
        if row.close_time is None or row.close_time == row.base_time:
            return None  # no snapshot that day, or only the account's very first
        pnl, _, r = stats.account_day(base_equity=row.base_equity, base_balance=row.base_balance,
                                      close_equity=row.close_equity, close_balance=row.close_balance,
                                      fills_money=row.fills_money)
        return None if r is None else (r, pnl)
    if not row.accounts:
        return None
    return row.return_sum / len(row.accounts), row.gross_profit + row.gross_loss


def fold(rows, *, trades: stats.Trades | None = None, returns: stats.Returns | None = None):
    """Days' rows (in date order) folded onto `trades` and `returns`."""
    trades = trades or stats.Trades()
    returns = returns or stats.Returns(risk_free_daily=risk_free_daily())
    for row in rows:
        trades = trades.then(stats.Trades.of_row(row))
        day = day_return(row)
        if day is not None:
            returns.add(row.day, *day)
    return trades, returns


def totals_of_records(scope: str, sealed_through: date) -> tuple[stats.Trades, stats.Returns]:
    return fold(DailyRollup.objects.filter(scope=scope, day__lte=sealed_through).order_by("day"))


def touch_totals(changed: dict[Scope, set[date]]) -> None:
    """After the days `changed` of each scope were written, when one of them
    is new or sealed: seals the days SEAL_LAG_DAYS behind the newest into the
    scope's totals, and folds the totals again from the rows when a sealed
    day changed."""
    names = sorted(scope.scope for scope in changed)

    def fetch(scopes):
        return {totals.scope: totals for totals in
                ScopeTotals.objects.select_for_update().filter(scope__in=scopes).order_by("scope")}

    found = fetch(names)
    missing = [scope for scope in changed if scope.scope not in found]
    if missing:
        ScopeTotals.objects.bulk_create([ScopeTotals(**scope.fields()) for scope in missing], ignore_conflicts=True)
        found.update(fetch(sorted(scope.scope for scope in missing)))
    updated = []
    for scope, days in changed.items():
        totals = found[scope.scope]
        newest = max(days | ({totals.newest_day} if totals.newest_day else set()))
        seal = newest - timedelta(days=SEAL_LAG_DAYS)
        sealed = totals.sealed_through
        if sealed is not None and (min(days) <= sealed or not same_risk_free(totals)):
            trades, returns = totals_of_records(scope.scope, max(seal, sealed))
        elif sealed is None or seal > sealed:
            trades, returns = fold(
                DailyRollup.objects.filter(scope=scope.scope, day__lte=seal,
                                           **({"day__gt": sealed} if sealed else {})).order_by("day"),
                **({"trades": stats.Trades.from_json(totals.trades), "returns": stats.Returns.from_json(totals.returns)}
                   if sealed else {}))
        elif newest == totals.newest_day:
            continue
        else:
            trades = returns = None
        if trades is not None:
            totals.trades, totals.returns = trades.to_json(), returns.to_json()
            totals.sealed_through = max(seal, sealed) if sealed else seal
            DailyRollup.objects.filter(scope=scope.scope, day__lte=totals.sealed_through, sealed=False).update(
                sealed=True, revision=F("revision") + 1)
        totals.newest_day = newest
        updated.append(totals)
    _save(updated, ["trades", "returns", "sealed_through", "newest_day"])


def refold_totals(scopes) -> None:
    """The totals of `scopes` folded again from their rows, their newest day
    and sealed days set again from the rows: after a revision, which may
    have dropped a scope's newest day (touch_totals only moves it on)."""
    names = sorted(scope.scope for scope in scopes)
    ScopeTotals.objects.bulk_create([ScopeTotals(**scope.fields()) for scope in scopes], ignore_conflicts=True)
    found = {totals.scope: totals for totals in
             ScopeTotals.objects.select_for_update().filter(scope__in=names).order_by("scope")}
    newest_days = dict(DailyRollup.objects.filter(scope__in=names).values("scope").annotate(newest=Max("day"))
                       .values_list("scope", "newest"))
    updated = []
    for name in names:
        totals, newest = found[name], newest_days.get(name)
        if newest is None:
            totals.delete()  # its last day dropped, as if it never had one
            continue
        seal = newest - timedelta(days=SEAL_LAG_DAYS)
        DailyRollup.objects.filter(scope=name, day__lte=seal, sealed=False).update(
            sealed=True, revision=F("revision") + 1)
        DailyRollup.objects.filter(scope=name, day__gt=seal, sealed=True).update(
            sealed=False, revision=F("revision") + 1)
        trades, returns = totals_of_records(name, seal)
        totals.trades, totals.returns = trades.to_json(), returns.to_json()
        totals.sealed_through, totals.newest_day = seal, newest
        updated.append(totals)
    _save(updated, ["trades", "returns", "sealed_through", "newest_day"])


def same_risk_free(totals: ScopeTotals) -> bool:
    return Decimal(totals.returns.get("risk_free_daily", "0")) == risk_free_daily()
