"""Who sees which orders and positions, in how many queries; what /metrics says."""

from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from prometheus_client import REGISTRY
from rest_framework.exceptions import NotFound

from execution import selectors, services
from execution.models import AccountSnapshot, Command, Position, Symbol
from execution.tests.conftest import SPECS, fill, instrument

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_accounts(alice, bob, make_bridge, place):
    """An order and a position for each of alice and bob."""
    for user in (alice, bob):
        bridge = make_bridge(user)
        Symbol.objects.create(bridge=bridge, instrument=instrument("EURUSD"), **SPECS["EURUSD"])
        AccountSnapshot.objects.create(bridge=bridge, time=timezone.now(), currency="USD", balance=D("10000"),
                                       equity=D("10000"), margin_free=D("10000"))
        order = place(user)
        services.record_fills(bridge=bridge, fills=[fill(f"{user}-1", client_order_id=order.client_order_id)])


def test_users_see_their_own_rows_and_staff_everyones(alice, bob, operator, two_accounts):
    assert {o.owner for o in selectors.visible_orders(user=alice)} == {alice}
    assert {p.owner for p in selectors.visible_positions(user=bob)} == {bob}
    assert selectors.visible_orders(user=operator).count() == 2
    assert selectors.visible_positions(user=operator, status="open").count() == 2
    assert selectors.visible_positions(user=operator, status="closed").count() == 0
    assert selectors.bridge_for_user(user=alice).owner == alice


def test_a_user_cannot_close_anothers_position(alice, bob, two_accounts):
    with pytest.raises(NotFound):
        services.request_position_close(user=alice, position_id=Position.objects.get(owner=bob).pk)
    assert not Command.objects.filter(type="close").exists()


@pytest.mark.parametrize("reader", ["orders", "positions"])
def test_a_list_reads_in_one_query_whatever_its_length(operator, two_accounts, alice, place, reader):
    def read():
        rows = (selectors.visible_orders(user=operator) if reader == "orders"
                else selectors.visible_positions(user=operator))
        with CaptureQueriesContext(connection) as queries:
            symbols = [row.instrument.symbol for row in rows]
        return len(queries), len(symbols)

    few = read()
    for _ in range(3):
        order = place(alice)
        services.record_fills(bridge=order.bridge, fills=[fill(f"more-{order.pk}", position_ticket=str(order.pk),
                                                               client_order_id=order.client_order_id)])
    many = read()
    assert many[1] > few[1] and many[0] == few[0] == 1


def sample(name, labels=None):
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


def test_orders_and_fills_are_counted_on_commit(alice, bridge, specs, snapshot, place,
                                                django_capture_on_commit_callbacks):
    pending, filled, fills = sample("orders_total", {"status": "pending"}), sample(
        "orders_total", {"status": "filled"}), sample("fills_total")
    latencies = sample("order_fill_seconds_count")
    with django_capture_on_commit_callbacks(execute=True):
        order = place(alice)
    with django_capture_on_commit_callbacks(execute=True):
        services.record_fills(bridge=bridge, fills=[fill("m1", client_order_id=order.client_order_id, volume="0.28"),
                                                    fill("m2", position_ticket="other")])
    assert sample("orders_total", {"status": "pending"}) == pending + 1
    assert sample("orders_total", {"status": "filled"}) == filled + 1
    assert sample("fills_total") == fills + 2
    assert sample("order_fill_seconds_count") == latencies + 1


def test_metrics_show_open_positions_and_how_long_ago_each_bridge_was_seen(client, alice, bridge):
    services.record_fills(bridge=bridge, fills=[fill("g1", position_ticket="1"), fill("g2", position_ticket="2")])
    bridge.last_poll_at = timezone.now() - timedelta(seconds=42)
    bridge.save(update_fields=["last_poll_at"])

    body = client.get("/metrics").content.decode()
    lines = {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in body.splitlines()
             if line and not line.startswith("#")}
    assert lines["positions_open"] == 2
    assert 42 <= lines[f'bridge_last_seen_seconds{{bridge="{bridge.name}"}}'] < 60
