"""Execution: the user's broker bridge, the orders the platform sends it, the
commands it polls, the fills it reports, the positions those fills make and
the account snapshots it sends. Written only by execution/services.py."""

import uuid

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils import timezone

from approvals.models import Approval
from core.display import utc_time
from core.model_fields import decimal_field
from core.prices import format_price
from machines.models import MachineClient, MachineSecret
from risk.guards import Figures
from risk.modes import GUARD_MODES, Mode
from signals.models import Instrument, Signal

Side = Signal.Side
# A broker's ticket or deal id: text, whatever the broker numbers them with.
TICKET_MAX_LENGTH = 64
# Derived from the approval ("tp-" + 24 hex digits), so it fits the 31
# characters of MT5's order comment.
CLIENT_ORDER_ID_MAX_LENGTH = 31


def _lots(volume) -> str:
    """A volume in titles: "0.28", not "0.28000000"."""
    return "-" if volume is None else format_price(volume, 2)


def _ticket(**options) -> models.CharField:
    return models.CharField(max_length=TICKET_MAX_LENGTH, **options)


class Bridge(MachineClient):
    """The program at the broker's side that trades one broker account of one
    user: an MT5 expert advisor, a broker-API service or the paper broker."""

    key_prefix = "brg"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="bridges",
                              help_text="Whose approvals the bridge executes.")
    account_ref = models.CharField(max_length=100, help_text="The broker's id of the account.")
    currency = models.CharField(max_length=3, default="USD", help_text="The account currency.")
    paused_at = models.DateTimeField(null=True, blank=True, editable=False,
                                     help_text="Set while the owner has paused trading: new orders are denied.")
    last_poll_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_snapshot_at = models.DateTimeField(null=True, blank=True, editable=False,
                                            help_text="The time of the newest account snapshot.")

    class Meta(MachineClient.Meta):
        constraints = [
            # "The signal's owner has an enabled bridge" names at most one.
            models.UniqueConstraint(fields=["owner"], condition=Q(enabled=True), name="bridge_one_enabled_per_owner"),
        ]


class BridgeSecret(MachineSecret):
    bridge = models.ForeignKey(Bridge, on_delete=models.CASCADE, related_name="secrets")

    class Meta(MachineSecret.Meta):
        indexes = [models.Index(fields=["bridge", "not_after"], name="bridge_secret_live_idx")]

    def __str__(self):
        return f"secret of {self.bridge_id} from {utc_time(self.created_at)}"


class Symbol(models.Model):
    """The broker's contract specification of one instrument, as the bridge
    reports it; sizing needs it."""

    bridge = models.ForeignKey(Bridge, on_delete=models.CASCADE, related_name="symbols")
    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="+")
    tick_size = decimal_field()
    tick_value = decimal_field(help_text="Account currency per lot per tick.")
    volume_min = decimal_field()
    volume_step = decimal_field()
    volume_max = decimal_field()
    updated_at = models.DateTimeField(default=timezone.now)
    signed_at = models.DateTimeField(null=True, blank=True,
                                     help_text="When the bridge signed the call that wrote these specs: a call "
                                               "signed earlier (an old call replayed) never overwrites them.")

    class Meta:
        ordering = ["bridge", "instrument"]
        constraints = [
            models.UniqueConstraint(fields=["bridge", "instrument"], name="symbol_bridge_instrument"),
            models.CheckConstraint(
                condition=Q(tick_size__gt=0, tick_value__gt=0, volume_min__gt=0, volume_step__gt=0,
                            volume_max__gte=models.F("volume_min")),
                name="symbol_specs_positive",
            ),
        ]

    def __str__(self):
        return f"{self.instrument} at {self.bridge}"


