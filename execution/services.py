"""Every write of the execution app. Each runs in one transaction and sends
its domain events inside it, so the audit entries commit with the change or
neither does; a refused call (422, 404, 409) changes nothing.

Input reaching these functions has passed the HTTP layer's field checks
(types, decimal strings, required fields); they check the domain rules and
raise DRF exceptions: ValidationError with dotted field names ("fills.3.volume"),
NotFound, or core.problems.Conflict.

One bridge's fills and account snapshots are applied one call at a time:
each locks the bridge's row first (SQLite's single write lock does the same),
so positions are created and rebuilt from their fills without racing.

Locks are taken in one order everywhere, so that transactions wait for each
other but never deadlock: the bridge's row, then orders (several in expiry
order, `_lock_orders`), then commands and positions, and the audit chain's
last: a write that changes many rows announces them at its end with one
batch event (events.announce).
"""

import re
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from django.db import transaction
from django.db.models import Case, Min, Q, QuerySet, Sum, Value, When
from django.utils import timezone
from rest_framework.exceptions import NotFound, ValidationError

from approvals.models import Approval
from charting.services import upsert_equity_points
from core.bulk import insert_all
from core.lookups import chunks
from core.problems import Conflict
from execution import closing, events, guards, ledger, metrics, pretrade, reconciliation, selectors
from execution.models import AccountSnapshot, Bridge, Command, Fill, Order, Position, Symbol
from machines import services as machine_services
from machines.services import DEFAULT_GRACE_SECONDS
from signals.models import Instrument

EXPIRE_BATCH_SIZE = 200
BATCH_SIZE = 1000
# A poll records its time at most this often (`_record_poll`).
POLL_RECORD_INTERVAL = timedelta(seconds=10)


def client_order_id_for(approval: Approval) -> str:
    """Stable for the approval, so a bridge that crashed can ask its broker
    whether the order exists; 27 characters, within MT5's 31 of comment."""
    return f"tp-{approval.pk.hex[:24]}"


def _locked_bridge(bridge: Bridge) -> Bridge:
    return Bridge.objects.select_for_update(no_key=True).get(pk=bridge.pk)


def _parse_uuid(value) -> uuid.UUID | None:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        return None


def _instruments_by_symbol(symbols) -> dict[str, Instrument]:
    wanted = sorted({symbol.strip().upper() for symbol in symbols})
    return {instrument.symbol: instrument for instrument in Instrument.objects.filter(symbol__in=wanted)}


# --- Bridges: create, rotate the secret, disable ----------------------------------

# An account currency: ISO 4217's three upper-case letters.
CURRENCY_CODE = re.compile(r"[A-Z]{3}")


def bridge_creation_errors(*, owner, account_ref: str, currency: str) -> dict[str, list[str]]:
    """What stops `owner` getting a new bridge for the broker account
    `account_ref` in `currency`, by field; empty when nothing does. One
    bridge serves one broker account of one user, so an owner has at most
    one enabled bridge."""
    errors = {}
    if not account_ref.strip():
        errors["account_ref"] = ["The broker's id of the account is required."]
    if not CURRENCY_CODE.fullmatch(currency):
        errors["currency"] = ["The account currency: three upper-case letters (ISO 4217), e.g. USD."]
    existing = selectors.bridge_for_user(user=owner)
    if existing is not None:
        errors["owner"] = [f"{owner.get_username()} already has an enabled bridge, “{existing.name}” "
                           f"({existing.key_id}): disable it first."]
    return errors


def create_bridge(*, name: str, owner, account_ref: str, currency: str = "USD") -> tuple[Bridge, str]:
    """Returns the bridge and its first secret, the only time the secret is
    available in clear. ValidationError (by field) when
    `bridge_creation_errors` finds something."""
    with transaction.atomic():
        errors = bridge_creation_errors(owner=owner, account_ref=account_ref, currency=currency)
        if errors:
            raise ValidationError(errors)
        bridge, secret = machine_services.create_client(model=Bridge, name=name, owner=owner,
                                                        account_ref=account_ref, currency=currency)
        events.bridge_created.send(sender=Bridge, target=bridge, meta={
            "name": bridge.name, "key_id": bridge.key_id, "owner": owner.get_username(),
            "account_ref": account_ref, "currency": currency,
        })
    return bridge, secret


def rotate_bridge_secret(*, bridge: Bridge, grace_seconds: int = DEFAULT_GRACE_SECONDS) -> str:
    """Issues a new secret; the live ones keep verifying for `grace_seconds`
    (0: they stop at once), never longer than they already would have."""
    with transaction.atomic():
        secret, grace_end = machine_services.rotate_secret(client=bridge, grace_seconds=grace_seconds)
        events.bridge_secret_rotated.send(sender=Bridge, target=bridge, meta={
            "key_id": bridge.key_id, "grace_seconds": grace_seconds, "grace_until": grace_end.isoformat(),
        })
    return secret


def disable_bridge(*, bridge: Bridge) -> Bridge:
    """Its requests are refused from now on (401, like an unknown bridge), and
    its owner's approvals no longer become orders."""
    with transaction.atomic():
        if machine_services.disable_client(client=bridge):
            events.bridge_disabled.send(sender=Bridge, target=bridge, meta={"key_id": bridge.key_id})
    return bridge


