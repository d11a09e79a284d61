"""The event outbox: each domain event users are told about becomes, in the
action's own transaction, one event row per recipient (the resource as the
API shows it) and one delivery per matching enabled endpoint."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone

from delivery.models import Delivery, Event, EventType
from execution import services as execution_services
from execution.tests.conftest import fill
from signals import services as signal_services
from signals.models import Instrument, Producer, Signal
from tests.fixtures import bearer

pytestmark = pytest.mark.django_db


def ingest(producer, **fields):
    now = timezone.now()
    values = {"instrument": Instrument.objects.get_or_create(symbol="EURUSD", defaults={"digits": 5})[0],
              "side": "buy", "time": now - timedelta(seconds=1), "version": 1, "entry_price": Decimal("1.08450"),
              "stop_loss": Decimal("1.08000"), "take_profit": Decimal("1.09000"), "received_at": now} | fields
    return signal_services.ingest_signal(producer=producer, **values)


@pytest.fixture
def producer(alice):
    return signal_services.create_producer(name="alpha", owner=alice)[0]


def test_a_signal_becomes_its_owners_event_with_the_resource_the_api_shows(alice, producer, endpoint_for, receiver):
    endpoint, _ = endpoint_for(alice, receiver.url)
    signal, created = ingest(producer)
    event = Event.objects.get()
    assert (event.user, event.type) == (alice, EventType.SIGNAL_CREATED)
    shown = bearer(alice).get(f"/api/v1/signals/{signal.pk}/").json()
    assert {**event.payload, "chart_url": None} == {**shown, "chart_url": None}
    # The API's link is absolute, the event's a path (no request to take the host from).
    assert (shown["chart_url"], event.payload["chart_url"]) == (None, None) or \
        shown["chart_url"].endswith(event.payload["chart_url"])
    assert Delivery.objects.get().endpoint == endpoint


def test_the_event_commits_with_the_action_or_not_at_all(alice, producer):
    with pytest.raises(RuntimeError), transaction.atomic():
        ingest(producer)
        assert Event.objects.count() == 1
        raise RuntimeError("the action fails after its event")
    assert not Event.objects.exists()


def test_a_delivery_only_to_enabled_endpoints_that_take_the_type(alice, bob, producer, endpoint_for, receiver):
    signals_only, _ = endpoint_for(alice, receiver.url, [EventType.SIGNAL_CREATED])
    endpoint_for(alice, receiver.url, [EventType.ORDER_UPDATED])
    other = endpoint_for(alice, receiver.url, [EventType.SIGNAL_CREATED, EventType.SIGNAL_EXPIRED])[0]
    other.enabled = False
    other.save()
    endpoint_for(bob, receiver.url, [EventType.SIGNAL_CREATED])  # not the signal's owner
    ingest(producer)
    assert list(Delivery.objects.values_list("endpoint", flat=True)) == [signals_only.pk]


def test_expiry_approval_order_and_position_events(alice, make_signal, approve, specs, snapshot, bridge):
    expiring = make_signal(alice, expires_in=60)
    signal_services.expire_signals(now=timezone.now() + timedelta(seconds=120))
    approval = approve(make_signal(alice))
    order = approval.order
    execution_services.record_fills(bridge=bridge, fills=[fill("f1", client_order_id=order.client_order_id,
                                                                   volume=str(order.volume))])
    events = list(Event.objects.order_by("id").values_list("type", "payload"))
    kinds = [kind for kind, _ in events]
    assert kinds[0] == EventType.SIGNAL_EXPIRED and events[0][1]["id"] == str(expiring.pk)
    assert events[0][1]["status"] == "expired"
    assert EventType.APPROVAL_CREATED in kinds and EventType.POSITION_OPENED in kinds
    approval_payload = dict(events)[EventType.APPROVAL_CREATED]
    assert approval_payload["id"] == str(approval.pk) and approval_payload["decision"] == "approved"
    orders = [payload for kind, payload in events if kind == EventType.ORDER_UPDATED]
    assert [payload["status"] for payload in orders] == ["pending", "filled"]
    assert all(payload["id"] == str(order.pk) for payload in orders)
    position = dict(events)[EventType.POSITION_OPENED]
    assert position["status"] == "open" and position["order"] == str(order.pk) and position["volume"] == f"{order.volume:.2f}"


def test_the_event_ids_grow_in_the_order_of_the_actions(alice, producer):
    signals = [ingest(producer, version=version)[0] for version in (1, 2, 3)]
    in_id_order = [payload["id"] for payload in Event.objects.order_by("id").values_list("payload", flat=True)]
    assert in_id_order == [str(signal.pk) for signal in signals]


class Statements:
    """The statements run meanwhile that write or read the outbox's tables."""

    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += "delivery_" in sql
        return execute(sql, params, many, context)

    def __enter__(self):
        self.wrapper = connection.execute_wrapper(self)
        self.wrapper.__enter__()
        return self

    def __exit__(self, *exc):
        self.wrapper.__exit__(*exc)


def test_a_signal_published_to_many_subscribers_is_written_in_a_few_statements(
        alice, make_user, producer, endpoint_for, receiver):
    signal_services.update_producer(producer=producer, public=True)

    def subscribe(count, prefix):
        for n in range(count):
            user = make_user(f"{prefix}{n}")
            signal_services.subscribe(user=user, producer=producer)
            if n < 2:
                endpoint_for(user, receiver.url)

    subscribe(30, "few")
    with Statements() as few:
        ingest(producer, version=1)
    subscribe(300, "many")
    with Statements() as many:
        ingest(producer, version=2)
    assert Event.objects.count() == 31 + 331
    assert Delivery.objects.count() == 2 + 4
    assert many.count == few.count <= 6  # ten times the rows, the same statements
    copies = Signal.objects.exclude(origin=None).select_related("owner")
    by_user = {}
    for user_id, payload in Event.objects.values_list("user_id", "payload"):
        by_user.setdefault(user_id, []).append(payload)
    for copy in copies:
        assert str(copy.pk) in [payload["id"] for payload in by_user[copy.owner_id]]
        assert all(payload["owner"] == copy.owner.username for payload in by_user[copy.owner_id])


def test_a_signals_chart_link_is_signed_again_when_sent(alice):
    """A stored link expires within the hour; a delivery retried later, or a
    stream resumed, must carry one that works."""
    import json
    import uuid

    from delivery import services
    from delivery.tests.conftest import make_event

    signal_id = str(uuid.uuid4())
    stored = make_event(alice, payload={"id": signal_id, "chart_url": "/charts/old?expires=1&signature=stale"})
    sent = json.loads(services.envelope(stored))["data"]["chart_url"]
    assert signal_id in sent and "signature=" in sent and "stale" not in sent
    uncharted = make_event(alice, payload={"id": signal_id, "chart_url": None})
    assert json.loads(services.envelope(uncharted))["data"]["chart_url"] is None
