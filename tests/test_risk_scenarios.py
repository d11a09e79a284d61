"""The account guards and the market's hours as a trader lives them, over
HTTP with a real paper bridge process (tests/live_trading.py): prices move
through the bridge's control file, the server's clock and the bridge's are
moved together, and staff resume a halted account in the console."""

from datetime import UTC, datetime, timedelta
from decimal import ROUND_FLOOR
from decimal import Decimal as D

import pytest
from django.contrib.auth.models import Permission

from execution.models import Command
from risk import services as risk_services
from risk.policy import BUILT_IN
from tests.live_trading import Api, Console, decision, desk, rfc3339, started, wait_for  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db(transaction=True)

GOLD_LOT_PER_DOLLAR = D(100)  # 1.00 lot of XAUUSD gains or loses 100.00 a dollar


def mode_changes(staff: Api) -> list[dict]:
    """The audit log's account mode changes, oldest first."""
    return staff.get("/api/v1/audit/?action=risk.mode_changed")["results"][::-1]


def moves(changes: list[dict]) -> list[tuple]:
    return [(entry["meta"]["from"], entry["meta"]["to"], entry["meta"]["reason"]) for entry in changes]


def gold_for(equity: D, *, now: D, target: D) -> str:
    """The gold price at which 1.00 lot of it takes the account from
    `equity`, at gold `now`, to `target` or just below."""
    return str((now + (target - equity) / GOLD_LOT_PER_DOLLAR).quantize(D("0.01"), rounding=ROUND_FLOOR))


def close_commands(desk) -> list[tuple]:
    with desk.network.quiet():
        return sorted(Command.objects.filter(type="close").values_list("reason", "status"))


def state_when(desk, what: str, condition) -> dict:
    """The account's risk state, once `condition(state)` holds."""
    return wait_for(what, lambda: state if condition(state := desk.risk()) else None)


def positions_when(desk, count: int, status: str = "open") -> list[dict]:
    return wait_for(f"{count} {status} positions", lambda: len(found := desk.positions(status)) == count and found)


def test_a_20_percent_fall_from_the_peak_halts_the_account_closes_every_position_until_staff_resume(
        desk, operator, superuser):
    # Only the drawdown guard here: the operators lift the day's loss limit, which the same falls would pass.
    risk_services.set_policy(user=None, values={**BUILT_IN.settings(), "max_daily_loss_percent": D("50")},
                             changed_by=superuser)
    # An operator who may see the accounts' states, not resume them.
    operator.user_permissions.add(Permission.objects.get(codename="view_accountstate"))
    staff = Api(desk.network.url, "root")
    bridge = desk.start_bridge()
    order = desk.approve(desk.signal())
    wait_for("the order's position", desk.positions)
    # And 1.00 lot of gold bought by hand at the broker: both count, open.
    bridge.control({"open": {"instrument": "XAUUSD", "side": "buy", "volume": "1.00"}})
    assert sorted(p["origin"] for p in positions_when(desk, 2)) == ["external", "platform"]

    # Gold up 10.00: the peak, its gain still open.
    bridge.control({"price": {"XAUUSD": "2010.00"}})
    peak = state_when(desk, "the peak", lambda state: D(state["equity"]) > D("10900"))
    high = D(peak["high_water_mark"])
    assert D(peak["equity"]) == high

    # 17 % below it: a warning, nothing closed.
    bridge.control({"price": {"XAUUSD": gold_for(high, now=D("2010.00"), target=high * D("0.83"))}})
    state = state_when(desk, "the warning", lambda state: D(state["drawdown_percent"]) >= 16)
    assert state["mode"] == "active" and D(state["drawdown_percent"]) < 20
    [warning] = staff.get("/api/v1/audit/?action=risk.drawdown_warning")["results"]
    assert (D(warning["meta"]["threshold_percent"]), D(warning["meta"]["high_water_mark"])) == (16, high)

    # 20 % below it: halted, and a close for every open position, which the bridge carries out.
    bridge.control({"price": {"XAUUSD": gold_for(high, now=D("2010.00"), target=high * D("0.80"))}})
    state = state_when(desk, "the halt", lambda state: state["mode"] == "halted")
    assert D(state["drawdown_percent"]) >= 20 and D(state["high_water_mark"]) == high
    assert decision(desk.approve(desk.signal())) == ("denied", ["halted"])
    closed = positions_when(desk, 2, "closed")
    assert sorted((p["origin"], p["close_reason"]) for p in closed) == [
        ("external", "drawdown_guard"), ("platform", "drawdown_guard")]
    assert order["id"] in {p["order"] for p in closed}
    wait_for("the broker's books empty", lambda: bridge.state()["positions"] == [])
    wait_for("both closes acknowledged", lambda: close_commands(desk) == [("drawdown_guard", "executed")] * 2)
    # Each guard close audited: asked for, and done.
    for action, reason in (("position.close_request", "reason"), ("position.close", "close_reason")):
        entries = staff.get(f"/api/v1/audit/?action={action}")["results"]
        assert sorted((entry["target_id"], entry["meta"][reason]) for entry in entries) == sorted(
            (p["id"], "drawdown_guard") for p in closed)

    # The owner cannot lift it, nor can staff without the right; staff with it resume it in the console.
    status, _ = desk.api.call("POST", "/api/v1/trading/resume")
    assert status == 200 and desk.risk()["mode"] == "halted"
    assert decision(desk.approve(desk.signal())) == ("denied", ["halted"])
    resume = {"action": "resume", "_selected_action": [str(desk.bridge.pk)]}
    status, page = Console(desk.network.url, "operator").post("/admin/execution/accountstate/", resume)
    assert (status, "Resume the selected" in page) == (200, False)  # the list, without the action
    assert desk.risk()["mode"] == "halted"
    root = Console(desk.network.url, "root")
    assert "Resume the selected halted accounts" in root.get("/admin/execution/accountstate/")[1]
    assert root.post("/admin/execution/accountstate/", resume)[0] == 302
    # Resumed from today's equity: the old peak no longer counts (a snapshot that arrived since may have
    # moved the equity by a commission, so the drawdown is near zero rather than exactly zero).
    state = desk.risk()
    assert state["mode"] == "active" and D(state["drawdown_percent"]) < 1
    assert D(state["high_water_mark"]) < high * D("0.85")
    changes = mode_changes(staff)
    assert moves(changes) == [("active", "halted", "drawdown"), ("halted", "active", "staff-resume")]
    assert changes[1]["actor"] == "root"

    order = desk.approve(desk.signal())
    assert decision(order) == ("placed", [])
    wait_for("the new position", lambda: [p for p in desk.positions() if p["order"] == order["id"]])
    assert len(close_commands(desk)) == 2  # one close each, however many snapshots saw the halt


