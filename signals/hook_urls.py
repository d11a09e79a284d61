"""Alerts from charting tools, outside the versioned API: the URL a tool
such as TradingView posts to, its token the only credential
(docs/api.md#alert-hooks)."""

from django.urls import path

from signals.views import AlertHookView

urlpatterns = [
    path("hooks/alerts/<str:token>/", AlertHookView.as_view(), name="alert-hook"),
]
