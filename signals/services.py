"""Every write of the signals app. Each sends its domain event inside its own
transaction, so the audit entry commits with the change or neither does."""

import hashlib
import json
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from signals import events, selectors
from signals.metrics import signals_ingested_total
from signals.models import Instrument, Producer, Signal
from core.problems import Conflict
from machines import services as machine_services
from machines.services import DEFAULT_GRACE_SECONDS

EXPIRE_BATCH_SIZE = 200


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


def _event_meta(signal: Signal) -> dict:
    return {"producer": signal.producer.name, "instrument": signal.instrument.symbol, "side": signal.side,
            "time": signal.time.astimezone(dt_timezone.utc).isoformat(), "version": signal.version}


def _nothing_refers_to_it_yet(signal: Signal) -> None:
    """A row inserted a moment ago has no one-to-one rows pointing at it
    (e.g. its approval): say so, so that reading one is not a query."""
    for relation in Signal._meta.related_objects:
        if relation.one_to_one:
            relation.set_cached_value(signal, None)


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
                  received_at: datetime | None = None) -> tuple[Signal, bool]:
    """Stores a signal in its producer's owner's feed. Returns (signal, created):
    a repeat of the dedup key (producer, instrument, time, version) with the
    same content returns the stored signal with created False; with other
    content it raises Conflict. The database's unique constraint decides, so
    two identical requests racing each other store one signal.

    `received_at`: when the producer's request arrived. A new signal already
    expired then raises ValidationError and stores nothing, while a repeat of
    a stored one is still answered as above, so that retries stay idempotent
    after the signal expired. None for the platform's own loading (demo data,
    history), which may be in the past."""
    payload = payload or {}
    given_expires_at = expires_at is not None
    expires_at = expires_at or time + timedelta(seconds=settings.SIGNAL_LIFETIME_SECONDS)
    fingerprint = content_fingerprint(side=side, entry_price=entry_price, stop_loss=stop_loss,
                                      take_profit=take_profit, expires_at=expires_at, payload=payload)
    if received_at is not None and expires_at <= received_at:
        stored = _stored_signal(producer=producer, instrument=instrument, time=time, version=version)
        if stored is None:
            raise _expired_on_arrival(expires_at=expires_at, given=given_expires_at, received_at=received_at)
        return _repeated(stored, fingerprint), False
    try:
        with transaction.atomic():
            signal = Signal.objects.create(
                owner=producer.owner, producer=producer, instrument=instrument, side=side, time=time,
                version=version, entry_price=entry_price, stop_loss=stop_loss, take_profit=take_profit,
                payload=payload, expires_at=expires_at, fingerprint=fingerprint,
            )
            _nothing_refers_to_it_yet(signal)
            events.signal_created.send(sender=Signal, target=signal, meta=_event_meta(signal))
            transaction.on_commit(signals_ingested_total.labels(instrument=instrument.symbol, side=side).inc)
        return signal, True
    except IntegrityError:
        stored = _stored_signal(producer=producer, instrument=instrument, time=time, version=version)
        if stored is None:
            raise  # some other constraint: not a duplicate
    return _repeated(stored, fingerprint), False


def _stored_signal(*, producer: Producer, instrument: Instrument, time: datetime, version: int) -> Signal | None:
    return (selectors.signal_queryset()
            .filter(producer=producer, instrument=instrument, time=time, version=version).first())


def _repeated(stored: Signal, fingerprint: str) -> Signal:
    """The stored signal a repeat of its dedup key gets back (audited as a
    replay), or Conflict if the repeat carries other content."""
    if stored.fingerprint != fingerprint:
        raise Conflict("A signal with this producer, instrument, time and version already exists "
                       "with different content.", slug="signal-conflict", extra={"signal": str(stored.pk)})
    with transaction.atomic():
        events.signal_replayed.send(sender=Signal, target=stored, meta=_event_meta(stored))
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
            Signal.objects.filter(pk__in=[s.pk for s in batch]).update(status=Signal.Status.EXPIRED)
            for signal in batch:
                signal.status = Signal.Status.EXPIRED
                events.signal_expired.send(sender=Signal, target=signal,
                                           meta={**_event_meta(signal), "expires_at": signal.expires_at.isoformat()})
        total += len(batch)
