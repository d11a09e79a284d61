"""The paper broker's arithmetic and decisions, against hand-computed cases.

Costs in these tests (conftest): spread 10 points, slippage 2 points,
commission 7 per lot per deal; EURUSD's tick is 0.00001 and worth 1 dollar
per lot, so a price move of 1 is worth 100,000 dollars per lot."""

import json
from decimal import Decimal

import pytest

from paperbroker.broker import (SYMBOLS, Account, Costs, InstructionError, PaperBroker, exit_hit, profit,
                                split_volume)
from paperbroker.prices import ConstantPrices
from paperbroker.tests.conftest import at, bar, command, new_account, open_command

TICKET = "100001"  # the first ticket of a new account


def reports(broker, call=None):
    return [(item["call"], item["body"]) for item in broker.account.outbox if call in (None, item["call"])]


def fills(broker):
    return [body["fills"][0] for call, body in reports(broker, "fills")]


def acks(broker):
    return [(body["status"], body["broker_ticket"], body["error"]) for _, body in reports(broker, "ack")]


def test_open_fills_at_the_next_bars_open_plus_spread_and_slippage(broker):
    broker.handle_command(open_command(), now=at(1.5))

    # Created 07:00:30: the first bar opening after it is 07:01, open 1.08450;
    # a buy pays 1.08450 + 10 points spread + 2 points slippage.
    assert [call for call, _ in reports(broker)] == ["ack", "fills", "ack"]
    assert acks(broker) == [("accepted", TICKET, ""), ("executed", TICKET, "")]
    assert fills(broker) == [{
        "fill_id": "00000000-0000-4000-8000-000000000001-1", "client_order_id": "tp-" + "0" * 23 + "1",
        "ticket": "100002", "position_ticket": TICKET, "instrument": "EURUSD", "side": "buy", "entry": "in",
        "volume": "0.10", "price": "1.08462", "time": "2026-11-26T07:01:00Z", "commission": "-0.70",
        "swap": "0.00", "profit": "0.00"}]
    assert broker.account.balance == Decimal("9999.30")
    position = broker.account.positions[TICKET]
    assert (position.volume, position.open_price, position.open_time) == (Decimal("0.10"), Decimal("1.08462"),
                                                                         at(1))


def test_without_commission_the_fill_says_zero(prices):
    broker = PaperBroker(new_account(), prices, Costs())
    broker.handle_command(open_command(), now=at(1.5))
    assert (fills(broker)[0]["commission"], fills(broker)[0]["price"]) == ("0.00", "1.08450")


def test_a_sell_gets_the_bid_less_slippage(broker):
    broker.handle_command(open_command(side="sell", stop_loss="1.08700", take_profit="1.08000"), now=at(1.5))
    assert fills(broker)[0]["price"] == "1.08448"
    assert fills(broker)[0]["side"] == "sell"


def test_without_a_later_bar_the_last_close_is_the_price_and_now_the_time(broker):
    broker.handle_command(open_command(created_at="2026-11-26T07:01:30Z"), now=at(1.75))

    fill = fills(broker)[0]
    assert fill["price"] == "1.08512"  # the 07:01 bar's close 1.08500 + 12 points
    assert fill["time"] == "2026-11-26T07:01:45Z"


def test_take_profit_hit_by_a_high_closes_at_the_level_with_the_profit(broker, prices):
    broker.handle_command(open_command(), now=at(1.5))
    broker.account.outbox.clear()
    broker.check_stops(now=at(1.5))
    assert broker.account.outbox == []  # the 07:01 bar: low 1.08300 above the stop, high under the target

    prices.add("EURUSD", bar(2, "1.08500", "1.09010", "1.08480", "1.08990"))
    broker.check_stops(now=at(2.5))

    # (1.09000 - 1.08462) x 0.10 lot x 100,000 = 53.80; commission 0.70 on each deal.
    assert fills(broker) == [{
        "fill_id": f"tp-{TICKET}", "client_order_id": "tp-" + "0" * 23 + "1", "ticket": "100003",
        "position_ticket": TICKET, "instrument": "EURUSD", "side": "sell", "entry": "out", "volume": "0.10",
        "price": "1.09000", "time": "2026-11-26T07:02:00Z", "commission": "-0.70", "swap": "0.00",
        "profit": "53.80"}]
    assert broker.account.positions == {}
    assert broker.account.balance == Decimal("10052.40")


