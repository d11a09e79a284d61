import hashlib
import hmac
import ipaddress
import json
import uuid

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from audit import chain
from audit.metrics import AUDIT_EVENTS
from audit.models import AuditEntry, ChainHead
from audit.redaction import redact
from core import request_context

# One statement, one round trip: lock the head row, link and hash the entry,
# insert it. Waiting on the head row's lock serializes appends until the
# appending transaction ends, and after the wait PostgreSQL applies the UPDATE
# to the newest committed head (READ COMMITTED re-reads a row it waited for),
# so the chain never forks and seq never skips. The hash is SHA-256 over the
# UTF-8 bytes of prev_hash + canonical JSON, the JSON sent in three pieces
# around the link (`chain.canonical_json_around_link`).
APPEND_SQL = """
WITH head AS (
    UPDATE audit_chainhead
       SET seq = seq + 1,
           prev_hash = hash,
           hash = encode(sha256(convert_to(
               hash || %(before)s || hash || %(between)s || (seq + 1)::text || %(after)s, 'UTF8')), 'hex')
     WHERE id = 1
 RETURNING seq, prev_hash, hash
)
INSERT INTO audit_auditentry (id, seq, ts, actor_type, actor, action, target_type, target_id, status, ip,
                              user_agent, request_id, meta, prev_hash, hash)
SELECT %(id)s, head.seq, %(ts)s, %(actor_type)s, %(actor)s, %(action)s, %(target_type)s, %(target_id)s,
       %(status)s, %(ip)s::inet, %(user_agent)s, %(request_id)s, %(meta)s::jsonb, head.prev_hash, head.hash
  FROM head
RETURNING seq, prev_hash, hash
"""

ENTRY_COLUMNS = ["id", "ts", "actor_type", "actor", "action", "target_type", "target_id", "status", "ip",
                 "user_agent", "request_id"]


def _normalized_ip(value):
    try:
        return str(ipaddress.ip_address(value)) if value else None
    except ValueError:
        return None


def _without_nul(value):
    """PostgreSQL refuses NUL in text and jsonb: hostile input quoted in an
    entry must not turn the audited action into a server error."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    return value


def _normalized_meta(meta) -> dict:
    """Redacted, and reduced to plain JSON (UUIDs, decimals, datetimes and
    floats as strings, keys as strings) so that what is hashed is exactly
    what the database gives back, on SQLite and PostgreSQL alike (jsonb
    would print a float such as 1e+16 differently from Python)."""
    text = json.dumps(redact(meta or {}), cls=DjangoJSONEncoder, allow_nan=False)
    normalized = json.loads(text, parse_float=str)
    # json.dumps writes every NUL as \u0000: without one, there is nothing to replace.
    return _without_nul(normalized) if "\\u0000" in text else normalized


def _create_head():
    """The head row, made from the newest entry (or the genesis) the first
    time it is needed: on a fresh database, or after a test flush."""
    last = AuditEntry.objects.order_by("-seq").values("seq", "prev_hash", "hash").first()
    defaults = last or {"seq": 0, "prev_hash": chain.GENESIS_HASH, "hash": chain.GENESIS_HASH}
    return ChainHead.objects.get_or_create(pk=1, defaults=defaults)[0]


def _link_in_database(entry):
    before, between, after = chain.canonical_json_around_link(chain.entry_document(entry))
    params = {column: getattr(entry, column) for column in ENTRY_COLUMNS}
    params.update(meta=json.dumps(entry.meta), before=before, between=between, after=after)
    with connection.cursor() as cursor:
        cursor.execute(APPEND_SQL, params)
        row = cursor.fetchone()
        if row is None:
            _create_head()
            cursor.execute(APPEND_SQL, params)
            row = cursor.fetchone()
    entry.seq, entry.prev_hash, entry.hash = row
    entry._state.adding, entry._state.db = False, connection.alias
    # An entry the verifier would reject must never be written: check the
    # database hashed the very bytes Python would have.
    text = entry.prev_hash + before + entry.prev_hash + between + str(entry.seq) + after
    if not hmac.compare_digest(entry.hash, hashlib.sha256(text.encode("utf-8")).hexdigest()):
        raise IntegrityError("the database and Python disagree on an audit entry's hash")


def _link_in_python(entry):
    """SQLite: the transaction already holds the database's single write
    lock (`transaction_mode=IMMEDIATE`), so reading the head is safe."""
    head = ChainHead.objects.filter(pk=1).first() or _create_head()
    entry.seq, entry.prev_hash = head.seq + 1, head.hash
    entry.hash = chain.compute_hash(chain.entry_document(entry))
    entry.save(force_insert=True)
    ChainHead.objects.filter(pk=1).update(seq=entry.seq, prev_hash=entry.prev_hash, hash=entry.hash)


def append_entry(*, action, status=AuditEntry.Status.SUCCESS, target_type="", target_id="", meta=None,
                 actor_type=None, actor=None) -> AuditEntry:
    """Appends one entry inside the caller's transaction (or its own): the
    entry commits with the action it records, or neither does. Who and from
    where come from the request context unless given.

    Callers inside a transaction hold the chain's lock from here to their
    commit, so send audit events late in the action."""
    ctx = request_context.current()
    actor = (actor if actor_type else ctx.actor) or None
    entry = AuditEntry(
        id=uuid.uuid4(),
        ts=timezone.now(),
        actor_type=actor_type or ctx.actor_type,
        actor=_without_nul(actor[:150]) if actor else None,
        action=action,
        target_type=target_type,
        target_id=str(target_id or ""),
        status=status,
        ip=_normalized_ip(ctx.ip),
        user_agent=_without_nul(ctx.user_agent[:512]),
        request_id=ctx.request_id or None,
        meta=_normalized_meta(meta),
    )
    # No savepoint: a failed append must abort the whole action anyway, and
    # SAVEPOINT/RELEASE would add two round trips to every audited action.
    with transaction.atomic(savepoint=False):
        if connection.vendor == "postgresql":
            _link_in_database(entry)
        else:
            _link_in_python(entry)
        transaction.on_commit(AUDIT_EVENTS.labels(action=action).inc)
    return entry