# --- Orders ---------------------------------------------------------------------


def _lock_orders(orders: QuerySet[Order], *, limit: int | None = None) -> list[Order]:
    """`orders` (the first `limit`), row-locked in expiry order: every
    transaction that moves several orders locks them in this order (the
    sweep, poll, fills), so two that want the same orders queue instead of
    deadlocking. The statuses read stay current until the commit: a move
    decided on them cannot lose a race. An order another transaction moved
    while this one waited is read as that one left it (and is left out when
    it no longer matches `orders`' filter)."""
    # With their instruments: the receivers of their moves show them.
    locked = orders.select_related("instrument").select_for_update(of=("self",)).order_by("expires_at", "id")
    return list(locked[:limit] if limit else locked)


def _per_order(name: str, values: dict) -> Any:
    """The value an UPDATE of several orders sets `name` to: the one value,
    or each order's own."""
    first = next(iter(values.values()))
    if all(value == first for value in values.values()):
        return first
    field = Order._meta.get_field(name)
    return Case(*(When(pk=pk, then=Value(value, output_field=field)) for pk, value in values.items()),
                output_field=field)


def _transition(moves: list[tuple[Order, dict]], status: str, *, now: datetime) -> list[events.Change]:
    """Moves each order of `moves` (locked by the caller: `_lock_orders`, or
    alone) whose status allows it to `status`, with its field changes (e.g.
    filled_volume); all at once, one UPDATE guarded by the statuses allowed.
    Returns the order_transitioned change of each order moved, to announce;
    counted on commit."""
    allowed = Order.TRANSITIONS[status]
    moves = [(order, changes) for order, changes in moves if order.status in allowed]
    if not moves:
        return []
    names = {name for _, changes in moves for name in changes}
    values = {name: _per_order(name, {order.pk: changes[name] for order, changes in moves}) for name in names}
    moved = (Order.objects.filter(pk__in=[order.pk for order, _ in moves], status__in=allowed)
             .update(status=status, updated_at=now, **values))
    if moved != len(moves):  # the caller did not hold the orders' locks
        raise RuntimeError(f"{len(moves) - moved} of {len(moves)} orders moved meanwhile")
    transitions = []
    for order, changes in moves:
        order.status, order.updated_at = status, now
        for name, value in changes.items():
            setattr(order, name, value)
        transitions.append(events.Change(events.order_transitioned, Order, order, {
            "status": status, "client_order_id": order.client_order_id,
            **{name: value for name, value in changes.items() if name != "sent_at"}}))
    transaction.on_commit(partial(metrics.count_order_status, status, len(moves)))
    return transitions


def _expire(orders: list[Order], *, now: datetime) -> list[events.Change]:
    """Stores `expired` on those of the (locked) `orders` still unfilled;
    returns their changes. An `open` command the bridge has not polled yet is
    withdrawn: the broker never saw the order, so nothing is to be
    cancelled. Otherwise a `cancel` command follows the open."""
    changes = _transition([(order, {}) for order in orders], Order.Status.EXPIRED, now=now)
    expired = [change.target for change in changes]
    if not expired:
        return []
    # Under the orders' locks their commands stay as read: poll and ack lock the order first too.
    unsent = Command.objects.filter(order__in=expired, type=Command.Type.OPEN, status=Command.Status.QUEUED)
    withdrawn = set(unsent.values_list("order_id", flat=True))
    if withdrawn:
        unsent.update(status=Command.Status.WITHDRAWN)
    Command.objects.bulk_create([
        Command(bridge_id=order.bridge_id, order=order, type=Command.Type.CANCEL, client_order_id=order.client_order_id,
                instrument_id=order.instrument_id, side=order.side, created_at=now)
        for order in expired if order.pk not in withdrawn])
    return changes


def place_order_for_approval(*, approval: Approval) -> Order | None:
    """The order an approved signal becomes, created in the approval's
    transaction: `pending` with an `open` command for the owner's bridge, or
    `denied` with every reason the checks found (execution/pretrade.py),
    with the risk policy version that decided. None when the decision is
    not an approval or the owner has no enabled bridge."""
    if approval.decision != Approval.Decision.APPROVED:
        return None
    # No savepoint: it runs in the approval's transaction, which a failure here aborts anyway.
    with transaction.atomic(savepoint=False):
        bridge = selectors.locked_bridge_for_user(user=approval.user)  # the signal's owner: only they decide on it
        if bridge is None:
            return None
        signal, now = approval.signal, timezone.now()
        decision = pretrade.decide(bridge=bridge, signal=signal, now=now)
        reasons, volume = decision.reasons, decision.volume
        order = Order.objects.create(
            bridge=bridge, owner_id=signal.owner_id, signal=signal, approval=approval,
            instrument=signal.instrument, side=signal.side, volume=volume, entry_price=signal.entry_price,
            stop_loss=signal.stop_loss, take_profit=signal.take_profit,
            status=Order.Status.DENIED if reasons else Order.Status.PENDING, reasons=reasons,
            client_order_id=client_order_id_for(approval), initial_risk=decision.initial_risk,
            equity_at_sizing=decision.equity_at_sizing, risk_policy_version=decision.policy_version,
            expires_at=signal.expires_at, created_at=now, updated_at=now,
        )
        if order.status == Order.Status.PENDING:
            Command.objects.create(
                bridge=bridge, order=order, type=Command.Type.OPEN, client_order_id=order.client_order_id,
                instrument_id=order.instrument_id, side=order.side, volume=order.volume,
                entry_price=order.entry_price, stop_loss=order.stop_loss, take_profit=order.take_profit,
                expires_at=order.expires_at, created_at=now,
            )
        events.order_created.send(sender=Order, target=order, meta={
            "status": order.status, "reasons": reasons, "volume": volume, "client_order_id": order.client_order_id,
            "signal": str(signal.pk), "approval": str(approval.pk), "bridge": bridge.key_id,
            "risk_policy_version": decision.policy_version,
        })
        transaction.on_commit(partial(metrics.count_order_status, order.status))
    return order


