"""Charts by signed link, outside the versioned API: the URLs that <img src>
embeds (contract §6). The link's signature is the only credential."""

from django.urls import path

from charting import views

urlpatterns = [
    path("charts/candles/", views.PublicCandleChartView.as_view(), name="public-chart-candles"),
    path("charts/equity/", views.PublicEquityChartView.as_view(), name="public-chart-equity"),
    path("charts/returns/", views.PublicReturnsChartView.as_view(), name="public-chart-returns"),
    path("charts/signals/<uuid:pk>/", views.PublicSignalChartView.as_view(), name="public-chart-signal"),
]
