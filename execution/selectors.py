"""Reads of the execution app: a user's own orders and positions (staff see
everyone's), their bridge, and the status filter that reads an unfilled
order past its expiry as expired."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import OuterRef, Prefetch, Q, QuerySet, Subquery
from django.utils import timezone

from execution.models import (
    AccountSnapshot,
    AccountState,
    Bridge,
    Command,
    Order,
    Position,
    ReconciliationItem,
    ReconciliationRun,
)
from risk.checks import Close
from risk.guards import Figures
from risk.modes import Mode, shown_mode


def visible_orders(*, user) -> QuerySet[Order]:
    """Everything the order resource shows, in one query per page."""
    queryset = Order.objects.select_related("instrument")
    return queryset if user.is_staff else queryset.filter(owner=user)


def with_effective_status(queryset: QuerySet[Order], status: str, *, now=None) -> QuerySet[Order]:
    now = now or timezone.now()
    if status in Order.UNFILLED:
        return queryset.filter(status=status, expires_at__gt=now)
    if status == Order.Status.EXPIRED:
        return queryset.filter(Q(status=Order.Status.EXPIRED) | Q(status__in=Order.UNFILLED, expires_at__lte=now))
    return queryset.filter(status=status)


def visible_positions(*, user, status: str | None = None) -> QuerySet[Position]:
    """Everything the position resource shows, in one query per page."""
    queryset = Position.objects.select_related("instrument")
    if not user.is_staff:
        queryset = queryset.filter(owner=user)
    return queryset if status is None else queryset.filter(status=status)


def bridge_for_user(*, user) -> Bridge | None:
    """The user's enabled bridge (at most one), the one their approvals trade through."""
    return Bridge.objects.filter(owner=user, enabled=True).first()


def latest_snapshot(*, bridge: Bridge) -> AccountSnapshot | None:
    return AccountSnapshot.objects.filter(bridge=bridge).order_by("-time").first()


# An `open` command of an order in these statuses is no longer delivered (a
# `cancel` follows an open the bridge has received).
ORDERS_NOT_TO_OPEN = (Order.Status.EXPIRED, Order.Status.CANCELLED)


def open_commands(*, bridge: Bridge) -> QuerySet[Command]:
    """What the bridge has not acknowledged yet, oldest first, but no `open`
    of an order in ORDERS_NOT_TO_OPEN."""
    return (Command.objects.filter(bridge=bridge, status__in=Command.UNACKNOWLEDGED)
            .exclude(type=Command.Type.OPEN, order__status__in=ORDERS_NOT_TO_OPEN)
            .select_related("instrument").order_by("created_at", "id"))


def visible_reconciliation_runs(*, user) -> QuerySet[ReconciliationRun]:
    """The reconciliation runs of the user's bridges (staff: everyone's),
    each with its items, in two queries per page."""
    queryset = ReconciliationRun.objects.prefetch_related(
        Prefetch("items", queryset=ReconciliationItem.objects.order_by("id")))
    return queryset if user.is_staff else queryset.filter(bridge__owner=user)


def reconciliation_of(*, snapshot: AccountSnapshot) -> ReconciliationRun | None:
    """The comparison of `snapshot`; None for one that was not the newest when it arrived."""
    return ReconciliationRun.objects.filter(snapshot=snapshot).exclude(status=ReconciliationRun.Status.STALE).first()


def newest_reconciliation(*, bridge: Bridge) -> ReconciliationRun | None:
    return ReconciliationRun.objects.filter(bridge=bridge).order_by("-created_at", "-id").first()


def silent_bridges(*, before) -> list[Bridge]:
    """The enabled bridges whose newest snapshot is older than `before` and
    whose newest reconciliation run does not say so yet."""
    newest_status = Subquery(ReconciliationRun.objects.filter(bridge=OuterRef("pk"))
                             .order_by("-created_at", "-id").values("status")[:1])
    return [bridge for bridge in Bridge.objects.filter(enabled=True, last_snapshot_at__lt=before)
            .annotate(newest_status=newest_status)
            if bridge.newest_status != ReconciliationRun.Status.STALE]


def account_state(*, bridge: Bridge) -> AccountState:
    """What the account guards made of the bridge's snapshots (an unsaved,
    active state before the first)."""
    return AccountState.objects.filter(bridge=bridge).first() or AccountState(bridge=bridge)


def newest_equity(*, bridge: Bridge) -> tuple[Decimal, datetime] | None:
    """The newest snapshot's equity and time, without the positions it reported."""
    return AccountSnapshot.objects.filter(bridge=bridge).order_by("-time").values_list("equity", "time").first()


def positions_taken(*, bridge: Bridge, now) -> int:
    """Open positions, and orders on their way to opening one (unfilled, not
    expired): what the open positions limit counts."""
    positions = Position.objects.filter(bridge=bridge, status=Position.Status.OPEN)
    orders = Order.objects.filter(bridge=bridge, status__in=Order.UNFILLED, expires_at__gt=now)
    # One query; a compound statement's parts take no ORDER BY (the models' default ordering).
    return positions.order_by().values("pk").union(orders.order_by().values("pk"), all=True).count()


def recent_closes(*, bridge: Bridge, count: int) -> list[Close]:
    """The bridge's `count` newest closed positions, newest first."""
    rows = (Position.objects.filter(bridge=bridge, status=Position.Status.CLOSED)
            .order_by("-close_time", "-id").values_list("close_time", "realized_pnl")[:count])
    return [Close(time=time, pnl=pnl) for time, pnl in rows]


@dataclass(frozen=True)
class AccountRisk:
    """An account as the guards see it, for its owner: the mode shown (the
    drawdown halt first, then the owner's pause, then the day's loss limit)
    and since when, the figures of the newest snapshot, the open positions,
    and whether the newest snapshot is too old to trust."""

    mode: str
    since: datetime
    figures: Figures
    open_positions: int
    stale: bool


def account_risk(*, bridge: Bridge, now: datetime) -> AccountRisk:
    state = account_state(bridge=bridge)
    paused = bridge.paused_at is not None
    mode = shown_mode(state.mode, state.reducing_until, now, paused=paused)
    if mode == Mode.PAUSED:
        since = bridge.paused_at
    elif state.as_of is None:  # no snapshot judged yet
        since = bridge.created_at
    elif mode != state.mode:  # a day's loss limit that ended at its midnight
        since = state.reducing_until
    else:
        since = state.mode_since
    stale_after = timedelta(seconds=settings.ACCOUNT_STALE_SECONDS)
    return AccountRisk(mode=mode, since=since, figures=state.figures(),
                       open_positions=Position.objects.filter(bridge=bridge, status=Position.Status.OPEN).count(),
                       stale=bridge.last_snapshot_at is None or now - bridge.last_snapshot_at > stale_after)
