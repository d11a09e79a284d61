import uuid

from django.db import models


class AuditEntry(models.Model):
    """One link of the tamper-evident chain (contract §5). Rows are only ever
    inserted, by `audit.services.append_entry`; the database refuses updates
    and deletes (see the trigger migration)."""

    class ActorType(models.TextChoices):
        USER = "user"
        PRODUCER = "producer"
        SYSTEM = "system"

    class Status(models.TextChoices):
        SUCCESS = "success"
        FAILURE = "failure"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    seq = models.BigIntegerField(unique=True, editable=False)
    ts = models.DateTimeField(db_index=True)
    actor_type = models.CharField(max_length=16, choices=ActorType.choices)
    actor = models.CharField(max_length=150, null=True, blank=True, db_index=True)
    action = models.CharField(max_length=64, db_index=True)
    target_type = models.CharField(max_length=64, blank=True, default="")
    target_id = models.CharField(max_length=64, blank=True, default="")
    status = models.CharField(max_length=16, choices=Status.choices)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True, default="")
    request_id = models.CharField(max_length=128, null=True, blank=True)
    meta = models.JSONField(default=dict)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["-seq"]
        verbose_name_plural = "audit entries"
        indexes = [
            models.Index(fields=["target_type", "target_id"], name="audit_target_idx"),
            models.Index(fields=["status", "ts"], name="audit_status_ts_idx"),
        ]

    def __str__(self):
        return f"#{self.seq} {self.action} {self.status}"
