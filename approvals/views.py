"""Consent, decisions, and reading them back (docs/api.md#approvals, docs/api.md#exports)."""

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from approvals import selectors, services
from approvals.exports import approvals_csv
from approvals.filters import ApprovalFilter
from approvals.models import Approval
from approvals.serializers import ApprovalSerializer, ConsentTextSerializer, DecisionRequestSerializer
from core.client_ip import client_ip
from core.csv_export import CSVRenderer
from core.throttling import ScopedThrottle


class CurrentConsentView(APIView):
    @extend_schema(responses=ConsentTextSerializer, summary="The consent text a decision must accept")
    def get(self, request):
        consent = selectors.current_consent()
        if consent is None:
            raise NotFound("No consent text is published.")
        return Response(ConsentTextSerializer(consent).data)


class DecisionThrottle(ScopedThrottle):
    scope = "decision"


@extend_schema_view(list=extend_schema(summary="Your decisions (staff: all), newest first"),
                   retrieve=extend_schema(summary="One of your decisions"))
class ApprovalViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = ApprovalSerializer
    filterset_class = ApprovalFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return Approval.objects.none()
        return selectors.visible_approvals(user=self.request.user)

    def get_throttles(self):
        throttles = super().get_throttles()
        return [*throttles, DecisionThrottle()] if self.action == "create" else throttles

    def get_renderers(self):
        return [CSVRenderer()] if self.action == "export" else super().get_renderers()

    @extend_schema(
        request=DecisionRequestSerializer,
        responses={201: ApprovalSerializer, 403: OpenApiResponse(description="Another user's signal"),
                   404: OpenApiResponse(description="No such signal"),
                   409: OpenApiResponse(description="Already decided, signal-expired or consent-outdated"),
                   422: OpenApiResponse(description="Bad fields"), 429: OpenApiResponse(description="Too fast")},
        summary="Approve or reject a signal of your feed",
    )
    def create(self, request):
        data = request.data
        if not isinstance(data, dict):
            raise ValidationError({"non_field_errors": ["Expected a JSON object."]})
        approval = services.decide_signal(
            user=request.user,
            signal_id=data.get("signal"),
            decision=data.get("decision"),
            consent_version=data.get("consent_version"),
            reason=data.get("reason", ""),
            ip=client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
        )
        location = request.build_absolute_uri(reverse("v1:approval-detail", args=[approval.pk]))
        return Response(ApprovalSerializer(approval).data, status=status.HTTP_201_CREATED,
                        headers={"Location": location})

    @extend_schema(filters=True, responses={(200, "text/csv"): OpenApiTypes.STR},
                   summary="Your approvals (staff: all) as CSV, with the list filters")
    def export(self, request):
        return approvals_csv(self.filter_queryset(self.get_queryset()))
