"""The approvals CSV (docs/api.md#exports), shared by the API export and the console's action."""

from django.db.models import QuerySet
from django.utils import timezone

from approvals.models import Approval
from core.csv_export import queryset_rows, streaming_csv_response

# (header, ORM lookup): the approval resource plus who decided and on what.
COLUMNS = [
    ("id", "id"),
    ("signal", "signal_id"),
    ("user", "user__username"),
    ("instrument", "signal__instrument__symbol"),
    ("side", "signal__side"),
    ("decision", "decision"),
    ("consent_version", "consent_version"),
    ("reason", "reason"),
    ("ip", "ip"),
    ("user_agent", "user_agent"),
    ("created_at", "created_at"),
]


def approvals_csv(queryset: QuerySet[Approval]):
    rows = queryset_rows(queryset.order_by("-created_at", "-id"), [lookup for _, lookup in COLUMNS])
    filename = f"approvals-{timezone.now():%Y%m%dT%H%M%SZ}.csv"
    return streaming_csv_response(filename=filename, header=[header for header, _ in COLUMNS], rows=rows)
