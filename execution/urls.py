from django.urls import path

from execution.views import bridge, risk, user


def with_and_without_slash(route: str, view, name: str) -> list:
    """The route as published (no trailing slash) and with one, which the
    schema leaves out."""
    return [path(route, view.as_view(), name=name), path(f"{route}/", view.as_view(schema=None))]


urlpatterns = [
    *with_and_without_slash("bridge/symbols", bridge.SymbolsView, "bridge-symbols"),
    *with_and_without_slash("bridge/poll", bridge.PollView, "bridge-poll"),
    *with_and_without_slash("bridge/ack", bridge.AcknowledgementView, "bridge-ack"),
    *with_and_without_slash("bridge/fills", bridge.FillsView, "bridge-fills"),
    *with_and_without_slash("bridge/account", bridge.AccountView, "bridge-account"),
    path("orders/", user.OrderViewSet.as_view({"get": "list"}), name="order-list"),
    path("orders/<uuid:pk>/", user.OrderViewSet.as_view({"get": "retrieve"}), name="order-detail"),
    path("positions/", user.PositionViewSet.as_view({"get": "list"}), name="position-list"),
    path("positions/<uuid:pk>/", user.PositionViewSet.as_view({"get": "retrieve"}), name="position-detail"),
    path("positions/<uuid:pk>/close/", user.PositionCloseView.as_view(), name="position-close"),
    path("reconciliation/", user.ReconciliationViewSet.as_view({"get": "list"}), name="reconciliation-list"),
    *with_and_without_slash("trading/pause", user.PauseTradingView, "trading-pause"),
    *with_and_without_slash("trading/resume", user.ResumeTradingView, "trading-resume"),
    path("risk/", risk.RiskView.as_view(), name="risk"),
]
