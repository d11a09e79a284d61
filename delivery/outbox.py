"""The event outbox: receivers of the domain events that users are told
about (delivery/models.py, EventType) write, inside the transaction of the
action, one Event row per recipient and one Delivery row per matching
enabled webhook endpoint of that recipient, and wake the sender when the
transaction commits. A batch event is written with a few multi-row inserts,
however many rows it carries."""

import json

from django import dispatch
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from approvals import events as approval_events
from approvals import selectors as approval_selectors
from core.fields import rfc3339
from core.lookups import chunks
from core.prices import format_price
from delivery import sql
from delivery.models import Delivery, Event, EventType, WebhookEndpoint
from execution import events as execution_events
from execution import selectors as execution_selectors
from signals import events as signal_events
from signals import resources as signal_resources
from signals.models import Signal

BATCH_SIZE = 1000
RECORDED_FIELDS = ["id", "user_id", "type", "payload", "created_at"]
AMOUNT_DECIMALS = 2  # the account's money and percentages, as GET /api/v1/risk/ shows them


def record(rows: list[tuple[object, str, dict]]) -> list[Event]:
    """Stores (user id, event type, payload) rows as events, and a delivery of
    each to every enabled endpoint of its user that takes its type. Called
    inside the action's transaction; the sender is woken when it commits."""
    if not rows:
        return []
    connection = transaction.get_connection()
    if connection.vendor == "postgresql":
        return _record_postgresql(rows, connection)
    events = Event.objects.bulk_create([Event(user_id=user_id, type=kind, payload=payload)
                                        for user_id, kind, payload in rows], batch_size=BATCH_SIZE)
    endpoints: dict[object, list[WebhookEndpoint]] = {}
    for user_ids in chunks(sorted({event.user_id for event in events})):
        for endpoint in WebhookEndpoint.objects.filter(owner_id__in=user_ids, enabled=True).only(
                "id", "owner_id", "events"):
            endpoints.setdefault(endpoint.owner_id, []).append(endpoint)
    deliveries = [Delivery(event=event, endpoint=endpoint, created_at=event.created_at,
                           next_attempt_at=event.created_at)
                  for event in events for endpoint in endpoints.get(event.user_id, ())
                  if event.type in endpoint.events]
    if deliveries:
        Delivery.objects.bulk_create(deliveries, batch_size=BATCH_SIZE)
        transaction.on_commit(wake_sender, robust=True)
    return events


def _record_postgresql(rows, connection) -> list[Event]:
    """`record` on PostgreSQL: each batch of rows and its deliveries in one
    statement (delivery/sql.py, RECORD_POSTGRESQL says why)."""
    now = timezone.now()
    events, delivered = [], 0
    for batch in chunks(rows, BATCH_SIZE):
        with connection.cursor() as cursor:
            cursor.execute(sql.RECORD_POSTGRESQL, {
                "rows": json.dumps([(str(user_id), kind, payload) for user_id, kind, payload in batch],
                                   cls=DjangoJSONEncoder), "now": now})
            ids = cursor.fetchall()
        delivered += ids[0][1]
        events += [Event.from_db(connection.alias, RECORDED_FIELDS, (pk, user_id, kind, payload, now))
                   for (pk, _), (user_id, kind, payload) in zip(ids, batch, strict=True)]
    if delivered:
        transaction.on_commit(wake_sender, robust=True)
    return events


# Sent when deliveries are due now; the sender's task listens (connected in
# delivery/apps.py). A signal, so that this module, below the tasks that
# use it, never imports them.
deliveries_due = dispatch.Signal()


def wake_sender() -> None:
    """Asks the task consumer to send what is due now. If the queue is out
    of reach the rows wait for the consumer's sweep (every minute): the
    delivery rows, not this call, are the truth."""
    deliveries_due.send(sender=Delivery)


# --- the receivers -----------------------------------------------------------------

def signal_created(sender, *, target, **kwargs):
    record([(target.owner_id, EventType.SIGNAL_CREATED, signal_resources.ingested_resource(target))])


