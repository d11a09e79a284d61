import hashlib
import json
from datetime import datetime

from django.conf import settings
from django.http import HttpResponseNotFound
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views.decorators.cache import cache_control
from django.views.decorators.http import condition
from django.views.decorators.vary import vary_on_headers
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.generics import GenericAPIView, get_object_or_404
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.viewsets import GenericViewSet

from machines.authentication import refusal_reason
from signals import selectors, services
from signals.authentication import (AlertHookThrottle, AlertTokenAuthentication, IsProducer,
                                    ProducerSignatureAuthentication, ProducerThrottle, UnknownAlertToken)
from signals.filters import SignalFilter
from signals.metrics import signals_rejected_total
from signals.models import Producer, Signal, Subscription
from signals.serializers import (AlertTokenSerializer, IngestAnswerSerializer, ProducerSerializer,
                                 ProducerUpdateSerializer, SignalIngestSerializer, SignalSerializer,
                                 SubscriptionCreateSerializer, SubscriptionSerializer)
from core.csv_export import FETCH_ROWS, CSVRenderer, streaming_csv_response
from core.prices import format_price


class VisibleSignalsMixin:
    filterset_class = SignalFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return Signal.objects.none()
        return selectors.visible_signals(user=self.request.user)


# A change is stamped (timezone.now()) inside its transaction, which commits
# later, when its request ends: a signal can appear under a time older than
# the newest one a client was already shown (a publication to thousands of
# subscribers takes seconds; a chart link's hourly re-signing is a change no
# transaction waits for). The feed's cheap validators wait until its newest
# change is this old; until then its answers keep ConditionalGetMiddleware's
# hash of their body. Every change is made by a request (the expiry sweep's
# stamp is `expires_at`, which the validators count before it runs), and a
# request lives at most gunicorn's `timeout` (30 s, deploy/gunicorn.conf.py),
# so by then every change stamped earlier has committed or rolled back.
FEED_SETTLE_SECONDS = 60


def feed_validators(request) -> tuple[str | None, datetime | None]:
    """The weak ETag and the Last-Modified of the caller's page of their
    feed, from selectors.feed_changed_at (one query, once per request). The
    ETag names the user, the page (its URL: filters and cursor), the media
    type and the release (settings.RELEASE) that writes the page. None for
    staff, whose every-feed view has no cheap aggregate, and while the
    newest change is unsettled."""
    if not hasattr(request, "feed_validators"):
        request.feed_validators = _feed_validators(request)
    return request.feed_validators


def _feed_validators(request):
    user = request.user
    if user.is_staff:
        return None, None
    now = timezone.now()
    changed_at = selectors.feed_changed_at(user=user, now=now)
    # In whole seconds, as Last-Modified and If-Modified-Since count.
    if int(changed_at.timestamp()) >= int(now.timestamp()) - FEED_SETTLE_SECONDS:
        return None, None
    page = "\n".join([str(user.pk), request.build_absolute_uri(), request.accepted_media_type,
                      changed_at.isoformat(), settings.RELEASE])
    return f'W/"{hashlib.sha256(page.encode()).hexdigest()}"', changed_at


feed_condition = condition(etag_func=lambda request, *args, **kwargs: feed_validators(request)[0],
                           last_modified_func=lambda request, *args, **kwargs: feed_validators(request)[1])

