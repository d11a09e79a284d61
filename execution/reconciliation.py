"""Reconciliation: the writes that compare the broker's open positions, as
an account snapshot reports them, with the books' open positions (those the
fills made), and that note an account gone silent. Keyword-only service
functions like execution/services.py's; each sends its domain events inside
the transaction it writes in.

A comparison stores a run and one item per position looked at:

- `match`: paired (execution/matching.py) and equal in volume and in average
  open price (within 0.01 %); the position's count of missed snapshots
  starts again from 0.
- `volume_mismatch`, `price_mismatch`: paired but different (both items when
  both differ). Fills are the truth of what was traded, so the books keep
  their figures: the item is there for a person to review. `expected`
  carries the books' P&L at the broker's current price (the price its own
  profit implies) beside the broker's `profit` in `actual`, so a P&L that
  differs shows on the item that explains it.
- `missing_at_broker`: open in the books, not reported. After
  MISSES_TO_CLOSE consecutive snapshots it is closed in the books with reason
  `broker` (`_close_in_the_books`).
- `unknown_at_broker`: reported, unknown to the books: adopted as an
  `external` position (it counts for equity and risk, never for a strategy's
  analytics); left alone, for review, when its instrument is not one of the
  platform's or the books closed that ticket.
- `late_fill`: reported for an order of the platform that the books have no
  open position for yet: the broker filled it and the fill has not reached
  the platform. It is not adopted (the fill will open the position, with its
  order and signal) and shows on every run until the fill arrives.

Not yet expected (left out of the run, compared again next time): what an
order sent within the last two poll intervals (BRIDGE_POLL_INTERVAL_SECONDS)
opened, on either side, and a position the books closed within that time
that the broker still reports: a snapshot may be taken while a fill is on
its way.
"""

from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core.lookups import chunks
from core.prices import format_price
from execution import closing, events, matching, metrics, selectors
from execution.models import (
    AccountSnapshot,
    Bridge,
    Order,
    Position,
    ReconciliationItem,
    ReconciliationRun,
    Symbol,
)
from signals.models import Instrument

Kind, Action = ReconciliationItem.Kind, ReconciliationItem.Action
# A position missing at the broker in this many consecutive snapshots is closed.
MISSES_TO_CLOSE = 3
BATCH_SIZE = 1000
AMOUNT_DIGITS = 2
# What a comparison reads of each open position.
BOOK_COLUMNS = ("pk", "instrument_id", "ticket", "side", "volume", "open_price", "open_time", "missed_snapshots",
                "unrealized_pnl", "order__client_order_id", "order__sent_at")
CLOSE_FIELDS = ["status", "volume", "close_time", "close_reason", "unrealized_pnl", "missed_snapshots", "updated_at"]


def not_expected_within() -> timedelta:
    """How long after an order is sent its position is not yet expected at
    the broker (nor its fill at the platform)."""
    return timedelta(seconds=2 * settings.BRIDGE_POLL_INTERVAL_SECONDS)


class _Run:
    """The items of one comparison as they are decided, and what they change."""

    def __init__(self, instruments: dict):
        self.instruments = instruments  # by id and by symbol
        self.items: list[ReconciliationItem] = []
        self.updates: list[Position] = []  # bare rows: missed_snapshots and unrealized_pnl only
        self.closing: dict = {}  # position id -> its missed snapshots
        self.closed: list[Position] = []
        self.adopted: list[Position] = []

    def add(self, kind, action, *, ticket, position_id=None, expected=None, actual=None):
        self.items.append(ReconciliationItem(kind=kind, action=action, ticket=ticket, position_id=position_id,
                                             expected=expected, actual=actual))

    def update(self, row, *, missed_snapshots: int, unrealized_pnl) -> None:
        self.updates.append(Position(pk=row.pk, missed_snapshots=missed_snapshots, unrealized_pnl=unrealized_pnl))

    def digits(self, key) -> int:
        """The quoted precision of an instrument (by id or symbol); 0 for one the platform does not list."""
        instrument = self.instruments.get(key)
        return instrument.digits if instrument else 0


