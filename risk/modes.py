"""The modes of an account under the guards. `active`: trading;
`reducing`: the day's loss limit was reached, no new opens until 00:00 UTC;
`halted`: the drawdown limit was reached, every position closed, no new opens
until staff resume it; `paused`: the owner's own kill switch."""

from datetime import UTC, datetime, timedelta

from django.db import models


class Mode(models.TextChoices):
    ACTIVE = "active"
    REDUCING = "reducing"
    HALTED = "halted"
    PAUSED = "paused"


# What the guards store; `paused` is the owner's switch, kept on the bridge.
GUARD_MODES = [(mode.value, mode.label) for mode in (Mode.ACTIVE, Mode.REDUCING, Mode.HALTED)]


def guard_mode(mode: str, reducing_until: datetime | None, now: datetime) -> str:
    """The stored mode as it stands at `now`: `reducing` ends at its
    midnight even before a snapshot of the new day stores `active`."""
    if mode == Mode.REDUCING and reducing_until is not None and now >= reducing_until:
        return Mode.ACTIVE
    return mode


def shown_mode(mode: str, reducing_until: datetime | None, now: datetime, *, paused: bool) -> str:
    """One mode for people: halted, then paused, then reducing, then active."""
    mode = guard_mode(mode, reducing_until, now)
    return Mode.PAUSED if paused and mode != Mode.HALTED else mode


def next_utc_midnight(moment: datetime) -> datetime:
    day = moment.astimezone(UTC).date() + timedelta(days=1)
    return datetime(day.year, day.month, day.day, tzinfo=UTC)
