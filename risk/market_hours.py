"""When an instrument's market is open. `fx` (FX and metals): the week runs
from Sunday 17:00 to Friday 17:00 New York time, daylight saving included
(21:00 UTC on a summer Friday, 22:00 UTC on a winter one); `always`: never
closed."""

from datetime import datetime, time
from zoneinfo import ZoneInfo

FX = "fx"
ALWAYS = "always"

NEW_YORK = ZoneInfo("America/New_York")
WEEK_OPENS_AND_CLOSES_AT = time(17, 0)
FRIDAY, SATURDAY, SUNDAY = 4, 5, 6


def is_open(schedule: str, now: datetime) -> bool:
    if schedule == ALWAYS:
        return True
    local = now.astimezone(NEW_YORK)
    if local.weekday() == FRIDAY:
        return local.time() < WEEK_OPENS_AND_CLOSES_AT
    if local.weekday() == SATURDAY:
        return False
    if local.weekday() == SUNDAY:
        return local.time() >= WEEK_OPENS_AND_CLOSES_AT
    return True
