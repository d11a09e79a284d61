"""Writes of the delivery app: webhook endpoints (register, change, rotate,
delete), redelivery, and the sender's work (claim what is due, attempt it,
record the attempt). Each write sends its event inside its transaction."""

import base64
import json
import logging
import random
import secrets
import time
import traceback
import uuid
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count, Exists, F, OuterRef, Q
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from core.fields import rfc3339
from core.problems import Conflict
from delivery import events, http, metrics, outbox
from delivery.addresses import origin_of
from delivery.models import ERROR_MAX_LENGTH, Delivery, DeliveryAttempt, Event, EventType, WebhookEndpoint
from machines import crypto
from signals import selectors as signal_selectors

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
DEFAULT_GRACE_SECONDS = 86400
# Retries after a failed attempt: 5 s, 20 s, 80 s, ... four times longer each
# time, at most 10 hours apart, nine of them: 27.6 hours in all, and with
# the jitter (up to 10 % either way, so that the failures of one outage do
# not come back in step) never under 24.
RETRY_DELAYS = [min(5 * 4 ** step, 36000) for step in range(9)]
JITTER = 0.1
# A claim covers its batch's attempts one after the other, and then this.
LEASE_MARGIN_SECONDS = 30
CLAIM_BATCH = 10
# "Sustained failure": every attempt failed for WEBHOOK_DISABLE_AFTER_SECONDS, and at least this many.
DISABLE_MIN_FAILURES = 5
PRUNE_BATCH = 1000
CHARTED_TYPES = {EventType.SIGNAL_CREATED, EventType.SIGNAL_EXPIRED}

logger = logging.getLogger(__name__)


def _meta(endpoint: WebhookEndpoint, **extra) -> dict:
    return {"endpoint": str(endpoint.pk), "origin": origin_of(endpoint.url), **extra}


def _new_secret() -> str:
    # Standard Webhooks' form: "whsec_" and the base64 of the key's bytes.
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def _locked(endpoint: WebhookEndpoint) -> WebhookEndpoint:
    # NO KEY: deliveries being inserted for it (a foreign key's share lock) go on.
    return WebhookEndpoint.objects.select_for_update(no_key=True).get(pk=endpoint.pk)


# --- endpoints ---------------------------------------------------------------------