def test_a_5_percent_daily_loss_makes_the_account_reducing_until_midnight_utc(desk, operator):
    midnight = datetime(2027, 1, 13, tzinfo=UTC)  # a Wednesday
    desk.travel(midnight - timedelta(minutes=2))
    bridge = desk.start_bridge("evening")
    assert desk.risk()["day_open_equity"] == "10000.00"

    # 1.00 lot of gold bought by hand (at the ask, 2000.10), then gold at 1995.00: 5.1 % down, all of it open.
    bridge.control({"open": {"instrument": "XAUUSD", "side": "buy", "volume": "1.00"}},
                   {"price": {"XAUUSD": "1995.00"}})
    state = state_when(desk, "the day's loss", lambda state: state["mode"] == "reducing")
    assert state["day_open_equity"] == "10000.00" and D(state["daily_loss_percent"]) >= 5
    assert D(state["drawdown_percent"]) < 16  # no drawdown warning, let alone a halt
    assert decision(desk.approve(desk.signal())) == ("denied", ["daily-loss"])

    # Until midnight UTC, however the account does.
    desk.travel(midnight - timedelta(seconds=30))
    bridge.control({"price": {"XAUUSD": "2000.00"}})
    state = state_when(desk, "a better snapshot", lambda state: D(state["daily_loss_percent"]) < 1)
    assert state["mode"] == "reducing"
    assert decision(desk.approve(desk.signal())) == ("denied", ["daily-loss"])
    bridge.stop()

    # The next day, with gold down again, it is active again: the day opens at the equity it has.
    desk.travel(midnight + timedelta(seconds=30))
    assert desk.risk()["mode"] == "active"  # from midnight on, before the day's first snapshot
    bridge.write_control({"price": {"XAUUSD": "1995.00"}})  # read by the restarted bridge before it reports
    morning = desk.start_bridge("morning")
    assert morning.logged("control.applied")
    state = desk.risk()
    assert (state["mode"], state["daily_loss_percent"]) == ("active", "0.00")
    assert D(state["day_open_equity"]) < D("9500")
    order = desk.approve(desk.signal())
    assert decision(order) == ("placed", [])
    wait_for("the new position", lambda: [p for p in desk.positions() if p["order"] == order["id"]])

    changes = mode_changes(Api(desk.network.url, "operator"))
    assert moves(changes) == [("active", "reducing", "daily-loss"), ("reducing", "active", "new-day")]
    assert changes[0]["meta"]["until"] == rfc3339(midnight)


# 17:00 in New York is 21:00 UTC in summer (EDT) and 22:00 UTC in winter (EST).
@pytest.mark.parametrize(("friday_close", "sunday_open"), [
    (datetime(2027, 7, 16, 21, 0, tzinfo=UTC), datetime(2027, 7, 18, 21, 0, tzinfo=UTC)),
    (datetime(2027, 1, 15, 22, 0, tzinfo=UTC), datetime(2027, 1, 17, 22, 0, tzinfo=UTC)),
], ids=["july-edt", "january-est"])
def test_fx_and_metals_close_friday_1700_new_york_time_and_reopen_sunday(desk, settings, friday_close,
                                                                         sunday_open):
    settings.MARKET_HOURS_DEFAULT = "fx"

    def gold():
        return desk.signal(instrument="XAUUSD", entry="2000.00", stop="1990.00")

    desk.travel(friday_close - timedelta(minutes=1))
    friday = desk.start_bridge("friday")
    order = desk.approve(desk.signal())
    assert decision(order) == ("placed", [])
    wait_for("the position", desk.positions)

    desk.travel(friday_close)
    for signal in (desk.signal(), gold()):
        assert decision(desk.approve(signal)) == ("denied", ["market-closed"])

    # Sunday: the bridge was restarted on the account it had; closed until 17:00 in New York.
    friday.stop()
    desk.travel(sunday_open - timedelta(minutes=1))
    desk.start_bridge("sunday")
    assert decision(desk.approve(gold())) == ("denied", ["market-closed"])
    desk.travel(sunday_open)
    order = desk.approve(gold())
    assert decision(order) == ("placed", [])
    wait_for("the gold position", lambda: [p for p in desk.positions() if p["order"] == order["id"]])
