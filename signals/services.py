"""Every write of the signals app. Each sends its domain event inside its own
transaction, so the audit entry commits with the change or neither does."""

import functools
import hashlib
import json
import secrets
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from rest_framework import status
from rest_framework.exceptions import ValidationError

from signals import events, selectors
from signals.metrics import signals_ingested_total
from signals.models import Instrument, Producer, Signal, Subscription, alert_token_digest
from core.problems import Conflict, Problem
from machines import services as machine_services
from machines.services import DEFAULT_GRACE_SECONDS

EXPIRE_BATCH_SIZE = 200
# Says what a leaked token is (secret scanners match on it) without being guessable.
ALERT_TOKEN_PREFIX = "tpa_"


def create_producer(*, name: str, owner) -> tuple[Producer, str]:
    """Returns the producer and its first secret, the only time the secret
    is available in clear."""
    with transaction.atomic():
        producer, secret = machine_services.create_client(model=Producer, name=name, owner=owner)
        events.producer_created.send(sender=Producer, target=producer,
                                     meta={"name": producer.name, "key_id": producer.key_id,
                                           "owner": owner.get_username()})
    return producer, secret


def rotate_producer_secret(*, producer: Producer, grace_seconds: int = DEFAULT_GRACE_SECONDS) -> str:
    """Issues a new secret; the live ones keep verifying for `grace_seconds`
    (0: they stop at once), never longer than they already would have."""
    with transaction.atomic():
        secret, grace_end = machine_services.rotate_secret(client=producer, grace_seconds=grace_seconds)
        events.producer_secret_rotated.send(sender=Producer, target=producer,
                                            meta={"key_id": producer.key_id, "grace_seconds": grace_seconds,
                                                  "grace_until": grace_end.isoformat()})
    return secret


def disable_producer(*, producer: Producer) -> Producer:
    """Its requests are refused from now on (401, like an unknown producer)."""
    with transaction.atomic():
        if machine_services.disable_client(client=producer):
            events.producer_disabled.send(sender=Producer, target=producer, meta={"key_id": producer.key_id})
    return producer


def update_producer(*, producer: Producer, public: bool | None = None,
                    max_lag_seconds: int | None = None) -> Producer:
    """What its owner decides: whether it is listed and open to subscribers
    (made private again, it stops reaching them at once; their subscriptions
    stay), and how old an alert may be."""
    changes = {name: value for name, value in (("public", public), ("max_lag_seconds", max_lag_seconds))
               if value is not None and getattr(producer, name) != value}
    if not changes:
        return producer
    with transaction.atomic():
        for name, value in changes.items():
            setattr(producer, name, value)
        producer.save(update_fields=list(changes))
        events.producer_updated.send(sender=Producer, target=producer, meta={"name": producer.name, **changes})
    return producer


def rotate_alert_token(*, producer: Producer) -> str:
    """A new token for the producer's alert hook, the only time it is
    available in clear; the previous one stops working at once. Only its
    SHA-256 is stored: the token is 256 random bits, so no slower hash is
    needed against guessing from a leaked digest."""
    token = ALERT_TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        producer.alert_token_hash = alert_token_digest(token)
        producer.alert_token_created_at = timezone.now()
        producer.save(update_fields=["alert_token_hash", "alert_token_created_at"])
        events.producer_alert_token_rotated.send(sender=Producer, target=producer, meta={"name": producer.name})
    return token


def subscribe(*, user, producer: Producer) -> tuple[Subscription, bool]:
    """The user's subscription to `producer` (one the user may see: the
    caller checks), and whether this call made it: subscribing twice keeps
    the first."""
    with transaction.atomic():
        subscription, created = Subscription.objects.get_or_create(user=user, producer=producer)
        if created:
            events.subscription_created.send(sender=Subscription, target=subscription,
                                             meta={"producer": producer.name, "user": user.get_username()})
    return subscription, created