def test_a_sells_stop_is_hit_when_the_ask_reaches_it(broker, prices):
    broker.handle_command(open_command(side="sell", stop_loss="1.08700", take_profit="1.08000"), now=at(1.5))
    broker.account.outbox.clear()
    # The high 1.08695 is under the stop, but the ask (+10 points) is above.
    prices.add("EURUSD", bar(2, "1.08500", "1.08695", "1.08480", "1.08600"))
    broker.check_stops(now=at(2.5))

    # (1.08448 - 1.08700) x 0.10 x 100,000 = -25.20
    [fill] = fills(broker)
    assert (fill["fill_id"], fill["side"], fill["price"], fill["profit"]) == (f"sl-{TICKET}", "buy", "1.08700",
                                                                              "-25.20")
    assert broker.account.balance == Decimal("10000") - Decimal("0.70") * 2 - Decimal("25.20")


def test_without_spread_the_same_bar_leaves_the_sell_open(prices):
    broker = PaperBroker(new_account(), prices, Costs())
    broker.handle_command(open_command(side="sell", stop_loss="1.08700", take_profit="1.08000"), now=at(1.5))
    prices.add("EURUSD", bar(2, "1.08500", "1.08695", "1.08480", "1.08600"))
    broker.check_stops(now=at(2.5))
    assert TICKET in broker.account.positions


@pytest.mark.parametrize(("side", "candle", "expected"), [
    # A buy with stop 1.08000 and target 1.09000.
    ("buy", ("1.08500", "1.08600", "1.08000", "1.08100"), ("sl", "1.08000")),  # the low touches the stop
    ("buy", ("1.08500", "1.09000", "1.08400", "1.08900"), ("tp", "1.09000")),  # the high touches the target
    ("buy", ("1.08500", "1.09100", "1.07900", "1.08500"), ("sl", "1.08000")),  # both: the stop counts
    ("buy", ("1.07900", "1.08100", "1.07800", "1.08000"), ("sl", "1.07900")),  # gap below the stop: the open
    ("buy", ("1.09100", "1.09200", "1.08900", "1.09000"), ("tp", "1.09100")),  # gap above the target: the open
    ("buy", ("1.08500", "1.08999", "1.08001", "1.08500"), None),
    # A sell with stop 1.09000 and target 1.08000; spread 0.00010 on the closing (buy) side.
    ("sell", ("1.08500", "1.08990", "1.08400", "1.08500"), ("sl", "1.09000")),
    ("sell", ("1.08500", "1.08600", "1.07990", "1.08000"), ("tp", "1.08000")),
    ("sell", ("1.08500", "1.08600", "1.08000", "1.08000"), None),  # the ask 1.08010 stays above the target
])
def test_stop_and_target_hits_by_high_and_low(side, candle, expected):
    stop, target = ("1.08000", "1.09000") if side == "buy" else ("1.09000", "1.08000")
    hit = exit_hit(side=side, stop_loss=Decimal(stop), take_profit=Decimal(target), bar=bar(0, *candle),
                   spread=Decimal("0.00010"))
    assert hit == (None if expected is None else (expected[0], Decimal(expected[1])))


def test_a_position_without_levels_is_never_closed_by_the_bars(broker, prices):
    broker.handle_command(open_command(stop_loss=None, take_profit=None), now=at(1.5))
    prices.add("EURUSD", bar(2, "1.05000", "1.20000", "1.00000", "1.08000"))
    broker.check_stops(now=at(2.5))
    assert TICKET in broker.account.positions


def test_bars_before_the_fill_do_not_count_and_the_newest_is_read_again(broker, prices):
    broker.handle_command(open_command(created_at="2026-11-26T07:01:30Z"), now=at(1.75))  # filled at 07:01:45
    broker.check_stops(now=at(1.75))
    assert TICKET in broker.account.positions  # the 07:01 bar's range was before the fill

    prices.add("EURUSD", bar(2, "1.08500", "1.08700", "1.08400", "1.08600"))
    broker.check_stops(now=at(2.2))
    assert broker.account.positions[TICKET].watch_from == at(2)
    # The 07:02 bar grows: its new high reaches the target.
    prices.series["EURUSD"][-1] = bar(2, "1.08500", "1.09050", "1.08400", "1.09000")
    broker.check_stops(now=at(2.9))
    assert fills(broker)[-1]["fill_id"] == f"tp-{TICKET}"


