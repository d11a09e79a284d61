import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone

from approvals import selectors, services
from approvals.models import Approval
from execution.models import Order
from signals import services as signal_services
from signals.models import Instrument, Signal

pytestmark = pytest.mark.django_db


def test_load_demo_gives_the_console_decisions_and_pending_signals_and_is_idempotent():
    call_command("load_demo", "--force", stdout=io.StringIO())
    first = sorted(Approval.objects.values_list("signal_id", "decision"))
    assert {"approved", "rejected"} <= {decision for _, decision in first}
    pending = selectors.pending_signals(Signal.objects.all())
    assert pending.exists()
    for signal_id, decision in first:
        assert Signal.objects.get(pk=signal_id).status == decision

    call_command("load_demo", "--force", stdout=io.StringIO())
    assert sorted(Approval.objects.values_list("signal_id", "decision")) == first
    assert pending.exists()


def test_the_walk_through_signal_has_a_chart(client_for):
    """README, walk-through steps 2 and 4: the newest pending signal of the
    demo trader is decided and then drawn, so it must be one with candles."""
    call_command("load_demo", "--force", stdout=io.StringIO())
    trader = client_for(get_user_model().objects.get(username="trader"))
    signal = trader.get("/api/v1/signals/?status=pending&page_size=1").json()["results"][0]
    assert signal["instrument"] == "EURUSD"  # whose order and position the README shows
    response = trader.get(f"/api/v1/signals/{signal['id']}/chart/")
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "image/png"


def test_the_walk_through_works_again_once_every_demo_signal_is_decided(client_for):
    """README walk-through a second time: the first decided the demo's pending
    signals (or a day passed and they expired); the next `make run` loads
    fresh pending ones, with charts, instead of an empty feed."""
    call_command("load_demo", "--force", stdout=io.StringIO())
    user = get_user_model().objects.get(username="trader")
    for signal in selectors.pending_signals(Signal.objects.filter(owner=user)):
        services.decide_signal(user=user, signal_id=str(signal.pk), decision="approved",
                               consent_version=selectors.current_consent().version)

    call_command("load_demo", "--force", stdout=io.StringIO())
    trader = client_for(user)
    signals = trader.get("/api/v1/signals/?status=pending&page_size=1").json()["results"]
    assert signals
    assert trader.get(f"/api/v1/signals/{signals[0]['id']}/chart/").status_code == 200


def test_load_demo_never_decides_the_traders_own_producers_signals():
    # README: the trader makes a producer of their own and posts to it; a
    # later `make run` must leave those signals for the trader to decide.
    call_command("load_demo", "--force", stdout=io.StringIO())
    trader = get_user_model().objects.get(username="trader")
    own, _ = signal_services.create_producer(name="my-strategy", owner=trader)
    eurusd = Instrument.objects.get(symbol="EURUSD")
    now = timezone.now()
    mine = [signal_services.ingest_signal(producer=own, instrument=eurusd, side="buy", time=now, version=version,
                                          entry_price=Decimal("1.08450"), expires_at=now + timedelta(hours=version))[0]
            for version in range(1, 6)]
    for signal in selectors.pending_signals(Signal.objects.filter(owner=trader).exclude(producer=own)):
        services.decide_signal(user=trader, signal_id=str(signal.pk), decision="rejected",
                               consent_version=selectors.current_consent().version)

    call_command("load_demo", "--force", stdout=io.StringIO())

    assert not Approval.objects.filter(signal__in=mine).exists()


def test_the_first_load_demo_makes_the_approved_gbpusd_signal_an_order_for_the_paper_bridge(settings):
    # README, "What an operator sees": the demo's approved GBPUSD signal becomes
    # an order the paper bridge then rejects. The decisions used to be made
    # before the trader's bridge existed, so on a fresh database no order came of them.
    settings.MARKET_HOURS_DEFAULT = "always"  # the demo is loaded on weekends too
    call_command("load_demo", "--force", stdout=io.StringIO())
    order = Order.objects.get(owner__username="trader", instrument__symbol="GBPUSD")
    assert (order.status, order.reasons) == ("pending", [])
    assert order.volume > 0  # sized from the paper broker's specs and the account's balance