def reconcile(*, bridge: Bridge, snapshot: AccountSnapshot) -> ReconciliationRun:
    """Compares `snapshot`, the bridge's newest, with the bridge's open
    positions and stores the run (see the module's docstring). Runs in the
    caller's transaction, which holds the bridge's row lock, as recording
    fills does: the books do not move while they are compared."""
    now = timezone.now()
    reported = [matching.Reported.parse(data) for data in snapshot.positions]
    # Plain rows, not model instances: this runs on every snapshot, and a
    # position changes only when it is missed or its count starts again.
    rows = list(Position.objects.filter(bridge=bridge, status=Position.Status.OPEN)
                .values_list(*BOOK_COLUMNS, named=True))
    run = _Run(_instruments(rows, reported))
    orders = _orders_named(bridge, reported)
    pairing = matching.pair([_booked(row, run) for row in rows], reported, platform_orders=set(orders))
    values = _values_per_price_unit(bridge)
    sent_before = snapshot.created_at - not_expected_within()
    opened_before = snapshot.time - not_expected_within()

    for booked, broker in pairing.pairs:
        row = booked.position
        kinds = matching.differences(booked, broker) or [Kind.MATCH]
        value = values.get(row.instrument_id)
        profit = None if value is None else matching.expected_profit(booked, broker, value_per_price_unit=value)
        digits = run.digits(row.instrument_id)
        expected = _figures(booked, profit, digits)
        actual = _figures(broker, broker.profit, digits)
        for kind in kinds:
            run.add(kind, Action.NONE if kind == Kind.MATCH else Action.REVIEW, ticket=broker.ticket,
                    position_id=row.pk, expected=expected, actual=actual)
        if row.missed_snapshots or row.unrealized_pnl != broker.profit:
            run.update(row, missed_snapshots=0, unrealized_pnl=broker.profit)

    for booked in pairing.missing:
        row = booked.position
        if row.open_time > opened_before or (row.order__sent_at and row.order__sent_at > sent_before):
            continue  # its order was sent, or it opened, too recently to be reported yet
        missed = row.missed_snapshots + 1
        if missed >= MISSES_TO_CLOSE:
            run.closing[row.pk] = missed
        else:
            run.update(row, missed_snapshots=missed, unrealized_pnl=row.unrealized_pnl)
        run.add(Kind.MISSING_AT_BROKER, Action.CLOSED if missed >= MISSES_TO_CLOSE else Action.WAIT,
                ticket=row.ticket, position_id=row.pk,
                expected={**_booked_view(booked, run.digits(row.instrument_id)), "missed_snapshots": missed})

    _place_the_unknown(bridge, pairing.unknown, orders, run, open_tickets={row.ticket for row in rows},
                       sent_before=sent_before, opened_before=opened_before, now=now)
    _close_in_the_books(run, at=snapshot.time, now=now)

    counts = dict(sorted(Counter(item.kind for item in run.items).items()))
    drift = any(item.kind != Kind.MATCH for item in run.items)
    stored = ReconciliationRun.objects.create(
        bridge=bridge, snapshot=snapshot, time=snapshot.time, counts=counts, created_at=now,
        status=ReconciliationRun.Status.DRIFT if drift else ReconciliationRun.Status.OK)
    for item in run.items:
        item.run = stored
    ReconciliationItem.objects.bulk_create(run.items, batch_size=BATCH_SIZE)
    Position.objects.bulk_update(run.updates, ["missed_snapshots", "unrealized_pnl"], batch_size=BATCH_SIZE)
    _announce(bridge, stored, run)
    return stored


def _instruments(rows: list, reported: list[matching.Reported]) -> dict:
    """The instruments of the books' positions and of the broker's, keyed
    both by id and by symbol."""
    ids = {row.instrument_id for row in rows}
    symbols = {position.instrument for position in reported}
    found = {}
    for instrument in Instrument.objects.filter(Q(pk__in=ids) | Q(symbol__in=symbols)):
        found[instrument.pk] = found[instrument.symbol] = instrument
    return found


def _booked(row, run: _Run) -> matching.Booked:
    return matching.Booked(ticket=row.ticket, client_order_id=row.order__client_order_id,
                           instrument=run.instruments[row.instrument_id].symbol, side=row.side, volume=row.volume,
                           open_price=row.open_price, open_time=row.open_time, position=row)


