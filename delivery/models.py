"""The event outbox and the webhooks that push it.

An `Event` is one user's copy of something that happened (a signal in their
feed, an order of theirs moving), written in the transaction of the action it
describes; the live stream reads these rows by id. A `Delivery` is one event
owed to one webhook endpoint, written in the same transaction, and is the
truth of whether it was sent: the sender claims due rows, and a lost wake-up
or a killed worker leaves them due again."""

import uuid

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils import timezone

from delivery.addresses import origin_of

URL_MAX_LENGTH = 2048
ERROR_MAX_LENGTH = 200


class EventType(models.TextChoices):
    SIGNAL_CREATED = "signal.created"
    SIGNAL_EXPIRED = "signal.expired"
    APPROVAL_CREATED = "approval.created"
    ORDER_UPDATED = "order.updated"
    POSITION_OPENED = "position.opened"
    POSITION_CLOSED = "position.closed"
    RISK_MODE_CHANGED = "risk.mode_changed"


class Event(models.Model):
    """One recipient's event. Ids grow in the order the rows commit: every
    event is written after the audit entry of the action, while that
    transaction holds the audit chain's lock (delivery's receivers run after
    audit's), so a reader that resumes after an id misses nothing."""

    id = models.BigAutoField(primary_key=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    type = models.CharField(max_length=32, choices=EventType.choices)
    # The resource as the API shows it to this user (its serializer's output).
    payload = models.JSONField(encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["user", "id"], name="event_user_id_idx"),
                   models.Index(fields=["created_at"], name="event_created_idx")]

    def __str__(self):
        return f"{self.type} #{self.pk}"


class WebhookEndpoint(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=URL_MAX_LENGTH)
    events = models.JSONField(help_text="The event types sent to this endpoint.")
    # Fernet-encrypted (machines.crypto), like the machines' secrets: the
    # sender needs the secret itself to sign.
    secret_encrypted = models.TextField()
    previous_secret_encrypted = models.TextField(blank=True, default="")
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    enabled = models.BooleanField(default=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=ERROR_MAX_LENGTH, blank=True, default="")
    # The current run of failed attempts: auto-disable, and the pause after
    # a failure that keeps a dead receiver from costing a timeout per delivery.
    consecutive_failures = models.PositiveIntegerField(default=0)
    failing_since = models.DateTimeField(null=True, blank=True)
    paused_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["owner", "created_at", "id"], name="webhook_owner_created_idx")]

    def __str__(self):
        return f"{self.owner} → {origin_of(self.url)}"


class Delivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        SUCCEEDED = "succeeded"
        FAILED = "failed"  # gave up: out of retries, or the endpoint was disabled

    id = models.BigAutoField(primary_key=True)
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0, help_text="Every attempt, redeliveries included.")
    # Attempts since it was (re)queued: the step of the backoff schedule.
    tries = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # A sender's claim: nobody else sends the row until it ends. A killed
    # sender's claim runs out and the row is sent again, same webhook-id.
    lease_until = models.DateTimeField(null=True, blank=True)
    lease_token = models.UUIDField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=ERROR_MAX_LENGTH, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "deliveries"
        constraints = [models.UniqueConstraint(fields=["event", "endpoint"], name="delivery_one_per_event_endpoint")]
        indexes = [
            # What the sender looks for: the due rows, oldest first.
            models.Index(fields=["next_attempt_at", "id"], name="delivery_due_idx",
                         condition=Q(status="pending")),
            # An endpoint's deliveries newest first (the API's list), and its
            # claims in flight (the concurrency limit).
            models.Index(fields=["endpoint", "created_at", "id"], name="delivery_endpoint_created_idx"),
            models.Index(fields=["endpoint", "lease_until"], name="delivery_endpoint_lease_idx",
                         condition=Q(lease_until__isnull=False)),
        ]

    def __str__(self):
        return f"delivery {self.pk} of event {self.event_id}"


class DeliveryAttempt(models.Model):
    id = models.BigAutoField(primary_key=True)
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True, help_text="None: no HTTP answer.")
    error = models.CharField(max_length=ERROR_MAX_LENGTH, blank=True, default="")
    succeeded = models.BooleanField()

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["delivery", "started_at"], name="attempt_delivery_started_idx")]
