from django.urls import path

from signals.views import ProducerViewSet, SignalExportView, SignalViewSet, SubscriptionViewSet

urlpatterns = [
    # Before the detail route: "export.csv" is not an id.
    path("signals/export.csv", SignalExportView.as_view(), name="signal-export"),
    path("signals/", SignalViewSet.as_view({"get": "list", "post": "create"}), name="signal-list"),
    path("signals/<uuid:pk>/", SignalViewSet.as_view({"get": "retrieve"}), name="signal-detail"),
    path("producers/", ProducerViewSet.as_view({"get": "list"}), name="producer-list"),
    path("producers/<str:name>/", ProducerViewSet.as_view({"get": "retrieve", "patch": "partial_update"}),
         name="producer-detail"),
    path("producers/<str:name>/alert-token/", ProducerViewSet.as_view({"post": "alert_token"}),
         name="producer-alert-token"),
    path("subscriptions/", SubscriptionViewSet.as_view({"get": "list", "post": "create"}), name="subscription-list"),
    path("subscriptions/<uuid:pk>/", SubscriptionViewSet.as_view({"get": "retrieve", "delete": "destroy"}),
         name="subscription-detail"),
]
