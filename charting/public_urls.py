"""Charts by signed link, outside the versioned API: the URLs that <img src>
embeds (docs/api.md#charts). The link's signature is the only credential."""

from django.urls import path

from charting.views import public

urlpatterns = [
    path("charts/candles/", public.PublicCandleChartView.as_view(), name="public-chart-candles"),
    path("charts/equity/", public.PublicEquityChartView.as_view(), name="public-chart-equity"),
    path("charts/returns/", public.PublicReturnsChartView.as_view(), name="public-chart-returns"),
    path("charts/signals/<uuid:pk>/", public.PublicSignalChartView.as_view(), name="public-chart-signal"),
]
