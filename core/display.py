"""How times and durations read for people: in the operators' console and in
model titles. One wording everywhere, so an operator compares like with like."""

from datetime import UTC, datetime, timedelta

from django.utils import dateformat

# Django's date-format syntax ("2026-12-01 07:04:05 UTC"): whole seconds, the
# zone always named. The console's model fields use it too (core/formats/).
DATETIME_FORMAT = "Y-m-d H:i:s T"


def utc_time(value: datetime) -> str:
    return dateformat.format(value.astimezone(UTC), DATETIME_FORMAT)


def humane_duration(delta: timedelta) -> str:
    """The two largest units, whole seconds: "34 s", "12 min 05 s",
    "2 h 03 min", "3 d 04 h". Negative durations (a countdown that has
    run out) read as "0 s"."""
    seconds = max(0, int(delta.total_seconds()))
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    if days:
        return f"{days} d {hours:02d} h"
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {seconds:02d} s"
    return f"{seconds} s"
