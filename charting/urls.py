from django.urls import path

from charting.views import charts, ingest

urlpatterns = [
    path("candles/", ingest.CandleIngestView.as_view(), name="candle-ingest"),
    path("equity/", ingest.EquityIngestView.as_view(), name="equity-ingest"),
    path("charts/candles/", charts.CandleChartView.as_view(), name="chart-candles"),
    path("charts/equity/", charts.EquityChartView.as_view(), name="chart-equity"),
    path("charts/returns/", charts.ReturnsChartView.as_view(), name="chart-returns"),
    path("charts/links/", charts.ChartLinkView.as_view(), name="chart-links"),
    # signals.urls is included first; its detail route ends at the id, so this one is ours.
    path("signals/<uuid:pk>/chart/", charts.SignalChartView.as_view(), name="signal-chart"),
]