def test_profit_in_the_account_currency():
    # Hand-computed: gold is 100 oz a lot; a yen tick of 0.001 is 100 yen = 0.66667 dollars.
    assert profit(side="sell", volume=Decimal("0.50"), open_price=Decimal("2000.00"),
                  close_price=Decimal("1990.00"), spec=SYMBOLS["XAUUSD"]) == Decimal("500.00")
    assert profit(side="buy", volume=Decimal("1.00"), open_price=Decimal("150.000"),
                  close_price=Decimal("150.500"), spec=SYMBOLS["USDJPY"]) == Decimal("333.34")
    assert profit(side="buy", volume=Decimal("0.10"), open_price=Decimal("1.08462"),
                  close_price=Decimal("1.08000"), spec=SYMBOLS["EURUSD"]) == Decimal("-46.20")


def test_split_volume():
    assert split_volume(Decimal("0.05"), 2) == [Decimal("0.03"), Decimal("0.02")]
    assert split_volume(Decimal("0.10"), 3) == [Decimal("0.04"), Decimal("0.03"), Decimal("0.03")]
    assert split_volume(Decimal("0.01"), 2) == [Decimal("0.01")]


def test_partial_fill_in_separate_deals_with_the_volume_weighted_price(broker):
    broker.apply_instruction({"partial_next": 1, "parts": 2}, now=at(1.5))
    broker.handle_command(open_command(volume="0.05"), now=at(1.5))

    assert [call for call, _ in reports(broker)] == ["ack", "fills", "fills", "ack"]
    # Each part one slippage step further: 1.08462 for 0.03, then 1.08464 for 0.02.
    assert [(f["fill_id"][-2:], f["volume"], f["price"]) for f in fills(broker)] == [
        ("-1", "0.03", "1.08462"), ("-2", "0.02", "1.08464")]
    # (0.03 x 1.08462 + 0.02 x 1.08464) / 0.05
    assert broker.account.positions[TICKET].open_price == Decimal("1.084628")
    assert broker.account.balance == Decimal("10000") - Decimal("0.21") - Decimal("0.14")

    broker.account.outbox.clear()
    broker.handle_command(open_command(2, volume="0.05"), now=at(1.5))
    assert len(fills(broker)) == 1  # only the next order was split


def test_an_expired_open_is_rejected_and_nothing_is_traded(broker):
    broker.handle_command(open_command(expires_at="2026-11-26T07:01:00Z"), now=at(1.5))
    assert acks(broker) == [("rejected", None, "expired")]
    assert broker.account.positions == {} and broker.account.next_ticket == int(TICKET)


@pytest.mark.parametrize(("fields", "error"), [
    ({"volume": "0.005"}, "invalid volume 0.005: 0.01 to 100 lots in steps of 0.01"),
    ({"volume": "100.01"}, "invalid volume 100.01: 0.01 to 100 lots in steps of 0.01"),
    ({"instrument": "BTCUSD"}, "BTCUSD is not traded at this broker"),
    ({"instrument": "GBPUSD"}, "no price for GBPUSD"),
])
def test_an_open_the_broker_cannot_fill_is_rejected(broker, fields, error):
    broker.handle_command(open_command(**fields), now=at(1.5))
    assert acks(broker) == [("rejected", None, error)]
    assert broker.account.positions == {}


def test_a_malformed_command_is_acknowledged_failed(broker):
    broker.handle_command(open_command(volume=0.1), now=at(1.5))
    broker.handle_command(command(2, "explode"), now=at(1.5))
    assert acks(broker) == [("failed", None, "malformed command: volume is not a decimal string"),
                            ("failed", None, "malformed command: unknown type 'explode'")]


def test_a_command_is_carried_out_once(broker):
    broker.handle_command(open_command(), now=at(1.5))
    before = json.dumps(broker.account.to_json())
    broker.handle_command(open_command(), now=at(1.6))
    assert json.dumps(broker.account.to_json()) == before


def test_a_new_command_for_a_filled_order_reports_the_existing_position(broker):
    broker.handle_command(open_command(), now=at(1.5))
    broker.account.outbox.clear()
    broker.handle_command(open_command(2, client_order_id=open_command()["client_order_id"]), now=at(1.5))
    assert acks(broker) == [("accepted", TICKET, ""), ("executed", TICKET, "")]
    assert fills(broker) == [] and len(broker.account.positions) == 1


