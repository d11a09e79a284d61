from django.urls import path

from charting import views

urlpatterns = [
    path("candles/", views.CandleIngestView.as_view(), name="candle-ingest"),
    path("equity/", views.EquityIngestView.as_view(), name="equity-ingest"),
    path("charts/candles/", views.CandleChartView.as_view(), name="chart-candles"),
    path("charts/equity/", views.EquityChartView.as_view(), name="chart-equity"),
    path("charts/returns/", views.ReturnsChartView.as_view(), name="chart-returns"),
    path("charts/links/", views.ChartLinkView.as_view(), name="chart-links"),
    # signals.urls is included first; its detail route ends at the id, so this one is ours.
    path("signals/<uuid:pk>/chart/", views.SignalChartView.as_view(), name="signal-chart"),
]
