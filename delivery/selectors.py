"""Reads of the delivery app: a user's webhook endpoints and their
deliveries, the event rows the stream reads by id, and whether a stream's
caller is still signed in."""

from django.contrib.auth import get_user_model
from django.db.models import Exists, Prefetch, QuerySet

from accounts.models import EndedSession
from delivery.models import Delivery, DeliveryAttempt, Event, WebhookEndpoint


def visible_endpoints(*, user) -> QuerySet[WebhookEndpoint]:
    """The user's own endpoints (staff look at others' in the console)."""
    return WebhookEndpoint.objects.filter(owner=user)


def endpoint_deliveries(*, endpoint: WebhookEndpoint) -> QuerySet[Delivery]:
    """The endpoint's deliveries with their events and attempts, in one query each per page."""
    return (Delivery.objects.filter(endpoint=endpoint).select_related("event", "endpoint")
            .prefetch_related(Prefetch("attempt_log", queryset=DeliveryAttempt.objects.order_by("started_at", "id"))))


def latest_event_id() -> int:
    return Event.objects.order_by("-id").values_list("id", flat=True).first() or 0


def events_after(*, after_id: int, limit: int, user_id=None) -> list[Event]:
    """Events with an id above `after_id`, oldest first: one user's, or everyone's."""
    queryset = Event.objects.filter(id__gt=after_id)
    if user_id is not None:
        queryset = queryset.filter(user_id=user_id)
    return list(queryset.order_by("id")[:limit])


def signed_in_user_id(*, user_id, session_id: str | None):
    """The primary key of the user if it exists, is active and, with a
    session, that session has not ended (a logout); else None. One query:
    an open event stream asks it again every few seconds."""
    users = get_user_model().objects.filter(pk=user_id, is_active=True)
    if session_id:
        users = users.filter(~Exists(EndedSession.objects.filter(pk=session_id)))
    return users.values_list("pk", flat=True).first()


def signed_out(*, user_ids, session_ids) -> tuple[set, set]:
    """Of these users, those no longer active (or gone); of these login
    sessions, those that ended (a logout): what ends the open event streams
    of one process, checked for all of them at once."""
    active = set(get_user_model().objects.filter(pk__in=user_ids, is_active=True).values_list("pk", flat=True))
    ended = set(EndedSession.objects.filter(pk__in=session_ids).values_list("pk", flat=True)) if session_ids else set()
    return set(user_ids) - active, ended