def test_close_command_closes_the_remaining_volume_at_the_market(broker, prices):
    broker.handle_command(open_command(), now=at(1.5))
    broker.account.outbox.clear()
    prices.add("EURUSD", bar(3, "1.08600", "1.08700", "1.08500", "1.08650"))
    broker.handle_command(command(2, "close", position_ticket=TICKET, reason="user",
                                  created_at="2026-11-26T07:02:10Z"), now=at(3.2))

    # The first bar after 07:02:10 opens at 1.08600; a sell gets it less 2 points slippage:
    # (1.08598 - 1.08462) x 0.10 x 100,000 = 13.60
    [fill] = fills(broker)
    assert (fill["fill_id"], fill["entry"], fill["side"], fill["volume"], fill["price"], fill["profit"],
            fill["time"]) == ("00000000-0000-4000-8000-000000000002-1", "out", "sell", "0.10", "1.08598", "13.60",
                              "2026-11-26T07:03:00Z")
    assert acks(broker) == [("executed", TICKET, "")]
    assert broker.account.positions == {}


def test_close_command_for_a_position_that_is_not_open_fails(broker):
    broker.handle_command(command(2, "close", position_ticket="999"), now=at(1.5))
    assert acks(broker) == [("failed", None, "position 999 is not open")]


def test_cancel_before_a_fill_is_executed_after_it_rejected(broker):
    broker.handle_command(command(2, "cancel", client_order_id="tp-never-seen"), now=at(1.5))
    broker.handle_command(open_command(), now=at(1.5))
    broker.account.outbox.clear()
    broker.handle_command(command(3, "cancel", client_order_id=open_command()["client_order_id"]), now=at(1.5))
    assert acks(broker) == [("rejected", None, f"order {open_command()['client_order_id']} already filled "
                                               f"(position {TICKET})")]


def test_snapshot_marks_positions_to_market(broker):
    broker.handle_command(open_command(), now=at(1.5))  # buy 0.10 at 1.08462
    broker.handle_command(open_command(2, side="sell", volume="0.20"), now=at(1.5))  # sell 0.20 at 1.08448

    snapshot = broker.snapshot(now=at(1.75))

    # Last close 1.08500: the buy closes at the bid, (1.08500 - 1.08462) x 0.10 x 100,000 = 3.80;
    # the sell at the ask 1.08510, (1.08448 - 1.08510) x 0.20 x 100,000 = -12.40.
    # Balance 10000 - 0.70 - 1.40; equity 9997.90 + 3.80 - 12.40;
    # margin (0.10 x 1.08462 + 0.20 x 1.08448) x 100,000 / 100 = 325.358.
    assert snapshot == {
        "time": "2026-11-26T07:01:45Z", "currency": "USD", "balance": "9997.90", "equity": "9989.30",
        "margin_free": "9663.94",
        "positions": [
            {"ticket": TICKET, "client_order_id": open_command()["client_order_id"], "instrument": "EURUSD",
             "side": "buy", "volume": "0.10", "open_price": "1.08462000", "open_time": "2026-11-26T07:01:00Z",
             "stop_loss": "1.08000", "take_profit": "1.09000", "profit": "3.80"},
            {"ticket": "100003", "client_order_id": open_command(2)["client_order_id"], "instrument": "EURUSD",
             "side": "sell", "volume": "0.20", "open_price": "1.08448000", "open_time": "2026-11-26T07:01:00Z",
             "stop_loss": "1.08000", "take_profit": "1.09000", "profit": "-12.40"}]}


def test_control_reject_next(broker):
    broker.apply_instruction({"reject_next": 1}, now=at(1.5))
    broker.handle_command(open_command(), now=at(1.5))
    broker.handle_command(open_command(2), now=at(1.5))
    assert [status for status, _, _ in acks(broker)] == ["rejected", "accepted", "executed"]
    assert acks(broker)[0][2] == "rejected on request (control file)"


def test_control_open_by_hand_has_no_client_order_id(broker):
    broker.apply_instruction({"open": {"instrument": "EURUSD", "side": "sell", "volume": "0.30"}}, now=at(1.75))
    [fill] = fills(broker)
    assert (fill["fill_id"], fill["client_order_id"], fill["entry"], fill["price"]) == (
        f"manual-open-{TICKET}", None, "in", "1.08498")
    assert broker.snapshot(now=at(1.75))["positions"][0]["client_order_id"] is None


@pytest.mark.parametrize("report", [True, False])
def test_control_close_by_hand(broker, report):
    broker.handle_command(open_command(), now=at(1.5))
    broker.account.outbox.clear()
    broker.apply_instruction({"close": TICKET, "report": report}, now=at(1.75))

    # At the last close 1.08500 less slippage: (1.08498 - 1.08462) x 0.10 x 100,000 = 3.60.
    assert broker.account.positions == {}
    assert broker.account.balance == Decimal("10000") - Decimal("1.40") + Decimal("3.60")
    if report:
        assert [(f["fill_id"], f["profit"]) for f in fills(broker)] == [(f"manual-close-{TICKET}", "3.60")]
    else:
        assert broker.account.outbox == []
    assert broker.snapshot(now=at(1.75))["positions"] == []


