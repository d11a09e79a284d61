"""Reads of the execution app: a user's own orders and positions (staff see
everyone's), their bridge, and the status filter that reads an unfilled
order past its expiry as expired."""

from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.utils import timezone

from charting.registry import SignalTrade
from core import raw_rows
from execution.models import (
    AccountSnapshot,
    AccountState,
    Bridge,
    Command,
    Order,
    Position,
    ReconciliationItem,
    ReconciliationRun,
    Symbol,
)
from risk.checks import Close
from risk.guards import Figures
from risk.modes import Mode, shown_mode
from risk.models import MarketHours
from risk.sizing import SymbolSpec

# The broker's contract specs: risk.sizing.SymbolSpec's fields, a Symbol row's columns.
SPEC_FIELDS = tuple(spec_field.name for spec_field in fields(SymbolSpec))


def visible_orders(*, user) -> QuerySet[Order]:
    """Everything the order resource shows, in one query per page."""
    queryset = Order.objects.select_related("instrument")
    return queryset if user.is_staff else queryset.filter(owner=user)


def with_effective_status(queryset: QuerySet[Order], status: str, *, now=None) -> QuerySet[Order]:
    now = now or timezone.now()
    if status in Order.EXPIRING:
        return queryset.filter(status=status, expires_at__gt=now)
    if status == Order.Status.EXPIRED:
        return queryset.filter(Q(status=Order.Status.EXPIRED) | Q(status__in=Order.EXPIRING, expires_at__lte=now))
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


@dataclass(frozen=True)
class PollState:
    last_poll_at: datetime | None
    due: bool  # an unfilled order of the bridge is past its expiry (at `now`)
    waiting: bool  # `open_commands` has something


def _named(prefix: str, values) -> str:
    return ", ".join(f"%({prefix}_{value})s" for value in values)


# Written out for the reason ORDER_ACCOUNT_SQL is (below): most polls find
# nothing to do, and building this with the ORM (three queries) cost several
# times what running it does.
POLL_STATE_SQL = f"""
SELECT b.last_poll_at,
       EXISTS (SELECT 1 FROM {Order._meta.db_table} o
                WHERE o.bridge_id = b.id AND o.status IN ({_named("expiring", Order.EXPIRING)})
                  AND o.expires_at <= %(now)s),
       EXISTS (SELECT 1 FROM {Command._meta.db_table} c LEFT JOIN {Order._meta.db_table} o ON o.id = c.order_id
                WHERE c.bridge_id = b.id AND c.status IN ({_named("unacknowledged", Command.UNACKNOWLEDGED)})
                  AND NOT (c.type = %(open)s AND o.status IS NOT NULL
                           AND o.status IN ({_named("not_to_open", ORDERS_NOT_TO_OPEN)})))
FROM {Bridge._meta.db_table} b
WHERE b.id = %(bridge)s"""


def poll_state(*, bridge: Bridge, now: datetime) -> PollState:
    """What a poll of `bridge` at `now` has to do, in one statement: the
    bridge's stored last poll, whether any of its orders is due to expire
    (not filled in whole, past `expires_at`), whether `open_commands` has any."""
    [(last_poll_at, due, waiting)] = raw_rows.fetch(POLL_STATE_SQL, {
        "bridge": raw_rows.param(Bridge._meta.pk, bridge.pk), "open": Command.Type.OPEN,
        "now": raw_rows.param(Order._meta.get_field("expires_at"), now),
        **{f"expiring_{status}": status for status in Order.EXPIRING},
        **{f"unacknowledged_{status}": status for status in Command.UNACKNOWLEDGED},
        **{f"not_to_open_{status}": status for status in ORDERS_NOT_TO_OPEN},
    }, (Bridge._meta.get_field("last_poll_at"), None, None))
    return PollState(last_poll_at=last_poll_at, due=bool(due), waiting=bool(waiting))


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


def locked_bridge_for_user(*, user) -> Bridge | None:
    """The user's enabled bridge, found and locked (FOR NO KEY UPDATE, until
    the caller's transaction ends) in one statement: a new order's decision
    holds it, so an account's orders are decided one at a time."""
    return Bridge.objects.select_for_update(no_key=True).filter(owner=user, enabled=True).order_by("pk").first()


@dataclass(frozen=True)
class OrderAccount:
    """What a new order's checks need of its account and instrument
    (risk.checks.OrderFacts says what each means). `market_schedule`: the
    instrument's own market hours, None when it follows the default."""

    spec: SymbolSpec | None
    equity: Decimal | None
    equity_as_of: datetime | None
    mode: str
    reducing_until: datetime | None
    positions_taken: int
    market_schedule: str | None