def create_endpoint(*, owner, url: str, event_types: list[str]) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its secret: the only time the secret is available."""
    secret = _new_secret()
    with transaction.atomic():
        # The owner's row, locked, makes the limit exact under concurrent requests.
        get_user_model().objects.select_for_update(no_key=True).filter(pk=owner.pk).first()
        if WebhookEndpoint.objects.filter(owner=owner).count() >= settings.WEBHOOK_MAX_ENDPOINTS:
            raise Conflict(f"You have {settings.WEBHOOK_MAX_ENDPOINTS} webhook endpoints, the most allowed: "
                           "delete one first.", slug="too-many-webhooks")
        endpoint = WebhookEndpoint.objects.create(owner=owner, url=url, events=sorted(set(event_types)),
                                                  secret_encrypted=crypto.encrypt(secret))
        events.webhook_created.send(sender=WebhookEndpoint, target=endpoint,
                                    meta=_meta(endpoint, events=endpoint.events))
    return endpoint, secret


def _fail_pending(endpoint: WebhookEndpoint, *, reason: str, now: datetime) -> int:
    """A disabled endpoint's unsent deliveries end as failed (its owner may
    redeliver them once it is enabled again)."""
    failed = (Delivery.objects.filter(endpoint=endpoint, status=Delivery.Status.PENDING)
              .update(status=Delivery.Status.FAILED, finished_at=now, last_error=reason[:ERROR_MAX_LENGTH]))
    if failed:
        transaction.on_commit(partial(metrics.webhook_deliveries_total.labels(status="failed").inc, failed))
    return failed


def update_endpoint(*, endpoint: WebhookEndpoint, url: str | None = None, event_types: list[str] | None = None,
                    enabled: bool | None = None) -> WebhookEndpoint:
    """What its owner changes: the URL, the event types, on or off. Turned
    off, its unsent deliveries fail; turned on, its run of failures is forgotten."""
    now = timezone.now()
    with transaction.atomic():
        endpoint = _locked(endpoint)
        changes = {}
        if url is not None and url != endpoint.url:
            changes["url"] = origin_of(url)
            endpoint.url = url
        if event_types is not None and sorted(set(event_types)) != endpoint.events:
            endpoint.events = changes["events"] = sorted(set(event_types))
        if enabled is not None and enabled != endpoint.enabled:
            changes["enabled"] = endpoint.enabled = enabled
            if enabled:
                endpoint.disabled_at, endpoint.disabled_reason = None, ""
                endpoint.consecutive_failures, endpoint.failing_since, endpoint.paused_until = 0, None, None
            else:
                endpoint.disabled_at, endpoint.disabled_reason = now, "Disabled on request."
                _fail_pending(endpoint, reason="The endpoint was disabled.", now=now)
        if changes:
            endpoint.save()
            events.webhook_updated.send(sender=WebhookEndpoint, target=endpoint, meta=_meta(endpoint, **changes))
    return endpoint


def rotate_secret(*, endpoint: WebhookEndpoint, grace_seconds: int = DEFAULT_GRACE_SECONDS) -> str:
    """A new secret, shown once. For `grace_seconds` every delivery is signed
    with the old one too (two signatures in `webhook-signature`), so the
    receiver may switch when it likes; 0 ends the old one at once."""
    secret = _new_secret()
    with transaction.atomic():
        endpoint = _locked(endpoint)
        endpoint.previous_secret_encrypted = endpoint.secret_encrypted if grace_seconds else ""
        endpoint.previous_secret_expires_at = timezone.now() + timedelta(seconds=grace_seconds) if grace_seconds else None
        endpoint.secret_encrypted = crypto.encrypt(secret)
        endpoint.save(update_fields=["secret_encrypted", "previous_secret_encrypted", "previous_secret_expires_at"])
        events.webhook_secret_rotated.send(sender=WebhookEndpoint, target=endpoint,
                                           meta=_meta(endpoint, grace_seconds=grace_seconds))
    return secret


def delete_endpoint(*, endpoint: WebhookEndpoint) -> None:
    """The endpoint, its deliveries and their attempts are deleted; nothing more is sent to it."""
    with transaction.atomic():
        # The event first: its audit entry takes the chain's lock before the
        # row's, the order in which an event's delivery rows are inserted.
        events.webhook_deleted.send(sender=WebhookEndpoint, target=endpoint, meta=_meta(endpoint))
        # Then the row's lock: a sender recording an attempt to it (which holds
        # it) commits first, and its attempts are deleted here with the rest.
        _locked(endpoint)
        DeliveryAttempt.objects.filter(delivery__endpoint=endpoint).delete()
        Delivery.objects.filter(endpoint=endpoint).delete()
        WebhookEndpoint.objects.filter(pk=endpoint.pk).delete()


def redeliver(*, delivery: Delivery) -> Delivery:
    """Sends the delivery again now, with a full set of retries: the same
    event, the same `webhook-id`. The owner asking is the sign the receiver
    is back: the endpoint's rest after a failure ends."""
    now = timezone.now()
    with transaction.atomic():
        endpoint = _locked(delivery.endpoint)
        if not endpoint.enabled:
            raise Conflict("The endpoint is disabled: enable it first.", slug="webhook-disabled")
        if endpoint.paused_until is not None:
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(paused_until=None)
        Delivery.objects.filter(pk=delivery.pk).update(status=Delivery.Status.PENDING, tries=0, next_attempt_at=now,
                                                       finished_at=None)
        transaction.on_commit(outbox.wake_sender, robust=True)
    delivery.refresh_from_db()
    return delivery


# --- sending -------------------------------------------------------------------------

def envelope(event: Event) -> str:
    """The body of every delivery of `event`, as signed and sent: the event's
    id (also the `webhook-id` and the stream's `id:`), type, time and data.
    A signal's chart link is signed afresh: the stored one may have expired."""
    data = event.payload
    if event.type in CHARTED_TYPES and data.get("chart_url"):
        data = {**data, "chart_url": signal_selectors.signal_chart_path(data["id"])}
    return json.dumps({"id": event.pk, "type": event.type, "timestamp": rfc3339(event.created_at), "data": data},
                      separators=(",", ":"), ensure_ascii=False)


