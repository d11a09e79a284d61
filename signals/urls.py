from django.urls import path

from signals.views import SignalExportView, SignalViewSet

urlpatterns = [
    # Before the detail route: "export.csv" is not an id.
    path("signals/export.csv", SignalExportView.as_view(), name="signal-export"),
    path("signals/", SignalViewSet.as_view({"get": "list", "post": "create"}), name="signal-list"),
    path("signals/<uuid:pk>/", SignalViewSet.as_view({"get": "retrieve"}), name="signal-detail"),
]
