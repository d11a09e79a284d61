"""The whole trading loop over HTTP, with a real paper bridge process: a
producer posts a signed signal with a stop loss, its owner approves it, the
order is sized from the symbol specs and the account snapshot the bridge
sent, the bridge fills it, the fill makes a position, and the owner closes
it. Midway the bridge is killed (SIGKILL) after the platform recorded the
fill but before the bridge learnt so or acknowledged the command; restarted
on the same state file, it sends both again and nothing is counted twice.

The live server, the paper bridge processes and the proxy between them are
tests/live_trading.py's.
"""

import signal
from decimal import Decimal

import pytest
from django.core.management import call_command

from execution.models import Command, Fill, Position
from tests.live_trading import START_BALANCE, desk, started, wait_for  # noqa: F401 (fixtures)

# The signal: EURUSD buy at the constant source's price, its stop 200 ticks below.
ENTRY, STOP, TARGET = Decimal("1.08500"), Decimal("1.08300"), Decimal("1.09000")
TICK_SIZE, TICK_VALUE = Decimal("0.00001"), Decimal("1")  # the paper broker's EURUSD specs
RISK_PERCENT = Decimal("1.0")  # the default risk policy's risk per trade, % of the equity

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_approval_becomes_a_filled_order_a_position_and_a_close_through_a_paper_bridge(desk):
    api, network, bridge = desk.api, desk.network, desk.bridge
    # The bridge sends its symbol specs as it starts, then account snapshots.
    first = desk.start_bridge("first")
    assert first.logged("symbols.sent count=8 updated=8")
    signal_id = desk.signal(entry=str(ENTRY), stop=str(STOP), target=str(TARGET))

    # The platform will record the fill, but its answer is lost, and the network is down from then on.
    network.fail_after("fills")
    approved = desk.approve(signal_id)

    # Sized from the snapshot's equity: risk 1 % of 10,000 over 200 ticks of 1 USD per lot: 0.50 lots.
    budget = START_BALANCE * RISK_PERCENT / 100
    volume = budget / ((ENTRY - STOP) / TICK_SIZE * TICK_VALUE)
    assert volume == Decimal("0.5")
    [order] = wait_for("the filled order", lambda: [o for o in api.get("/api/v1/orders/")["results"]
                                                     if o["status"] == "filled"])
    assert (order["id"], order["signal"], Decimal(order["volume"])) == (approved["id"], signal_id, volume)
    [position] = api.get("/api/v1/positions/?status=open")["results"]
    assert (position["order"], position["signal"], position["origin"]) == (order["id"], signal_id, "platform")
    assert (Decimal(position["volume"]), position["ticket"]) == (volume, order["broker_ticket"])
    assert Decimal(position["open_price"]) == ENTRY + 10 * TICK_SIZE  # the ask: bid + the spread

    # The bridge has the fill and the acknowledgement still to send, on disk: killed now, it loses nothing.
    wait_for("the bridge retrying the fill", lambda: first.logged("call.retry call=fills"))
    assert [report["call"] for report in first.state()["outbox"]] == ["fills", "ack"]
    first.stop(signal.SIGKILL)

    network.restore()
    second = desk.start_bridge("second")
    wait_for("the acknowledgement sent again", lambda: second.logged("ack.sent"))
    assert second.answers("fills") == [{"inserted": 0, "duplicates": 1}]  # the fill, recognised
    # The outbox is saved after the line is logged: wait for the file, not the log.
    wait_for("the outbox emptied on disk", lambda: second.state()["outbox"] == [])
    [position] = api.get("/api/v1/positions/?status=open")["results"]
    assert Decimal(position["volume"]) == volume

    status, command = api.call("POST", f"/api/v1/positions/{position['id']}/close/")
    assert status == 202, command
    assert (command["type"], command["reason"], command["position_ticket"]) == ("close", "user", position["ticket"])

    def closed_position():
        shown = api.get(f"/api/v1/positions/{position['id']}/")
        return shown if shown["status"] == "closed" else None

    closed = wait_for("the closed position", closed_position)
    second.stop()

    # What the broker booked: its balance moved by every deal's profit, commission and swap.
    booked = Decimal(second.state()["balance"]) - START_BALANCE
    assert booked == Decimal("-8.50")  # 10 points of spread on 0.50 lots (-5.00), 1.75 commission in and out
    assert (closed["close_reason"], Decimal(closed["volume"]), Decimal(closed["realized_pnl"])) == (
        "user", Decimal(0), booked)
    fills = Fill.objects.filter(bridge=bridge)
    assert fills.count() == 2
    assert sum(fill.profit + fill.commission + fill.swap for fill in fills) == booked
    stored = Position.objects.get(bridge=bridge)
    assert (stored.opened_volume, stored.close_price) == (volume, ENTRY)
    assert dict(Command.objects.filter(bridge=bridge).values_list("type", "status")) == {
        "open": "executed", "close": "executed"}
    # The performance figures the events kept count it, and agree with the records.
    summary = api.get("/api/v1/analytics/summary/")
    assert (summary["trades"], summary["losses"], Decimal(summary["net_profit"])) == (1, 1, booked)
    call_command("recompute_analytics")
