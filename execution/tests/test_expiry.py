"""Unfilled orders expire with their signal; the task engine sweeps them
(and pending signals) every minute."""

from datetime import datetime, timedelta

import pytest
from huey.contrib.djhuey import HUEY

from audit.models import AuditEntry
from execution import selectors, services, tasks
from execution.models import Command, Order
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


@pytest.mark.parametrize("status", ["partially_filled", "filled", "rejected", "denied", "cancelled"])
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