class Order(models.Model):
    """What the platform asks the bridge to trade for one approval: sized and
    checked by risk when the approval is made, `denied` (with its reasons)
    when it must not trade."""

    class Status(models.TextChoices):
        PENDING = "pending"
        SENT = "sent"
        ACCEPTED = "accepted"
        PARTIALLY_FILLED = "partially_filled"
        FILLED = "filled"
        REJECTED = "rejected"
        DENIED = "denied"
        EXPIRED = "expired"
        CANCELLED = "cancelled"

    # Each status an order may move to, and the statuses it may move from.
    # A move is one UPDATE guarded by these: of two racing moves, one wins.
    TRANSITIONS = {
        Status.SENT: (Status.PENDING,),
        Status.ACCEPTED: (Status.PENDING, Status.SENT),
        Status.PARTIALLY_FILLED: (Status.PENDING, Status.SENT, Status.ACCEPTED),
        Status.FILLED: (Status.PENDING, Status.SENT, Status.ACCEPTED, Status.PARTIALLY_FILLED),
        Status.REJECTED: (Status.PENDING, Status.SENT, Status.ACCEPTED),
        Status.EXPIRED: (Status.PENDING, Status.SENT, Status.ACCEPTED, Status.PARTIALLY_FILLED),
        Status.CANCELLED: (Status.PENDING, Status.SENT, Status.ACCEPTED),
    }
    # Not filled at all yet: past `expires_at`, these read (and are swept) as expired.
    UNFILLED = (Status.PENDING, Status.SENT, Status.ACCEPTED)
    # Not filled (in whole) by `expires_at`: `expired` then, the rest cancelled.
    EXPIRING = (*UNFILLED, Status.PARTIALLY_FILLED)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    bridge = models.ForeignKey(Bridge, on_delete=models.PROTECT, related_name="orders")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders")
    signal = models.OneToOneField(Signal, on_delete=models.PROTECT, related_name="order")
    approval = models.OneToOneField(Approval, on_delete=models.PROTECT, related_name="order")
    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="+")
    side = models.CharField(max_length=4, choices=Side.choices)
    volume = decimal_field(null=True, blank=True, help_text="Lots; empty when denied before it could be sized.")
    entry_price = decimal_field()
    stop_loss = decimal_field(null=True, blank=True)
    take_profit = decimal_field(null=True, blank=True)
    # The stored status; an unfilled order past `expires_at` *reads* as expired
    # (`effective_status`) before the sweep stores it.
    status = models.CharField(max_length=16, choices=Status.choices)
    reasons = models.JSONField(default=list, blank=True, help_text="Reason codes of a denial or rejection.")
    client_order_id = models.CharField(max_length=CLIENT_ORDER_ID_MAX_LENGTH, unique=True)
    broker_ticket = _ticket(null=True, blank=True)
    initial_risk = decimal_field(null=True, blank=True,
                                 help_text="Money lost at the stop: volume x ticks to the stop x tick value.")
    risk_policy_version = models.PositiveIntegerField(null=True, blank=True)
    equity_at_sizing = decimal_field(null=True, blank=True)
    filled_volume = decimal_field(default=0)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(help_text="The signal's: not filled by then, the order expires.")
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["owner", "created_at", "id"], name="order_owner_created_idx"),
            models.Index(fields=["created_at", "id"], name="order_created_idx"),
            models.Index(fields=["status", "expires_at"], name="order_status_expiry_idx"),
        ]

    def __str__(self):
        return f"{self.side} {_lots(self.volume)} {self.instrument} ({self.status})"

    def effective_status(self, now=None) -> str:
        if self.status in self.EXPIRING and self.expires_at <= (now or timezone.now()):
            return self.Status.EXPIRED
        return self.status


