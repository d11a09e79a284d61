import hashlib
import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Upper
from django.utils import timezone

from core.display import utc_time
from core.model_fields import decimal_field
from machines.models import MachineClient, MachineSecret


MAX_LAG_LIMIT_SECONDS = 3600


class Instrument(models.Model):
    """The whitelist of tradable symbols. `digits` is the quoted
    precision (5 for EURUSD, 3 for USDJPY, 2 for XAUUSD): prices are shown
    with at least that many decimal places, charts scale their axes with it."""

    symbol = models.CharField(max_length=16, unique=True,
                              help_text="Upper case, e.g. EURUSD. Incoming signals match it case-insensitively.")
    enabled = models.BooleanField(default=True, help_text="Signals for a disabled instrument are refused (422).")
    digits = models.PositiveSmallIntegerField(default=5, help_text="Decimal places the instrument is quoted with.")
    description = models.CharField(max_length=100, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["symbol"]
        constraints = [
            models.CheckConstraint(condition=models.Q(symbol=Upper("symbol")), name="instrument_symbol_upper"),
            models.CheckConstraint(condition=models.Q(digits__lte=8), name="instrument_digits_max_8"),
        ]

    def __str__(self):
        return self.symbol

    def clean(self):
        self.symbol = self.symbol.strip().upper()  # before the constraints are validated

    def save(self, *args, **kwargs):
        self.clean()
        super().save(*args, **kwargs)


class Producer(MachineClient):
    """A strategy engine that posts HMAC-signed signals (docs/api.md#signed-requests)."""

    key_prefix = "prd"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="producers",
                              help_text="Whose feed the producer's signals land in.")
    public = models.BooleanField(default=False, help_text="Listed to every user, who may subscribe to it; "
                                                          "only then do its signals reach subscribers' feeds.")
    max_lag_seconds = models.PositiveIntegerField(
        default=60, validators=[MinValueValidator(1), MaxValueValidator(MAX_LAG_LIMIT_SECONDS)],
        help_text="Alerts (POST /hooks/alerts/<token>/) whose time is older than this are refused as stale.")
    # SHA-256 hex of the alert hook's token: the token itself is shown once and never stored.
    alert_token_hash = models.CharField(max_length=64, null=True, blank=True, unique=True, editable=False)
    alert_token_created_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta(MachineClient.Meta):
        constraints = [
            models.CheckConstraint(name="producer_max_lag_range", condition=models.Q(
                max_lag_seconds__gte=1, max_lag_seconds__lte=MAX_LAG_LIMIT_SECONDS)),
        ]


