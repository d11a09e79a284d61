"""The checks before a new order, over HTTP: the owner approves with a JWT
and the bridge reports with signed calls. Each reason code alone, several
at once, the FX week's close in both daylight saving regimes, and two
approvals racing for the last free position (PostgreSQL)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
from django.test import Client

from execution.models import Order
from execution.tests.bridge_api import bridge, bridge_and_secret, fill_json, signed  # noqa: F401 (fixtures)
from execution.tests.risk_api import TUESDAY, approve, losing_closes, ok, report, send_specs, tighten
from signals.models import Instrument
from tests.concurrency import run_together
from tests.fixtures import bearer

pytestmark = pytest.mark.django_db


@pytest.fixture
def trading(signed, consent_v1, time_machine):
    """alice's bridge on a Tuesday morning, its contract specs sent."""
    time_machine.move_to(TUESDAY, tick=True)
    send_specs(signed)
    return signed


def decision(order) -> tuple:
    return order["status"], order["reasons"]


def test_a_tradable_order_is_pending_and_sized_by_the_policy_in_force(alice, trading, make_signal):
    report(trading, "10000")
    order = approve(alice, make_signal(alice))
    assert (*decision(order), order["volume"]) == ("pending", [], "0.28")
    tighten(alice, risk_per_trade_percent="0.5")
    order = approve(alice, make_signal(alice))
    assert (*decision(order), order["volume"]) == ("pending", [], "0.14")  # 50 / 350 ticks = 0.1428
    assert Order.objects.get(pk=order["id"]).risk_policy_version == 1


# --- each reason alone ---------------------------------------------------------------

def test_no_stop_loss(alice, trading, make_signal):
    report(trading, "10000")
    assert decision(approve(alice, make_signal(alice, stop_loss=None))) == ("denied", ["no-stop-loss"])


def test_no_symbol_specs(alice, signed, consent_v1, make_signal):
    report(signed, "10000")
    assert decision(approve(alice, make_signal(alice))) == ("denied", ["no-symbol-specs"])


def test_volume_below_minimum(alice, trading, make_signal):
    report(trading, "150")  # 1.50 at risk over 350 ticks: 0.004 lots
    assert decision(approve(alice, make_signal(alice))) == ("denied", ["volume-below-minimum"])


def test_account_stale(alice, trading, make_signal):
    report(trading, "10000", time=TUESDAY - timedelta(seconds=301))
    assert decision(approve(alice, make_signal(alice))) == ("denied", ["account-stale"])


def test_equity_floor(alice, trading, make_signal):
    report(trading, "10000")
    tighten(alice, min_equity="10000.01")
    assert decision(approve(alice, make_signal(alice))) == ("denied", ["equity-floor"])


def test_max_open_positions_counts_open_positions_and_orders_on_their_way(alice, trading, make_signal):
    report(trading, "10000")
    tighten(alice, max_open_positions=2)
    ok(trading.post("fills", {"fills": [fill_json("d-1", position_ticket="9001")]}))
    assert decision(approve(alice, make_signal(alice))) == ("pending", [])
    assert decision(approve(alice, make_signal(alice))) == ("denied", ["max-open-positions"])


def test_daily_loss(alice, trading, make_signal):
    report(trading, "10000")
    report(trading, "9500", time=TUESDAY + timedelta(seconds=1))
    assert decision(approve(alice, make_signal(alice))) == ("denied", ["daily-loss"])


def test_cooldown_after_three_losing_closes_in_a_row(alice, trading, make_signal, time_machine):
    report(trading, "10000")
    losing_closes(trading, 2)
    assert decision(approve(alice, make_signal(alice))) == ("pending", [])
    losing_closes(trading, 1, prefix="third")
    assert decision(approve(alice, make_signal(alice))) == ("denied", ["cooldown"])
    time_machine.move_to(TUESDAY + timedelta(minutes=61), tick=True)  # 60 minutes after the last close
    report(trading, "10000")
    assert decision(approve(alice, make_signal(alice))) == ("pending", [])


def test_market_closed(alice, trading, make_signal, settings, time_machine):
    settings.MARKET_HOURS_DEFAULT = "fx"
    time_machine.move_to(datetime(2027, 1, 16, 12, 0, tzinfo=UTC), tick=True)  # a Saturday
    report(trading, "10000")
    assert decision(approve(alice, make_signal(alice))) == ("denied", ["market-closed"])


def test_paused(alice, trading, make_signal):
    report(trading, "10000")
    ok(bearer(alice).post("/api/v1/trading/pause"))
    assert decision(approve(alice, make_signal(alice))) == ("denied", ["paused"])