def _due_orders(*, now: datetime) -> QuerySet[Order]:
    return Order.objects.filter(status__in=Order.EXPIRING, expires_at__lte=now)


def _expire_next(due: QuerySet[Order], *, now: datetime, batch_size: int) -> list[events.Change]:
    """Locks the next `batch_size` orders of `due` (in expiry order) and
    expires them; [] when none is left. An order a fill or an ack moved
    while this waited for its lock no longer reads as due: left to that move."""
    return _expire(_lock_orders(due, limit=batch_size), now=now)


def expire_orders(*, now: datetime | None = None, batch_size: int = EXPIRE_BATCH_SIZE) -> int:
    """Stores `expired` on every unfilled order past its expiry, withdrawing
    its `open` command or queueing a `cancel` (`_expire`), a batch per
    transaction; returns how many."""
    now = now or timezone.now()
    due, total = _due_orders(now=now), 0
    while True:
        with transaction.atomic():
            changes = _expire_next(due, now=now, batch_size=batch_size)
            events.announce(changes, sender=Order)
        if not changes:
            return total
        total += len(changes)


# --- Bridge calls: symbols, poll, ack -------------------------------------------


def upsert_symbols(*, bridge: Bridge, symbols: list[dict], signed_at: datetime | None = None) -> int:
    """Stores the broker's contract specs (dicts with instrument, tick_size,
    tick_value, volume_min, volume_step, volume_max), replacing earlier ones
    of the same instruments; returns how many. `signed_at`: when the bridge
    signed the call (now if it is not a signed call). A spec stored from a
    call signed later is kept: a copy of an older call, sent again within its
    signature's window after a correction, must not put the old specs back
    (sizing reads them)."""
    instruments = _instruments_by_symbol(spec["instrument"] for spec in symbols)
    errors, seen, rows = {}, set(), []
    now = timezone.now()
    signed_at = signed_at or now
    for index, spec in enumerate(symbols):
        instrument = instruments.get(spec["instrument"].strip().upper())
        if instrument is None:
            errors[f"symbols.{index}.instrument"] = ["Not an instrument of the platform."]
        elif instrument.pk in seen:
            errors[f"symbols.{index}.instrument"] = [f"{instrument.symbol} is listed more than once."]
        elif spec["volume_min"] > spec["volume_max"]:
            errors[f"symbols.{index}.volume_max"] = ["Must not be below volume_min."]
        else:
            seen.add(instrument.pk)
            rows.append(Symbol(bridge=bridge, instrument=instrument, updated_at=now, signed_at=signed_at,
                               **{name: spec[name] for name in selectors.SPEC_FIELDS}))
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        _locked_bridge(bridge)  # one call of the bridge at a time compares and writes
        newer = set(Symbol.objects.filter(bridge=bridge, instrument__in=seen, signed_at__gt=signed_at)
                    .values_list("instrument_id", flat=True))
        rows = [row for row in rows if row.instrument_id not in newer]
        Symbol.objects.bulk_create(rows, batch_size=BATCH_SIZE, update_conflicts=True,
                                   unique_fields=["bridge", "instrument"],
                                   update_fields=[*selectors.SPEC_FIELDS, "updated_at", "signed_at"])
    return len(rows)


def poll_commands(*, bridge: Bridge) -> list[Command]:
    """The bridge's unacknowledged commands, oldest first; the queued ones
    are marked sent, and so are the orders they open. The bridge's orders
    past their expiry are expired first (the sweep may not have run yet), so
    an `open` of an expired order is never delivered. The poll's time is
    recorded (`_record_poll`).

    Most polls find nothing to do: one read says so, and such a poll writes
    nothing but, now and then, its time."""
    now = timezone.now()
    state = selectors.poll_state(bridge=bridge, now=now)
    if not (state.due or state.waiting):
        _record_poll(bridge, last=state.last_poll_at, now=now)
        return []
    due = _due_orders(now=now).filter(bridge=bridge)
    with transaction.atomic():
        # The bridge first, as every other call of the bridge and an approval's
        # order take it; then the orders, in expiry order; the audit entries last.
        locked = _locked_bridge(bridge)
        changes = []
        while expired := _expire_next(due, now=now, batch_size=EXPIRE_BATCH_SIZE):
            changes += expired
        commands = list(selectors.open_commands(bridge=bridge).select_related("order"))
        opens = {command.order_id: command for command in commands
                 if command.status == Command.Status.QUEUED and command.type == Command.Type.OPEN}
        for order in _lock_orders(Order.objects.filter(pk__in=opens)):
            opens[order.pk].order = order  # as it is now: an expiry may have moved it meanwhile
        changes += _transition([(opens[pk].order, {"sent_at": now}) for pk in opens], Order.Status.SENT, now=now)
        # An order the sweep expired meanwhile had its open withdrawn: not delivered.
        commands = [command for command in commands if not (
            command.type == Command.Type.OPEN and command.order.status in selectors.ORDERS_NOT_TO_OPEN)]
        queued = [command for command in commands if command.status == Command.Status.QUEUED]
        if queued:
            Command.objects.filter(pk__in=[command.pk for command in queued], status=Command.Status.QUEUED).update(
                status=Command.Status.SENT, sent_at=now)
            for command in queued:
                command.status, command.sent_at = Command.Status.SENT, now
        _record_poll(bridge, last=locked.last_poll_at, now=now)
        events.announce(changes, sender=Order)
    return commands