def alert_token_digest(token: str) -> str:
    """What is stored of a producer's alert token: its SHA-256, hex."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class ProducerSecret(MachineSecret):
    """One HMAC secret of a producer (machines/models.py)."""

    producer = models.ForeignKey(Producer, on_delete=models.CASCADE, related_name="secrets")

    class Meta(MachineSecret.Meta):
        indexes = [models.Index(fields=["producer", "not_after"], name="producer_secret_live_idx")]

    def __str__(self):
        return f"secret of {self.producer_id} from {self.created_at:%Y-%m-%d %H:%M}"


class Signal(models.Model):
    class Side(models.TextChoices):
        BUY = "buy"
        SELL = "sell"

    class Status(models.TextChoices):
        PENDING = "pending"
        APPROVED = "approved"
        REJECTED = "rejected"
        EXPIRED = "expired"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Looked up through `signal_feed_idx`, which starts with it: an index of
    # its own would only slow down the insert of a signal's copies.
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="signals",
                              db_index=False)
    # A producer's signal lands in its owner's feed (this row, origin None:
    # the publication, which the dedup key identifies) and in each
    # subscriber's feed as a copy of it (origin set): every copy has its own
    # status, approval, order and chart. Its lookups use the index of
    # `signal_one_copy_per_feed`: no index of its own to keep up on every insert.
    origin = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, editable=False,
                               related_name="copies", db_index=False)
    # On the owner's signal: how many feeds the publication reached (its
    # owner's and its subscribers'), what a replay of it answers.
    deliveries = models.PositiveIntegerField(null=True, blank=True, editable=False, default=1, db_default=1)
    producer = models.ForeignKey(Producer, on_delete=models.PROTECT, related_name="signals")
    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="signals")
    side = models.CharField(max_length=4, choices=Side.choices)
    time = models.DateTimeField(help_text="When the strategy produced the signal.")
    version = models.PositiveIntegerField(help_text="The strategy's version.")
    entry_price = decimal_field()
    stop_loss = decimal_field(null=True, blank=True)
    take_profit = decimal_field(null=True, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    # The stored status; a pending signal past `expires_at` *reads* as expired
    # (`effective_status`) before `expire_signals` stores it.
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # When what the resource shows last changed: its arrival, then its
    # decision. An expiry dates from `expires_at`, when the signal began to
    # read as expired, whenever `expire_signals` stores it. The feed's
    # Last-Modified (selectors.feed_changed_at) is the newest of them.
    updated_at = models.DateTimeField(default=timezone.now, editable=False)
    # SHA-256 of the signal's content (signals/services.py): a repeat of the
    # dedup key is a harmless replay when this matches, a conflict otherwise.
    fingerprint = models.CharField(max_length=64, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["producer", "instrument", "time", "version"], name="signal_dedup_key",
                                    condition=models.Q(origin__isnull=True)),
            models.UniqueConstraint(fields=["origin", "owner"], name="signal_one_copy_per_feed",
                                    condition=models.Q(origin__isnull=False)),
            models.CheckConstraint(name="signal_deliveries_on_publication",
                                   condition=models.Q(origin__isnull=True, deliveries__isnull=False, deliveries__gte=1)
                                   | models.Q(origin__isnull=False, deliveries__isnull=True)),
            models.CheckConstraint(condition=models.Q(version__gte=1), name="signal_version_positive"),
            models.CheckConstraint(condition=models.Q(entry_price__gt=0), name="signal_entry_price_positive"),
            models.CheckConstraint(condition=models.Q(expires_at__gt=models.F("time")),
                                   name="signal_expires_after_time"),
        ]
        indexes = [
            models.Index(fields=["owner", "created_at", "id"], name="signal_feed_idx"),
            # The newest change of a feed without a scan of it.
            models.Index(fields=["owner", "updated_at"], name="signal_feed_changed_idx"),
            models.Index(fields=["created_at", "id"], name="signal_created_idx"),
            models.Index(fields=["status", "expires_at"], name="signal_status_expiry_idx"),
        ]

    def __str__(self):
        return f"{self.label} @ {utc_time(self.time)}"

    @property
    def label(self) -> str:
        """What an operator calls the signal ("sell EURUSD v3"). Reads the
        instrument: lists that show it select_related("instrument")."""
        return f"{self.side} {self.instrument.symbol} v{self.version}"

    def effective_status(self, now=None) -> str:
        if self.status == self.Status.PENDING and self.expires_at <= (now or timezone.now()):
            return self.Status.EXPIRED
        return self.status


class Subscription(models.Model):
    """A user's wish to receive a producer's signals in their own feed. It
    delivers while the producer is public (or the user owns it) and the user
    is active: a producer made private again stops reaching its subscribers
    without their subscriptions being lost."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="subscriptions")
    producer = models.ForeignKey(Producer, on_delete=models.CASCADE, related_name="subscriptions")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["producer", "user"], name="subscription_once_per_user")]
        indexes = [models.Index(fields=["user", "created_at", "id"], name="subscription_user_idx")]

    def __str__(self):
        return f"{self.user_id} to {self.producer_id}"

    @property
    def active(self) -> bool:
        """Whether the producer's next signal reaches this user (reads the
        producer and the user: lists select_related them)."""
        return self.user.is_active and (self.producer.public or self.producer.owner_id == self.user_id)
