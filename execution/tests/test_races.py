"""Races that only real concurrent connections show (PostgreSQL)."""

import pytest

from audit.models import AuditEntry
from execution import services
from execution.models import Command, Fill, Order
from execution.tests.test_fills import EXPECTED, HISTORY, figures
from tests.concurrency import run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
ROUNDS = 5


def test_a_rejection_and_the_expiry_racing_on_one_order_one_wins(alice, bridge, specs, snapshot, place):
    for _ in range(ROUNDS):
        order = place(alice)
        command = Command.objects.get(order=order)
        services.poll_commands(bridge=bridge)  # the bridge received the open
        run_together([
            lambda: services.expire_orders(now=order.expires_at),
            lambda: services.acknowledge_command(bridge=bridge, command_id=command.pk, status="rejected"),
        ])
        order.refresh_from_db()
        moves = AuditEntry.objects.filter(action="order.transition", target_id=str(order.pk)).order_by("seq")
        assert [entry.meta["status"] for entry in moves] == ["sent", order.status]
        assert order.status in ("expired", "rejected")
        assert Command.objects.filter(order=order, type="cancel").count() == (order.status == "expired")


def test_two_sweeps_at_once_expire_an_order_once(alice, bridge, specs, snapshot, place):
    orders = [place(alice) for _ in range(ROUNDS)]
    services.poll_commands(bridge=bridge)  # the bridge received the opens: each expiry queues a cancel
    now = max(order.expires_at for order in orders)
    counts = run_together([lambda: services.expire_orders(now=now), lambda: services.expire_orders(now=now)])

    assert sum(counts) == ROUNDS
    assert set(Order.objects.values_list("status", flat=True)) == {"expired"}
    assert Command.objects.filter(type="cancel").count() == ROUNDS
    assert AuditEntry.objects.filter(action="order.transition", meta__status="expired").count() == ROUNDS


def test_concurrent_calls_with_overlapping_fills_leave_the_positions_exact(bridge):
    # Each call consistent on its own (no out without its in); d1, d2 and d5 in both.
    first, second = HISTORY[:5], [*HISTORY[:2], *HISTORY[4:]]
    answers = run_together([lambda: services.record_fills(bridge=bridge, fills=first),
                            lambda: services.record_fills(bridge=bridge, fills=second)])

    assert sum(inserted for inserted, _ in answers) == len(HISTORY)
    assert sum(duplicates for _, duplicates in answers) == len(first) + len(second) - len(HISTORY)
    assert Fill.objects.count() == len(HISTORY)
    assert figures(bridge) == EXPECTED
