"""Pairing the broker's positions with the books' and comparing a pair:
the pure functions under reconciliation."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

from execution.matching import Booked, Reported, differences, expected_profit, pair

T0 = datetime(2026, 11, 26, 7, 0, tzinfo=UTC)


def booked(ticket, *, client_order_id=None, side="buy", volume="0.10", open_price="1.08450", minute=0):
    return Booked(ticket=ticket, client_order_id=client_order_id, instrument="EURUSD", side=side,
                  volume=D(volume), open_price=D(open_price), open_time=T0 + timedelta(minutes=minute),
                  position=ticket)


def reported(ticket, *, client_order_id=None, side="buy", volume="0.10", open_price="1.08450", minute=0,
             profit="0"):
    return Reported.parse({"ticket": ticket, "client_order_id": client_order_id, "instrument": "eurusd",
                           "side": side, "volume": volume, "open_price": open_price,
                           "open_time": (T0 + timedelta(minutes=minute)).isoformat(), "profit": profit})


def tickets(pairing):
    return ([(b.ticket, r.ticket) for b, r in pairing.pairs], [b.ticket for b in pairing.missing],
            [r.ticket for r in pairing.unknown])


def test_a_ticket_pairs_before_a_client_order_id_and_that_before_instrument_and_side():
    books = [booked("1"), booked("2", client_order_id="tp-b"), booked("3", minute=5), booked("4", minute=1),
             booked("S", side="sell")]
    broker = [reported("1", client_order_id="tp-b"), reported("B", client_order_id="tp-b"), reported("Z", minute=2),
              reported("X", minute=0), reported("Y", side="sell", volume="0.20")]
    # By instrument and side the oldest pair first: 4 (minute 1) with X (minute 0), 3 with Z.
    assert tickets(pair(books, broker, platform_orders=set())) == (
        [("1", "1"), ("2", "B"), ("4", "X"), ("S", "Y"), ("3", "Z")], [], [])
    assert tickets(pair(books[:4], broker, platform_orders=set())) == (
        [("1", "1"), ("2", "B"), ("4", "X"), ("3", "Z")], [], ["Y"])


def test_a_position_naming_a_platform_order_is_never_paired_by_instrument_and_side():
    books = [booked("1")]
    broker = [reported("7001", client_order_id="tp-late")]
    assert tickets(pair(books, broker, platform_orders={"tp-late"})) == ([], ["1"], ["7001"])
    assert tickets(pair(books, broker, platform_orders=set())) == ([("1", "7001")], [], [])


def test_other_sides_and_instruments_never_pair():
    assert tickets(pair([booked("1", side="sell")], [reported("2")], platform_orders=set())) == ([], ["1"], ["2"])


def test_differences_are_the_volume_and_a_price_off_by_more_than_a_hundredth_of_a_percent():
    position = booked("1", open_price="1.00000")
    assert differences(position, reported("1", open_price="1.00010")) == []
    assert differences(position, reported("1", open_price="0.99990")) == []
    assert differences(position, reported("1", open_price="1.00011")) == ["price_mismatch"]
    assert differences(position, reported("1", volume="0.11", open_price="0.99980")) == [
        "volume_mismatch", "price_mismatch"]


def test_the_books_profit_is_taken_at_the_price_the_brokers_profit_implies():
    per_price_unit = D("100000")  # EURUSD: 1 USD per lot per tick of 0.00001
    # A sell opened at 1.08500 in the books, 1.08520 at the broker, which reports +10.00 on 0.50 lot:
    # the price is now 1.08500, where the books' sell is flat.
    assert expected_profit(booked("1", side="sell", volume="0.50", open_price="1.08500"),
                           reported("1", side="sell", volume="0.50", open_price="1.08520", profit="10.00"),
                           value_per_price_unit=per_price_unit) == D("0.00")
    # The broker's volume differs: the books' P&L is for the books' volume.
    assert expected_profit(booked("1", volume="0.20"), reported("1", volume="0.10", profit="5.00"),
                           value_per_price_unit=per_price_unit) == D("10.00")
    assert expected_profit(booked("1"), reported("1", profit=None), value_per_price_unit=per_price_unit) is None