def unsubscribe(*, subscription: Subscription) -> None:
    """The producer's next signals no longer reach the user; what reached
    the feed before stays there."""
    with transaction.atomic():
        meta = {"producer": subscription.producer.name, "user": subscription.user.get_username()}
        deleted, _ = Subscription.objects.filter(pk=subscription.pk).delete()
        if deleted:
            events.subscription_deleted.send(sender=Subscription, target=subscription, meta=meta)


def _decimal_text(value: Decimal | None) -> str | None:
    # 1.0845 and 1.08450 are the same price: compare them as the same content.
    return None if value is None else format(Decimal(str(value)).normalize(), "f")


def content_fingerprint(*, side: str, entry_price: Decimal, stop_loss: Decimal | None,
                        take_profit: Decimal | None, expires_at: datetime, payload: dict) -> str:
    """What must match for a repeat of the dedup key to be a replay."""
    content = {
        "side": side,
        "entry_price": _decimal_text(entry_price),
        "stop_loss": _decimal_text(stop_loss),
        "take_profit": _decimal_text(take_profit),
        "expires_at": expires_at.astimezone(dt_timezone.utc).isoformat(),
        "payload": payload,
    }
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _event_meta(signal: Signal, *, via: str | None = None) -> dict:
    meta = {"producer": signal.producer.name, "instrument": signal.instrument.symbol, "side": signal.side,
            "time": signal.time.astimezone(dt_timezone.utc).isoformat(), "version": signal.version}
    return {**meta, "via": via} if via else meta


def _nothing_refers_to_it_yet(signal: Signal) -> None:
    """A row inserted a moment ago has no one-to-one rows pointing at it
    (e.g. its approval): say so, so that reading one is not a query."""
    for relation in Signal._meta.related_objects:
        if relation.one_to_one:
            relation.set_cached_value(signal, None)


class StaleAlert(Problem):
    """An alert produced longer ago than its producer's `max_lag_seconds`."""

    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY


def _refused_on_arrival(*, time: datetime, expires_at: datetime, given: bool, received_at: datetime,
                        max_lag_seconds: int | None) -> Exception | None:
    """Why a new signal must not be stored as it arrives, or None."""
    if expires_at <= received_at:
        return _expired_on_arrival(expires_at=expires_at, given=given, received_at=received_at)
    if max_lag_seconds is not None and time < received_at - timedelta(seconds=max_lag_seconds):
        lag = (received_at - time).total_seconds()
        return StaleAlert(f"The alert was produced {lag:.0f} s before it arrived, more than the producer's "
                          f"max_lag of {max_lag_seconds} s; nothing was stored.", slug="stale-alert",
                          extra={"errors": {"time": [f"More than {max_lag_seconds} s in the past."]}})
    return None


def _expired_on_arrival(*, expires_at: datetime, given: bool, received_at: datetime) -> ValidationError:
    # Named after the field the producer sent: expires_at, or the time the lifetime counts from.
    expired = f"The signal expired at {expires_at.astimezone(dt_timezone.utc).isoformat()}"
    arrived = f"before it arrived at {received_at.astimezone(dt_timezone.utc).isoformat()}; nothing was stored."
    if given:
        return ValidationError({"expires_at": [f"{expired}, {arrived}"]})
    lifetime = settings.SIGNAL_LIFETIME_SECONDS
    return ValidationError({"time": [f"{expired} (time + the lifetime of {lifetime} s), {arrived}"]})


