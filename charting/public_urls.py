"""Charts by signed link, outside the versioned API: the URLs that <img src>
embeds (docs/api.md#charts). The link's signature is the only credential."""

from django.urls import path

from charting import registry
from charting.views import public

urlpatterns = [
    *(path(f"charts/{kind.name}/", public.public_kind_view(kind).as_view(), name=f"public-chart-{kind.name}")
      for kind in registry.kinds()),
    path("charts/signals/<uuid:pk>/", public.PublicSignalChartView.as_view(), name="public-chart-signal"),
]
