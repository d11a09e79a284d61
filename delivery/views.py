"""A user's webhook endpoints (their own; another user's is a 404), their
deliveries and redelivery, and the token that lets a browser open the event
stream (delivery/stream.py serves the stream itself)."""

from datetime import UTC, datetime

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.viewsets import GenericViewSet

from delivery import selectors, services, stream
from delivery.models import Delivery, WebhookEndpoint
from delivery.serializers import (
    DeliverySerializer,
    RotateSecretSerializer,
    SecretSerializer,
    StreamTokenSerializer,
    WebhookCreatedSerializer,
    WebhookCreateSerializer,
    WebhookSerializer,
    WebhookUpdateSerializer,
)



def _owned_endpoint(request, pk) -> WebhookEndpoint:
    return get_object_or_404(selectors.visible_endpoints(user=request.user), pk=pk)


@extend_schema_view(
    list=extend_schema(summary="Your webhook endpoints, newest first"),
    retrieve=extend_schema(summary="One of your webhook endpoints"),
    create=extend_schema(summary="Register a webhook endpoint", request=WebhookCreateSerializer,
                         responses={201: WebhookCreatedSerializer,
                                    409: OpenApiResponse(description="`too-many-webhooks`")}),
    partial_update=extend_schema(summary="Change a webhook endpoint's URL or events, or turn it on or off",
                                 request=WebhookUpdateSerializer, responses={200: WebhookSerializer}),
    destroy=extend_schema(summary="Delete a webhook endpoint with its deliveries",
                          responses={204: None}),
)
class WebhookViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, GenericViewSet):
    serializer_class = WebhookSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return WebhookEndpoint.objects.none()
        return selectors.visible_endpoints(user=self.request.user)

    def create(self, request):
        body = WebhookCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        endpoint, secret = services.create_endpoint(owner=request.user, url=body.validated_data["url"],
                                                    event_types=body.validated_data["events"])
        endpoint.secret = secret
        return Response(WebhookCreatedSerializer(endpoint).data, status=status.HTTP_201_CREATED,
                        headers={"Location": f"{request.path}{endpoint.pk}/"})

    def partial_update(self, request, pk=None):
        endpoint = self.get_object()
        body = WebhookUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        changes = body.validated_data
        endpoint = services.update_endpoint(endpoint=endpoint, url=changes.get("url"),
                                            event_types=changes.get("events"), enabled=changes.get("enabled"))
        return Response(WebhookSerializer(endpoint).data)

    def destroy(self, request, pk=None):
        services.delete_endpoint(endpoint=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class RotateSecretView(APIView):
    @extend_schema(summary="Give a webhook endpoint a new secret (shown once)",
                   request=RotateSecretSerializer, responses={200: SecretSerializer})
    def post(self, request, pk):
        endpoint = _owned_endpoint(request, pk)
        body = RotateSecretSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        secret = services.rotate_secret(endpoint=endpoint, grace_seconds=body.validated_data["grace_seconds"])
        endpoint.refresh_from_db(fields=["previous_secret_expires_at"])
        return Response(SecretSerializer({"secret": secret,
                                          "previous_secret_expires_at": endpoint.previous_secret_expires_at}).data)


@extend_schema_view(list=extend_schema(summary="A webhook endpoint's deliveries with their attempts, "
                                                           "newest first"))
class DeliveryListView(mixins.ListModelMixin, GenericViewSet):
    serializer_class = DeliverySerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Delivery.objects.none()
        return selectors.endpoint_deliveries(endpoint=_owned_endpoint(self.request, self.kwargs["pk"]))


class RedeliverView(APIView):
    @extend_schema(summary="Send a delivery again (same webhook-id, a fresh set of retries)",
                   request=None, responses={202: DeliverySerializer,
                                            409: OpenApiResponse(description="`webhook-disabled`")})
    def post(self, request, pk, delivery_id):
        endpoint = _owned_endpoint(request, pk)
        delivery = get_object_or_404(selectors.endpoint_deliveries(endpoint=endpoint), pk=delivery_id)
        delivery = services.redeliver(delivery=delivery)
        return Response(DeliverySerializer(selectors.endpoint_deliveries(endpoint=endpoint).get(pk=delivery.pk)).data,
                        status=status.HTTP_202_ACCEPTED)


class StreamTokenView(APIView):
    @extend_schema(request=None, responses={201: StreamTokenSerializer},
                   summary="A short-lived token that opens your event stream from a browser",
                   description="EventSource cannot send an Authorization header: open "
                               "`GET /api/v1/events/stream/?token=...` within 60 s instead. The stream ends when "
                               "the access token used here expires.")
    def post(self, request):
        token, expires = stream.stream_token(user=request.user, access_token=request.auth)
        return Response(StreamTokenSerializer({"token": token,
                                               "expires_at": datetime.fromtimestamp(expires, UTC)}).data,
                        status=status.HTTP_201_CREATED)
