"""The stored candles as the paper broker's price feed: the bars of each
instrument's finest stored timeframe (M1 when there are M1 bars), read
through the charting selectors."""

import time
from collections.abc import Callable
from contextlib import contextmanager
from datetime import datetime

from django.db import DatabaseError

from charting import selectors
from paperbroker.prices import Bar, PriceSourceError

# Bars of a finer timeframe may start arriving while the bridge runs; which
# timeframe is finest is looked up again after this many seconds.
TIMEFRAME_RECHECK_SECONDS = 60


@contextmanager
def database_errors_as_price_errors():
    try:
        yield
    except DatabaseError as error:
        raise PriceSourceError(f"the candle store is unavailable: {type(error).__name__}") from error


class StoredCandles:
    def __init__(self, *, monotonic: Callable[[], float] = time.monotonic):
        self.monotonic = monotonic
        self.timeframes: dict[str, tuple[str | None, float]] = {}

    def timeframe(self, instrument: str) -> str | None:
        known = self.timeframes.get(instrument)
        if known is None or self.monotonic() - known[1] > TIMEFRAME_RECHECK_SECONDS:
            known = (selectors.finest_candle_timeframe(symbol=instrument), self.monotonic())
            self.timeframes[instrument] = known
        return known[0]

    def bars(self, instrument: str, since: datetime, limit: int) -> list[Bar]:
        with database_errors_as_price_errors():
            timeframe = self.timeframe(instrument)
            if timeframe is None:
                return []
            rows = selectors.candles_since(symbol=instrument, timeframe=timeframe, since=since, limit=limit)
        return [Bar(*row) for row in rows]

    def last_bar(self, instrument: str) -> Bar | None:
        with database_errors_as_price_errors():
            timeframe = self.timeframe(instrument)
            row = None if timeframe is None else selectors.last_candle(symbol=instrument, timeframe=timeframe)
        return None if row is None else Bar(*row)
