"""The rollups kept up to date as positions close: the same as recomputed
from the records, and a close costs its own trades, not the day's."""

from datetime import timedelta
from itertools import groupby

from django.core.management import call_command

from analytics import rollups
from analytics.tests.history import D, closed_trade, day_start, open_account
from execution.models import Position
from tests.fixtures import bearer

# Closed earlier in the day, one a minute, ending on a run of losses that the
# bar's closes below continue or break depending on their (random) ids.
EARLIER = ["12", "-4", "8", "-3", "5", "-6", "9", "-2", "-7", "-1"] * 3
# Closed at one bar's time, each in its own fills call, as the paper bridge does.
AT_THE_BAR = ["-5", "-7", "3", "-2", "-9", "4", "-1", "-6", "0", "-3", "-8", "2"]


def longest_loss_run(pnls) -> int:
    return max((len(list(run)) for loss, run in groupby(pnl < 0 for pnl in pnls) if loss), default=0)


def test_positions_closing_at_one_time_fold_as_the_records_say_reading_only_that_time(alice, monkeypatch):
    bridge = open_account(alice)
    noon = day_start(1) + timedelta(hours=12)
    for minute, profit in enumerate(EARLIER):
        closed_trade(bridge, opened=noon - timedelta(hours=2), closed=noon - timedelta(minutes=60 - minute),
                     profit=profit)
    read = []

    def counted(positions):
        positions = list(positions)
        read.append(len(positions))
        return closed_trades(positions)

    closed_trades = rollups.closed_trades
    monkeypatch.setattr(rollups, "closed_trades", counted)
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