def _orders_named(bridge: Bridge, reported: list[matching.Reported]) -> dict[str, Order]:
    """The bridge's orders the reported positions name by client order id."""
    names = sorted({position.client_order_id for position in reported if position.client_order_id})
    found = {}
    for chunk in chunks(names):
        found.update((order.client_order_id, order)
                     for order in Order.objects.filter(bridge=bridge, client_order_id__in=chunk))
    return found


def _values_per_price_unit(bridge: Bridge) -> dict[int, Decimal]:
    """Account currency per lot per unit of price, by instrument id, from the
    bridge's symbol specs."""
    return {instrument_id: tick_value / tick_size for instrument_id, tick_value, tick_size
            in Symbol.objects.filter(bridge=bridge).values_list("instrument_id", "tick_value", "tick_size")}


def _close_in_the_books(run: _Run, *, at: datetime, now: datetime) -> None:
    """Closes the positions the broker no longer reports (`run.closing`).
    No fill says at which price, so none is made up: the close price stays
    empty and the realized P&L is what their fills booked so far; the
    account's balance and equity, from the broker, are right regardless.
    Should the broker's closing deal arrive later, the position is rebuilt
    from its fills like any other."""
    if not run.closing:
        return
    for chunk in chunks(list(run.closing)):
        run.closed.extend(Position.objects.filter(pk__in=chunk))
    for position in run.closed:
        position.status, position.close_reason = Position.Status.CLOSED, Position.CloseReason.BROKER
        position.close_time, position.volume, position.unrealized_pnl = at, Decimal(0), None
        position.missed_snapshots, position.updated_at = run.closing[position.pk], now
    Position.objects.bulk_update(run.closed, CLOSE_FIELDS, batch_size=BATCH_SIZE)
    closing.spend_closes(run.closed, now=now)


def _place_the_unknown(bridge, unknown, orders, run, *, open_tickets, sent_before, opened_before, now) -> None:
    """Items for the reported positions the books have no open position for:
    late fills, tickets the books closed, and positions to adopt.
    `open_tickets`: the books' open tickets (a ticket the broker reports
    twice is adopted once)."""
    if not unknown:
        return
    closed = _closed_tickets(bridge, [position.ticket for position in unknown])
    taken = set(open_tickets)
    for broker in unknown:
        instrument = run.instruments.get(broker.instrument)
        actual = _reported_view(broker, run.digits(broker.instrument))
        order = orders.get(broker.client_order_id)
        if broker.ticket in closed:
            if closed[broker.ticket] > opened_before:
                continue  # closed a moment ago: the snapshot may be older than the closing fill
            run.add(Kind.UNKNOWN_AT_BROKER, Action.REVIEW, ticket=broker.ticket, actual=actual,
                    expected={"ticket": broker.ticket, "status": Position.Status.CLOSED})
        elif order is not None:
            if order.sent_at and order.sent_at > sent_before:
                continue  # its fill is on its way
            run.add(Kind.LATE_FILL, Action.AWAIT_FILL, ticket=broker.ticket, actual=actual,
                    expected={"client_order_id": order.client_order_id, "order": str(order.pk),
                              "status": order.status, "instrument": broker.instrument, "side": order.side,
                              "volume": _amount(order.volume)})
        elif instrument is None or broker.ticket in taken:
            run.add(Kind.UNKNOWN_AT_BROKER, Action.REVIEW, ticket=broker.ticket, actual=actual)
        else:
            position = Position(
                bridge=bridge, owner_id=bridge.owner_id, instrument=instrument, side=broker.side,
                ticket=broker.ticket, volume=broker.volume, opened_volume=broker.volume,
                open_price=broker.open_price, open_time=broker.open_time, stop_loss=broker.stop_loss,
                take_profit=broker.take_profit, unrealized_pnl=broker.profit, origin=Position.Origin.EXTERNAL,
                created_at=now, updated_at=now)
            taken.add(broker.ticket)
            run.adopted.append(position)
            run.add(Kind.UNKNOWN_AT_BROKER, Action.ADOPTED, ticket=broker.ticket, position_id=position.pk,
                    actual=actual)
    Position.objects.bulk_create(run.adopted, batch_size=BATCH_SIZE)


