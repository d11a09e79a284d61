import uuid

from django.db import models
from django.utils import timezone


class MachineClient(models.Model):
    """A program that signs its requests. A subclass adds its `owner` (whose
    data its requests touch) and sets `key_prefix`. The signature
    authentication makes it `request.user`, hence the two properties DRF and
    the throttles ask of a principal."""

    key_prefix = ""  # e.g. "prd": key ids read "prd_<24 hex>"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100, unique=True)
    key_id = models.CharField(max_length=64, unique=True, editable=False)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    disabled_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        abstract = True
        ordering = ["name"]

    def __str__(self):
        return self.name

    @classmethod
    def secret_model(cls) -> type["MachineSecret"]:
        """The concrete MachineSecret whose foreign key to this model has
        `related_name="secrets"`."""
        return cls._meta.get_field("secrets").related_model

    @classmethod
    def secret_owner_field(cls) -> str:
        """The name of that foreign key ("producer", "bridge")."""
        return cls._meta.get_field("secrets").field.name

    @property
    def is_authenticated(self):
        return True

    @property
    def is_anonymous(self):
        return False


class SecretQuerySet(models.QuerySet):
    def live(self, now=None):
        now = now or timezone.now()
        return self.filter(models.Q(not_after__isnull=True) | models.Q(not_after__gt=now))


class MachineSecret(models.Model):
    """One HMAC secret of a machine client, Fernet-encrypted. A rotation gives
    the old secrets a `not_after` (the grace period), after which they no
    longer verify anything. A subclass adds the foreign key to its client,
    with `related_name="secrets"` (how the generic services find it)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    encrypted_secret = models.TextField(editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    not_after = models.DateTimeField(null=True, blank=True, editable=False)

    objects = SecretQuerySet.as_manager()

    class Meta:
        abstract = True
        ordering = ["-created_at"]
