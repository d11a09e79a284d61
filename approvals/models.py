import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import ProhibitNullCharactersValidator, RegexValidator
from django.db import models
from django.utils import timezone

from core.display import utc_time
from signals.models import Signal


class PublishedConsentIsFinal(ValidationError):
    """Raised on any attempt to change or remove a published consent text."""


class ConsentTextQuerySet(models.QuerySet):
    # A user agreed to exactly the words of the version they accepted; a bulk
    # update or delete would silently change what they agreed to.
    def update(self, **kwargs):
        raise PublishedConsentIsFinal("A published consent text never changes; publish a new version.")

    def delete(self):
        raise PublishedConsentIsFinal("A published consent text is never removed.")

    def current(self):
        """The version a decision must name: the most recently published one."""
        return self.order_by("-published_at", "-id").first()


class ConsentText(models.Model):
    """One published version of the text a user accepts when deciding on a
    signal. Rows are only ever added (`approvals.services.publish_consent`)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    version = models.CharField(
        max_length=32,
        unique=True,
        validators=[RegexValidator(r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
                                   "Letters, digits, '.', '_' and '-', starting with a letter or digit.")],
        help_text="The label clients send back as consent_version, e.g. 2 or 2026-11.",
    )
    text = models.TextField()
    published_at = models.DateTimeField(editable=False, db_index=True)
    published_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                     editable=False, related_name="+")

    objects = ConsentTextQuerySet.as_manager()

    class Meta:
        ordering = ["-published_at", "-id"]
        verbose_name = "consent text"

    def __str__(self):
        return f"Consent v{self.version}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise PublishedConsentIsFinal("A published consent text never changes; publish a new version.")
        kwargs["force_insert"] = True  # an explicit id of an existing row must fail, not overwrite it
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PublishedConsentIsFinal("A published consent text is never removed.")


class Approval(models.Model):
    """A user's decision on one signal of their feed: final, one per signal
    (the one-to-one is a unique constraint in the database), written only by
    `approvals.services.decide_signal`."""

    class Decision(models.TextChoices):
        APPROVED = "approved"
        REJECTED = "rejected"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    signal = models.OneToOneField(Signal, on_delete=models.PROTECT, related_name="approval")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="approvals")
    decision = models.CharField(max_length=8, choices=Decision.choices)
    # No database text holds NUL (PostgreSQL refuses it): a 422, not a 500.
    consent_version = models.CharField(max_length=32, validators=[ProhibitNullCharactersValidator()])
    reason = models.CharField(max_length=500, blank=True, default="", validators=[ProhibitNullCharactersValidator()])
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # A user's approvals newest first (the API's list and its cursor),
            # with or without the decision filter; staff lists over everyone.
            models.Index(fields=["user", "created_at", "id"], name="approval_user_created_idx"),
            models.Index(fields=["user", "decision", "created_at", "id"], name="approval_user_decision_idx"),
            models.Index(fields=["created_at", "id"], name="approval_created_idx"),
            models.Index(fields=["decision", "created_at", "id"], name="approval_decision_created_idx"),
        ]

    def __str__(self):
        # Reads the signal, its instrument and the user: select_related them where many are shown.
        return f"{self.decision}: {self.signal.label} by {self.user.username}, {utc_time(self.created_at)}"


class PendingSignal(Signal):
    """The console's queue of signals still awaiting a decision (a view on
    signals; see approvals/admin.py)."""

    class Meta:
        proxy = True
        verbose_name = "pending signal"
