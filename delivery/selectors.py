"""Reads of the delivery app: a user's webhook endpoints and their
deliveries, and the event rows the stream reads by id."""

from django.db.models import Prefetch, QuerySet

from delivery.models import Delivery, DeliveryAttempt, Event, WebhookEndpoint


def visible_endpoints(*, user) -> QuerySet[WebhookEndpoint]:
    """The user's own endpoints (staff look at others' in the console)."""
    return WebhookEndpoint.objects.filter(owner=user)


def endpoint_deliveries(*, endpoint: WebhookEndpoint) -> QuerySet[Delivery]:
    """The endpoint's deliveries with their events and attempts, in one query each per page."""
    return (Delivery.objects.filter(endpoint=endpoint).select_related("event")
            .prefetch_related(Prefetch("attempt_log", queryset=DeliveryAttempt.objects.order_by("started_at", "id"))))


def latest_event_id() -> int:
    return Event.objects.order_by("-id").values_list("id", flat=True).first() or 0


def events_after(*, after_id: int, limit: int, user_id=None) -> list[Event]:
    """Events with an id above `after_id`, oldest first: one user's, or everyone's."""
    queryset = Event.objects.filter(id__gt=after_id)
    if user_id is not None:
        queryset = queryset.filter(user_id=user_id)
    return list(queryset.order_by("id")[:limit])