def test_control_open_by_hand_unreported(broker):
    broker.apply_instruction({"open": {"instrument": "EURUSD", "side": "buy", "volume": "0.10"}, "report": False},
                             now=at(1.75))
    assert broker.account.outbox == []
    [position] = broker.snapshot(now=at(1.75))["positions"]
    assert (position["ticket"], position["client_order_id"], position["volume"]) == (TICKET, None, "0.10")


@pytest.fixture
def constant():
    """A broker on the constant source (EURUSD at 1.08500), without costs, its clock at 07:01:30."""
    return PaperBroker(new_account(), ConstantPrices({"EURUSD": Decimal("1.08500")}, clock=lambda: at(1.5)))


def test_control_price_moves_the_constant_source_from_now_on(constant):
    constant.apply_instruction({"open": {"instrument": "EURUSD", "side": "buy", "volume": "0.10"}}, now=at(1.5))
    constant.apply_instruction({"price": {"EURUSD": "1.08400"}}, now=at(1.5))
    # 0.10 lot bought at 1.08500, marked at 1.08400: -10.00; the minute's bar went from one price to the other.
    assert constant.snapshot(now=at(1.5))["positions"][0]["profit"] == "-10.00"
    assert constant.prices.last_bar("EURUSD") == bar(1, "1.08500", "1.08500", "1.08400", "1.08400")


def test_control_price_needs_the_constant_source(broker):
    with pytest.raises(InstructionError, match="only the constant price source"):
        broker.apply_instruction({"price": {"EURUSD": "1.08400"}}, now=at(1.5))


def test_control_correct_changes_the_open_price_without_a_deal(constant):
    constant.apply_instruction({"open": {"instrument": "EURUSD", "side": "buy", "volume": "0.20"}}, now=at(1.5))
    constant.account.outbox.clear()
    constant.apply_instruction({"correct": {"ticket": TICKET, "open_price": "1.08525"}}, now=at(1.5))
    assert constant.account.outbox == [] and constant.account.balance == Decimal("10000")
    [position] = constant.snapshot(now=at(1.5))["positions"]
    assert (position["open_price"], position["profit"]) == ("1.08525", "-5.00")


@pytest.mark.parametrize("instruction", [
    {"close": "999"}, {"open": {"instrument": "EURUSD", "side": "up", "volume": "0.1"}},
    {"open": {"instrument": "EURUSD"}}, {"reject_next": -1}, {"partial_next": 1, "parts": 1},
    {"halt": True}, {"reject_next": 1, "open": {}}, ["reject_next"],
    {"open": {"instrument": "EURUSD", "side": "buy", "volume": "0.10"}, "report": "no"},
    {"price": {"EURUSD": "0"}}, {"price": {"EURUSD": "1.085001"}}, {"price": {"BTCUSD": "60000.00"}},
    {"price": {"EURUSD": 1.085}}, {"price": {}}, {"price": {"EURUSD": "1.08400", "XAUUSD": "2000.00"}},
    {"correct": {"ticket": "999", "open_price": "1.08400"}}, {"correct": {"ticket": TICKET}},
    {"correct": {"ticket": TICKET, "open_price": "NaN"}},
])
def test_a_bad_instruction_changes_nothing(constant, instruction):
    constant.apply_instruction({"open": {"instrument": "EURUSD", "side": "buy", "volume": "0.10"}}, now=at(1.5))
    before = json.dumps(constant.account.to_json()), list(constant.prices.steps["EURUSD"])
    with pytest.raises(InstructionError):
        constant.apply_instruction(instruction, now=at(1.5))
    assert (json.dumps(constant.account.to_json()), constant.prices.steps["EURUSD"]) == before


def test_account_json_round_trip(broker):
    broker.apply_instruction({"reject_next": 2}, now=at(1.5))
    broker.handle_command(open_command(), now=at(1.5))
    broker.apply_instruction({"reject_next": 0}, now=at(1.5))
    broker.handle_command(open_command(2), now=at(1.5))
    broker.account.control_offset = 42

    restored = Account.from_json(json.loads(json.dumps(broker.account.to_json())))
    assert restored == broker.account
