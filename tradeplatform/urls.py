from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from tradeplatform import auth_api, ops

admin.site.site_header = "Trade platform operations"
admin.site.site_title = "Trade platform operations"
admin.site.index_title = "Operator console"

api_v1 = [
    path("auth/token/", auth_api.TokenView.as_view(), name="token"),
    path("auth/token/refresh/", auth_api.RefreshView.as_view(), name="token-refresh"),
    path("auth/logout/", auth_api.LogoutView.as_view(), name="logout"),
    path("me/", auth_api.MeView.as_view(), name="me"),
    path("", include("audit.urls")),
    path("", include("signals.urls")),
    path("", include("approvals.urls")),
    path("", include("charting.urls")),
]

urlpatterns = [
    path("api/v1/", include((api_v1, "api"), namespace="v1")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("healthz", ops.healthz, name="healthz"),
    path("readyz", ops.readyz, name="readyz"),
    path("metrics", ops.metrics, name="metrics"),
    path("", include("charting.public_urls")),
    path(settings.ADMIN_URL, admin.site.urls),
]