def _closed_tickets(bridge: Bridge, tickets: list[str]) -> dict[str, datetime]:
    """When the books last closed each of `tickets` (those they closed)."""
    closed = {}
    for chunk in chunks(sorted(set(tickets))):
        for ticket, close_time in (Position.objects.filter(bridge=bridge, status=Position.Status.CLOSED,
                                                           ticket__in=chunk)
                                   .order_by("close_time").values_list("ticket", "close_time")):
            closed[ticket] = close_time
    return closed


def _amount(value) -> str | None:
    return format_price(value, AMOUNT_DIGITS)


def _figures(position: matching.Booked | matching.Reported, profit, digits: int) -> dict:
    """What a pair is compared on, one side of it: `profit` is the broker's,
    or the books' at the broker's current price."""
    return {"ticket": position.ticket, "instrument": position.instrument, "side": position.side,
            "volume": _amount(position.volume), "open_price": format_price(position.open_price, digits),
            "profit": _amount(profit)}


def _booked_view(position: matching.Booked, digits: int) -> dict:
    return {"ticket": position.ticket, "client_order_id": position.client_order_id,
            "instrument": position.instrument, "side": position.side, "volume": _amount(position.volume),
            "open_price": format_price(position.open_price, digits)}


def _reported_view(position: matching.Reported, digits: int) -> dict:
    return {"ticket": position.ticket, "client_order_id": position.client_order_id,
            "instrument": position.instrument, "side": position.side, "volume": _amount(position.volume),
            "open_price": format_price(position.open_price, digits), "profit": _amount(position.profit)}


def _position_meta(position: Position, instruments: dict, **extra) -> dict:
    return {"ticket": position.ticket, "instrument": instruments[position.instrument_id].symbol,
            "side": position.side,
            "volume": position.opened_volume, "origin": position.origin,
            "order": str(position.order_id) if position.order_id else None, **extra}


def _announce(bridge: Bridge, run: ReconciliationRun, changes: _Run) -> None:
    """The run's events (audited) and, once committed, its metrics."""
    for position in changes.adopted:
        events.position_opened.send(sender=Position, target=position, meta=_position_meta(
            position, changes.instruments, adopted_from_snapshot=run.snapshot_id))
    for position in changes.closed:
        events.position_closed.send(sender=Position, target=position, meta=_position_meta(
            position, changes.instruments, close_reason=position.close_reason, realized_pnl=position.realized_pnl,
            missed_snapshots=position.missed_snapshots))
    events.reconciliation_recorded.send(sender=ReconciliationRun, target=run, meta={
        "bridge": bridge.key_id, "snapshot": run.snapshot_id, "time": run.time, "status": run.status,
        "counts": run.counts})
    transaction.on_commit(partial(_count, [item.kind for item in changes.items if item.kind != Kind.MATCH]))
    metrics.count_autoclosed(position.close_reason for position in changes.closed)


def _count(divergences: list[str]) -> None:
    for kind, n in Counter(divergences).items():
        metrics.reconciliation_divergences_total.labels(kind=kind).inc(n)


def mark_stale_accounts(*, now: datetime | None = None) -> int:
    """Records a `stale` run (no items) for every enabled bridge whose newest
    snapshot is older than ACCOUNT_STALE_SECONDS, once per silence: not again
    while its newest run is that stale one. A bridge that never sent a
    snapshot has no account to call stale (its orders are denied
    `account-stale` all the same). Returns how many were marked."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.ACCOUNT_STALE_SECONDS)
    marked = 0
    for bridge in selectors.silent_bridges(before=cutoff):
        with transaction.atomic():
            # Locked as a snapshot locks it: one arriving meanwhile ends the silence first, or waits.
            bridge = Bridge.objects.select_for_update(no_key=True).get(pk=bridge.pk)
            newest = selectors.newest_reconciliation(bridge=bridge)
            marked_already = newest is not None and newest.status == ReconciliationRun.Status.STALE
            if bridge.last_snapshot_at >= cutoff or marked_already:
                continue
            run = ReconciliationRun.objects.create(bridge=bridge, snapshot=selectors.latest_snapshot(bridge=bridge),
                                                   time=now, status=ReconciliationRun.Status.STALE)
            events.reconciliation_recorded.send(sender=ReconciliationRun, target=run, meta={
                "bridge": bridge.key_id, "snapshot": run.snapshot_id, "time": run.time, "status": run.status,
                "last_snapshot_at": bridge.last_snapshot_at, "counts": {}})
            marked += 1
    return marked
