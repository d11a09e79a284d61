"""The bridge polls its commands and acknowledges them; the order follows."""

import threading
import uuid
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone
from rest_framework.exceptions import NotFound

from audit.models import AuditEntry
from core.problems import Conflict
from execution import services
from execution.models import Bridge, Command, Order
from tests.concurrency import run_together

pytestmark = pytest.mark.django_db


@pytest.fixture
def order(alice, specs, snapshot, place):
    return place(alice)


def test_poll_delivers_unacknowledged_commands_oldest_first_and_marks_them_sent(alice, bridge, order, place):
    second = place(alice)
    commands = services.poll_commands(bridge=bridge)

    assert [command.order_id for command in commands] == [order.pk, second.pk]
    assert {command.status for command in Command.objects.all()} == {"sent"}
    assert Order.objects.get(pk=order.pk).status == "sent"
    bridge.refresh_from_db()
    assert bridge.last_poll_at is not None
    # Not acknowledged yet: delivered again, and the orders move no further.
    assert [command.pk for command in services.poll_commands(bridge=bridge)] == [c.pk for c in commands]
    assert AuditEntry.objects.filter(action="order.transition", meta__status="sent").count() == 2


def test_poll_delivers_only_the_bridges_own_commands(bob, make_bridge, order):
    assert services.poll_commands(bridge=make_bridge(bob)) == []


def test_an_accepted_ack_moves_the_order_and_keeps_the_broker_ticket(bridge, order):
    command = Command.objects.get(order=order)
    services.poll_commands(bridge=bridge)
    acked = services.acknowledge_command(bridge=bridge, command_id=str(command.pk), status="accepted",
                                         broker_ticket="77001")

    assert (acked.status, acked.broker_ticket) == ("accepted", "77001")
    order.refresh_from_db()
    assert (order.status, order.broker_ticket) == ("accepted", "77001")
    assert services.poll_commands(bridge=bridge) == []
    assert AuditEntry.objects.get(action="command.ack").meta["status"] == "accepted"


def test_the_same_ack_again_changes_nothing(bridge, order):
    command = Command.objects.get(order=order)
    services.acknowledge_command(bridge=bridge, command_id=command.pk, status="accepted", broker_ticket="77001")
    entries = AuditEntry.objects.count()

    again = services.acknowledge_command(bridge=bridge, command_id=command.pk, status="accepted",
                                         broker_ticket="77001")
    assert again.status == "accepted"
    assert AuditEntry.objects.count() == entries


@pytest.mark.parametrize(("status", "ticket"), [("rejected", "77001"), ("accepted", "77002")])
def test_a_contradicting_ack_is_a_conflict(bridge, order, status, ticket):
    command = Command.objects.get(order=order)
    services.acknowledge_command(bridge=bridge, command_id=command.pk, status="accepted", broker_ticket="77001")
    with pytest.raises(Conflict) as raised:
        services.acknowledge_command(bridge=bridge, command_id=command.pk, status=status, broker_ticket=ticket)
    assert raised.value.slug == "ack-conflict"
    command.refresh_from_db()
    assert (command.status, command.broker_ticket) == ("accepted", "77001")


def test_an_accepted_command_may_still_be_executed(bridge, order):
    command = Command.objects.get(order=order)
    services.acknowledge_command(bridge=bridge, command_id=command.pk, status="accepted", broker_ticket="77001")
    done = services.acknowledge_command(bridge=bridge, command_id=command.pk, status="executed")
    assert (done.status, done.broker_ticket) == ("executed", "77001")


@pytest.mark.parametrize("status", ["rejected", "failed"])
def test_a_refused_open_rejects_the_order(bridge, order, status):
    command = Command.objects.get(order=order)
    services.acknowledge_command(bridge=bridge, command_id=command.pk, status=status, error="No money")
    order.refresh_from_db()
    assert (order.status, order.reasons) == ("rejected", [f"broker-{status}"])
    assert Command.objects.get(pk=command.pk).error == "No money"


def test_another_bridges_command_is_not_found(bob, make_bridge, order):
    command, other = Command.objects.get(order=order), make_bridge(bob)
    for command_id in (command.pk, uuid.uuid4(), "not-a-uuid"):
        with pytest.raises(NotFound):
            services.acknowledge_command(bridge=other, command_id=command_id, status="accepted")
    assert Command.objects.get(pk=command.pk).status == "queued"


def test_an_executed_cancel_cancels_an_unfilled_order(bridge, order):
    cancel = Command.objects.create(bridge=bridge, order=order, type="cancel", instrument_id=order.instrument_id,
                                    side=order.side, client_order_id=order.client_order_id)
    services.acknowledge_command(bridge=bridge, command_id=cancel.pk, status="executed")
    assert Order.objects.get(pk=order.pk).status == "cancelled"


def test_the_last_poll_is_recorded_to_ten_seconds(bridge, monkeypatch):
    # Bridges poll every few seconds: an idle poll writes its time only when the stored one is 10 s old or more.
    start = timezone.now()
    for seconds, recorded in [(0, 0), (9, 0), (10, 10), (15, 10), (21, 21)]:
        monkeypatch.setattr(timezone, "now", lambda seconds=seconds: start + timedelta(seconds=seconds))
        assert services.poll_commands(bridge=bridge) == []
        bridge.refresh_from_db()
        assert bridge.last_poll_at == start + timedelta(seconds=recorded)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_idle_poll_does_not_wait_for_a_call_holding_the_bridge(bridge):
    # A fills call or snapshot holds the bridge's row until it commits: an idle poll only reads.
    Bridge.objects.filter(pk=bridge.pk).update(last_poll_at=timezone.now())
    locked, polled = threading.Event(), threading.Event()

    def hold_the_bridge():
        with transaction.atomic():
            Bridge.objects.select_for_update(no_key=True).get(pk=bridge.pk)
            locked.set()
            return polled.wait(timeout=30)

    def poll():
        locked.wait(timeout=30)
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '5s'")
        try:
            return services.poll_commands(bridge=bridge)
        finally:
            polled.set()

    assert run_together([hold_the_bridge, poll]) == [True, []]
