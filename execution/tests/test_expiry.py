"""Unfilled orders expire with their signal; the task engine sweeps them
(and pending signals) every minute."""

from datetime import datetime, timedelta
from decimal import Decimal as D

import pytest
from huey.contrib.djhuey import HUEY

from audit.models import AuditEntry
from execution import selectors, services, tasks
from execution.models import Command, Order, Position
from execution.tests.conftest import fill
from signals import tasks as signal_tasks
from signals.models import Signal

pytestmark = pytest.mark.django_db


@pytest.fixture
def order(alice, specs, snapshot, place):
    return place(alice)


@pytest.mark.parametrize("status", ["sent", "accepted"])
def test_an_unfilled_order_past_its_expiry_is_expired_with_a_cancel_command(bridge, order, status):
    # The bridge received the open command (an open never sent is withdrawn instead: test_poll_after_expiry.py).
    Order.objects.filter(pk=order.pk).update(status=status)
    Command.objects.filter(order=order).update(status=status)

    assert services.expire_orders(now=order.expires_at - timedelta(seconds=1)) == 0
    assert services.expire_orders(now=order.expires_at) == 1
    order.refresh_from_db()
    assert order.status == "expired"
    cancel = Command.objects.get(type="cancel")
    assert (cancel.order, cancel.client_order_id, cancel.status) == (order, order.client_order_id, "queued")
    entry = AuditEntry.objects.get(action="order.transition")
    assert (entry.target_id, entry.meta["status"]) == (str(order.pk), "expired")
    # Swept once: the next run finds nothing.
    assert services.expire_orders(now=order.expires_at) == 0
    assert Command.objects.filter(type="cancel").count() == 1


def test_a_partly_filled_order_past_its_expiry_is_expired_with_a_cancel_for_the_rest(bridge, order):
    services.poll_commands(bridge=bridge)
    services.record_fills(bridge=bridge, fills=[fill("q1", client_order_id=order.client_order_id, volume="0.15")])

    assert services.expire_orders(now=order.expires_at) == 1

    order.refresh_from_db()
    assert (order.status, order.filled_volume) == ("expired", D("0.15"))
    assert Command.objects.filter(order=order, type="cancel", status="queued").count() == 1
    assert Position.objects.get().status == "open"  # what was filled in time stays


def test_the_rest_of_a_partly_filled_order_filled_after_its_expiry_is_closed(bridge, order):
    services.poll_commands(bridge=bridge)
    services.record_fills(bridge=bridge, fills=[fill("r1", client_order_id=order.client_order_id, volume="0.15")])
    services.expire_orders(now=order.expires_at)

    services.record_fills(bridge=bridge, fills=[fill("r2", client_order_id=order.client_order_id, volume="0.13")])

    order.refresh_from_db()
    assert (order.status, order.filled_volume) == ("expired", D("0.28"))
    [close] = Command.objects.filter(type="close")
    assert (close.reason, close.volume) == ("approval_expired", D("0.13"))  # the late part, not the part in time


def test_an_expired_orders_parts_filled_late_are_all_closed(bridge, order):
    # Each part of a partial fill in a call of its own, as bridges send them, after the order lapsed.
    services.expire_orders(now=order.expires_at)
    services.record_fills(bridge=bridge, fills=[fill("p1", client_order_id=order.client_order_id, volume="0.15")])
    services.record_fills(bridge=bridge, fills=[fill("p2", client_order_id=order.client_order_id, volume="0.13")])

    position = Position.objects.get()
    assert position.volume == D("0.28")
    [close] = Command.objects.filter(type="close", position=position)  # not delivered yet: raised, not doubled
    assert (close.reason, close.volume, close.status) == ("approval_expired", D("0.28"), "queued")


def test_a_close_delivered_before_a_later_part_is_followed_by_a_close_of_that_part(alice, bridge, order):
    services.record_fills(bridge=bridge, fills=[fill("u1", client_order_id=order.client_order_id, volume="0.15")])
    position = Position.objects.get()
    first = services.request_position_close(user=alice, position_id=position.pk)
    services.poll_commands(bridge=bridge)  # the close is on its way to the broker: its volume stands
    services.record_fills(bridge=bridge, fills=[fill("u2", client_order_id=order.client_order_id, volume="0.13")])

    again = services.request_position_close(user=alice, position_id=position.pk)

    assert (first.volume, again.volume, again.pk != first.pk) == (D("0.15"), D("0.13"), True)
    # Asked once more, the closes on their way cover the position: nothing new.
    assert services.request_position_close(user=alice, position_id=position.pk).pk == first.pk
    assert Command.objects.filter(type="close").count() == 2


@pytest.mark.parametrize("status", ["filled", "rejected", "denied", "cancelled"])
def test_other_orders_do_not_expire(order, status):
    Order.objects.filter(pk=order.pk).update(status=status)
    assert services.expire_orders(now=order.expires_at + timedelta(hours=1)) == 0
    assert not Command.objects.filter(type="cancel").exists()


def test_reads_show_an_order_expired_before_the_sweep(alice, order):
    later = order.expires_at
    expired = selectors.with_effective_status(selectors.visible_orders(user=alice), "expired", now=later)
    pending = selectors.with_effective_status(selectors.visible_orders(user=alice), "pending", now=later)
    assert list(expired) == [order] and list(pending) == []
    assert list(selectors.with_effective_status(selectors.visible_orders(user=alice), "pending")) == [order]


def due_every_minute(task) -> bool:
    """The consumer's scheduler enqueues the periodic tasks due at each minute."""
    return all(task.task_class in {type(due) for due in HUEY.read_periodic(datetime(2026, 12, 1, 7, minute))}
               for minute in (0, 1, 37, 59))


def test_the_sweep_is_a_task_run_every_minute(order, monkeypatch):
    assert due_every_minute(tasks.expire_orders)
    monkeypatch.setattr("django.utils.timezone.now", lambda: order.expires_at)
    assert tasks.expire_orders.call_local() == 1
    assert Order.objects.get(pk=order.pk).status == "expired"
    assert AuditEntry.objects.get(action="order.transition").actor == "task expire_orders"


def test_pending_signals_are_expired_by_a_task_too(alice, make_signal, monkeypatch):
    assert due_every_minute(signal_tasks.expire_signals)
    signal = make_signal(alice)
    monkeypatch.setattr("django.utils.timezone.now", lambda: signal.expires_at)
    assert signal_tasks.expire_signals.call_local() == 1
    assert Signal.objects.get(pk=signal.pk).status == "expired"
    assert AuditEntry.objects.get(action="signal.expire").actor == "task expire_signals"
