"""Pairing the broker's open positions with the books' and comparing each
pair: pure functions, no database.

A reported position is paired with a booked one by the broker's ticket,
then by the client order id (a position the broker numbered differently),
then by instrument and side, oldest first on both sides. The last pass never
takes a reported position that names a platform order: that one belongs to
its own order, whatever else is open.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.utils.dateparse import parse_datetime

from execution.ledger import BUY

# "Average open price off by more than 0.01 %".
PRICE_TOLERANCE = Decimal("0.0001")
CENT = Decimal("0.01")
VOLUME_MISMATCH, PRICE_MISMATCH = "volume_mismatch", "price_mismatch"


def _decimal(value) -> Decimal | None:
    return None if value is None else Decimal(str(value))


@dataclass(frozen=True)
class Reported:
    """One open position as the broker reported it in a snapshot (the
    snapshot keeps numbers as decimal strings and times as RFC 3339 text)."""

    ticket: str
    client_order_id: str | None
    instrument: str
    side: str
    volume: Decimal
    open_price: Decimal
    open_time: datetime
    stop_loss: Decimal | None
    take_profit: Decimal | None
    profit: Decimal | None

    @classmethod
    def parse(cls, data: dict) -> "Reported":
        open_time = data["open_time"]
        return cls(ticket=str(data["ticket"]), client_order_id=data.get("client_order_id") or None,
                   instrument=data["instrument"].strip().upper(), side=data["side"],
                   volume=_decimal(data["volume"]), open_price=_decimal(data["open_price"]),
                   open_time=parse_datetime(open_time) if isinstance(open_time, str) else open_time,
                   stop_loss=_decimal(data.get("stop_loss")), take_profit=_decimal(data.get("take_profit")),
                   profit=_decimal(data.get("profit")))


@dataclass(frozen=True)
class Booked:
    """One open position of the books, as far as the comparison needs it;
    `position` is whatever the caller keeps for it (its database row)."""

    ticket: str
    client_order_id: str | None
    instrument: str
    side: str
    volume: Decimal
    open_price: Decimal
    open_time: datetime
    position: Any = field(compare=False)


@dataclass
class Pairing:
    pairs: list[tuple[Booked, Reported]] = field(default_factory=list)
    missing: list[Booked] = field(default_factory=list)  # booked, not reported
    unknown: list[Reported] = field(default_factory=list)  # reported, not booked


def pair(booked: list[Booked], reported: list[Reported], *, platform_orders: set[str]) -> Pairing:
    """Pairs each reported position with at most one booked position (see the
    module's docstring). `platform_orders`: the client order ids of the
    platform's orders among the reported ones."""
    result = Pairing()
    left = {id(position): position for position in booked}
    unmatched = reported
    for attribute in ("ticket", "client_order_id"):
        by_key = {}
        for position in left.values():
            if (key := getattr(position, attribute)) is not None:
                by_key.setdefault(key, position)
        still = []
        for position in unmatched:
            key = getattr(position, attribute)
            found = by_key.pop(key, None) if key is not None else None
            if found is None:
                still.append(position)
            else:
                result.pairs.append((found, position))
                del left[id(found)]
        unmatched = still

    # Instrument and side: oldest with oldest.
    candidates = defaultdict(list)
    for position in sorted(left.values(), key=_age):
        candidates[position.instrument, position.side].append(position)
    for position in sorted(unmatched, key=_age):
        waiting = candidates[position.instrument, position.side]
        if position.client_order_id in platform_orders or not waiting:
            result.unknown.append(position)
        else:
            found = waiting.pop(0)
            result.pairs.append((found, position))
            del left[id(found)]
    result.missing = list(left.values())
    return result


def _age(position: Booked | Reported) -> tuple:
    return position.open_time, position.ticket


def differences(booked: Booked, reported: Reported) -> list[str]:
    """The mismatch kinds of a pair: none when they agree. A pair made by
    ticket or client order id may still disagree on the side or the
    instrument: the exposure the broker holds is then not the one booked,
    whatever the volumes, which the contract's kinds call a volume mismatch
    (signed by side, in another market: not the booked volume at all)."""
    kinds = []
    if booked.volume != reported.volume or booked.side != reported.side or booked.instrument != reported.instrument:
        kinds.append(VOLUME_MISMATCH)
    if abs(reported.open_price - booked.open_price) > booked.open_price * PRICE_TOLERANCE:
        kinds.append(PRICE_MISMATCH)
    return kinds


def expected_profit(booked: Booked, reported: Reported, *, value_per_price_unit: Decimal) -> Decimal | None:
    """The books' P&L for the position at the broker's current price, the
    price the broker's own profit implies (profit = (current - open) x
    volume x value per price unit, negated for a sell); None without a
    reported profit. `value_per_price_unit`: tick value / tick size, in the
    account currency per lot."""
    if reported.profit is None:
        return None
    sign = 1 if booked.side == BUY else -1
    current = reported.open_price + sign * reported.profit / (reported.volume * value_per_price_unit)
    return (sign * (current - booked.open_price) * booked.volume * value_per_price_unit).quantize(CENT)
