"""The synthetic price sources: minute bars up to the clock's minute."""

from decimal import Decimal

from paperbroker.prices import ConstantPrices, RandomWalkPrices
from paperbroker.tests.conftest import at

TICKS = {"EURUSD": Decimal("0.00001"), "XAUUSD": Decimal("0.01")}


def test_constant_prices_are_flat_minute_bars_from_the_start_up_to_now():
    clock = [at(0.2)]
    source = ConstantPrices({"EURUSD": Decimal("1.08500")}, clock=lambda: clock[0])
    clock[0] = at(3.5)
    assert [b.time for b in source.bars("EURUSD", at(-60), 10)] == [at(0), at(1), at(2), at(3)]
    bars = source.bars("EURUSD", at(0.5), 10)
    assert [b.time for b in bars] == [at(1), at(2), at(3)]
    assert {(b.open, b.high, b.low, b.close) for b in bars} == {(Decimal("1.08500"),) * 4}
    assert source.bars("EURUSD", at(1), 2)[0].time == at(1)  # a bar opening at `since` counts
    assert source.last_bar("EURUSD").time == at(3)
    assert source.last_bar("XAUUSD") is None and source.bars("XAUUSD", at(0), 10) == []


def test_a_moved_constant_price_holds_from_its_moment_on():
    clock = [at(0.2)]
    source = ConstantPrices({"EURUSD": Decimal("1.08500")}, clock=lambda: clock[0])
    source.move("EURUSD", Decimal("1.08600"), at=at(1.25))
    source.move("EURUSD", Decimal("1.08550"), at=at(1.5))
    clock[0] = at(2.5)
    prices = [(b.open, b.high, b.low, b.close) for b in source.bars("EURUSD", at(0), 10)]
    assert prices == [tuple(Decimal(p) for p in bar) for bar in [
        ("1.08500",) * 4,
        ("1.08500", "1.08600", "1.08500", "1.08550"),  # the minute of both moves
        ("1.08550",) * 4]]
    source.move("EURUSD", Decimal("1.08400"), at=at(3))  # on the minute: that bar opens there
    clock[0] = at(3.5)
    assert source.last_bar("EURUSD").open == Decimal("1.08400")


def test_random_walk_is_reproducible_consistent_and_on_the_tick_grid():
    clock = [at(0)]
    start = {"EURUSD": Decimal("1.08500"), "XAUUSD": Decimal("2000.00")}
    source = RandomWalkPrices(start, tick_sizes=TICKS, clock=lambda: clock[0])
    clock[0] = at(60)
    backwards = [source.bar_at("EURUSD", at(minute)) for minute in range(60, -1, -1)][::-1]
    again = RandomWalkPrices(start, tick_sizes=TICKS, clock=lambda: at(0))
    assert [again.bar_at("EURUSD", at(minute)) for minute in range(61)] == backwards

    assert backwards[0].open == Decimal("1.08500")
    for before, after in zip(backwards, backwards[1:]):
        assert after.open == before.close
    for bar in backwards:
        assert bar.low <= min(bar.open, bar.close) <= max(bar.open, bar.close) <= bar.high
        assert all(price % TICKS["EURUSD"] == 0 for price in (bar.open, bar.high, bar.low, bar.close))
    assert len({bar.close for bar in backwards}) > 10  # it moves
    assert source.bars("EURUSD", at(-5), 3)[0].time == at(0)  # nothing before the walk began