def ingest_signal(*, producer: Producer, instrument: Instrument, side: str, time: datetime, version: int,
                  entry_price: Decimal, stop_loss: Decimal | None = None, take_profit: Decimal | None = None,
                  expires_at: datetime | None = None, payload: dict | None = None,
                  received_at: datetime | None = None, max_lag_seconds: int | None = None,
                  via: str | None = None) -> tuple[Signal, bool]:
    """Publishes a signal: into its producer's owner's feed and, while the
    producer is public, a copy into each active subscriber's feed. Returns
    (the owner's signal, created); its `deliveries` counts the feeds reached.
    A repeat of the dedup key (producer, instrument, time, version) with the
    same content returns the stored signal with created False and reaches
    nobody again; with other content it raises Conflict. The database's
    unique constraint decides, so two identical requests racing each other
    publish once.

    `received_at`: when the producer's request arrived. A new signal already
    expired then, or (`max_lag_seconds`, alert hooks) produced longer ago
    than that, is refused and nothing is stored, while a repeat of a stored
    one is still answered as above, so that retries stay idempotent. None for
    the platform's own loading (demo data, history), which may be in the
    past. `via` names a way in other than the signed API in the audit entries
    ("alert-hook")."""
    payload = payload or {}
    given_expires_at = expires_at is not None
    expires_at = expires_at or time + timedelta(seconds=settings.SIGNAL_LIFETIME_SECONDS)
    fingerprint = content_fingerprint(side=side, entry_price=entry_price, stop_loss=stop_loss,
                                      take_profit=take_profit, expires_at=expires_at, payload=payload)
    if received_at is not None:
        refusal = _refused_on_arrival(time=time, expires_at=expires_at, given=given_expires_at,
                                      received_at=received_at, max_lag_seconds=max_lag_seconds)
        if refusal is not None:
            stored = _stored_signal(producer=producer, instrument=instrument, time=time, version=version)
            if stored is None:
                raise refusal
            return _repeated(stored, fingerprint, via=via), False
    try:
        with transaction.atomic():
            signal = Signal.objects.create(
                owner=producer.owner, producer=producer, instrument=instrument, side=side, time=time,
                version=version, entry_price=entry_price, stop_loss=stop_loss, take_profit=take_profit,
                payload=payload, expires_at=expires_at, fingerprint=fingerprint,
            )
            _nothing_refers_to_it_yet(signal)
            # The producer as this request has it says whether to look for
            # subscribers (a private one, most of them, costs nothing more);
            # the database's row says whether they are reached.
            copies = _copies(signal) if producer.public else []
            # The events last: their audit receivers hold the chain's lock until the commit.
            meta = _event_meta(signal, via=via)
            events.signal_created.send(sender=Signal, target=signal, meta=meta)
            if copies:
                events.signals_published.send(sender=Signal, signals=copies, publication=signal,
                                              meta={**meta, "publication": str(signal.pk)})
            transaction.on_commit(signals_ingested_total.labels(instrument=instrument.symbol, side=side).inc)
        return signal, True
    except IntegrityError:
        stored = _stored_signal(producer=producer, instrument=instrument, time=time, version=version)
        if stored is None:
            raise  # some other constraint: not a duplicate
    return _repeated(stored, fingerprint, via=via), False


def _copies(signal: Signal) -> list[events.PublishedCopy]:
    """A copy of the owner's new `signal` in the feed of each of its
    producer's active subscribers, while the producer is public; records on
    `signal` how many feeds it reached. The database makes the copies from
    the signal's row and the subscriptions in one statement: made in Python
    (bulk_create), 10,000 copies cost seconds of model instances and
    parameters. Returns each copy's id and owner."""
    connection = transaction.get_connection()
    pk = Signal._meta.pk.get_db_prep_value(signal.pk, connection)
    producer_pk = Producer._meta.pk.get_db_prep_value(signal.producer_id, connection)
    with connection.cursor() as cursor:
        cursor.execute(_copy_statement(connection.vendor), [pk, producer_pk])
        rows = cursor.fetchall()
    if not rows:
        return []
    signal.deliveries = 1 + len(rows)
    Signal.objects.filter(pk=signal.pk).update(deliveries=signal.deliveries)
    # SQLite returns UUIDs as text: as the ORM would read them.
    copy_id, owner_id = Signal._meta.pk.to_python, Signal._meta.get_field("owner").to_python
    return [events.PublishedCopy(copy_id(row[0]), owner_id(row[1])) for row in rows]