def _record_poll(bridge: Bridge, *, last: datetime | None, now: datetime) -> None:
    """Stores the poll's time as the bridge's last poll, unless the stored
    one is less than POLL_RECORD_INTERVAL old: bridges poll every few
    seconds, and the write (a lock on the bridge's row) would be most of an
    idle poll's cost. The last poll shown (console, bridge_last_seen_seconds)
    is then up to that much older than the bridge's real last poll."""
    if last is not None and now - last < POLL_RECORD_INTERVAL:
        return
    stale = Q(last_poll_at__isnull=True) | Q(last_poll_at__lte=now - POLL_RECORD_INTERVAL)
    Bridge.objects.filter(stale, pk=bridge.pk).update(last_poll_at=now)
    bridge.last_poll_at = now


def acknowledge_command(*, bridge: Bridge, command_id, status: str, broker_ticket: str | None = None,
                        error: str = "") -> Command:
    """Records the bridge's answer to one of its commands and what it means
    for the order: accepted, rejected (or failed), cancelled. The same answer
    again changes nothing; one that contradicts the earlier one is a 409."""
    pk = _parse_uuid(command_id)
    with transaction.atomic():
        order_id = Command.objects.filter(pk=pk, bridge=bridge).values_list("order_id", flat=True).first() if pk else None
        if order_id is not None:
            # The order before its command, as expiry and poll lock them: two
            # moves of one order then queue instead of deadlocking.
            Order.objects.select_for_update().filter(pk=order_id).values_list("pk").first()
        command = (Command.objects.select_for_update(of=("self",)).select_related("order")
                   .filter(pk=pk, bridge=bridge).first() if pk else None)
        if command is None:
            raise NotFound("No such command.")
        if command.status == Command.Status.WITHDRAWN:
            raise Conflict("The command was withdrawn before it was sent: its order expired.", slug="ack-conflict",
                           extra={"command_status": command.status})
        if command.status in Command.ACK_STATUSES:
            if status == command.status and broker_ticket in (None, command.broker_ticket):
                return command  # the same answer again, the ticket given or not
            later = Command.ACK_LATER.get(command.status, ())
            if status not in later or broker_ticket not in (None, command.broker_ticket):
                raise Conflict(f"The command was already acknowledged as {command.status}"
                               f"{' with broker ticket ' + command.broker_ticket if command.broker_ticket else ''}.",
                               slug="ack-conflict", extra={"command_status": command.status})
        now = timezone.now()
        command.status, command.acked_at, command.error = status, now, (error or "")[:Command.ERROR_MAX]
        command.broker_ticket = broker_ticket or command.broker_ticket
        command.save(update_fields=["status", "acked_at", "error", "broker_ticket"])
        changes = _apply_ack_to_order(command, now=now) if command.order is not None else []
        events.announce([*changes, events.Change(events.command_acknowledged, Command, command, {
            "type": command.type, "status": status, "broker_ticket": command.broker_ticket, "error": command.error,
            "order": str(command.order_id) if command.order_id else None,
            "position": str(command.position_id) if command.position_id else None,
        })], sender=Command)
    return command


def _apply_ack_to_order(command: Command, *, now: datetime) -> list[events.Change]:
    """The order's move the ack means (its row is locked), to announce."""
    order, status = command.order, command.status
    if command.type == Command.Type.OPEN:
        if command.broker_ticket and order.broker_ticket is None:
            Order.objects.filter(pk=order.pk).update(broker_ticket=command.broker_ticket)
            order.broker_ticket = command.broker_ticket
        if status in (Command.Status.REJECTED, Command.Status.FAILED):
            return _transition([(order, {"reasons": [f"broker-{status}"]})], Order.Status.REJECTED, now=now)
        if status == Command.Status.ACCEPTED:
            return _transition([(order, {})], Order.Status.ACCEPTED, now=now)
    elif command.type == Command.Type.CANCEL and status == Command.Status.EXECUTED:
        return _transition([(order, {})], Order.Status.CANCELLED, now=now)
    return []


# --- Fills and positions -------------------------------------------------------------