class Position(models.Model):
    """A position at the broker, rebuilt from its fills: `origin` platform
    when an order of the platform opened it, external otherwise."""

    class Status(models.TextChoices):
        OPEN = "open"
        CLOSED = "closed"

    class Origin(models.TextChoices):
        PLATFORM = "platform"
        EXTERNAL = "external"

    class CloseReason(models.TextChoices):
        TAKE_PROFIT = "take_profit"
        STOP_LOSS = "stop_loss"
        MANUAL = "manual"
        BROKER = "broker"
        APPROVAL_EXPIRED = "approval_expired"
        DRAWDOWN_GUARD = "drawdown_guard"
        DAILY_LOSS_GUARD = "daily_loss_guard"
        MARKET_GUARD = "market_guard"
        USER = "user"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    bridge = models.ForeignKey(Bridge, on_delete=models.PROTECT, related_name="positions")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="positions")
    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="+")
    side = models.CharField(max_length=4, choices=Side.choices)
    status = models.CharField(max_length=6, choices=Status.choices, default=Status.OPEN)
    ticket = _ticket(help_text="The broker's position ticket.")
    volume = decimal_field(help_text="Open volume now.")
    opened_volume = decimal_field(help_text="Sum of the in fills.")
    open_price = decimal_field(help_text="Volume-weighted over the in fills.")
    open_time = models.DateTimeField()
    close_price = decimal_field(null=True, blank=True, help_text="Volume-weighted over the out fills.")
    close_time = models.DateTimeField(null=True, blank=True)
    close_reason = models.CharField(max_length=16, choices=CloseReason.choices, null=True, blank=True)
    stop_loss = decimal_field(null=True, blank=True)
    take_profit = decimal_field(null=True, blank=True)
    realized_pnl = decimal_field(default=0, help_text="Profit, commission and swap of its fills.")
    commission = decimal_field(default=0)
    swap = decimal_field(default=0)
    unrealized_pnl = decimal_field(null=True, blank=True,
                                   help_text="The broker's profit for the ticket in the newest snapshot.")
    origin = models.CharField(max_length=8, choices=Origin.choices)
    signal = models.ForeignKey(Signal, on_delete=models.PROTECT, null=True, blank=True, related_name="positions")
    order = models.ForeignKey(Order, on_delete=models.PROTECT, null=True, blank=True, related_name="positions")
    initial_risk = decimal_field(null=True, blank=True)
    missed_snapshots = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["bridge", "ticket"], condition=Q(status="open"),
                                    name="position_open_ticket"),
        ]
        indexes = [
            models.Index(fields=["owner", "created_at", "id"], name="position_owner_created_idx"),
            models.Index(fields=["owner", "status", "created_at", "id"], name="position_owner_status_idx"),
            models.Index(fields=["created_at", "id"], name="position_created_idx"),
            models.Index(fields=["bridge", "ticket"], name="position_bridge_ticket_idx"),
            # The open positions limit counts an account's open positions; the
            # cooldown reads its newest closes.
            models.Index(fields=["bridge", "status", "close_time"], name="position_bridge_closes_idx"),
        ]

    def __str__(self):
        return f"{self.side} {_lots(self.volume)} {self.instrument} #{self.ticket} ({self.status})"


class Command(models.Model):
    """An instruction the bridge polls and acknowledges: open an order's
    position, close a position, cancel an order. Fields that do not apply
    to its type are empty."""

    class Type(models.TextChoices):
        OPEN = "open"
        CLOSE = "close"
        CANCEL = "cancel"

    class Status(models.TextChoices):
        QUEUED = "queued"
        SENT = "sent"
        ACCEPTED = "accepted"
        REJECTED = "rejected"
        EXECUTED = "executed"
        FAILED = "failed"
        # An `open` whose order expired before the bridge polled it: never delivered.
        WITHDRAWN = "withdrawn"

    # Delivered until acknowledged; then the bridge's answer stands.
    UNACKNOWLEDGED = (Status.QUEUED, Status.SENT)
    # What a bridge may answer (POST /bridge/ack); an accepted command may
    # still complete or fail, every other answer is final.
    ACK_STATUSES = (Status.ACCEPTED, Status.REJECTED, Status.EXECUTED, Status.FAILED)
    ACK_LATER = {Status.ACCEPTED: (Status.EXECUTED, Status.FAILED)}
    # Characters of the broker's reason kept.
    ERROR_MAX = 500

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    bridge = models.ForeignKey(Bridge, on_delete=models.PROTECT, related_name="commands")
    order = models.ForeignKey(Order, on_delete=models.PROTECT, null=True, blank=True, related_name="commands")
    position = models.ForeignKey(Position, on_delete=models.PROTECT, null=True, blank=True, related_name="commands")
    type = models.CharField(max_length=6, choices=Type.choices)
    client_order_id = models.CharField(max_length=CLIENT_ORDER_ID_MAX_LENGTH, null=True, blank=True)
    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="+")
    side = models.CharField(max_length=4, choices=Side.choices)
    volume = decimal_field(null=True, blank=True)
    entry_price = decimal_field(null=True, blank=True)
    stop_loss = decimal_field(null=True, blank=True)
    take_profit = decimal_field(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    position_ticket = _ticket(null=True, blank=True)
    reason = models.CharField(max_length=16, null=True, blank=True, help_text="Why a close was asked for.")
    status = models.CharField(max_length=9, choices=Status.choices, default=Status.QUEUED)
    broker_ticket = _ticket(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    sent_at = models.DateTimeField(null=True, blank=True)
    acked_at = models.DateTimeField(null=True, blank=True)
    # A close's position went flat (by it or otherwise): it explains nothing
    # of a later life of the ticket, should the broker open it again.
    spent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["bridge", "status", "created_at", "id"], name="command_poll_idx"),
        ]

    def __str__(self):
        return f"{self.type} {self.instrument} ({self.status})"