def live_secrets(endpoint: WebhookEndpoint, *, now: datetime) -> list[str]:
    keys = [crypto.decrypt(endpoint.secret_encrypted)]
    if endpoint.previous_secret_encrypted and endpoint.previous_secret_expires_at and \
            endpoint.previous_secret_expires_at > now:
        keys.append(crypto.decrypt(endpoint.previous_secret_encrypted))
    return keys


def retry_delay(tries: int) -> timedelta | None:
    """How long after the `tries`-th failed attempt since queueing the next
    one comes, or None when none is left."""
    if tries > len(RETRY_DELAYS):
        return None
    return timedelta(seconds=RETRY_DELAYS[tries - 1] * random.uniform(1 - JITTER, 1 + JITTER))


def claim_due(*, now: datetime | None = None, limit: int = CLAIM_BATCH) -> list[Delivery]:
    """Due deliveries this sender may attempt now, claimed together with one
    lease. A sender sends its claim one delivery after another, so the
    requests in flight to an endpoint are its live claims: at most
    WEBHOOK_MAX_IN_FLIGHT of them per endpoint, over all senders; none to a
    disabled endpoint or one resting after a failure. Rows another sender
    is claiming are skipped, not waited for."""
    now = now or timezone.now()
    in_flight_limit = settings.WEBHOOK_MAX_IN_FLIGHT
    with transaction.atomic():
        full = (Delivery.objects.filter(lease_until__gt=now).values("endpoint_id")
                .annotate(n=Count("lease_token", distinct=True)).filter(n__gte=in_flight_limit).values("endpoint_id"))
        due = list(Delivery.objects.select_for_update(skip_locked=True, of=("self",))
                   .filter(status=Delivery.Status.PENDING, next_attempt_at__lte=now, endpoint__enabled=True)
                   .filter(Q(lease_until__isnull=True) | Q(lease_until__lte=now))
                   .filter(Q(endpoint__paused_until__isnull=True) | Q(endpoint__paused_until__lte=now))
                   .exclude(endpoint_id__in=full)
                   .order_by("next_attempt_at", "id").values_list("id", "endpoint_id")[:limit])
        if not due:
            return []
        endpoint_ids = sorted({endpoint_id for _, endpoint_id in due})
        # Locked in one order by every sender: the counts below are exact.
        list(WebhookEndpoint.objects.select_for_update(no_key=True).filter(pk__in=endpoint_ids)
             .order_by("pk").values_list("pk", flat=True))
        in_flight = dict(Delivery.objects.filter(endpoint_id__in=endpoint_ids, lease_until__gt=now)
                         .values_list("endpoint_id").annotate(Count("lease_token", distinct=True)))
        chosen = [pk for pk, endpoint_id in due if in_flight.get(endpoint_id, 0) < in_flight_limit]
        token = uuid.uuid4()
        lease = timedelta(seconds=len(chosen) * settings.WEBHOOK_TIMEOUT_SECONDS + LEASE_MARGIN_SECONDS)
        Delivery.objects.filter(pk__in=chosen).update(lease_until=now + lease, lease_token=token)
    return list(Delivery.objects.select_related("event", "endpoint").filter(pk__in=chosen, lease_token=token)
                .order_by("next_attempt_at", "id"))


def post(delivery: Delivery) -> tuple[http.Outcome, datetime]:
    """Sends one claimed delivery; (what came of it, when it started). Any
    error is a failed attempt of this delivery: never the batch's end, which
    would leave the others' answers unrecorded and send them again."""
    started_at, started = timezone.now(), time.monotonic()
    try:
        body = envelope(delivery.event)
        msg_id = str(delivery.event_id)
        headers = {"Content-Type": "application/json", "webhook-id": msg_id,
                   "webhook-timestamp": str(int(started_at.timestamp())),
                   "webhook-signature": http.signature(live_secrets(delivery.endpoint, now=started_at),
                                                       msg_id=msg_id, timestamp=started_at, body=body)}
        outcome = http.post(delivery.endpoint.url, body=body.encode("utf-8"), headers=headers,
                            timeout=settings.WEBHOOK_TIMEOUT_SECONDS)
    except Exception as error:
        # Not the message nor the URL: either may quote the path or query, where a receiver keeps its token.
        logger.error("webhook attempt of delivery %s to %s raised %s:\n%s", delivery.pk,
                     origin_of(delivery.endpoint.url), type(error).__name__,
                     "".join(traceback.format_tb(error.__traceback__)))
        outcome = http.Outcome(status_code=None, error="The attempt failed on the platform's side.",
                               duration_ms=round((time.monotonic() - started) * 1000))
    return outcome, started_at


