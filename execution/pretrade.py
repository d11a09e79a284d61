"""The decision on a new order, made in its approval's transaction: the
account's facts gathered from the books, sized and checked under the
owner's effective risk policy (risk.sizing, risk.checks). The caller has
locked the bridge's row, so an account's orders are decided one at a time:
two approvals at once cannot both take the last free position. Three reads
after the lock, whatever the account holds: the policy, the account's facts
(execution.selectors.order_account), its newest closes."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings

from execution import selectors
from execution.models import Bridge
from risk import checks, sizing
from risk import selectors as risk_selectors
from signals.models import Signal


@dataclass(frozen=True)
class Decision:
    """`reasons` empty: the order may trade `volume`. `policy_version`: the
    risk policy version that decided."""

    volume: Decimal | None
    reasons: list[str]
    initial_risk: Decimal | None
    equity_at_sizing: Decimal | None
    policy_version: int


def decide(*, bridge: Bridge, signal: Signal, now: datetime) -> Decision:
    """Sizes the order from the newest snapshot's equity and runs every
    check; `bridge` is locked by the caller. Without a stop loss (allowed
    only when the policy does not require one) no risk budget can size it:
    it trades the broker's minimum volume."""
    policy = risk_selectors.effective_policy(user_id=bridge.owner_id)
    account = selectors.order_account(bridge=bridge, instrument_id=signal.instrument_id, now=now)
    spec, equity = account.spec, account.equity

    volume = None
    if spec is not None and signal.stop_loss is not None and equity is not None:
        volume = sizing.order_volume(equity=equity, risk_percent=policy.risk_per_trade_percent,
                                     entry_price=signal.entry_price, stop_loss=signal.stop_loss, spec=spec)
    elif spec is not None and signal.stop_loss is None and not policy.require_stop_loss:
        volume = spec.volume_min

    facts = checks.OrderFacts(
        stop_loss=signal.stop_loss, spec=spec, volume=volume, equity=equity, equity_as_of=account.equity_as_of,
        stale_after=timedelta(seconds=settings.ACCOUNT_STALE_SECONDS),
        open_positions=account.positions_taken,
        recent_closes=selectors.recent_closes(bridge=bridge, count=policy.cooldown_after_losses),
        mode=account.mode, reducing_until=account.reducing_until, paused=bridge.paused_at is not None,
        market_hours=risk_selectors.market_schedule_or_default(account.market_schedule),
    )
    reasons = checks.pre_trade_checks(facts, policy, now)
    if checks.VOLUME_BELOW_MINIMUM in reasons:
        volume = None  # no tradable size
    at_risk = None
    if volume is not None and signal.stop_loss is not None:
        at_risk = sizing.initial_risk(volume=volume, entry_price=signal.entry_price, stop_loss=signal.stop_loss,
                                      spec=spec)
    return Decision(volume=volume, reasons=reasons, initial_risk=at_risk,
                    equity_at_sizing=None if volume is None else equity, policy_version=policy.version)
