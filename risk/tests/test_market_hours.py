"""The FX week: closed from Friday 17:00 to Sunday 17:00 New York time, in
both daylight saving regimes (UTC-4 in summer, UTC-5 in winter)."""

from datetime import UTC, datetime, timedelta

import pytest

from risk.market_hours import ALWAYS, FX, is_open

SECOND = timedelta(seconds=1)
# 17:00 in New York: 21:00 UTC on a summer Friday (EDT), 22:00 UTC on a winter one (EST).
SUMMER_FRIDAY_CLOSE = datetime(2026, 7, 17, 21, 0, tzinfo=UTC)
SUMMER_SUNDAY_OPEN = datetime(2026, 7, 19, 21, 0, tzinfo=UTC)
WINTER_FRIDAY_CLOSE = datetime(2026, 1, 16, 22, 0, tzinfo=UTC)
WINTER_SUNDAY_OPEN = datetime(2026, 1, 18, 22, 0, tzinfo=UTC)


@pytest.mark.parametrize(("moment", "open_"), [
    (SUMMER_FRIDAY_CLOSE - SECOND, True),
    (SUMMER_FRIDAY_CLOSE, False),
    (SUMMER_FRIDAY_CLOSE + timedelta(hours=24), False),  # Saturday
    (SUMMER_SUNDAY_OPEN - SECOND, False),
    (SUMMER_SUNDAY_OPEN, True),
    (WINTER_FRIDAY_CLOSE - SECOND, True),
    (WINTER_FRIDAY_CLOSE, False),
    (WINTER_SUNDAY_OPEN - SECOND, False),
    (WINTER_SUNDAY_OPEN, True),
    # 21:30 UTC is after the close in summer, before it in winter
    (datetime(2026, 7, 17, 21, 30, tzinfo=UTC), False),
    (datetime(2026, 1, 16, 21, 30, tzinfo=UTC), True),
    # Monday to Thursday, all day and night
    (datetime(2026, 7, 20, 0, 0, tzinfo=UTC), True),
    (datetime(2026, 1, 15, 23, 59, 59, tzinfo=UTC), True),
])
def test_fx_market_hours(moment, open_):
    assert is_open(FX, moment) is open_


def test_the_weekend_the_clocks_change_follows_new_york():
    # Daylight saving starts on Sunday 8 March 2026 at 02:00 in New York:
    # the market closed at 22:00 UTC on Friday (EST) and opens at 21:00 UTC on Sunday (EDT).
    assert is_open(FX, datetime(2026, 3, 6, 21, 59, tzinfo=UTC))
    assert not is_open(FX, datetime(2026, 3, 6, 22, 0, tzinfo=UTC))
    assert not is_open(FX, datetime(2026, 3, 8, 20, 59, tzinfo=UTC))
    assert is_open(FX, datetime(2026, 3, 8, 21, 0, tzinfo=UTC))


def test_always_is_never_closed():
    assert is_open(ALWAYS, SUMMER_FRIDAY_CLOSE + timedelta(hours=24))
