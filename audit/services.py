import functools
import hmac
import json
import uuid
from collections import Counter
from decimal import Decimal

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit import chain, sql
from audit.metrics import AUDIT_EVENTS
from audit.models import AuditEntry, ChainHead
from audit.redaction import redact
from core import request_context
from core.client_ip import canonical_ip

# Built once: json.dumps and json.loads with options build a new one per call.
META_ENCODER = DjangoJSONEncoder(allow_nan=False)
META_DECODER = json.JSONDecoder(parse_float=str)


# The address as the database gives it back (core.client_ip.canonical_ip),
# so that what is hashed is what is read; parsed once per client, not once
# per entry.
_normalized_ip = functools.lru_cache(maxsize=1024)(canonical_ip)


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


class _NotPlain(Exception):
    """A value JSON would give back as something else than `_plain` makes of it."""


def _plain(value):
    """`value` as a JSON round trip gives it back, when that is `value`
    itself with its decimals and UUIDs as strings (what DjangoJSONEncoder
    writes for them is their str()): str keys; str, int, bool, None, list,
    dict, Decimal and UUID values, of exactly those types, and no NUL.
    Raises _NotPlain otherwise (floats, dates, enums, ...)."""
    kind = type(value)
    if kind is str:
        if "\x00" in value:
            raise _NotPlain
        return value
    if kind is dict:
        if not all(type(key) is str and "\x00" not in key for key in value):
            raise _NotPlain
        return {key: _plain(item) for key, item in value.items()}
    if kind is list:
        return [_plain(item) for item in value]
    if kind is Decimal or kind is uuid.UUID:
        return str(value)
    if kind is int or kind is bool or value is None:
        return value
    raise _NotPlain


def _normalized_meta(meta) -> dict:
    """Redacted, and reduced to plain JSON (UUIDs, decimals, datetimes and
    floats as strings, keys as strings) so that what is hashed is exactly
    what the database gives back, on SQLite and PostgreSQL alike (jsonb
    would print a float such as 1e+16 differently from Python)."""
    redacted = redact(meta or {})
    try:
        # Most meta, e.g. a position's volume and P&L: the round trip below
        # would give back the same at three times the cost (1,100 entries of
        # a bridge's 1,000-fill call: 5.9 ms against 1.9 ms).
        return _plain(redacted)
    except _NotPlain:
        pass
    text = META_ENCODER.encode(redacted)
    normalized = META_DECODER.decode(text)
    # json.dumps writes every NUL as \u0000: without one, there is nothing to replace.
    return _without_nul(normalized) if "\\u0000" in text else normalized


def _create_head():
    """The head row, made from the newest entry (or the genesis) the first
    time it is needed: on a fresh database, or after a test flush."""
    last = AuditEntry.objects.order_by("-seq").values("seq", "prev_hash", "hash").first()
    defaults = last or {"seq": 0, "prev_hash": chain.GENESIS_HASH, "hash": chain.GENESIS_HASH}
    return ChainHead.objects.get_or_create(pk=1, defaults=defaults)[0]


def _link_one_in_database(connection, entry, document, pieces):
    """PostgreSQL, one entry: one statement links, hashes and stores it (see
    `sql.APPEND_ENTRY`), so the chain stays locked for no extra round trip."""
    params = sql.append_entry_params(document, pieces)
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
    if not hmac.compare_digest(entry.hash, chain.linked(pieces, entry.prev_hash, entry.seq)[1]):
        raise IntegrityError("the database and Python disagree on an audit entry's hash")


def _locked_head() -> ChainHead:
    """The head row, locked until the transaction ends (on SQLite the
    transaction already holds the database's single write lock,
    `transaction_mode=IMMEDIATE`)."""
    locked = ChainHead.objects.select_for_update(no_key=True)
    head = locked.filter(pk=1).first()
    if head is None:
        _create_head()
        head = locked.get(pk=1)
    return head


def _link_after_head(connection, entries, all_pieces):
    """Several entries on PostgreSQL, any number on SQLite: with the head
    locked and read, each entry is linked and hashed (the verifier's hash,
    from the canonical JSON cut before the lock was taken), then all are
    stored together and the head moved once."""
    head = _locked_head()
    seq, prev_hash = head.seq, head.hash
    texts = []
    for entry, pieces in zip(entries, all_pieces):
        seq += 1
        text, entry_hash = chain.linked(pieces, prev_hash, seq)
        entry.seq, entry.prev_hash, entry.hash = seq, prev_hash, entry_hash
        texts.append(text)
        prev_hash = entry_hash
    if connection.vendor == "postgresql":
        _insert_in_one_statement(connection, entries, texts)
    else:
        AuditEntry.objects.bulk_create(entries)
        ChainHead.objects.filter(pk=1).update(seq=seq, prev_hash=entries[-1].prev_hash, hash=prev_hash)


