from django.urls import path, register_converter
from django.urls.converters import StringConverter

from signals.views import ProducerViewSet, SignalExportView, SignalViewSet, SubscriptionViewSet


class ProducerNameConverter(StringConverter):
    """A producer's name as a path segment: no NUL, which PostgreSQL cannot
    compare with (a name lookup with one was a 500; now no route: 404)."""

    regex = "[^/\x00]+"


register_converter(ProducerNameConverter, "producer_name")

urlpatterns = [
    # Before the detail route: "export.csv" is not an id.
    path("signals/export.csv", SignalExportView.as_view(), name="signal-export"),
    path("signals/", SignalViewSet.as_view({"get": "list", "post": "create"}), name="signal-list"),
    path("signals/<uuid:pk>/", SignalViewSet.as_view({"get": "retrieve"}), name="signal-detail"),
    path("producers/", ProducerViewSet.as_view({"get": "list"}), name="producer-list"),
    path("producers/<producer_name:name>/", ProducerViewSet.as_view({"get": "retrieve", "patch": "partial_update"}),
         name="producer-detail"),
    path("producers/<producer_name:name>/alert-token/", ProducerViewSet.as_view({"post": "alert_token"}),
         name="producer-alert-token"),
    path("subscriptions/", SubscriptionViewSet.as_view({"get": "list", "post": "create"}), name="subscription-list"),
    path("subscriptions/<uuid:pk>/", SubscriptionViewSet.as_view({"get": "retrieve", "delete": "destroy"}),
         name="subscription-detail"),
]
