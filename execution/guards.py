"""The account guards: on every newest account snapshot, inside its
transaction, the account's equity (open positions included) is compared
with its high-water mark and with the UTC day's opening equity, under the
owner's effective risk policy.

- Daily loss at the policy's maximum: the account is `reducing` until the
  next 00:00 UTC (new orders denied `daily-loss`); a snapshot of the new
  day stores it `active` again (reads count it active from midnight on).
- Drawdown at the warning threshold (80 % of the maximum): a
  `risk.drawdown_warning`, once until the drawdown is back below it.
- Drawdown at the maximum: `halted`, a `close` command (reason
  `drawdown_guard`) for every open position, new orders denied `halted`,
  until staff resume the account (`resume_halted_account`).

Every change of mode is a `risk.mode_changed` event (audited). The state
is written only here; callers hold the bridge's row lock, which orders
the account's snapshots, order decisions and resumes one at a time.
"""

from datetime import UTC

from django.db import transaction
from django.utils import timezone

from core.problems import Conflict
from execution import closing, events
from execution.models import AccountSnapshot, AccountState, Bridge, Command, Position
from risk import guards, modes
from risk import selectors as risk_selectors
from risk.modes import Mode

# Why a mode changed, as the audit log names it.
REASONS = {Mode.HALTED: "drawdown", Mode.REDUCING: "daily-loss", Mode.ACTIVE: "new-day"}


def _change_mode(state: AccountState, mode: str, *, reason: str, at) -> None:
    before = state.mode
    state.mode, state.mode_since = mode, at
    state.reducing_until = modes.next_utc_midnight(at) if mode == Mode.REDUCING else None
    events.account_mode_changed.send(sender=AccountState, target=state.bridge, meta={
        "bridge": state.bridge.key_id, "from": before, "to": mode, "reason": reason,
        "until": state.reducing_until, **state.figures().shown()})


def _close_open_positions(bridge: Bridge, *, now) -> None:
    """A drawdown close for each open position that has none on its way or
    executed: those open when the account halted, any an order already on
    its way opened after, and those whose close the broker rejected or
    failed (asked again on each snapshot while the account stays halted and
    they stay open)."""
    asked = (Command.objects.filter(bridge=bridge, type=Command.Type.CLOSE, reason=Position.CloseReason.DRAWDOWN_GUARD,
                                    spent_at__isnull=True)
             .exclude(status__in=closing.REFUSED_CLOSE_STATUSES))
    for position in (Position.objects.select_for_update(of=("self",))
                     .filter(bridge=bridge, status=Position.Status.OPEN)
                     .exclude(pk__in=asked.values("position_id")).order_by("created_at", "id")):
        closing.request_close(position, reason=Position.CloseReason.DRAWDOWN_GUARD, now=now)


def apply_account_guards(*, bridge: Bridge, snapshot: AccountSnapshot) -> AccountState:
    """Brings the account's state up to date with `snapshot` and acts on it.
    A snapshot older than the newest one judged changes nothing."""
    state = AccountState.objects.filter(bridge=bridge).first()
    if state is None:
        state = AccountState(bridge=bridge, mode_since=snapshot.time)
    state.bridge = bridge
    if state.as_of is not None and snapshot.time <= state.as_of:
        return state
    at, equity = snapshot.time, snapshot.equity
    day = at.astimezone(UTC).date()
    if state.day != day:
        state.day, state.day_open_equity = day, equity
    state.high_water_mark = equity if state.high_water_mark is None else max(state.high_water_mark, equity)
    state.equity, state.as_of = equity, at

    policy, figures = risk_selectors.effective_policy(user_id=bridge.owner_id), state.figures()
    current = modes.guard_mode(state.mode, state.reducing_until, at)
    mode = guards.verdict(mode=current, figures=figures, policy=policy)
    if mode != state.mode or mode != current:  # a new mode, or a new day's reducing after the last one ended
        _change_mode(state, mode, reason=REASONS[mode], at=at)
    if mode == Mode.HALTED:
        _close_open_positions(bridge, now=timezone.now())
    elif not guards.drawdown_warning(figures=figures, policy=policy):
        state.drawdown_warned_at = None
    elif state.drawdown_warned_at is None:
        state.drawdown_warned_at = at
        events.drawdown_warning.send(sender=AccountState, target=bridge, meta={
            "bridge": bridge.key_id, "threshold_percent": policy.drawdown_warning_percent,
            "max_drawdown_percent": policy.max_drawdown_percent, **figures.shown()})
    state.updated_at = timezone.now()
    state.save(force_insert=state._state.adding)
    return state


def resume_halted_account(*, bridge: Bridge) -> AccountState:
    """Staff's decision that a halted account trades again (audited as
    risk.mode_changed, reason `staff-resume`). Its high-water mark restarts
    at the newest equity: the drawdown that halted it would halt it again
    at the next snapshot otherwise. 409 `account-not-halted` otherwise."""
    with transaction.atomic():
        bridge = Bridge.objects.select_for_update(no_key=True).get(pk=bridge.pk)
        state = AccountState.objects.filter(bridge=bridge).first()
        if state is None or state.mode != Mode.HALTED:
            raise Conflict("The account is not halted.", slug="account-not-halted")
        state.bridge = bridge
        state.high_water_mark, state.drawdown_warned_at = state.equity, None
        now = timezone.now()
        _change_mode(state, Mode.ACTIVE, reason="staff-resume", at=now)
        state.updated_at = now
        state.save()
    return state
