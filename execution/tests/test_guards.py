"""The account guards over HTTP: the bridge reports its account with signed
calls (equity to the cent, open positions included), the owner approves and
reads their risk with a JWT. The same guards met through a real paper
bridge process, with staff resuming a halted account in the console, are
tests/test_risk_scenarios.py."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
from django.urls import reverse

from audit.models import AuditEntry
from core.problems import Conflict
from execution import guards
from execution.models import AccountState
from execution.tests.bridge_api import bridge, bridge_and_secret, fill_json, rfc3339, signed  # noqa: F401 (fixtures)
from execution.tests.risk_api import TUESDAY, approve, ok, report, risk, send_specs
from risk import services as risk_services
from risk.policy import BUILT_IN
from tests.fixtures import bearer

pytestmark = pytest.mark.django_db


def mode_changes() -> list[tuple]:
    return [(entry.meta["from"], entry.meta["to"], entry.meta["reason"])
            for entry in AuditEntry.objects.filter(action="risk.mode_changed").order_by("seq")]


def decision(order) -> tuple:
    return order["status"], order["reasons"]


def test_a_5_percent_daily_loss_makes_the_account_reducing_until_midnight_utc(alice, signed, consent_v1,
                                                                               make_signal, time_machine):
    evening, midnight = datetime(2027, 1, 12, 23, 0, tzinfo=UTC), datetime(2027, 1, 13, tzinfo=UTC)
    time_machine.move_to(evening, tick=True)
    send_specs(signed)
    report(signed, "10000", time=evening)  # the day's first snapshot: its opening equity
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


def test_a_halt_outlasts_the_day_and_the_owners_resume(alice, signed, consent_v1, make_signal, time_machine):
    time_machine.move_to(TUESDAY, tick=True)
    send_specs(signed)
    report(signed, "10000")
    report(signed, "8000", time=TUESDAY + timedelta(seconds=1))  # 20 % below the peak
    time_machine.move_to(TUESDAY + timedelta(days=1), tick=True)
    report(signed, "8000")  # the new day's first snapshot: no loss today
    ok(bearer(alice).post("/api/v1/trading/resume"))  # the owner's switch is not staff's resume
    state = risk(alice)["state"]
    assert (state["mode"], state["daily_loss_percent"], state["drawdown_percent"]) == ("halted", "0.00", "20.00")
    assert decision(approve(alice, make_signal(alice))) == ("denied", ["halted"])


def halted_with_a_drawdown_close(signed, time_machine) -> tuple[dict, dict]:
    """An account halted 21 % below its peak with one position open (ticket
    9001): the position as the broker reports it, and the drawdown close
    the guard asked for it, polled."""
    time_machine.move_to(TUESDAY, tick=True)
    send_specs(signed)
    ok(signed.post("fills", {"fills": [fill_json("in-1", position_ticket="9001")]}))
    held = {"ticket": "9001", "client_order_id": None, "instrument": "EURUSD", "side": "buy", "volume": "0.10",
            "open_price": "1.08450", "open_time": rfc3339(TUESDAY - timedelta(hours=1)), "profit": "0"}
    report(signed, "10000", positions=[held])
    report(signed, "7900", positions=[{**held, "profit": "-2100"}])
    [close] = ok(signed.post("poll"))["commands"]
    return held, close


def test_a_drawdown_close_the_broker_refused_is_asked_again_while_halted(alice, signed, time_machine):
    held, close = halted_with_a_drawdown_close(signed, time_machine)
    ok(signed.post("ack", {"command": close["id"], "status": "rejected", "error": "requote"}))

    time_machine.move_to(TUESDAY + timedelta(minutes=1), tick=True)
    report(signed, "7800", positions=[{**held, "profit": "-2200"}])  # still halted, the position still open

    [again] = ok(signed.post("poll"))["commands"]
    assert (again["type"], again["reason"], again["id"] != close["id"]) == ("close", "drawdown_guard", True)


def test_a_ticket_the_broker_opens_again_while_halted_gets_a_drawdown_close_of_its_own(alice, signed,
                                                                                     time_machine):
    held, close = halted_with_a_drawdown_close(signed, time_machine)
    ok(signed.post("ack", {"command": close["id"], "status": "executed", "broker_ticket": "9001"}))
    ok(signed.post("fills", {"fills": [fill_json("out-1", position_ticket="9001", entry="out", side="sell")]}))

    # The broker opens the ticket again (by hand): the spent close of its first life asks nothing of it.
    time_machine.move_to(TUESDAY + timedelta(minutes=1), tick=True)
    ok(signed.post("fills", {"fills": [fill_json("in-2", position_ticket="9001")]}))
    report(signed, "7800", positions=[{**held, "profit": "-100"}])
    [again] = ok(signed.post("poll"))["commands"]
    assert (again["type"], again["reason"], again["id"] != close["id"]) == ("close", "drawdown_guard", True)


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


def test_the_consoles_resume_of_an_account_another_operator_resumed_first_is_no_error(
        alice, signed, client, superuser, monkeypatch):
    report(signed, "10000")
    report(signed, "7900")  # 21 % below the high-water mark: halted
    state = AccountState.objects.get(bridge=signed.bridge)
    resume = guards.resume_halted_account

    def resumed_by_another_operator_first(*, bridge):
        resume(bridge=bridge)  # committed between this page's list and its own resume
        return resume(bridge=bridge)

    monkeypatch.setattr(guards, "resume_halted_account", resumed_by_another_operator_first)
    client.force_login(superuser)
    response = client.post(reverse("admin:execution_accountstate_changelist"),
                           {"action": "resume", "_selected_action": [state.pk]}, follow=True)

    assert response.status_code == 200
    assert "were left as they are" in response.content.decode()
    state.refresh_from_db()
    assert state.mode == "active"
