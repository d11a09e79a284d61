"""Order sizing: pure functions of Decimals.

The risk budget is equity x risk % / 100; the stop is |entry - stop| / tick
size ticks away, rounded UP to whole ticks (a broker places a stop on its
tick grid, so a stop 39.6 ticks away loses 40 ticks, and one closer than a
tick loses a whole one); the volume is budget / (ticks x tick value), capped
at the broker's maximum and rounded DOWN to a whole number of volume steps
(n x step, as MT5 counts them), so that a stop hit never loses more than the
budget. Below the broker's minimum the order is denied (risk.checks).
"""

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal


@dataclass(frozen=True)
class SymbolSpec:
    """The broker's contract specification; `tick_value` is in the account
    currency per lot per tick."""

    tick_size: Decimal
    tick_value: Decimal
    volume_min: Decimal
    volume_step: Decimal
    volume_max: Decimal


def ticks_to_stop(*, entry_price: Decimal, stop_loss: Decimal, spec: SymbolSpec) -> Decimal:
    """Whole ticks from the entry to the stop, rounded up (0 for a stop at the entry)."""
    return (abs(entry_price - stop_loss) / spec.tick_size).to_integral_value(rounding=ROUND_CEILING)


def order_volume(*, equity: Decimal, risk_percent: Decimal, entry_price: Decimal, stop_loss: Decimal,
                 spec: SymbolSpec) -> Decimal:
    """The volume (lots) that loses `risk_percent` of `equity` at the stop,
    capped at `volume_max` and rounded down to a multiple of `volume_step`.
    May be below `volume_min` (even 0): the checks deny that."""
    budget = equity * risk_percent / 100
    loss_per_lot = ticks_to_stop(entry_price=entry_price, stop_loss=stop_loss, spec=spec) * spec.tick_value
    if loss_per_lot <= 0 or budget <= 0:  # a stop at the entry, or no equity: nothing has a bounded loss
        return Decimal(0)
    volume = min(budget / loss_per_lot, spec.volume_max)
    steps = (volume / spec.volume_step).to_integral_value(rounding=ROUND_FLOOR)
    return steps * spec.volume_step


def initial_risk(*, volume: Decimal, entry_price: Decimal, stop_loss: Decimal, spec: SymbolSpec) -> Decimal:
    """Money lost if the stop is hit: volume x ticks to the stop x tick value."""
    return volume * ticks_to_stop(entry_price=entry_price, stop_loss=stop_loss, spec=spec) * spec.tick_value
