from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.generics import GenericAPIView, ListAPIView
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import IsAdminUser, IsAuthenticated

from audit.exports import JSONL_MEDIA_TYPE, JSONLinesRenderer, csv_response, jsonl_response
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


@extend_schema(responses={200: AuditEntrySerializer(many=True), **ERRORS})
class AuditEntryListView(StaffAuditView, ListAPIView):
    """The audit log, newest first (staff only)."""

    pagination_class = AuditCursorPagination


class SingleRepresentationNegotiation(BaseContentNegotiation):
    """An export has one representation; answering it whatever `Accept`
    says beats a 406 for a client library that sends `application/json` by
    default. Errors are problem+json either way."""

    def select_parser(self, request, parsers):
        return None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class StaffAuditExportView(StaffAuditView):
    """An export streams the entries the list's filters select, oldest first."""

    content_negotiation_class = SingleRepresentationNegotiation
    pagination_class = None
    # OPTIONS would answer DRF's metadata through the export's renderer.
    http_method_names = ["get"]

    def entries(self):
        return entries_in_chain_order(self.filter_queryset(self.get_queryset()))


class AuditCSVExportView(StaffAuditExportView):
    """The audit log as CSV (staff only), with the list's filters, streamed."""

    renderer_classes = [CSVRenderer]

    @extend_schema(
        filters=True,
        responses={(200, "text/csv"): OpenApiResponse(
            OpenApiTypes.STR,
            description="Header row, then one row per entry in chain order (oldest first): the entry's fields as in "
                        "the list, `meta` as canonical JSON, an empty cell for null. For reading in a spreadsheet: "
                        "a cell a spreadsheet would run as a formula (one that starts with `=`, `+`, `-`, `@`, a "
                        "tab or a carriage return, also after leading spaces, and is not a plain number) gets a "
                        "leading `'`, so recompute the chain from `export.jsonl` instead."), **ERRORS},
    )
    def get(self, request):
        return csv_response(self.entries())


class AuditJSONLinesExportView(StaffAuditExportView):
    """The audit log as JSON Lines (staff only), with the list's filters, streamed."""

    renderer_classes = [JSONLinesRenderer]

    @extend_schema(
        filters=True,
        responses={(200, JSONL_MEDIA_TYPE): OpenApiResponse(
            OpenApiTypes.STR,
            description="One entry per line in chain order (oldest first), each exactly the JSON object the list "
                        "returns, `hash` included, so the chain recomputes from the file: `python manage.py "
                        "verify_audit --file audit.jsonl`. Only an unfiltered export is a whole chain (a filter "
                        "leaves entries out); one that does not start at seq 1 verifies against a `--checkpoint`."),
            **ERRORS},
    )
    def get(self, request):
        return jsonl_response(self.entries())