def record_fills(*, bridge: Bridge, fills: list[dict]) -> tuple[int, int]:
    """Stores the broker's fills once each by (bridge, fill_id) and brings the
    positions and orders they touch up to date; returns (inserted, duplicates).

    `fills`: dicts with fill_id, client_order_id (or None), ticket,
    position_ticket, instrument (symbol), side, entry ("in"/"out"), volume,
    price, time, commission, swap, profit. The positions are rebuilt from all
    their stored fills in time order (execution/ledger.py), so duplicates,
    replays and out-of-order arrival leave them exact. A fill of an unknown client order
    id opens an `external` position; a fill after its order expired still
    opens its position, and a `close` command (approval_expired) follows."""
    with transaction.atomic():
        bridge = _locked_bridge(bridge)
        now = timezone.now()
        orders = _orders_named_by(fills)
        new = _new_fills(bridge, fills, orders)
        if not new:
            return 0, len(fills)
        positions = _positions_for_fills(bridge, new)
        position_changes = _rebuild_positions(bridge, positions, new, now=now)
        closing.spend_closes(position_changes.went_flat, now=now)
        insert_all(list(new.values()))  # no conflict: the bridge's lock keeps `new` new
        transitions, late_positions = _settle_orders(new.values(), now=now)
        for position, late_volume in late_positions.items():
            if position.status == Position.Status.OPEN:
                closing.request_close(position, reason=Position.CloseReason.APPROVAL_EXPIRED, now=now,
                                      volume=late_volume)
        events.announce([
            *transitions,
            *(events.Change(events.position_opened, Position, position, _position_meta(position))
              for position in position_changes.opened),
            *(events.Change(events.position_closed, Position, position, _position_meta(position))
              for position in position_changes.closed),
            *(events.Change(events.position_revised, Position, position, {
                "previous_close_time": close_time, "previous_order": str(order_id) if order_id else None})
              for position, close_time, order_id in position_changes.revised),
            events.Change(events.fills_recorded, Fill, bridge, {
                "inserted": len(new), "duplicates": len(fills) - len(new),
                "fill_ids": [fill.fill_id for fill in new.values()]}),
        ], sender=Fill)
        transaction.on_commit(partial(metrics.fills_total.inc, len(new)))
        metrics.count_autoclosed(position.close_reason for position in position_changes.closed)
    return len(new), len(fills) - len(new)


def _orders_named_by(fills: list[dict]) -> dict[str, Order]:
    """The orders the fills' client order ids name (any bridge's: naming
    another's is refused), with their approvals (for the fill latency),
    locked (`_lock_orders`; in pieces of a long list, each piece after the
    one before in the same order)."""
    names = sorted({fill["client_order_id"] for fill in fills if fill.get("client_order_id")})
    expiries = {}
    for chunk in chunks(names):
        expiries.update(Order.objects.filter(client_order_id__in=chunk).values_list("pk", "expires_at"))
    found = {}
    for chunk in chunks(sorted(expiries, key=lambda pk: (expiries[pk], pk))):
        found.update((order.client_order_id, order)
                     for order in _lock_orders(Order.objects.filter(pk__in=chunk).select_related("approval")))
    return found


def _new_fills(bridge: Bridge, fills: list[dict], orders: dict[str, Order]) -> dict[int, Fill]:
    """The fills not stored yet (the first of a fill_id repeated within the
    call), unsaved and keyed by their index in the call, after the checks
    that need no position: a 422 names every such field."""
    instruments = _instruments_by_symbol(fill["instrument"] for fill in fills)
    errors = {}
    for index, fill in enumerate(fills):
        instrument = instruments.get(fill["instrument"].strip().upper())
        if instrument is None:
            errors[f"fills.{index}.instrument"] = ["Not an instrument of the platform."]
        elif fill["price"].scaleb(instrument.digits) % 1:
            errors[f"fills.{index}.price"] = [f"{instrument.symbol} is quoted with {instrument.digits} decimal "
                                              f"places; this price has more."]
        order = orders.get(fill.get("client_order_id"))
        if order is not None and order.bridge_id != bridge.pk:
            errors[f"fills.{index}.client_order_id"] = ["Names an order of another bridge."]
        elif order is not None and instrument is not None and instrument.pk != order.instrument_id:
            errors[f"fills.{index}.instrument"] = ["Names an order of another instrument."]
        elif order is not None and fill["entry"] == Fill.Entry.IN and fill["side"] != order.side:
            errors[f"fills.{index}.side"] = [f"Names an order to {order.side}: its in fills are a {order.side} too."]
    if errors:
        raise ValidationError(errors)

    stored = set()
    for chunk in chunks(sorted({fill["fill_id"] for fill in fills})):
        stored.update(Fill.objects.filter(bridge=bridge, fill_id__in=chunk).values_list("fill_id", flat=True))
    new = {}
    for index, fill in enumerate(fills):
        if fill["fill_id"] in stored:
            continue
        stored.add(fill["fill_id"])
        order = orders.get(fill.get("client_order_id"))
        new[index] = Fill(
            bridge=bridge, fill_id=fill["fill_id"], order=order, client_order_id=fill.get("client_order_id"),
            ticket=fill.get("ticket"), position_ticket=fill["position_ticket"],
            instrument=instruments[fill["instrument"].strip().upper()], side=fill["side"], entry=fill["entry"],
            volume=fill["volume"], price=fill["price"], time=fill["time"],
            commission=fill.get("commission") or Decimal(0), swap=fill.get("swap") or Decimal(0),
            profit=fill.get("profit") or Decimal(0),
        )
    return new