FEED_VALIDATOR_HEADERS = [
    OpenApiParameter("ETag", str, OpenApiParameter.HEADER, response=[200, 304],
                     description="Send it back as If-None-Match. Weak, from your feed's newest change and "
                                 "the deployed release; for staff, and for "
                                 f"{FEED_SETTLE_SECONDS} seconds after a change, a strong hash of the body "
                                 "instead."),
    OpenApiParameter("Last-Modified", str, OpenApiParameter.HEADER, response=[200, 304],
                     description="Your feed's newest change; send it back as If-Modified-Since. Only with the "
                                 "weak ETag."),
    OpenApiParameter("Cache-Control", str, OpenApiParameter.HEADER, response=[200, 304],
                     description="`private, no-cache`: for your client alone, revalidated before each use."),
    OpenApiParameter("Vary", str, OpenApiParameter.HEADER, response=[200, 304],
                     description="Includes `Authorization`: the answer is the caller's."),
    OpenApiParameter("If-None-Match", str, OpenApiParameter.HEADER,
                     description="The ETag of your copy of this page: 304 while nothing in your feed changed."),
    OpenApiParameter("If-Modified-Since", str, OpenApiParameter.HEADER,
                     description="The Last-Modified of your copy of this page (ignored with If-None-Match)."),
]


@extend_schema_view(retrieve=extend_schema(summary="One signal of your feed"))
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
        summary="Publish a signal (a producer's signed call) to its owner's and subscribers' feeds",
        request=SignalIngestSerializer,
        responses={
            201: IngestAnswerSerializer,
            200: OpenApiResponse(IngestAnswerSerializer, description="Idempotent replay (`Idempotent-Replayed: "
                                                                     "true`): reaches no one again."),
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
        return ingestion_answer(request, producer=request.user)

    @extend_schema(
        summary="Your feed (staff: every feed), newest first",
        parameters=FEED_VALIDATOR_HEADERS,
        responses={200: SignalSerializer(many=True),
                   304: OpenApiResponse(description="Nothing your feed shows changed since your copy of this "
                                                    "page (If-None-Match or If-Modified-Since); no body")},
    )
    @method_decorator(vary_on_headers("Authorization"))
    @method_decorator(cache_control(private=True, no_cache=True))
    @method_decorator(feed_condition)
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)


def ingestion_answer(request, *, producer, **options) -> Response:
    """Publishes the signal of the request's body for `producer`, whichever
    way it came in, and answers with the owner's signal and its reach."""
    serializer = SignalIngestSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    signal, created = services.ingest_signal(producer=producer, received_at=timezone.now(), **options,
                                             **serializer.validated_data)
    data = IngestAnswerSerializer(signal, context={"request": request}).data
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

    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.STR}, filters=True,
                   summary="Your signals (staff: all) as CSV, with the list filters")
    def get(self, request):
        signals = self.filter_queryset(self.get_queryset()).order_by("-created_at", "-id")
        return streaming_csv_response(filename="signals.csv", header=EXPORT_COLUMNS,
                                      rows=(export_row(s) for s in signals.iterator(chunk_size=FETCH_ROWS)))


# A producer's name, as its model bounds it (a longer one names no producer).
PRODUCER_NAME = OpenApiParameter("name", {"type": "string", "minLength": 1, "maxLength": 100}, OpenApiParameter.PATH)


@extend_schema_view(list=extend_schema(summary="Public producers, and yours"),
                    retrieve=extend_schema(summary="A public producer, or one of yours",
                                           parameters=[PRODUCER_NAME]))
class ProducerViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, GenericViewSet):
    """The producers a user may see: the public ones and their own. Only the
    owner changes one; to anyone else a private producer does not exist."""

    serializer_class = ProducerSerializer
    lookup_field = "name"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return Producer.objects.none()
        if self.action in ("partial_update", "alert_token"):
            return selectors.own_producers(user=self.request.user)
        return selectors.visible_producers(user=self.request.user)

    @extend_schema(summary="Make your producer public or private, or set its alerts' max_lag",
                   request=ProducerUpdateSerializer, responses={200: ProducerSerializer}, parameters=[PRODUCER_NAME])
    def partial_update(self, request, name=None):
        producer = self.get_object()
        serializer = ProducerUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.update_producer(producer=producer, **serializer.validated_data)
        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(summary="A new alert hook URL for your producer (revokes the previous one)",
                   request=None, responses={201: AlertTokenSerializer}, parameters=[PRODUCER_NAME])
    def alert_token(self, request, name=None):
        token = services.rotate_alert_token(producer=self.get_object())
        url = request.build_absolute_uri(reverse("alert-hook", kwargs={"token": token}))
        return Response(AlertTokenSerializer({"url": url, "token": token}).data, status=status.HTTP_201_CREATED,
                        headers={"Cache-Control": "no-store"})


