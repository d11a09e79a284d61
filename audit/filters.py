import django_filters

from audit.models import AuditEntry
from core.filters import UTCIsoDateTimeFilter


class AuditEntryFilter(django_filters.FilterSet):
    """The audit log's filters (docs/api.md#audit-log), shared by the list and the exports."""

    actor = django_filters.CharFilter(help_text="username or producer name")
    target_id = django_filters.CharFilter()
    since = UTCIsoDateTimeFilter(field_name="ts", lookup_expr="gte",
                                   help_text="entries at or after this time (RFC 3339)")
    until = UTCIsoDateTimeFilter(field_name="ts", lookup_expr="lt",
                                   help_text="entries before this time (RFC 3339), exclusive")

    class Meta:
        model = AuditEntry
        fields = ["action", "actor", "target_type", "target_id", "status", "since", "until"]