def _positions_for_fills(bridge: Bridge, new: dict[int, Fill]) -> dict[str, Position]:
    """The stored positions of the new fills' position tickets, locked (an
    open one before a closed one of a ticket the broker used again)."""
    tickets = sorted({fill.position_ticket for fill in new.values()})
    positions = {}
    for chunk in chunks(tickets):
        rows = (Position.objects.select_for_update(of=("self",)).select_related("order", "instrument")
                .filter(bridge=bridge, ticket__in=chunk).order_by("status", "created_at"))
        for position in rows:  # the last one kept wins: "closed" sorts before "open", then the newest
            positions[position.ticket] = position
    return positions


@dataclass
class _PositionChanges:
    opened: list[Position] = field(default_factory=list)
    closed: list[Position] = field(default_factory=list)
    # Stored before, and left with nothing open by a new fill (closed, or
    # closed and opened again): the closes asked so far are spent.
    went_flat: list[Position] = field(default_factory=list)
    # Closed before and changed since: (position, its close time and order id before).
    revised: list[tuple[Position, datetime, uuid.UUID | None]] = field(default_factory=list)


STORABLE_LIMIT_TEXT = f"{ledger.STORABLE_BELOW:,.0f}"
POSITION_FIGURES = ("side", "volume", "opened_volume", "open_price", "open_time", "close_price", "close_time",
                    "realized_pnl", "commission", "swap")


def _rebuild_positions(bridge: Bridge, positions: dict[str, Position], new: dict[int, Fill], *,
                       now: datetime) -> _PositionChanges:
    """Creates the positions of new tickets and rebuilds the touched ones
    from all their fills, stored and new; assigns each new fill its position.
    Raises ValidationError (nothing written) when a fill closes more than was
    open, or names another instrument than its position's."""
    index_of = {fill.fill_id: index for index, fill in new.items()}
    new_by_ticket = defaultdict(list)
    errors = {}
    for index, fill in new.items():
        position = positions.get(fill.position_ticket)
        first = new_by_ticket[fill.position_ticket][:1]
        instrument_id = position.instrument_id if position else (first[0].instrument_id if first else None)
        if instrument_id is not None and fill.instrument_id != instrument_id:
            errors[f"fills.{index}.instrument"] = [f"Position {fill.position_ticket} is of another instrument."]
        new_by_ticket[fill.position_ticket].append(fill)
    for ticket, fills in new_by_ticket.items():
        # A position's side is its first in fill's; its in fills are of that
        # side, its out fills (closing it) of the other.
        position = positions.get(ticket)
        side = position.side if position else next(
            (fill.side for fill in ledger.chronological(fills) if fill.entry == Fill.Entry.IN), None)
        for fill in fills:
            if side is not None and (fill.entry == Fill.Entry.IN) != (fill.side == side):
                errors[f"fills.{index_of[fill.fill_id]}.side"] = [
                    f"Position {ticket} is a {side}: its in fills are a {side}, its out fills the other side."]
    if errors:
        raise ValidationError(errors)

    stored = defaultdict(list)
    for chunk in chunks([position.pk for position in positions.values()]):
        for fill in Fill.objects.filter(position__in=chunk):
            stored[fill.position_id].append(fill)
    requested = _requested_close_reasons(positions.values())
    orders = {fill.order_id: fill.order for fill in new.values() if fill.order_id}
    orders.update((position.order_id, position.order) for position in positions.values() if position.order_id)

    changes, created, updated = _PositionChanges(), [], []
    for ticket, fills in new_by_ticket.items():
        position = positions.get(ticket)
        try:
            figures = ledger.fold([*stored[position.pk], *fills] if position else fills)
        except ledger.VolumeOverdrawn as overdrawn:
            # The state stored before this call was consistent: a new out fill at or before that point is why.
            culprit = next(fill for fill in reversed(overdrawn.fills[:overdrawn.at + 1])
                           if fill.entry == Fill.Entry.OUT and fill.fill_id in index_of)
            errors[f"fills.{index_of[culprit.fill_id]}.volume"] = [
                f"Closes more than position {ticket} had open at {culprit.time.isoformat()}."]
            continue
        if too_large := ledger.unstorable(figures):
            errors[f"fills.{index_of[fills[0].fill_id]}.volume"] = [
                f"Brings position {ticket}'s {too_large.replace('_', ' ')} to {STORABLE_LIMIT_TEXT} or more."]
            continue
        is_new = position is None
        was_open = not is_new and position.status == Position.Status.OPEN
        was_closed = not is_new and position.status == Position.Status.CLOSED
        before = _counted(position) if was_closed else None
        if is_new:
            position = Position(bridge=bridge, owner_id=bridge.owner_id, instrument=fills[0].instrument,
                                ticket=ticket, created_at=now)
            created.append(position)
            changes.opened.append(position)
        else:
            updated.append(position)
        _apply_figures(position, figures, order=orders.get(figures.order_id), requested=requested.get(position.pk),
                       now=now)
        if not is_new and figures.flat_fill_id in index_of:  # a new position has no close asked yet
            changes.went_flat.append(position)
        if position.status == Position.Status.CLOSED and (is_new or was_open):
            changes.closed.append(position)
        elif was_closed and _counted(position) != before:
            changes.revised.append((position, before["close_time"], before["order_id"]))
        for fill in fills:
            fill.position = position
    if errors:
        raise ValidationError(errors)
    insert_all(created)
    Position.objects.bulk_update(updated, [*POSITION_FIGURES, "status", "close_reason", "unrealized_pnl", "origin",
                                           "order", "signal", "stop_loss", "take_profit", "initial_risk",
                                           "updated_at"], batch_size=BATCH_SIZE)
    return changes


