from django.urls import path

from charting import registry
from charting.views import charts, ingest

urlpatterns = [
    path("candles/", ingest.CandleIngestView.as_view(), name="candle-ingest"),
    path("equity/", ingest.EquityIngestView.as_view(), name="equity-ingest"),
    path("charts/links/", charts.ChartLinkView.as_view(), name="chart-links"),
    # One route per chart kind, charting's own and those other apps registered
    # in their ready(), which has run before a URLconf is read.
    *(path(f"charts/{kind.name}/", charts.kind_view(kind).as_view(), name=f"chart-{kind.name}")
      for kind in registry.kinds()),
    # signals.urls is included first; its detail route ends at the id, so this one is ours.
    path("signals/<uuid:pk>/chart/", charts.SignalChartView.as_view(), name="signal-chart"),
]