def record_attempts(attempts: list[tuple[Delivery, http.Outcome, datetime]]) -> None:
    """The attempts' rows, the deliveries' new states (done, due again after
    the backoff, or failed for good) and their endpoints' runs of failures,
    in one transaction: successes in a statement or two however many, each
    failure on its own. A claim that ran out (another sender took the row
    over) still logs its attempt, and leaves the row to the newer claim. An
    endpoint deleted meanwhile took its deliveries with it: their attempts
    are dropped, the rest recorded."""
    now = timezone.now()
    with transaction.atomic():
        # Locked, in one order for every sender, until this commits: not deleted meanwhile.
        endpoints = set(WebhookEndpoint.objects.select_for_update(no_key=True).order_by("pk")
                        .filter(pk__in={delivery.endpoint_id for delivery, _, _ in attempts})
                        .values_list("pk", flat=True))
        still_there = set(Delivery.objects.filter(pk__in=[delivery.pk for delivery, _, _ in attempts],
                                                  endpoint__in=endpoints).values_list("pk", flat=True))
        attempts = [attempt for attempt in attempts if attempt[0].pk in still_there]
        DeliveryAttempt.objects.bulk_create([
            DeliveryAttempt(delivery=delivery, started_at=started_at, duration_ms=outcome.duration_ms,
                            status_code=outcome.status_code, error=outcome.error[:ERROR_MAX_LENGTH],
                            succeeded=outcome.succeeded) for delivery, outcome, started_at in attempts])
        done = {}
        for delivery, outcome, _ in attempts:
            if outcome.succeeded:
                done.setdefault(outcome.status_code, []).append(delivery)
        for status_code, deliveries in done.items():
            updated = (Delivery.objects.filter(pk__in=[d.pk for d in deliveries], lease_token=deliveries[0].lease_token)
                       .update(status=Delivery.Status.SUCCEEDED, finished_at=now, lease_until=None, lease_token=None,
                               last_status_code=status_code, last_error="", attempts=F("attempts") + 1,
                               tries=F("tries") + 1))
            if updated:
                transaction.on_commit(partial(metrics.webhook_deliveries_total.labels(status="succeeded").inc, updated))
                for latency in [(now - d.event.created_at).total_seconds() for d in deliveries]:
                    transaction.on_commit(partial(metrics.webhook_delivery_seconds.observe, latency))
        recovered = {d.endpoint_id for deliveries in done.values() for d in deliveries}
        if recovered:
            (WebhookEndpoint.objects.filter(pk__in=recovered)
             .filter(Q(consecutive_failures__gt=0) | Q(paused_until__isnull=False))
             .update(consecutive_failures=0, failing_since=None, paused_until=None))
        for delivery, outcome, _ in attempts:
            if not outcome.succeeded:
                _record_failure(delivery, outcome, now=now)


def _record_failure(delivery: Delivery, outcome: http.Outcome, *, now: datetime) -> None:
    changes = {"lease_until": None, "lease_token": None, "last_status_code": outcome.status_code,
               "last_error": outcome.error[:ERROR_MAX_LENGTH], "attempts": F("attempts") + 1, "tries": F("tries") + 1}
    delay = retry_delay(delivery.tries + 1)
    if delay is not None:
        status = "retrying"
        changes.update(next_attempt_at=now + delay)
    else:
        status = Delivery.Status.FAILED
        changes.update(status=status, finished_at=now)
    if Delivery.objects.filter(pk=delivery.pk, lease_token=delivery.lease_token).update(**changes):
        transaction.on_commit(metrics.webhook_deliveries_total.labels(status=status).inc)
    _endpoint_failed(delivery.endpoint, outcome, now=now)


