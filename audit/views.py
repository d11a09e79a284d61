from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.generics import GenericAPIView, ListAPIView
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import IsAdminUser, IsAuthenticated

from audit.exports import csv_response
from audit.filters import AuditEntryFilter
from audit.models import AuditEntry
from audit.selectors import entries_in_chain_order
from audit.serializers import AuditEntrySerializer
from core.csv_export import CSVRenderer
from core.pagination import NewestFirstCursorPagination

ERRORS = {
    401: OpenApiResponse(description="No, bad or expired token (problem+json)."),
    403: OpenApiResponse(description="The caller is not staff (problem+json)."),
    422: OpenApiResponse(description="A filter value is invalid (problem+json)."),
}


class AuditCursorPagination(NewestFirstCursorPagination):
    # `seq` is unique and follows insertion order: newest first, no tie-breaker needed.
    ordering = ("-seq",)


class StaffAuditView(GenericAPIView):
    queryset = AuditEntry.objects.all()
    serializer_class = AuditEntrySerializer
    permission_classes = [IsAuthenticated, IsAdminUser]
    filterset_class = AuditEntryFilter


@extend_schema(tags=["audit"], responses={200: AuditEntrySerializer(many=True), **ERRORS})
class AuditEntryListView(StaffAuditView, ListAPIView):
    """The audit log, newest first (staff only)."""

    pagination_class = AuditCursorPagination


class CSVOnlyNegotiation(BaseContentNegotiation):
    """The export has one representation; answering it whatever `Accept`
    says beats a 406 for a client library that sends `application/json` by
    default. Errors are problem+json either way."""

    def select_parser(self, request, parsers):
        return None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class AuditExportView(StaffAuditView):
    """The audit log as CSV (staff only), with the list's filters, streamed."""

    renderer_classes = [CSVRenderer]
    content_negotiation_class = CSVOnlyNegotiation
    pagination_class = None
    # OPTIONS would answer DRF's metadata through the CSV renderer.
    http_method_names = ["get"]

    @extend_schema(
        tags=["audit"],
        operation_id="api_v1_audit_export_csv",
        filters=True,
        responses={(200, "text/csv"): OpenApiResponse(
            OpenApiTypes.STR,
            description="Header row, then one row per entry in chain order (oldest first): the entry's fields as in "
                        "the list, `meta` as canonical JSON, an empty cell for null."), **ERRORS},
    )
    def get(self, request):
        return csv_response(entries_in_chain_order(self.filter_queryset(self.get_queryset())))
