import uuid

from django.db import models


class AuditEntry(models.Model):
    """One link of the tamper-evident chain (docs/api.md#audit-log). Rows are only ever
    inserted, by `audit.services.append_entry`; the database refuses updates
    and deletes (see the trigger migration)."""

    class ActorType(models.TextChoices):
        USER = "user"
        PRODUCER = "producer"
        BRIDGE = "bridge"
        SYSTEM = "system"

    class Status(models.TextChoices):
        SUCCESS = "success"
        FAILURE = "failure"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    seq = models.BigIntegerField(unique=True, editable=False)
    ts = models.DateTimeField(db_index=True)
    actor_type = models.CharField(max_length=16, choices=ActorType.choices)
    actor = models.CharField(max_length=150, null=True, blank=True)
    action = models.CharField(max_length=64)
    target_type = models.CharField(max_length=64, blank=True, default="")
    target_id = models.CharField(max_length=64, blank=True, default="")
    status = models.CharField(max_length=16, choices=Status.choices)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True, default="")
    request_id = models.CharField(max_length=128, null=True, blank=True)
    meta = models.JSONField(default=dict)
    prev_hash = models.CharField(max_length=64)
    # Not unique: `seq` already keeps the chain from forking, and an index of
    # random 64-character keys would cost every append for nothing.
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["-seq"]
        verbose_name_plural = "audit entries"
        # The staff API filters on these and pages newest first by seq: with
        # seq last in each index, a filtered page is one index range scan.
        indexes = [
            models.Index(fields=["action", "seq"], name="audit_action_seq_idx"),
            models.Index(fields=["actor", "seq"], name="audit_actor_seq_idx"),
            models.Index(fields=["target_type", "target_id", "seq"], name="audit_target_seq_idx"),
            models.Index(fields=["status", "seq"], name="audit_status_seq_idx"),
        ]

    def __str__(self):
        return f"#{self.seq} {self.action} {self.status}"


class ChainHead(models.Model):
    """The newest link of the chain, in one row. Every append updates it in
    the appending transaction, so its row lock is the lock that serializes
    appends until that transaction ends, and the next writer's UPDATE reads
    the committed head (PostgreSQL re-reads a row it waited for). Not
    evidence: `verify_audit` checks the entries alone; a tampered head only
    makes the next entry's link break, which verification names."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    seq = models.BigIntegerField()
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="audit_chainhead_single_row")]

    def __str__(self):
        return f"head #{self.seq}"