def _counted(position: Position) -> dict:
    """What a closed position was counted with (analytics): when it changes,
    the count is revised."""
    return {name: getattr(position, name) for name in (*POSITION_FIGURES, "status", "order_id", "initial_risk")}


def _requested_close_reasons(positions) -> dict:
    """Why the platform asked each position to be closed in its current life,
    if it did and the broker has not refused."""
    ids = [position.pk for position in positions if position.status == Position.Status.OPEN]
    reasons = {}
    for chunk in chunks(ids):
        reasons.update(Command.objects.filter(position__in=chunk, type=Command.Type.CLOSE, spent_at__isnull=True)
                       .exclude(status__in=closing.REFUSED_CLOSE_STATUSES)
                       .order_by("created_at").values_list("position_id", "reason"))
    return reasons


def _apply_figures(position: Position, figures: ledger.PositionFigures, *, order: Order | None,
                   requested: str | None, now: datetime) -> None:
    for name in POSITION_FIGURES:
        setattr(position, name, getattr(figures, name))
    if order is not None and position.order_id != order.pk:
        position.order, position.signal_id, position.origin = order, order.signal_id, Position.Origin.PLATFORM
        position.stop_loss, position.take_profit = order.stop_loss, order.take_profit
    elif position.order_id is None:
        position.origin = Position.Origin.EXTERNAL
    if order is not None and order.initial_risk is not None and order.volume:
        # The order's risk at the stop, for the part of it this position holds.
        position.initial_risk = (order.initial_risk * figures.opened_volume / order.volume).quantize(ledger.QUANTUM)
    if figures.closed:
        position.status, position.unrealized_pnl = Position.Status.CLOSED, None
        position.close_reason = ledger.close_reason(side=position.side, close_price=figures.close_price,
                                                    stop_loss=position.stop_loss, take_profit=position.take_profit,
                                                    requested=requested)
    else:
        position.status, position.close_reason = Position.Status.OPEN, None
    position.updated_at = now


def _settle_orders(new_fills, *, now: datetime) -> tuple[list[events.Change], dict[Position, Decimal]]:
    """Brings the (locked) orders of new in fills up to date (filled volume,
    partially filled or filled), set-wise: one UPDATE per status moved to
    and one for the rest. Returns the moves to announce, and the positions
    their orders' fills opened or grew after the order had lapsed, with the
    volume they added (to be closed)."""
    touched = {fill.order_id: fill.order for fill in new_fills if fill.order_id and fill.entry == Fill.Entry.IN}
    if not touched:
        return [], {}
    totals = {row["order"]: row for row in Fill.objects.filter(order__in=list(touched), entry=Fill.Entry.IN)
              .values("order").annotate(filled=Sum("volume"), first=Min("time"))}
    for order in touched.values():
        if order.filled_volume == 0:
            seconds = (totals[order.pk]["first"] - order.approval.created_at).total_seconds()
            transaction.on_commit(partial(metrics.order_fill_seconds.observe, max(seconds, 0.0)))
    # Past its expiry before the sweep got to it: expired first, as the sweep would have.
    changes = _expire([order for order in touched.values()
                       if order.status in Order.EXPIRING and order.expires_at <= now], now=now)
    moves, volumes = defaultdict(list), {}
    for order in touched.values():
        filled = totals[order.pk]["filled"]
        target = Order.Status.FILLED if order.volume is not None and filled >= order.volume \
            else Order.Status.PARTIALLY_FILLED
        if order.volume is not None and order.status != target and order.status in Order.TRANSITIONS[target]:
            moves[target].append((order, {"filled_volume": filled}))
        else:  # already there, or past filling (expired, cancelled, ...): the volume only
            volumes[order.pk] = order.filled_volume = filled
    for target, group in moves.items():
        changes += _transition(group, target, now=now)
    if volumes:
        Order.objects.filter(pk__in=list(volumes)).update(filled_volume=_per_order("filled_volume", volumes),
                                                          updated_at=now)
    late = defaultdict(Decimal)  # position: the volume its order's fills added after the order lapsed
    for fill in new_fills:
        if fill.order_id and fill.entry == Fill.Entry.IN \
                and touched[fill.order_id].status in (Order.Status.EXPIRED, Order.Status.CANCELLED):
            late[fill.position] += fill.volume
    return changes, late


def _position_meta(position: Position) -> dict:
    return {"ticket": position.ticket, "instrument": position.instrument_id, "side": position.side,
            "volume": position.opened_volume, "origin": position.origin,
            "order": str(position.order_id) if position.order_id else None,
            **({"close_reason": position.close_reason, "realized_pnl": position.realized_pnl}
               if position.status == Position.Status.CLOSED else {})}


