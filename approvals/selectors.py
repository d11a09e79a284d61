"""Reads of the approvals app."""

from django.db.models import QuerySet

from approvals.models import Approval, ConsentText
from signals.models import Signal
from signals.selectors import with_effective_status


def visible_approvals(*, user) -> QuerySet[Approval]:
    """The user's own decisions; staff see everyone's."""
    queryset = Approval.objects.all()
    return queryset if user.is_staff else queryset.filter(user=user)


def current_consent() -> ConsentText | None:
    return ConsentText.objects.current()


def pending_signals(queryset: QuerySet[Signal]) -> QuerySet[Signal]:
    """Signals still awaiting a decision, the soonest to expire first."""
    return with_effective_status(queryset, Signal.Status.PENDING).order_by("expires_at", "id")
