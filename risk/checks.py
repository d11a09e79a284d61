"""The checks before a new order: pure functions of the account's facts, the
effective policy and the time, each returning the reason codes it denies the
order with (none: it passes). Every check runs, so a denial names every
reason at once."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from risk import market_hours
from risk.modes import Mode, guard_mode
from risk.policy import Policy
from risk.sizing import SymbolSpec

NO_STOP_LOSS = "no-stop-loss"
NO_SYMBOL_SPECS = "no-symbol-specs"
VOLUME_BELOW_MINIMUM = "volume-below-minimum"
ACCOUNT_STALE = "account-stale"
EQUITY_FLOOR = "equity-floor"
MAX_OPEN_POSITIONS = "max-open-positions"
DAILY_LOSS = "daily-loss"
COOLDOWN = "cooldown"
MARKET_CLOSED = "market-closed"
PAUSED = "paused"
HALTED = "halted"


@dataclass(frozen=True)
class Close:
    """A closed position: when, and its realized P&L."""

    time: datetime
    pnl: Decimal


@dataclass(frozen=True)
class OrderFacts:
    """What the checks know of a new order and its account.

    `volume`: its size, None when it could not be sized (no stop, no specs
    or no equity, each denied on its own). `equity`, `equity_as_of`: the
    newest snapshot's (None before the first). `open_positions`: open
    positions and orders on their way to becoming one. `recent_closes`: the
    account's newest closed positions, newest first, at least as many as
    the policy's `cooldown_after_losses` when there are. `mode`,
    `reducing_until`: what the guards stored."""

    stop_loss: Decimal | None
    spec: SymbolSpec | None
    volume: Decimal | None
    equity: Decimal | None
    equity_as_of: datetime | None
    stale_after: timedelta
    open_positions: int
    recent_closes: Sequence[Close]
    mode: str
    reducing_until: datetime | None
    paused: bool
    market_hours: str


def stop_loss_check(facts: OrderFacts, policy: Policy, now: datetime) -> list[str]:
    return [NO_STOP_LOSS] if policy.require_stop_loss and facts.stop_loss is None else []


def symbol_specs_check(facts: OrderFacts, policy: Policy, now: datetime) -> list[str]:
    return [NO_SYMBOL_SPECS] if facts.spec is None else []


def volume_check(facts: OrderFacts, policy: Policy, now: datetime) -> list[str]:
    if facts.volume is None or facts.spec is None:
        return []
    return [VOLUME_BELOW_MINIMUM] if facts.volume < facts.spec.volume_min else []


def stale_check(facts: OrderFacts, policy: Policy, now: datetime) -> list[str]:
    if facts.equity is None or facts.equity_as_of is None or now - facts.equity_as_of > facts.stale_after:
        return [ACCOUNT_STALE]
    return []


def equity_floor_check(facts: OrderFacts, policy: Policy, now: datetime) -> list[str]:
    return [EQUITY_FLOOR] if facts.equity is not None and facts.equity < policy.min_equity else []


def open_positions_check(facts: OrderFacts, policy: Policy, now: datetime) -> list[str]:
    return [MAX_OPEN_POSITIONS] if facts.open_positions >= policy.max_open_positions else []


def daily_loss_check(facts: OrderFacts, policy: Policy, now: datetime) -> list[str]:
    return [DAILY_LOSS] if guard_mode(facts.mode, facts.reducing_until, now) == Mode.REDUCING else []


def cooldown_check(facts: OrderFacts, policy: Policy, now: datetime) -> list[str]:
    """Denied until `cooldown_minutes` after the last of
    `cooldown_after_losses` losing closes in a row (a break-even close ends
    the run)."""
    run = facts.recent_closes[:policy.cooldown_after_losses]
    if len(run) < policy.cooldown_after_losses or any(close.pnl >= 0 for close in run):
        return []
    return [COOLDOWN] if now < run[0].time + timedelta(minutes=policy.cooldown_minutes) else []


def market_check(facts: OrderFacts, policy: Policy, now: datetime) -> list[str]:
    return [] if market_hours.is_open(facts.market_hours, now) else [MARKET_CLOSED]


def paused_check(facts: OrderFacts, policy: Policy, now: datetime) -> list[str]:
    return [PAUSED] if facts.paused else []


def halted_check(facts: OrderFacts, policy: Policy, now: datetime) -> list[str]:
    return [HALTED] if facts.mode == Mode.HALTED else []


# In the order a denial lists its reasons.
CHECKS = (stop_loss_check, symbol_specs_check, volume_check, stale_check, equity_floor_check, open_positions_check,
          daily_loss_check, cooldown_check, market_check, paused_check, halted_check)


def pre_trade_checks(facts: OrderFacts, policy: Policy, now: datetime) -> list[str]:
    """Every reason code that denies the order; empty when it may trade."""
    return [reason for check in CHECKS for reason in check(facts, policy, now)]