class Fill(models.Model):
    """One deal at the broker, stored once per (bridge, fill_id): the truth of
    what was traded."""

    class Entry(models.TextChoices):
        IN = "in"
        OUT = "out"

    bridge = models.ForeignKey(Bridge, on_delete=models.PROTECT, related_name="fills")
    fill_id = models.CharField(max_length=TICKET_MAX_LENGTH, help_text="The broker's deal id.")
    order = models.ForeignKey(Order, on_delete=models.PROTECT, null=True, blank=True, related_name="fills")
    position = models.ForeignKey(Position, on_delete=models.PROTECT, related_name="fills")
    client_order_id = models.CharField(max_length=TICKET_MAX_LENGTH, null=True, blank=True)
    ticket = _ticket(null=True, blank=True, help_text="The broker's order ticket.")
    position_ticket = _ticket()
    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="+")
    side = models.CharField(max_length=4, choices=Side.choices)
    entry = models.CharField(max_length=3, choices=Entry.choices)
    volume = decimal_field()
    price = decimal_field()
    time = models.DateTimeField()
    commission = decimal_field(default=0)
    swap = decimal_field(default=0)
    profit = decimal_field(default=0)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["time", "fill_id"]
        constraints = [
            models.UniqueConstraint(fields=["bridge", "fill_id"], name="fill_once_per_bridge"),
            models.CheckConstraint(condition=Q(volume__gt=0), name="fill_volume_positive"),
        ]

    def __str__(self):
        return f"{self.entry} {self.side} {_lots(self.volume)} #{self.position_ticket} ({self.fill_id})"


class AccountSnapshot(models.Model):
    """The account as the bridge reported it at `time`, stored once."""

    bridge = models.ForeignKey(Bridge, on_delete=models.PROTECT, related_name="snapshots")
    time = models.DateTimeField()
    currency = models.CharField(max_length=3)
    balance = decimal_field()
    equity = decimal_field()
    margin_free = decimal_field()
    positions = models.JSONField(default=list, blank=True, encoder=DjangoJSONEncoder,
                                 help_text="The open positions the broker reported.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-time"]
        constraints = [models.UniqueConstraint(fields=["bridge", "time"], name="snapshot_once_per_bridge_time")]

    def __str__(self):
        return f"{self.bridge} at {utc_time(self.time)}: equity {format_price(self.equity, 2)} {self.currency}"


