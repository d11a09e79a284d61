import ipaddress
import uuid

from django.db import connection, transaction
from django.utils import timezone

from audit import chain
from audit.models import AuditEntry
from audit.redaction import redact
from tradeplatform import request_context

# Any constant identifying "the audit chain" among advisory locks.
CHAIN_LOCK_ID = 0x617564697400  # b"audit\0"


def _lock_chain():
    """Serializes appends until the surrounding transaction ends, so the chain
    never forks and `seq` never skips. SQLite needs nothing: with
    `transaction_mode=IMMEDIATE` a transaction holds the database's single
    write lock from its first statement."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CHAIN_LOCK_ID])


def _normalized_ip(value):
    try:
        return str(ipaddress.ip_address(value)) if value else None
    except ValueError:
        return None


def append_entry(*, action, status=AuditEntry.Status.SUCCESS, target_type="", target_id="", meta=None,
                 actor_type=None, actor=None) -> AuditEntry:
    """Appends one entry inside the caller's transaction (or its own): the
    entry commits with the action it records, or neither does. Who and from
    where come from the request context unless given."""
    ctx = request_context.current()
    with transaction.atomic():
        _lock_chain()
        last = AuditEntry.objects.order_by("-seq").values_list("seq", "hash").first()
        seq, prev_hash = (last[0] + 1, last[1]) if last else (1, chain.GENESIS_HASH)
        entry = AuditEntry(
            id=uuid.uuid4(),
            seq=seq,
            ts=timezone.now(),
            actor_type=actor_type or ctx.actor_type,
            actor=actor if actor_type else ctx.actor,
            action=action,
            target_type=target_type,
            target_id=str(target_id or ""),
            status=status,
            ip=_normalized_ip(ctx.ip),
            user_agent=ctx.user_agent[:512],
            request_id=ctx.request_id,
            meta=redact(meta or {}),
            prev_hash=prev_hash,
        )
        entry.hash = chain.compute_hash(chain.entry_document(entry))
        entry.save(force_insert=True)
    return entry