def test_halted(alice, trading, make_signal):
    report(trading, "10000")
    report(trading, "8000", time=TUESDAY + timedelta(seconds=1))  # 20 % below the peak
    assert decision(approve(alice, make_signal(alice))) == ("denied", ["halted"])


# --- several at once -----------------------------------------------------------------

def test_a_denial_names_every_reason_at_once(alice, trading, make_signal, settings, time_machine):
    settings.MARKET_HOURS_DEFAULT = "fx"
    saturday = datetime(2027, 1, 16, 12, 0, tzinfo=UTC)
    time_machine.move_to(saturday, tick=True)
    report(trading, "10000")
    tighten(alice, max_open_positions=1, min_equity="20000")
    ok(trading.post("fills", {"fills": [fill_json("d-1", position_ticket="9001")]}))
    losing_closes(trading, 3)
    report(trading, "9400", time=saturday + timedelta(seconds=1))
    ok(bearer(alice).post("/api/v1/trading/pause"))

    order = approve(alice, make_signal(alice, stop_loss=None))
    assert decision(order) == ("denied", ["no-stop-loss", "equity-floor", "max-open-positions", "daily-loss",
                                          "cooldown", "market-closed", "paused"])
    assert order["volume"] is None
    assert bearer(alice).get(f"/api/v1/orders/{order['id']}/").json()["reasons"] == order["reasons"]


# --- the FX week ----------------------------------------------------------------------

# 17:00 in New York is 21:00 UTC in summer (EDT) and 22:00 UTC in winter (EST).
@pytest.mark.parametrize(("moment", "status"), [
    (datetime(2027, 7, 16, 20, 59, tzinfo=UTC), "pending"),  # Friday
    (datetime(2027, 7, 16, 21, 0, tzinfo=UTC), "denied"),
    (datetime(2027, 7, 18, 20, 59, tzinfo=UTC), "denied"),  # Sunday
    (datetime(2027, 7, 18, 21, 0, tzinfo=UTC), "pending"),
    (datetime(2027, 1, 15, 21, 59, tzinfo=UTC), "pending"),  # Friday
    (datetime(2027, 1, 15, 22, 0, tzinfo=UTC), "denied"),
    (datetime(2027, 1, 17, 21, 59, tzinfo=UTC), "denied"),  # Sunday
    (datetime(2027, 1, 17, 22, 0, tzinfo=UTC), "pending"),
])
def test_fx_and_metals_close_friday_1700_new_york_time(alice, signed, consent_v1, make_signal, settings,
                                                        time_machine, moment, status):
    settings.MARKET_HOURS_DEFAULT = "fx"
    time_machine.move_to(moment, tick=False)
    send_specs(signed)
    report(signed, "10000")
    gold = make_signal(alice, symbol="XAUUSD", entry_price=D("2650.00"), stop_loss=D("2640.00"),
                       take_profit=D("2670.00"))
    for order in (approve(alice, make_signal(alice)), approve(alice, gold)):
        assert decision(order) == ((status, []) if status == "pending" else (status, ["market-closed"]))


def test_an_instrument_set_to_always_trades_through_the_weekend(alice, superuser, signed, consent_v1, make_signal,
                                                                settings, time_machine):
    settings.MARKET_HOURS_DEFAULT = "fx"
    time_machine.move_to(datetime(2027, 7, 17, 12, 0, tzinfo=UTC), tick=True)  # a Saturday
    send_specs(signed)
    report(signed, "10000")
    staff = Client()
    staff.force_login(superuser)
    response = staff.post("/admin/risk/markethours/add/",
                          {"instrument": Instrument.objects.get(symbol="XAUUSD").pk, "schedule": "always"})
    assert response.status_code == 302, response.content.decode()

    gold = make_signal(alice, symbol="XAUUSD", entry_price=D("2650.00"), stop_loss=D("2640.00"),
                       take_profit=D("2670.00"))
    assert decision(approve(alice, gold)) == ("pending", [])
    assert decision(approve(alice, make_signal(alice))) == ("denied", ["market-closed"])


# --- the last free position, taken twice at once ------------------------------------------

@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_approvals_at_once_cannot_both_take_the_last_free_position(alice, signed, consent_v1, make_signal):
    send_specs(signed)
    report(signed, "10000")
    tighten(alice, max_open_positions=1)
    signals = [make_signal(alice), make_signal(alice)]

    def decide(signal):
        return lambda: bearer(alice).post("/api/v1/approvals/", {"signal": str(signal.pk), "decision": "approved",
                                                                 "consent_version": "1"}, format="json")

    responses = run_together([decide(signal) for signal in signals])
    assert [response.status_code for response in responses] == [201, 201]
    assert sorted((order.status, order.reasons) for order in Order.objects.all()) == [
        ("denied", ["max-open-positions"]), ("pending", [])]