# A new version-4 UUID, as each database writes Django's UUIDField.
NEW_UUID = {
    "postgresql": "gen_random_uuid()",
    "sqlite": ("lower(hex(randomblob(6)) || '4' || substr(hex(randomblob(2)), 2) || "
               "substr('89ab', 1 + abs(random()) %% 4, 1) || substr(hex(randomblob(2)), 2) || hex(randomblob(6)))"),
}


@functools.cache
def _copy_statement(vendor: str) -> str:
    """INSERT ... SELECT of the copies of the signal whose id is the first
    parameter, RETURNING each copy's id and owner. The second is its
    producer's id, which the signal's row holds too: given, it lets the
    planner estimate the producer's subscribers from the statistics, and
    hash the users for thousands of them instead of looking each one up."""
    fields = {field.attname: field.column for field in Signal._meta.concrete_fields}
    own = {"id": NEW_UUID[vendor], "owner_id": "s.user_id", "origin_id": "o.id", "deliveries": "NULL"}
    user = get_user_model()
    return f"""
        INSERT INTO {Signal._meta.db_table} ({", ".join(fields.values())})
        SELECT {", ".join(own.get(name, f"o.{column}") for name, column in fields.items())}
        FROM {Signal._meta.db_table} o
        JOIN {Producer._meta.db_table} p ON p.id = o.producer_id AND p.public
        JOIN {Subscription._meta.db_table} s ON s.producer_id = o.producer_id AND s.user_id <> o.owner_id
        JOIN {user._meta.db_table} u ON u.{user._meta.pk.column} = s.user_id AND u.is_active
        WHERE o.id = %s AND o.producer_id = %s
        RETURNING id, owner_id"""


def _stored_signal(*, producer: Producer, instrument: Instrument, time: datetime, version: int) -> Signal | None:
    """The owner's signal of that dedup key (its subscribers' copies share the key)."""
    return (selectors.signal_queryset()
            .filter(producer=producer, instrument=instrument, time=time, version=version, origin=None).first())


def _repeated(stored: Signal, fingerprint: str, *, via: str | None) -> Signal:
    """The stored signal a repeat of its dedup key gets back (audited as a
    replay), or Conflict if the repeat carries other content."""
    if stored.fingerprint != fingerprint:
        raise Conflict("A signal with this producer, instrument, time and version already exists "
                       "with different content.", slug="signal-conflict", extra={"signal": str(stored.pk)})
    with transaction.atomic():
        events.signal_replayed.send(sender=Signal, target=stored, meta=_event_meta(stored, via=via))
    return stored


def expire_signals(*, now: datetime | None = None, batch_size: int = EXPIRE_BATCH_SIZE) -> int:
    """Stores `expired` on every pending signal past its `expires_at` and
    audits each; returns how many. Rows another transaction holds (a
    decision being taken right now) are left for that transaction to settle
    and picked up by the next run if still pending."""
    now = now or timezone.now()
    total = 0
    while True:
        with transaction.atomic():
            batch = list(
                Signal.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("producer", "instrument")
                .filter(status=Signal.Status.PENDING, expires_at__lte=now)
                .order_by("expires_at", "id")[:batch_size]
            )
            if not batch:
                return total
            # Dated when it began to read as expired, which the feed's
            # Last-Modified already counted: storing it changes nothing shown.
            (Signal.objects.filter(pk__in=[s.pk for s in batch])
             .update(status=Signal.Status.EXPIRED, updated_at=F("expires_at")))
            for signal in batch:
                signal.status, signal.updated_at = Signal.Status.EXPIRED, signal.expires_at
                events.signal_expired.send(sender=Signal, target=signal,
                                           meta={**_event_meta(signal), "expires_at": signal.expires_at.isoformat()})
        total += len(batch)