# Written out rather than built with the ORM: building and compiling the
# query (four subqueries, two joins) cost more CPU than all the rest of an
# approval's order, and an approval that makes one cost twice one that does
# not (bench/approval_order.py). Named parameters: the bridge's is used four times.
ORDER_ACCOUNT_SQL = f"""
SELECT (SELECT s.equity FROM {AccountSnapshot._meta.db_table} s
         WHERE s.bridge_id = %(bridge)s ORDER BY s.time DESC LIMIT 1),
       (SELECT s.time FROM {AccountSnapshot._meta.db_table} s
         WHERE s.bridge_id = %(bridge)s ORDER BY s.time DESC LIMIT 1),
       state.mode, state.reducing_until,
       (SELECT COUNT(*) FROM {Position._meta.db_table} p WHERE p.bridge_id = %(bridge)s AND p.status = %(open)s)
       + (SELECT COUNT(*) FROM {Order._meta.db_table} o
           WHERE o.bridge_id = %(bridge)s AND o.status IN ({", ".join(f"%({status})s" for status in Order.UNFILLED)})
             AND o.expires_at > %(now)s),
       spec.tick_size, spec.tick_value, spec.volume_min, spec.volume_step, spec.volume_max,
       (SELECT hours.schedule FROM {MarketHours._meta.db_table} hours WHERE hours.instrument_id = %(instrument)s)
FROM {Bridge._meta.db_table} b
LEFT JOIN {AccountState._meta.db_table} state ON state.bridge_id = b.id
LEFT JOIN {Symbol._meta.db_table} spec ON spec.bridge_id = b.id AND spec.instrument_id = %(instrument)s
WHERE b.id = %(bridge)s"""
# The model fields whose conversions its columns take (None: a count, or a text as it is).
ORDER_ACCOUNT_COLUMNS = (AccountSnapshot._meta.get_field("equity"), AccountSnapshot._meta.get_field("time"),
                         None, AccountState._meta.get_field("reducing_until"), None,
                         *(Symbol._meta.get_field(name) for name in SPEC_FIELDS), None)


def order_account(*, bridge: Bridge, instrument_id, now: datetime) -> OrderAccount:
    """The account's facts for a new order of `instrument_id`, in one
    statement: the newest snapshot's equity and time, the guards' mode, the
    positions taken (open positions, and orders on their way to opening
    one: unfilled, not expired), the broker's specs of the instrument, its
    own market hours. Read after the bridge's lock is taken, so that an
    order decided meanwhile is counted."""
    [row] = raw_rows.fetch(ORDER_ACCOUNT_SQL, {
        "bridge": raw_rows.param(Bridge._meta.pk, bridge.pk), "instrument": instrument_id,
        "now": raw_rows.param(Order._meta.get_field("expires_at"), now), "open": Position.Status.OPEN,
        **{status.value: status.value for status in Order.UNFILLED}}, ORDER_ACCOUNT_COLUMNS)
    equity, equity_as_of, mode, reducing_until, positions_taken, *spec, market_schedule = row
    return OrderAccount(spec=None if spec[0] is None else SymbolSpec(*spec), equity=equity,
                        equity_as_of=equity_as_of, mode=mode or Mode.ACTIVE, reducing_until=reducing_until,
                        positions_taken=positions_taken, market_schedule=market_schedule)


# Written out for the reason ORDER_ACCOUNT_SQL is; on the (bridge, status, close_time) index.
RECENT_CLOSES_SQL = f"""
SELECT p.close_time, p.realized_pnl FROM {Position._meta.db_table} p
WHERE p.bridge_id = %(bridge)s AND p.status = %(closed)s
ORDER BY p.close_time DESC, p.id DESC
LIMIT %(count)s"""


def recent_closes(*, bridge: Bridge, count: int) -> list[Close]:
    """The bridge's `count` newest closed positions, newest first."""
    rows = raw_rows.fetch(RECENT_CLOSES_SQL, {"bridge": raw_rows.param(Bridge._meta.pk, bridge.pk),
                                              "closed": Position.Status.CLOSED, "count": count},
                          (Position._meta.get_field("close_time"), Position._meta.get_field("realized_pnl")))
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


# --- What the console's dashboard counts, and the list filters its figures link to ---

# A bridge that has neither polled nor sent a snapshot for longer is silent.
BRIDGE_SILENT_AFTER = timedelta(minutes=5)
STALE = "stale"
# The accounts (enabled bridges) by their mode under the guards, and the stale ones.
ACCOUNT_GROUPS = (Mode.ACTIVE, Mode.REDUCING, Mode.HALTED, STALE)


