"""The decision on a new order, made in its approval's transaction: the
account's facts gathered from the books, sized and checked under the
owner's effective risk policy (risk.sizing, risk.checks). The bridge's row
is locked first, so an account's orders are decided one at a time: two
approvals at once cannot both take the last free position."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings

from execution import selectors
from execution.models import Bridge, Symbol
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


def _symbol_spec(bridge: Bridge, instrument_id) -> sizing.SymbolSpec | None:
    # Unordered: one row at most, and Symbol's ordering would join two tables.
    symbol = Symbol.objects.filter(bridge=bridge, instrument_id=instrument_id).order_by().first()
    if symbol is None:
        return None
    return sizing.SymbolSpec(tick_size=symbol.tick_size, tick_value=symbol.tick_value, volume_min=symbol.volume_min,
                             volume_step=symbol.volume_step, volume_max=symbol.volume_max)


def decide(*, bridge: Bridge, signal: Signal, now: datetime) -> Decision:
    """Sizes the order from the newest snapshot's equity and runs every
    check. Without a stop loss (allowed only when the policy does not
    require one) no risk budget can size it: it trades the broker's minimum
    volume."""
    bridge = Bridge.objects.select_for_update(no_key=True).get(pk=bridge.pk)
    policy = risk_selectors.effective_policy(user_id=bridge.owner_id)
    spec = _symbol_spec(bridge, signal.instrument_id)
    equity, as_of = selectors.newest_equity(bridge=bridge) or (None, None)
    state = selectors.account_state(bridge=bridge)

    volume = None
    if spec is not None and signal.stop_loss is not None and equity is not None:
        volume = sizing.order_volume(equity=equity, risk_percent=policy.risk_per_trade_percent,
                                     entry_price=signal.entry_price, stop_loss=signal.stop_loss, spec=spec)
    elif spec is not None and signal.stop_loss is None and not policy.require_stop_loss:
        volume = spec.volume_min

    facts = checks.OrderFacts(
        stop_loss=signal.stop_loss, spec=spec, volume=volume, equity=equity, equity_as_of=as_of,
        stale_after=timedelta(seconds=settings.ACCOUNT_STALE_SECONDS),
        open_positions=selectors.positions_taken(bridge=bridge, now=now),
        recent_closes=selectors.recent_closes(bridge=bridge, count=policy.cooldown_after_losses),
        mode=state.mode, reducing_until=state.reducing_until, paused=bridge.paused_at is not None,
        market_hours=risk_selectors.market_schedule(instrument_id=signal.instrument_id),
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