class ReconciliationRun(models.Model):
    """One comparison of the broker's open positions (an account snapshot)
    with the books' open positions, or the note that the account fell silent
    (`stale`: no snapshot for longer than ACCOUNT_STALE_SECONDS). Written
    only by execution/reconciliation.py."""

    class Status(models.TextChoices):
        OK = "ok"  # every position matches
        DRIFT = "drift"  # at least one item is not a match
        STALE = "stale"  # the account went silent; no items

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    bridge = models.ForeignKey(Bridge, on_delete=models.PROTECT, related_name="reconciliation_runs")
    snapshot = models.ForeignKey(AccountSnapshot, on_delete=models.PROTECT, related_name="reconciliation_runs",
                                 help_text="The snapshot compared; for a stale run, the newest one, now too old.")
    time = models.DateTimeField(help_text="The snapshot's time; for a stale run, when the account was found silent.")
    status = models.CharField(max_length=5, choices=Status.choices)
    counts = models.JSONField(default=dict, blank=True, help_text="How many items of each kind.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # A snapshot is compared once (a replay changes nothing).
            models.UniqueConstraint(fields=["snapshot"], condition=~Q(status="stale"),
                                    name="reconciliation_once_per_snapshot"),
        ]
        indexes = [
            models.Index(fields=["bridge", "created_at", "id"], name="reconciliation_bridge_idx"),
            models.Index(fields=["created_at", "id"], name="reconciliation_created_idx"),
        ]

    def __str__(self):
        return f"{self.bridge} at {utc_time(self.time)}: {self.status}"


class ReconciliationItem(models.Model):
    """What one run found about one position: `expected` is the books' view,
    `actual` the broker's (null where one side has nothing), `action` what
    the platform did about it."""

    class Kind(models.TextChoices):
        MATCH = "match"
        VOLUME_MISMATCH = "volume_mismatch"
        PRICE_MISMATCH = "price_mismatch"
        MISSING_AT_BROKER = "missing_at_broker"
        UNKNOWN_AT_BROKER = "unknown_at_broker"
        LATE_FILL = "late_fill"

    class Action(models.TextChoices):
        NONE = "none"  # they agree
        REVIEW = "review"  # they disagree and nothing is changed automatically: a person looks
        WAIT = "wait"  # missing, not yet for the number of snapshots that closes it
        CLOSED = "closed"  # missing long enough: closed with reason `broker`
        ADOPTED = "adopted"  # unknown to the books: adopted as an external position
        AWAIT_FILL = "await_fill"  # the broker filled a platform order whose fill has not arrived

    run = models.ForeignKey(ReconciliationRun, on_delete=models.PROTECT, related_name="items")
    kind = models.CharField(max_length=17, choices=Kind.choices)
    ticket = _ticket(help_text="The broker's position ticket (the books' for a position missing at the broker).")
    position = models.ForeignKey(Position, on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="reconciliation_items")
    expected = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    actual = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    action = models.CharField(max_length=10, choices=Action.choices)

    class Meta:
        ordering = ["run", "id"]

    def __str__(self):
        return f"{self.kind} #{self.ticket} ({self.action})"


class AccountState(models.Model):
    """What the account guards made of a bridge's newest snapshots: the
    equity's high-water mark and the UTC day's opening equity (open
    positions included), and the mode they put the account in. Written
    only by execution/guards.py."""

    bridge = models.OneToOneField(Bridge, on_delete=models.CASCADE, primary_key=True, related_name="account_state")
    mode = models.CharField(max_length=8, choices=GUARD_MODES, default=Mode.ACTIVE)
    mode_since = models.DateTimeField(default=timezone.now)
    reducing_until = models.DateTimeField(null=True, blank=True,
                                          help_text="While reducing: the 00:00 UTC at which it ends.")
    as_of = models.DateTimeField(null=True, blank=True, help_text="The time of the newest snapshot judged.")
    equity = decimal_field(null=True, blank=True)
    high_water_mark = decimal_field(null=True, blank=True)
    day = models.DateField(null=True, blank=True, help_text="The UTC day of `day_open_equity`.")
    day_open_equity = decimal_field(null=True, blank=True, help_text="The equity of the day's first snapshot.")
    drawdown_warned_at = models.DateTimeField(null=True, blank=True,
                                              help_text="Set while the drawdown is past the warning threshold.")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["mode"], name="account_state_mode_idx")]

    def __str__(self):
        return f"{self.bridge}: {self.mode}"

    def figures(self) -> Figures:
        return Figures(equity=self.equity, high_water_mark=self.high_water_mark,
                       day_open_equity=self.day_open_equity)
