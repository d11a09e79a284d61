from django.urls import path

from delivery import stream
from delivery.views import DeliveryListView, RedeliverView, RotateSecretView, StreamTokenView, WebhookViewSet

urlpatterns = [
    path("webhooks/", WebhookViewSet.as_view({"get": "list", "post": "create"}), name="webhook-list"),
    path("webhooks/<uuid:pk>/", WebhookViewSet.as_view({"get": "retrieve", "patch": "partial_update",
                                                        "delete": "destroy"}), name="webhook-detail"),
    path("webhooks/<uuid:pk>/rotate-secret/", RotateSecretView.as_view(), name="webhook-rotate-secret"),
    path("webhooks/<uuid:pk>/deliveries/", DeliveryListView.as_view({"get": "list"}), name="webhook-deliveries"),
    path("webhooks/<uuid:pk>/deliveries/<int:delivery_id>/redeliver/", RedeliverView.as_view(),
         name="webhook-redeliver"),
    path("events/stream/", stream.event_stream, name="event-stream"),
    path("events/stream-token/", StreamTokenView.as_view(), name="event-stream-token"),
]