def request_position_close(*, user, position_id, reason: str = Position.CloseReason.USER) -> Command:
    """Queues a `close` command for an open position the user may see (their
    own; staff any), or returns the one already asked for; 409
    `position-not-open` when it is closed."""
    pk = _parse_uuid(position_id)
    with transaction.atomic():
        position = (selectors.visible_positions(user=user).select_for_update(of=("self",)).filter(pk=pk).first()
                    if pk else None)
        if position is None:
            raise NotFound("No such position.")
        if position.status != Position.Status.OPEN:
            raise Conflict("The position is not open.", slug="position-not-open")
        return closing.request_close(position, reason=reason, now=timezone.now())


# --- Account snapshots, the kill switch ---------------------------------------------


def record_account_snapshot(*, bridge: Bridge, time: datetime, currency: str, balance: Decimal, equity: Decimal,
                            margin_free: Decimal, positions: list[dict]) -> dict:
    """Stores the account as the bridge saw it at `time`, once (a replay
    changes nothing); the newest snapshot sets each open position's
    unrealized P&L (the broker's profit for its ticket, empty when not
    reported) and is reconciled with the books (execution/reconciliation.py).
    Its equity goes to the user's equity chart. Returns the run's summary.
    A snapshot in another currency than the account's is refused: its
    figures would pass for the account's (a high-water mark in yen would
    halt a dollar account)."""
    if currency != bridge.currency:
        raise ValidationError({"currency": [f"The account is in {bridge.currency}; this snapshot says {currency}."]})
    with transaction.atomic():
        bridge = _locked_bridge(bridge)
        stored = AccountSnapshot.objects.filter(bridge=bridge, time=time).first()
        if stored is not None:
            return _snapshot_summary(stored)
        snapshot = AccountSnapshot.objects.create(bridge=bridge, time=time, currency=currency, balance=balance,
                                                  equity=equity, margin_free=margin_free, positions=positions)
        if bridge.last_snapshot_at is None or time > bridge.last_snapshot_at:
            Bridge.objects.filter(pk=bridge.pk).update(last_snapshot_at=time)
            _set_unrealized_pnl(bridge, positions)
            reconciliation.reconcile(bridge=bridge, snapshot=snapshot)  # only the newest is compared
            guards.apply_account_guards(bridge=bridge, snapshot=snapshot)
        upsert_equity_points(owner=bridge.owner, points=[{"time": time, "equity": equity, "balance": balance}])
        events.account_snapshot_recorded.send(sender=AccountSnapshot, target=snapshot, meta={
            "bridge": bridge.key_id, "time": time, "currency": currency, "balance": balance, "equity": equity,
            "margin_free": margin_free, "positions": len(positions),
        })
    return _snapshot_summary(snapshot)


def _snapshot_summary(snapshot: AccountSnapshot) -> dict:
    """The snapshot and its reconciliation run: `run` and `status` null for a
    snapshot older than the newest when it arrived (stored, not compared)."""
    run = selectors.reconciliation_of(snapshot=snapshot)
    return {"snapshot": snapshot.pk, "positions": len(snapshot.positions), "status": run.status if run else None,
            "run": str(run.pk) if run else None, "counts": run.counts if run else {}}


def _set_unrealized_pnl(bridge: Bridge, reported: list[dict]) -> None:
    profit_by_ticket = {str(position["ticket"]): position.get("profit") for position in reported}
    changed = []
    for position in Position.objects.filter(bridge=bridge, status=Position.Status.OPEN).only("pk", "ticket",
                                                                                             "unrealized_pnl"):
        profit = profit_by_ticket.get(position.ticket)
        profit = None if profit is None else Decimal(profit)
        if profit != position.unrealized_pnl:
            position.unrealized_pnl = profit
            changed.append(position)
    Position.objects.bulk_update(changed, ["unrealized_pnl"], batch_size=BATCH_SIZE)


def _owned_bridge(user) -> Bridge:
    bridge = selectors.bridge_for_user(user=user)
    if bridge is None:
        raise NotFound("You have no enabled bridge.")
    return bridge


def pause_trading(*, user) -> Bridge:
    """The user's kill switch: while paused, every new order is denied
    `paused`. Pausing a paused account changes nothing."""
    with transaction.atomic():
        bridge, now = _owned_bridge(user), timezone.now()
        if Bridge.objects.filter(pk=bridge.pk, paused_at__isnull=True).update(paused_at=now):
            bridge.paused_at = now
            events.trading_paused.send(sender=Bridge, target=bridge, meta={"bridge": bridge.key_id})
        else:
            bridge.refresh_from_db(fields=["paused_at"])
    return bridge


def resume_trading(*, user) -> Bridge:
    with transaction.atomic():
        bridge = _owned_bridge(user)
        if Bridge.objects.filter(pk=bridge.pk, paused_at__isnull=False).update(paused_at=None):
            bridge.paused_at = None
            events.trading_resumed.send(sender=Bridge, target=bridge, meta={"bridge": bridge.key_id})
        else:
            bridge.refresh_from_db(fields=["paused_at"])
    return bridge