def _insert_in_one_statement(connection, entries, texts):
    """PostgreSQL: `sql.APPEND_ENTRIES`, given each entry's canonical JSON
    (its whole API document but the hash, which goes in before the closing
    brace: the columns do not care about the order of the keys)."""
    documents = ",".join(f'{text[:-1]},"hash":"{entry.hash}"}}' for entry, text in zip(entries, texts))
    last = entries[-1]
    params = {"documents": f"[{documents}]", "head_seq": last.seq, "head_prev_hash": last.prev_hash,
              "head_hash": last.hash}
    with connection.cursor() as cursor:
        cursor.execute(sql.APPEND_ENTRIES, params)
    for entry in entries:
        entry._state.adding, entry._state.db = False, connection.alias


def _count_on_commit(connection, entries):
    actions = Counter(entry.action for entry in entries)

    def count():
        for action, n in actions.items():
            AUDIT_EVENTS.labels(action=action).inc(n)

    connection.on_commit(count)


def _new_entry(ctx, ip, user_agent, *, action, status=AuditEntry.Status.SUCCESS, target_type="", target_id="",
               meta=None, actor_type=None, actor=None) -> AuditEntry:
    actor = (actor if actor_type else ctx.actor) or None
    # Positional, in the model's field order: keyword arguments cost the
    # model twice as long, on every audited action.
    return AuditEntry(
        uuid.uuid4(),  # id
        None,  # seq: linked later
        timezone.now(),  # ts
        actor_type or ctx.actor_type,
        _without_nul(actor[:150]) if actor else None,
        action,
        target_type,
        str(target_id or ""),
        status,
        ip,
        user_agent,
        ctx.request_id or None,
        _normalized_meta(meta),
        None,  # prev_hash: linked later
        None,  # hash: linked later
    )


def append_entries(*, entries) -> list[AuditEntry]:
    """Appends `entries`, dicts of `append_entry`'s keyword arguments, in
    their order as one segment of the chain, inside the caller's transaction
    (or its own): the same entries as one `append_entry` each, with the
    chain's lock taken once and a few statements however many there are.
    Returns the new entries."""
    if not entries:
        return []
    ctx = request_context.current()
    ip, user_agent = _normalized_ip(ctx.ip), _without_nul(ctx.user_agent[:512])
    new = [_new_entry(ctx, ip, user_agent, **fields) for fields in entries]
    # All of an entry but its link, made before the chain is locked.
    documents = [chain.entry_document(entry) for entry in new]
    pieces = [chain.canonical_json_around_link(document) for document in documents]
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        with transaction.atomic():
            _link(connection, new, documents, pieces)
        return new
    # Inside the caller's transaction, what `atomic(savepoint=False)` would
    # do, without its cost on every audited action: no savepoint (a failed
    # append aborts the whole action, and SAVEPOINT/RELEASE would be two more
    # round trips), and a failure dooms the transaction even if the caller
    # catches it, so that an entry that failed its checks never commits.
    try:
        _link(connection, new, documents, pieces)
    except BaseException:
        connection.needs_rollback = True
        raise
    return new


def _link(connection, entries, documents, pieces):
    """Takes the chain's lock, which the transaction holds until it ends."""
    if connection.vendor == "postgresql" and len(entries) == 1:
        _link_one_in_database(connection, entries[0], documents[0], pieces[0])
    else:
        _link_after_head(connection, entries, pieces)
    _count_on_commit(connection, entries)


def append_entry(*, action, status=AuditEntry.Status.SUCCESS, target_type="", target_id="", meta=None,
                 actor_type=None, actor=None) -> AuditEntry:
    """Appends one entry inside the caller's transaction (or its own): the
    entry commits with the action it records, or neither does. Who and from
    where come from the request context unless given.

    Callers inside a transaction hold the chain's lock from here to their
    commit, so send audit events late in the action."""
    return append_entries(entries=[{"action": action, "status": status, "target_type": target_type,
                                    "target_id": target_id, "meta": meta, "actor_type": actor_type,
                                    "actor": actor}])[0]
