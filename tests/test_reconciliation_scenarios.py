"""Reconciliation as a trader lives it, over HTTP with a real paper bridge
process (tests/live_trading.py): positions closed and opened by hand at the
broker, an order filled in parts and a broker that books another price, and
a bridge gone silent. What the broker does by hand comes from the bridge's
control file, as its operator would write it."""

from decimal import Decimal as D

import pytest
from prometheus_client import REGISTRY

from execution import tasks
from execution.models import Fill
from tests.live_trading import Api, decision, desk, started, wait_for  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db(transaction=True)


def sample(name, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def items_of(runs: list[dict], ticket: str) -> list[tuple]:
    """(run index, kind, action, missed snapshots) of each item about `ticket`."""
    return [(index, item["kind"], item["action"], (item["expected"] or {}).get("missed_snapshots"))
            for index, run in enumerate(runs) for item in run["items"] if item["ticket"] == ticket]


def runs_after(desk, run_id: str) -> list[dict]:
    runs = desk.runs()
    return runs[[run["id"] for run in runs].index(run_id) + 1:]


def open_position(desk, **signal) -> dict:
    """The trader approves a signal and the bridge fills it: the position."""
    order = desk.approve(desk.signal(**signal))
    assert decision(order) == ("placed", []), order
    return wait_for("the order's position", lambda: next(
        (p for p in desk.positions() if p["order"] == order["id"]), None))


def test_a_position_closed_by_hand_at_the_broker_is_closed_with_reason_broker_after_three_snapshots(
        desk, operator):
    bridge = desk.start_bridge()
    position = open_position(desk)
    ticket = position["ticket"]
    autoclosed = sample("positions_autoclosed_total", reason="broker")
    missing = sample("reconciliation_divergences_total", kind="missing_at_broker")

    bridge.control({"close": ticket, "report": False})  # closed at the broker; the platform is not told
    # The bridge logs an instruction as applied before it saves its books.
    wait_for("the broker's books without it", lambda: bridge.state()["positions"] == [])

    def closed_position():
        shown = desk.api.get(f"/api/v1/positions/{position['id']}/")
        return shown if shown["status"] == "closed" else None

    closed = wait_for("the position closed by reconciliation", closed_position)
    # No fill says at which price: none is made up; the P&L is what its fills booked (the opening commission).
    assert (closed["close_reason"], closed["close_price"], D(closed["volume"])) == ("broker", None, 0)
    assert D(closed["realized_pnl"]) == D("-1.75")  # 0.50 lot x 3.50
    # Matched while it was there; then missing from three consecutive snapshots: waited for twice, closed at
    # the third, and no longer expected after.
    runs = desk.runs()
    seen = items_of(runs, ticket)
    first = next(index for index, kind, *_ in seen if kind == "missing_at_broker")
    assert {kind for index, kind, *_ in seen if index < first} <= {"match"}
    assert [item for item in seen if item[0] >= first] == [
        (first, "missing_at_broker", "wait", 1), (first + 1, "missing_at_broker", "wait", 2),
        (first + 2, "missing_at_broker", "closed", 3)]
    closing = runs[first + 2]
    assert (closing["status"], closing["time"]) == ("drift", closed["close_time"])
    assert items_of(wait_for("a run after the close", lambda: runs_after(desk, closing["id"])), ticket) == []

    [entry] = Api(desk.network.url, "operator").get(
        f"/api/v1/audit/?action=position.close&target_id={position['id']}")["results"]
    assert (entry["meta"]["close_reason"], entry["meta"]["missed_snapshots"]) == ("broker", 3)
    assert sample("positions_autoclosed_total", reason="broker") == autoclosed + 1
    assert sample("reconciliation_divergences_total", kind="missing_at_broker") == missing + 3


def test_a_position_opened_by_hand_at_the_broker_is_adopted_as_external(desk):
    bridge = desk.start_bridge()
    # Opened at the broker, its deal never reported: only the snapshots show it.
    bridge.control({"open": {"instrument": "EURUSD", "side": "sell", "volume": "0.30"}, "report": False})
    [ticket] = wait_for("the position in the broker's books",
                        lambda: [position["ticket"] for position in bridge.state()["positions"]])

    [adopted] = wait_for("the adopted position", desk.positions)
    assert (adopted["ticket"], adopted["origin"], adopted["order"], adopted["signal"]) == (
        ticket, "external", None, None)
    assert (adopted["side"], D(adopted["volume"]), D(adopted["open_price"])) == ("sell", D("0.30"), D("1.08500"))
    wait_for("a run after the adoption", lambda: len(items_of(desk.runs(), ticket)) > 1)
    assert [(kind, action) for _, kind, action, _ in items_of(desk.runs(), ticket)][:2] == [
        ("unknown_at_broker", "adopted"), ("match", "none")]
    # It is the trader's from now on: it counts for their risk.
    assert desk.risk()["open_positions"] == 1


def test_one_order_filled_in_two_parts_is_one_position_at_the_volume_weighted_price(desk):
    # Every part one slippage step (10 points) further: bid 1.08500 + 10 points of spread + 10, then + 20.
    bridge = desk.start_bridge(slippage="10")
    bridge.control({"partial_next": 1, "parts": 2})
    # 1 % of 10,000 at a stop 500 ticks away: 0.20 lot.
    order_id = open_position(desk, stop="1.08000")["order"]
    order = wait_for("the order filled", lambda: (order := desk.order(order_id))["status"] == "filled" and order)
    assert D(order["volume"]) == D("0.20")
    [position] = desk.positions()
    with desk.network.quiet():
        fills = list(Fill.objects.filter(order_id=order["id"]).order_by("fill_id").values_list("volume", "price"))
    assert fills == [(D("0.10"), D("1.08520")), (D("0.10"), D("1.08530"))]
    assert (D(position["volume"]), D(position["open_price"])) == (D("0.20"), D("1.08525"))
    ticket = position["ticket"]
    assert D(bridge.state()["positions"][0]["open_price"]) == D("1.08525")  # the broker agrees

    # The price rises to 1.09025, and the broker corrects its open price to 1.08550 (0.023 % off): it reports
    # +95.00, where the books, at the price that profit implies, expect +100.00.
    bridge.control({"price": {"EURUSD": "1.09025"}}, {"correct": {"ticket": ticket, "open_price": "1.08550"}})

    def mismatch():
        return next((item for run in desk.runs()[::-1] for item in run["items"]
                     if item["ticket"] == ticket and item["kind"] == "price_mismatch"), None)

    item = wait_for("the price mismatch", mismatch)
    assert (item["action"], item["position"]) == ("review", position["id"])
    assert (item["expected"]["open_price"], item["expected"]["profit"]) == ("1.08525", "100.00")
    assert (item["actual"]["open_price"], item["actual"]["profit"]) == ("1.08550", "95.00")
    # Fills are the truth of what was traded: the books keep their price; the P&L shown is the broker's.
    shown = desk.api.get(f"/api/v1/positions/{position['id']}/")
    assert (D(shown["open_price"]), D(shown["unrealized_pnl"])) == (D("1.08525"), D("95.00"))


def test_a_silent_bridge_makes_the_account_stale_and_its_orders_denied(desk, settings):
    bridge = desk.start_bridge()
    position = open_position(desk)
    assert desk.risk()["stale"] is False

    settings.ACCOUNT_STALE_SECONDS = 3  # from 300: the bridge snapshots every 0.5 s
    bridge.hang()
    wait_for("the account stale", lambda: desk.risk()["stale"])
    assert decision(desk.approve(desk.signal())) == ("denied", ["account-stale"])
    # The task consumer's minute sweep records the silence, once.
    with desk.network.quiet():
        assert tasks.mark_stale_accounts.call_local() == 1
        assert tasks.mark_stale_accounts.call_local() == 0
    [stale] = desk.api.get("/api/v1/reconciliation/?status=stale")["results"]
    assert stale["items"] == []
    # Never read as flat: nothing was missed or closed.
    assert [p["id"] for p in desk.positions()] == [position["id"]]

    bridge.wake()
    wait_for("the account fresh again", lambda: not desk.risk()["stale"])
    assert desk.runs()[-1]["status"] == "ok"
    assert open_position(desk)["origin"] == "platform"