def accounts_in(group: str, *, now: datetime) -> Q:
    """The enabled bridges whose account is in `group` (ACCOUNT_GROUPS) at
    `now`: `active`, `reducing` or `halted` as `risk.modes.guard_mode` reads
    the guards' state (a day's loss limit ends at its midnight; an account
    not judged yet is active), or `stale`: no snapshot for longer than
    ACCOUNT_STALE_SECONDS, or none yet (new orders are denied
    `account-stale`), whatever its mode."""
    reducing_until = "account_state__reducing_until"
    still_reducing = Q(**{f"{reducing_until}__isnull": True}) | Q(**{f"{reducing_until}__gt": now})
    stale_before = now - timedelta(seconds=settings.ACCOUNT_STALE_SECONDS)
    conditions = {
        Mode.ACTIVE: (Q(account_state__isnull=True) | Q(account_state__mode=Mode.ACTIVE)
                      | Q(account_state__mode=Mode.REDUCING, **{f"{reducing_until}__lte": now})),
        Mode.REDUCING: Q(account_state__mode=Mode.REDUCING) & still_reducing,
        Mode.HALTED: Q(account_state__mode=Mode.HALTED),
        STALE: Q(last_snapshot_at__isnull=True) | Q(last_snapshot_at__lt=stale_before),
    }
    return Q(enabled=True) & conditions[group]


def silent(*, now: datetime) -> Q:
    """The enabled bridges that have neither polled nor sent a snapshot for
    longer than BRIDGE_SILENT_AFTER (nor ever, created before that)."""
    before = now - BRIDGE_SILENT_AFTER
    return (Q(enabled=True, created_at__lt=before) & (Q(last_poll_at__isnull=True) | Q(last_poll_at__lt=before))
            & (Q(last_snapshot_at__isnull=True) | Q(last_snapshot_at__lt=before)))


def account_overview(*, now: datetime) -> dict[str, int]:
    """How many accounts are in each of ACCOUNT_GROUPS, and how many bridges
    are `silent`, in one query."""
    groups = {group: Count("pk", filter=accounts_in(group, now=now)) for group in ACCOUNT_GROUPS}
    return Bridge.objects.aggregate(**groups, silent=Count("pk", filter=silent(now=now)))


def orders_created(*, since: datetime, until: datetime) -> dict[str, int]:
    """Orders created in [since, until): `total`, and `denied` by the checks."""
    return Order.objects.filter(created_at__gte=since, created_at__lt=until).aggregate(
        total=Count("pk"), denied=Count("pk", filter=Q(status=Order.Status.DENIED)))


def open_drift_items() -> QuerySet[ReconciliationItem]:
    """What still disagrees between the books and the brokers as far as the
    platform knows: the items that are not a match in each enabled bridge's
    newest comparison (a `stale` run compares nothing, so the one before it
    stands)."""
    newest = Subquery(ReconciliationRun.objects.filter(bridge=OuterRef("pk")).exclude(
        status=ReconciliationRun.Status.STALE).order_by("-created_at", "-id").values("pk")[:1])
    runs = Bridge.objects.filter(enabled=True).annotate(newest=newest).values("newest")
    return ReconciliationItem.objects.filter(run__in=runs).exclude(kind=ReconciliationItem.Kind.MATCH)


def order_resource(order: Order) -> dict:
    """The order as the API writes it (its serializer's output), for other
    apps that publish it (delivery's event outbox)."""
    from execution.serializers import OrderSerializer  # it imports the services, which import this module

    return OrderSerializer().to_representation(order)


def position_resource(position: Position) -> dict:
    """The position as the API writes it, for other apps that publish it."""
    return position_resources([position])[0]


def position_resources(positions: Iterable[Position]) -> list[dict]:
    """`position_resource` of each, rendered by one serializer."""
    from execution.serializers import PositionSerializer

    serializer = PositionSerializer()
    return [serializer.to_representation(position) for position in positions]


# --- what charting's charts show of trading (provided in apps.py) --------------------

def signal_trades(*, signal) -> tuple[SignalTrade, ...]:
    """The positions `signal` opened, oldest first: fill, and close once
    closed. One query on the positions' signal index."""
    rows = (Position.objects.filter(signal=signal).order_by("open_time", "id")
            .values_list("open_time", "open_price", "status", "close_time", "close_price", "close_reason"))
    return tuple(SignalTrade(opened_at=opened, open_price=price,
                             **({"closed_at": closed, "close_price": close, "close_reason": reason}
                                if status == Position.Status.CLOSED else {}))
                 for opened, price, status, closed, close, reason in rows)


def account_currency(*, owner_id) -> str | None:
    """The currency of the user's trading account (their enabled bridge's)."""
    return Bridge.objects.filter(owner_id=owner_id, enabled=True).values_list("currency", flat=True).first()