def _endpoint_failed(endpoint: WebhookEndpoint, outcome: http.Outcome, *, now: datetime) -> None:
    endpoint = _locked(endpoint)
    endpoint.consecutive_failures += 1
    endpoint.failing_since = endpoint.failing_since or now
    if outcome.receiver_unwell:
        # One attempt at a time until it answers again, however many deliveries
        # wait: a dead receiver costs a timeout per backoff step, not per delivery.
        endpoint.paused_until = now + retry_delay(min(endpoint.consecutive_failures, len(RETRY_DELAYS)))
    sustained = (endpoint.consecutive_failures >= DISABLE_MIN_FAILURES and
                 now - endpoint.failing_since >= timedelta(seconds=settings.WEBHOOK_DISABLE_AFTER_SECONDS))
    if sustained and endpoint.enabled:
        endpoint.enabled, endpoint.disabled_at = False, now
        endpoint.disabled_reason = (
            f"Every attempt failed since {rfc3339(endpoint.failing_since)} "
            f"({endpoint.consecutive_failures} in a row; the last: {outcome.error})")[:ERROR_MAX_LENGTH]
        _fail_pending(endpoint, reason="The endpoint was disabled after failing for too long.", now=now)
        events.webhook_disabled.send(sender=WebhookEndpoint, target=endpoint, status="failure",
                                     meta=_meta(endpoint, reason=endpoint.disabled_reason),
                                     actor_type="system", actor="webhook sender")
    endpoint.save(update_fields=["consecutive_failures", "failing_since", "paused_until", "enabled", "disabled_at",
                                 "disabled_reason"])


def send_due(*, budget_seconds: float = 20) -> int:
    """Attempts due deliveries, a claimed batch at a time, until none is due
    or the budget is spent; returns how many attempts were made. Each batch
    is recorded once it is sent: a sender killed meanwhile leaves its claim
    to run out, and the batch is sent again (same webhook-ids)."""
    deadline = timezone.now() + timedelta(seconds=budget_seconds)
    sent = 0
    while timezone.now() < deadline:
        batch = claim_due()
        if not batch:
            break
        resting, skipped, attempts = set(), [], []
        for delivery in batch:
            if delivery.endpoint_id in resting:
                skipped.append(delivery.pk)
                continue
            outcome, started_at = post(delivery)
            attempts.append((delivery, outcome, started_at))
            if outcome.receiver_unwell:
                resting.add(delivery.endpoint_id)
        record_attempts(attempts)
        # Claimed behind an attempt that found the receiver unwell: back to
        # waiting, untried, until its rest is over.
        Delivery.objects.filter(pk__in=skipped, lease_token=batch[0].lease_token).update(lease_until=None,
                                                                                          lease_token=None)
        sent += len(attempts)
    return sent


def next_due_in(*, now: datetime | None = None) -> float | None:
    """Seconds until the sender has something to attempt (0: now), or None:
    the earliest pending delivery of an enabled endpoint, or its endpoint's
    rest after a failure if that ends later."""
    now = now or timezone.now()
    moment = (Delivery.objects.filter(status=Delivery.Status.PENDING, endpoint__enabled=True)
              .annotate(at=Greatest("next_attempt_at", Coalesce("endpoint__paused_until", "next_attempt_at")))
              .order_by("at").values_list("at", flat=True).first())
    return None if moment is None else max((moment - now).total_seconds(), 0.0)


def prune_events(*, now: datetime | None = None) -> int:
    """Deletes events older than EVENT_RETENTION_DAYS with their deliveries
    and attempts, in batches; returns how many events. An event with a
    delivery still pending (retried, or redelivered late) stays until it is
    done: a delivery is never lost."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.EVENT_RETENTION_DAYS)
    done = Event.objects.filter(created_at__lt=cutoff).exclude(
        Exists(Delivery.objects.filter(event=OuterRef("pk"), status=Delivery.Status.PENDING)))
    total = 0
    while ids := list(done.order_by("id").values_list("id", flat=True)[:PRUNE_BATCH]):
        with transaction.atomic():
            DeliveryAttempt.objects.filter(delivery__event_id__in=ids).delete()
            Delivery.objects.filter(event_id__in=ids).delete()
            Event.objects.filter(id__in=ids).delete()
        total += len(ids)
    return total
