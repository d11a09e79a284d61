"""Reads of the approvals app."""

from django.db.models import Count, Q, QuerySet

from approvals.models import Approval, ConsentText
from approvals.serializers import ApprovalSerializer
from signals.models import Signal
from signals.selectors import with_effective_status


def visible_approvals(*, user) -> QuerySet[Approval]:
    """The user's own decisions; staff see everyone's."""
    queryset = Approval.objects.all()
    return queryset if user.is_staff else queryset.filter(user=user)


def current_consent() -> ConsentText | None:
    return ConsentText.objects.current()


def decisions_made(*, since, until) -> dict[str, int]:
    """Decisions made in [since, until): `total`, and how many of each decision."""
    each = {decision.value: Count("pk", filter=Q(decision=decision)) for decision in Approval.Decision}
    return Approval.objects.filter(created_at__gte=since, created_at__lt=until).aggregate(total=Count("pk"), **each)


def pending_signals(queryset: QuerySet[Signal]) -> QuerySet[Signal]:
    """Signals still awaiting a decision, the soonest to expire first."""
    return with_effective_status(queryset, Signal.Status.PENDING).order_by("expires_at", "id")


def approval_resource(approval: Approval) -> dict:
    """The approval as the API writes it (its serializer's output), for other
    apps that publish it (delivery's event outbox)."""
    return ApprovalSerializer(approval).data
