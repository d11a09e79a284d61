"""Set-up the execution benchmarks share (bench/fills.py, bench/loop.py), in
a process with Django set up."""

from risk import policy, services
from signals.models import Instrument

# The most positions open or on their way that a risk policy may allow.
OPEN_POSITIONS = policy.SETTINGS_BY_NAME["max_open_positions"].maximum


def allow_busy_trading(*, user, symbols) -> None:
    """An operator's override of `user`'s risk policy: the most positions
    open or on their way it may allow and no cooldown after losing closes
    (a benchmark's account trades far more than a person's); and `symbols`
    trade around the clock, so that a run does not depend on the weekday."""
    services.set_policy(user=user, changed_by=None, values={
        **dict.fromkeys(policy.NAMES), "max_open_positions": OPEN_POSITIONS, "cooldown_minutes": 0})
    for instrument in Instrument.objects.filter(symbol__in=symbols):
        services.set_market_hours(instrument=instrument, schedule="always")
