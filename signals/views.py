import json

from django.urls import reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.viewsets import GenericViewSet

from machines.authentication import refusal_reason
from signals import selectors, services
from signals.authentication import IsProducer, ProducerSignatureAuthentication, ProducerThrottle
from signals.filters import SignalFilter
from signals.metrics import signals_rejected_total
from signals.models import Signal
from signals.serializers import SignalIngestSerializer, SignalSerializer
from core.csv_export import FETCH_ROWS, CSVRenderer, streaming_csv_response
from core.prices import format_price


class VisibleSignalsMixin:
    filterset_class = SignalFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return Signal.objects.none()
        return selectors.visible_signals(user=self.request.user)


class SignalViewSet(VisibleSignalsMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, GenericViewSet):
    """POST is a producer's signed ingestion; GET is a person's feed (JWT).
    They share a path, so authentication, permission and throttle follow the
    method."""

    serializer_class = SignalSerializer

    def _ingesting(self) -> bool:
        # The schema generator asks before it has set a request.
        return getattr(self.request, "method", None) == "POST"

    def get_authenticators(self):
        return [ProducerSignatureAuthentication()] if self._ingesting() else super().get_authenticators()

    def get_permissions(self):
        return [IsProducer()] if self._ingesting() else super().get_permissions()

    def get_throttles(self):
        return [ProducerThrottle()] if self._ingesting() else super().get_throttles()

    def handle_exception(self, exc):
        if self._ingesting():
            if reason := refusal_reason(exc):
                signals_rejected_total.labels(reason=reason).inc()
        return super().handle_exception(exc)

    @extend_schema(
        request=SignalIngestSerializer,
        responses={
            201: SignalSerializer,
            200: OpenApiResponse(SignalSerializer, description="Idempotent replay (`Idempotent-Replayed: true`)."),
            401: OpenApiResponse(description="Missing header, unknown/disabled producer, bad signature, "
                                             "stale timestamp"),
            409: OpenApiResponse(description="Same dedup key, other content"),
            413: OpenApiResponse(description="Body over 64 KiB or payload over 32 KiB"),
            415: OpenApiResponse(description="Not JSON"),
            422: OpenApiResponse(description="Invalid fields, or a new signal already expired on arrival"),
            429: OpenApiResponse(description="Too many signals from this producer"),
        },
    )
    def create(self, request):
        serializer = SignalIngestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        signal, created = services.ingest_signal(producer=request.user, received_at=timezone.now(),
                                                 **serializer.validated_data)
        data = self.get_serializer(signal).data
        if not created:
            return Response(data, status=status.HTTP_200_OK, headers={"Idempotent-Replayed": "true"})
        location = request.build_absolute_uri(reverse("v1:signal-detail", kwargs={"pk": signal.pk}))
        return Response(data, status=status.HTTP_201_CREATED, headers={"Location": location})


EXPORT_COLUMNS = ["id", "instrument", "side", "time", "version", "entry_price", "stop_loss", "take_profit",
                  "status", "expires_at", "created_at", "producer", "owner", "payload"]


def export_row(signal) -> tuple:
    digits = signal.instrument.digits
    return (signal.pk, signal.instrument.symbol, signal.side, signal.time, signal.version,
            format_price(signal.entry_price, digits), format_price(signal.stop_loss, digits),
            format_price(signal.take_profit, digits), signal.effective_status(), signal.expires_at,
            signal.created_at, signal.producer.name, signal.owner.username,
            json.dumps(signal.payload, sort_keys=True, ensure_ascii=False))


class SignalExportView(VisibleSignalsMixin, GenericAPIView):
    """GET /api/v1/signals/export.csv: the list's rows and
    filters, newest first, streamed in chunks so memory stays flat."""

    renderer_classes = [CSVRenderer]
    pagination_class = None

    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.STR}, filters=True)
    def get(self, request):
        signals = self.filter_queryset(self.get_queryset()).order_by("-created_at", "-id")
        return streaming_csv_response(filename="signals.csv", header=EXPORT_COLUMNS,
                                      rows=(export_row(s) for s in signals.iterator(chunk_size=FETCH_ROWS)))
