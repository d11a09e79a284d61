"""Where the paper broker's prices come from.

A price source answers two questions about an instrument, in bars (open,
high, low and close of the period that starts at `time`):

- `bars(instrument, since, limit)`: the bars starting at or after `since`,
  oldest first, at most `limit` of them;
- `last_bar(instrument)`: the newest bar, or None when there is none.

The broker derives everything else from these two: market fill prices, stop
and target hits, positions marked to market. The stored candles
(`paperbroker.candles`) are the real feed; the two synthetic sources here
need no database and serve tests and demos.
"""

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Protocol

MINUTE = timedelta(minutes=1)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Bar:
    time: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal


class PriceSourceError(Exception):
    """The source cannot answer now (its database is unreachable, say); the
    broker leaves its state as it was and tries again on its next loop."""


class PriceSource(Protocol):
    def bars(self, instrument: str, since: datetime, limit: int) -> list[Bar]: ...

    def last_bar(self, instrument: str) -> Bar | None: ...


def floor_minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


class MinuteBars:
    """Synthetic one-minute bars, from the minute the source was made (the
    feed has no history) up to the minute the clock is in."""

    def __init__(self, *, clock: Callable[[], datetime] = utc_now):
        self.clock = clock
        self.origin = floor_minute(clock())

    def bar_at(self, instrument: str, minute: datetime) -> Bar | None:
        raise NotImplementedError

    def bars(self, instrument: str, since: datetime, limit: int) -> list[Bar]:
        minute = floor_minute(since)
        if minute < since:
            minute += MINUTE
        minute = max(minute, self.origin)
        newest = floor_minute(self.clock())
        found = []
        while minute <= newest and len(found) < limit:
            bar = self.bar_at(instrument, minute)
            if bar is not None:
                found.append(bar)
            minute += MINUTE
        return found

    def last_bar(self, instrument: str) -> Bar | None:
        return self.bar_at(instrument, floor_minute(self.clock()))


class ConstantPrices(MinuteBars):
    """Every minute's bar is flat at the instrument's price, which stays
    where it is until it is moved (`move`: the control file's `price`, for
    drills). A move holds from its moment on: the bar of the minute it
    happens in opens at the old price, reaches the new one and closes at
    it; the bars before stay as they were."""

    def __init__(self, prices: Mapping[str, Decimal], *, clock: Callable[[], datetime] = utc_now):
        super().__init__(clock=clock)
        # Per instrument, each price and the moment it holds from (None: from the start), oldest first.
        self.steps: dict[str, list[tuple[datetime | None, Decimal]]] = {
            instrument: [(None, price)] for instrument, price in prices.items()}

    def move(self, instrument: str, price: Decimal, *, at: datetime) -> None:
        """The instrument's price is `price` from `at` on (`at` no earlier than the last move)."""
        self.steps[instrument].append((at, price))

    def bar_at(self, instrument: str, minute: datetime) -> Bar | None:
        steps = self.steps.get(instrument)
        if steps is None:
            return None
        end = minute + MINUTE
        open_ = next(price for since, price in reversed(steps) if since is None or since <= minute)
        within = [price for since, price in steps if since is not None and minute < since < end]
        reached = [open_, *within]
        return Bar(minute, open_, max(reached), min(reached), reached[-1])


class RandomWalkPrices(MinuteBars):
    """From each instrument's start price in the source's first minute,
    every minute's close moves from the previous close by a normally
    distributed number of ticks (standard deviation `ticks_per_minute`), and
    its high and low reach a random part of that further. The same seed gives
    the same path, whatever order the bars are asked in."""

    def __init__(self, start: Mapping[str, Decimal], *, tick_sizes: Mapping[str, Decimal],
                 ticks_per_minute: float = 20, seed: int = 13, clock: Callable[[], datetime] = utc_now):
        super().__init__(clock=clock)
        self.start = dict(start)
        self.tick_sizes = tick_sizes
        self.ticks_per_minute = ticks_per_minute
        self.seed = seed
        self.path: dict[str, list[Bar]] = {instrument: [] for instrument in self.start}

    def bar_at(self, instrument: str, minute: datetime) -> Bar | None:
        if instrument not in self.start or minute < self.origin:
            return None
        index = int((minute - self.origin) / MINUTE)
        path = self.path[instrument]
        while len(path) <= index:
            path.append(self._next_bar(instrument, path))
        return path[index]

    def _next_bar(self, instrument: str, path: list[Bar]) -> Bar:
        tick = self.tick_sizes[instrument]
        # A generator per bar, seeded by its place in the path: reproducible.
        rng = random.Random(f"{self.seed}:{instrument}:{len(path)}")
        sigma = self.ticks_per_minute

        def ticks(value: float) -> Decimal:
            return Decimal(round(value)) * tick

        open_ = path[-1].close if path else self.start[instrument]
        close = max(open_ + ticks(rng.gauss(0, sigma)), tick)
        high = max(open_, close) + ticks(abs(rng.gauss(0, sigma / 2)))
        low = max(min(open_, close) - ticks(abs(rng.gauss(0, sigma / 2))), tick)
        return Bar(self.origin + len(path) * MINUTE, open_, high, low, close)
