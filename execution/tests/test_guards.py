"""The account guards over HTTP: the paper bridge trades and reports, the
owner approves and reads their risk with a JWT, staff resume a halted
account in the console. Equity is the broker's, open positions included."""

from datetime import UTC, datetime, timedelta
from decimal import ROUND_FLOOR
from decimal import Decimal as D

import pytest
from django.test import Client

from audit.models import AuditEntry
from core.problems import Conflict
from execution import guards
from execution.models import Command
from execution.tests.bridge_api import bridge, bridge_and_secret, rfc3339, signed  # noqa: F401 (fixtures)
from execution.tests.risk_api import TUESDAY, approve, ok, report, risk, send_specs
from execution.tests.test_reconciliation import Paper
from risk import services as risk_services
from risk.policy import BUILT_IN
from tests.fixtures import bearer

pytestmark = pytest.mark.django_db

CENT = D("0.01")


def mode_changes() -> list[tuple]:
    return [(entry.meta["from"], entry.meta["to"], entry.meta["reason"])
            for entry in AuditEntry.objects.filter(action="risk.mode_changed").order_by("seq")]


def console(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def move_gold_to(paper, equity: D, target: D) -> None:
    """Moves XAUUSD so that 1.00 lot of it (100 USD a dollar) takes the
    account's equity from `equity` to `target` or just below."""
    prices = paper.broker.prices.prices
    prices["XAUUSD"] = (prices["XAUUSD"] + (target - equity) / 100).quantize(CENT, rounding=ROUND_FLOOR)


def test_a_20_percent_fall_from_the_peak_halts_the_account_and_closes_every_position_until_staff_resume(
        alice, operator, superuser, signed, consent_v1, make_signal, tmp_path, shipped_instruments, settings,
        time_machine):
    settings.BRIDGE_POLL_INTERVAL_SECONDS = 0
    time_machine.move_to(TUESDAY, tick=True)
    paper = Paper(signed, tmp_path)
    paper.step()
    order = approve(alice, make_signal(alice, entry_price=D("1.08500"), stop_loss=D("1.08150")))
    # The approved EURUSD order, and 1.00 lot of gold bought by hand at the broker (external).
    paper.step({"open": {"instrument": "XAUUSD", "side": "buy", "volume": "1.00"}})
    assert {position["origin"] for position in ok(bearer(alice).get("/api/v1/positions/?status=open"))["results"]
            } == {"platform", "external"}

    paper.broker.prices.prices["XAUUSD"] = D("2010.00")
    paper.step()
    peak = risk(alice)["state"]
    high = D(peak["high_water_mark"])
    assert (peak["mode"], D(peak["equity"])) == ("active", high)

    # 17 % below the peak, the balance untouched: a warning (and the day's loss limit, 5 %, is passed).
    move_gold_to(paper, high, high * D("0.83"))
    paper.step()
    state = risk(alice)["state"]
    assert state["mode"] == "reducing" and D("16") <= D(state["drawdown_percent"]) < D("20")
    [warning] = AuditEntry.objects.filter(action="risk.drawdown_warning")
    assert (warning.meta["threshold_percent"], D(warning.meta["high_water_mark"])) == ("16.0", high)
    assert not Command.objects.filter(type="close").exists()

    # 20 % below it: halted, and a close for every open position.
    move_gold_to(paper, D(state["equity"]), high * D("0.80"))
    paper.step()
    state = risk(alice)["state"]
    assert state["mode"] == "halted" and D(state["drawdown_percent"]) >= 20 and state["open_positions"] == 2
    closes = Command.objects.filter(type="close")
    assert sorted(closes.values_list("reason", "status")) == [("drawdown_guard", "queued")] * 2
    assert decision(approve(alice, make_signal(alice))) == ("denied", ["halted"])

    paper.step()  # the bridge closes them
    closed = ok(bearer(alice).get("/api/v1/positions/?status=closed"))["results"]
    assert sorted((position["origin"], position["close_reason"]) for position in closed) == [
        ("external", "drawdown_guard"), ("platform", "drawdown_guard")]
    assert closed[0]["order"] == order["id"] or closed[1]["order"] == order["id"]
    paper.step()
    assert closes.count() == 2  # asked once each

    # The next day the loss of the day is gone, the halt is not; the owner cannot lift it.
    time_machine.move_to(TUESDAY + timedelta(days=1), tick=True)
    paper.step()
    ok(bearer(alice).post("/api/v1/trading/resume"))
    assert risk(alice)["state"]["mode"] == "halted"
    assert decision(approve(alice, make_signal(alice))) == ("denied", ["halted"])

    # Staff resume it in the console (an operator without the right cannot); audited.
    resume = {"action": "resume", "_selected_action": [signed.bridge.pk]}
    assert console(operator).post("/admin/execution/accountstate/", resume).status_code == 403
    assert console(superuser).post("/admin/execution/accountstate/", resume).status_code == 302
    state = risk(alice)["state"]
    assert (state["mode"], state["high_water_mark"], state["drawdown_percent"]) == (
        "active", state["equity"], "0.00")
    assert mode_changes() == [("active", "reducing", "daily-loss"), ("reducing", "halted", "drawdown"),
                              ("halted", "active", "staff-resume")]
    assert AuditEntry.objects.filter(action="risk.mode_changed").first().actor == "root"
    assert decision(approve(alice, make_signal(alice, entry_price=D("1.08500"), stop_loss=D("1.08150")))) == (
        "pending", [])
    paper.step()
    assert ok(bearer(alice).get("/api/v1/positions/?status=open"))["results"][0]["origin"] == "platform"


def decision(order) -> tuple:
    return order["status"], order["reasons"]


def test_a_5_percent_daily_loss_makes_the_account_reducing_until_midnight_utc(alice, signed, consent_v1,
                                                                               make_signal, time_machine):
    evening, midnight = datetime(2027, 1, 12, 23, 0, tzinfo=UTC), datetime(2027, 1, 13, tzinfo=UTC)
    time_machine.move_to(evening, tick=True)
    send_specs(signed)
    report(signed, "10000")  # the day's first snapshot: its opening equity
    report(signed, "9500", time=evening + timedelta(seconds=1))  # 5.00 % down, open positions included
    state = risk(alice)["state"]
    assert (state["mode"], state["day_open_equity"], state["daily_loss_percent"], state["since"]) == (
        "reducing", "10000.00", "5.00", rfc3339(evening + timedelta(seconds=1)))
    assert decision(approve(alice, make_signal(alice))) == ("denied", ["daily-loss"])

    time_machine.move_to(midnight - timedelta(seconds=30), tick=True)
    report(signed, "9600")  # better, and still the same day
    assert decision(approve(alice, make_signal(alice))) == ("denied", ["daily-loss"])

    # Past midnight it is active at once, before the new day's first snapshot.
    time_machine.move_to(midnight + timedelta(seconds=30), tick=True)
    state = risk(alice)["state"]
    assert (state["mode"], state["since"]) == ("active", rfc3339(midnight))
    assert decision(approve(alice, make_signal(alice))) == ("pending", [])
    report(signed, "9600")  # the new day's opening equity
    state = risk(alice)["state"]
    assert (state["mode"], state["day_open_equity"], state["daily_loss_percent"]) == ("active", "9600.00", "0.00")

    entries = list(AuditEntry.objects.filter(action="risk.mode_changed").order_by("seq"))
    assert mode_changes() == [("active", "reducing", "daily-loss"), ("reducing", "active", "new-day")]
    assert entries[0].meta["until"] == rfc3339(midnight) and entries[0].meta["daily_loss_percent"] == "5.00"
    assert entries[0].actor_type == "bridge"

    report(signed, "9120")  # 5.00 % below the new day's opening: reducing until the next midnight
    assert risk(alice)["state"]["mode"] == "reducing"
    assert AuditEntry.objects.filter(action="risk.mode_changed").first().meta["until"] == rfc3339(
        midnight + timedelta(days=1))


def test_a_loss_under_the_limit_changes_nothing(alice, signed, consent_v1, make_signal, time_machine):
    time_machine.move_to(TUESDAY, tick=True)
    send_specs(signed)
    report(signed, "10000")
    report(signed, "9501")  # 4.99 %
    assert risk(alice)["state"]["mode"] == "active"
    assert decision(approve(alice, make_signal(alice))) == ("pending", [])
    assert not AuditEntry.objects.filter(action__startswith="risk.").exists()


def test_the_drawdown_warning_is_raised_once_until_the_drawdown_recovers(alice, signed, operator, time_machine):
    time_machine.move_to(TUESDAY, tick=True)
    # Only the drawdown guards here: a day's loss limit the falls do not reach.
    risk_services.set_policy(user=None, values={**BUILT_IN.settings(), "max_daily_loss_percent": D("50")},
                             changed_by=operator)
    for equity in ("10000", "8401", "8399", "8300", "9000", "8400"):
        report(signed, equity)
    warnings = list(AuditEntry.objects.filter(action="risk.drawdown_warning").order_by("seq"))
    assert [entry.meta["drawdown_percent"] for entry in warnings] == ["16.01", "16.00"]
    assert risk(alice)["state"]["mode"] == "active"


def test_an_older_snapshot_arriving_late_changes_nothing(alice, signed, time_machine):
    time_machine.move_to(TUESDAY, tick=True)
    report(signed, "10000")
    report(signed, "7000", time=TUESDAY - timedelta(minutes=1))
    state = risk(alice)["state"]
    assert (state["mode"], state["equity"], state["high_water_mark"]) == ("active", "10000.00", "10000.00")


def test_the_risk_resource(alice, bob, signed, time_machine):
    time_machine.move_to(TUESDAY, tick=False)
    body = risk(alice)
    assert body["policy"] == {"risk_per_trade_percent": "1.00", "require_stop_loss": True, "max_open_positions": 5,
                              "max_daily_loss_percent": "5.00", "max_drawdown_percent": "20.00",
                              "min_equity": "100.00", "cooldown_after_losses": 3, "cooldown_minutes": 60,
                              "version": 0}
    assert body["state"] == {"mode": "active", "equity": None, "high_water_mark": None, "drawdown_percent": "0.00",
                             "day_open_equity": None, "daily_loss_percent": "0.00", "open_positions": 0,
                             "stale": True, "since": rfc3339(signed.bridge.created_at)}
    report(signed, "10000")
    report(signed, "9800", time=TUESDAY + timedelta(seconds=1), positions=[])
    assert risk(alice)["state"] == {"mode": "active", "equity": "9800.00", "high_water_mark": "10000.00",
                                    "drawdown_percent": "2.00", "day_open_equity": "10000.00",
                                    "daily_loss_percent": "2.00", "open_positions": 0, "stale": False,
                                    "since": rfc3339(TUESDAY)}
    ok(bearer(alice).post("/api/v1/trading/pause"))
    assert (risk(alice)["state"]["mode"], risk(alice)["state"]["since"]) == ("paused", rfc3339(TUESDAY))
    time_machine.move_to(TUESDAY + timedelta(seconds=302), tick=False)
    assert risk(alice)["state"]["stale"] is True
    # Someone without a bridge has a policy and no account.
    assert risk(bob) == {"policy": body["policy"], "state": None}


def test_the_risk_resource_needs_a_login(anon):
    assert anon.get("/api/v1/risk/").status_code == 401


def test_only_a_halted_account_is_resumed(alice, signed):
    report(signed, "10000")
    with pytest.raises(Conflict) as refused:
        guards.resume_halted_account(bridge=signed.bridge)
    assert refused.value.slug == "account-not-halted"
    assert not AuditEntry.objects.filter(action="risk.mode_changed").exists()
