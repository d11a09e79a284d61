"""A position's figures from its fills: pure functions, no database.

The fills are folded in one deterministic order, whatever order they arrived
in: by time, and within a second its `in` fills before its `out` fills (a
deal that opens and one that closes in the same second: brokers' deal ids,
as text, need not sort in the order they were made), then by fill_id. So
duplicates, replays and late arrivals leave the same figures: prices are
volume-weighted averages, money is summed.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol, Sequence
from uuid import UUID

from core.model_fields import DECIMAL_MAX_DIGITS, DECIMAL_PLACES

QUANTUM = Decimal(1).scaleb(-DECIMAL_PLACES)
# A position's figures are stored in decimal columns of this many digits
# before the point: sums of fills that each fit can still exceed it.
STORABLE_BELOW = Decimal(10) ** (DECIMAL_MAX_DIGITS - DECIMAL_PLACES)
BUY, SELL = "buy", "sell"
IN, OUT = "in", "out"


class FillLike(Protocol):
    fill_id: str
    order_id: UUID | None
    side: str
    entry: str
    volume: Decimal
    price: Decimal
    time: datetime
    commission: Decimal
    swap: Decimal
    profit: Decimal


@dataclass(frozen=True)
class PositionFigures:
    side: str  # of its first in fill
    volume: Decimal  # open now
    opened_volume: Decimal
    open_price: Decimal
    open_time: datetime
    close_price: Decimal | None  # over the out fills so far
    close_time: datetime | None  # of the out fill that closed it
    realized_pnl: Decimal
    commission: Decimal
    swap: Decimal
    order_id: UUID | None  # of the first in fill that names an order
    flat_fill_id: str | None = None  # of the last out fill that left nothing open (the end of a life)

    @property
    def closed(self) -> bool:
        return self.volume == 0


class VolumeOverdrawn(Exception):
    """An out fill took the open volume below zero: `fills[at]` in the
    chronological order, the fills folded up to there."""

    def __init__(self, fills: list, at: int):
        super().__init__(f"fill {fills[at].fill_id} closes more than is open")
        self.fills, self.at = fills, at


def chronological(fills: Sequence[FillLike]) -> list:
    return sorted(fills, key=lambda fill: (fill.time, fill.entry == OUT, fill.fill_id))


def unstorable(figures: PositionFigures) -> str | None:
    """The name of the first figure too large to store, if any."""
    return next((name for name in ("volume", "opened_volume", "realized_pnl", "commission", "swap")
                 if abs(getattr(figures, name)) >= STORABLE_BELOW), None)


def _average(value: Decimal, volume: Decimal) -> Decimal:
    return (value / volume).quantize(QUANTUM)


def fold(fills: Sequence[FillLike]) -> PositionFigures:
    """The figures of the position these fills make (at least one, all of
    one position). Raises VolumeOverdrawn when, in chronological order, more
    is closed than was open at that moment."""
    ordered = chronological(fills)
    volume = opened = closed = opened_value = closed_value = money = commission = swap = Decimal(0)
    first_in = close_time = order_id = flat_fill_id = None
    for index, fill in enumerate(ordered):
        if fill.entry == IN:
            volume += fill.volume
            opened += fill.volume
            opened_value += fill.volume * fill.price
            first_in = first_in or fill
            order_id = order_id or fill.order_id
        else:
            volume -= fill.volume
            if volume < 0:
                raise VolumeOverdrawn(ordered, index)
            closed += fill.volume
            closed_value += fill.volume * fill.price
            close_time = fill.time
            if volume == 0:
                flat_fill_id = fill.fill_id
        money += fill.profit + fill.commission + fill.swap
        commission += fill.commission
        swap += fill.swap
    return PositionFigures(
        side=first_in.side, volume=volume, opened_volume=opened, open_price=_average(opened_value, opened),
        open_time=first_in.time, close_price=_average(closed_value, closed) if closed else None,
        close_time=close_time if volume == 0 else None, realized_pnl=money, commission=commission, swap=swap,
        order_id=order_id, flat_fill_id=flat_fill_id,
    )


def close_reason(*, side: str, close_price: Decimal, stop_loss: Decimal | None, take_profit: Decimal | None,
                 requested: str | None) -> str:
    """Why a position closed: the reason the platform asked for it to be
    closed with, else the stop or the target its close price reached, else
    by hand at the broker."""
    if requested:
        return requested
    sign = 1 if side == BUY else -1
    if stop_loss is not None and sign * (close_price - stop_loss) <= 0:
        return "stop_loss"
    if take_profit is not None and sign * (close_price - take_profit) >= 0:
        return "take_profit"
    return "manual"
