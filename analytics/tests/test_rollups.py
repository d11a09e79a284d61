"""The rollups kept up to date as positions close: the same as recomputed
from the records, and a close costs its own trades, not the day's."""

from datetime import timedelta
from itertools import groupby

import pytest
from django.core.management import call_command

from analytics import rollups
from analytics import services as analytics_services
from analytics.tests import history
from analytics.tests.history import D, _fill, closed_trade, day_start, open_account
from execution import services
from execution.models import Position
from execution.tests.bridge_api import (  # noqa: F401 (fixtures)
    BridgeClient,
    account_json,
    bridge,
    bridge_and_secret,
    fill_json,
    signed,
)
from execution.tests.test_reconciliation import HOUR_AGO, Broker
from tests.fixtures import bearer

# Closed earlier in the day, one a minute, ending on a run of losses that the
# bar's closes below continue or break depending on their (random) ids.
EARLIER = ["12", "-4", "8", "-3", "5", "-6", "9", "-2", "-7", "-1"] * 3
# Closed at one bar's time, each in its own fills call, as the paper bridge does.
AT_THE_BAR = ["-5", "-7", "3", "-2", "-9", "4", "-1", "-6", "0", "-3", "-8", "2"]


def longest_loss_run(pnls) -> int:
    return max((len(list(run)) for loss, run in groupby(pnl < 0 for pnl in pnls) if loss), default=0)


def trades_made(monkeypatch) -> list[int]:
    """From now on, how many positions each call makes into trades
    (`rollups.closed_trades`), in a list that grows as they are made."""
    made, closed_trades = [], rollups.closed_trades

    def counted(positions):
        positions = list(positions)
        made.append(len(positions))
        return closed_trades(positions)

    monkeypatch.setattr(rollups, "closed_trades", counted)
    return made


def test_positions_closing_at_one_time_fold_as_the_records_say_reading_only_that_time(alice, monkeypatch):
    bridge = open_account(alice)
    noon = day_start(1) + timedelta(hours=12)
    for minute, profit in enumerate(EARLIER):
        closed_trade(bridge, opened=noon - timedelta(hours=2), closed=noon - timedelta(minutes=60 - minute),
                     profit=profit)
    read = trades_made(monkeypatch)
    for profit in AT_THE_BAR:
        closed_trade(bridge, opened=noon - timedelta(hours=1), closed=noon, profit=profit)
    # Some closes sorted before one already folded (their ids are random:
    # all twelve in increasing order is a chance of one in 479 million) and
    # read that bar's closes again, never the day's.
    assert max(read) > 1
    assert max(read) <= len(AT_THE_BAR)
    monkeypatch.undo()

    call_command("recompute_analytics")  # raises on any difference
    pnls = Position.objects.filter(bridge=bridge).order_by("close_time", "id").values_list("realized_pnl", flat=True)
    body = bearer(alice).get("/api/v1/analytics/summary/").json()
    assert body["trades"] == len(EARLIER) + len(AT_THE_BAR)
    assert body["max_consecutive_losses"] == longest_loss_run(pnls)
    assert D(body["net_profit"]) == sum(D(profit) for profit in EARLIER + AT_THE_BAR)


def test_a_position_closed_before_the_last_folded_time_folds_the_day_again(alice):
    bridge = open_account(alice)
    noon = day_start(1) + timedelta(hours=12)
    for offset, profit in [(0, "-1"), (0, "-2"), (-30, "-3"), (-30, "4"), (10, "-5"), (-60, "-6")]:
        closed_trade(bridge, opened=noon - timedelta(hours=2), closed=noon + timedelta(minutes=offset),
                     profit=profit)
    call_command("recompute_analytics")
    pnls = Position.objects.filter(bridge=bridge).order_by("close_time", "id").values_list("realized_pnl", flat=True)
    assert bearer(alice).get("/api/v1/analytics/summary/").json()["max_consecutive_losses"] == longest_loss_run(pnls)


def test_a_call_closing_among_the_folded_counts_the_day_in_order_without_reading_its_trades(alice, monkeypatch):
    bridge = open_account(alice)
    noon = day_start(1) + timedelta(hours=12)
    instruments = ["EURUSD", "XAUUSD"]
    for minute, profit in enumerate(EARLIER):
        closed_trade(bridge, opened=noon - timedelta(hours=2), closed=noon - timedelta(minutes=60 - 2 * minute),
                     profit=profit, instrument=instruments[minute % 2])
    read = trades_made(monkeypatch)
    # One bridge call closing positions on both instruments between those
    # already folded, as a bridge catching up after a busy spell sends them.
    fills = []
    for n, profit in enumerate(AT_THE_BAR):
        ticket, instrument = f"late-{n}", instruments[n % 2]
        fills += [_fill(entry="in", ticket=ticket, moment=noon - timedelta(hours=1), instrument=instrument,
                        side="buy"),
                  _fill(entry="out", ticket=ticket, moment=noon - timedelta(minutes=59 - 2 * n),
                        instrument=instrument, side="sell", profit=D(profit))]
    services.record_fills(bridge=bridge, fills=fills)
    assert read == [len(AT_THE_BAR)]  # the call's own positions made into trades, not the day's
    monkeypatch.undo()

    call_command("recompute_analytics")  # raises on any difference, the instruments' rows included
    pnls = Position.objects.filter(bridge=bridge).order_by("close_time", "id").values_list("realized_pnl", flat=True)
    body = bearer(alice).get("/api/v1/analytics/summary/").json()
    assert body["trades"] == len(EARLIER) + len(AT_THE_BAR)
    assert body["max_consecutive_losses"] == longest_loss_run(pnls)