@extend_schema_view(list=extend_schema(summary="Your subscriptions"),
                    retrieve=extend_schema(summary="One of your subscriptions"))
class SubscriptionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, GenericViewSet):
    """The caller's subscriptions: each brings a producer's next signals into
    the caller's feed, as copies of their own."""

    serializer_class = SubscriptionSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return Subscription.objects.none()
        return selectors.subscriptions_of(user=self.request.user)

    @extend_schema(
        summary="Subscribe to a producer's signals",
        request=SubscriptionCreateSerializer,
        responses={201: SubscriptionSerializer,
                   200: OpenApiResponse(SubscriptionSerializer, description="Already subscribed: the existing "
                                                                            "subscription, unchanged"),
                   404: OpenApiResponse(description="No public producer of that name (nor one of yours)")},
    )
    def create(self, request):
        serializer = SubscriptionCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        producer = get_object_or_404(selectors.visible_producers(user=request.user),
                                     name=serializer.validated_data["producer"])
        subscription, created = services.subscribe(user=request.user, producer=producer)
        data = self.get_serializer(subscription).data
        if not created:
            return Response(data, status=status.HTTP_200_OK)
        location = request.build_absolute_uri(reverse("v1:subscription-detail", kwargs={"pk": subscription.pk}))
        return Response(data, status=status.HTTP_201_CREATED, headers={"Location": location})

    @extend_schema(summary="Unsubscribe: the producer's next signals no longer reach you",
                   responses={204: None})
    def destroy(self, request, pk=None):
        services.unsubscribe(subscription=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class AlertHookView(APIView):
    """POST /hooks/alerts/<token>/: a signal from a charting tool that can
    send a body but no headers of its own (TradingView's alert webhooks).
    The token in the URL is the producer's credential; the body is a signed
    ingestion's, published the same way (dedup, replay, audit, subscribers),
    and refused as stale when its `time` is more than the producer's
    `max_lag` behind the clock."""

    authentication_classes = [AlertTokenAuthentication]
    permission_classes = [IsProducer]
    throttle_classes = [AlertHookThrottle]

    @extend_schema(
        summary="Publish a signal from a charting tool's alert",
        request=SignalIngestSerializer, auth=[],
        responses={
            201: IngestAnswerSerializer,
            200: OpenApiResponse(IngestAnswerSerializer, description="Idempotent replay (`Idempotent-Replayed: "
                                                                     "true`): reaches no one again."),
            404: OpenApiResponse(description="Unknown or revoked token: the answer of a URL that does not exist"),
            409: OpenApiResponse(description="Same dedup key, other content"),
            422: OpenApiResponse(description="Invalid fields, a signal already expired, or `stale-alert`: its "
                                             "`time` more than the producer's max_lag in the past"),
            429: OpenApiResponse(description="Too many alerts for this token, or too many unknown tokens from "
                                             "this address"),
        },
    )
    def post(self, request, token):
        return ingestion_answer(request, producer=request.user, max_lag_seconds=request.user.max_lag_seconds,
                                via="alert-hook")

    def handle_exception(self, exc):
        if isinstance(exc, UnknownAlertToken):
            # A bare 404 without this view's headers (Allow, Vary), which
            # core.middleware.ApiProblemMiddleware answers exactly as it
            # answers a URL that no route matches.
            self.headers = {}
            return HttpResponseNotFound()
        reason = "stale_alert" if isinstance(exc, services.StaleAlert) else refusal_reason(exc)
        if reason:
            signals_rejected_total.labels(reason=reason).inc()
        return super().handle_exception(exc)
