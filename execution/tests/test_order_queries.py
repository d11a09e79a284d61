"""An approval that becomes an order costs a fixed number of queries,
however much its account holds: the bridge locked, the policy, the
account's facts and its newest closes read once each, the order and its
command written, audited (bench/approval_order.py measures the time)."""

from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.utils import timezone

from execution.models import AccountSnapshot, Command, Order, Position
from execution.tests.conftest import instrument
from tests.fixtures import bearer

pytestmark = pytest.mark.django_db

# An approval alone takes 15 on SQLite; its order adds 10: the policy, the
# account's facts, its newest closes, the order, its command, its audit
# entry (three statements on SQLite, one on PostgreSQL) and its event for
# the owner (delivery's outbox: two on SQLite, one on PostgreSQL; the
# order's instrument comes with the signal the approval locked).
APPROVAL_WITH_ORDER = 25


def approve(client, signal) -> str:
    response = client.post("/api/v1/approvals/", {"signal": str(signal.pk), "decision": "approved",
                                                  "consent_version": "1"}, format="json")
    assert response.status_code == 201, response.content
    return response.json()["id"]


def history(bridge, *, open_positions, closes, snapshots):
    now, eurusd = timezone.now(), instrument("EURUSD")
    AccountSnapshot.objects.bulk_create([
        AccountSnapshot(bridge=bridge, time=now - timedelta(seconds=n + 1), currency="USD", balance=D("10000"),
                        equity=D("10000"), margin_free=D("10000")) for n in range(snapshots)])
    Position.objects.bulk_create([
        Position(bridge=bridge, owner=bridge.owner, instrument=eurusd, side="buy", ticket=f"h{n}",
                 volume=D("0.10") if n < open_positions else D(0), opened_volume=D("0.10"),
                 open_price=D("1.08450"), open_time=now - timedelta(hours=1), origin="external",
                 **({} if n < open_positions else {"status": "closed", "close_time": now - timedelta(minutes=n),
                                                    "realized_pnl": D("5.00")}))
        for n in range(open_positions + closes)])


def test_an_approval_and_its_order_cost_the_same_queries_however_full_the_account(
        alice, bridge, specs, snapshot, consent_v1, make_signal, django_assert_max_num_queries):
    client = bearer(alice)
    approve(client, make_signal(alice))  # the first request of a worker reads what it then keeps
    signal = make_signal(alice)
    with django_assert_max_num_queries(APPROVAL_WITH_ORDER):
        approval = approve(client, signal)
    order = Order.objects.get(approval_id=approval)
    assert (order.status, Command.objects.filter(order=order, type="open").count()) == ("pending", 1)

    history(bridge, open_positions=2, closes=200, snapshots=500)
    signal = make_signal(alice)
    with django_assert_max_num_queries(APPROVAL_WITH_ORDER):
        approval = approve(client, signal)
    assert Order.objects.get(approval_id=approval).status == "pending"
