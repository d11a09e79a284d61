"""Sizing, against figures worked out by hand."""

from decimal import Decimal as D

import pytest

from risk import sizing

EURUSD = sizing.SymbolSpec(tick_size=D("0.00001"), tick_value=D("1"), volume_min=D("0.01"),
                           volume_step=D("0.01"), volume_max=D("100"))
# 100 oz a lot: one 0.01 tick is 1 USD per lot.
XAUUSD = sizing.SymbolSpec(tick_size=D("0.01"), tick_value=D("1"), volume_min=D("0.01"),
                           volume_step=D("0.01"), volume_max=D("50"))
# 100,000 USD a lot: one 0.001 tick is 100 JPY, 0.66116 USD at 151.25.
USDJPY = sizing.SymbolSpec(tick_size=D("0.001"), tick_value=D("0.66116"), volume_min=D("0.01"),
                           volume_step=D("0.01"), volume_max=D("100"))
# An index CFD quoted to 2 decimals whose price moves in 0.25 steps: 12.50 USD a lot a tick.
US500 = sizing.SymbolSpec(tick_size=D("0.25"), tick_value=D("12.5"), volume_min=D("0.01"), volume_step=D("0.01"),
                          volume_max=D("100"))


@pytest.mark.parametrize(("equity", "percent", "entry", "stop", "spec", "volume", "at_risk"), [
    # budget 100; 350 ticks x 1 = 350 a lot; 100 / 350 = 0.2857 -> 0.28; 0.28 x 350 = 98
    (D("10000"), D("1"), D("1.08450"), D("1.08100"), EURUSD, D("0.28"), D("98")),
    # a sell: the stop above the entry counts the same
    (D("10000"), D("1"), D("1.08100"), D("1.08450"), EURUSD, D("0.28"), D("98")),
    # budget 500; 14.50 / 0.01 = 1450 ticks x 1 = 1450 a lot; 500 / 1450 = 0.3448 -> 0.34; 0.34 x 1450 = 493
    (D("25000"), D("2"), D("2350.00"), D("2335.50"), XAUUSD, D("0.34"), D("493")),
    # budget 100; 0.500 / 0.001 = 500 ticks x 0.66116 = 330.58 a lot; 100 / 330.58 = 0.3025 -> 0.30;
    # 0.30 x 330.58 = 99.174
    (D("10000"), D("1"), D("151.250"), D("151.750"), USDJPY, D("0.30"), D("99.174")),
    # budget 10,000; 10,000 / 350 = 28.571 -> 28.57 (under the maximum of 100); 28.57 x 350 = 9999.5
    (D("1000000"), D("1"), D("1.08450"), D("1.08100"), EURUSD, D("28.57"), D("9999.5")),
    # the policy's smallest share: budget 10; 10 / 350 = 0.02857 -> 0.02; 0.02 x 350 = 7
    (D("10000"), D("0.1"), D("1.08450"), D("1.08100"), EURUSD, D("0.02"), D("7")),
    # a stop off the tick grid: 9.90 / 0.25 = 39.6 ticks, and the broker's stop on its grid is 40 away;
    # budget 1,000; 40 x 12.50 = 500 a lot; 1000 / 500 = 2.00 (not 1000 / 495 = 2.02, which loses 1,010)
    (D("100000"), D("1"), D("4500.00"), D("4490.10"), US500, D("2.00"), D("1000")),
    # a stop closer than a tick loses a whole one: 0.10 / 0.25 -> 1 tick of 12.50; budget 100 -> 8.00 lots
    (D("10000"), D("1"), D("4500.00"), D("4499.90"), US500, D("8.00"), D("100")),
])
def test_sizing_matches_the_hand_computed_figures(equity, percent, entry, stop, spec, volume, at_risk):
    sized = sizing.order_volume(equity=equity, risk_percent=percent, entry_price=entry, stop_loss=stop, spec=spec)
    assert sized == volume
    assert sizing.initial_risk(volume=sized, entry_price=entry, stop_loss=stop, spec=spec) == at_risk


def test_volume_is_capped_at_the_maximum():
    # budget 10,000 on 350 a lot: 28.57 lots, above this broker's maximum of 10
    small_max = sizing.SymbolSpec(tick_size=D("0.00001"), tick_value=D("1"), volume_min=D("0.01"),
                                  volume_step=D("0.01"), volume_max=D("10"))
    assert sizing.order_volume(equity=D("1000000"), risk_percent=D("1"), entry_price=D("1.08450"),
                               stop_loss=D("1.08100"), spec=small_max) == D("10")


def test_volume_is_rounded_down_to_whole_steps_never_up():
    coarse = sizing.SymbolSpec(tick_size=D("0.00001"), tick_value=D("1"), volume_min=D("0.1"),
                               volume_step=D("0.1"), volume_max=D("100"))
    # 0.2857 lots on a 0.1 grid: 0.2, although 0.3 is nearer
    assert sizing.order_volume(equity=D("10000"), risk_percent=D("1"), entry_price=D("1.08450"),
                               stop_loss=D("1.08100"), spec=coarse) == D("0.2")


@pytest.mark.parametrize(("equity", "stop"), [
    (D("100"), D("1.08100")),  # budget 1 on 350 a lot: 0.00285 lots, 0 steps of 0.01
    (D("10000"), D("1.08450")),  # a stop at the entry: no volume has a bounded loss
    (D("-50"), D("1.08100")),  # an account under water has no budget
])
def test_no_budget_or_no_distance_to_the_stop_sizes_nothing(equity, stop):
    assert sizing.order_volume(equity=equity, risk_percent=D("1"), entry_price=D("1.08450"), stop_loss=stop,
                               spec=EURUSD) == 0
