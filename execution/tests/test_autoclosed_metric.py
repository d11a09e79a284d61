"""`positions_autoclosed_total{reason}` counts every position the platform
closed on its own, when the close commits: `broker` (three snapshots
without it: test_reconciliation.py), an order filled after it expired
(`approval_expired`) and the guards (`drawdown_guard`, and the reasons a
close may be asked with), when the broker's closing fill arrives. Closes
by the owner, the broker's stop or target, or by hand are not counted."""

from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.db import transaction
from django.utils import timezone
from prometheus_client import REGISTRY

from execution import services
from execution.models import Command, Position
from execution.tests.conftest import fill

pytestmark = pytest.mark.django_db

REASONS = ("broker", "approval_expired", "drawdown_guard", "daily_loss_guard", "market_guard", "user", "manual",
           "stop_loss", "take_profit")


def counted() -> dict[str, float]:
    return {reason: REGISTRY.get_sample_value("positions_autoclosed_total", {"reason": reason}) or 0.0
            for reason in REASONS}


def plus(before: dict, **added) -> dict:
    return {reason: value + added.get(reason, 0) for reason, value in before.items()}


def open_position(bridge, ticket="9001", **fields) -> Position:
    services.record_fills(bridge=bridge, fills=[fill(f"in-{ticket}", position_ticket=ticket, **fields)])
    return Position.objects.get(bridge=bridge, ticket=ticket)


def close_at_broker(bridge, ticket="9001", *, side="sell", **fields):
    services.record_fills(bridge=bridge, fills=[fill(f"out-{ticket}", entry="out", side=side,
                                                     position_ticket=ticket, **fields)])


def test_a_late_fill_of_an_expired_order_is_counted_when_its_close_commits(
        alice, bridge, specs, snapshot, place, django_capture_on_commit_callbacks):
    order = place(alice)
    services.expire_orders(now=order.expires_at)
    before = counted()
    with django_capture_on_commit_callbacks(execute=True):
        services.record_fills(bridge=bridge, fills=[fill("l1", client_order_id=order.client_order_id,
                                                         volume="0.28")])
    assert Command.objects.get(type="close").reason == "approval_expired"
    assert counted() == before  # asked for, not closed yet

    with django_capture_on_commit_callbacks() as on_commit:
        close_at_broker(bridge, volume="0.28")
    assert Position.objects.get().close_reason == "approval_expired"
    assert counted() == before  # not before the commit
    for callback in on_commit:
        callback()
    assert counted() == plus(before, approval_expired=1)


def test_a_drawdown_halt_is_counted_for_each_position_it_closes(bridge, specs, django_capture_on_commit_callbacks):
    open_position(bridge, "9001")
    open_position(bridge, "9002", side="sell")
    reported = [{"ticket": ticket, "client_order_id": None, "instrument": "EURUSD", "side": side, "volume": "0.1",
                 "open_price": "1.0845", "open_time": timezone.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
                 "stop_loss": None, "take_profit": None, "profit": "0"} for ticket, side in (("9001", "buy"),
                                                                                        ("9002", "sell"))]
    for seconds_ago, equity in ((60, "10000"), (30, "7900")):  # 21 % below the peak: halted
        services.record_account_snapshot(bridge=bridge, time=timezone.now() - timedelta(seconds=seconds_ago),
                                         currency="USD", balance=D("10000"), equity=D(equity),
                                         margin_free=D("9000"), positions=reported)
    assert sorted(Command.objects.filter(type="close").values_list("reason", flat=True)) == ["drawdown_guard"] * 2
    before = counted()
    with django_capture_on_commit_callbacks(execute=True):
        close_at_broker(bridge, "9001")
        close_at_broker(bridge, "9002", side="buy")
    assert counted() == plus(before, drawdown_guard=2)


@pytest.mark.parametrize("reason", ["daily_loss_guard", "market_guard"])
def test_any_close_the_platform_asks_for_on_its_own_is_counted(alice, bridge, reason,
                                                              django_capture_on_commit_callbacks):
    position = open_position(bridge)
    services.request_position_close(user=alice, position_id=position.pk, reason=reason)
    before = counted()
    with django_capture_on_commit_callbacks(execute=True):
        close_at_broker(bridge)
    assert counted() == plus(before, **{reason: 1})


def test_closes_by_the_owner_the_broker_or_by_hand_are_not_counted(alice, bridge,
                                                                  django_capture_on_commit_callbacks):
    before = counted()
    with django_capture_on_commit_callbacks(execute=True):
        services.request_position_close(user=alice, position_id=open_position(bridge, "1").pk)
        close_at_broker(bridge, "1")
        open_position(bridge, "2")
        close_at_broker(bridge, "2")  # by hand at the broker: manual
    assert sorted(Position.objects.values_list("close_reason", flat=True)) == ["manual", "user"]
    assert counted() == before


def test_a_close_rolled_back_is_not_counted(alice, bridge, django_capture_on_commit_callbacks):
    position = open_position(bridge)
    services.request_position_close(user=alice, position_id=position.pk, reason="market_guard")
    before = counted()
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        with transaction.atomic():
            close_at_broker(bridge)
            raise RuntimeError("the request failed after the fill was stored")
    assert Position.objects.get().status == "open"
    assert counted() == before