def signals_published(sender, *, signals, publication, **kwargs):
    """The copies of a publication in its subscribers' feeds: the owner's
    signal rendered once is every copy's payload but for the id and owner,
    which the database fills in as it writes the rows (delivery/sql.py)."""
    if not signals:
        return
    template = signal_resources.ingested_resource(publication)
    connection = transaction.get_connection()
    params = {"type": EventType.SIGNAL_CREATED, "template": json.dumps(template, cls=DjangoJSONEncoder),
              "publication": Signal._meta.pk.get_db_prep_value(publication.pk, connection),
              "now": Event._meta.get_field("created_at").get_db_prep_value(timezone.now(), connection)}
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(sql.PUBLISHED_POSTGRESQL, params)
            delivered = cursor.fetchone()[0]
        else:
            cursor.execute(sql.LATEST_EVENT_SQLITE)
            after = cursor.fetchone()[0]
            cursor.execute(sql.PUBLISHED_EVENTS_SQLITE, params)
            cursor.execute(sql.PUBLISHED_DELIVERIES_SQLITE, {**params, "after": after})
            delivered = cursor.rowcount
    if delivered:
        transaction.on_commit(wake_sender, robust=True)


def signal_expired(sender, *, target, **kwargs):
    Signal.approval.related.set_cached_value(target, None)  # expiry only ever takes an undecided signal
    record([(target.owner_id, EventType.SIGNAL_EXPIRED, signal_resources.signal_resources([target])[0])])


def approval_created(sender, *, target, **kwargs):
    record([(target.user_id, EventType.APPROVAL_CREATED, approval_selectors.approval_resource(target))])


# Execution's events, each as the row it makes: (user id, type, payload).
# A position's rows are made apart (`_rows`): its resource is rendered once
# however many of its events a batch holds.

def _order_row(order, meta):
    return order.owner_id, EventType.ORDER_UPDATED, execution_selectors.order_resource(order)


def _mode_row(bridge, meta):
    """The account entered another mode: the event's own document (the mode
    before and after, why, until when, the account's figures)."""
    figures = {name: format_price(meta.get(name), AMOUNT_DECIMALS)
               for name in ("equity", "high_water_mark", "drawdown_percent", "day_open_equity", "daily_loss_percent")}
    until = meta.get("until")
    return bridge.owner_id, EventType.RISK_MODE_CHANGED, {
        "bridge": meta["bridge"], "mode": meta["to"], "previous_mode": meta["from"], "reason": meta["reason"],
        "until": None if until is None else rfc3339(until), **figures}


EXECUTION_ROWS = {
    execution_events.order_created: _order_row,
    execution_events.order_transitioned: _order_row,
    execution_events.account_mode_changed: _mode_row,
}
POSITION_TYPES = {execution_events.position_opened: EventType.POSITION_OPENED,
                  execution_events.position_closed: EventType.POSITION_CLOSED}


def _rows(changes) -> list[tuple[object, str, dict]]:
    """The rows of the changes users are told about. The positions'
    resources are rendered in one pass, once each: a position the batch
    opened and closed is one object, in its final state, in both events (a
    fills call's 500 positions cost 1,000 renderings, the most of the
    outbox's Python time, before)."""
    positions = {id(change.target): change.target for change in changes if change.event in POSITION_TYPES}
    resources = dict(zip(positions, execution_selectors.position_resources(positions.values()), strict=True))
    return [(change.target.owner_id, POSITION_TYPES[change.event], resources[id(change.target)])
            if change.event in POSITION_TYPES else EXECUTION_ROWS[change.event](change.target, change.meta or {})
            for change in changes if change.event in EXECUTION_ROWS or change.event in POSITION_TYPES]


def _execution_receiver(event):
    def receive(sender, *, target, meta=None, **kwargs):
        record(_rows([execution_events.Change(event, sender, target, meta)]))
    return receive


def changes_recorded(sender, *, changes, **kwargs):
    """Execution's batch of single events, in one go."""
    record(_rows(changes))


def connect():
    signal_events.signal_created.connect(signal_created, dispatch_uid="delivery:signal_created")
    signal_events.signals_published.connect(signals_published, dispatch_uid="delivery:signals_published")
    signal_events.signal_expired.connect(signal_expired, dispatch_uid="delivery:signal_expired")
    approval_events.approval_created.connect(approval_created, dispatch_uid="delivery:approval_created")
    execution_events.changes_recorded.connect(changes_recorded, dispatch_uid="delivery:changes_recorded")
    for event in (*EXECUTION_ROWS, *POSITION_TYPES):
        event.connect(_execution_receiver(event), weak=False, dispatch_uid="delivery:execution_event")
