import secrets
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from approvals import services as approval_services
from approvals.models import ConsentText
from execution import services as execution_services
from execution.models import AccountSnapshot, Bridge, Position, Symbol
from signals.models import Instrument, Producer, Signal

D = Decimal

# The broker's specs of the instruments the tests trade (tick value in USD per lot per tick).
SPECS = {
    "EURUSD": {"tick_size": D("0.00001"), "tick_value": D("1"), "volume_min": D("0.01"), "volume_step": D("0.01"),
               "volume_max": D("100")},
    "USDJPY": {"tick_size": D("0.001"), "tick_value": D("0.66116"), "volume_min": D("0.01"),
               "volume_step": D("0.01"), "volume_max": D("100")},
    "XAUUSD": {"tick_size": D("0.01"), "tick_value": D("1"), "volume_min": D("0.01"), "volume_step": D("0.01"),
               "volume_max": D("50")},
}


def instrument(symbol):
    # get_or_create: transactional tests flush the instruments the migrations ship.
    digits = {"EURUSD": 5, "USDJPY": 3, "XAUUSD": 2}.get(symbol, 5)
    return Instrument.objects.get_or_create(symbol=symbol, defaults={"digits": digits})[0]


@pytest.fixture
def consent_v1(db):
    return ConsentText.objects.get_or_create(version="1", defaults={"text": "Consent v1.",
                                                                   "published_at": timezone.now()})[0]


@pytest.fixture
def make_bridge(db):
    """A bridge row as the machines services would create it (no secret:
    these tests call the services, not the signed API)."""

    def make(owner, **fields):
        fields.setdefault("name", f"{owner.username}-mt5-{secrets.token_hex(3)}")
        return Bridge.objects.create(owner=owner, key_id=f"brg_{secrets.token_hex(12)}", account_ref="50123",
                                     **fields)

    return make


@pytest.fixture
def bridge(alice, make_bridge):
    return make_bridge(alice)


@pytest.fixture
def specs(bridge):
    for symbol, spec in SPECS.items():
        Symbol.objects.create(bridge=bridge, instrument=instrument(symbol), **spec)


@pytest.fixture
def snapshot(bridge):
    """Fresh equity of 10,000 USD."""
    return AccountSnapshot.objects.create(bridge=bridge, time=timezone.now(), currency="USD", balance=D("10000"),
                                          equity=D("10000"), margin_free=D("10000"))


@pytest.fixture
def make_signal(db):
    """A signal in `owner`'s feed, as ingestion stores it: an EURUSD buy at
    1.08450 with its stop 350 ticks away unless told otherwise."""
    counter = iter(range(1, 10**6))

    def make(owner, *, expires_in=900, symbol="EURUSD", **fields):
        now = timezone.now()
        producer, _ = Producer.objects.get_or_create(name=f"engine-{owner.username}", owner=owner,
                                                     defaults={"key_id": f"prd_{owner.username}"})
        fields.setdefault("side", Signal.Side.BUY)
        fields.setdefault("entry_price", D("1.08450"))
        fields.setdefault("stop_loss", D("1.08100"))
        fields.setdefault("take_profit", D("1.09000"))
        return Signal.objects.create(owner=owner, producer=producer, instrument=instrument(symbol),
                                     time=now - timedelta(seconds=1), version=next(counter),
                                     expires_at=now + timedelta(seconds=expires_in), fingerprint="0" * 64, **fields)

    return make


@pytest.fixture
def approve(consent_v1):
    """The owner approves the signal through the approvals service, as the API does."""

    def decide(signal, decision="approved"):
        return approval_services.decide_signal(user=signal.owner, signal_id=str(signal.pk), decision=decision,
                                               consent_version="1")

    return decide


@pytest.fixture
def place(make_signal, approve):
    """An approved signal of `owner` and the order it became."""

    def make(owner, **signal_fields):
        approval = approve(make_signal(owner, **signal_fields))
        return approval.order

    return make


def fill(fill_id, *, entry="in", volume="0.10", price="1.08450", side="buy", position_ticket="9001",
         client_order_id=None, time=None, instrument="EURUSD", **money):
    """One fill as the bridge API passes it to the service (decimals parsed)."""
    return {"fill_id": fill_id, "client_order_id": client_order_id, "ticket": f"o-{fill_id}",
            "position_ticket": position_ticket, "instrument": instrument, "side": side, "entry": entry,
            "volume": D(volume), "price": D(price), "time": time or timezone.now(),
            "commission": D(money.get("commission", "0")), "swap": D(money.get("swap", "0")),
            "profit": D(money.get("profit", "0"))}


@pytest.fixture
def user_close_executed(alice, bridge, specs, snapshot, place, settings):
    """Alice's order filled 30 minutes ago (ticket 9001: buy 0.28 EURUSD,
    stop 1.08100) and her close of it, which the bridge executed; its
    closing fill is the test's to send. Returns (the position, the fill's time)."""
    settings.MARKET_HOURS_DEFAULT = "always"
    order = place(alice)
    opened_at = timezone.now() - timedelta(minutes=30)
    execution_services.record_fills(bridge=bridge, fills=[
        fill("a1", client_order_id=order.client_order_id, volume="0.28", time=opened_at)])
    position = Position.objects.get()
    command = execution_services.request_position_close(user=alice, position_id=str(position.pk))
    execution_services.poll_commands(bridge=bridge)
    execution_services.acknowledge_command(bridge=bridge, command_id=command.pk, status="executed",
                                           broker_ticket="9001")
    return position, opened_at
