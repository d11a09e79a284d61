"""Account snapshots, the equity chart they feed, symbol specs and the
user's kill switch."""

from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.utils import timezone
from rest_framework.exceptions import NotFound, ValidationError

from audit.models import AuditEntry
from charting.models import EquityPoint
from execution import services
from execution.models import AccountSnapshot, Order, Position, Symbol
from execution.tests.conftest import fill

pytestmark = pytest.mark.django_db

NOW = timezone.now().replace(microsecond=0)


def snapshot(bridge, *, time=NOW, equity="10250.50", positions=()):
    return services.record_account_snapshot(bridge=bridge, time=time, currency="USD", balance=D("10000"),
                                            equity=D(equity), margin_free=D("9000"), positions=list(positions))


def reported(ticket, profit):
    return {"ticket": ticket, "client_order_id": None, "instrument": "EURUSD", "side": "buy", "volume": D("0.1"),
            "open_price": D("1.08450"), "open_time": NOW, "stop_loss": None, "take_profit": None, "profit": profit}


def test_a_snapshot_is_stored_once_and_feeds_the_equity_chart(alice, bridge):
    summary = snapshot(bridge, positions=[reported("9001", D("12.5"))])
    stored = AccountSnapshot.objects.get()
    # The books had no position 9001: the broker's is adopted (execution/tests/test_reconciliation.py).
    assert summary == {"snapshot": stored.pk, "positions": 1, "status": "drift",
                       "run": str(stored.reconciliation_runs.get().pk), "counts": {"unknown_at_broker": 1}}
    assert stored.positions[0]["profit"] == "12.5"
    bridge.refresh_from_db()
    assert bridge.last_snapshot_at == NOW
    point = EquityPoint.objects.get(owner=alice)
    assert (point.time, point.equity, point.balance) == (NOW, D("10250.50"), D("10000"))
    entries = AuditEntry.objects.count()

    # The same snapshot again, even with other figures: nothing changes.
    assert snapshot(bridge, equity="1") == summary
    assert AccountSnapshot.objects.count() == 1 and AuditEntry.objects.count() == entries
    assert EquityPoint.objects.get(owner=alice).equity == D("10250.50")


def test_the_newest_snapshot_sets_the_open_positions_unrealized_pnl(bridge):
    services.record_fills(bridge=bridge, fills=[fill("a1", position_ticket="9001"), fill("a2", position_ticket="9002"),
                                                fill("a3", position_ticket="9003")])
    snapshot(bridge, positions=[reported("9001", D("12.50")), reported("9002", None)])
    assert dict(Position.objects.values_list("ticket", "unrealized_pnl")) == {
        "9001": D("12.50"), "9002": None, "9003": None}

    # An older snapshot arriving late is stored, and changes neither the figures nor the time.
    snapshot(bridge, time=NOW - timedelta(minutes=1), positions=[reported("9001", D("-3"))])
    assert Position.objects.get(ticket="9001").unrealized_pnl == D("12.50")
    bridge.refresh_from_db()
    assert bridge.last_snapshot_at == NOW and AccountSnapshot.objects.count() == 2


def test_a_snapshot_is_audited_without_the_positions(bridge):
    snapshot(bridge, positions=[reported("9001", D("1"))])
    entry = AuditEntry.objects.get(action="account.snapshot")
    assert (entry.meta["equity"], entry.meta["positions"], entry.meta["bridge"]) == ("10250.50", 1, bridge.key_id)


def test_a_fresh_snapshot_lets_orders_trade(alice, bridge, specs, place):
    snapshot(bridge, time=timezone.now())
    order = place(alice)
    # 10,250.50 x 1 % = 102.505 over 350: 0.2928 -> 0.29
    assert (order.status, order.volume, order.equity_at_sizing) == ("pending", D("0.29"), D("10250.50"))


def test_symbol_specs_are_stored_and_replaced(bridge):
    spec = {"instrument": "eurusd", "tick_size": D("0.00001"), "tick_value": D("1"), "volume_min": D("0.01"),
            "volume_step": D("0.01"), "volume_max": D("100")}
    assert services.upsert_symbols(bridge=bridge, symbols=[spec]) == 1
    assert services.upsert_symbols(bridge=bridge, symbols=[{**spec, "tick_value": D("0.92")}]) == 1
    assert Symbol.objects.get(bridge=bridge).tick_value == D("0.92")


def test_bad_symbol_specs_are_named_and_nothing_is_stored(bridge):
    spec = {"instrument": "EURUSD", "tick_size": D("0.00001"), "tick_value": D("1"), "volume_min": D("0.01"),
            "volume_step": D("0.01"), "volume_max": D("100")}
    with pytest.raises(ValidationError) as raised:
        services.upsert_symbols(bridge=bridge, symbols=[spec, {**spec, "instrument": "DOGEUSD"}, spec,
                                                        {**spec, "instrument": "XAUUSD", "volume_min": D("200")}])
    assert set(raised.value.detail) == {"symbols.1.instrument", "symbols.2.instrument", "symbols.3.volume_max"}
    assert not Symbol.objects.exists()


def test_the_kill_switch_denies_new_orders_until_resumed(alice, bridge, specs, place):
    snapshot(bridge, time=timezone.now())
    paused = services.pause_trading(user=alice)
    assert paused.paused_at is not None
    assert services.pause_trading(user=alice).paused_at == paused.paused_at  # already paused: unchanged
    assert place(alice).reasons == ["paused"]

    assert services.resume_trading(user=alice).paused_at is None
    assert place(alice).status == Order.Status.PENDING
    assert [e.action for e in AuditEntry.objects.filter(action__startswith="trading.").order_by("seq")] == [
        "trading.pause", "trading.resume"]


def test_no_kill_switch_without_a_bridge(bob):
    with pytest.raises(NotFound):
        services.pause_trading(user=bob)