def test_a_strategys_closes_among_the_folded_across_its_accounts_fold_as_the_records_say(make_user, alice, bob,
                                                                                         consent_v1, markets_open):
    olga = make_user("olga")
    producer, accounts = history.public_strategy(olga, (alice, bob))
    noon = day_start(1) + timedelta(hours=12)
    closes = [(0, "-3"), (-40, "5"), (-20, "-2"), (-50, "-4"), (-10, "-1"), (-30, "6"), (-45, "-2"), (-5, "-7")]
    for n, (minutes, profit) in enumerate(closes):
        signal = history.publish(producer, instrument=["EURUSD", "XAUUSD"][n // 2 % 2])
        history.strategy_trade(accounts[n % 2], signal, opened=noon - timedelta(hours=2),
                               closed=noon + timedelta(minutes=minutes), profit=profit)
    call_command("recompute_analytics")  # raises on any difference: the strategy's rows, its instruments' too
    pnls = (Position.objects.filter(order__signal__producer=producer).order_by("close_time", "id")
            .values_list("realized_pnl", flat=True))
    body = bearer(olga).get("/api/v1/analytics/summary/", {"producer": "trend-engine"}).json()
    assert body["trades"] == len(closes)
    assert body["max_consecutive_losses"] == longest_loss_run(pnls) == 4  # -2, -1, -7 and -3, the last four


@pytest.fixture
def broker(signed, shipped_instruments):
    return Broker(signed)


def summary_of(user) -> dict:
    return bearer(user).get("/api/v1/analytics/summary/", {"window": "30d"}).json()


def test_the_closing_deal_arriving_after_reconciliation_closed_the_position_replaces_its_breakeven(broker, alice):
    broker.fills(fill_json("in-9001", position_ticket="9001", time=HOUR_AGO))
    for _ in range(3):  # the broker stops reporting it: closed in the books, reason "broker", P&L 0
        broker.snapshot()
    assert Position.objects.get().status == Position.Status.CLOSED
    assert (summary_of(alice)["trades"], summary_of(alice)["breakeven"]) == (1, 1)

    broker.fills(fill_json("out-9001", entry="out", side="sell", position_ticket="9001", price="1.08550",
                           profit="10.00", time=HOUR_AGO + timedelta(minutes=30)))
    assert Position.objects.get().realized_pnl == D("10.00")
    body = summary_of(alice)
    assert (body["trades"], body["wins"], body["breakeven"], body["net_profit"]) == (1, 1, 0, "10.00")
    assert analytics_services.recompute() == []


def test_a_closed_position_reopened_and_closed_again_by_late_fills_counts_as_one_trade(broker, alice):
    # The broker: in 0.10 at t0, in 0.05 at t1, out 0.10 at t2, out 0.05 at t3; t0 and t2 arrive first.
    t0 = HOUR_AGO
    broker.fills(fill_json("in-a", position_ticket="7001", volume="0.10", time=t0),
                 fill_json("out-a", entry="out", side="sell", position_ticket="7001", volume="0.10",
                           price="1.08550", profit="10.00", time=t0 + timedelta(minutes=20)))
    assert (summary_of(alice)["trades"], summary_of(alice)["net_profit"]) == (1, "10.00")

    broker.fills(fill_json("in-b", position_ticket="7001", volume="0.05", time=t0 + timedelta(minutes=10)))
    assert Position.objects.get().status == Position.Status.OPEN
    assert summary_of(alice)["trades"] == 0  # open again: no closed trade
    assert analytics_services.recompute() == []

    broker.fills(fill_json("out-b", entry="out", side="sell", position_ticket="7001", volume="0.05",
                           price="1.08550", profit="5.00", time=t0 + timedelta(minutes=30)))
    assert Position.objects.count() == 1 and Position.objects.get().realized_pnl == D("15.00")
    assert (summary_of(alice)["trades"], summary_of(alice)["net_profit"]) == (1, "15.00")
    assert analytics_services.recompute() == []
