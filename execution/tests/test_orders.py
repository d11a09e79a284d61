"""An approval becomes an order in the same transaction: sized and sent, or
denied with every reason."""

from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.utils import timezone

from audit.models import AuditEntry
from execution import pretrade, services
from execution.models import AccountSnapshot, Command, Order, Symbol
from execution.tests.conftest import instrument
from risk import services as risk_services
from risk.policy import BUILT_IN

pytestmark = pytest.mark.django_db


def test_an_approval_becomes_a_sized_pending_order_with_an_open_command(alice, specs, snapshot, place):
    order = place(alice)

    # 10,000 x 1 % over 350 ticks of 1 USD: 0.2857 -> 0.28 lots, 98 USD at the stop
    assert order.status == Order.Status.PENDING and order.reasons == []
    assert order.volume == D("0.28") and order.initial_risk == D("98") and order.equity_at_sizing == D("10000")
    assert order.client_order_id == f"tp-{order.approval_id.hex[:24]}" and len(order.client_order_id) <= 31
    assert (order.owner, order.expires_at, order.stop_loss) == (alice, order.signal.expires_at, D("1.08100"))
    command = Command.objects.get(order=order)
    assert (command.type, command.status, command.client_order_id) == ("open", "queued", order.client_order_id)
    assert (command.volume, command.entry_price, command.stop_loss, command.take_profit, command.expires_at) == (
        D("0.28"), D("1.08450"), D("1.08100"), D("1.09000"), order.expires_at)
    entry = AuditEntry.objects.get(action="order.create")
    assert entry.target_id == str(order.pk)
    assert entry.meta["status"] == "pending" and D(entry.meta["volume"]) == D("0.28")


def test_the_risk_share_comes_from_the_owners_policy_and_the_order_names_its_version(alice, operator, specs,
                                                                                      snapshot, place):
    assert place(alice).risk_policy_version == 0  # the built-in defaults: 1 %, 0.28 lots above
    risk_services.set_policy(user=None, values={**BUILT_IN.settings(), "risk_per_trade_percent": D("2")},
                             changed_by=operator)
    order = place(alice)
    assert (order.volume, order.risk_policy_version) == (D("0.57"), 1)  # 200 / 350 = 0.571
    assert AuditEntry.objects.filter(action="order.create").first().meta["risk_policy_version"] == 1


def test_a_denied_order_lists_every_reason_and_sends_nothing(alice, bridge, place):
    # no specs, no snapshot, no stop loss, paused
    services.pause_trading(user=alice)
    order = place(alice, stop_loss=None)

    assert order.status == Order.Status.DENIED
    assert order.reasons == ["no-stop-loss", "no-symbol-specs", "account-stale", "paused"]
    assert order.volume is None and order.initial_risk is None
    assert not Command.objects.exists()
    assert AuditEntry.objects.get(action="order.create").meta["reasons"] == order.reasons


def test_an_old_snapshot_makes_the_account_stale(alice, bridge, specs, place):
    AccountSnapshot.objects.create(bridge=bridge, time=timezone.now() - timedelta(seconds=301), currency="USD",
                                   balance=D("10000"), equity=D("10000"), margin_free=D("10000"))
    order = place(alice)
    # Sized on the last equity known, and denied all the same.
    assert (order.status, order.reasons, order.volume) == ("denied", ["account-stale"], D("0.28"))


def test_a_size_below_the_broker_minimum_is_denied(alice, bridge, specs, place):
    AccountSnapshot.objects.create(bridge=bridge, time=timezone.now(), currency="USD", balance=D("100"),
                                   equity=D("100"), margin_free=D("100"))
    order = place(alice)
    assert (order.status, order.reasons, order.volume) == ("denied", ["volume-below-minimum"], None)


def test_specs_of_another_bridge_do_not_count(alice, bob, make_bridge, bridge, snapshot, place):
    Symbol.objects.create(bridge=make_bridge(bob), instrument=instrument("EURUSD"), tick_size=D("0.00001"),
                          tick_value=D("1"), volume_min=D("0.01"), volume_step=D("0.01"), volume_max=D("100"))
    assert place(alice).reasons == ["no-symbol-specs"]


def test_no_order_without_an_enabled_bridge(alice, make_bridge, make_signal, approve):
    make_bridge(alice, enabled=False)
    approval = approve(make_signal(alice))
    assert approval.decision == "approved"
    assert not Order.objects.exists()


def test_a_rejection_makes_no_order(alice, bridge, specs, snapshot, make_signal, approve):
    approval = approve(make_signal(alice), decision="rejected")
    assert not Order.objects.filter(approval=approval).exists()


def test_the_approval_and_its_order_commit_together(alice, bridge, specs, snapshot, make_signal, approve,
                                                     monkeypatch):
    signal = make_signal(alice)

    def broken(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(pretrade.selectors, "order_account", broken)
    with pytest.raises(RuntimeError):
        approve(signal)
    signal.refresh_from_db()
    assert signal.status == "pending"
    assert not AuditEntry.objects.filter(action__in=["approval.create", "order.create"]).exists()


def test_an_order_reads_expired_once_past_its_expiry(alice, specs, snapshot, place):
    order = place(alice)
    assert order.effective_status() == "pending"
    assert order.effective_status(order.expires_at) == "expired"
    order.status = Order.Status.PARTIALLY_FILLED
    # Not filled in whole by its expiry: expired too (its filled_volume keeps what was filled).
    assert order.effective_status(order.expires_at) == "expired"
    order.status = Order.Status.FILLED
    assert order.effective_status(order.expires_at) == "filled"
