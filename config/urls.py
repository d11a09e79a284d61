from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from core import ops

admin.site.site_header = "Trade platform operations"
admin.site.site_title = "Trade platform operations"
admin.site.index_title = "Operator console"
admin.site.site_url = None  # no public site to "View": the link would be a 404

api_v1 = [
    path("", include("accounts.urls")),
    path("", include("audit.urls")),
    path("", include("signals.urls")),
    path("", include("approvals.urls")),
    path("", include("charting.urls")),
    path("", include("risk.urls")),
    path("", include("execution.urls")),
    path("", include("delivery.urls")),
    path("", include("analytics.urls")),
]

urlpatterns = [
    path("api/v1/", include((api_v1, "api"), namespace="v1")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("healthz", ops.healthz, name="healthz"),
    path("readyz", ops.readyz, name="readyz"),
    path("metrics", ops.metrics, name="metrics"),
    path("", include("charting.public_urls")),
    path("", include("signals.hook_urls")),
    path(settings.ADMIN_URL, admin.site.urls),
]
