"""A bridge never receives an `open` of an expired order: poll expires the
bridge's due orders itself (the sweep may not have run yet), an `open` the
bridge never received is withdrawn (no `cancel` for an order the broker never
saw), and one it already received is not repeated: the `cancel` follows it."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEntry
from core.problems import Conflict
from execution import services
from execution.models import Command, Order
from execution.tests.bridge_api import bridge, bridge_and_secret, signed  # noqa: F401 (fixtures)
from tests.concurrency import run_together
from tests.fixtures import bearer

pytestmark = pytest.mark.django_db


@pytest.fixture
def order(alice, specs, snapshot, place):
    """alice's pending EURUSD buy, its open command queued."""
    return place(alice)


def lapse(order):
    """The order's expiry passes before the sweep runs (stored: still unfilled)."""
    past = timezone.now() - timedelta(seconds=1)
    Order.objects.filter(pk=order.pk).update(expires_at=past)
    Command.objects.filter(order=order).update(expires_at=past)


def test_poll_expires_a_due_order_and_withdraws_its_open_command_unsent(bridge, order):
    lapse(order)

    assert services.poll_commands(bridge=bridge) == []
    order.refresh_from_db()
    assert order.status == "expired"
    command = Command.objects.get(order=order)
    assert (command.type, command.status, command.sent_at) == ("open", "withdrawn", None)
    assert not Command.objects.filter(type="cancel").exists()  # the broker never saw the order
    entry = AuditEntry.objects.get(action="order.transition")
    assert (entry.target_id, entry.meta["status"]) == (str(order.pk), "expired")
    # The sweep finds nothing left to do.
    assert services.expire_orders() == 0


def test_the_sweep_withdraws_an_open_command_never_sent_too(bridge, order):
    assert services.expire_orders(now=order.expires_at) == 1
    assert Command.objects.get(order=order).status == "withdrawn"
    assert not Command.objects.filter(type="cancel").exists()
    assert services.poll_commands(bridge=bridge) == []


def test_an_open_already_delivered_is_not_repeated_after_expiry_and_the_cancel_follows(bridge, order):
    [delivered] = services.poll_commands(bridge=bridge)
    lapse(order)

    [cancel] = services.poll_commands(bridge=bridge)
    assert (cancel.type, cancel.client_order_id) == ("cancel", order.client_order_id)
    # The bridge may still acknowledge the open it received (it may have filled it).
    assert Command.objects.get(pk=delivered.pk).status == "sent"
    assert services.acknowledge_command(bridge=bridge, command_id=delivered.pk, status="rejected",
                                        error="expired").status == "rejected"


def test_poll_over_http_delivers_no_open_of_an_order_past_its_expiry(signed, alice, order):
    lapse(order)

    response = signed.post("poll", {})
    assert response.status_code == 200, response.content
    assert response.json() == {"commands": []}
    shown = bearer(alice).get(f"/api/v1/orders/{order.pk}/").json()
    assert shown["status"] == "expired"
    assert Command.objects.get(order=order).status == "withdrawn"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_poll_racing_the_sweep_never_delivers_the_open_of_an_order_it_expired(alice, bridge, specs, snapshot,
                                                                                 place):
    # The sweep starts up to 20 ms after the poll, so that either may reach the order first.
    for delay in [0.002 * step for step in range(10)] * 2:
        order = place(alice)

        def sweep_after_delay():
            time.sleep(delay)
            return services.expire_orders(now=order.expires_at)

        polled, _ = run_together([lambda: services.poll_commands(bridge=bridge), sweep_after_delay])
        order.refresh_from_db()
        open_command = Command.objects.get(order=order, type="open")
        delivered = [command.pk for command in polled if command.pk == open_command.pk]
        cancels = Command.objects.filter(order=order, type="cancel").count()
        assert order.status == "expired"
        if delivered:  # the poll won: the bridge got the open, the cancel follows it
            assert (open_command.status, cancels) == ("sent", 1)
        else:  # the sweep won: the bridge never saw the order
            assert (open_command.status, cancels) == ("withdrawn", 0)


def test_an_ack_of_a_withdrawn_command_is_a_conflict_and_changes_nothing(bridge, order):
    lapse(order)
    services.poll_commands(bridge=bridge)
    command = Command.objects.get(order=order)

    with pytest.raises(Conflict) as raised:
        services.acknowledge_command(bridge=bridge, command_id=command.pk, status="accepted", broker_ticket="7")
    assert raised.value.slug == "ack-conflict"
    command.refresh_from_db()
    assert (command.status, command.broker_ticket) == ("withdrawn", None)
