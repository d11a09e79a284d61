import django_filters

from approvals.models import Approval
from core.filters import UTCIsoDateTimeFilter


class ApprovalFilter(django_filters.FilterSet):
    """The approvals list filters, with the same window semantics as the
    signals list: `created_after` inclusive, `created_before` exclusive."""

    decision = django_filters.ChoiceFilter(choices=Approval.Decision.choices)
    created_after = UTCIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UTCIsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Approval
        fields = ["decision", "created_after", "created_before"]
