import hashlib
import hmac
import ipaddress
import json
import uuid

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit import chain, sql
from audit.metrics import AUDIT_EVENTS
from audit.models import AuditEntry, ChainHead
from audit.redaction import redact
from core import request_context

# Built once: json.dumps and json.loads with options build a new one per call.
META_ENCODER = DjangoJSONEncoder(allow_nan=False)
META_DECODER = json.JSONDecoder(parse_float=str)


def _normalized_ip(value):
    """The address as the database gives it back, so that what is hashed is
    what is read: without an IPv6 zone (inet keeps none, nor does Django on
    SQLite), and an IPv4-mapped address with its IPv4 part dotted, as both
    write it (Python's own str is hexadecimal before 3.13)."""
    if not value:
        return None
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        return None
    if ip.version == 6:
        if ip.scope_id:
            ip = ipaddress.IPv6Address(int(ip))
        if ip.ipv4_mapped:
            return f"::ffff:{ip.ipv4_mapped}"
    return str(ip)


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
    text = META_ENCODER.encode(redact(meta or {}))
    normalized = META_DECODER.decode(text)
    # json.dumps writes every NUL as \u0000: without one, there is nothing to replace.
    return _without_nul(normalized) if "\\u0000" in text else normalized


def _create_head():
    """The head row, made from the newest entry (or the genesis) the first
    time it is needed: on a fresh database, or after a test flush."""
    last = AuditEntry.objects.order_by("-seq").values("seq", "prev_hash", "hash").first()
    defaults = last or {"seq": 0, "prev_hash": chain.GENESIS_HASH, "hash": chain.GENESIS_HASH}
    return ChainHead.objects.get_or_create(pk=1, defaults=defaults)[0]


def _link_in_database(connection, entry):
    """PostgreSQL: one statement links, hashes and stores the entry (see
    `sql.APPEND_ENTRY`), so the chain stays locked for no extra round trip."""
    document = chain.entry_document(entry)
    before, between, after = chain.canonical_json_around_link(document)
    params = {**document, "meta": json.dumps(entry.meta), "before": before, "between": between, "after": after}
    with connection.cursor() as cursor:
        cursor.execute(sql.APPEND_ENTRY, params)
        row = cursor.fetchone()
        if row is None:  # no head row to update yet
            _create_head()
            cursor.execute(sql.APPEND_ENTRY, params)
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
    connection = transaction.get_connection()
    # No savepoint: a failed append must abort the whole action anyway, and
    # SAVEPOINT/RELEASE would add two round trips to every audited action.
    with transaction.atomic(savepoint=False):
        if connection.vendor == "postgresql":
            _link_in_database(connection, entry)
        else:
            _link_in_python(entry)
        connection.on_commit(AUDIT_EVENTS.labels(action=action).inc)
    return entry
